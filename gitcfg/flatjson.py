"""Stored config files as JSON text, the form listings keep, cache and print.

``to_json(text)`` equals ``json.dumps(load_config(text))`` (``ensure_ascii=False``) in value,
and byte for byte for every file ``dump_config`` writes. Files in that plain form (one
``key: value`` line per key, sorted, scalars and flat lists written the way dump_config writes
them) are translated as text by C string and regex passes over many files at once, with no YAML
parser and no Python object per value: a listing of 100,000 runs reads 200,000 such files.
Anything the translation is not sure of (comments, quoting it does not know, nested lists,
repeated keys, a dotted key under another key's value, non-ASCII) goes to the full loader.

(The float text of a hand-written file such as ``0.10`` is kept as written, so its JSON reads
back the same number though it is not the text ``json.dumps`` would write.)
"""

from __future__ import annotations

import functools
import itertools
import json
import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from gitcfg import flatcommon, flatshapes
from gitcfg.flat import MAX_KEY_LENGTH, find_collision
from gitcfg.plainform import (
    KEY,
    LITERAL,
    MAX_DIGITS,
    VALUE,
    finish_values,
    has_long_number,
    sound_keys,
)

# The JSON text of a value, as gitcfg prints it: json.dumps with non-ASCII kept.
encode = json.JSONEncoder(ensure_ascii=False).encode

# Between files of a batch: a line of its own ("\0"), whose key sorts before every key.
_FILE_END = "\0\n"
# Distinct lines out of the plain form that a batch sets aside the files of, before it gives up
# and checks file by file (each costs a substring search per file).
_MAX_ODD = 32


@dataclass(frozen=True)
class _Patterns:
    plain_line: re.Pattern[str]
    odd_line: re.Pattern[str]
    plain_file_line: re.Pattern[str]
    odd_file_line: re.Pattern[str]
    value: re.Pattern[str]
    keys: re.Pattern[str]
    string: re.Pattern[str]


@functools.cache
def _re() -> _Patterns:
    """The patterns, compiled on first use: only a listing that reads files needs them."""
    return _Patterns(
        # A text is in the form when its first line is and no line after a newline is not (its
        # last line ends with one). Not a repeat of lines over the whole text: without
        # possessive quantifiers (which Python 3.10 lacks) sre keeps a backtracking frame per
        # repeat, and such a match over 30,000 files took four times as long as this search.
        plain_line=re.compile(f"{KEY}: {VALUE}\n"),
        odd_line=re.compile(f"\n(?!{KEY}: {VALUE}\n|\\Z)"),
        # files joined by _FILE_END lines
        plain_file_line=re.compile(f"(?:{KEY}: {VALUE}|\0)\n"),
        odd_file_line=re.compile(f"\n(?!(?:{KEY}: {VALUE}|\0)\n|\\Z)"),
        value=re.compile(r": [^\n]*"),
        keys=re.compile(r"([^\n:]+): [^\n]*\n"),
        string=re.compile(f": {LITERAL}([A-Za-z_/][A-Za-z0-9_./-]*)\n"),
    )


# A replacement as str.format of the match: a C call per match (see gitcfg.plainform)
_STRING = ': "{0[1]}"\n'.format


def _values(text: str) -> str:
    """Plain-form lines (see ``fast_json``) with each value written as JSON."""
    return finish_values(_re().string.sub(_STRING, text.replace("'", '"')))


def _translate(text: str) -> str:
    """JSON members (``k1": v1, "k2": v2, "``) of plain-form text."""
    return _values(text).replace(": ", '": ').replace("\n", ', "')


def _plain(text: str, longest: int | None = None) -> bool:
    """Whether ``text`` is in the plain form; ``longest``: its longest line's length, if known
    (no line longer than Python's limit on an int's digits holds a number it will not read:
    searching for one costs more than the check of the form itself)."""
    if not text or _form_ends(text) < len(text):
        return False
    return (len(text) if longest is None else longest) <= MAX_DIGITS or not has_long_number(text)


def _form_ends(text: str, at: int = 0, joined: bool = False) -> int:
    """Where the first line of ``text`` from ``at`` (a line's start) that is not in the plain
    form starts (``joined``: nor a ``_FILE_END`` line), ``len(text)`` if every one is."""
    patterns = _re()
    line, odd = (
        (patterns.plain_file_line, patterns.odd_file_line)
        if joined
        else (patterns.plain_line, patterns.odd_line)
    )
    if at < len(text) and line.match(text, at) is None:
        return at
    found = odd.search(text, at)
    return len(text) if found is None else found.start() + 1


def fast_json(text: str) -> str | None:
    """The JSON text of a config file in dump_config's plain form, else None."""
    if text == "{}\n":
        return "{}"
    if not _plain(text):
        return None
    # a repeated key is an error for the loader, and so is a key longer than flat allows;
    # a dotted key might collide with another (a: 1, a.b: 2), which the loader refuses too
    if not sound_keys(_re().keys.findall(text)):
        return None
    return '{"' + _translate(text)[:-3] + "}"


def fast_json_many(texts: Sequence[str], *, shared: bool = True) -> list[str | None]:
    """``fast_json`` of each text, translated together: from the lines they do not all share
    (``gitcfg.flatcommon``; not if ``shared`` is false), a shape at a time
    (``gitcfg.flatshapes``), the files that fit none line by line or file by file.

    Line by line, each distinct line of the batch is checked and translated once (files of one
    store share most lines: the same host, code commit, model...), then every file is put
    together from its lines' JSON members. Only the lines are ever regex-matched; the files
    are checked for repeated keys all at once (sorted files have strictly increasing keys)
    and, those with dotted keys, for collisions. File by file, files of mostly their own
    lines are checked and translated as one text, their keys judged once per distinct
    sequence.
    """
    found: list[str | None] = [None] * len(texts)
    # most batches: every file ends its last line and none holds a NUL (one check of them all)
    if "{}\n" not in texts and all(map(str.endswith, texts, itertools.repeat("\n"))):
        batch = [] if "\0" in "".join(texts) else list(range(len(texts)))
    else:
        batch = []
    if not batch:
        for index, text in enumerate(texts):
            if text == "{}\n":
                found[index] = "{}"
            elif text[-1:] == "\n" and "\0" not in text:
                batch.append(index)
    if not batch:
        return found
    # Most files share their shape with most others (gitcfg.flatshapes): a substitution a
    # shape, whether their lines are mostly shared (meta files, fixed hyperparameters: in a
    # store built through the API, a config's only own line may be its seed) or their own; it
    # took 40% (config files of shared lines) to 85% (meta files) of the CPU of the line-by-line
    # path. Those left: files sharing most of their lines read line by line, each distinct
    # line once; files of mostly their own lines file by file in one pass.
    if len(batch) >= flatshapes.MIN_FILES:
        # a file's own lines, the few others do not share, are all the shapes then match
        if shared:
            batch = flatcommon.translate(texts, batch, found, _own_lines_json, fast_json)
            if not batch:
                return found
        batch = flatshapes.translate(texts, batch, found)
        if not batch:
            return found
    sample = "".join([texts[i] for i in batch[:64]]).split("\n")
    if len(set(sample)) * 2 < len(sample):
        _batch_json(texts, batch, found)
    else:
        _files_json(texts, batch, found)
    return found


def _own_lines_json(texts: Sequence[str]) -> list[str | None]:
    return fast_json_many(texts, shared=False)


def _files_json(texts: Sequence[str], batch: list[int], found: list[str | None]) -> None:
    """Files of mostly their own lines, checked and translated as one text: one regex pass
    checks the form of them all, another strips their values, and their keys are judged
    per distinct sequence of keys (a store's config files share theirs)."""
    patterns = _re()
    plain = [i for i in batch if not has_long_number(texts[i])]
    joined = _FILE_END.join([texts[i] for i in plain])
    if _form_ends(joined, joined=True) < len(joined):  # some file is not plain: drop those
        plain = [i for i in plain if texts[i] and _form_ends(texts[i]) == len(texts[i])]
        joined = _FILE_END.join([texts[i] for i in plain])
    if not plain:
        return
    # in the plain form a line's first ': ' ends its key: what is left is the keys alone
    sequences = patterns.value.sub("", joined).split(_FILE_END)
    bad = {keys for keys in set(sequences) if not sound_keys(keys[:-1].split("\n"))}
    if bad:  # a repeated, overlong or colliding key: the loader decides (it refuses them)
        plain = [i for i, keys in zip(plain, sequences, strict=True) if keys not in bad]
        joined = _FILE_END.join([texts[i] for i in plain])
        if not plain:
            return
    pieces = _translate(joined.replace(_FILE_END, "\0"))[:-3].split("\0")
    for index, piece in zip(plain, pieces, strict=True):
        found[index] = '{"' + piece.removesuffix(', "') + "}"


def _batch_json(texts: Sequence[str], batch: list[int], found: list[str | None]) -> None:
    lines = _lines(texts, batch)
    unique = dict.fromkeys(lines)
    unique.pop("\0", None)  # the line between two files
    distinct = "\n".join(unique) + "\n"
    longest = max(map(len, unique))
    if not _plain(distinct, longest):  # some file is not in the plain form: the others are
        odd = _odd_lines(distinct, longest)
        batch = _without_lines(texts, batch, odd)
        if odd is None or not batch:  # too many odd lines: start again with the plain files
            if batch:
                _batch_json(texts, batch, found)
            return
        # the plain files' distinct lines are those found, less the odd ones: no new pass
        for line in odd:
            unique.pop(line, None)
        lines = _lines(texts, batch)
        distinct = "\n".join(unique) + "\n"
    keys = dict(zip(unique, _re().keys.findall(distinct), strict=True))
    keys["\0"] = "\0"  # sorts before every key: one key out of order per file boundary
    in_order = list(map(keys.__getitem__, lines))
    if (
        sum(map(operator.ge, in_order, in_order[1:])) != len(batch) - 1
        or max(map(len, keys.values())) > MAX_KEY_LENGTH
    ):
        _one_by_one(texts, batch, found)
        return
    if _may_collide(keys.values()):
        # a file whose keys hold dots might have a leaf and a branch (a: 1, a.b: 2)
        per_file = "\x01".join(in_order).split("\x01\0\x01")
        if any("." in ks and find_collision(ks.split("\x01")) for ks in per_file):
            _one_by_one(texts, batch, found)
            return
    out = _values(distinct).replace(": ", '": ')
    members = dict(zip(unique, ('"' + out[:-1].replace("\n", '\n"')).split("\n"), strict=True))
    members["\0"] = "\0"
    pieces = ", ".join(map(members.__getitem__, lines)).split(", \0, ")
    for index, piece in zip(batch, pieces, strict=True):
        found[index] = "{" + piece + "}"


def _lines(texts: Sequence[str], batch: list[int]) -> list[str]:
    """The lines of the files of ``batch``, a ``"\\0"`` line between two files."""
    lines = _FILE_END.join([texts[i] for i in batch]).split("\n")
    lines.pop()  # the empty string after the last newline
    return lines


def _odd_lines(distinct: str, longest: int) -> list[str] | None:
    """The lines of ``distinct`` (distinct lines, the longest ``longest`` long) not in the
    plain form; None past ``_MAX_ODD`` of them. One regex match per such line: a store whose
    files hold a few (a quoted command line, a non-ASCII name) keeps its other files on the
    batch path."""
    odd: list[str] = []
    at, end = 0, len(distinct)
    while at < end:
        at = _form_ends(distinct, at)
        if at == end:
            break
        stop = distinct.index("\n", at)
        odd.append(distinct[at:stop])
        if len(odd) > _MAX_ODD:
            return None
        at = stop + 1
    if longest > MAX_DIGITS:  # a number Python will not read is an odd line too
        odd += [line for line in distinct.split("\n") if has_long_number(line)]
    return odd


def _without_lines(texts: Sequence[str], batch: list[int], lines: list[str] | None) -> list[int]:
    """The files of ``batch`` holding none of ``lines`` (None: the files in the plain form)."""
    if lines is None:
        return [i for i in batch if _plain(texts[i])]
    marks = [f"\n{line}\n" for line in lines]
    kept = []
    for i in batch:
        text = "\n" + texts[i]
        if not any(mark in text for mark in marks):
            kept.append(i)
    return kept


def _may_collide(keys: Iterable[str]) -> bool:
    """Whether some key is a dotted parent of another among ``keys`` (all files of a batch).

    Checked over the batch's distinct keys, so a batch with no such pair needs no file-by-file
    look: most batches, as a store's files share their keys.
    """
    distinct = set(keys)
    parents = {key[:i] for key in distinct if "." in key for i in _dots(key)}
    return not parents.isdisjoint(distinct)


def _dots(key: str) -> Iterator[int]:
    at = key.find(".")
    while at >= 0:
        yield at
        at = key.find(".", at + 1)


def _one_by_one(
    texts: Sequence[str], batch: list[int], found: list[str | None]
) -> list[str | None]:
    """``fast_json`` file by file: a batch holding a line or a file the batch path is not
    sure of (each file is then judged alone)."""
    for index in batch:
        found[index] = fast_json(texts[index])
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


# -- the plain form alone, without the translation (``gitcfg.linecells`` reads table cells from
# the lines of such files, and a cold table needs no JSON of them) -------------------------------


def plain_lines(texts: Sequence[str], *, shared: bool = True) -> list[bool]:
    """Whether each text is in the plain form line by line. ``fast_json`` takes exactly such
    a text whose keys are sound (``plainform.sound_keys``). The lines many texts all begin
    or end with are judged once, with the texts' own lines (``gitcfg.flatcommon``; not if
    ``shared`` is false).

    Each distinct line is checked once, with its digits 1-9 written 1: no rule of the form
    tells them apart (only 0 from the others: ``007``, ``-0``), and the lines of a store's
    files, which hold the same keys and values of the same kinds, then share a few hundred
    shapes (``param: 11.1`` for ``param: 64.5`` and ``param: 17.5``)."""
    found = [text == "{}\n" for text in texts]
    batch = [
        i for i, text in enumerate(texts) if text[-1:] == "\n" and "\0" not in text and not found[i]
    ]
    if not batch:
        return found
    if shared and len(batch) >= flatshapes.MIN_FILES:
        chosen = [texts[i] for i in batch]
        common = flatcommon.shared_lines(chosen)
        if common is not None:
            head, tail = common
            own = flatcommon.own_lines(chosen, head, tail)
            sound, *plain = plain_lines([head + tail, *own], shared=False)
            # "{}" between other lines is no empty file: not the plain form
            if sound and head + tail != "{}\n":
                for i, ok, text in zip(batch, plain, own, strict=True):
                    found[i] = ok and text != "{}\n"
            return found
    lines = _FILE_END.join([texts[i] for i in batch]).translate(_SHAPES).split("\n")
    lines.pop()  # the empty string after the last newline
    unique = set(lines)
    unique.discard("\0")  # the line between two files
    distinct = "\n".join(unique) + "\n"  # in no set order: each line is judged alone
    longest = max(map(len, unique))
    if not _plain(distinct, longest):  # the files holding a line not in the form left out
        shaped = [text.translate(_SHAPES) for text in texts]
        batch = _without_lines(shaped, batch, _odd_lines(distinct, longest))
    for i in batch:
        found[i] = True
    return found


_SHAPES = str.maketrans("23456789", "11111111")
