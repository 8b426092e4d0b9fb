"""gitcfg: run configs recorded as commits on a branch of your own git repository.

    import gitcfg
    run = gitcfg.init(config={"epochs": 4}, project="mnist")   # commits "create"
    gitcfg.config.batch_size = 32                              # committed at finish or exit
    gitcfg.log({"loss": 0.25})                                 # summary + local history
    run.finish()

``gitcfg.config``, ``gitcfg.summary`` and ``gitcfg.run`` follow the active run (module
``__getattr__``), so code that reads them after ``init`` sees the run, like ``wandb.config``;
assigning ``gitcfg.config = {...}`` (wandb's old quickstart) records the values (``_Package``).
The same ``__getattr__`` serves wandb's names that mean nothing here (``watch``, ``Image``...)
as no-ops that warn once (``gitcfg.wandbnames``); they are not part of gitcfg's API.
Importing gitcfg loads no git or YAML code: the store is loaded by the first ``init`` or ``Api``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

from gitcfg.errors import (
    AmbiguousRunError,
    BranchCheckedOutError,
    ConcurrentUpdateError,
    ConfigAttributeError,
    ConfigError,
    ConfigKeyError,
    CorruptStoreError,
    DuplicateKeyError,
    GitcfgError,
    HistoryNotFoundError,
    InputError,
    InvalidBranchNameError,
    InvalidNameError,
    KeptChangeStuckError,
    KeyCollisionError,
    MergeConflictError,
    MissingExtraError,
    NotAStoreError,
    PendingChangesError,
    ReadOnlyValueError,
    RefLockedError,
    RefNameClashError,
    RemoteError,
    RepositoryError,
    RunError,
    RunExistsError,
    RunNotFoundError,
    SecretKeyError,
    SweepError,
    SweepSpecError,
    UnknownColumnError,
    UnsafeRepositoryError,
    UnsupportedValueError,
    UsageError,
    ValueChangeError,
    VersionNotFoundError,
    YamlError,
)

if TYPE_CHECKING:
    from gitcfg.api import Api
    from gitcfg.liverun import Run, define_metric, finish, init, log
    from gitcfg.runconfig import Config
    from gitcfg.runsummary import Summary

__version__ = "0.1.0"

__all__ = [
    "AmbiguousRunError",
    "Api",
    "BranchCheckedOutError",
    "ConcurrentUpdateError",
    "Config",
    "ConfigAttributeError",
    "ConfigError",
    "ConfigKeyError",
    "CorruptStoreError",
    "DuplicateKeyError",
    "GitcfgError",
    "HistoryNotFoundError",
    "InputError",
    "InvalidBranchNameError",
    "InvalidNameError",
    "KeptChangeStuckError",
    "KeyCollisionError",
    "MergeConflictError",
    "MissingExtraError",
    "NotAStoreError",
    "PendingChangesError",
    "ReadOnlyValueError",
    "RefLockedError",
    "RefNameClashError",
    "RemoteError",
    "RepositoryError",
    "Run",
    "RunError",
    "RunExistsError",
    "RunNotFoundError",
    "SecretKeyError",
    "Summary",
    "SweepError",
    "SweepSpecError",
    "UnknownColumnError",
    "UnsafeRepositoryError",
    "UnsupportedValueError",
    "UsageError",
    "ValueChangeError",
    "VersionNotFoundError",
    "YamlError",
    "__version__",
    "agent",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "summary",
    "sweep",
]

if TYPE_CHECKING:
    config: Config
    summary: Summary
    run: Run | None


class _NoConfig:
    """``gitcfg.config`` (or ``summary``) before ``init``: every use says to call ``init`` first."""

    def __init__(self, name: str = "config") -> None:
        object.__setattr__(self, "_name", name)

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        name = object.__getattribute__(self, "_name")
        raise UsageError(
            f"there is no active run; call gitcfg.init() first, then use gitcfg.{name}"
        )

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and IDEs probe dunders
        self._refuse()

    __getitem__ = __setitem__ = __delitem__ = __setattr__ = __delattr__ = _refuse
    __contains__ = __iter__ = __len__ = _refuse

    def __repr__(self) -> str:
        name = object.__getattribute__(self, "_name")
        return f"<gitcfg.{name}: no active run, call gitcfg.init() first>"


def sweep(
    sweep: Mapping[str, Any],
    entity: str | None = None,
    project: str | None = None,
    prior_runs: Any = None,
) -> str:
    """Define a sweep from wandb's sweep config (a dict); returns its id (``wandb.sweep``).

    The id is computed from the definition and is the group of the sweep's runs; the same
    definition gives the same id, so a script run again continues its sweep.
    """
    from gitcfg.sweeps.agent import sweep as define

    return define(sweep, entity, project, prior_runs)


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
) -> None:
    """Run ``function`` once per point of sweep ``sweep_id``, at most ``count`` times, each call
    a run whose config holds the point's values (``wandb.agent``); the ``init()`` inside
    ``function`` attaches to that run."""
    from gitcfg.sweeps.agent import agent as run_agent

    run_agent(sweep_id, function, entity, project, count)


_NO_CONFIG = _NoConfig()
_NO_SUMMARY = _NoConfig("summary")


# The run API is loaded on first use, so that ``gitcfg run`` and the other commands, which live
# in this package too, start without it.
_LAZY = {
    "Api": "gitcfg.api",
    "Run": "gitcfg.liverun",
    "define_metric": "gitcfg.liverun",
    "finish": "gitcfg.liverun",
    "init": "gitcfg.liverun",
    "log": "gitcfg.liverun",
    "Config": "gitcfg.runconfig",
    "Summary": "gitcfg.runsummary",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value
    if name in ("config", "summary", "run"):
        from gitcfg.liverun import active_run

        active = active_run()
        if name == "run":
            return active
        if active is None:
            return _NO_CONFIG if name == "config" else _NO_SUMMARY
        return active.config if name == "config" else active.summary
    if name.startswith("__") or _is_submodule(name):
        raise AttributeError(f"module 'gitcfg' has no attribute {name!r}")
    from gitcfg.wandbnames import module_attribute

    return module_attribute(name)


def _is_submodule(name: str) -> bool:
    """Whether ``name`` is one of gitcfg's modules, not yet imported: ``from gitcfg import
    listing`` asks this module for it first, and importing wandb's tables to answer costs every
    command ~5 ms."""
    import os

    here = os.path.dirname(__file__)
    return os.path.isfile(os.path.join(here, f"{name}.py")) or os.path.isfile(
        os.path.join(here, name, "__init__.py")
    )


class _Package(ModuleType):
    """The type of this module, for wandb's old quickstart, ``wandb.config = {...}`` after
    ``init``: a plain module global would hide the run's config and record nothing (wandb drops
    those values). While a run is active, assigning ``gitcfg.config`` or ``gitcfg.summary``
    updates the run's (a config with ``allow_val_change=True``: what the script goes on to read
    is what is recorded). Before ``init`` a ``config`` is kept, and ``init`` lays it beneath its
    own ``config=``; a ``summary`` is refused, as is any use of it before ``init``."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("config", "summary"):
            if value is _NO_CONFIG or value is _NO_SUMMARY:
                return  # gitcfg.config = gitcfg.config before init
            liverun = sys.modules.get("gitcfg.liverun")  # not loaded: no run yet
            if liverun is not None and liverun.assign_global(name, value):
                return
            if name == "summary":
                _NO_SUMMARY._refuse()
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
