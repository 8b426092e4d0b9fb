"""Lightning under its older package name: ``pytorch_lightning.Trainer(logger=GitcfgLogger())``.

The same logger as ``gitcfg.integrations.lightning``, on ``pytorch_lightning``'s base class.
"""

from __future__ import annotations

from pytorch_lightning.loggers import Logger

from gitcfg.integrations.lightningbase import GitcfgLoggerMethods

__all__ = ["GitcfgLogger"]


class GitcfgLogger(GitcfgLoggerMethods, Logger):
    """A pytorch_lightning logger that records the run in gitcfg; takes ``gitcfg.init``'s
    keywords."""
