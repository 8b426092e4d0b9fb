"""Questions asked of a list of runs: filter, which keys differ, group, sort, pick columns.

Pure functions over run rows, the JSON shape ``gitcfg runs --format json`` prints::

    {"project": ..., "id": ..., "created": ..., "code_commit": ..., "dirty": ...,
     "name": ..., "group": ..., "job_type": ..., "tags": ..., "notes": ...,
     "config": {flat keys}, "summary": {flat keys}}

and, when a ``meta:`` column is asked for, ``"meta": {flat keys of meta.yaml}`` (which rows
carry it only then: every run's meta.yaml is more to read than its row).

Column names (``--columns``, ``--where``, ``--sort``, ``--group-by``) follow one grammar that can
never confuse a config key with anything else, whatever characters config keys hold:

- ``summary:KEY`` is a key of the run's summary (its results);
- ``meta:KEY`` is a key of the run's meta.yaml (``exit_status``, ``duration``, ``command``...
  that ``gitcfg run`` records);
- ``config:KEY`` is a config key, always;
- any other name is a field (``FIELDS``, ``META_FIELDS``) if it is one, else a config key.

Only the first ``summary:``/``meta:``/``config:`` is a namespace: the config key ``summary:x``
is ``config:summary:x``, the config key ``id`` is ``config:id``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitcfg.diff import MISSING, same_value
from gitcfg.errors import UnknownColumnError
from gitcfg.starttime import start_order

if TYPE_CHECKING:
    from gitcfg.override import Condition
    from gitcfg.store import RunRecord

Row = dict[str, Any]

FIELDS = ("project", "id", "created", "code_commit", "dirty")
# Fields of meta.yaml a user sets (init(name=..., group=...)); columns like FIELDS.
META_FIELDS = ("name", "group", "job_type", "tags", "notes")
ALL_FIELDS = frozenset((*FIELDS, *META_FIELDS))
# The table's fixed columns when --columns is not given; config keys that differ follow.
DEFAULT_FIELDS = ("id", "project", "created", "code_commit")
SUMMARY = "summary:"
META = "meta:"
CONFIG = "config:"
NAMESPACES = (SUMMARY, META, CONFIG)


def run_row(record: RunRecord) -> Row:
    """The JSON shape of one run, from its stored config, summary and ``meta.yaml``."""
    return {
        "project": record.ref.project,
        "id": record.ref.id,
        **meta_members(record.meta),
        "config": record.config,
        "summary": record.summary,
    }


def meta_members(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The members of a run's row that come from its ``meta.yaml``, in the row's order."""
    return {
        "created": meta.get("started"),
        "code_commit": meta.get("code_commit"),
        "dirty": bool(meta.get("dirty", False)),
        "name": meta.get("name"),
        "group": meta.get("group"),
        "job_type": meta.get("job_type"),
        "tags": meta.get("tags"),
        "notes": meta.get("notes"),
    }


def config_column(key: str) -> str:
    """The column name of config key ``key``: the key itself unless it would read as a field
    or a namespace, then ``config:KEY``."""
    if key in ALL_FIELDS or key.startswith(NAMESPACES):
        return CONFIG + key
    return key


def summary_column(key: str) -> str:
    return SUMMARY + key


def meta_keys(columns: Iterable[str]) -> list[str]:
    """The meta.yaml keys that ``meta:KEY`` columns among ``columns`` name, each once."""
    return list(dict.fromkeys(c[len(META) :] for c in columns if c.startswith(META)))


def where(rows: Iterable[Row], conditions: Sequence[Condition]) -> list[Row]:
    """The rows whose columns meet every condition (the conditions are ANDed)."""
    if not conditions:
        return list(rows)
    tests = [(getter(c.key), c.test) for c in conditions]
    return [row for row in rows if all(test(get(row)) for get, test in tests)]


def getter(column: str) -> Callable[[Row], Any]:
    """A function giving a row's value in ``column`` (see the module docstring), ``MISSING``
    when absent; the name is parsed once, not once per row."""
    if column.startswith(NAMESPACES):
        part, key = split_namespace(column)
        # a row decoded without its meta.yaml fails here, not as a silently missing value
        return lambda row: row[part].get(key, MISSING)
    if column in META_FIELDS:
        return lambda row: MISSING if row.get(column) is None else row[column]
    if column in FIELDS:
        return lambda row: row[column]
    return lambda row: row["config"].get(column, MISSING)


def value(row: Row, column: str) -> Any:
    """A row's value in ``column`` (see the module docstring); ``MISSING`` when absent."""
    return getter(column)(row)


def _identity(item: Any) -> str:
    """A text that two values share only when they are equal and of the same type."""
    if item is MISSING:
        return "\0missing"
    # json tells 1, 1.0 and true apart; nan is written as NaN and so equals itself
    return json.dumps(item, sort_keys=True, default=repr)


def config_keys(rows: Iterable[Row], part: str = "config") -> list[str]:
    """Every config key (or ``part="summary"``: summary key) any of the rows has, sorted."""
    keys: set[str] = set()
    for row in rows:
        keys.update(row[part])
    return sorted(keys)


def differing_keys(rows: Sequence[Row], part: str = "config") -> list[str]:
    """Config (or summary) keys whose values are not the same in all rows (absent counts as a
    value), sorted.

    With fewer than two rows nothing can differ, so every key of the row is returned: the
    "only what differs" view of one run is the whole run.
    """
    keys = config_keys(rows, part)
    if len(rows) < 2:
        return keys
    differ = []
    configs = [row[part] for row in rows]
    for key in keys:
        first = configs[0].get(key, MISSING)
        if any(not same_value(config.get(key, MISSING), first) for config in configs[1:]):
            differ.append(key)
    return differ


def used_meta_fields(rows: Iterable[Row]) -> list[str]:
    """The ``META_FIELDS`` that at least one row has (name, group...), in their order."""
    used = {name for row in rows for name in META_FIELDS if row.get(name) is not None}
    return [name for name in META_FIELDS if name in used]


def default_columns(rows: Sequence[Row], *, only_differing: bool) -> list[str]:
    """The columns shown without ``--columns``: fixed fields, the meta fields in use, then the
    config and summary keys (those that differ among the rows when ``only_differing``)."""
    pick = differing_keys if only_differing else config_keys
    fields = DEFAULT_FIELDS if only_differing else FIELDS
    return [
        *fields,
        *used_meta_fields(rows),
        *(config_column(k) for k in pick(rows, "config")),
        *(summary_column(k) for k in pick(rows, "summary")),
    ]


def split_namespace(name: str) -> tuple[str, str]:
    """``("summary", KEY)`` for ``summary:KEY``, ``("meta", KEY)`` for ``meta:KEY``,
    ``("config", KEY)`` for ``config:KEY`` and for any other name (only the first namespace
    counts: ``config:summary:x`` is the config key ``summary:x``). Fields are not told apart:
    ``gitcfg update`` writes keys, not fields."""
    for namespace in NAMESPACES:
        if name.startswith(namespace):
            return namespace[:-1], name[len(namespace) :]
    return "config", name


def check_column_name(column: str, option: str) -> str:
    """``column`` if it is a field or a well-formed key name (``summary:KEY``, ``meta:KEY``,
    ``config:KEY``, ``KEY``); else ``InputError`` naming ``option``. Whether any run has it is
    another matter."""
    from gitcfg.errors import InputError

    problem = column_problem(column)
    if problem is not None:
        raise InputError(
            f"{option} {column!r} is not a column name: {problem} "
            f"(columns look like lr, model.depth, summary:acc, meta:exit_status, config:id)"
        )
    return column


def column_problem(column: str) -> str | None:
    """Why ``column`` is not a column name, None if it is one."""
    from gitcfg.errors import ConfigError
    from gitcfg.flat import check_key

    if column in ALL_FIELDS:
        return None
    namespace, key = split_namespace(column)
    if not key and key != column:  # "summary:" alone would silently match no run
        return f"{namespace}: names no key; write {namespace}:KEY"
    try:
        check_key(key)
    except ConfigError as exc:
        return str(exc)
    return None


def check_columns(rows: Sequence[Row], columns: Sequence[str]) -> None:
    """Raise ``UnknownColumnError`` for a column that is neither a field nor a listed run's key
    (rows decoded with their meta.yaml answer ``meta:`` columns too)."""
    meta = {k for row in rows for k in row.get("meta", ())}
    check_known(columns, config_keys(rows), config_keys(rows, "summary"), meta)


def check_known(
    columns: Sequence[str],
    config: Iterable[str],
    summary: Iterable[str],
    meta: Iterable[str] = (),
) -> None:
    """``check_columns`` given every config, summary and meta.yaml key of the runs listed.

    An unknown ``meta:`` column names the meta keys there are, which are a list of their own:
    among config and summary keys they would be cut off."""
    known: set[str] | None = None
    for column in columns:
        if column in ALL_FIELDS and not column.startswith(NAMESPACES):
            continue
        if known is None:
            config, summary, meta = sorted(config), sorted(summary), sorted(meta)
            known = {CONFIG + k for k in config}
            known |= {k for k in config if config_column(k) == k}
            known |= {SUMMARY + k for k in summary}
            known |= {META + k for k in meta}
        if column not in known:
            if column.startswith(META):
                raise UnknownColumnError(column, [META + k for k in meta])
            available = [
                *FIELDS,
                *META_FIELDS,
                *(config_column(k) for k in config),
                *(summary_column(k) for k in summary),
            ]
            raise UnknownColumnError(column, available)


def sort_key(item: Any) -> tuple[int, Any]:
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


def _created_order(item: Any) -> tuple[int, Any]:
    """``sort_key`` of a start time: by the instant it names, whatever its UTC offset."""
    return sort_key(start_order(item) if isinstance(item, str) else item)


def sort_rows(rows: Iterable[Row], column: str, *, descending: bool = False) -> list[Row]:
    """Rows sorted by ``column``; rows without the column go last either way."""
    get = getter(column)
    order = _created_order if column == "created" else sort_key
    present = [row for row in rows if get(row) is not MISSING]
    absent = [row for row in rows if get(row) is MISSING]
    present.sort(key=lambda row: order(get(row)), reverse=descending)
    return present + absent


def group_counts(rows: Iterable[Row], column: str) -> list[tuple[Any, int]]:
    """``(value, number of rows)`` for each value of ``column``, sorted by value.

    Rows without the column are counted under ``MISSING``, listed last.
    """
    counts: dict[str, list[Any]] = {}
    get = getter(column)
    for row in rows:
        item = get(row)
        entry = counts.setdefault(_identity(item), [item, 0])
        entry[1] += 1
    groups = [(item, count) for item, count in counts.values()]
    groups.sort(key=lambda group: sort_key(group[0]))
    return groups


@dataclass(frozen=True)
class Group:
    """One value of a ``--group-by`` column: its runs, and per numeric summary key the
    ``(mean, min, max)`` over the runs of the group that have a number there."""

    value: Any
    runs: int
    metrics: dict[str, tuple[float, float, float]] = field(default_factory=dict)


def numeric_summary_keys(rows: Iterable[Row]) -> list[str]:
    """Summary keys that hold a number (not a bool) in at least one row, sorted."""
    keys: set[str] = set()
    for row in rows:
        keys.update(k for k, v in row["summary"].items() if _is_number(v))
    return sorted(keys)


def group_stats(rows: Sequence[Row], column: str, metrics: Sequence[str]) -> list[Group]:
    """``group_counts`` with, per group, mean/min/max of each summary key in ``metrics``.

    NaN values are left out of the figures; a group with no number for a key has no entry.
    """
    members: dict[str, list[Row]] = {}
    get = getter(column)
    for row in rows:
        members.setdefault(_identity(get(row)), []).append(row)
    groups = []
    for item, count in group_counts(rows, column):
        group_rows = members[_identity(item)]
        figures: dict[str, tuple[float, float, float]] = {}
        for key in metrics:
            numbers = [
                v
                for r in group_rows
                if _is_number(v := r["summary"].get(key)) and not math.isnan(v)
            ]
            if numbers:
                figures[key] = (mean(numbers), min(numbers), max(numbers))
        groups.append(Group(item, count, figures))
    return groups


def mean(numbers: Sequence[float]) -> float:
    """The mean of ``numbers``, rounded to the fewest digits that stay within its rounding
    error: 0.57 for 0.56 and 0.58, where float arithmetic gives 0.5700000000000001, a digit
    the data never had.

    Each value is its decimal to within half an ulp, and the sum (exact, then rounded) and the
    division add about an ulp more: a number within two ulps of the largest value is as much
    the mean as the float computed, and the shortest one reads best."""
    computed = math.fsum(numbers) / len(numbers)
    if not math.isfinite(computed):
        return computed
    error = 2 * math.ulp(max(abs(float(n)) for n in numbers))
    for digits in range(1, 17):
        shorter = float(f"{computed:.{digits}g}")
        if abs(shorter - computed) <= error:
            return shorter
    return computed


def _is_number(item: Any) -> bool:
    return isinstance(item, (int, float)) and not isinstance(item, bool)


def table_cells(rows: Iterable[Row], columns: Sequence[str]) -> list[list[Any]]:
    """The values of ``columns`` for each row (``MISSING`` where a row has no such key)."""
    getters = [getter(column) for column in columns]
    return [[get(row) for get in getters] for row in rows]
