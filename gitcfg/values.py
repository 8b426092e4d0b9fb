"""Config values: turn what users pass into the plain values a YAML file can hold."""

from __future__ import annotations

import datetime
import enum
import pathlib
from collections.abc import Mapping
from typing import Any

from gitcfg.errors import ConfigError, UnsupportedValueError
from gitcfg.flat import MAX_DEPTH, check_key

_PLAIN = (str, int, float, bool, type(None))
# Array libraries whose values become plain ones through their own tolist(), never imported
# here (importing torch takes seconds). A torch value without tolist (torch.Size, a tuple)
# goes on to the checks below.
_ARRAY_MODULES = ("numpy", "torch")


def _check_text(key: str, text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        bad = text[exc.start]
        raise ConfigError(
            f"config value {key!r} holds {bad!r}, a lone surrogate that UTF-8 cannot store "
            f"(os.listdir and sys.argv give these for non-UTF-8 names); decode the bytes "
            f"properly, or replace it: value.encode('utf-8', 'surrogateescape')"
            f".decode('utf-8', 'replace')"
        ) from None


def coerce_value(key: str, value: Any, *, depth: int = 0) -> Any:
    """Return ``value`` made only of str, int, float, bool, None, list and str-keyed dict.

    numpy and torch scalars, arrays and tensors become Python numbers and lists (neither is
    imported), tuples lists, sets sorted lists (in insertion order when unsortable), an Enum
    its value, a path or datetime a string.
    Anything else raises ``UnsupportedValueError`` naming the element's full key
    (``model.layers[2]``), never a silent ``str()``. ``key`` is only used in messages.
    A string UTF-8 cannot encode (lone surrogates) and nesting deeper than ``MAX_DEPTH`` raise
    ``ConfigError``: stored, either would make the run unreadable.
    """
    cls = type(value)
    if cls is str:
        if not value.isascii():
            _check_text(key, value)
        return value
    if cls in _PLAIN:
        return value
    if depth >= MAX_DEPTH:
        raise ConfigError(
            f"config value {key!r} nests more than {MAX_DEPTH} levels deep; "
            f"flatten it or store it as a string"
        )
    if isinstance(value, enum.Enum):  # before int/str: IntEnum and StrEnum are both
        return coerce_value(key, value.value, depth=depth)
    if cls.__module__.startswith(_ARRAY_MODULES):
        # tolist() gives Python scalars or (nested) lists: a 0-d tensor or array a number
        tolist = getattr(value, "tolist", None)
        if callable(tolist):
            converted = _tolist(key, value, tolist)
            if not type(converted).__module__.startswith(_ARRAY_MODULES):
                return coerce_value(key, converted, depth=depth)
        if not cls.__module__.startswith("torch"):
            raise UnsupportedValueError(key, value)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        text = str.__str__(value)  # a plain str, not a subclass
        _check_text(key, text)
        return text
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for raw, item in value.items():
            try:
                sub = check_key(raw)
            except ConfigError as exc:
                raise ConfigError(f"in {key!r}: {exc}") from exc
            out[sub] = coerce_value(f"{key}.{sub}", item, depth=depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [coerce_value(f"{key}[{i}]", item, depth=depth + 1) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [coerce_value(f"{key}[{i}]", item, depth=depth + 1) for i, item in enumerate(value)]
        try:
            return sorted(items)
        except TypeError:  # mixed types: keep them, in iteration order
            return items
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    raise UnsupportedValueError(key, value)


def _tolist(key: str, value: Any, tolist: Any) -> Any:
    try:
        return tolist()
    except (RuntimeError, NotImplementedError) as exc:  # a torch meta tensor has no data
        raise UnsupportedValueError(key, value) from exc


def coerce_mapping(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """Apply ``check_key`` and ``coerce_value`` to each top-level item of ``mapping``."""
    out: dict[str, Any] = {}
    for raw, value in mapping.items():
        key = check_key(raw)
        out[key] = coerce_value(key, value)
    return out
