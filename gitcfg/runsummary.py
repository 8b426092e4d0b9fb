"""A run's summary (``wandb.summary``): its results, one value per flat key, beside its config.

Named ``runsummary`` and not ``summary`` because ``gitcfg.summary`` is the active run's summary,
and a submodule of that name would shadow it once imported.

``run.summary`` is a mapping: ``log`` keeps each key's last value there (or the aggregate that
``define_metric`` asks for), and ``run.summary["best_acc"] = 0.9`` sets a value directly. Like
the config it is committed as ``summary.yaml`` at each flush; ``_pending`` says what changed
since the last commit. Nested dicts are dotted keys, as in the config (``{"val": {"acc": 1}}`` is
``val.acc``); a key set over a group (or a group over a key) replaces it, as wandb's does.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

from gitcfg.diff import same_value
from gitcfg.errors import ConfigError, SecretKeyError
from gitcfg.flat import (
    check_key,
    find_collision,
    is_secret,
    is_secret_key,
    secrets_allowed,
    unflatten,
)
from gitcfg.plaincopy import PlainCopies
from gitcfg.values import coerce_value

_NUMBERS = (int, float)
# The value types a log call keeps as they are (checked with `type(v) in SCALARS`, the fast path).
SCALARS = frozenset((int, float, str, bool, type(None)))


def user_stacklevel() -> int:
    """The ``stacklevel`` of ``warnings.warn`` that names the first caller outside gitcfg."""
    import os
    import sys

    package = os.path.dirname(__file__)
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == package:
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


class Summary(PlainCopies, MutableMapping[str, Any]):
    """The results of a run: ``summary[key]``, ``summary.key``, ``update``, ``as_dict``.

    Keys are flat and dotted; reading a group (``summary["val"]`` over ``val.acc``) gives a
    plain nested dict. Values are numbers, strings, bools, None, lists and dicts (flattened);
    a value gitcfg cannot store is skipped with a warning, never an exception in a training loop.
    """

    _data: dict[str, Any]
    _base: dict[str, Any]
    _lock: threading.RLock
    _warned: set[str]
    _seen: set[Any]
    _numbers: set[Any]
    # Called after a change made through the mapping (not by log): a run used from a child
    # process commits there at once.
    _on_change: Callable[[], object] | None

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(values or {}))
        object.__setattr__(self, "_base", dict(self._data))
        object.__setattr__(self, "_lock", threading.RLock())
        object.__setattr__(self, "_warned", set())
        # Keys checked for secrets (or stored already, as the store allows): a key is checked
        # when it is new, so that log() on a training loop's hot path checks nothing per call.
        object.__setattr__(self, "_seen", set(self._data))
        # Keys of ``_seen`` that look like a credential but held a number (a metric such as
        # loss_per_token): their values are checked again, by type alone.
        object.__setattr__(self, "_numbers", set())
        object.__setattr__(self, "_on_change", None)

    # -- reading -----------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        data = self._data
        if key in data:
            return data[key]
        if isinstance(key, str):
            prefix = key + "."
            group = {k[len(prefix) :]: v for k, v in data.items() if k.startswith(prefix)}
            if group:
                return unflatten(group)
        raise KeyError(key)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the summary has no key {name!r}") from None

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        prefix = key + "."
        return key in self._data or any(k.startswith(prefix) for k in self._data)

    def __iter__(self) -> Iterator[str]:
        # the top-level names, as a nested dict would list them
        return iter(dict.fromkeys(k.split(".", 1)[0] for k in list(self._data)))

    def __len__(self) -> int:
        return len(dict.fromkeys(k.split(".", 1)[0] for k in list(self._data)))

    def __repr__(self) -> str:
        return f"Summary({self.flat()!r})"

    def flat(self) -> dict[str, Any]:
        """The summary as one plain dict with dotted keys (a copy)."""
        return dict(self._data)

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain nested dicts (a copy)."""
        return unflatten(self.flat())

    # -- writing -----------------------------------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delitem__(self, key: str) -> None:
        with self._lock:
            data = self._data
            under = [k for k in data if k == key or k.startswith(key + ".")]
            if not under:
                raise KeyError(key)
            for k in under:
                del data[k]
        self._changed()

    def update(self, d: Any = None, /, **kwargs: Any) -> None:
        """Set every key of ``d`` (a mapping) and ``kwargs``; a key that looks like a
        credential (``SecretKeyError``) sets none of them."""
        values = {**(dict(d) if d is not None else {}), **kwargs}
        checked = [item for key, value in values.items() if (item := self._plain(key, value))]
        for name, plain in checked:
            self.check_new_keys(_leaves(name, plain))
        with self._lock:
            for name, plain in checked:
                self._put(name, plain)
        self._changed()

    def _set(self, key: Any, value: Any) -> None:
        item = self._plain(key, value)
        if item is None:
            return
        self.check_new_keys(_leaves(*item))
        with self._lock:
            self._put(*item)
        self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _plain(self, key: Any, value: Any) -> tuple[str, Any] | None:
        """``(key, value)`` as stored, or None (with one warning) when it cannot be stored."""
        try:
            name = check_key(key)
            return name, coerce_value(name, value)
        except ConfigError as exc:
            self._warn_once(str(key), f"not kept in the summary: {exc}")
            return None

    def check_new_keys(self, values: Mapping[Any, Any]) -> None:
        """Raise ``SecretKeyError`` for a key of ``values`` new to this summary that looks like
        a credential and holds a value that is not masked (``flat.is_secret``), unless
        ``GITCFG_ALLOW_SECRETS`` is set. Keys found harmless are not checked again."""
        seen, numbers = self._seen, self._numbers
        allowed: bool | None = None
        for key, value in values.items():
            if key in seen and (key not in numbers or type(value) in _NUMBERS):
                continue
            if is_secret_key(str(key)):
                if allowed is None:
                    allowed = secrets_allowed()
                if not allowed:
                    if is_secret(str(key), value, result=True):
                        raise SecretKeyError(str(key), summary=True)
                    if type(value) not in _NUMBERS:
                        continue  # masked now ("<HUB_TOKEN>", "***"): check its next value too
                    numbers.add(key)  # a metric: its next values are checked by their type
            seen.add(key)

    def _put(self, key: str, value: Any) -> None:
        """Set one checked key; a leaf replaces a group of that name and the other way round."""
        data = self._data
        if isinstance(value, dict) and value:
            for sub, item in value.items():
                self._put(f"{key}.{sub}", item)
            return
        if key not in data:
            prefix = key + "."
            for k in [k for k in data if k.startswith(prefix)]:
                del data[k]
            parts = key.split(".")
            for i in range(1, len(parts)):
                data.pop(".".join(parts[:i]), None)
        data[key] = value

    def _warn_once(self, key: str, text: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(f"gitcfg: {key!r} {text}", UserWarning, stacklevel=user_stacklevel())

    # -- what to commit ----------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        """The summary as it can be stored: keys and values checked, collisions resolved.

        ``log`` puts values in without checks (it must be cheap), so a key gitcfg cannot store
        is dropped here, with one warning.
        """
        with self._lock:
            data = dict(self._data)
        clean: dict[str, Any] = {}
        for key, value in data.items():
            try:
                name = check_key(key)
                clean[name] = coerce_value(name, value)
            except ConfigError as exc:
                self._warn_once(str(key), f"not kept in the summary: {exc}")
        while (collision := find_collision(clean)) is not None:
            leaf, branch = collision
            self._warn_once(leaf, f"is both a value and a group ({branch}); the value is dropped")
            del clean[leaf]
        return clean

    def _pending(self, snapshot: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Keys of ``snapshot`` set and unset since the last commit."""
        base = self._base
        sets = {k: v for k, v in snapshot.items() if k not in base or not same_value(base[k], v)}
        unsets = [k for k in base if k not in snapshot]
        return sets, unsets

    def _committed(self, snapshot: Mapping[str, Any]) -> None:
        """Record ``snapshot`` (what was just committed) as the base of the next commit."""
        with self._lock:
            self._base.clear()
            self._base.update(snapshot)


def _leaves(key: str, value: Any, out: dict[str, Any] | None = None) -> dict[str, Any]:
    """The flat keys a checked value sets (as ``_put`` sets them): a mapping is a group."""
    out = {} if out is None else out
    if isinstance(value, dict) and value:
        for sub, item in value.items():
            _leaves(f"{key}.{sub}", item, out)
    else:
        out[key] = value
    return out
