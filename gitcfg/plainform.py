"""The plain form of a stored config file, as regular expressions: what ``dump_config`` writes.

One ``key: value`` line per key, scalars and flat lists written the way dump_config writes them.
A text in this form reads as JSON after a few textual passes (``gitcfg.flatjson``,
``gitcfg.flatshapes``); these are the pieces both build their patterns from, and the passes
that turn a value's text into JSON where it is not JSON already.

No possessive quantifier or atomic group (Python 3.10 has none, and 3.11 before 3.11.5 matched
them wrongly, CPython gh-106052): each repeat here is followed by what it cannot match, and the
alternatives of a value start with different characters, so backtracking finds nothing a
possessive match would not. A text of many lines is checked a line at a time (see
``gitcfg.flatjson``), not by a repeat over it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gitcfg.flat import MAX_KEY_LENGTH, find_collision


def many(item: str) -> str:
    """``(?:item)*``, as sre runs it faster: it tries the repeat only where ``item``'s first
    character is (a repeat that matches nothing costs it more than a failed alternative)."""
    return f"(?:{item}(?:{item})*|)"


# A key: what dump_config writes unquoted; JSON needs no escape in it.
KEY = "[A-Za-z_/][A-Za-z0-9_/-]*" + many(r"\.[A-Za-z0-9_/-]+")
END = r"[\n,\]]"
# A plain string, never one of the words YAML 1.1 or 1.2 resolve to a bool or null (any
# spelling); only lowercase true/false/null, which are JSON's own, are taken as they are.
RESOLVED = r"(?i:yes|no|on|off|y|n|true|false|null)"
WORD = (
    f"(?=[A-Za-z_/])(?:(?!{RESOLVED}{END})[A-Za-z_/][A-Za-z0-9_./-]*|(?:true|false|null)(?={END}))"
)
# Numbers whose text is JSON too (no leading zeros, no '+', not -0, which is the int 0).
NUMBER = f"(?=[-0-9])(?!-0{END})-?(?:0|[1-9][0-9]*)(?:\\.[0-9]+(?:e[-+][0-9]+|)|)"
# Single-quoted printable ASCII with no quote or backslash in it, no ': ', ', ', brackets or
# braces (so no later pass can take part of it for a key, an item or a word).
CHAR = r"[ !#-&(-+\--9;-Z^-z|~]"
QUOTED = f"'{CHAR}*{many(f'[:,](?! ){CHAR}*')}'"
SPECIAL = r"-?\.inf|\.nan"
# Numbers first (most values), and each alternative looks at the first character before
# anything costlier: the check of 200,000 files takes a third less.
SCALAR = f"(?:{NUMBER}|{WORD}|{QUOTED}|{SPECIAL})"
LIST = f"\\[(?:{SCALAR}{many(f', {SCALAR}')}|)\\]"
VALUE = f"(?:{SCALAR}|{LIST}|\\{{\\}})"
LITERAL = r"(?!(?:true|false|null)[\n,\]])"
MAX_DIGITS = 4300  # Python's default limit on the digits of an int it reads from text

_SPECIAL_JSON = {"inf": "Infinity", "nan": "NaN"}


@dataclass(frozen=True)
class _Patterns:
    long_number: re.Pattern[str]
    string_item: re.Pattern[str]
    list_word: re.Pattern[str]
    dot_zero_e: re.Pattern[str]
    special: re.Pattern[str]


@functools.cache
def _re() -> _Patterns:
    """The patterns, compiled on first use: only a listing that reads files needs them."""
    return _Patterns(
        long_number=re.compile(f"[0-9]{{{MAX_DIGITS + 1}}}"),
        list_word=re.compile(r"\[[^\]\n]*?[A-Za-z_/]"),
        string_item=re.compile(f"(\\[|, ){LITERAL}([A-Za-z_/][A-Za-z0-9_./-]*)(?=, |\\])"),
        # dump_config writes repr(1e-05) as 1.0e-05 (YAML 1.1 wants a dot); JSON takes repr's
        dot_zero_e=re.compile(r"(: |\[|, )(-?[0-9])\.0e"),
        # a value ends its line, an item its list; in a file already made JSON, its object
        special=re.compile(r"(: |\[|, )(-?)\.(inf|nan)(?=\n|, |\]|\})"),
    )


# Replacements are str.format of the match ('{0[1]}' is group 1): a C call per match, where
# a template ('\1') costs a Python call per match before Python 3.12.
_STRING_ITEM = '{0[1]}"{0[2]}"'.format
_DOT_ZERO_E = "{0[1]}{0[2]}e".format


def _special(match: re.Match[str]) -> str:
    return match.group(1) + match.group(2) + _SPECIAL_JSON[match.group(3)]


def finish_values(
    text: str, *, lists: bool = True, exponents: bool = True, specials: bool = True
) -> str:
    """Plain-form values, their quotes already double and their top-level words quoted, made
    JSON: words in ``lists`` quoted, ``exponents`` such as ``1.0e-05`` as ``1e-05``,
    ``specials`` (``.inf``, ``.nan``) as JSON's ``Infinity`` and ``NaN``. A caller that knows
    the text holds none of one leaves it out; each pass runs only when the text may need it."""
    patterns = _re()
    if lists and "[" in text and patterns.list_word.search(text) is not None:
        text = patterns.string_item.sub(_STRING_ITEM, text)
    if exponents and ".0e" in text:
        text = patterns.dot_zero_e.sub(_DOT_ZERO_E, text)
    if specials and (".inf" in text or ".nan" in text):
        text = patterns.special.sub(_special, text)
    return text


def has_long_number(text: str) -> bool:
    """Whether ``text`` holds a number of more digits than Python reads."""
    return len(text) > MAX_DIGITS and _re().long_number.search(text) is not None


def sound_keys(keys: Sequence[str]) -> bool:
    """Whether a file's ``keys`` (in its order) are the keys of a flat config: none repeated,
    too long, or a dotted parent of another. A file of no keys (``{}``) has sound keys."""
    if not keys:
        return True
    if len(set(keys)) != len(keys) or max(map(len, keys)) > MAX_KEY_LENGTH:
        return False
    return "." not in "".join(keys) or find_collision(keys) is None
