"""gitcfg: run configs recorded as commits on a branch of your own git repository.

    import gitcfg
    run = gitcfg.init(config={"epochs": 4}, project="mnist")   # commits "create"
    gitcfg.config.batch_size = 32                              # committed at finish or exit
    run.finish()

``gitcfg.config`` and ``gitcfg.run`` follow the active run (module ``__getattr__``), so code that
reads them after ``init`` sees the run, like ``wandb.config``. Importing gitcfg loads no git or
YAML code: the store is loaded by the first ``init`` or ``Api``.
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
    InputError,
    InvalidNameError,
    KeyCollisionError,
    MergeConflictError,
    MissingExtraError,
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
from gitcfg.liverun import Run, finish, init
from gitcfg.runconfig import Config

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
    "InputError",
    "InvalidNameError",
    "KeyCollisionError",
    "MergeConflictError",
    "MissingExtraError",
    "ReadOnlyValueError",
    "RemoteError",
    "RepositoryError",
    "Run",
    "RunError",
    "RunExistsError",
    "RunNotFoundError",
    "SecretKeyError",
    "UnknownColumnError",
    "UnsupportedValueError",
    "UsageError",
    "ValueChangeError",
    "VersionNotFoundError",
    "YamlError",
    "__version__",
    "config",
    "finish",
    "init",
    "run",
]

if TYPE_CHECKING:
    config: Config
    run: Run | None


class _NoConfig:
    """``gitcfg.config`` before ``init``: every use says to call ``gitcfg.init()`` first."""

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UsageError("there is no active run; call gitcfg.init() first, then use gitcfg.config")

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)  # copy, pickle and IDEs probe dunders
        self._refuse()

    __getitem__ = __setitem__ = __delitem__ = __setattr__ = __delattr__ = _refuse
    __contains__ = __iter__ = __len__ = _refuse

    def __repr__(self) -> str:
        return "<gitcfg.config: no active run, call gitcfg.init() first>"


_NO_CONFIG = _NoConfig()


def __getattr__(name: str) -> Any:
    from gitcfg.liverun import active_run

    if name == "config":
        active = active_run()
        return _NO_CONFIG if active is None else active.config
    if name == "run":
        return active_run()
    raise AttributeError(f"module 'gitcfg' has no attribute {name!r}")
