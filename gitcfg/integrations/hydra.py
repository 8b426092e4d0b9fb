"""Hydra: every job's resolved config recorded as a run, enabled in YAML, the task unchanged.

    hydra:
      callbacks:
        gitcfg:
          _target_: gitcfg.integrations.hydra.GitcfgCallback
          project: my-project          # any gitcfg.init keyword: name, group, tags, config...

Each job (one with ``python app.py``, one per job with ``--multirun``) is a run whose config is the
job's config with interpolations resolved and without ``hydra.*`` (what the task function
receives). A multirun's jobs share the sweep's directory (``hydra.sweep.dir``) as their group
unless ``group:`` is given. The run's id, project and store path are written to ``gitcfg.yaml``
in the job's output directory. A task that calls ``gitcfg.init()`` itself continues the job's run
(``GITCFG_RUN_ID`` is set while the job runs), and loggers join it; the run is finished when the
job ends.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from hydra.types import RunMode, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from gitcfg.integrations.session import RunSession
from gitcfg.liverun import active_run

RUN_FILE = "gitcfg.yaml"  # in each job's output directory
_ENV = ("GITCFG_RUN_ID", "GITCFG_PROJECT")


class GitcfgCallback(Callback):
    """Records each Hydra job as a gitcfg run; ``init_kwargs`` are ``gitcfg.init``'s keywords."""

    def __init__(self, **init_kwargs: Any) -> None:
        # YAML lists and mappings arrive as OmegaConf nodes: tags, config
        self.init_kwargs = {
            key: OmegaConf.to_container(value, resolve=True)
            if OmegaConf.is_config(value)
            else value
            for key, value in init_kwargs.items()
        }
        self._session: RunSession | None = None
        self._saved_env: dict[str, str | None] = {}

    def on_job_start(
        self, config: DictConfig, *, task_function: TaskFunction | None = None, **kwargs: Any
    ) -> None:
        hydra = HydraConfig.get()
        options = dict(self.init_kwargs)
        if hydra.mode == RunMode.MULTIRUN:
            options.setdefault("group", str(hydra.sweep.dir))
        options.setdefault("name", hydra.job.override_dirname or hydra.job.name)
        self._session = RunSession(options, shared=True)
        run = self._session.ensure(job_config(config))
        _write_run_file(Path(hydra.runtime.output_dir), run)
        # The task's own gitcfg.init() attaches to this run (and a subprocess it starts, too).
        self._saved_env = {name: os.environ.get(name) for name in _ENV}
        os.environ["GITCFG_RUN_ID"] = run.id
        os.environ["GITCFG_PROJECT"] = run.project

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}
        session, self._session = self._session, None
        if session is None or session.run is None:
            return
        # The task's own gitcfg.init() continued the job's run in a Run object of its own.
        current = active_run()
        run = session.live
        if current is not None and current.path == session.run.path:
            run = current
        if run is None:
            return
        value = job_return.return_value if job_return.status == JobStatus.COMPLETED else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            run.summary["return_value"] = value  # what Hydra's sweepers optimise
        if session.owned:
            run.finish()


def job_config(config: DictConfig) -> dict[str, Any]:
    """What the task function receives, as plain data: no ``hydra`` node, all resolved."""
    task = copy.deepcopy(config)
    with open_dict(task):
        task.pop("hydra", None)
    container = OmegaConf.to_container(task, resolve=True)
    if not isinstance(container, dict):  # a Hydra job's config is always a mapping
        raise TypeError(f"a Hydra job config is a mapping, got {type(container).__name__}")
    return {str(key): value for key, value in container.items()}


def _write_run_file(directory: Path, run: Any) -> None:
    from gitcfg.yamlcodec import dump_yaml

    directory.mkdir(parents=True, exist_ok=True)
    where = {"id": run.id, "project": run.project, "path": run.path}
    if not getattr(run, "disabled", False):  # mode="disabled" records nothing, has no store
        where["git_path"] = run.git_path
    text = dump_yaml(where)
    (directory / RUN_FILE).write_text(text, encoding="utf-8")
