"""Stored config files as JSON text, the form listings keep, cache and print.

``to_json(text)`` is exactly ``json.dumps(load_config(text))`` (``ensure_ascii=False``) in value,
and byte for byte for every file ``dump_config`` writes. Files in that plain form (one
``key: value`` line per key, sorted, scalars and flat lists written the way dump_config writes
them) are translated as text, in a few passes of C string operations per file, with no YAML
parser and no Python objects per value: a listing of 100,000 runs reads 200,000 such files.
Anything the translation is not sure of (comments, quoting it does not know, nested lists,
repeated keys or dotted ones that collide, non-ASCII) goes to the full loader.
"""

from __future__ import annotations

import json
import re

from gitcfg.flat import MAX_KEY_LENGTH, find_collision

# The JSON text of a value, as gitcfg prints it: json.dumps with non-ASCII kept.
encode = json.JSONEncoder(ensure_ascii=False).encode

# -- the plain form, line by line ----------------------------------------------------------------
# Possessive and atomic groups: nothing here needs backtracking, and sre is then 3x faster.
# A key: what dump_config writes unquoted (no dotted part empty); JSON needs no escape in it.
_KEY = r"[A-Za-z_/][A-Za-z0-9_/-]*+(?:\.[A-Za-z0-9_/-]++)*+"
# A plain string, or true/false/null; the words YAML would resolve are checked apart.
_WORD = r"[A-Za-z_/][A-Za-z0-9_./-]*+"
# Numbers whose text is JSON too (no leading zeros, no '+'); -0 is checked apart.
_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++(?:e[-+][0-9]++)?+)?+"
# Single-quoted printable ASCII with no quote or backslash in it, no ': ', ', ', brackets or
# braces (so no later pass can take part of it for a key, an item or a word).
_CHAR = r"[ !#-&(-+\--9;-Z^-z|~]"
_QUOTED = f"'{_CHAR}*+(?:[:,](?! ){_CHAR}*+)*+'"
_SPECIAL = r"-?\.inf|\.nan"
_SCALAR = f"(?>{_WORD}|{_NUMBER}|{_QUOTED}|{_SPECIAL})"
_VALUE = f"(?>{_SCALAR}|\\[(?:{_SCALAR}(?:, {_SCALAR})*+)?\\]|\\{{\\}})"
_PLAIN_FILE = re.compile(f"(?:{_KEY}: {_VALUE}\n)++")
_KEYS = re.compile(r"([^\n:]++): [^\n]*+\n")
# Words YAML resolves to something other than a string (only lowercase true/false/null are
# JSON's own), -0 (an int 0), a number too long for Python: the loader's business.
_WORDS = r"(?!(?:true|false|null)(?:\n|, |\]))(?i:yes|no|on|off|y|n|true|false|null)"
_DOUBTFUL = re.compile(f": (?:{_WORDS}|-0)\n")
_LONG_NUMBER = re.compile("[0-9]{4301}")
_DOUBTFUL_ITEM = re.compile(f"(?:\\[|, )(?:{_WORDS}|-0)(?:, |\\])")
_STRING = re.compile(r": (?!(?:true|false|null)\n)([A-Za-z_/][A-Za-z0-9_./-]*+)\n")
_STRING_ITEM = re.compile(r"(\[|, )(?!(?:true|false|null)(?:, |\]))([A-Za-z_/][A-Za-z0-9_./-]*+)")
# dump_config writes repr(1e-05) as 1.0e-05 (YAML 1.1 wants the dot); JSON takes repr's form.
_DOT_ZERO_E = re.compile(r"(: |\[|, )(-?[0-9])\.0e")
_SPECIAL_AT = re.compile(r"(: |\[|, )(-?)\.(inf|nan)(?=\n|, |\])")
_SPECIAL_JSON = {"inf": "Infinity", "nan": "NaN"}


def _special(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2) + _SPECIAL_JSON[match.group(3)]


def fast_json(text: str) -> str | None:
    """The JSON text of a config file in dump_config's plain form, else None."""
    if text == "{}\n":
        return "{}"
    if _PLAIN_FILE.fullmatch(text) is None or _DOUBTFUL.search(text) is not None:
        return None
    if len(text) > 4300 and _LONG_NUMBER.search(text) is not None:
        return None
    lists = "[" in text
    if lists and _DOUBTFUL_ITEM.search(text) is not None:
        return None
    keys = _KEYS.findall(text)
    # a repeated key is an error for the loader, and so is a key longer than flat allows;
    # a dotted key might collide with another (a: 1, a.b: 2), which the loader refuses too
    if len(set(keys)) != len(keys) or max(map(len, keys)) > MAX_KEY_LENGTH:
        return None
    if "." in "".join(keys) and find_collision(keys) is not None:
        return None
    out = _STRING.sub(r': "\1"\n', text.replace("'", '"'))
    if lists:
        out = _STRING_ITEM.sub(r'\1"\2"', out)
    if ".0e" in out:
        out = _DOT_ZERO_E.sub(r"\1\2e", out)
    if ".inf" in out or ".nan" in out:
        out = _SPECIAL_AT.sub(_special, out)
    return '{"' + out[:-1].replace(": ", '": ').replace("\n", ', "') + "}"


def to_json(text: str, source: str) -> str:
    """The JSON text of the config file ``text`` (``source`` names it in a ``YamlError``)."""
    fast = fast_json(text)
    if fast is not None:
        return fast
    from gitcfg.yamlcodec import load_config

    return encode(load_config(text, source))
