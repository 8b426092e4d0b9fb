"""gitcfg: run configs recorded as commits on a branch of your own git repository.

    import gitcfg
    run = gitcfg.init(config={"epochs": 4}, project="mnist")   # commits "create"
    gitcfg.config.batch_size = 32                              # committed at finish or exit
    gitcfg.log({"loss": 0.25})                                 # summary + local history
    run.finish()

``gitcfg.config``, ``gitcfg.summary`` and ``gitcfg.run`` follow the active run (module
``__getattr__``), so code that reads them after ``init`` sees the run, like ``wandb.config``.
The same ``__getattr__`` serves wandb's names that mean nothing here (``watch``, ``Image``...)
as no-ops that warn once (``gitcfg.wandbnames``); they are not part of gitcfg's API.
Importing gitcfg loads no git or YAML code: the store is loaded by the first ``init`` or ``Api``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from gitcfg.api import Api
from gitcfg.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    ConfigAttributeError,
    ConfigError,
    ConfigKeyError,
    CorruptStoreError,
    DuplicateKeyError,
    GitcfgError,
    HistoryNotFoundError,
    InputError,
    InvalidNameError,
    KeyCollisionError,
    MergeConflictError,
    ReadOnlyValueError,
    RemoteError,
    RepositoryError,
    RunError,
    RunExistsError,
    RunNotFoundError,
    SecretKeyError,
    UnknownColumnError,
    UnsupportedValueError,
    UsageError,
    ValueChangeError,
    VersionNotFoundError,
    YamlError,
)
from gitcfg.liverun import Run, define_metric, finish, init, log
from gitcfg.runconfig import Config
from gitcfg.runsummary import Summary

__version__ = "0.1.0"

__all__ = [
    "AmbiguousRunError",
    "Api",
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
    "InvalidNameError",
    "KeyCollisionError",
    "MergeConflictError",
    "ReadOnlyValueError",
    "RemoteError",
    "RepositoryError",
    "Run",
    "RunError",
    "RunExistsError",
    "RunNotFoundError",
    "SecretKeyError",
    "Summary",
    "UnknownColumnError",
    "UnsupportedValueError",
    "UsageError",
    "ValueChangeError",
    "VersionNotFoundError",
    "YamlError",
    "__version__",
    "config",
    "define_metric",
    "finish",
    "init",
    "log",
    "run",
    "summary",
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


_NO_CONFIG = _NoConfig()
_NO_SUMMARY = _NoConfig("summary")


def __getattr__(name: str) -> Any:
    from gitcfg.liverun import active_run

    if name == "config":
        active = active_run()
        return _NO_CONFIG if active is None else active.config
    if name == "summary":
        active = active_run()
        return _NO_SUMMARY if active is None else active.summary
    if name == "run":
        return active_run()
    if name.startswith("__"):
        raise AttributeError(f"module 'gitcfg' has no attribute {name!r}")
    from gitcfg.wandbnames import module_attribute

    return module_attribute(name)
