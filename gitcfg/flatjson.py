"""Stored config files as JSON text, the form listings keep, cache and print.

``to_json(text)`` equals ``json.dumps(load_config(text))`` (``ensure_ascii=False``) in value,
and byte for byte for every file ``dump_config`` writes. Files in that plain form (one
``key: value`` line per key, sorted, scalars and flat lists written the way dump_config writes
them) are translated as text by C string and regex passes over many files at once, with no YAML
parser and no Python object per value: a listing of 100,000 runs reads 200,000 such files.
Anything the translation is not sure of (comments, quoting it does not know, nested lists,
unsorted, repeated or dotted keys, non-ASCII) goes to the full loader.

(The float text of a hand-written file such as ``0.10`` is kept as written, so its JSON reads
back the same number though it is not the text ``json.dumps`` would write.)
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gitcfg.flat import MAX_KEY_LENGTH, find_collision

# The JSON text of a value, as gitcfg prints it: json.dumps with non-ASCII kept.
encode = json.JSONEncoder(ensure_ascii=False).encode

# -- the plain form, line by line ----------------------------------------------------------------
# Possessive and atomic groups throughout: nothing here needs backtracking, and sre is then
# three times faster. A key: what dump_config writes unquoted; JSON needs no escape in it.
_KEY = r"[A-Za-z_/][A-Za-z0-9_/-]*+(?:\.[A-Za-z0-9_/-]++)*+"
_END = r"[\n,\]]"
# A plain string, never one of the words YAML 1.1 or 1.2 resolve to a bool or null (any
# spelling); only lowercase true/false/null, which are JSON's own, are taken as they are.
_RESOLVED = r"(?i:yes|no|on|off|y|n|true|false|null)"
_WORD = f"(?!{_RESOLVED}{_END})[A-Za-z_/][A-Za-z0-9_./-]*+|(?:true|false|null)(?={_END})"
# Numbers whose text is JSON too (no leading zeros, no '+', not -0, which is the int 0).
_NUMBER = f"(?!-0{_END})-?+(?:0|[1-9][0-9]*+)(?:\\.[0-9]++(?:e[-+][0-9]++)?+)?+"
# Single-quoted printable ASCII with no quote or backslash in it, no ': ', ', ', brackets or
# braces (so no later pass can take part of it for a key, an item or a word).
_CHAR = r"[ !#-&(-+\--9;-Z^-z|~]"
_QUOTED = f"'{_CHAR}*+(?:[:,](?! ){_CHAR}*+)*+'"
_SPECIAL = r"-?\.inf|\.nan"
_SCALAR = f"(?>{_WORD}|{_NUMBER}|{_QUOTED}|{_SPECIAL})"
_VALUE = f"(?>{_SCALAR}|\\[(?:{_SCALAR}(?:, {_SCALAR})*+)?\\]|\\{{\\}})"
_LITERAL = r"(?!(?:true|false|null)[\n,\]])"
# Between files of a batch: a line whose key ("\0") sorts before every key, so a batch of
# sorted files has exactly one key out of order per file boundary.
_SEP = "\0: \n"
_SEP_JSON = ', "\0": , "'  # the same after translation
_SPECIAL_JSON = {"inf": "Infinity", "nan": "NaN"}


@dataclass(frozen=True)
class _Patterns:
    plain_file: re.Pattern[str]
    keys: re.Pattern[str]
    long_number: re.Pattern[str]
    string: re.Pattern[str]
    string_item: re.Pattern[str]
    dot_zero_e: re.Pattern[str]
    special: re.Pattern[str]


@functools.cache
def _re() -> _Patterns:
    """The patterns, compiled on first use: only a listing that reads files needs them."""
    return _Patterns(
        plain_file=re.compile(f"(?:{_KEY}: {_VALUE}\n)++"),
        keys=re.compile(r"([^\n:]++): [^\n]*+\n"),
        long_number=re.compile("[0-9]{4301}"),
        string=re.compile(f": {_LITERAL}([A-Za-z_/][A-Za-z0-9_./-]*+)\n"),
        string_item=re.compile(f"(\\[|, ){_LITERAL}([A-Za-z_/][A-Za-z0-9_./-]*+)(?=, |\\])"),
        # dump_config writes repr(1e-05) as 1.0e-05 (YAML 1.1 wants a dot); JSON takes repr's
        dot_zero_e=re.compile(r"(: |\[|, )(-?[0-9])\.0e"),
        special=re.compile(r"(: |\[|, )(-?)\.(inf|nan)(?=\n|, |\])"),
    )


# Replacements are str.format of the match ('{0[1]}' is group 1): a C call per match, where
# a template ('\1') costs a Python call per match before Python 3.12.
_STRING = ': "{0[1]}"\n'.format
_STRING_ITEM = '{0[1]}"{0[2]}"'.format
_DOT_ZERO_E = "{0[1]}{0[2]}e".format


def _special(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2) + _SPECIAL_JSON[match.group(3)]


def _translate(text: str) -> str:
    """JSON members (``k1": v1, "k2": v2, "`` per line) of plain-form text, any number of
    files; see ``fast_json`` for what the text must be."""
    patterns = _re()
    out = patterns.string.sub(_STRING, text.replace("'", '"'))
    if "[" in out:
        out = patterns.string_item.sub(_STRING_ITEM, out)
    if ".0e" in out:
        out = patterns.dot_zero_e.sub(_DOT_ZERO_E, out)
    if ".inf" in out or ".nan" in out:
        out = patterns.special.sub(_special, out)
    return out.replace(": ", '": ').replace("\n", ', "')


def _plain(text: str) -> bool:
    patterns = _re()
    if patterns.plain_file.fullmatch(text) is None:
        return False
    return len(text) <= 4300 or patterns.long_number.search(text) is None


def fast_json(text: str) -> str | None:
    """The JSON text of a config file in dump_config's plain form, else None."""
    if text == "{}\n":
        return "{}"
    if not _plain(text):
        return None
    keys = _re().keys.findall(text)
    # a repeated key is an error for the loader, and so is a key longer than flat allows;
    # a dotted key might collide with another (a: 1, a.b: 2), which the loader refuses too
    if len(set(keys)) != len(keys) or max(map(len, keys)) > MAX_KEY_LENGTH:
        return None
    if "." in "".join(keys) and find_collision(keys) is not None:
        return None
    return '{"' + _translate(text)[:-3] + "}"


def fast_json_many(texts: Sequence[str]) -> list[str | None]:
    """``fast_json`` of each text, the plain ones translated together in one batch."""
    found: list[str | None] = [None] * len(texts)
    plain = []
    for index, text in enumerate(texts):
        if text == "{}\n":
            found[index] = "{}"
        elif _plain(text):
            plain.append(index)
    if not plain:
        return found
    batch = _SEP.join([texts[i] for i in plain])
    keys = _re().keys.findall(batch)
    # Sorted files (as dump_config writes them) have strictly increasing keys: then none
    # repeats. Anything else (and dotted or overlong keys) is checked file by file.
    disorder = sum(map(operator.ge, keys, keys[1:]))
    joined = "".join(keys)
    if disorder != len(plain) - 1 or "." in joined or max(map(len, keys)) > MAX_KEY_LENGTH:
        for index in plain:
            found[index] = fast_json(texts[index])
        return found
    pieces = _translate(batch)[:-3].split(_SEP_JSON)
    for index, piece in zip(plain, pieces, strict=True):
        found[index] = '{"' + piece + "}"
    return found


def to_json_many(texts: Sequence[str], sources: Sequence[str]) -> list[str]:
    """The JSON text of each config file (``sources`` name them in a ``YamlError``)."""
    found = fast_json_many(texts)
    return [
        fast if fast is not None else _loaded(text, source)
        for fast, text, source in zip(found, texts, sources, strict=True)
    ]


def to_json(text: str, source: str) -> str:
    """The JSON text of the config file ``text`` (``source`` names it in a ``YamlError``)."""
    fast = fast_json(text)
    return fast if fast is not None else _loaded(text, source)


def _loaded(text: str, source: str) -> str:
    from gitcfg.yamlcodec import load_config

    return encode(load_config(text, source))
