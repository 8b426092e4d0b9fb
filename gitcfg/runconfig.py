"""``Config``: a run's configuration with ``wandb.config`` semantics, kept as flat dotted keys.

A dot in a key is a path, so ``config["model.lr"]``, ``config["model"]["lr"]``, ``config.model.lr``
and ``config.update({"model": {"lr": ...}})`` name the same value. Lists come back read-only
(``FrozenList``): changing one in place could not be seen, so it raises and says to assign a new
list.

``Config`` is a ``dict`` whose own storage is a plain nested copy of the config, kept in step with
every change: ``dict(config)``, ``config.copy()``, ``json.dumps(config)`` read that storage
directly (CPython copies a dict subclass that keeps dict's iterator without calling
``__getitem__``), and ``copy``/``pickle`` give plain dicts, so what leaves the config is plain
data, as wandb's is (``torch.save({"config": dict(wandb.config)})``, worker processes). Item and
attribute access go through the flat keys.

Reading a group of keys (``config.model``) gives a ``ConfigView``: a new ``dict`` per read, built
the same way (its storage a plain nested copy of the group, refreshed whenever the config
changes), so ``json.dumps``, ``**group``, ``==``, ``copy``, ``pickle`` and ``isinstance(group,
dict)`` behave as with wandb, where a group is a plain dict. One rule says what reaches the
record: *assigning* through a group is recorded (``config.model.depth = 3``,
``config["params"]["dropout"] = 0.3``, ``group.update(...)``; wandb loses these, its issue #9844),
checked like any other change; everything else a dict does to itself (``pop``, ``popitem``,
``clear``, ``del``, ``setdefault``) changes only that group object, never the record, as wandb's
plain dict does. So the factory pattern ``name = config.optimizer.pop("name");
Optimizer[name](**rest)`` keeps ``optimizer.name`` recorded; to remove a nested key from the run,
delete it at the top: ``del config["optimizer.name"]``. A group object shows the config as it is
now, less the keys removed from that object and plus its own ``setdefault`` values (until the
config has those keys).

This module is named ``runconfig`` and not ``config`` because ``gitcfg.config`` is the active
run's config, and a submodule of that name would shadow it once imported.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
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
from gitcfg.plaincopy import PlainCopies
from gitcfg.values import coerce_value

_PRUNE_MIN = 64  # watched groups kept before dropping the dead ones


def _empty_group(value: Any) -> bool:
    # An empty mapping is stored as a `{}` leaf; it stands for a group with nothing in it yet.
    return isinstance(value, dict) and not value


class Config(PlainCopies, dict[str, Any]):  # a dict on purpose: see the module docstring
    """A run's config: attribute and item access, ``update``, ``setdefaults``, ``as_dict``...

    ``allow_val_change=False`` refuses to change an existing key to a different value
    (``ValueChangeError``); setting the same value again is fine. Keys and iteration are the
    top-level names; a group of nested keys reads as a ``ConfigView``, a dict through which
    assignments are recorded and removals stay local. ``dict(config)``, ``copy.deepcopy``,
    ``pickle`` and ``json.dumps`` give plain nested data. Removing through the config itself
    (``del config["model.lr"]``, ``config.pop("lr")``) is recorded.
    """

    _data: dict[str, Any]
    _base: dict[str, Any]
    _allow_val_change: bool
    _lock: threading.RLock
    _persist: Callable[[], object] | None
    _closed: str | None
    # Called after each change: a run used from a child process commits there at once.
    _on_change: Callable[[], object] | None
    # A private nested copy of ``_data`` that groups are copied from (built when first needed;
    # the dict's own storage cannot serve: a shallow copy of it can be changed by the caller).
    _tree: dict[str, Any] | None
    # The groups read and maybe still held, refreshed on every change; dead ones are pruned.
    _views: list[weakref.ref[ConfigView]]
    _prune_at: int

    def __init__(self, values: Any = None, *, allow_val_change: bool = True) -> None:
        super().__init__()
        object.__setattr__(self, "_data", {})
        object.__setattr__(self, "_base", {})
        object.__setattr__(self, "_allow_val_change", allow_val_change)
        # Re-entrant: a signal handler that flushes runs on the thread it interrupted.
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_persist", None)
        object.__setattr__(self, "_closed", None)
        object.__setattr__(self, "_on_change", None)
        object.__setattr__(self, "_tree", None)
        object.__setattr__(self, "_views", [])
        object.__setattr__(self, "_prune_at", _PRUNE_MIN)
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

    def _changed(self) -> None:
        self._sync()
        if self._on_change is not None:
            self._on_change()

    def _sync(self) -> None:
        """Make the dict's own storage the plain nested copy of ``_data`` again.

        The groups read and still held are refreshed too.
        """
        refs = [ref for ref in self._views if ref() is not None]
        self._views[:] = refs
        views = [view for ref in refs if (view := ref()) is not None]
        if views:  # the groups copy from the tree: build it once, the storage from it
            tree = _nest(self._data, copy=False)
            plain = _thaw(tree)
        else:  # the tree waits until a group is read: `update` in a loop stays cheap
            tree, plain = None, _nest(self._data, copy=True)
        dict.clear(self)
        dict.update(self, plain)
        object.__setattr__(self, "_tree", tree)
        for view in views:
            view._refresh()

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
                self._changed()
                return
            under = [k for k in data if k.startswith(key + ".")]
            if not under:
                raise ConfigKeyError(key)
            for k in under:
                del data[k]
            self._changed()

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
        self._changed()

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
        if self._group(key) is not None:
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
        return isinstance(key, str) and (key in self._data or self._group(key) is not None)

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
        """Whether ``key`` names a group that has keys (not a leaf, not an empty ``{}``)."""
        return key not in self._data and bool(self._group(key))

    def _group(self, key: str) -> dict[str, Any] | None:
        """The private nested copy of group ``key`` (``{}`` for an empty one), or None."""
        node: Any = self._tree
        if node is None:
            node = _nest(self._data, copy=False)
            object.__setattr__(self, "_tree", node)
        if "." not in key:
            node = node.get(key)
        else:
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
        return node if isinstance(node, dict) else None

    def _watch(self, view: ConfigView) -> None:
        """Fill ``view`` and keep it in step with the config from now on."""
        with self._lock:  # so that no change falls between filling and watching
            view._refresh()
            views = self._views
            views.append(weakref.ref(view))
            if len(views) >= self._prune_at:  # most groups are read and dropped at once
                views[:] = [ref for ref in views if ref() is not None]
                object.__setattr__(self, "_prune_at", max(_PRUNE_MIN, 2 * len(views)))

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


class ConfigView(PlainCopies, dict[str, Any]):  # a dict on purpose: see the module docstring
    """A group of nested keys of a ``Config`` (``config.model``): a plain ``dict`` of the group
    that follows the config, where assignments are recorded and removals stay local.

    Assigning (``group[k] = v``, ``group.k = v``, ``update``, ``|=``) goes through the config's
    checks (value lock, types, collisions, secrets) and is recorded with the run. ``pop``,
    ``popitem``, ``clear``, ``del`` and ``setdefault`` change this object only. Reading a nested
    group gives a ``ConfigView`` of it, a list a ``FrozenList``; iteration, ``items()``,
    ``values()``, ``==`` and ``dict(group)`` are dict's own, over plain data. ``copy()``,
    ``as_dict()``, ``copy.deepcopy`` and ``pickle`` give plain nested dicts.
    """

    __slots__ = ("__weakref__", "_config", "_local", "_prefix")

    _config: Config
    _prefix: str
    # Changes of this object only: a key removed from it (``_REMOVED``) or added by setdefault.
    _local: dict[Any, Any]

    def __init__(self, config: Config, prefix: str) -> None:
        super().__init__()
        object.__setattr__(self, "_config", config)
        object.__setattr__(self, "_prefix", prefix)
        object.__setattr__(self, "_local", {})
        config._watch(self)

    def _refresh(self) -> None:
        """Copy the group from the config again, then apply this object's own changes."""
        plain = _thaw(self._config._group(self._prefix) or {})
        local = self._local
        if local:
            for key in [k for k in local if k in plain and local[k] is not _REMOVED]:
                del local[key]  # the config has the key now: its value wins over a setdefault
            for key, value in local.items():
                if value is _REMOVED:
                    plain.pop(key, None)
                else:
                    plain[key] = value
        if dict.keys(self) != plain.keys():
            # keys came or went: a loop over this object then fails as over a changed dict
            for key in [k for k in dict.keys(self) if k not in plain]:
                dict.__delitem__(self, key)
        # Values set in place, not a cleared and refilled table: a loop over the group that
        # assigns config values (each refreshes this object) goes on over every key.
        dict.update(self, plain)

    def _full(self, key: Any) -> str:
        return f"{self._prefix}.{key}" if isinstance(key, str) else f"{self._prefix}.{key!r}"

    # -- reading: dict semantics, plus dotted paths and attribute access ---------------------

    def __getitem__(self, key: str) -> Any:
        if isinstance(key, str) and dict.__contains__(self, key):
            value = dict.__getitem__(self, key)
            if not isinstance(value, (dict, list)) or key in self._local:
                return value  # a scalar, or a setdefault value: the object given, as dict does
            if isinstance(value, dict):
                return ConfigView(self._config, self._full(key))
            return _frozen(self._full(key), value)
        if isinstance(key, str) and "." in key:
            head, rest = key.split(".", 1)
            group = self.get(head)
            if isinstance(group, ConfigView):
                return group[rest]
        raise ConfigKeyError(self._full(key))

    def __getattr__(self, name: str) -> Any:
        # Only called for names that are not methods or internals: those are config keys.
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(self._full(name)) from None

    def __contains__(self, key: object) -> bool:
        if dict.__contains__(self, key):
            return True
        if isinstance(key, str) and "." in key:
            head, rest = key.split(".", 1)
            group = self.get(head)
            return isinstance(group, ConfigView) and rest in group
        return False

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except ConfigKeyError:
            return default

    # -- assigning: recorded -----------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self._config._set({key: value}, self._prefix, None)
        self._unmask([key])

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def update(self, d: Any = None, /, **kwargs: Any) -> None:
        from gitcfg.sources import to_mapping

        values = {**to_mapping(d), **kwargs}
        self._config._set(values, self._prefix, None)
        self._unmask(values)

    def __ior__(self, other: Any) -> ConfigView:  # type: ignore[override,misc]
        self.update(other)
        return self

    def _unmask(self, keys: Iterable[Any]) -> None:
        """An assigned key is the config's again in this object, even if removed from it before."""
        names = {k.split(".", 1)[0] if isinstance(k, str) else k for k in keys}
        if names & self._local.keys():
            for name in names:
                self._local.pop(name, None)
            self._refresh()  # an unchanged value made no change, so no refresh came

    # -- removing, setdefault: this object only (wandb's group is a plain dict) --------------

    def __delitem__(self, key: str) -> None:
        if not dict.__contains__(self, key):
            raise ConfigKeyError(self._full(key))
        dict.__delitem__(self, key)
        self._local[key] = _REMOVED

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        try:
            del self[name]
        except ConfigKeyError:
            raise ConfigAttributeError(self._full(name)) from None

    def pop(self, key: str, *default: Any) -> Any:
        if dict.__contains__(self, key):
            self._local[key] = _REMOVED
            return dict.pop(self, key)  # plain data, the caller's own
        if default:
            return default[0]
        raise ConfigKeyError(self._full(key))

    def popitem(self) -> tuple[str, Any]:
        key, value = dict.popitem(self)
        self._local[key] = _REMOVED
        return key, value

    def clear(self) -> None:
        for key in self:
            self._local[key] = _REMOVED
        dict.clear(self)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self._local[key] = default
        dict.__setitem__(self, key, default)
        return default

    # -- plain copies --------------------------------------------------------------------------

    def copy(self) -> dict[str, Any]:
        """The group as plain nested dicts, as it reads now (a copy)."""
        plain: dict[str, Any] = _thaw(self)
        return plain

    as_dict = copy


_REMOVED: Any = object()  # in ConfigView._local: a key removed from that group object only


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


def _thaw_view(value: Any) -> Any:
    """A value read from a config as plain data (a group as nested dicts)."""
    if isinstance(value, ConfigView):
        return value.copy()
    return _thaw(value)


def _nest(data: Mapping[str, Any], *, copy: bool) -> dict[str, Any]:
    """``data``'s dotted keys as nested dicts, its lists and dicts copied if ``copy``.

    ``data`` was checked as it was set (keys, collisions), so this nests without checking.
    """
    plain: dict[str, Any] = {}
    for key, value in data.items():
        if copy and isinstance(value, (list, dict)):
            value = _thaw(value)
        if "." not in key:
            plain[key] = value
            continue
        *parents, last = key.split(".")
        node = plain
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return plain


def _frozen(key: str, value: Any) -> Any:
    if isinstance(value, list):
        return FrozenList(key, [_frozen(key, v) for v in value])
    if isinstance(value, dict):
        return FrozenDict(key, {k: _frozen(key, v) for k, v in value.items()})
    return value


def _thaw(value: Any) -> Any:
    """A plain deep copy of ``value``'s lists and dicts (of subclasses too); scalars as they are."""
    # scalars are tested inline: most values are, and a call per value would cost more
    if isinstance(value, list):
        return [_thaw(v) if isinstance(v, (list, dict)) else v for v in value]
    if isinstance(value, dict):
        return {k: _thaw(v) if isinstance(v, (list, dict)) else v for k, v in value.items()}
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
