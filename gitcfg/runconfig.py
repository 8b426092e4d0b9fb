"""``Config``: a run's configuration with ``wandb.config`` semantics, kept as flat dotted keys.

A dot in a key is a path, so ``config["model.lr"]``, ``config["model"]["lr"]``, ``config.model.lr``
and ``config.update({"model": {"lr": ...}})`` name the same value. Reading a group of keys
(``config.model``) gives a ``ConfigView``: a live mapping over the config that writes through it,
so ``config["params"]["dropout"] = 0.3`` is recorded like any other change (wandb loses it, its
issue #9844). Lists come back read-only (``FrozenList``): changing one in place could not be seen,
so it raises and says to assign a new list.

``Config`` is a ``dict`` whose own storage is a plain nested copy of the config, kept in step with
every change: ``dict(config)``, ``config.copy()``, ``json.dumps(config)`` read that storage
directly (CPython copies a dict subclass that keeps dict's iterator without calling
``__getitem__``), and ``copy``/``pickle`` give plain dicts, so what leaves the config is plain
data, as wandb's is (``torch.save({"config": dict(wandb.config)})``, worker processes). Item and
attribute access go through the flat keys and give the live views above.

This module is named ``runconfig`` and not ``config`` because ``gitcfg.config`` is the active
run's config, and a submodule of that name would shadow it once imported.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, NoReturn, SupportsIndex

from gitcfg.diff import same_value
from gitcfg.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    KeyCollisionError,
    ReadOnlyValueError,
    SecretKeyError,
    UsageError,
    ValueChangeError,
)
from gitcfg.flat import (
    check_key,
    flatten,
    is_secret,
    normalize_top_key,
    secrets_allowed,
    unflatten,
)
from gitcfg.values import coerce_value


def _empty_group(value: Any) -> bool:
    # An empty mapping is stored as a `{}` leaf; it stands for a group with nothing in it yet.
    return isinstance(value, dict) and not value


class Config(dict[str, Any]):  # a dict on purpose: see the module docstring
    """A run's config: attribute and item access, ``update``, ``setdefaults``, ``as_dict``...

    ``allow_val_change=False`` refuses to change an existing key to a different value
    (``ValueChangeError``); setting the same value again is fine. Keys and iteration are the
    top-level names; a group of nested keys reads as a ``ConfigView``. ``dict(config)``,
    ``copy.deepcopy``, ``pickle`` and ``json.dumps`` give plain nested data.
    """

    _data: dict[str, Any]
    _base: dict[str, Any]
    _allow_val_change: bool
    _lock: threading.RLock
    _persist: Callable[[], object] | None
    _closed: str | None

    def __init__(self, values: Any = None, *, allow_val_change: bool = True) -> None:
        super().__init__()
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_base", {})
        object.__setattr__(self, "_allow_val_change", allow_val_change)
        # Re-entrant: a signal handler that flushes runs on the thread it interrupted.
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_persist", None)
        object.__setattr__(self, "_closed", None)
        if values is not None:
            self.update(values, allow_val_change=True)

    @classmethod
    def _from_flat(
        cls, flat: Mapping[str, Any], *, allow_val_change: bool, committed: bool = True
    ) -> Config:
        """A config holding an already checked flat mapping, by default as committed."""
        config = cls(allow_val_change=allow_val_change)
        config._data.update(flat)
        config._sync()
        if committed:
            config._base.update(flat)
        return config

    def _sync(self) -> None:
        """Make the dict's own storage the plain nested copy of ``_data`` again.

        ``_data`` was checked as it was set (keys, collisions), so this nests without checking.
        """
        plain: dict[str, Any] = {}
        for key, value in self._data.items():
            if "." not in key:
                plain[key] = _thaw(value)
                continue
            *parents, last = key.split(".")
            node = plain
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = _thaw(value)
        dict.clear(self)
        dict.update(self, plain)

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        # copies and pickles are plain dicts: the config's lock and run stay behind
        return dict, (self.as_dict(),)

    def __copy__(self) -> dict[str, Any]:
        return self.as_dict()

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return self.as_dict()

    # -- writing -----------------------------------------------------------------------------

    def update(self, d: Any = None, allow_val_change: bool | None = None) -> None:  # type: ignore[override]
        """Set every key of ``d``, or none of them if any is refused.

        ``d`` may be a mapping, an argparse Namespace, absl FLAGS, a dataclass, a pydantic model,
        an OmegaConf DictConfig, an object with attributes, or a YAML file path (see
        ``gitcfg.sources``). ``allow_val_change`` overrides the config's own setting.
        """
        from gitcfg.sources import to_mapping

        self._set(to_mapping(d), "", allow_val_change)

    def setdefaults(self, d: Any) -> None:
        """Set the keys of ``d`` that the config does not have yet (nested keys one by one)."""
        from gitcfg.sources import to_mapping

        with self._lock:
            self._check_open()
            flat = _flat_items(to_mapping(d), "")
            missing = {
                k: v
                for k, v in flat.items()
                if k not in self._data and not (_empty_group(v) and self._is_group(k))
            }
            self._apply(*self._plan(missing, allow=False))

    def __setitem__(self, key: str, value: Any) -> None:
        self._set({key: value}, "", None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delitem__(self, key: str) -> None:
        with self._lock:
            self._check_open()
            data = self._data
            if not isinstance(key, str):
                raise ConfigKeyError(repr(key))
            if key in data:
                del data[key]
                self._sync()
                return
            under = [k for k in data if k.startswith(key + ".")]
            if not under:
                raise ConfigKeyError(key)
            for k in under:
                del data[k]
            self._sync()

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        try:
            del self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(name) from None

    def persist(self) -> None:
        """Commit the changes made since the last commit now (one commit; none if unchanged)."""
        if self._persist is None:
            raise UsageError(
                "this config belongs to no run; create it with gitcfg.init() or read it "
                "with gitcfg.Api().run(...)"
            )
        self._persist()

    def _set(self, values: Mapping[Any, Any], prefix: str, allow: bool | None) -> None:
        with self._lock:
            self._check_open()
            flat = _flat_items(values, prefix)
            allowed = self._allow_val_change if allow is None else allow
            self._apply(*self._plan(flat, allow=allowed))

    def _plan(self, flat: Mapping[str, Any], *, allow: bool) -> tuple[dict[str, Any], list[str]]:
        """What setting ``flat`` changes, checked in full before anything changes."""
        data = self._data
        groups = _groups(data)
        sets: dict[str, Any] = {}
        removes: list[str] = []
        check_secrets = not secrets_allowed()
        for key, value in flat.items():
            if key in data:
                old = data[key]
                if same_value(old, value):
                    continue
                if _empty_group(old) and _empty_group(value):
                    continue
                if not allow:
                    raise ValueChangeError(key, old, value)
                sets[key] = value
                continue
            if key in groups:
                if _empty_group(value):
                    continue  # `{}` over an existing group names nothing new
                raise KeyCollisionError(key, next(k for k in data if k.startswith(key + ".")))
            parts = key.split(".")
            for i in range(1, len(parts)):
                leaf = ".".join(parts[:i])
                if leaf in data or leaf in sets:
                    if _empty_group(data.get(leaf, sets.get(leaf))):
                        removes.append(leaf)  # an empty group gets its first key
                        sets.pop(leaf, None)
                    else:
                        raise KeyCollisionError(leaf, key)
            if check_secrets and is_secret(key, value):
                raise SecretKeyError(key)
            sets[key] = value
        return sets, removes

    def _apply(self, sets: Mapping[str, Any], removes: list[str]) -> None:
        if not sets and not removes:
            return
        for key in removes:
            self._data.pop(key, None)
        self._data.update(sets)
        self._sync()

    def _check_open(self) -> None:
        if self._closed is not None:
            raise UsageError(self._closed)

    # -- reading -----------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        data = self._data
        if not isinstance(key, str):
            raise ConfigKeyError(repr(key))
        if key in data:
            value = data[key]
            if _empty_group(value):
                return ConfigView(self, key)
            return _frozen(key, value)
        if self._is_group(key):
            return ConfigView(self, key)
        raise ConfigKeyError(key)

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not methods or internals: those are config keys.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(name) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (key in self._data or self._is_group(key))

    # Iteration, len, keys, values, items and == are dict's own, over the plain storage
    # (top-level names, nested plain values). Every other dict method that reads by key or
    # changes the config goes through the flat keys and the config's checks.

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except ConfigKeyError:
            return default

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        if key not in self:
            if default:
                return default[0]
            raise ConfigKeyError(key)
        value = _thaw_view(self[key])
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        for key in self:
            return key, self.pop(key)
        raise ConfigKeyError("popitem(): the config is empty")

    def clear(self) -> None:
        for key in list(self):
            del self[key]

    def __ior__(self, other: Any) -> Config:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.as_dict()!r})"

    def as_dict(self) -> dict[str, Any]:
        """The config as plain nested dicts (a copy)."""
        return unflatten(self.flat())

    def flat(self) -> dict[str, Any]:
        """The config as one plain dict with dotted keys (a copy)."""
        return {k: _thaw(v) for k, v in self._data.items()}

    def _is_group(self, key: str) -> bool:
        prefix = key + "."
        return any(k.startswith(prefix) for k in self._data)

    # -- what to commit ----------------------------------------------------------------------

    def _pending(self) -> tuple[dict[str, Any], list[str]]:
        """Keys set and unset since the last commit."""
        with self._lock:
            base, data = self._base, self._data
            sets = {
                k: _thaw(v) for k, v in data.items() if k not in base or not same_value(base[k], v)
            }
            unsets = [k for k in base if k not in data]
            return sets, unsets

    def _committed(self, flat: Mapping[str, Any]) -> None:
        """Record ``flat`` (what was just committed) as the base of the next commit."""
        with self._lock:
            self._base.clear()
            self._base.update(flat)


class ConfigView(MutableMapping[str, Any]):
    """A group of nested keys of a ``Config`` (``config.model``), read live and written through.

    Writes go through the config's checks (value lock, types, collisions, secrets), so they are
    recorded with the run. ``as_dict()`` gives a plain copy.
    """

    def __init__(self, config: Config, prefix: str) -> None:
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_prefix", prefix)

    _config: Config
    _prefix: str

    def _full(self, key: str) -> str:
        if not isinstance(key, str):
            raise ConfigKeyError(f"{self._prefix}.{key!r}")
        return f"{self._prefix}.{key}"

    def __getitem__(self, key: str) -> Any:
        return self._config[self._full(key)]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(self._full(name)) from None

    def __setitem__(self, key: str, value: Any) -> None:
        self._config._set({key: value}, self._prefix, None)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delitem__(self, key: str) -> None:
        del self._config[self._full(key)]

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(self._full(name)) from None

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and f"{self._prefix}.{key}" in self._config

    def __iter__(self) -> Iterator[str]:
        return iter(_children(self._config._data, self._prefix + "."))

    def __len__(self) -> int:
        return len(_children(self._config._data, self._prefix + "."))

    def update(self, d: Any = None, /, **kwargs: Any) -> None:
        from gitcfg.sources import to_mapping

        values = {**to_mapping(d), **kwargs}
        self._config._set(values, self._prefix, None)

    def as_dict(self) -> dict[str, Any]:
        """The group as plain nested dicts (a copy)."""
        prefix = self._prefix + "."
        return unflatten(
            {
                k[len(prefix) :]: _thaw(v)
                for k, v in self._config._data.items()
                if k.startswith(prefix)
            }
        )

    def __repr__(self) -> str:
        return repr(self.as_dict())


def _flat_items(values: Mapping[Any, Any], prefix: str) -> dict[str, Any]:
    """Check, coerce and flatten ``values`` to dotted keys under ``prefix``."""
    coerced: dict[str, Any] = {}
    for raw, value in values.items():
        # argparse-style top-level names ("--lr") are stripped, as wandb does
        name = normalize_top_key(raw) if not prefix and isinstance(raw, str) else raw
        key = check_key(name)
        coerced[key] = coerce_value(f"{prefix}.{key}" if prefix else key, value)
    return flatten(coerced, prefix)


def _groups(data: Mapping[str, Any]) -> set[str]:
    """Every dotted prefix of a key: the names that are groups."""
    groups: set[str] = set()
    for key in data:
        if "." in key:
            parts = key.split(".")
            groups.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return groups


def _children(data: Mapping[str, Any], prefix: str) -> list[str]:
    """The names one level below ``prefix`` ("" for the top), in order of first appearance."""
    start = len(prefix)
    return list(dict.fromkeys(k[start:].split(".", 1)[0] for k in data if k.startswith(prefix)))


def _thaw_view(value: Any) -> Any:
    """A value read from a config as plain data (a group as nested dicts)."""
    if isinstance(value, ConfigView):
        return value.as_dict()
    return _thaw(value)


def _frozen(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return FrozenList(key, [_frozen(key, v) for v in value])
    if isinstance(value, dict):
        return FrozenDict(key, {k: _frozen(key, v) for k, v in value.items()})
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, list):
        return [_thaw(v) for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) for k, v in value.items()}
    return value


class FrozenList(list[Any]):
    """A list read from a config: a copy whose in-place changes raise ``ReadOnlyValueError``.

    ``copy.deepcopy`` and ``list(...)`` give an ordinary list to change locally.
    """

    __slots__ = ("_key",)

    def __init__(self, key: str, items: list[Any]) -> None:
        super().__init__(items)
        self._key = key

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyValueError(self._key)

    append = extend = insert = remove = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = _refuse

    def pop(self, index: SupportsIndex = -1) -> NoReturn:
        self._refuse()

    def __iadd__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __imul__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __reduce__(self) -> tuple[type[list[Any]], tuple[list[Any]]]:
        # copies and pickles are plain lists, free to change
        return list, (_thaw(list(self)),)

    def __copy__(self) -> list[Any]:
        return list(self)


class FrozenDict(dict[str, Any]):
    """A mapping inside a list read from a config; read-only like ``FrozenList``."""

    __slots__ = ("_key",)

    def __init__(self, key: str, items: dict[str, Any]) -> None:
        super().__init__(items)
        self._key = key

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise ReadOnlyValueError(self._key)

    __setitem__ = __delitem__ = update = setdefault = clear = popitem = _refuse

    def pop(self, *args: Any) -> NoReturn:
        self._refuse()

    def __ior__(self, other: Any) -> NoReturn:  # type: ignore[misc]
        self._refuse()

    def __reduce__(self) -> tuple[type[dict[str, Any]], tuple[dict[str, Any]]]:
        return dict, (_thaw(dict(self)),)

    def __copy__(self) -> dict[str, Any]:
        return dict(self)
