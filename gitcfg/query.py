"""Questions asked of a list of runs: filter, which keys differ, group, sort, pick columns.

Pure functions over run rows, the JSON shape ``gitcfg runs --format json`` prints::

    {"project": ..., "id": ..., "created": ..., "code_commit": ..., "dirty": ..., "config": {...}}

A column name is one of those fields, else a flat config key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from gitcfg.diff import MISSING, same_value
from gitcfg.errors import UnknownColumnError

if TYPE_CHECKING:
    from gitcfg.override import Condition
    from gitcfg.store import RunRecord

Row = dict[str, Any]

FIELDS = ("project", "id", "created", "code_commit", "dirty")
# The table's fixed columns when --columns is not given; config keys that differ follow.
DEFAULT_FIELDS = ("id", "project", "created", "code_commit")


def run_row(record: RunRecord) -> Row:
    """The JSON shape of one run, from its stored config and ``meta.yaml``."""
    meta = record.meta
    return {
        "project": record.ref.project,
        "id": record.ref.id,
        "created": meta.get("started"),
        "code_commit": meta.get("code_commit"),
        "dirty": bool(meta.get("dirty", False)),
        "config": record.config,
    }


def where(rows: Iterable[Row], conditions: Sequence[Condition]) -> list[Row]:
    """The rows whose config meets every condition (the conditions are ANDed)."""
    if not conditions:
        return list(rows)
    return [row for row in rows if all(c.matches(row["config"]) for c in conditions)]


def value(row: Row, column: str) -> Any:
    """A row's value in ``column``: a field, else a config key; ``MISSING`` when absent."""
    if column in FIELDS:
        return row[column]
    return row["config"].get(column, MISSING)


def _identity(item: Any) -> str:
    """A text that two values share only when they are equal and of the same type."""
    if item is MISSING:
        return "\0missing"
    # json tells 1, 1.0 and true apart; nan is written as NaN and so equals itself
    return json.dumps(item, sort_keys=True, default=repr)


def config_keys(rows: Iterable[Row]) -> list[str]:
    """Every config key any of the rows has, sorted."""
    keys: set[str] = set()
    for row in rows:
        keys.update(row["config"])
    return sorted(keys)


def differing_keys(rows: Sequence[Row]) -> list[str]:
    """Config keys whose values are not the same in all rows (absent counts as a value), sorted.

    With fewer than two rows nothing can differ, so every key of the row is returned: the
    "only what differs" view of one run is the whole run.
    """
    keys = config_keys(rows)
    if len(rows) < 2:
        return keys
    differ = []
    configs = [row["config"] for row in rows]
    for key in keys:
        first = configs[0].get(key, MISSING)
        if any(not same_value(config.get(key, MISSING), first) for config in configs[1:]):
            differ.append(key)
    return differ


class KeyStats:
    """Config keys of rows seen one at a time: which exist, and which differ among the rows.

    The streaming form of ``config_keys``/``differing_keys``/``check_columns``: it keeps one
    value per key, not the rows.
    """

    def __init__(self) -> None:
        self.rows = 0
        self._first: dict[str, Any] = {}
        self._seen: dict[str, int] = {}
        self._differ: set[str] = set()

    def observe(self, config: dict[str, Any]) -> None:
        self.rows += 1
        first, seen, differ = self._first, self._seen, self._differ
        for key, item in config.items():
            if key in seen:
                seen[key] += 1
                if key not in differ and not same_value(first[key], item):
                    differ.add(key)
            else:
                seen[key] = 1
                first[key] = item

    def keys(self) -> list[str]:
        return sorted(self._seen)

    def differing(self) -> list[str]:
        """As ``differing_keys``: with fewer than two rows, every key."""
        if self.rows < 2:
            return self.keys()
        return sorted(k for k, n in self._seen.items() if n != self.rows or k in self._differ)

    def check(self, columns: Sequence[str]) -> None:
        """As ``check_columns``, for the rows observed."""
        for column in columns:
            if column not in FIELDS and column not in self._seen:
                raise UnknownColumnError(column, [*FIELDS, *self.keys()])


def sort_key(item: Any) -> tuple[int, Any]:
    """The order ``sort_rows`` gives a value (absent values have their own, last, group)."""
    return _order(item)


def check_columns(rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Raise ``UnknownColumnError`` for a column that is neither a field nor a listed run's key."""
    known: set[str] | None = None
    for column in columns:
        if column in FIELDS:
            continue
        if known is None:
            known = set(config_keys(rows))
        if column not in known:
            raise UnknownColumnError(column, [*FIELDS, *sorted(known)])


def _order(item: Any) -> tuple[int, Any]:
    """Sort key that never compares unlike types: numbers, then strings, then the rest."""
    if item is MISSING:
        return (4, "")
    if isinstance(item, bool):
        return (2, str(item).lower())
    if isinstance(item, (int, float)):
        return (0, item) if item == item else (3, "nan")
    if isinstance(item, str):
        return (1, item)
    return (3, _identity(item))


def sort_rows(rows: Iterable[Row], column: str, *, descending: bool = False) -> list[Row]:
    """Rows sorted by ``column``; rows without the column go last either way."""
    present = [row for row in rows if value(row, column) is not MISSING]
    absent = [row for row in rows if value(row, column) is MISSING]
    present.sort(key=lambda row: _order(value(row, column)), reverse=descending)
    return present + absent


def group_counts(rows: Iterable[Row], column: str) -> list[tuple[Any, int]]:
    """``(value, number of rows)`` for each value of ``column``, sorted by value.

    Rows without the column are counted under ``MISSING``, listed last.
    """
    counts: dict[str, list[Any]] = {}
    for row in rows:
        item = value(row, column)
        entry = counts.setdefault(_identity(item), [item, 0])
        entry[1] += 1
    groups = [(item, count) for item, count in counts.values()]
    groups.sort(key=lambda group: _order(group[0]))
    return groups


def table_cells(rows: Iterable[Row], columns: Sequence[str]) -> list[list[Any]]:
    """The values of ``columns`` for each row (``MISSING`` where a row has no such key)."""
    return [[value(row, column) for column in columns] for row in rows]
