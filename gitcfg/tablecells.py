"""The ``gitcfg runs`` table from each run's cell texts, cached beside the listing's rows.

The table shows the fields, the meta fields some run uses, and the config and summary keys
whose values differ among the runs listed, each column as wide as its widest cell. Learning
that by decoding every run's JSON, then decoding it again to write the cells, was most of the
time of a table of 100,000 runs. Instead each run's cells are kept as text, cached per shard
subtree under the subtree's cache key (its path and tree id, like the listing's rows: never
stale), the runs of a subtree that have the same keys together under one header. Which keys
differ, and how wide each column is, is then learned a column at a time over thousands of runs
naming the same keys, by C-level passes; writing a line is picking its cells by position.
Without ``--where`` or ``--sort`` the runs' listing rows are not even read: the cached texts
carry the key the table is sorted by.

A cell is its value as the table writes it, with a letter for the value's type beside it: the
two together tell values apart as ``diff.same_value`` does (1, 1.0, true and '1' differ; nan
equals nan). One difference, on purpose: -0.0 and 0.0 print differently, so here they differ.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitcfg import query
from gitcfg.diff import MISSING
from gitcfg.layout import RunRef
from gitcfg.render import BOLD, cell_texts, line_pattern, paint

if TYPE_CHECKING:
    from gitcfg.listing import ListedRow, RunListing

# A subtree's text: groups apart by _FS, each the runs naming the same keys, its texts apart by
# _US. A group: its header (config keys, _GS, summary keys), its figures (``_chunk_stats``: the
# widest cell of each column, _GS, per key the cell every run has, or ''), then per run four
# texts: its sort key (start time, project, id apart by _SK), the type letters of its values,
# its meta fields' use, its cells (``_FIELDS``, config, summary, then an empty one, for a key a
# run lacks). Cell texts hold no control character (a string holding one is
# written quoted) and keys cannot (``flat.check_key``); what would still hold a separator is
# not made, and the table is then made from the decoded rows.
_FS = "\x1c"  # between groups
_GS = "\x1d"  # between a header's config and summary keys
_RS = "\x1e"  # between keys, and between cells
_US = "\x1f"  # between a group's header and texts
_SK = "\x01"  # in a sort key: below every character of a start time, project or id but NUL
_PER_RUN = 4
_FIELDS = (*query.DEFAULT_FIELDS, *query.META_FIELDS)
# the cache key of a subtree's text: the listing's key and this (a new one if the text's form
# changes, so no version of gitcfg reads another's)
_SUFFIX = "#cells"
_LETTERS = {str: "s", int: "i", float: "f", bool: "b", type(None): "n", list: "l", dict: "d"}
_CHUNK = 2000  # runs measured at once, a column at a time
_BATCH = 1024  # subtrees whose texts are made at once when the cache lacks them
_UNUSED = "0" * len(query.META_FIELDS)
_SEPARATOR = re.compile(f"[\0{_SK}{_FS}{_GS}{_RS}{_US}]")

Row = dict[str, Any]


def table_values(row: Row, values: list[Any], names: Sequence[str]) -> list[Any]:
    """``values`` (a row's, in columns ``names``) with the fields shortened for people: the
    start time to the second, the code commit to 7 digits (-dirty when so)."""
    for i, name in enumerate(names):
        item = values[i]
        if name == "created" and isinstance(item, str):
            values[i] = item[:19].replace("T", " ")
        elif name == "code_commit" and isinstance(item, str):
            values[i] = item[:7] + ("-dirty" if row["dirty"] else "")
    return values


def sort_key(order: str, project: str, run_id: str) -> str:
    """A text that sorts as the listing's rows do (start time, then project and id)."""
    return f"{order}{_SK}{project}{_SK}{run_id}"


def run_texts(row: Row, order: str) -> tuple[str, str] | None:
    """A run's header and its four texts (see ``_FS``) from its decoded row and its listing
    sort order; None if something would hold a separator."""
    config: Mapping[str, Any] = row["config"]
    summary: Mapping[str, Any] = row["summary"]
    values = [*config.values(), *summary.values()]
    letters = "".join([_LETTERS.get(type(x), "o") for x in values])
    if "s" in letters and not "".join([x for x in values if type(x) is str]).isprintable():
        # a string holding an unprintable character is written quoted: never the same text
        # as a string written as it is
        letters = "".join(
            "q" if type(x) is str and not x.isprintable() else letter
            for x, letter in zip(values, letters, strict=True)
        )
    meta = [row.get(name) for name in query.META_FIELDS]
    used = "".join(["0" if item is None else "1" for item in meta])
    fields = [row[name] for name in query.DEFAULT_FIELDS]
    table_values(row, fields, query.DEFAULT_FIELDS)
    fields += [MISSING if item is None else item for item in meta]
    cells = cell_texts([*fields, *values])
    if _SEPARATOR.search("".join([*config, *summary, order, row["project"], row["id"], *cells])):
        return None
    key = sort_key(order, row["project"], row["id"])
    header = _RS.join(config) + _GS + _RS.join(summary)
    return header, _US.join((key, letters, used, _RS.join(cells) + _RS))


def subtree_text(runs: Sequence[tuple[str, str]]) -> str:
    """The cached text of a subtree's runs, each ``run_texts``' answer."""
    groups: dict[str, list[str]] = {}
    for header, texts in runs:
        groups.setdefault(header, []).append(texts)
    parts = []
    for header, members in groups.items():
        flat = _US.join(members).split(_US)
        widths, firsts = _chunk_stats(flat[1::4], flat[3::4])
        stats = _RS.join(map(str, widths)) + _GS + _RS.join(firsts)
        parts.append(_US.join((header, stats, *members)))
    return _FS.join(parts)


def subtree_text_of(rows: Sequence[ListedRow]) -> str | None:
    """The cached text of a subtree's runs from their listing rows; None if a run makes none."""
    made = []
    for row in rows:
        texts = run_texts(json.loads(row.text), row.order)
        if texts is None:
            return None
        made.append(texts)
    return subtree_text(made)


def _key_count(header: str) -> int:
    config, _, summary = header.partition(_GS)
    return len(_split(config)) + len(_split(summary))


def _chunk_stats(letters: Sequence[str], cells: Sequence[str]) -> tuple[list[int], list[str]]:
    """Of runs naming the same keys: the widest cell of each column (fields, then
    keys), and per key its letter and cell if every run has the same, else ''."""
    columns = list(zip(*(text.split(_RS) for text in cells), strict=True))[:-1]
    widths = [max(map(len, column)) for column in columns]
    firsts = []
    for column, kind in zip(columns[len(_FIELDS) :], zip(*letters, strict=True), strict=True):
        cell, letter = column[0], kind[0]
        same = column.count(cell) == len(column) and kind.count(letter) == len(kind)
        firsts.append(letter + cell if same else "")
    return widths, firsts


_Group = tuple[str, list[str], list[int], list[str]]  # header, run texts, figures


def _parse_group(group: str) -> _Group | None:
    """A group of a subtree's text, None if it is not one as ``subtree_text`` writes it (the
    digest of a cache row catches damage; this, a text of another shape)."""
    parts = group.split(_US)
    if len(parts) < 2:
        return None
    header, stats, flat = parts[0], parts[1], parts[2:]
    keys = _key_count(header)
    count = len(flat) // _PER_RUN
    widths_text, _, firsts_text = stats.partition(_GS)
    firsts = firsts_text.split(_RS) if keys else []
    try:
        widths = list(map(int, widths_text.split(_RS)))
    except ValueError:
        return None
    if (
        not count
        or len(flat) % _PER_RUN
        or header.count(_GS) != 1
        or len(widths) != len(_FIELDS) + keys
        or len(firsts) != keys
        or len("".join(flat[1::4])) != count * keys
        or len("".join(flat[2::4])) != count * len(query.META_FIELDS)
        or "".join(flat[3::4]).count(_RS) != count * (len(_FIELDS) + keys)
    ):
        return None
    return header, flat, widths, firsts


class _Key:
    """What the runs tell of one config or summary key: its letter and cell if every run
    holding it has the same ('' once one differs), the runs holding it, its widest cell."""

    __slots__ = ("count", "first", "width")

    def __init__(self, first: str, count: int, width: int) -> None:
        self.first, self.count, self.width = first, count, width


class Runs:
    """The runs of a table as their cached texts (per run its sort key, header, type letters,
    meta fields' use and cells), then, once measured, every column: the keys, which differ,
    the meta fields in use, the widest cell of each. Runs naming the same keys are measured
    together, a column at a time."""

    def __init__(self) -> None:
        self.sort_keys: list[str] = []
        self.headers: list[str] = []  # one object for every run naming the same keys
        self.letters: list[str] = []
        self.used: list[str] = []
        self.cells: list[str] = []
        self._groups: dict[str, list[int]] = {}  # header -> the runs naming its keys
        self._interned: dict[str, str] = {}
        self._names: dict[str, list[tuple[str, str]]] = {}  # header -> its keys
        # per group of a subtree: header, first run, runs, its figures (``_chunk_stats``)
        self._stats: list[tuple[str, int, int, list[int], list[str]]] = []
        self.keys: dict[tuple[str, str], _Key] = {}  # ("config"|"summary", key)
        self.field_widths = [0] * len(_FIELDS)
        self.meta_used = _UNUSED
        self.count = 0  # the runs measured

    def add_text(self, text: str) -> bool:
        """Add the runs of a subtree's cached text; False (nothing added) if it is not such
        a text."""
        groups = []
        for group in text.split(_FS) if text else ():
            parsed = _parse_group(group)
            if parsed is None:
                return False
            groups.append(parsed)
        for header, flat, widths, firsts in groups:
            # one object for a header: each run's picker is found by it
            header = self._interned.setdefault(header, header)
            count = len(flat) // _PER_RUN
            runs = self._groups.setdefault(header, [])
            start = len(self.cells)
            runs += range(start, start + count)
            self._stats.append((header, start, count, widths, firsts))
            self.sort_keys += flat[0::4]
            self.headers += itertools.repeat(header, count)
            self.letters += flat[1::4]
            self.used += flat[2::4]
            self.cells += flat[3::4]
        return True

    def measure(self, order: Sequence[int] | None = None) -> None:
        """Measure the runs at ``order`` (None: all of them). A group of a subtree whose runs
        are all measured is measured by its figures; the other runs one by one."""
        self.count = len(self.cells) if order is None else len(order)
        used = set(self.used) if order is None else {self.used[i] for i in order}
        for mask in used:
            self.meta_used = "".join(map(max, self.meta_used, mask))
        picked = None if order is None else set(order)
        alone: dict[str, list[int]] = {}  # header -> runs measured one by one
        for header, start, count, widths, firsts in self._stats:
            group = range(start, start + count)
            if picked is None or picked.issuperset(group):
                self._merge(header, count, widths, firsts)
            elif not picked.isdisjoint(group):
                alone.setdefault(header, []).extend(i for i in group if i in picked)
        for header, runs in alone.items():
            for start in range(0, len(runs), _CHUNK):
                chunk = runs[start : start + _CHUNK]
                letters = [self.letters[i] for i in chunk]
                stats = _chunk_stats(letters, [self.cells[i] for i in chunk])
                self._merge(header, len(chunk), *stats)

    def _merge(self, header: str, count: int, widths: list[int], firsts: list[str]) -> None:
        """Add what ``count`` runs naming ``header``'s keys tell (``_chunk_stats``)."""
        names = self._names.get(header)
        if names is None:
            config, summary = header.split(_GS)
            names = [("config", k) for k in _split(config)]
            names += [("summary", k) for k in _split(summary)]
            self._names[header] = names
        self.field_widths = list(map(max, self.field_widths, widths))
        for name, width, first in zip(names, widths[len(_FIELDS) :], firsts, strict=True):
            key = self.keys.get(name)
            if key is None:
                self.keys[name] = _Key(first, count, width)
                continue
            key.count += count
            if width > key.width:
                key.width = width
            if first != key.first:
                key.first = ""

    def columns(self) -> list[str]:
        """``query.default_columns`` (only what differs) of the runs measured."""
        runs = self.count
        pick = {
            part: sorted(
                k
                for (p, k), key in self.keys.items()
                if p == part and (runs < 2 or not key.first or key.count != runs)
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
        self, order: Sequence[int] | None, color: bool, per_chunk: int = 1000
    ) -> Iterator[str]:
        """The table of the runs, by index in ``order`` (None: by sort key), ``per_chunk``
        lines a piece."""
        if order is None:
            order = sorted(range(len(self.sort_keys)), key=self.sort_keys.__getitem__)
        headers = self.columns()
        widths = [max(len(h), self.width(h)) for h in headers]
        yield paint(line_pattern(widths).format(*headers).rstrip(), BOLD, color) + "\n"
        pickers = {header: _picker(headers, header) for header in self._groups}
        # a piece is one format call over its lines' cells
        pattern = line_pattern(widths) + "\n"
        for start in range(0, len(order), per_chunk):
            part = order[start : start + per_chunk]
            picked = map(
                operator.call,
                [pickers[self.headers[i]] for i in part],
                [self.cells[i].split(_RS) for i in part],
            )
            text = (pattern * len(part)).format(*itertools.chain.from_iterable(picked))
            # a line's last cells empty: the spaces before them go, as str.rstrip takes them
            yield "\n".join(map(str.rstrip, text.split("\n"))) if " \n" in text else text


def _split(keys: str) -> list[str]:
    return keys.split(_RS) if keys else []


def _picker(headers: Sequence[str], header: str) -> Any:
    """An ``itemgetter`` taking ``headers``' cells from the cells of a run naming the keys of
    ``header`` (a key the run lacks: its last, empty cell)."""
    config, summary = (_split(part) for part in header.split(_GS))
    at = {("config", k): len(_FIELDS) + i for i, k in enumerate(config)}
    at.update({("summary", k): len(_FIELDS) + len(config) + i for i, k in enumerate(summary)})
    empty = len(_FIELDS) + len(config) + len(summary)
    positions = []
    for name in headers:
        if name in _FIELDS:
            positions.append(_FIELDS.index(name))
        elif name.startswith(query.SUMMARY):
            positions.append(at.get(("summary", name[len(query.SUMMARY) :]), empty))
        else:
            positions.append(at.get(("config", name.removeprefix(query.CONFIG)), empty))
    return operator.itemgetter(*positions)


def table(listing: RunListing, order: Sequence[str] | None, color: bool) -> Iterator[str] | None:
    """The default table of the runs of ``listing`` whose ``sort_key`` is in ``order``, in that
    order (None: every run, oldest first, without reading the runs' listing rows); None when
    it must be made from the decoded rows (no run, or a text that would hold a separator).
    The texts of subtrees the cache lacks are made from their runs' rows and cached."""
    runs = Runs()
    missed = _add_cached(listing, runs, list(listing.subtree_keys()))
    # Subtrees the listing reads from git get their texts made as they are converted (by its
    # forked copy too); the others' are made here, from their cached rows. A batch at a time,
    # so the rows read are never all held at once; a batch is big enough for the listing to
    # split a cold read with a forked copy (``listing._FORK_SUBTREES``).
    listing.also_cache = (_SUFFIX, subtree_text_of)
    for start in range(0, len(missed), _BATCH):
        batch = missed[start : start + _BATCH]
        read = listing.rows_of(batch)
        lacking = _add_cached(listing, runs, batch)
        if lacking and not _add_made(listing, runs, lacking, read):
            return None
    if not runs.cells:
        return None
    picked = None
    if order is not None:
        at = dict(zip(runs.sort_keys, range(len(runs.sort_keys)), strict=True))
        picked = [at.get(key, -1) for key in order]
        if -1 in picked or not picked:
            return None  # a run with no texts: not expected, but never a wrong table
    runs.measure(picked)
    return runs.chunks(picked, color)


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
