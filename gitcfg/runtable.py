"""``gitcfg runs`` over a listing's rows, holding only the columns each step needs.

A listing keeps every run as JSON texts (``gitcfg.listing.ListedRow``). Filtering, sorting and
grouping decode, per run, only the columns they name into a small row of the shape
``gitcfg.query`` works on (``slim``), so the answers are ``query``'s own; the JSON output pastes
the texts unparsed; the "only what differs" columns come from one pass that keeps, per key,
its first value and whether another differs (``KeyStats``), never the runs' values.

A ``meta:KEY`` column is read from the row's meta.yaml text (``ListedRow.meta``), which a
listing keeps only when asked to: the caller opens it so when such a column is named.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import TYPE_CHECKING, Any

from gitcfg import query
from gitcfg.diff import MISSING, same_value
from gitcfg.errors import UnknownColumnError

if TYPE_CHECKING:
    from gitcfg.listing import ListedRow
    from gitcfg.override import Condition

Row = dict[str, Any]
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES = frozenset(query.ALL_FIELDS) - {"project", "id"}


_KEYED = ("config", "summary", "meta")  # the parts of a run that are keys -> values


def _part(column: str) -> tuple[str, str | None]:
    """Which part of a run a column lives in — ``("fields"|"config"|"summary"|"meta"|"",
    key)``."""
    if column.startswith(query.NAMESPACES):
        return query.split_namespace(column)
    if column in _FIELD_NAMES:
        return "fields", None
    if column in ("project", "id"):
        return "", None
    return "config", column


class Slicer:
    """Decodes rows into ``query`` rows holding only ``columns`` (``None`` keys: all of a part)."""

    def __init__(self, columns: Iterable[str], *, whole: Iterable[str] = ()) -> None:
        self.fields = False
        self.keys: dict[str, set[str] | None] = {part: set() for part in _KEYED}
        for column in columns:
            part, key = _part(column)
            if part == "fields":
                self.fields = True
            elif part:
                wanted = self.keys[part]
                if wanted is not None and key is not None:
                    wanted.add(key)
        for part in whole:
            self.keys[part] = None

    def __call__(self, row: ListedRow) -> Row:
        full: Row = json.loads(row.text)
        slim = full if self.fields else {"project": full["project"], "id": full["id"]}
        for part in ("config", "summary"):
            wanted = self.keys[part]
            if wanted is not None:
                values = full[part]
                slim[part] = {k: values[k] for k in wanted if k in values}
            else:
                slim[part] = full[part]
        wanted = self.keys["meta"]
        if wanted:  # only then: decoding every run's meta.yaml is not free
            meta = _meta(row)
            slim["meta"] = {k: meta[k] for k in wanted if k in meta}
        return slim


def _meta(row: ListedRow) -> dict[str, Any]:
    """The row's meta.yaml, decoded."""
    if not row.meta:  # a bug, never a run without meta.yaml (that one's text is "{}")
        raise ValueError(f"the listing of run {row.ref} was opened without its meta.yaml")
    decoded: dict[str, Any] = json.loads(row.meta)
    return decoded


def where(rows: Sequence[ListedRow], conditions: Sequence[Condition]) -> list[ListedRow]:
    """The rows meeting every condition (``query.where``'s answer)."""
    if not conditions:
        return list(rows)
    slim = Slicer(c.key for c in conditions)
    tests = [(query.getter(c.key), c.test) for c in conditions]
    kept = []
    for row in rows:
        small = slim(row)
        if all(test(get(small)) for get, test in tests):
            kept.append(row)
    return kept


def sort(rows: Sequence[ListedRow], column: str, *, descending: bool) -> list[ListedRow]:
    """``rows`` sorted by ``column`` as ``query.sort_rows`` sorts (absent last either way, so
    a column no row has keeps their order)."""
    slim = Slicer([column])
    part = _part(column)[0]
    member = part if part in _KEYED else column  # what its getter reads
    smalls = []
    for index, row in enumerate(rows):
        # only that, and where the row was: 100,000 of these are held at once
        smalls.append({member: slim(row)[member], "\0index": index})
    return [
        rows[small["\0index"]] for small in query.sort_rows(smalls, column, descending=descending)
    ]


class KeyStats:
    """What one pass over the rows learns about their columns: every config and summary key,
    which of them differ among the rows, and which meta fields (name, group, ...) are used."""

    def __init__(self) -> None:
        self.rows = 0
        # key -> [first value, rows holding the key, differs]
        self.seen: dict[str, dict[str, list[Any]]] = {"config": {}, "summary": {}}
        self.meta_used: set[str] = set()
        self.meta_keys: set[str] = set()  # of meta.yaml, when ``key_stats`` is asked for them

    def add(self, row: Row) -> None:
        self.rows += 1
        for name in query.META_FIELDS:
            if row.get(name) is not None:
                self.meta_used.add(name)
        for part in ("config", "summary"):
            seen = self.seen[part]
            for key, item in row[part].items():
                state = seen.get(key)
                if state is None:
                    seen[key] = [item, 1, False]
                    continue
                state[1] += 1
                if state[2]:
                    continue
                first = state[0]
                # most keys hold one value in every run: a scalar of the same type that
                # compares equal is the same value (same_value's answer, without the call)
                cls = type(item)
                if cls is type(first) and cls in _SCALARS and item == first:
                    continue
                if not same_value(item, first):
                    state[2] = True

    def keys(self, part: str) -> list[str]:
        return sorted(self.seen[part])

    def differing(self, part: str) -> list[str]:
        """``query.differing_keys``: keys whose value (absent counts) is not the same in all."""
        if self.rows < 2:
            return self.keys(part)
        return sorted(
            k for k, (_, n, differs) in self.seen[part].items() if differs or n != self.rows
        )

    def default_columns(self, *, only_differing: bool) -> list[str]:
        """``query.default_columns`` of the rows seen."""
        pick = self.differing if only_differing else self.keys
        fields = query.DEFAULT_FIELDS if only_differing else query.FIELDS
        return [
            *fields,
            *(name for name in query.META_FIELDS if name in self.meta_used),
            *(query.config_column(k) for k in pick("config")),
            *(query.summary_column(k) for k in pick("summary")),
        ]

    def check(self, columns: Sequence[str]) -> None:
        """``query.check_columns`` against the keys seen."""
        query.check_known(columns, self.seen["config"], self.seen["summary"], self.meta_keys)


def key_stats(rows: Iterable[ListedRow], *, meta: bool = False) -> KeyStats:
    """One pass over ``rows``, each decoded and dropped in turn; with ``meta``, the keys of
    their meta.yaml are gathered too."""
    stats = KeyStats()
    for row in rows:
        stats.add(row.row())
        if meta:
            stats.meta_keys.update(_meta(row))
    return stats


def absent_columns(
    rows: Sequence[ListedRow], columns: Sequence[str], smalls: Iterable[Row] | None = None
) -> list[UnknownColumnError]:
    """For each column of ``columns`` no row has, the ``UnknownColumnError`` that names it and
    what there is; [] when every column is there (or there are no rows).

    ``smalls`` (the rows decoded with those columns) answer it if given; else rows are decoded,
    with those columns only, until each column has been seen (most often in the first row),
    none of them kept. Only a column no row has takes a pass over every row, to name what
    there is."""
    unseen = [
        (c, query.getter(c))
        for c in columns
        if c not in query.ALL_FIELDS or c.startswith(query.NAMESPACES)
    ]
    if not unseen or not rows:
        return []
    for small in map(Slicer(columns), rows) if smalls is None else smalls:
        unseen = [(c, get) for c, get in unseen if get(small) is MISSING]
        if not unseen:
            return []
    stats = key_stats(rows, meta=any(c.startswith(query.META) for c, _ in unseen))
    absent = []
    for column in dict.fromkeys(c for c, _ in unseen):
        try:
            stats.check([column])
        except UnknownColumnError as error:
            absent.append(error)
    return absent


def json_chunks(
    rows: Sequence[ListedRow], per_chunk: int = 1000, meta_keys: Sequence[str] = ()
) -> Iterator[str]:
    """``render.json_list_chunks`` of the rows, from their texts (those holding a NaN or an
    infinity written as ``render.strict_json`` writes them); with ``meta_keys``, each object
    ends with ``"meta"``: those of its meta.yaml keys it has."""
    from gitcfg.render import strict_text

    if not rows:
        yield "[]\n"
        return
    for start in range(0, len(rows), per_chunk):
        page = rows[start : start + per_chunk]
        if meta_keys:
            texts = [_with_meta(row, meta_keys) for row in page]
        else:
            texts = [row.text for row in page]
        body = ",\n".join(texts)
        # rare: only then row by row (a letter is found by memchr, ~5x faster than a word)
        if ("N" in body and "NaN" in body) or ("I" in body and "Infinity" in body):
            body = ",\n".join([strict_text(text) for text in texts])
        end = "\n]\n" if start + per_chunk >= len(rows) else ""
        yield ("[\n" if start == 0 else ",\n") + body + end


def _with_meta(row: ListedRow, keys: Sequence[str]) -> str:
    """The row's text with a last member ``"meta"``: its meta.yaml's ``keys`` that it has."""
    meta = _meta(row)
    picked = {k: meta[k] for k in keys if k in meta}
    return f'{row.text[:-1]}, "meta": {json.dumps(picked)}}}'


def full_rows(
    rows: Sequence[ListedRow], per_page: int = 1000, meta_keys: Sequence[str] = ()
) -> Iterator[list[Row]]:
    """The rows decoded whole (``query.run_row``'s shape), a page at a time; with
    ``meta_keys``, each with ``"meta"``: those of its meta.yaml keys it has."""
    for start in range(0, len(rows), per_page):
        page = rows[start : start + per_page]
        if meta_keys:
            yield [json.loads(_with_meta(row, meta_keys)) for row in page]
        else:
            yield [row.row() for row in page]


def cells(rows: Iterable[ListedRow], columns: Sequence[str]) -> Iterator[tuple[Row, list[Any]]]:
    """Each row (decoded with ``columns`` only) and its values in ``columns``."""
    slim = Slicer(columns)
    blocks = _blocks(columns)
    for row in rows:
        small = slim(row)
        values: list[Any] = []
        for part, keys, getters in blocks:
            if part:  # a run of config, summary or meta keys: one C-level pass of dict.get
                values.extend(map(small[part].get, keys, repeat(MISSING)))
            else:
                values.extend([get(small) for get in getters])
        yield small, values


def _blocks(columns: Sequence[str]) -> list[tuple[str, list[str], list[Any]]]:
    """``columns`` as runs of neighbours read alike: ``(part, keys, [])`` for config,
    summary or meta keys (``query.getter``'s answer is ``row[part].get(key, MISSING)``), else
    ``("", [], getters)``."""
    blocks: list[tuple[str, list[str], list[Any]]] = []
    for column in columns:
        part, key = _part(column)
        if part not in _KEYED or key is None:
            part, key = "", None
        if not blocks or blocks[-1][0] != part:
            blocks.append((part, [], []))
        if part:
            assert key is not None
            blocks[-1][1].append(key)
        else:
            blocks[-1][2].append(query.getter(column))
    return blocks


def grouped_rows(
    rows: Iterable[ListedRow], column: str, columns: Sequence[str], metrics: Sequence[str] | None
) -> list[Row]:
    """Rows holding only ``column``, ``columns`` and the summary ``metrics`` (every summary key
    when None), for ``query.group_stats``."""
    whole = ("summary",) if metrics is None else ()
    slim = Slicer([column, *columns, *(query.SUMMARY + m for m in metrics or ())], whole=whole)
    return [slim(row) for row in rows]
