"""The run one logger or callback records into: the user's own, or one it starts and owns.

As wandb's callbacks do, a logger or callback records into the run the user started with
``gitcfg.init`` when there is one, and starts a run otherwise (with the ``gitcfg.init`` keywords
it was given). It finishes only a run it started, and never at the end of a ``fit``: a Lightning
``trainer.test()`` or a Trainer's ``evaluate()`` after training still records into that run,
which is committed at exit, at the next training (transformers) or by ``gitcfg.finish()``.

A run a logger started is its own: a second logger (a second Trainer) starts a run of its own
rather than writing into the first one's. If a later ``gitcfg.init`` finished a logger's run and
the logger is used again, it continues that run (a new commit on it), so nothing is lost.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Mapping
from typing import Any

from gitcfg import liverun
from gitcfg.flat import flatten
from gitcfg.integrations.plain import deep_merge, plain_params
from gitcfg.liverun import Run

# Runs started by a logger or callback for itself: not the user's run, so others do not join it.
_PRIVATE: weakref.WeakSet[Run] = weakref.WeakSet()


class RunSession:
    """The run of one logger or callback.

    ``init_kwargs``: the keywords of ``gitcfg.init`` (``project``, ``name``, ``group``,
    ``tags``, ``config``, ...) used when this session starts a run. ``shared``: whether a run it
    starts is one that other loggers and the user's own ``gitcfg.init`` join (the Hydra job's
    run), rather than its own.
    """

    def __init__(self, init_kwargs: Mapping[str, Any], *, shared: bool = False) -> None:
        # A misspelt keyword fails where it is written, not at the first step of training.
        known = inspect.signature(liverun.init).parameters
        for name in init_kwargs:
            if name not in known or known[name].kind is inspect.Parameter.VAR_KEYWORD:
                raise TypeError(
                    f"unexpected keyword argument {name!r}; the keywords are gitcfg.init's: "
                    f"project, name, group, tags, notes, config, id, resume, ..."
                )
        self.init_kwargs = dict(init_kwargs)
        self.shared = shared
        self.run: Run | None = None
        self.owned = False
        self._step_base = 0  # added to the framework's steps (see log)

    @property
    def live(self) -> Run | None:
        """The run while it is open, else None (nothing is started)."""
        run = self.run
        return run if run is not None and not run.finished else None

    def ensure(self, config: Mapping[str, Any] | None = None) -> Run:
        """The run to record into, started or joined now if need be, with ``config`` (plain
        nested values from the framework) added to its config, over the values there."""
        run = self.live or self._join()
        if run is None:
            return self._start(config or {})
        if config:
            update_config(run, config)
        return run

    def log(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        """Log ``metrics`` to the run (summary and local history) at the framework's ``step``.

        A framework counts steps from 0 again in a new ``fit`` (a new Trainer, a second
        ``model.fit``), and the run joined may have steps of its own: such steps are moved
        past the run's current step instead of being dropped as steps from the past.
        """
        run = self.ensure()
        if step is None:
            run.log(dict(metrics))
            return
        if self._step_base + step < run.step:
            self._step_base = run.step + 1 - step
        run.log(dict(metrics), step=self._step_base + step)

    def new_run(self) -> None:
        """Let the next ``ensure`` start a fresh run: finish the one this session started (one
        run per training); a run it joined stays open and is recorded into again."""
        if self.owned:
            self.finish()
            self.run = None
            self.owned = False
            self._step_base = 0

    def persist(self) -> None:
        """Commit what changed in the run now, if it is open (one commit, none if unchanged)."""
        run = self.live
        if run is not None:
            run.config.persist()

    def finish(self) -> None:
        """Finish the run if this session started it; a joined run is left to its owner."""
        run = self.live
        if run is not None and self.owned:
            run.finish()

    def _join(self) -> Run | None:
        if self.run is not None and self.owned:
            return None  # ours, finished by someone else: continued by _start
        active = liverun.active_run()
        if active is None or active.finished or active in _PRIVATE:
            return None
        self.run, self.owned = active, False
        return active

    def _start(self, config: Mapping[str, Any]) -> Run:
        previous = self.run
        if previous is not None and self.owned:
            # ours, finished by a later gitcfg.init (another logger's run): continue it
            run = liverun.init(
                id=previous.id,
                project=previous.project,
                repo=self.init_kwargs.get("repo"),
                resume="must",
                reinit="finish_previous",
            )
            self.run = run
            if not self.shared:
                _PRIVATE.add(run)
            if config:
                update_config(run, config)
            return run
        given = self.init_kwargs.get("config")
        merged = deep_merge(plain_params(given, what="config value"), config)
        # A run of its own: the open run (another logger's) is finished first, as before wandb's
        # return_previous became init's default.
        run = liverun.init(**{"reinit": "finish_previous", **self.init_kwargs, "config": merged})
        self.run, self.owned = run, True
        if not self.shared:
            _PRIVATE.add(run)
        return run


def update_config(run: Run, config: Mapping[str, Any]) -> None:
    """Set ``config`` over the run's values: the framework's latest values win, and a key whose
    shape changed (``data: None`` now, ``data.path`` before) replaces the old one."""
    current = run.config.flat()
    for key in flatten(config):
        stale = [
            old
            for old in current
            if old.startswith(key + ".") or key.startswith(old + ".")  # leaf <-> branch
        ]
        for old in stale:
            del run.config[old]
            current.pop(old)
    run.config.update(config, allow_val_change=True)
