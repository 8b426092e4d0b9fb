"""Lightning: ``Trainer(logger=GitcfgLogger(project="mnist"))`` records the run.

``save_hyperparameters()``'s values become the run's config, logged metrics its summary and local
history; ``trainer.logger.version`` is the run id. See ``gitcfg.integrations.lightningbase``.
For the older package name, use ``gitcfg.integrations.pytorch_lightning``.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch.loggers import Logger
from lightning.pytorch.loggers.logger import rank_zero_experiment  # type: ignore[attr-defined]

from gitcfg.integrations.lightningbase import GitcfgLoggerMethods

__all__ = ["GitcfgLogger"]


class GitcfgLogger(GitcfgLoggerMethods, Logger):
    """A Lightning logger that records the run in gitcfg; takes ``gitcfg.init``'s keywords."""

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The gitcfg run (``run.config``, ``run.summary``, ``run.log``), started if need be;
        off rank 0 a stand-in that does nothing."""
        return self._session.ensure()
