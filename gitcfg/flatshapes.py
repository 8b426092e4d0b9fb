"""Many config files of a few shapes made JSON text by one regex substitution a shape.

A store's files mostly share their keys and the kind of each value (a number, a word, a quoted
string, a list...): their *shape*. The files are joined into one text, single quotes made
double and each ``: `` a ``": ``, and one pattern per shape matches a whole file there: its keys
literally, each value by the kinds its key has held. It captures only the words (JSON quotes
them, YAML does not) and the text between them; the substitution writes each file it matches
as its JSON object, in C, with no Python step a file or a line and no value parsed. What is
left (the ``\\n`` between two members, words in lists, ``1.0e-05``, ``.inf``) takes a pass or
two over the whole text, as in ``gitcfg.flatjson``, which reads the files no shape fits.

A file matched is in the plain form (``gitcfg.plainform``) and its JSON text is the one
``gitcfg.flatjson.fast_json`` gives it: the kinds are the plain form's values, taken apart; a
text holding a double quote is never matched (no plain file holds one, and the joined text
could then be read two ways); the keys of a shape are checked as a flat config's keys once.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

from gitcfg.plainform import (
    KEY,
    LIST,
    MAX_DIGITS,
    QUOTED,
    RESOLVED,
    SPECIAL,
    finish_values,
    has_long_number,
    many,
    sound_keys,
)

# What dump_config writes of an int or a float, but 1.0e-05 (JSON writes 1e-05) and -0 (the int 0)
_NUMBER = (
    r"(?:0|[1-9][0-9]*|-(?:[1-9][0-9]*|0(?=\.)))"
    r"(?:\.(?:0(?:[0-9]+(?:e[-+][0-9]+|)|)|[1-9][0-9]*(?:e[-+][0-9]+|))|)"
)
_DOUBLE_QUOTED = QUOTED.replace("'", '"')
_ITEM = f"(?:{_NUMBER}|true|false|null|{_DOUBLE_QUOTED})"
# What a value may be, in a text whose quotes are double and whose value ends its line: the
# plain form's values (plainform.VALUE) taken apart. A key's kinds are tried in this order.
_KINDS = {
    "number": _NUMBER,
    "exponent": r"-?(?:0|[1-9][0-9]*)\.0e[-+][0-9]+",
    "literal": r"(?:true|false|null)",
    "word": f"(?!{RESOLVED}\\n)[A-Za-z_/][A-Za-z0-9_./-]*",
    "quoted": _DOUBLE_QUOTED,
    "special": f"(?:{SPECIAL})",
    # a list of numbers, literals and quoted strings: JSON as it is (tried before "list")
    "items": f"\\[(?:{_ITEM}{many(f', {_ITEM}')}|)\\]",
    "list": LIST.replace("'", '"'),
    "empty": r"\{\}",
}
_WORD = "word"  # the kind JSON quotes: a key holding words holds nothing else in a shape
# Batches smaller than this take flatjson's paths alone: compiling a shape costs milliseconds.
MIN_FILES = 32
# Substitutions a batch runs, a shape each, before the files left go to flatjson's paths; and
# files that fit no shape at all set aside before it gives up.
_MAX_ROUNDS = 4
_MAX_MISFITS = 8
# Files whose kinds make a shape (the first of them) before a substitution: the kinds of other
# files of its keys widen it, so that one substitution fits them too.
_SAMPLES = 16
_MIN_ALIKE = 8  # files of one shape among them for a value they share to be written as it is
_MAX_SHAPES = 64  # shapes remembered (their keys' kinds, widened as files show more)

Kinds = tuple[frozenset[str], ...]
Signature = tuple[tuple[str, ...], tuple[bool, ...]]  # keys, and which of them hold words


class _Shape(NamedTuple):
    """A shape's substitution: the pattern of one file, its JSON text as the replacement, and
    which passes its output may still need."""

    pattern: re.Pattern[str]
    replace: Callable[[re.Match[str]], str]
    lists: bool
    exponents: bool
    specials: bool


# kinds of each key, per keys and which of them hold words: widened as files show more
_known: dict[Signature, Kinds] = {}


@functools.cache
def _kind_pattern() -> re.Pattern[str]:
    """A value and its newline, its kind the name of the group it matched."""
    return re.compile("|".join(f"(?P<{name}>{pattern})\n" for name, pattern in _KINDS.items()))


@functools.cache
def _key_pattern() -> re.Pattern[str]:
    return re.compile(KEY)


def translate(texts: Sequence[str], batch: list[int], found: list[str | None]) -> list[int]:
    """Set ``found[i]`` to the JSON text of each file ``texts[i]`` of ``batch`` that fits a
    shape; return the others (``batch`` files end with a newline and hold no NUL)."""
    fitting = list(batch)
    others: list[int] = []
    chosen = [texts[i] for i in batch]
    joined = "\0".join(chosen)
    if '"' in joined or max(map(len, chosen)) > MAX_DIGITS:  # rare: file by file
        fitting = [i for i in batch if '"' not in texts[i] and not has_long_number(texts[i])]
        others = [i for i in batch if '"' in texts[i] or has_long_number(texts[i])]
        joined = "\0".join([texts[i] for i in fitting])
    if not fitting:
        return others
    # The first round's shape, from its samples alone: files of many shapes are left before
    # the passes over them all (most of what a batch that fits no shape costs here).
    samples = [_doubled(texts[i]) for i in fitting[:_SAMPLES]]
    shape, alike = _shape_of(samples)
    if shape is None and alike:
        return sorted(others + fitting)
    # each file framed by NULs: a pattern starts at a file's NUL and ends before the next's
    text = _doubled("\0" + joined + "\0")
    rounds = misfits = 0
    while fitting and rounds < _MAX_ROUNDS and misfits <= _MAX_MISFITS:
        if rounds or misfits:
            samples = _first_files(text, _SAMPLES)
            shape, alike = _shape_of(samples)
        first = samples[0]
        if shape is None and alike:
            break  # files of many shapes: a substitution would fit too few to pay for itself
        replaced, count = (text, 0) if shape is None else shape.pattern.subn(shape.replace, text)
        if count == 0:  # the first file fits no shape: it goes to flatjson, the rest on
            others.append(fitting.pop(0))
            text = text[len(first) + 1 :]
            misfits += 1
            continue
        rounds += 1
        assert shape is not None
        if count == len(fitting):
            _finish(replaced, fitting, shape, found)
            return others
        done: list[int] = []
        done_texts: list[str] = []
        left: list[int] = []
        left_texts: list[str] = []
        for index, piece in zip(fitting, replaced[1:-1].split("\0"), strict=True):
            if piece[-1] == "}":  # a JSON object; a file not matched still ends its line
                done.append(index)
                done_texts.append(piece)
            else:
                left.append(index)
                left_texts.append(piece)
        _finish("\0" + "\0".join(done_texts) + "\0", done, shape, found)
        fitting = left
        if count * 4 < (count + len(left)) * 3:
            break  # a shape fits too few: the others are of many
        text = "\0" + "\0".join(left_texts) + "\0"
    return sorted(others + fitting)


def _doubled(text: str) -> str:
    """Plain-form text as the shapes match it: quotes double, each key ending ``": ``."""
    return text.replace("'", '"').replace(": ", '": ')


def _first_files(text: str, count: int) -> list[str]:
    """The first ``count`` files of NUL-framed ``text`` (fewer if it holds fewer)."""
    files: list[str] = []
    start = 1
    while len(files) < count and start < len(text):
        end = text.index("\0", start)
        files.append(text[start:end])
        start = end + 1
    return files


def _finish(replaced: str, files: list[int], shape: _Shape, found: list[str | None]) -> None:
    """The JSON texts of ``files`` from a substitution's text of them (NUL-framed objects whose
    members are still a line each)."""
    out = finish_values(
        replaced, lists=shape.lists, exponents=shape.exponents, specials=shape.specials
    )
    pieces = out.replace("\n", ', "')[1:-1].split("\0")
    for index, piece in zip(files, pieces, strict=True):
        found[index] = piece


def _shape_of(texts: list[str]) -> tuple[_Shape | None, int]:
    """The substitution of the shape of ``texts[0]`` (a file made double-quoted and ``": ``),
    its keys' kinds widened by those of the other ``texts`` of that shape and of earlier
    files, a value they all share written in the pattern as it is; and how many of ``texts``
    have its keys. No substitution if it has no shape (it is not in the plain form: none have
    its keys), nor if fewer than three in four of ``texts`` have its keys."""
    first = _read(texts[0])
    if first is None:
        return None, 0
    signature, kinds, values = first
    seen = _known.get(signature)
    if seen is None and len(_known) >= _MAX_SHAPES:
        _known.clear()
    held = [{kind} for kind in kinds]
    if seen is not None:  # kinds its keys held in earlier files
        for kinds_held, earlier in zip(held, seen, strict=True):
            kinds_held.update(earlier)
    shared: list[str | None] = list(values)  # a key's value in every file read, or None
    alike = 1
    for text in texts[1:]:
        other = _read(text)
        if other is None or other[0] != signature:
            continue
        alike += 1
        for index, (kind, value) in enumerate(zip(other[1], other[2], strict=True)):
            held[index].add(kind)
            if shared[index] != value:
                shared[index] = None
    widened = tuple(map(frozenset, held))
    _known[signature] = widened
    if alike * 4 < len(texts) * 3:
        return None, alike
    if alike < _MIN_ALIKE:  # too few files to tell a shared value
        shared = [None] * len(shared)
    slots = tuple(
        _Literal(value, kind == _WORD) if value is not None else kinds_held
        for value, kind, kinds_held in zip(shared, kinds, widened, strict=True)
    )
    return _compile(signature[0], slots, widened), alike


def _read(text: str) -> tuple[Signature, list[str], list[str]] | None:
    """The signature of a file (made double-quoted and ``": ``), the kind of each of its
    values and the values; None if it is not in the plain form."""
    keys: list[str] = []
    kinds: list[str] = []
    values: list[str] = []
    key_pattern, kind_pattern = _key_pattern(), _kind_pattern()
    for line in text[:-1].split("\n"):
        key, colon, value = line.partition('": ')
        if not colon or key_pattern.fullmatch(key) is None:
            return None
        match = kind_pattern.fullmatch(value + "\n")
        if match is None or match.lastgroup is None:
            return None
        kind = match.lastgroup
        keys.append(key)
        kinds.append(kind)
        values.append(value)
    if not sound_keys(keys):
        return None
    return (tuple(keys), tuple(kind == _WORD for kind in kinds)), kinds, values


class _Literal(NamedTuple):
    """A value every file of a shape holds: matched as it is, written as its JSON text."""

    text: str
    word: bool


@functools.lru_cache(maxsize=_MAX_SHAPES)
def _compile(
    keys: tuple[str, ...], slots: tuple[frozenset[str] | _Literal, ...], kinds: Kinds
) -> _Shape:
    """The substitution of files of ``keys`` whose values are ``slots`` (the kinds a key holds,
    or the value all hold; ``kinds``: the kinds of every slot). Runs of keys of other kinds
    than words are groups, copied as they are; words are groups, quoted; shared values are
    written by the replacement. The output is the joined text's form with words quoted: its
    newlines are still to become ``, "``."""
    pattern = ["\0"]
    replacement = ['\0{{"']
    group = 0
    copying = False  # within a group of keys copied as they are
    for index, (key, slot) in enumerate(zip(keys, slots, strict=True)):
        joint = re.escape(("\n" if index else "") + key + '": ')
        if isinstance(slot, frozenset) and _WORD not in slot:
            if not copying:
                group += 1
                pattern.append("(")
                replacement.append(f"{{0[{group}]}}")
                copying = True
            tried = "|".join([text for kind, text in _KINDS.items() if kind in slot])
            pattern.append(f"{joint}(?:{tried})")
            continue
        if copying:
            pattern.append(")")
            copying = False
        pattern.append(joint)
        replacement.append(_braces(("\n" if index else "") + key + '": '))
        if isinstance(slot, _Literal):
            pattern.append(re.escape(slot.text))
            replacement.append(_braces(f'"{slot.text}"' if slot.word else slot.text))
        else:
            group += 1
            pattern.append(f"({_KINDS[_WORD]})")
            replacement.append(f'"{{0[{group}]}}"')
    pattern.append(")\n(?=\0)" if copying else "\n(?=\0)")
    replacement.append("}}")
    held = frozenset().union(*kinds)
    return _Shape(
        re.compile("".join(pattern)),
        "".join(replacement).format,
        lists="list" in held,
        exponents=bool(held & {"exponent", "list"}),
        specials=bool(held & {"special", "list"}),
    )


def _braces(text: str) -> str:
    """``text`` as it is in a ``str.format`` template."""
    return text.replace("{", "{{").replace("}", "}}")
