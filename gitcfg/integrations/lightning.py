"""Lightning: ``Trainer(logger=GitcfgLogger(project="mnist"))`` records the run.

``save_hyperparameters()``'s values become the run's config, logged metrics its summary and local
history; ``trainer.logger.version`` is the run id. See ``gitcfg.integrations.lightningbase``.
For the older package name, use ``gitcfg.integrations.pytorch_lightning``.
"""

from __future__ import annotations

from lightning.pytorch.loggers import Logger

from gitcfg.integrations.lightningbase import GitcfgLoggerMethods

__all__ = ["GitcfgLogger"]


class GitcfgLogger(GitcfgLoggerMethods, Logger):
    """A Lightning logger that records the run in gitcfg; takes ``gitcfg.init``'s keywords."""
