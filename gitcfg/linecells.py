"""Table cells of stored files in the plain form, read from their lines, many files at once.

A config or summary file as ``dump_config`` writes it (``gitcfg.plainform``'s plain form: one
``key: value`` line per key, each value a number, a word, a simple quoted string, ``true``,
``false``, ``null``, ``{}`` or a flat list) shows its values in the table as written, but a
quoted string without its quotes and a float's ``1.0e-05`` as ``repr``'s ``1e-05``. So the
keys, values, type letters and cells of thousands of files come from a few C passes over
their joined text and its lines, with no Python code per value: decoding every file's JSON
to write each value again was most of the time of a table over a cold cache. Values of one
key (a column of runs sharing their keys) are mostly of one kind: such a column is known by
a pass over its joined text, not value by value.

A file written by hand may hold a float or a list as gitcfg would not write it (``0.10``,
``['a']``): such values are found (a float that may not be ``repr``'s text is checked, most
are plainly so) and written again from their values, so every cell is ``render.cell_text``'s.
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
from collections.abc import Sequence
from typing import NamedTuple

from gitcfg import flatcommon
from gitcfg.flatjson import fast_json
from gitcfg.flatshapes import MIN_FILES
from gitcfg.plainform import sound_keys
from gitcfg.render import cell_text

# After each file of the joined text: a line of key "\0" and value "\0", so that the text's
# lines, split at ': ' too, are keys and values by turns.
_FILE_END = "\0: \0\n"
# A value's type letter (as tablecells writes them) by its first character and whether it
# holds a dot: numbers, .inf/.nan, quoted strings (their quote, until their cells are made:
# they are strings), lists, {}, words (true, false and null apart, in _WORDS), and the file
# end's value.
_LETTERS: dict[tuple[str, bool], str] = {}
for _char in "0123456789-":
    _LETTERS[_char, False], _LETTERS[_char, True] = "i", "f"
for _char, _letter in (("'", "'"), ("[", "l"), ("{", "d"), ("\0", "\0"), (".", "f")):
    _LETTERS[_char, False] = _LETTERS[_char, True] = _letter
for _char in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/":
    _LETTERS[_char, False] = _LETTERS[_char, True] = "s"
_WORDS = {"true": "b", "false": "b", "null": "n"}


# A file's keys, each followed by the separator; a type letter per key; each key's cell
# followed by the separator.
FileCells = tuple[str, str, str]


class LinedFiles(NamedTuple):
    """Files in the plain form split into their lines: per file its keys, each followed by
    the separator (None if they are not sound, ``plainform.sound_keys``: ``fast_json`` does
    not take such a file), and where its values start in ``values``, which holds every
    file's values one after another, each file's followed by a ``"\\0"`` (``starts`` has one
    more place: the end)."""

    keys: list[str | None]
    starts: list[int]
    values: list[str]

    def files(self, first: int, end: int, sep: str) -> list[FileCells | None]:
        """The keys, letters and cells (``sep`` after each) of the files ``first`` to
        ``end`` (not included); None for a file whose keys are not sound, or every file if
        a value is of a kind this does not know (not expected)."""
        start = self.starts[first]
        made = cells_of(self.values[start : self.starts[end]])
        if made is None:
            return [None] * (end - first)
        letters, cells = made
        found: list[FileCells | None] = []
        for at in range(first, end):
            keys = self.keys[at]
            begin, stop = self.starts[at] - start, self.starts[at + 1] - start - 1
            if keys is None:
                found.append(None)
            else:
                text = sep.join(cells[begin:stop]) + sep if stop > begin else ""
                found.append((keys, letters[begin:stop], text))
        return found


class _Patterns(NamedTuple):
    dot_zero_e: re.Pattern[str]
    unsure_float: re.Pattern[str]
    numbers: re.Pattern[str]
    quoted: re.Pattern[str]
    lists: re.Pattern[str]
    words: re.Pattern[str]


@functools.cache
def _re() -> _Patterns:
    """The patterns, compiled on first use: only a table over files read from git needs them.
    The first two find a value after its ': ', so a list's items are left as they are; the
    others tell whether every value of a text of values (each followed by a newline) is of
    one kind, by its first character, as the plain form tells them apart."""
    return _Patterns(
        dot_zero_e=re.compile(r": (-?[0-9]\.0e[^\n]*)\n"),
        unsure_float=re.compile(_UNSURE_FLOAT),
        # a line of another kind after a newline (the first line is looked at apart): not a
        # repeat of lines, for which sre keeps a backtracking frame a line
        numbers=re.compile(r"\n[^-0-9]"),
        quoted=re.compile(r"\n[^']"),
        lists=re.compile(r"\n[^\[]"),
        words=re.compile(r"\n[^A-Za-z_/]"),
    )


# A float value that may not be repr's text as dump_config writes it (1.0e-05 for repr's
# 1e-05); any other is: at most 15 significant digits (any such decimal reads back and is
# written again the same), no trailing zero in a fraction but a lone one, written without an
# exponent from 1e-4 to 1e16 and with one (of two or three digits, to e+299) past them.
_UNSURE_FLOAT = (
    r": (?=-?[0-9]+\.)(?=-?(?:[0-9.]{17}"  # a float; 16 digits or more
    r"|0\.0000"  # below 1e-4, without an exponent
    r"|[0-9]+\.[0-9]*?[0-9]0[e\n]"  # a trailing zero
    r"|(?:0|[0-9]{2,})\.[0-9]+e"  # not one digit before the dot
    r"|[0-9]\.[0-9]+e(?:[-+][0-9]\n|-0[0-4]|\+0|\+1[0-5]|[-+](?:0[0-9]{2}|[3-9][0-9]{2}|[0-9]{4}))"
    r"))(-?[0-9][^\n]*)\n"
)


def files_cells(bodies: Sequence[str], sep: str) -> LinedFiles:
    """The files' keys and values, split out of their lines (``sep`` after each key);
    ``""`` and ``"{}\\n"`` are files without keys. Every body must be in the plain form line
    by line (``flatjson.plain_lines``), else the answer is wrong; ``cells_of`` makes the
    values' letters and cells."""
    texts = ["" if body == "{}\n" else body for body in bodies]
    keyed: list[int] = []
    common = None
    # files sharing little are known from their first few (a config and a summary by turns)
    first = list(itertools.islice(filter(None, texts), 2)) if len(texts) >= MIN_FILES else []
    if len(first) == 2 and flatcommon.shared_lines(first) is not None:
        keyed = list(itertools.compress(range(len(texts)), texts))
        if len(keyed) >= MIN_FILES:
            common = flatcommon.shared_lines([texts[i] for i in keyed])
    if common is None:
        per_file, values = _split(texts, sep)
    else:
        per_file, values = _split_around(texts, keyed, sep, *common)
    if len(per_file) != len(bodies):  # not expected of files in the plain form
        return LinedFiles([None] * len(bodies), [0] * (len(bodies) + 1), [])
    # judged once per distinct sequence of keys: a store's files share theirs
    unsound = {k for k in set(per_file) if not sound_keys(k.split(sep)[:-1])}
    file_keys: list[str | None] = list(per_file)
    if unsound:
        file_keys = [None if k in unsound else k for k in per_file]
    # each file's values, then its "\0"
    sizes = map(operator.add, map(str.count, per_file, itertools.repeat(sep)), itertools.repeat(1))
    return LinedFiles(file_keys, list(itertools.accumulate(sizes, initial=0)), values)


def _split(texts: Sequence[str], sep: str) -> tuple[list[str], list[str]]:
    """Each file's keys (``sep`` after each), and every file's values, each file's followed
    by a ``"\\0"``: by a C pass over the files' joined lines."""
    joined = _FILE_END.join(texts) + _FILE_END
    parts = joined.replace(": ", "\n").split("\n")
    parts.pop()  # after the last newline
    return _per_file(parts[0::2], sep), parts[1::2]


def _split_around(
    texts: Sequence[str], keyed: list[int], sep: str, head: str, tail: str
) -> tuple[list[str], list[str]]:
    """``_split`` of files whose ``keyed`` ones all begin with the lines ``head`` and end
    with ``tail`` (``flatcommon.shared_lines``): only each file's own lines are split, the
    shared ones' keys and values are the same strings in every file."""
    own = list(texts)
    lines = flatcommon.own_lines([texts[i] for i in keyed], head, tail)
    for index, text in zip(keyed, lines, strict=True):
        own[index] = text
    per_file, own_values = _split(own, sep)
    if len(per_file) != len(texts):
        return per_file, own_values
    head_keys, head_values = _split([head], sep)
    tail_keys, tail_values = _split([tail], sep)
    before, after = head_keys[0], tail_keys[0]
    head_values.pop()  # its "\0" (the tail's ends each file's values)
    shared = bytearray(len(texts))
    for index in keyed:
        shared[index] = 1
    whole: dict[str, str] = {}  # a file's keys by its own keys
    values: list[str] = []
    extend = values.extend
    at = 0
    for index, keys in enumerate(per_file):
        end = at + keys.count(sep)
        if shared[index]:
            extend(head_values)
            extend(own_values[at:end])
            extend(tail_values)
            per_file[index] = whole.get(keys) or whole.setdefault(keys, before + keys + after)
        else:
            extend(own_values[at : end + 1])
        at = end + 1
    return per_file, values


def cells_of(values: list[str]) -> tuple[str, list[str]] | None:
    """The type letters (a string, one letter a value) and the cells of values of files in
    the plain form (``"\\0"``, a file's end, is its own letter and cell); None if a value is
    of a kind this does not know (not expected). Values all of one kind, as a column's mostly
    are, are known at once; one value all share (a config key set the same in all runs), once."""
    if not values:
        return "", []
    count = len(values)
    if count > 1 and values.count(values[0]) == count:  # a value all files share
        one = cells_of(values[:1])
        return None if one is None else (one[0] * count, one[1] * count)
    text = "\n".join(values) + "\n"
    kind = _one_kind(text, len(values))
    if kind is not None:
        return kind.replace("'", "s") * len(values), _kind_cells(kind, values, text)
    firsts = map(operator.itemgetter(0), values)
    dots = map(operator.contains, values, itertools.repeat("."))
    kinds = map(_LETTERS.__getitem__, zip(firsts, dots, strict=True))
    try:
        letters = "".join(map(_WORDS.get, values, kinds))  # a letter a value
    except (KeyError, IndexError):  # a first character not known, an empty value
        return None
    return letters.replace("'", "s"), _cells(values, letters)


def _one_kind(text: str, count: int) -> str | None:
    """The letter of every value of ``text`` (``count`` values, each followed by a
    newline) if they are all of one kind (a quoted string's is its quote), else None."""
    patterns = _re()
    first = text[0]
    if first in "-0123456789" and not patterns.numbers.search(text):
        dots = text.count(".")  # a number in the plain form holds one at most
        return "f" if dots == count else "i" if dots == 0 else None
    if first == "'" and not patterns.quoted.search(text):
        return "'"
    if first == "[" and not patterns.lists.search(text):
        return "l"
    if first in _WORD_START and not patterns.words.search(text):
        lines = "\n" + text
        if all(f"\n{word}\n" not in lines for word in _WORDS):
            return "s"
    return None


_WORD_START = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/")


def _kind_cells(kind: str, values: list[str], text: str) -> list[str]:
    """The cells of ``values`` (their ``text``) all of one kind."""
    if kind == "'":  # no value holds a line end: the quotes around them are the splits
        return text[1:-2].split("'\n'")
    if kind == "l":
        return list(map(_list_cell, values))
    if kind == "f":
        again = _floats_again(values, text)
        return list(map(again.get, values, values)) if again else values
    return values


def _cells(values: list[str], letters: str) -> list[str]:
    """Each value's cell (by its ``letters``, a quoted string's its quote): its text, but for
    a few kinds (quoted strings, lists, floats not as repr writes them)."""
    floats = list(itertools.compress(values, map(operator.eq, letters, itertools.repeat("f"))))
    again = _floats_again(floats, "\n".join(floats) + "\n") if floats else {}
    if again or (letters.count("'") + letters.count("l")) * 8 > len(values):
        again.update((text, text[1:-1]) for text in values if text[:1] == "'")
        again.update((text, _list_cell(text)) for text in values if text[:1] == "[")
        return list(map(again.get, values, values)) if again else values
    cells = list(values)
    for letter, cell in (("'", _unquoted), ("l", _list_cell)):  # a few: each in its place
        at = letters.find(letter)
        while at >= 0:
            cells[at] = cell(values[at])
            at = letters.find(letter, at + 1)
    return cells


def _unquoted(text: str) -> str:
    return text[1:-1]


def _floats_again(floats: list[str], text: str) -> dict[str, str]:
    """``{text: cell}`` of the floats (``text``: each followed by a newline) whose cell is
    not their text: written with ``.0e`` (dump_config writes repr(1e-05) as 1.0e-05: YAML
    1.1 wants a dot), or not as repr would (hand-written). Most floats are plainly not such:
    none is when no float has an exponent, a trailing zero (but a lone one), 17 characters
    or more, or ``0.0000``."""
    if (
        "e" not in text
        and "0.0000" not in text
        and text.count("0\n") == text.count(".0\n")
        and max(map(len, floats)) < 17
    ):
        return {}
    text = ": " + text.replace("\n", "\n: ")
    patterns = _re()
    again = {value: _repr_form(value) for value in patterns.dot_zero_e.findall(text)}
    unsure = set(patterns.unsure_float.findall(text))
    if unsure:  # a few (long floats, hand-written ones): each read and written again
        cells = zip(unsure, map(cell_text, map(float, unsure)), strict=True)
        again.update((value, cell) for value, cell in cells if cell != _repr_form(value))
    return again


def _repr_form(text: str) -> str:
    """A float's text as dump_config writes it, as repr writes it (1.0e-05: 1e-05)."""
    return text.replace(".0e", "e")


@functools.lru_cache(maxsize=4096)
def _list_cell(text: str) -> str:
    """A list's cell: ``flow_text``'s, not the file's (``['a']`` is written ``[a]``)."""
    translated = fast_json(f"v: {text}\n")
    if translated is None:  # not expected of a line of a plain file
        return text
    return cell_text(json.loads(translated)["v"])


def _per_file(items: list[str], sep: str) -> list[str]:
    """The joined files' keys, each followed by ``sep``, file by file."""
    pieces = (sep.join(items) + sep).split("\0" + sep)
    pieces.pop()
    return pieces
