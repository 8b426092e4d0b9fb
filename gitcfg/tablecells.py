"""The ``gitcfg runs`` table from each run's cell texts, cached beside the listing's rows.

The table shows the fields, the meta fields some run uses, and the config and summary keys
whose values differ among the runs listed, each column as wide as its widest cell. Learning
that by decoding every run's JSON, then decoding it again to write the cells, was most of the
time of a table of 100,000 runs. Instead each run's cells are kept as text, cached per shard
subtree under the subtree's cache key (its path and tree id, like the listing's rows), with
the subtree's figures: per column its widest cell, per key whether its runs differ. Which keys
differ and how wide each column is then come from a few thousand subtrees' figures, and
a line is its subtree's line (the cells all its runs share written in) with its own few
cells put in. Without ``--where`` or ``--sort`` the runs'
listing rows are not even read: the cached texts carry the key the table is sorted by.

On a cold cache the cells of files in the plain form are read from their lines
(``gitcfg.linecells``), not from their values decoded, and, when every run is shown, no
listing row is made at all: the subtrees are read from git for their texts alone (a later
listing of rows, ``--format json`` or ``--where``, reads the files again). The runs of a chunk
read together that share their keys (most) are taken a column of a key at a time, each
column's kind known by one pass over its values.

A cell is its value as the table writes it, with a letter for the value's type beside it: the
two together tell values apart as ``diff.same_value`` does (1, 1.0, true and '1' differ; nan
equals nan). One difference, on purpose: -0.0 and 0.0 print differently, so here they differ.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg import linecells, query
from gitcfg.diff import MISSING
from gitcfg.flatjson import fast_json
from gitcfg.layout import RunRef
from gitcfg.linecells import FileCells, LinedFiles
from gitcfg.render import BOLD, cell_texts, line_pattern, paint

if TYPE_CHECKING:
    from gitcfg.listing import ListedRow, ReadRun, RunListing

# A subtree's text, its parts apart by _US: its header (the config keys any of its runs has,
# _GS, its summary keys, each sorted, apart by _RS), its figures (``_figures``: the widest
# cell of each column, _GS, per column the cell every run has, after "=" for a field and the
# key's letter for a key, or '' where its runs differ), then per run four texts: its sort key
# (start time, project, id apart by _SK), the type letters of its values ("-" for a key it
# lacks), its meta fields' use, and the cells of the columns where its subtree's runs differ
# (``_FIELDS``, then config and summary as the header names them, "" for a key it lacks),
# each followed by _RS. A cell every run of a subtree has is kept once, in its figures: most
# are, and a line is then the subtree's line with a few cells put in (``Runs.chunks``).
# Cell texts hold no control character (a string holding one is written quoted) and keys
# cannot (``flat.check_key``); a run whose texts would still hold a separator makes none,
# and the table is then made from the decoded rows.
_GS = "\x1d"  # between a header's config and summary keys, and a figures' two parts
_RS = "\x1e"  # between keys, and between cells
_US = "\x1f"  # between the parts of a subtree's text
_SK = "\x01"  # in a sort key: below every character of a start time, project or id but NUL
_PER_RUN = 4
_FIELDS = (*query.DEFAULT_FIELDS, *query.META_FIELDS)
# The cache key of a subtree's text: the listing's key and this. The text is what the table
# prints (``render.cell_texts``, ``table_values``, the letters): a change to any of them, or to
# the text's form, takes a new suffix, so that no version of gitcfg prints another's cells.
_SUFFIX = "#table2"
_LETTERS = {str: "s", int: "i", float: "f", bool: "b", type(None): "n", list: "l", dict: "d"}
_KEY_MARKS = frozenset("sifbnldoq")  # a key's letters in a figures' cell ("o": other, "q": quoted)
_FIELD_MARK = "="  # before a field's cell in a subtree's figures
_ABSENT = ("-", "")  # the letter and cell of a key a run lacks
_UNUSED = "0" * len(query.META_FIELDS)
_SEPARATOR = re.compile(f"[\0{_SK}{_GS}{_RS}{_US}]")
_NO_META = [None] * len(query.META_FIELDS)
_NO_META_CELLS = [""] * len(query.META_FIELDS)
# _field_cells spells table_values out for these fields, in this order
assert query.DEFAULT_FIELDS == ("id", "project", "created", "code_commit")

Row = dict[str, Any]


class RunCells(NamedTuple):
    """A run as the table shows it: its sort key, meta fields' use, the cells of ``_FIELDS``,
    and per config and summary key its type letter and cell."""

    sort_key: str
    used: str
    fields: list[str]
    config: dict[str, tuple[str, str]]
    summary: dict[str, tuple[str, str]]


def table_values(row: Row, values: list[Any], names: Sequence[str]) -> list[Any]:
    """``values`` (a row's, in columns ``names``) with the fields shortened for people: the
    start time to the second, the code commit to 7 digits (-dirty when so)."""
    for i, name in enumerate(names):
        item = values[i]
        if name == "created" and isinstance(item, str):
            values[i] = _short_time(item)
        elif name == "code_commit" and isinstance(item, str):
            values[i] = _short_commit(item, row["dirty"])
    return values


def _short_time(started: str) -> str:
    """A start time to the second, as the table shows it: ``2026-01-01 10:00:00``."""
    return started[:19].replace("T", " ")


def _short_commit(commit: str, dirty: Any) -> str:
    """A code commit as the table shows it: 7 digits, ``-dirty`` when so."""
    return commit[:7] + ("-dirty" if dirty else "")


def sort_key(order: str, project: str, run_id: str) -> str:
    """A text that sorts as the listing's rows do (start time, then project and id)."""
    return f"{order}{_SK}{project}{_SK}{run_id}"


def run_cells(row: Row, order: str) -> RunCells | None:
    """A run's cells from its decoded row and its listing sort order; None if a text would
    hold a separator, or a value's text does not tell it apart as ``same_value`` does (a
    mapping whose keys are out of order: two that are the same would print differently)."""
    parts = []
    for part in (row["config"], row["summary"]):
        values = list(part.values())
        letters = [_LETTERS.get(type(x), "o") for x in values]
        for i, item in enumerate(values):
            if letters[i] == "s" and not item.isprintable():
                letters[i] = "q"  # written quoted: never the text of a string written as it is
            elif letters[i] in "ld" and _order_matters(item):
                return None
        parts.append(dict(zip(part, zip(letters, cell_texts(values), strict=True), strict=True)))
    used, cells = _field_cells(row)
    texts = [*parts[0], *parts[1], order, row["project"], row["id"], *cells]
    texts += [cell for _, cell in itertools.chain(parts[0].values(), parts[1].values())]
    if _SEPARATOR.search("".join(texts)):
        return None
    return RunCells(sort_key(order, row["project"], row["id"]), used, cells, *parts)


def _field_cells(row: Row) -> tuple[str, list[str]]:
    """A run's meta fields' use and the cells of ``_FIELDS``, from its row (its members of
    ``query.meta_members`` are enough): ``table_values``' and ``cell_texts``' answer, spelt
    out for these fields, as it is asked once a run."""
    created = row["created"]
    if type(created) is str:
        created = _short_time(created)
    used, rest = _rest_cells(row)
    return used, [*cell_texts((row["id"], row["project"], created)), *rest]


def _rest_cells(row: Row) -> tuple[str, list[str]]:
    """A run's meta fields' use and the cells of ``_FIELDS`` after its start time, from its
    row's members of ``query.meta_members``; the common case (no meta field set) spelt out."""
    meta = [row.get(name) for name in query.META_FIELDS]
    commit = row["code_commit"]
    if type(commit) is str:
        commit = _short_commit(commit, row["dirty"])
    cells = cell_texts((commit,))
    if meta == _NO_META:
        return _UNUSED, cells + _NO_META_CELLS
    used = "".join(["0" if item is None else "1" for item in meta])
    return used, cells + cell_texts([MISSING if item is None else item for item in meta])


def _order_matters(item: Any) -> bool:
    """Whether ``item`` holds a mapping whose keys are not sorted."""
    if type(item) is dict:
        return list(item) != sorted(item) or any(map(_order_matters, item.values()))
    if type(item) is list:
        return any(map(_order_matters, item))
    return False


def subtree_text(runs: Sequence[RunCells]) -> str:
    """The cached text of a subtree's runs (see ``_US``)."""
    config = sorted(set().union(*(run.config for run in runs)))
    summary = sorted(set().union(*(run.summary for run in runs)))
    texts = []
    for run in runs:
        pairs = [run.config.get(k, _ABSENT) for k in config]
        pairs += [run.summary.get(k, _ABSENT) for k in summary]
        letters = "".join([letter for letter, _ in pairs])
        cells = _RS.join([*run.fields, *(cell for _, cell in pairs)]) + _RS
        texts.append((run.sort_key, letters, run.used, cells))
    return _joined(_RS.join(config) + _GS + _RS.join(summary), texts)


def _joined(header: str, texts: Sequence[tuple[str, str, str, str]]) -> str:
    """A subtree's text from its header and per run its sort key, letters, use and every
    cell (each followed by _RS)."""
    columns = _columns([t[3] for t in texts])
    keys, letters, used = ([t[i] for t in texts] for i in range(3))
    return _text_of_columns(header, keys, letters, used, columns)


def _text_of_columns(
    header: str,
    sort_keys: Sequence[str],
    letters: Sequence[str],
    used: Sequence[str],
    columns: Sequence[Sequence[str]],
) -> str:
    """A subtree's text from its header, per run its sort key, letters and use, and the
    columns of its runs' cells (fields, then keys): the cells all its runs share go to its
    figures only."""
    widths, firsts = _figures(letters, columns)
    differing = [columns[i] for i, first in enumerate(firsts) if not first]
    if differing:
        kept = [_RS.join(cells) + _RS for cells in zip(*differing, strict=True)]
    else:
        kept = [""] * len(sort_keys)
    figures = _RS.join(map(str, widths)) + _GS + _RS.join(firsts)
    runs = zip(sort_keys, letters, used, kept, strict=True)
    return _US.join((header, figures, *itertools.chain.from_iterable(runs)))


def subtree_text_of(rows: Sequence[ListedRow]) -> str | None:
    """The cached text of a subtree's runs from their listing rows; None if a run makes none."""
    made = []
    for row in rows:
        cells = run_cells(json.loads(row.text), row.order)
        if cells is None:
            return None
        made.append(cells)
    return subtree_text(made) if made else ""


class _LinedRun(NamedTuple):
    """A run whose files are in the plain form, its cells read from their lines."""

    sort_key: str
    used: str
    fields: list[str]
    config: FileCells
    summary: FileCells

    def header(self) -> str:
        return self.config[0][:-1] + _GS + self.summary[0][:-1]

    def run_cells(self) -> RunCells:
        parts = _pairs(self.config), _pairs(self.summary)
        return RunCells(self.sort_key, self.used, self.fields, *parts)


def _pairs(part: FileCells) -> dict[str, tuple[str, str]]:
    """A file's ``{key: (letter, cell)}``."""
    keys, letters, cells = part
    pairs = zip(letters, cells.split(_RS)[:-1], strict=True)
    return dict(zip(_split(keys[:-1]), pairs, strict=True))


def subtree_texts(subtrees: Sequence[Sequence[ReadRun]]) -> list[str | None]:
    """The cached text of each subtree of runs read from git (None if a run makes none): the
    cells of runs whose files are in the plain form come from the files' lines
    (``gitcfg.linecells``), the others' from their decoded files. The runs in the plain form
    that share their keys (most) are taken a column of them at a time, and a subtree of them
    is put together from its slice of the columns."""
    runs = [run for subtree in subtrees for run in subtree]
    if not runs:
        return ["" for _ in subtrees]
    bodies = [text for run in runs if run.plain for text in (run.config, run.summary)]
    lined = linecells.files_cells(bodies, _RS)
    fields = _Fields(runs)
    columns = _KeyColumns(runs, lined) if fields.sound else None
    texts: list[str | None] = []
    at = file = 0  # the subtree's first run in ``runs``, its first file in ``lined``
    for subtree in subtrees:
        count = len(subtree)
        text = None if columns is None or not count else columns.text(fields, at, count)
        if text is None:
            text = _subtree_text_of_made(_runs_made(subtree, lined, file, fields, at))
        texts.append(text)
        at += count
        file += 2 * sum(run.plain for run in subtree)
    return texts


class _Group(NamedTuple):
    """Runs whose files are in the plain form and share their keys (``header``; ``keys``:
    each one's column, config keys then summary keys): per key its column of their letters
    (a string) and of their cells; ``letters``: every run's, if they are all the same."""

    header: str
    keys: dict[tuple[str, str], int]
    kinds: list[str]
    cells: list[list[str]]
    letters: str | None


class _KeyColumns:
    """The runs of a chunk in the plain form, grouped by their keys, a column a key: per run
    its group and its place in it (-1: none)."""

    def __init__(self, runs: Sequence[ReadRun], lined: LinedFiles) -> None:
        pairs = list(zip(lined.keys[0::2], lined.keys[1::2], strict=True))
        members: dict[tuple[str | None, str | None], list[int]] = {}  # pair -> its runs' files
        if len(pairs) == len(runs) and pairs.count(pairs[0]) == len(pairs):  # most chunks
            members[pairs[0]] = list(range(0, 2 * len(runs), 2))
            self.group_of = [0] * len(runs)
            self.place_of = list(range(len(runs)))
        else:
            self.group_of, self.place_of = [-1] * len(runs), [-1] * len(runs)
            numbers: dict[tuple[str | None, str | None], int] = {}
            plain = itertools.compress(range(len(runs)), [run.plain for run in runs])
            for run, (index, pair) in zip(plain, enumerate(pairs), strict=True):
                held = members.setdefault(pair, [])
                self.group_of[run] = numbers.setdefault(pair, len(numbers))
                self.place_of[run] = len(held)
                held.append(2 * index)
        # a group that cannot be taken by columns is None: its runs are made one by one
        self.groups = [_group(pair, files, lined) for pair, files in members.items()]

    def text(self, fields: _Fields, at: int, count: int) -> str | None:
        """The text of the subtree of ``count`` runs from ``at``, None unless they are all
        in groups."""
        end = at + count
        number, place = self.group_of[at], self.place_of[at]
        if number < 0 or self.group_of[end - 1] != number:
            return self._mixed_text(fields, at, count)
        group = self.groups[number]
        # the runs of a group are in the order of ``runs``: these are all of it
        if group is None or self.place_of[end - 1] != place + count - 1:
            return self._mixed_text(fields, at, count)
        last = place + count
        kinds = [kind[place:last] for kind in group.kinds]
        if group.letters is not None:
            letters = [group.letters] * count
        else:
            letters = list(map("".join, zip(*kinds, strict=True)))
        used, columns = fields.columns(at, count)
        columns += [cells[place:last] for cells in group.cells]
        return _text_of_columns(group.header, fields.sort_keys[at:end], letters, used, columns)

    def _mixed_text(self, fields: _Fields, at: int, count: int) -> str | None:
        """The text of a subtree whose runs are of several groups (some runs lack a key the
        others have), their cells taken a key at a time from each run's group; None unless
        all its runs are in groups."""
        end = at + count
        numbers = self.group_of[at:end]
        if -1 in numbers:
            return None
        found = [self.groups[number] for number in numbers]
        groups = [group for group in found if group is not None]
        if len(groups) != count:  # a run in a group that is not taken by columns
            return None
        names = set().union(*(group.keys for group in {id(g): g for g in groups}.values()))
        config = sorted(key for part, key in names if part == "config")
        summary = sorted(key for part, key in names if part == "summary")
        places = self.place_of[at:end]
        used, columns = fields.columns(at, count)
        kinds = []
        for name in [*(("config", key) for key in config), *(("summary", k) for k in summary)]:
            cells, letters = [], []
            for group, place in zip(groups, places, strict=True):
                column = group.keys.get(name)
                if column is None:
                    cells.append(_ABSENT[1])
                    letters.append(_ABSENT[0])
                else:
                    cells.append(group.cells[column][place])
                    letters.append(group.kinds[column][place])
            columns.append(cells)
            kinds.append("".join(letters))
        letters = list(map("".join, zip(*kinds, strict=True))) if kinds else [""] * count
        header = _RS.join(config) + _GS + _RS.join(summary)
        return _text_of_columns(header, fields.sort_keys[at:end], letters, used, columns)


def _group(
    pair: tuple[str | None, str | None], files: list[int], lined: LinedFiles
) -> _Group | None:
    """The columns of runs whose config and summary files share their keys (``pair``) and
    are at ``files`` (a config file each, its summary after it) in ``lined``."""
    config, summary = pair
    if config is None or summary is None:
        return None
    header = config[:-1] + _GS + summary[:-1]
    if _key_count(header) is None:  # keys out of order (not expected of the plain form)
        return None
    held = config.count(_RS)
    stride = held + summary.count(_RS) + 2  # a run's values, a "\0" after each file's
    starts = lined.starts
    if files[-1] - files[0] == 2 * (len(files) - 1):  # one after the other: one slice
        values = lined.values[starts[files[0]] : starts[files[0]] + stride * len(files)]
    else:
        runs = (lined.values[starts[file] : starts[file] + stride] for file in files)
        values = list(itertools.chain.from_iterable(runs))
    kinds, cells = [], []
    for i in itertools.chain(range(held), range(held + 1, stride - 1)):
        made = linecells.cells_of(values[i::stride])
        if made is None:
            return None
        kinds.append(made[0])
        cells.append(made[1])
    one = all(kind.count(kind[0]) == len(kind) for kind in kinds)
    names = [("config", key) for key in _split(config[:-1])]
    names += [("summary", key) for key in _split(summary[:-1])]
    keys = {name: column for column, name in enumerate(names)}
    return _Group(header, keys, kinds, cells, "".join([k[0] for k in kinds]) if one else None)


class _Fields:
    """The cells of ``_FIELDS`` of runs read from git, per run (``sound``: no text holds a
    separator): the start time's and the rest's (code commit, meta fields) made once per
    distinct rest of the head (runs differ in their start time and share the rest)."""

    def __init__(self, runs: Sequence[ReadRun]) -> None:
        heads = [run.head for run in runs]
        orders, ids = [head.order for head in heads], [run.id for run in runs]
        projects = [run.project for run in runs]
        self.sort_keys = list(map(_SK.join, zip(orders, projects, ids, strict=True)))
        self.ids, self.projects = _texts_cells(ids), _texts_cells(projects)
        self.created = _created_cells([head.created for head in heads])
        rests: dict[str, int] = {}
        self.rest_of = [rests.setdefault(head.rest, len(rests)) for head in heads]
        made = [_rest_cells(json.loads("{" + rest + "}")) for rest in rests]
        self.used = [used for used, _ in made]
        self.rests = [cells for _, cells in made]
        checked = [*orders, *projects, *ids, *self.ids, *self.projects, *self.created]
        checked += itertools.chain.from_iterable(self.rests)
        self.sound = _SEPARATOR.search("".join(checked)) is None

    def of(self, at: int) -> tuple[str, list[str]]:
        """A run's meta fields' use and its cells of ``_FIELDS``."""
        rest = self.rest_of[at]
        cells = [self.ids[at], self.projects[at], self.created[at], *self.rests[rest]]
        return self.used[rest], cells

    def columns(self, at: int, count: int) -> tuple[list[str], list[list[str]]]:
        """The meta fields' use and the columns of ``_FIELDS`` of ``count`` runs from ``at``."""
        end = at + count
        rest_of = self.rest_of[at:end]
        columns = [self.ids[at:end], self.projects[at:end], self.created[at:end]]
        if rest_of.count(rest_of[0]) == count:  # most subtrees: one rest
            used = [self.used[rest_of[0]]] * count
            columns += [[cell] * count for cell in self.rests[rest_of[0]]]
        else:
            used = [self.used[rest] for rest in rest_of]
            columns += map(list, zip(*(self.rests[rest] for rest in rest_of), strict=True))
        return used, columns


def _texts_cells(texts: list[str]) -> list[str]:
    """The cells of strings: themselves, when all are printable."""
    return texts if "".join(texts).isprintable() else cell_texts(texts)


def _created_cells(created: list[str]) -> list[str]:
    """The cells of start times from their JSON texts: strings without escapes (all of them,
    mostly) cut as they are."""
    if "\\" not in "".join(created) and [text[:1] for text in created].count('"') == len(created):
        # no line end in them: one replace over them all
        cells = "\n".join([text[1:-1][:19] for text in created]).replace("T", " ").split("\n")
        if "".join(cells).isprintable():
            return cells
    values = [json.loads(text) for text in created]
    return cell_texts([_short_time(value) if type(value) is str else value for value in values])


def _runs_made(
    subtree: Sequence[ReadRun], lined: LinedFiles, file: int, fields: _Fields, at: int
) -> list[_LinedRun | RunCells | None]:
    """A subtree's runs' cells, one by one: from their files' lines (``lined`` from
    ``file``, two a run in the plain form) where ``linecells`` read them, else from their
    decoded files."""
    made: list[_LinedRun | RunCells | None] = []
    files = iter(lined.files(file, file + 2 * sum(run.plain for run in subtree), _RS))
    for place, run in enumerate(subtree, at):
        config = summary = None
        if run.plain:
            config, summary = next(files), next(files)
        if config is None or summary is None or not fields.sound:
            made.append(_decoded_cells(run))
        else:
            used, cells = fields.of(place)
            made.append(_LinedRun(fields.sort_keys[place], used, cells, config, summary))
    return made


def _decoded_cells(run: ReadRun) -> RunCells | None:
    """A run's cells from its decoded files; None if it makes none, or if a file in the plain
    form has keys flatjson leaves to the loader (its listing row tells what they are)."""
    config, summary = run.config, run.summary
    if run.plain:
        fast = [fast_json(text) if text else "{}" for text in (config, summary)]
        if fast[0] is None or fast[1] is None:
            return None
        config, summary = fast[0], fast[1]
    row = json.loads("{" + run.head.members() + "}")
    row.update(project=run.project, id=run.id, config=json.loads(config))
    row["summary"] = json.loads(summary)
    return run_cells(row, run.head.order)


def _subtree_text_of_made(made: Sequence[RunCells | _LinedRun | None]) -> str | None:
    """A subtree's text from its runs' cells; those read from lines, when they share their
    keys, put together as they are."""
    if not made:
        return ""
    headers = {run.header() for run in made if type(run) is _LinedRun}
    lined_only = all(type(run) is _LinedRun for run in made)
    # a header whose keys are out of order (not expected of files in the plain form): sorted
    if len(headers) == 1 and lined_only and _key_count(next(iter(headers))) is not None:
        lined: Sequence[_LinedRun] = made  # type: ignore[assignment]
        texts = [
            (
                run.sort_key,
                run.config[1] + run.summary[1],
                run.used,
                _RS.join(run.fields) + _RS + run.config[2] + run.summary[2],
            )
            for run in lined
        ]
        return _joined(headers.pop(), texts)
    cells = [run.run_cells() if type(run) is _LinedRun else run for run in made]
    if None in cells:
        return None
    return subtree_text(cells)  # type: ignore[arg-type]


def _split(keys: str) -> list[str]:
    return keys.split(_RS) if keys else []


def _columns(cells: Sequence[str]) -> list[tuple[str, ...]]:
    """The columns of runs' cells texts (each cell followed by _RS)."""
    return list(zip(*(text.split(_RS) for text in cells), strict=True))[:-1]


def _figures(
    letters: Sequence[str], columns: Sequence[Sequence[str]]
) -> tuple[list[int], list[str]]:
    """Of runs of one header, their ``letters`` and every column of their cells (fields, then
    keys): the widest cell of each column, and per column the cell every run has (after
    _FIELD_MARK for a field, the letter for a key; ``_ABSENT``'s if none has the key), else
    ''."""
    same = [column.count(column[0]) == len(column) for column in columns]
    widths = [len(c[0]) if one else max(map(len, c)) for c, one in zip(columns, same, strict=True)]
    firsts = [
        _FIELD_MARK + column[0] if one else ""
        for column, one in zip(columns[: len(_FIELDS)], same, strict=False)
    ]
    keys = zip(columns[len(_FIELDS) :], same[len(_FIELDS) :], strict=True)
    if letters.count(letters[0]) == len(letters):  # most subtrees: each key of one type
        firsts += [
            kind + column[0] if one else ""
            for (column, one), kind in zip(keys, letters[0], strict=True)
        ]
    else:
        for (column, one), kind in zip(keys, zip(*letters, strict=True), strict=True):
            letter = kind[0]
            firsts.append(letter + column[0] if one and kind.count(letter) == len(kind) else "")
    return widths, firsts


# A subtree's text as parsed: its header, per run its four texts one after another, its
# figures (widest cells, first cells).
_Parsed = tuple[str, list[str], list[int], tuple[str, ...]]


def _parse(text: str) -> _Parsed | None:
    """A subtree's text, None if it is not one as ``subtree_text`` writes it (a cache row's
    digest catches damage; this, a text of another shape)."""
    parts = text.split(_US)
    if len(parts) < 2:
        return None
    header, figures, flat = parts[0], parts[1], parts[2:]
    keys = _key_count(header)
    widths_text, _, firsts_text = figures.partition(_GS)
    firsts = _firsts(firsts_text, keys)
    try:
        widths = list(map(int, widths_text.split(_RS)))
    except ValueError:
        return None
    if (
        keys is None
        or not flat
        or len(flat) % _PER_RUN
        or len(widths) != len(_FIELDS) + keys
        or firsts is None
        or not set(map(len, flat[1::4])) <= {keys}
        or not set(map(len, flat[2::4])) <= {len(query.META_FIELDS)}
        or not set(map(str.count, flat[3::4], itertools.repeat(_RS))) <= {firsts.count("")}
    ):
        return None
    return header, flat, widths, firsts


@functools.lru_cache(maxsize=1024)
def _key_count(header: str) -> int | None:
    """The keys a header names; None if it is no header (its keys must be sorted: a line's
    cells are put in in the order of its columns)."""
    parts = header.split(_GS)
    if len(parts) != 2:
        return None
    config, summary = map(_split, parts)
    if any(keys != sorted(set(keys)) for keys in (config, summary)):
        return None
    return len(config) + len(summary)


@functools.lru_cache(maxsize=1024)
def _firsts(text: str, keys: int | None) -> tuple[str, ...] | None:
    """A figures' cells every run has, of ``keys`` keys; None if ``text`` is not such."""
    firsts = tuple(text.split(_RS))
    if keys is None or len(firsts) != len(_FIELDS) + keys:
        return None
    fields, held = firsts[: len(_FIELDS)], firsts[len(_FIELDS) :]
    if all(not f or f[0] == _FIELD_MARK for f in fields) and all(
        not f or f[0] in _KEY_MARKS or f == _ABSENT[0] for f in held
    ):
        return firsts
    return None


class _Key:
    """What the runs measured tell of one config or summary key: its letter and cell if every
    run has the same ('' once one differs; ``_ABSENT``'s while none has it), the runs of the
    subtrees that name it, its widest cell."""

    __slots__ = ("count", "first", "width")

    def __init__(self, first: str, count: int, width: int) -> None:
        self.first, self.count, self.width = first, count, width


class _Subtree(NamedTuple):
    """A subtree's runs as added: its header, its first run and run count, its figures."""

    header: str
    start: int
    size: int
    widths: list[int]
    firsts: tuple[str, ...]


class Runs:
    """The runs of a table as their cached texts (per run its sort key, subtree, type letters,
    meta fields' use and the cells where its subtree's runs differ), then, once measured,
    every column: the keys, which differ, the meta fields in use, the widest cell of each."""

    def __init__(self) -> None:
        self.sort_keys: list[str] = []
        self.subtree_of: list[int] = []  # per run, its subtree's place in ``subtrees``
        self.letters: list[str] = []
        self.used: list[str] = []
        self.cells: list[str] = []
        self.subtrees: list[_Subtree] = []
        self._headers: dict[str, str] = {}
        self._names: dict[str, list[tuple[str, str]]] = {}  # header -> its keys
        self.keys: dict[tuple[str, str], _Key] = {}  # ("config"|"summary", key)
        self.field_widths = [0] * len(_FIELDS)
        self.meta_used = _UNUSED
        self.count = 0  # the runs measured

    def add_text(self, text: str) -> bool:
        """Add the runs of a subtree's cached text; False (nothing added) if it is not such
        a text."""
        if not text:
            return True  # a subtree without runs
        parsed = _parse(text)
        if parsed is None:
            return False
        header, flat, widths, firsts = parsed
        header = self._headers.setdefault(header, header)  # its columns are found by it
        count = len(flat) // _PER_RUN
        self.subtree_of += itertools.repeat(len(self.subtrees), count)
        self.subtrees.append(_Subtree(header, len(self.cells), count, widths, firsts))
        self.sort_keys += flat[0::4]
        self.letters += flat[1::4]
        self.used += flat[2::4]
        self.cells += flat[3::4]
        return True

    def measure(self, indices: Sequence[int] | None = None) -> None:
        """Measure the runs at ``indices`` (None: all of them). A subtree whose runs are all
        measured is measured by its figures; of the others, the cells where their runs
        differ are measured run by run."""
        self.count = len(self.cells) if indices is None else len(indices)
        used = set(self.used) if indices is None else {self.used[i] for i in indices}
        for mask in used:
            self.meta_used = "".join(map(max, self.meta_used, mask))
        if indices is None:
            for subtree in self.subtrees:
                self._merge(subtree.header, subtree.size, subtree.widths, subtree.firsts)
            return
        held: dict[int, list[int]] = {}  # subtree -> its runs measured
        for i in indices:
            held.setdefault(self.subtree_of[i], []).append(i)
        for at, runs in held.items():
            subtree = self.subtrees[at]
            if len(runs) == subtree.size:
                self._merge(subtree.header, subtree.size, subtree.widths, subtree.firsts)
            else:
                self._merge(subtree.header, len(runs), *self._figures_of(subtree, runs))

    def _figures_of(self, subtree: _Subtree, runs: list[int]) -> tuple[list[int], list[str]]:
        """The figures (``_figures``) of some of a subtree's runs: its own where they differ
        not, else from their cells."""
        widths, firsts = list(subtree.widths), list(subtree.firsts)
        differing = [i for i, first in enumerate(firsts) if not first]
        columns = _columns([self.cells[i] for i in runs])
        letters = [self.letters[i] for i in runs]
        for column, got in zip(differing, _figures_kept(letters, columns, differing), strict=True):
            widths[column], firsts[column] = got
        return widths, firsts

    def _merge(self, header: str, count: int, widths: list[int], firsts: Sequence[str]) -> None:
        """Add what ``count`` runs of ``header`` tell (``_figures``)."""
        self.field_widths = list(map(max, self.field_widths, widths))
        for name, width, first in zip(
            self._keys_of(header), widths[len(_FIELDS) :], firsts[len(_FIELDS) :], strict=True
        ):
            key = self.keys.get(name)
            if key is None:
                self.keys[name] = _Key(first, count, width)
                continue
            key.count += count
            if width > key.width:
                key.width = width
            if first != key.first:
                key.first = ""

    def _keys_of(self, header: str) -> list[tuple[str, str]]:
        """The keys a header names, as ``keys`` names them (once a header, not a subtree)."""
        names = self._names.get(header)
        if names is None:
            config, summary = header.split(_GS)
            names = [("config", k) for k in _split(config)]
            names += [("summary", k) for k in _split(summary)]
            self._names[header] = names
        return names

    def columns(self) -> list[str]:
        """``query.default_columns`` (only what differs) of the runs measured."""
        runs = self.count
        pick = {
            part: sorted(
                k
                for (p, k), key in self.keys.items()
                if p == part
                and key.first != _ABSENT[0]  # no run measured has it
                and (runs < 2 or not key.first or key.count != runs)
            )
            for part in ("config", "summary")
        }
        return [
            *query.DEFAULT_FIELDS,
            *(
                name
                for name, use in zip(query.META_FIELDS, self.meta_used, strict=True)
                if use == "1"
            ),
            *(query.config_column(k) for k in pick["config"]),
            *(query.summary_column(k) for k in pick["summary"]),
        ]

    def width(self, column: str) -> int:
        if column in _FIELDS:
            return self.field_widths[_FIELDS.index(column)]
        if column.startswith(query.SUMMARY):
            return self.keys[("summary", column[len(query.SUMMARY) :])].width
        return self.keys[("config", column.removeprefix(query.CONFIG))].width

    def chunks(
        self, indices: Sequence[int] | None, color: bool, per_chunk: int = 1000
    ) -> Iterator[str]:
        """The table of the runs at ``indices`` (None: all, by sort key), ``per_chunk`` lines
        a piece."""
        if indices is None:
            indices = sorted(range(len(self.sort_keys)), key=self.sort_keys.__getitem__)
        headers = self.columns()
        widths = [max(len(h), self.width(h)) for h in headers]
        yield paint(line_pattern(widths).format(*headers).rstrip(), BOLD, color) + "\n"
        lines: dict[int, str] = {}  # subtree -> its line's format
        places: dict[str, list[int]] = {}  # header -> per column its place in a run's cells
        # subtrees sharing their header and their runs' shared cells share a format: most do
        made: dict[tuple[str, tuple[str, ...]], str] = {}
        # a piece is one format (printf's: faster than str.format's) of its lines' formats
        # joined, over its runs' cells joined
        for start in range(0, len(indices), per_chunk):
            part = indices[start : start + per_chunk]
            at = list(map(self.subtree_of.__getitem__, part))
            for subtree in set(at) - lines.keys():
                header, _, _, _, firsts = self.subtrees[subtree]
                key = (header, firsts)
                if key not in made:
                    if header not in places:
                        places[header] = _places(headers, header)
                    made[key] = _line_format(firsts, places[header], widths)
                lines[subtree] = made[key]
            pattern = "".join(map(lines.__getitem__, at))
            text = pattern % tuple(_RS.join(map(self.cells.__getitem__, part)).split(_RS))
            # a line's last cells empty: the spaces before them go, as str.rstrip takes them
            yield "\n".join(map(str.rstrip, text.split("\n"))) if " \n" in text else text


def _figures_kept(
    letters: Sequence[str], columns: Sequence[Sequence[str]], places: Sequence[int]
) -> Iterator[tuple[int, str]]:
    """Per column of runs' kept cells (at ``places`` among the subtree's columns), its widest
    cell and the cell every run has (as ``_figures`` writes it), else ''."""
    for place, column in zip(places, columns, strict=True):
        cell = column[0]
        same = column.count(cell) == len(column)
        if place < len(_FIELDS):
            yield max(map(len, column)), _FIELD_MARK + cell if same else ""
            continue
        kind = [text[place - len(_FIELDS)] for text in letters]
        same = same and kind.count(kind[0]) == len(kind)
        yield max(map(len, column)), kind[0] + cell if same else ""


def _places(headers: Sequence[str], header: str) -> list[int]:
    """Per column of ``headers``, its place among the columns of runs of ``header`` (-1: a
    key they lack)."""
    config, summary = (_split(part) for part in header.split(_GS))
    at = {name: i for i, name in enumerate(_FIELDS)}
    at.update({query.config_column(k): len(_FIELDS) + i for i, k in enumerate(config)})
    at.update(
        {query.summary_column(k): len(_FIELDS) + len(config) + i for i, k in enumerate(summary)}
    )
    return [at.get(name, -1) for name in headers]


def _line_format(firsts: Sequence[str], places: Sequence[int], widths: Sequence[int]) -> str:
    """The format of a line of a subtree's run (ending in a newline): the cells its runs share
    written in, a field per cell they differ in, taking the run's cells in their order (those
    not shown written as nothing, as is the empty one after them), without the spaces the
    line's end would be stripped of."""
    # The columns shown are in the order of a run's cells (a header's keys are sorted), so
    # they take theirs in turn; a field writing nothing takes each cell not shown.
    shown = set(places)
    hidden = [i for i, first in enumerate(firsts) if not first and i not in shown]
    skips = []  # per column, the cells not shown before it
    before = 0
    for place in places:
        if place >= 0:
            before = bisect.bisect(hidden, place)
        skips.append(before)
    texts: list[str] = []
    last = -1  # the last column with a field
    for column, place in enumerate(places):
        if place >= 0 and not firsts[place]:
            texts.append(f"%-{widths[column]}s")
            last = column
        else:
            cell = firsts[place][1:] if place >= 0 else ""
            texts.append(cell.ljust(widths[column]).replace("%", "%%"))
    rest = "  ".join(texts[last + 1 :]).rstrip()  # after the last field: written as it is
    if last >= 0 and not rest:
        texts[last] = "%s"  # the line's end: not padded
    fields = [_SKIP * (skips[c] - (skips[c - 1] if c else 0)) + t for c, t in enumerate(texts)]
    written = "  ".join(fields[: last + 1])
    if rest:
        written += "  " + rest if written else rest
    return written + _SKIP * (len(hidden) - (skips[last] if last >= 0 else 0) + 1) + "\n"


_SKIP = "%.0s"  # a field writing nothing


def table(
    listing: RunListing, sort_keys: Sequence[str] | None, color: bool
) -> Iterator[str] | None:
    """The default table of the runs of ``listing`` whose ``sort_key`` is in ``sort_keys``, in
    that order (None: every run, oldest first, without reading the runs' listing rows); None
    when it must be made from the decoded rows (no run, or a run ``run_cells`` cannot show).
    The texts of subtrees the cache lacks are made and cached: for every run, from their
    files read from git for the texts alone; else from their runs' rows."""
    runs = Runs()
    listing.also_cache = (_SUFFIX, subtree_texts)
    missed = _add_cached(listing, runs, list(listing.subtree_keys()))
    if missed and sort_keys is None:
        # every run: the texts alone are read from git, all at once (no listing row is made
        # or held); those of a forked copy's half, from the cache it wrote them to
        made = listing.read_also(missed)
        missed = [path for path in missed if path not in made or not runs.add_text(made[path])]
        del made  # its texts, split into the runs' own, are not kept twice
        if missed:
            missed = _add_cached(listing, runs, missed)
    # The subtrees left: those the listing reads from git get their texts made as they are
    # converted (by its forked copy too); the others' are made here, from their cached rows.
    # A batch at a time, so the rows read are never all held at once.
    for batch in listing.batches(missed):
        read = listing.rows_of(batch)
        lacking = _add_cached(listing, runs, batch)
        if lacking and not _add_made(listing, runs, lacking, read):
            return None
    if not runs.cells:
        return None
    indices = None
    if sort_keys is not None:
        at = dict(zip(runs.sort_keys, range(len(runs.sort_keys)), strict=True))
        indices = [at.get(key, -1) for key in sort_keys]
        if -1 in indices or not indices:
            return None  # a run with no texts: not expected, but never a wrong table
    runs.measure(indices)
    return runs.chunks(indices, color)


def _add_cached(listing: RunListing, runs: Runs, paths: Sequence[str]) -> list[str]:
    """Add the runs of the subtrees ``paths`` whose texts the cache has; the others' paths."""
    keys = listing.subtree_keys()
    wanted = {keys[path] + _SUFFIX: path for path in paths}
    for key, text in listing.cache.subtree_texts(wanted):
        if runs.add_text(text):  # else not a text this module wrote: made again
            del wanted[key]
    return list(wanted.values())


def _add_made(
    listing: RunListing, runs: Runs, paths: Sequence[str], rows: Sequence[ListedRow]
) -> bool:
    """Make the texts of the subtrees ``paths`` from their ``rows`` (among others), add their
    runs and cache them; False if a run makes none."""
    members: dict[str, list[ListedRow]] = {path: [] for path in paths}
    for row in rows:
        held = members.get(_subtree(row.project, row.id))
        if held is not None:
            held.append(row)
    keys = listing.subtree_keys()
    texts = {}
    for path, held in members.items():
        text = subtree_text_of(held)
        if text is None:
            return False
        texts[keys[path] + _SUFFIX] = text
        runs.add_text(text)
    listing.cache.add_subtrees(texts)
    return True


def _subtree(project: str, run_id: str) -> str:
    """The cached subtree holding a run (``project/a/b/c``, as ``listing`` caches them)."""
    from gitcfg.listing import CACHE_LEVELS

    return "/".join((project, *RunRef(project, run_id).shards[:CACHE_LEVELS]))
