"""A scikit-learn estimator's parameters as a nested config, pipelines flattened by step name.

``get_params(deep=True)`` names a nested parameter ``step__param`` (``clf__C``,
``union__pca__n_components``); here that is ``clf.C`` and ``union.pca.n_components``, and each
estimator's class is ``class`` beside its parameters (``clf.class: SVC``), so runs that swap one
step for another compare key by key. Lists of steps keep their order with estimators named by
class: ``steps: [[scale, StandardScaler], [clf, SVC]]``. A parameter that a config cannot hold
(a ``RandomState`` object, a scorer object) is left out with one warning naming it.

scikit-learn is never imported: an estimator is anything with ``get_params`` (its API contract),
so a user's own estimator works too.
"""

from __future__ import annotations

import types
import warnings
from typing import Any

from gitcfg.errors import ConfigError
from gitcfg.values import coerce_value

_SKIP = object()


def is_estimator(value: Any) -> bool:
    """Whether ``value`` is an estimator instance (has scikit-learn's ``get_params``)."""
    return not isinstance(value, type) and callable(getattr(value, "get_params", None))


def estimator_params(estimator: Any) -> dict[str, Any]:
    """The nested config of ``estimator``: its class and ``get_params(deep=True)``."""
    out: dict[str, Any] = {"class": class_name(estimator)}
    params = estimator.get_params(deep=True)
    # parents before children: "clf" (an estimator, so a branch) before "clf__C"
    for key in sorted(params, key=lambda name: name.count("__")):
        value = params[key]
        path = key.split("__")
        if is_estimator(value):
            _put(out, [*path, "class"], class_name(value))
            continue
        plain = _plain(value, ".".join(path))
        if plain is not _SKIP:
            _put(out, path, plain)
    return out


def class_name(obj: Any) -> str:
    """An estimator's class: its name for scikit-learn's own, ``module.Name`` for others."""
    cls = obj if isinstance(obj, type) else type(obj)
    if cls.__module__.split(".")[0] == "sklearn":
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _plain(value: Any, key: str) -> Any:
    if is_estimator(value):
        return class_name(value)
    if isinstance(value, (list, tuple)):
        items = [_plain(item, f"{key}[{i}]") for i, item in enumerate(value)]
        return _SKIP if any(item is _SKIP for item in items) else items
    if isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType)):
        return f"{value.__module__}.{value.__qualname__}"
    if isinstance(value, str) or value is None:
        return value
    try:
        return coerce_value(key, value)
    except ConfigError:
        warnings.warn(
            f"gitcfg: estimator parameter {key!r} is a {type(value).__module__}."
            f"{type(value).__qualname__}, which a config cannot hold; it is not recorded "
            f"(an int seed instead of a RandomState object is recorded)",
            stacklevel=3,
        )
        return _SKIP


def _put(out: dict[str, Any], path: list[str], value: Any) -> None:
    node = out
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            # "passthrough"/"drop" steps are strings; a later "step__x" cannot exist under one
            child = node[part] = {}
        node = child
    node[path[-1]] = value
