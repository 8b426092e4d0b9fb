"""What ``GitcfgLogger`` does, for both package names of Lightning.

``lightning`` and ``pytorch_lightning`` each have their own ``Logger`` base class, and a Trainer
accepts only loggers of its own package, so ``gitcfg.integrations.lightning`` and
``gitcfg.integrations.pytorch_lightning`` each put this behaviour on their package's base class.
Both packages share ``lightning_utilities``' process rank, which decides who records.
"""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from lightning_utilities.core.rank_zero import rank_zero_only

from gitcfg.integrations.plain import plain_params
from gitcfg.integrations.session import RunSession


def _rank_zero() -> bool:
    # Set by the Trainer (0 outside distributed training): only the main process records.
    return int(getattr(rank_zero_only, "rank", 0) or 0) == 0


class GitcfgLoggerMethods:
    """The logger's behaviour; ``init_kwargs`` are ``gitcfg.init``'s keywords (``project``,
    ``name``, ``group``, ``tags``, ``config``, ...), used when the logger starts a run."""

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self._session = RunSession(init_kwargs)

    @property
    def name(self) -> str | None:
        """The run's project."""
        run = self._session.run
        if run is not None:
            return run.project
        project = self._session.init_kwargs.get("project")
        return str(project) if project else None

    @property
    def version(self) -> str | None:
        """The run's id (the run starts here if nothing started it yet); None off rank 0."""
        if not _rank_zero():
            return None
        return self._session.ensure().id

    @property
    def save_dir(self) -> str | None:
        return None  # the run lives on the store branch, not in a directory

    def log_hyperparams(self, params: Mapping[str, Any] | Namespace, *args: Any, **kw: Any) -> None:
        """``save_hyperparameters()``'s values (nested Namespace, dict, dataclass, OmegaConf)
        go to the run's config; a value a config cannot hold is left out with a warning."""
        if not _rank_zero():
            return
        self._session.ensure(plain_params(params))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Metrics go to the run's summary and local history at ``step``."""
        if not _rank_zero():
            return
        self._session.log(metrics, step)

    def save(self) -> None:
        """Nothing: Lightning calls this after every ``log_metrics``; commits happen at the end
        of each stage (``finalize``) and at exit."""

    def finalize(self, status: str) -> None:
        """Commit what changed at the end of ``fit``/``test``; the run stays open, so a later
        ``trainer.test()`` or ``fit()`` records into it."""
        if _rank_zero():
            self._session.persist()
