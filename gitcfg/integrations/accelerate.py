"""Hugging Face accelerate: ``Accelerator(log_with=GitcfgTracker(project="lm"))``.

For training loops written with ``accelerate`` rather than the ``Trainer`` (which takes
``gitcfg.integrations.transformers.GitcfgCallback``): ``init_trackers(..., config=...)`` records
the config, ``accelerator.log(values, step=...)`` the summary and local history, and
``end_training()`` finishes the run if the tracker started it. accelerate calls trackers on the
main process only, so ``accelerate launch`` records one run.
"""

from __future__ import annotations

from typing import Any

from accelerate.tracking import GeneralTracker

from gitcfg.integrations.plain import plain_params
from gitcfg.integrations.session import RunSession

__all__ = ["GitcfgTracker"]


class GitcfgTracker(GeneralTracker):  # type: ignore[misc]
    """An accelerate tracker that records the run in gitcfg; takes ``gitcfg.init``'s keywords
    (``project``, ``name``, ``group``, ``tags``, ``config``, ...)."""

    name = "gitcfg"
    requires_logging_directory = False
    main_process_only = True

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self._session = RunSession(init_kwargs)

    @property
    def tracker(self) -> Any:
        """The gitcfg run (started on first use)."""
        return self._session.ensure()

    def store_init_configuration(self, values: dict[str, Any]) -> None:
        self._session.ensure(plain_params(values, what="config value"))

    def log(self, values: dict[str, Any], step: int | None = None, **kwargs: Any) -> None:
        self._session.log(values, step)

    def finish(self) -> None:
        self._session.persist()
        self._session.finish()
