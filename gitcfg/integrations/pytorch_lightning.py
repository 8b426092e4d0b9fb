"""Lightning under its older package name: ``pytorch_lightning.Trainer(logger=GitcfgLogger())``.

The same logger as ``gitcfg.integrations.lightning``, on ``pytorch_lightning``'s base class.
"""

from __future__ import annotations

from typing import Any

from pytorch_lightning.loggers import Logger
from pytorch_lightning.loggers.logger import rank_zero_experiment  # type: ignore[attr-defined]

from gitcfg.integrations.lightningbase import GitcfgLoggerMethods

__all__ = ["GitcfgLogger"]


class GitcfgLogger(GitcfgLoggerMethods, Logger):
    """A pytorch_lightning logger that records the run in gitcfg; takes ``gitcfg.init``'s
    keywords."""

    @property
    @rank_zero_experiment
    def experiment(self) -> Any:
        """The gitcfg run (``run.config``, ``run.summary``, ``run.log``), started if need be;
        off rank 0 a stand-in that does nothing."""
        return self._session.ensure()
