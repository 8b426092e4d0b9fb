"""Hyperparameters as frameworks hand them over, made into plain nested config values.

Frameworks pass what the user gave their constructors: nested Namespaces, dataclasses, OmegaConf
nodes, tensors, loss objects, classes. Containers are opened, one-element tensors become numbers,
classes and functions their qualified name; a value that is none of these (a loss module, a
random generator) is left out with one warning naming its key, so training never stops over
bookkeeping. What is left out is never a silent ``str()`` of the object.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import warnings
from collections.abc import Mapping
from typing import Any

from gitcfg.errors import ConfigError
from gitcfg.sources import to_mapping
from gitcfg.values import coerce_value

_SKIP = object()
_NAMED = (type, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def plain_params(source: Any, *, what: str = "hyperparameter") -> dict[str, Any]:
    """A nested dict of plain values from ``source`` (mapping, Namespace, dataclass, OmegaConf,
    pydantic, object with attributes); ``what`` names the values in warnings."""
    return _plain_mapping(to_mapping(source), "", what)


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` over it, nested mappings merged key by key."""
    out = dict(base)
    for key, value in top.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(old, value)
        else:
            out[key] = value
    return out


def qualified_name(obj: Any) -> str:
    """``module.QualName`` of a class or function (``builtins.`` left off)."""
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or repr(obj)
    return name if module in ("builtins", "") else f"{module}.{name}"


def _plain_mapping(mapping: Mapping[Any, Any], prefix: str, what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for raw, value in mapping.items():
        key = str(raw)
        plain = _plain(value, f"{prefix}{key}", what)
        if plain is not _SKIP:
            out[key] = plain
    return out


def _plain(value: Any, key: str, what: str) -> Any:
    if isinstance(value, Mapping) or _is_container(value):
        try:
            return _plain_mapping(to_mapping(value), f"{key}.", what)
        except ConfigError:
            pass
    if type(value).__module__.startswith("omegaconf."):
        value = list(value)  # a ListConfig: its items, interpolations resolved
    if isinstance(value, (list, tuple)):
        items = [_plain(item, f"{key}[{i}]", what) for i, item in enumerate(value)]
        return _SKIP if any(item is _SKIP for item in items) else items
    if isinstance(value, _NAMED):
        return qualified_name(value)
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__.split(".")[0] in ("torch", "numpy", "jax"):
        value = tolist()  # tensors and arrays: numbers or nested lists of numbers
    try:
        return coerce_value(key, value)
    except ConfigError:
        warnings.warn(
            f"gitcfg: {what} {key!r} is a {qualified_name(type(value))}, which a config cannot "
            f"hold; it is not recorded (pass a number, string, bool, list or dict to record it)",
            stacklevel=2,
        )
        return _SKIP


def _is_container(value: Any) -> bool:
    if isinstance(value, argparse.Namespace):
        return True
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return True
    module = type(value).__module__
    return module.startswith(("omegaconf.", "pydantic")) or (
        hasattr(value, "model_dump") and not isinstance(value, type)
    )
