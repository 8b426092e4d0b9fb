"""wandb's ``Api().runs(filters=..., order=...)``, read over gitcfg's run rows.

wandb filters runs with MongoDB's query language on its own names for a run's fields. This
module turns such a filter into a test of a row of ``gitcfg.query`` (the JSON shape of
``gitcfg runs --format json``) that also carries the run's ``meta.yaml`` under ``"meta"``::

    {"config.lr": 0.1}                       a config key (wandb's config.lr.value too)
    {"summary_metrics.acc": {"$gt": 0.9}}    a summary key
    {"group": "g", "jobType": "train"}       meta.yaml's group and job_type
    {"display_name": {"$regex": "^base"}}    the run's name ("name" is its id, as in wandb)
    {"state": "finished"}                    "failed" when exit_status is not 0, else "finished"
    {"createdAt": {"$gte": "2024-05-01"}}    when it started (a time without a zone is UTC)
    {"tags": "best"}                         runs tagged best (a list: exactly those tags)
    {"$or": [{...}, {...}]}                  also $and and $nor
    {"lr": 0.1}                              any other name is a config key

Operators: ``$eq $ne $gt $gte $lt $lte $in $nin $regex`` (with ``$options``) ``$exists $not``.
Anything else (another operator, a field wandb has and gitcfg does not record, a state gitcfg
never reports, a nested dict whose meaning is ambiguous) is an ``InputError`` at once, never a
filter that silently matches no run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from gitcfg.errors import ConfigError, InputError
from gitcfg.flat import MISSING, check_key, flatten, unflatten
from gitcfg.override import compare
from gitcfg.values import coerce_value

Row = dict[str, Any]
Predicate = Callable[[Row], bool]
_ItemTest = Callable[[Any], bool]

# wandb's run states; gitcfg can tell only the first two apart (it keeps no heartbeat, and an
# in-process run that ends well records nothing: a run still going reads as finished)
STATES = (
    "finished",
    "failed",
    "running",
    "crashed",
    "killed",
    "pending",
    "preempting",
    "preempted",
)
REPORTED_STATES = STATES[:2]

# wandb's names of run fields that meta.yaml holds, and the meta.yaml key of each
_META_NAMES = {
    "group": "group",
    "jobType": "job_type",
    "job_type": "job_type",
    "displayName": "name",
    "display_name": "name",
    "duration": "duration",
    "host": "host",
    "username": "user",
    "sweep": "sweep_id",
}
_CREATED = ("createdAt", "created_at")
_NOT_RECORDED = {
    "heartbeatAt": "gitcfg keeps no heartbeat",
    "heartbeat_at": "gitcfg keeps no heartbeat",
    "updatedAt": "gitcfg keeps no heartbeat",
    "entity": "gitcfg runs have no entity (an entity in a path is not used)",
}
_COMPARISONS = {"$eq": "=", "$ne": "!=", "$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
_OPERATORS = (*_COMPARISONS, "$in", "$nin", "$regex", "$options", "$exists", "$not")
_LOGICAL = ("$and", "$or", "$nor")
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}
_FORMS = (
    "config.KEY, summary_metrics.KEY, state, group, jobType, display_name, name, createdAt, "
    "tags, duration, host, username, sweep, or a config key"
)


class _Field(NamedTuple):
    """A field a filter names: how a row gives its value (``MISSING`` when absent)."""

    name: str
    get: Callable[[Row], Any]
    kind: str = ""  # "tags": a list matched by its elements; "state"; "time": an instant


def compile_filters(filters: Mapping[str, Any]) -> Predicate:
    """The test of a row that wandb's ``filters`` dict asks for; ``InputError`` for what
    gitcfg cannot answer (see the module docstring)."""
    if not isinstance(filters, Mapping):
        raise InputError(f"a filter is a dict such as {{'config.lr': 0.1}}, got {filters!r}")
    tests = [_clause(key, value) for key, value in filters.items()]
    if len(tests) == 1:
        return tests[0]
    return lambda row: all(test(row) for test in tests)


def order_getter(order: str) -> tuple[Callable[[Row], Any] | None, bool]:
    """For wandb's ``order`` (``+created_at``, ``-summary_metrics.acc``, ``config.lr``...):
    the value to sort the rows by (None: the order they started in) and whether descending."""
    text = order.strip() if isinstance(order, str) else ""
    name = text[1:] if text[:1] in ("+", "-") else text
    if name in _CREATED:
        return None, text.startswith("-")
    if name.startswith(("config.", "summary_metrics.")):
        return _field(name).get, text.startswith("-")
    if name in _NOT_RECORDED:
        raise InputError(f"cannot order runs by {order!r}: {_NOT_RECORDED[name]}")
    raise InputError(
        f"cannot order runs by {order!r}; give created_at, config.KEY or summary_metrics.KEY, "
        f"after + (ascending, the default) or - (descending): order='-summary_metrics.acc'"
    )


def run_state(meta: Mapping[str, Any]) -> str:
    """wandb's state of a run from its ``meta.yaml``: ``"failed"`` when it recorded an exit
    status other than 0, else ``"finished"``."""
    status = meta.get("exit_status")
    failed = isinstance(status, int) and not isinstance(status, bool) and status != 0
    return "failed" if failed else "finished"


def utc_text(started: Any) -> str | None:
    """A start time as wandb's ``created_at`` writes it: UTC, to the second, no zone
    (``2024-05-01T09:30:00``); None if ``started`` is not a time."""
    instant = _parse_time(started) if isinstance(started, str) else None
    if instant is None:
        return None
    return instant.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


# -- clauses ---------------------------------------------------------------------------------


def _clause(key: Any, value: Any) -> Predicate:
    if key in _LOGICAL:
        if not isinstance(value, (list, tuple)) or not value:
            raise InputError(f"{key} takes a non-empty list of filters, got {value!r}")
        parts = [compile_filters(item) for item in value]
        if key == "$and":
            return lambda row: all(part(row) for part in parts)
        if key == "$or":
            return lambda row: any(part(row) for part in parts)
        return lambda row: not any(part(row) for part in parts)
    if not isinstance(key, str):
        raise InputError(f"a filter's field is a string, got {key!r}")
    if key.startswith("$"):
        raise InputError(
            f"cannot filter runs with {key!r}: at the top of a filter gitcfg reads $and, $or and "
            f"$nor (and field names: {_FORMS})"
        )
    field = _field(key)
    test = _value_test(field, value)
    get = field.get
    return lambda row: test(get(row))


def _field(name: str) -> _Field:
    if name.startswith("config."):
        keys = _config_keys(_checked_key(name, name[len("config.") :]))
        return _Field(name, lambda row: _lookup(row["config"], keys))
    if name.startswith("summary_metrics."):
        key = _checked_key(name, name[len("summary_metrics.") :])
        return _Field(name, lambda row: _lookup(row["summary"], (key,)))
    if name in ("config", "summary_metrics"):
        raise InputError(f"filter field {name!r} names no key; write {name}.KEY")
    if name in _NOT_RECORDED:
        raise InputError(f"cannot filter runs by {name!r}: {_NOT_RECORDED[name]}")
    if name == "tags":
        return _Field(name, _meta_value("tags"), "tags")
    if name == "state":
        return _Field(name, lambda row: run_state(row["meta"]), "state")
    if name in _CREATED:
        return _Field(name, _created, "time")
    if name == "name":  # wandb's run name is the id; its display name is display_name
        return _Field(name, lambda row: row["id"])
    if name in _META_NAMES:
        return _Field(name, _meta_value(_META_NAMES[name]))
    key = _checked_key(name, name)
    return _Field(name, lambda row: _lookup(row["config"], (key,)))


def _checked_key(name: str, key: str) -> str:
    try:
        return check_key(key)
    except ConfigError as exc:
        raise InputError(f"filter field {name!r}: {exc}") from exc


def _config_keys(key: str) -> tuple[str, ...]:
    """The config keys ``config.KEY`` may name: wandb stores a config value as
    ``{"value": ..., "desc": ...}``, so its filters also say ``config.lr.value`` for ``lr``
    (and ``config.opt.value.name`` for ``opt.name``). A key that really is ``lr.value``
    comes first."""
    parts = key.split(".")
    if "value" not in parts[1:]:
        return (key,)
    at = parts.index("value", 1)
    return (key, ".".join(parts[:at] + parts[at + 1 :]))


def _lookup(flat: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The value of the first of ``keys`` that ``flat`` has: a leaf, or a group of dotted
    keys as a nested dict (``opt`` over ``opt.name``); ``MISSING`` if none."""
    for key in keys:
        if key in flat:
            return flat[key]
        prefix = key + "."
        group = {k[len(prefix) :]: v for k, v in flat.items() if k.startswith(prefix)}
        if group:
            return unflatten(group)
    return MISSING


def _meta_value(key: str) -> Callable[[Row], Any]:
    def get(row: Row) -> Any:
        found = row["meta"].get(key)
        return MISSING if found is None else found

    return get


def _created(row: Row) -> Any:
    started = row["created"]
    instant = _parse_time(started) if isinstance(started, str) else None
    return MISSING if instant is None else instant


# -- values and operators --------------------------------------------------------------------


def _value_test(field: _Field, value: Any) -> _ItemTest:
    if isinstance(value, Mapping) and value:
        operators = [k for k in value if isinstance(k, str) and k.startswith("$")]
        if len(operators) == len(value):
            return _operators_test(field, value)
        if operators:
            raise InputError(
                f"filter {field.name!r}: {dict(value)!r} mixes operators and keys; give "
                f"either operators ({{'$gt': 1}}) or a value"
            )
        raise InputError(
            f"filter {field.name!r}: a nested dict is ambiguous (MongoDB matches the whole "
            f"group, a wandb script often means one key of it); write "
            f"{{'config.{field.name.removeprefix('config.')}.KEY': value}} for one key, or "
            f"{{{field.name!r}: {{'$eq': {dict(value)!r}}}}} for the whole group"
        )
    return _operator(field, "$eq", value, None)


def _operators_test(field: _Field, operators: Mapping[str, Any]) -> _ItemTest:
    options = operators.get("$options")
    if options is not None and "$regex" not in operators:
        raise InputError(f"filter {field.name!r}: $options goes with $regex")
    tests = [
        _operator(field, op, arg, options) for op, arg in operators.items() if op != "$options"
    ]
    if len(tests) == 1:
        return tests[0]
    return lambda item: all(test(item) for test in tests)


def _operator(field: _Field, op: str, arg: Any, options: Any) -> _ItemTest:
    if op in ("$eq", "$ne"):
        equal = _equal_test(field, _operand(field, arg))
        if op == "$eq":
            _check_reported(field, [arg])
            return equal
        return lambda item: not equal(item)
    if op in _COMPARISONS:
        return _order_test(field, _COMPARISONS[op], _operand(field, arg))
    if op in ("$in", "$nin"):
        if not isinstance(arg, (list, tuple)):
            raise InputError(f"filter {field.name!r}: {op} takes a list, got {arg!r}")
        tests = [_equal_test(field, _operand(field, value)) for value in arg]
        if op == "$in":
            _check_reported(field, arg)
            return lambda item: any(test(item) for test in tests)
        return lambda item: not any(test(item) for test in tests)
    if op == "$exists":
        if not isinstance(arg, (bool, int)):
            raise InputError(f"filter {field.name!r}: $exists takes true or false, got {arg!r}")
        wanted = bool(arg)
        return lambda item: (item is not MISSING) is wanted
    if op == "$regex":
        return _regex_test(field, _pattern(field, arg, options))
    if op == "$not":
        if isinstance(arg, re.Pattern):
            inner = _regex_test(field, arg)
        elif isinstance(arg, Mapping) and arg and all(str(k).startswith("$") for k in arg):
            inner = _operators_test(field, arg)
        else:
            raise InputError(
                f"filter {field.name!r}: $not takes operators ({{'$regex': '^a'}}), got {arg!r}"
            )
        return lambda item: not inner(item)
    raise InputError(
        f"filter {field.name!r}: gitcfg does not understand the operator {op!r}; it reads "
        f"{', '.join(o for o in _OPERATORS)}"
    )


def _operand(field: _Field, value: Any) -> Any:
    """A value of the filter, made comparable with the field's values."""
    if field.kind == "time":
        return None if value is None else _time_operand(field, value)
    if field.kind == "state":
        if value is not None and value not in STATES:
            raise InputError(
                f"filter 'state': {value!r} is not a run state; wandb's are {', '.join(STATES)}"
            )
        return value
    if field.kind == "tags" and value is not None:
        if isinstance(value, (list, tuple)):
            return [str(tag) for tag in value]
        return str(value)
    try:
        plain = coerce_value(field.name, value)
        if isinstance(plain, dict):  # a group: compared nested, however its keys are dotted
            plain = unflatten(flatten(plain))
    except ConfigError as exc:
        raise InputError(f"cannot filter runs by {field.name!r} = {value!r}: {exc}") from exc
    return plain


def _check_reported(field: _Field, values: Any) -> None:
    """A filter that only asks for states gitcfg never reports would silently match nothing."""
    if field.kind != "state":
        return
    if not any(value in REPORTED_STATES for value in values):
        asked = ", ".join(repr(v) for v in values) or "no state"
        raise InputError(
            f"filter 'state': gitcfg never reports a run as {asked}: it tells 'finished' from "
            f"'failed' (exit_status other than 0) and keeps no heartbeat, so a run still going "
            f"reads as 'finished'"
        )


def _equal_test(field: _Field, value: Any) -> _ItemTest:
    if value is None:  # as in MongoDB: null, or no such field
        return lambda item: item is MISSING or item is None
    by_element = field.kind == "tags" and not isinstance(value, list)

    def test(item: Any) -> bool:
        if item is MISSING:
            return False
        if by_element and isinstance(item, list):
            return any(compare("=", element, value) for element in item)
        return compare("=", item, value)

    return test


def _order_test(field: _Field, op: str, value: Any) -> _ItemTest:
    by_element = field.kind == "tags"

    def test(item: Any) -> bool:
        if item is MISSING:
            return False
        if by_element and isinstance(item, list):
            return any(compare(op, element, value) for element in item)
        return compare(op, item, value)

    return test


def _pattern(field: _Field, pattern: Any, options: Any) -> re.Pattern[str]:
    if isinstance(pattern, re.Pattern):
        return pattern
    if not isinstance(pattern, str):
        raise InputError(f"filter {field.name!r}: $regex takes a string, got {pattern!r}")
    flags = 0
    for letter in options or "":
        if letter not in _REGEX_FLAGS:
            raise InputError(
                f"filter {field.name!r}: $options {options!r}: gitcfg reads the letters i, m, s, x"
            )
        flags |= _REGEX_FLAGS[letter]
    try:
        return re.compile(pattern, flags)
    except re.error as exc:
        raise InputError(f"filter {field.name!r}: $regex {pattern!r} is not valid: {exc}") from exc


def _regex_test(field: _Field, pattern: re.Pattern[str]) -> _ItemTest:
    search = pattern.search

    def test(item: Any) -> bool:
        if isinstance(item, str):
            return search(item) is not None
        if field.kind == "tags" and isinstance(item, list):
            return any(isinstance(tag, str) and search(tag) is not None for tag in item)
        return False

    return test


# -- times -----------------------------------------------------------------------------------


def _parse_time(text: str) -> dt.datetime | None:
    """An ISO 8601 time as an aware datetime (no zone: UTC, as wandb's times); None if not."""
    text = text.strip()
    if text.endswith(("Z", "z")):  # Python 3.10 reads no "Z"
        text = text[:-1] + "+00:00"
    try:
        instant = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.timezone.utc)


def _time_operand(field: _Field, value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    instant = _parse_time(value) if isinstance(value, str) else None
    if instant is None:
        raise InputError(
            f"filter {field.name!r}: {value!r} is not a time; give an ISO 8601 text such as "
            f"'2024-05-01' or '2024-05-01T09:30:00Z' (without a zone it is UTC) or a datetime"
        )
    return instant
