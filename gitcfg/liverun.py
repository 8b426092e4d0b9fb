"""The run this process records: ``gitcfg.init``, ``gitcfg.log``, ``gitcfg.finish`` and ``Run``.

``init`` commits the run at once ("create"), or attaches to an existing run (``resume=``, or
``GITCFG_RUN_ID`` set by a parent such as ``gitcfg run``). Later changes to ``run.config``,
``run.summary`` (fed by ``log``) and ``run.name``/``notes``/``tags`` are committed together as
one commit per flush: at ``finish()``, ``config.persist()``, and at exit or SIGTERM/SIGINT
(``gitcfg.flush``). Each flush passes the last committed version as the base, so another
process's edit of other keys of the same run is kept, and its edit of the same key is a conflict.
The per-step history of ``log`` goes to a local file (``gitcfg.history``), never to the branch.

Several runs may be open in one process (``reinit="create_new"``), each logging and finishing on
its own; ``gitcfg.run`` (and ``gitcfg.log``/``config``/``summary``) follow the global run, which
only ``init`` without ``create_new`` sets, as in wandb. At exit or a deadly signal every open
run is finished with the process's exit status (``gitcfg.flush``), recorded in ``meta.yaml``.

A run may be used from other processes, as wandb's is: a forked child's copy of a run, and a run
unpickled in another process (passed to a spawn or forkserver child), are *handles* on it. As
wandb's attached processes send everything at once, a handle writes each logged row to the
history at once and commits its config and summary changes as they are made (multiprocessing
ends its children with ``os._exit`` or SIGTERM, past any exit hook); its logged values are
committed at its end (exit, multiprocessing's finalizers), ``persist()`` or ``finish()``, and
by the process that started the run, whose summary takes in the values the others logged
(``gitcfg.results``). A handle commits only what its own process changed, and never finishes
the run nor records an exit status: the process that started it does. A forked child that does
not use the run (a DataLoader worker) commits nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from gitcfg import flush
from gitcfg.defaults import config_paths, load_layers, overlay
from gitcfg.errors import (
    GitcfgError,
    RepositoryError,
    RunExistsError,
    SecretKeyError,
    UsageError,
)
from gitcfg.flat import is_secret, secrets_allowed
from gitcfg.results import Metric, Recorder
from gitcfg.runconfig import Config, _flat_items
from gitcfg.runsummary import Summary
from gitcfg.runview import RunView, meta_copy
from gitcfg.sources import select_keys, to_mapping

if TYPE_CHECKING:
    from gitcfg.history import HistoryFile
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore, UpdateResult

_active: Run | None = None  # the global run: gitcfg.run, gitcfg.log, gitcfg.config
_open: list[Run] = []  # every run of this process not finished yet, oldest first
_active_lock = threading.RLock()
# exit statuses of finished runs whose status a parent records (see Run._parent_records_status)
_parent_statuses: dict[str, int] = {}

RESUME_MODES = ("allow", "must", "never", "auto")
MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")
REINIT = ("default", "return_previous", "finish_previous", "create_new")


class Run(RunView):
    """A run recorded by this process: ``config``, ``summary``, ``log``, ``finish``...

    ``disabled`` (``mode="disabled"``): a working run object that records nothing.
    """

    def __init__(
        self,
        store: ConfigStore | None,
        ref: RunRef,
        config: Config,
        meta: dict[str, Any],
        commit: str,
        *,
        summary: Summary | None = None,
        start_step: int = 0,
        resumed: bool = False,
        run_dir: str | None = None,
        entity: str | None = None,
        history: HistoryFile | None = None,
    ) -> None:
        self._store = store
        self._store_pid = os.getpid()  # a child opens a store of its own (git processes, locks)
        # A handle on a run another process started (see the module docstring): it commits
        # what its process changed and never finishes the run.
        self._handle = False
        self._shared = False  # other processes may change it too: see _summary_base
        self.ref = ref
        self._config = config
        self.meta = meta
        self._meta_base = meta_copy(meta)
        self.commit = commit  # the latest commit that recorded this run ("" when disabled)
        self.finished = False
        self._ending = False  # finish has begun: its commit is the run's last (gitcfg.pending)
        self.resumed = resumed
        self.entity = entity
        self._dir = run_dir
        self._dir_shared = 0  # core.sharedRepository, for a run directory in the git directory
        self.start_time = time.time()  # epoch seconds, as wandb's run.start_time
        self.starting_step = start_step  # the step this process's first log records
        # True when the process that started us (gitcfg run, wandb.agent) records our status
        self._parent_records_status = False
        self._resume_file: Path | None = None  # resume="auto": removed by a clean finish
        self._settings: Any = None
        self._summary = summary if summary is not None else Summary()
        if store is not None and history is None:
            history = _history_of(store, ref)
            history.mark_end()
        self._recorder = Recorder(self._summary, history, start_step)
        # bound once, so that a log call costs one function call
        self.log = self._recorder.log  # type: ignore[method-assign]
        config._persist = self._flush

    # Properties without a working setter, as wandb's run.config: ``run.config = {...}`` would
    # leave the run recording a plain dict, and its finish failing (everything lost).
    @property
    def config(self) -> Config:
        """The run's config: change it in place (``run.config.update({...})``)."""
        return self._config

    @config.setter
    def config(self, value: Any) -> None:
        _refuse_replacing("config")

    @property
    def summary(self) -> Summary:
        """The run's results: change them in place (``run.summary["best"] = 0.9``)."""
        return self._summary

    @summary.setter
    def summary(self, value: Any) -> None:
        _refuse_replacing("summary")

    @property
    def store(self) -> ConfigStore:  # type: ignore[override]
        if self._store is None:
            raise UsageError(
                f"run {self.ref} was started with mode='disabled' and has no store; "
                f"start it without mode='disabled' to record it"
            )
        if self._store_pid != os.getpid():  # a forked child's copy of its parent's store
            from gitcfg.store import ConfigStore

            self._store = ConfigStore.open(self._store.repo.cwd, branch=self._store.branch)
            self._store_pid = os.getpid()
        return self._store

    @property
    def disabled(self) -> bool:
        """True for ``mode="disabled"``: nothing is recorded."""
        return self._store is None

    @property
    def mode(self) -> str:
        return "disabled" if self.disabled else "online"

    @property
    def offline(self) -> bool:
        return False

    @property
    def step(self) -> int:
        """The step the next ``log`` call records."""
        return self._recorder.step

    @property
    def sweep_id(self) -> str | None:
        """The sweep this run belongs to (``meta.yaml``), None outside a sweep."""
        value = self.meta.get("sweep_id")
        return value if isinstance(value, str) else None

    @property
    def url(self) -> str:
        """Where to see the run: the command that shows it (there is no server)."""
        return f"gitcfg show {self.ref}"

    def get_url(self) -> str:
        """``run.url`` (wandb's older method)."""
        return self.url

    @property
    def project_url(self) -> str:
        """Where to see the run's project: the command that lists its runs."""
        return f"gitcfg runs --project {self.project}"

    def get_project_url(self) -> str:
        """``run.project_url`` (wandb's older method)."""
        return self.project_url

    @property
    def sweep_url(self) -> str | None:
        """The command that lists the runs of this run's sweep; None outside a sweep."""
        sweep = self.sweep_id
        if sweep is None:
            return None
        return f"gitcfg runs --project {self.project} --where group={sweep}"

    def get_sweep_url(self) -> str | None:
        """``run.sweep_url`` (wandb's older method)."""
        return self.sweep_url

    def project_name(self) -> str:
        """``run.project`` (wandb's older method)."""
        return self.project

    @property
    def settings(self) -> Any:
        """The run's settings as wandb names them (``mode``, ``project``, ``run_id``...), over
        the ``settings`` given to ``init``; an unknown setting reads as None."""
        from gitcfg.wandbnames import Settings, setting_items

        return Settings(
            **setting_items(self._settings),
            mode=self.mode,
            project=self.project,
            run_id=self.id,
            run_name=self.name,
            run_notes=self.notes,
            run_tags=self.tags,
            run_group=self.group,
            run_job_type=self.job_type,
            entity=self.entity,
            sweep_id=self.sweep_id,
            resumed=self.resumed,
        )

    @property
    def sync_dir(self) -> str:
        """The run's local directory, as ``run.dir``: there is nothing to sync."""
        return self.dir

    @property
    def config_static(self) -> ConfigStatic:
        """A read-only copy of the config, by key or attribute (wandb's ``ConfigStatic``)."""
        return ConfigStatic(self.config.as_dict())

    @property
    def dir(self) -> str:
        """A local directory for the run's own files (created on first use, never committed):
        ``dir=`` of ``init``, else ``<git dir>/gitcfg/files/<project>/<id>``."""
        if self._dir is None:
            if self._store is None:
                import tempfile

                self._dir = tempfile.mkdtemp(prefix=f"gitcfg-{self.id}-")
            else:
                common = self._store.repo.common_dir
                self._dir = str(common / "gitcfg" / "files" / self.project / self.id)
                self._dir_shared = self._store.repo.shared
        from gitcfg.git.perms import make_dirs

        # in the git directory, shared as git shares its own files (core.sharedRepository)
        make_dirs(self._dir, self._dir_shared)
        return self._dir

    def __repr__(self) -> str:
        return f"<gitcfg.Run {self.ref}>"

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record results: each key's value goes to the summary and to the local history.

        Numbers, strings, bools and None are kept (numpy/torch one-element values become
        numbers); anything else is skipped with one warning per key. ``commit=False`` adds to
        the current step; ``step=N`` names the step. No git work happens here. (Replaced by
        the recorder's bound method in ``__init__``.)
        """
        self._recorder.log(data, step, commit)

    def _log_after_finish(self, *args: Any, **kwargs: Any) -> None:
        raise UsageError(f"run {self.ref} is finished; call gitcfg.init() for a new run")

    def _log_now(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        # A handle's log: the row is written at once, as the process may end with os._exit
        # (multiprocessing's children do), and the run's own process sums it up then.
        recorder = self._recorder
        recorder.log(data, step, commit)
        recorder.write()

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        **options: Any,
    ) -> Metric:
        """What the summary keeps for ``name`` (``"min"``, ``"max"``, ``"mean"``, ``"first"``,
        ``"last"``, ``"best"`` with ``goal``, ``"none"``), as wandb's ``define_metric``."""
        return self._recorder.define_metric(name, step_metric, summary, goal, **options)

    def _flush(self, message: str | None = None) -> str | None:
        """Write the buffered history and commit what changed since the last commit."""
        with flush.critical():
            # a handle's rows are written already; the values others logged are not its to
            # commit (a DataLoader worker at its end reads nothing)
            self._recorder.write(sync=not self._handle)
            if self._store is None:
                return None
            return self._commit_pending(message)

    def _summary_base(self, unsets: bool) -> Mapping[str, Any] | None:
        # Results that several processes log are the latest one's (as wandb keeps them), not
        # a conflict; a removal still goes against the version it started from.
        if (self._shared or self._recorder.shared) and not unsets:
            return None
        return self.summary._base

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit what changed and end the run; ``gitcfg.config`` is unset again if this was
        the global run.

        ``exit_code`` (default 0; non-zero marks a failed run, as in wandb): a non-zero one is
        recorded as ``exit_status`` in ``meta.yaml`` in the same commit (0 only over an earlier
        failure of a resumed run). ``quiet`` has no effect.
        """
        global _active
        status = 0 if exit_code is None else int(exit_code)
        with _active_lock:
            if self.finished:
                return
            self._ending = True
            self._recorder.close()
            with flush.critical():
                self._recorder.write(sync=not self._handle)
                if self._store is not None:
                    if self._handle:  # its process's changes; the run goes on elsewhere
                        self._commit_pending(None)
                    else:
                        self._commit_pending(None, self._ending_meta(status))
                        self._forget_resume(status)
            self.finished = True
            self.log = self._log_after_finish  # type: ignore[method-assign]
            self.config._closed = f"run {self.ref} is finished; call gitcfg.init() for a new run"
            self.summary._on_change = None  # a handle's later summary changes stay here
            if self in _open:
                _open.remove(self)
            if _active is self:
                _active = None

    join = finish  # wandb's older name of finish

    def _ending_meta(self, status: int) -> dict[str, Any]:
        """What ``finish`` records in ``meta.yaml``: the exit status, unless a parent does."""
        if self._parent_records_status:
            # A run attached through GITCFG_RUN_ID belongs to a parent that records how the
            # program ended: ``gitcfg run`` writes the process's exit status after the child
            # is gone, and that one wins (a script may finish its run, then crash or be
            # killed; only the parent sees that). Writing ours too would leave two statuses
            # in the run's history. ``wandb.agent`` (same process) reads ours from here.
            _parent_statuses[str(self.ref)] = status
            return {}
        if self.meta.get("exit_status") == status and "exit_status" in self._meta_base:
            return {}  # a resumed run that ends as it ended before: nothing new to commit
        if status == 0 and "exit_status" not in self.meta:
            # A clean end is recorded only as the absence of a failure: writing 0 would cost
            # a run that logs nothing a commit of its own, doubling what recording it costs
            # (SPEC §6). A resumed run that failed before and ends well now says so.
            return {}
        self.meta["exit_status"] = status
        return {"exit_status": status}

    def _forget_resume(self, status: int) -> None:
        # A run that ended well is no longer one to resume (wandb removes its resume file too).
        if status == 0 and self._resume_file is not None:
            from gitcfg.resumefile import forget

            forget(self._resume_file, self.id)

    def _update(
        self, run: RunRef, set_values: Mapping[str, Any], unset: Sequence[str], **options: Any
    ) -> UpdateResult:
        try:
            return super()._update(run, set_values, unset, **options)
        except RepositoryError as error:
            if not self._ending:
                raise  # the run goes on: its next flush commits the change
            # the run's last commit: nobody is left to retry it, so a change the branch
            # cannot take now is kept until it can (gitcfg.pending)
            from gitcfg.pending import keep_at_end

            return keep_at_end(self.store, error, run, set_values, unset, **options)

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.finish()
            return
        try:  # the block's own exception is what the user needs to see
            # failed, as wandb's context manager marks it (with the status the shell would see)
            self.finish(exit_code=flush.status_of(exc))
        except GitcfgError as error:
            _warn(self, error)

    def __getattr__(self, name: str) -> Any:
        # wandb's Run methods that mean nothing here (watch, save, log_artifact...): no-ops
        from gitcfg.wandbnames import run_noop

        return run_noop(name)

    # -- other processes -------------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """A pickled run is a handle on it: unpickled in another process (a spawn or
        forkserver child), it records into this run, as wandb's run attaches there."""
        if self._store is None:
            return _disabled_copy, (self.project, self.id, self.config.flat(), dict(self.meta))
        store = self._store
        self._hand_over()
        return _handle_of, (str(store.repo.cwd), store.branch, self.project, self.id)

    def __copy__(self) -> Run:
        return self  # one run, as wandb's deepcopy of a run

    def __deepcopy__(self, memo: dict[int, Any]) -> Run:
        return self

    def _hand_over(self) -> None:
        """Before another process uses this run: its rows so far come before that one's, and
        the config it will read is committed."""
        self._shared = True
        if self.finished:
            return
        try:
            with flush.critical():
                self._recorder.write()
                if self.config._pending() != ({}, []):
                    self._commit_pending(None)
        except GitcfgError as error:  # the hand-over goes on; the change waits for finish
            _warn(self, error)

    def _adopt(self) -> None:
        """In a forked child: this copy becomes a handle on the parent's run. What the parent
        had not written or committed is the parent's; the child starts from it."""
        self._recorder.drop()
        # the parent's threads may have held these at the fork; the child has one thread
        config, summary = self.config, self.summary
        config._lock = threading.RLock()
        summary._lock = threading.RLock()
        config._committed(config.flat())
        summary._committed(dict(summary._data))
        self._meta_base = meta_copy(self.meta)
        self._become_handle()

    def _become_handle(self) -> None:
        """This object, in a process that did not start the run, is a handle on it."""
        self._handle = True
        self._shared = True
        self._recorder.own = False
        self.config._on_change = self.summary._on_change = self._commit_now
        if not self.finished:
            self.log = self._log_now  # type: ignore[method-assign]

    def _commit_now(self) -> None:
        # A handle's config and summary changes are committed as they are made, as wandb sends
        # them at once: its process may end with os._exit, or a SIGTERM it does not handle
        # (see gitcfg.flush), and nothing of it runs after that.
        try:
            with flush.critical():
                self._commit_pending(None)
        except GitcfgError as error:  # the change stays pending, for the handle's next commit
            _warn(self, error)


def _refuse_replacing(name: str) -> NoReturn:
    raise AttributeError(
        f"run.{name} cannot be replaced (nor in wandb); change its values in place: "
        f"run.{name}.update({{...}}) or run.{name}[key] = value"
    )


class ConfigStatic(Mapping[str, Any]):
    """``run.config_static``: a read-only copy of the config, by key or by attribute."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", dict(data))

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("config_static is read-only; set values through run.config")

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"<gitcfg ConfigStatic {self._data!r}>"


def init(
    config: Any = None,
    *,
    project: str | None = None,
    id: str | None = None,
    name: str | None = None,
    notes: str | None = None,
    tags: Sequence[str] | None = None,
    repo: str | os.PathLike[str] | None = None,
    config_exclude_keys: Collection[str] | None = None,
    config_include_keys: Collection[str] | None = None,
    allow_val_change: bool = False,
    group: str | None = None,
    job_type: str | None = None,
    resume: bool | str | None = None,
    mode: str | None = None,
    entity: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    reinit: Any = None,
    settings: Any = None,
    save_code: bool | None = None,
    sync_tensorboard: bool | None = None,
    tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    magic: Any = None,
    anonymous: str | None = None,
    force: bool | None = None,
    resume_from: str | None = None,
    fork_from: str | None = None,
) -> Run:
    """Start a run and commit its config ("create"); returns the ``Run``, also ``gitcfg.run``.

    ``config``: a dict, argparse Namespace, absl/tf FLAGS, dataclass, pydantic model, OmegaConf
    DictConfig, object with attributes, or YAML file path; it goes over the defaults files
    (``gitcfg.defaults``). ``repo``: the repository that keeps the runs (default ``$GITCFG_REPO``,
    else the one of the working directory). ``project``: default ``$GITCFG_PROJECT`` (then
    ``$WANDB_PROJECT``), else the repository's directory name. ``id``: default 8 random base-36
    characters; an existing id is refused unless ``resume`` says to continue it.
    ``allow_val_change``: let later writes change existing values.
    ``name``, ``notes``, ``tags``, ``group``, ``job_type`` are stored in ``meta.yaml``.

    ``resume`` (``"allow"``, ``"auto"``, True: continue the run ``id`` if it exists, else create
    it; ``"must"``: it must exist; ``"never"``/None: it must not; ``"auto"``/True without an
    ``id``: continue the project's last such run that did not finish cleanly, if any).
    Continuing a run keeps its stored config values over this call's ``config`` and the
    defaults files (new keys are added); later changes are new commits on it.
    ``GITCFG_RUN_ID`` (set by ``gitcfg run``) attaches the same way. ``mode="disabled"``
    records nothing and returns a working run.
    ``mode="shared"`` (also in ``settings``) with an ``id`` attaches like ``resume="allow"``.
    ``reinit``: while a run is open, ``init`` returns it (None, ``"default"``,
    ``"return_previous"``; the arguments not applied are named on stderr), finishes the open
    runs and starts a new one (True, ``"finish_previous"``), or starts another beside them
    (``"create_new"``, which leaves ``gitcfg.run`` as it is). The other keywords of
    ``wandb.init`` (``entity``, ``settings``, ``save_code``, ``sync_tensorboard``,
    ``monitor_gym``, ``magic``, ``anonymous``, ...) are accepted and have no effect; ``dir``
    sets ``run.dir``.
    """
    env = _Env()
    from gitcfg.wandbnames import setting

    mode = mode or setting(settings, "mode") or env.get("MODE")
    if mode is not None and mode not in MODES:
        raise UsageError(f"init(mode={mode!r}): use 'online', 'offline' or 'disabled'")
    reinit_mode = _reinit_mode(reinit if reinit is not None else setting(settings, "reinit"))
    env_attach = id is None and bool(os.environ.get("GITCFG_RUN_ID"))
    run_id = id or env.get("RUN_ID")
    if env_attach:
        # the parent that set GITCFG_RUN_ID named the run: its project wins over the script's
        project = os.environ.get("GITCFG_PROJECT") or project
    # wandb's shared mode: processes that name the same id log to one run
    shared = mode == "shared" and run_id is not None
    resume_given = resume if resume is not None else env.get("RESUME")
    resume_mode = _resume_mode(resume_given, env_attach or shared)
    if env_attach and reinit is None and any(r.id == run_id for r in _open):
        # The run this process opened for the program (Hydra's job run, through GITCFG_RUN_ID):
        # the program's own init continues it in a run object of its own, its config merged,
        # as it always did (not wandb's "return the open run, ignore the arguments").
        reinit_mode = "finish_previous"
    previous = _previous_run(
        reinit_mode,
        resume_given,
        _given(
            config=config,
            project=project if not env_attach else None,
            id=id,
            name=name,
            notes=notes,
            tags=tags,
            group=group,
            job_type=job_type,
            resume=resume,
            mode=mode,
            dir=dir,
            config_exclude_keys=config_exclude_keys,
            config_include_keys=config_include_keys,
            allow_val_change=allow_val_change or None,
        ),
    )
    if previous is not None:
        return previous
    tags = tags if tags is not None else _env_tags(env.get("TAGS"))
    meta = _meta(
        name=name if name is not None else env.get("NAME"),
        notes=notes if notes is not None else env.get("NOTES"),
        tags=tags,
        group=group if group is not None else env.get("RUN_GROUP"),
        job_type=job_type if job_type is not None else env.get("JOB_TYPE"),
    )
    # Everything that can be refused is checked before anything is committed.
    chosen = select_keys(to_mapping(config), config_include_keys, config_exclude_keys)
    flat: dict[str, Any] = {}
    for layer in load_layers(config_paths()):
        flat = overlay(flat, _flat_items(layer, ""))
    if reinit_mode != "create_new":  # the run that gitcfg.config is going to follow
        assigned = _assigned_config()
        if assigned:
            assigned = select_keys(assigned, config_include_keys, config_exclude_keys)
            flat = overlay(flat, _flat_items(assigned, ""))
    flat = overlay(flat, _flat_items(chosen, ""))
    if not secrets_allowed():
        for key, value in flat.items():
            if is_secret(key, value):
                raise SecretKeyError(key)
    run_dir = os.fspath(dir) if dir is not None else None
    if mode == "disabled":
        run = _start_disabled(
            project or env.get("PROJECT"), run_id, flat, meta, allow_val_change, run_dir, entity
        )
        _opened(run, reinit_mode, settings)
        return run

    from gitcfg.names import project_from_directory
    from gitcfg.stores import open_store

    store = open_store(repo)
    project = project or env.get("PROJECT") or project_from_directory(_repo_name(store))
    auto = _auto_resume(resume_given) and not env_attach
    resume_file = None
    if not env_attach:
        from gitcfg.resumefile import resume_path

        resume_file = resume_path(store.repo.common_dir, project)
        run_id = _resumed_id(resume_file, run_id) if auto else run_id
    with _active_lock:
        if reinit_mode == "finish_previous":
            for run in reversed(list(_open)):
                run.finish()
        store.check_writable()  # before the snapshot: a refused run writes nothing
        run = start(
            store,
            project,
            flat,
            run_id=run_id,
            meta=meta,
            resume=resume_mode,
            allow_val_change=allow_val_change,
        )
        run._dir = run_dir
        run.entity = entity
        run._parent_records_status = env_attach
        if shared:  # other processes log to it too
            run._shared = True
            # the process that started it takes their values into its summary; the others
            # commit their own only
            run._recorder.own = not run.resumed
        _opened(run, reinit_mode, settings)
    if resume_file is not None:
        _keep_resume(run, resume_file, resume_given)
    flush.install(_at_exit_or_signal)
    return run


def start(
    store: ConfigStore,
    project: str,
    flat: Mapping[str, Any],
    *,
    run_id: str | None = None,
    meta: Mapping[str, Any] | None = None,
    resume: str = "never",
    allow_val_change: bool = False,
) -> Run:
    """Create run ``project/run_id`` with the flat, checked ``flat`` config, or attach to it.

    ``resume``: ``"never"`` creates (an existing id is ``RunExistsError``); ``"allow"``
    attaches when the run exists, else creates; ``"must"`` attaches or raises
    ``RunNotFoundError``. Attaching keeps the stored values and adds the keys of ``flat`` the
    run does not have, and ``meta`` fields that differ, in one commit (none if nothing is new).
    The returned run is not made the active one; ``init`` does that.
    """
    from gitcfg.layout import RunRef
    from gitcfg.names import check_project, check_run_id

    if resume not in ("never", "allow", "must"):
        raise UsageError(f"resume={resume!r}: use 'allow', 'must' or 'never'")
    if resume == "must" and run_id is None:
        raise UsageError(
            "resume='must' needs the id of the run to continue: init(id=..., resume='must') "
            "or GITCFG_RUN_ID"
        )
    history = None
    if run_id is not None:
        ref = RunRef(check_project(project), check_run_id(run_id))
        if resume != "never":
            if store.exists(ref):
                return attach(store, ref, flat, meta=meta, allow_val_change=allow_val_change)
            if resume == "must":
                raise store.run_not_found(str(ref))
        # Where the history ends, taken before the run is committed: a process that attaches
        # to it as soon as it is (mode="shared") may log before this one has its Run, and its
        # rows come before this one's (taken after, they were skipped and steps began again)
        history = _history_of(store, ref)
        history.mark_end()
    from gitcfg.provenance import capture

    # captured here rather than by the store, so that the run knows what meta.yaml holds
    provenance = capture(store.code_repo)
    try:
        # secrets were checked by the caller (allow_secrets=True skips checking them twice)
        ref, commit = store.create(
            project,
            flat,
            run_id=run_id,
            provenance=provenance,
            meta=meta or None,
            allow_secrets=True,
        )
    except RunExistsError:
        if resume == "never" or run_id is None:
            raise
        # another process created it between our check and our commit: continue that run
        ref = RunRef(project, run_id)
        return attach(store, ref, flat, meta=meta, allow_val_change=allow_val_change)
    config = Config._from_flat(flat, allow_val_change=allow_val_change)
    return Run(
        store, ref, config, {**provenance.as_dict(), **(meta or {})}, commit, history=history
    )


def attach(
    store: ConfigStore,
    ref: RunRef,
    flat: Mapping[str, Any] | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    allow_val_change: bool = False,
) -> Run:
    """Continue the existing run ``ref`` in this process (resume, or ``gitcfg run``'s child).

    Its stored config wins over ``flat`` (the script's defaults); keys of ``flat`` it lacks
    are added, with ``meta`` fields that differ, in one commit. Its summary is kept and ``log``
    continues after the last step of its local history.
    """
    from gitcfg.stores import has_kept

    if has_kept(store):  # changes it kept when it last ended come first
        from gitcfg.pending import commit_before_resume

        commit_before_resume(store, ref)
    record = store.read(ref)
    stored = record.config
    added = _missing_keys(stored, flat or {})
    if os.environ.get("GITCFG_RUN_ID") == ref.id:
        _report_overrides(ref, stored, flat or {})
    meta_changes = {
        k: v for k, v in (meta or {}).items() if record.meta.get(k) != v and v is not None
    }
    commit = record.commit
    if added or meta_changes:
        # the script's own keys were checked for secrets by init
        result = store.update(
            ref, added, message=None, allow_secrets=True, meta=meta_changes or None
        )
        if result.commit is not None:
            commit = result.commit
    config = Config._from_flat({**stored, **added}, allow_val_change=allow_val_change)
    history = _history_of(store, ref)
    last = history.last_step()
    return Run(
        store,
        ref,
        config,
        {**record.meta, **meta_changes},
        commit,
        summary=Summary(record.summary),
        start_step=0 if last is None else last + 1,
        resumed=True,
        history=history,
    )


def _history_of(store: ConfigStore, ref: RunRef) -> HistoryFile:
    """The local history file of run ``ref`` (its logged rows, in the git directory)."""
    from gitcfg.history import HistoryFile, history_path

    path = history_path(store.repo.common_dir, ref.project, ref.id)
    return HistoryFile(path, str(ref), shared=store.repo.shared)


def _report_overrides(ref: RunRef, stored: Mapping[str, Any], flat: Mapping[str, Any]) -> None:
    # A sweep's or 'gitcfg run --set' value beat the script's own default: say so, as wandb does.
    won = {k: (stored[k], v) for k, v in flat.items() if k in stored and stored[k] != v}
    if won:
        text = ", ".join(f"{k}={new!r} (script: {old!r})" for k, (new, old) in sorted(won.items()))
        sys.stderr.write(f"gitcfg: run {ref} was given {text}\n")
        sys.stderr.flush()


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the global run (``Run.finish``); nothing if there is none. Runs started with
    ``reinit="create_new"`` are finished through their own ``finish``."""
    run = _active
    if run is not None:
        run.finish(exit_code, quiet)


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """Record results of the active run (``Run.log``): summary and local per-step history."""
    run = _active
    if run is None:
        raise UsageError("there is no active run; call gitcfg.init() first, then gitcfg.log()")
    run.log(data, step, commit)


def define_metric(
    name: str,
    step_metric: str | None = None,
    summary: str | None = None,
    goal: str | None = None,
    **options: Any,
) -> Metric:
    """What the active run's summary keeps for ``name`` (``Run.define_metric``)."""
    run = _active
    if run is None:
        raise UsageError("there is no active run; call gitcfg.init() first, then define_metric()")
    return run.define_metric(name, step_metric, summary, goal, **options)


def active_run() -> Run | None:
    """The global run (``gitcfg.run``), or None."""
    return _active


def open_runs() -> tuple[Run, ...]:
    """Every run of this process that is not finished, oldest first."""
    return tuple(_open)


def parent_status(ref: RunRef) -> int | None:
    """The exit status run ``ref`` finished with in this process, when it left recording it to
    its parent (``wandb.agent`` asks); None if it did not finish here."""
    return _parent_statuses.pop(str(ref), None)


def _reinit_mode(reinit: Any) -> str:
    if reinit is None or reinit is False:
        return "default"
    if reinit is True:
        return "finish_previous"  # wandb's older reinit=True
    if isinstance(reinit, str) and reinit in REINIT:
        return reinit
    raise UsageError(
        f"init(reinit={reinit!r}): use 'return_previous', 'finish_previous', 'create_new' "
        f"or 'default'"
    )


def _given(**arguments: Any) -> list[str]:
    """The names of the arguments that were given (not None)."""
    return [name for name, value in arguments.items() if value is not None]


def _previous_run(reinit: str, resume: Any, given: list[str]) -> Run | None:
    """The open run a second ``init`` returns (wandb's default in a script, "return_previous"),
    or None when a run is to be started."""
    if reinit not in ("default", "return_previous") or not _open:
        return None
    previous = _open[-1]  # the most recently started run that is not finished, as wandb
    if isinstance(resume, str) and resume.lower() == "must":
        raise UsageError(
            f"init(resume='must') while run {previous.ref} is active: finish it first "
            f"(run.finish()), or pass reinit='create_new' or 'finish_previous'"
        )
    if given:
        sys.stderr.write(
            f"gitcfg: init() called while run {previous.ref} is active: returning it; "
            f"{', '.join(given)} not applied (pass reinit='finish_previous' or 'create_new' "
            f"for a new run)\n"
        )
        sys.stderr.flush()
    return previous


def _opened(run: Run, reinit: str, settings: Any) -> None:
    """Register a started run: it is open, and the global run unless ``create_new`` (wandb
    leaves ``wandb.run`` and ``wandb.log`` alone then)."""
    global _active
    run._settings = settings
    with _active_lock:
        _open.append(run)
        if reinit != "create_new":
            _active = run
            _unshadow_globals()


# gitcfg's module names that follow the global run (its module __getattr__)
_FOLLOWING = ("config", "summary", "run")


def assign_global(name: str, value: Any) -> bool:
    """``gitcfg.config = value`` or ``gitcfg.summary = value``: the values go to the global run's
    (see ``gitcfg._Package``); False when there is no global run."""
    run = _active
    if run is None:
        return False
    if name == "config":
        if value is not run.config:
            run.config.update(value, allow_val_change=True)
    elif value is not run.summary:
        run.summary.update(value)
    return True


def _assigned_config() -> Mapping[str, Any]:
    """What the script assigned to ``gitcfg.config`` before ``init`` (``wandb.config = {...}``),
    for the run: ``init`` lays it beneath its own ``config=``."""
    value = vars(sys.modules["gitcfg"]).get("config")
    return {} if value is None else to_mapping(value)


def _unshadow_globals() -> None:
    """Let ``gitcfg.config``, ``summary`` and ``run`` follow the new global run again: a script's
    own ``wandb.config = {...}`` made a module global that hid it for good (wandb's ``init``
    rebinds these names too)."""
    names = vars(sys.modules["gitcfg"])
    for name in _FOLLOWING:
        names.pop(name, None)


def _auto_resume(resume: Any) -> bool:
    """Whether ``resume`` is wandb's "auto" (True is "auto" in wandb): resume after a crash."""
    if resume is True:
        return True
    return isinstance(resume, str) and resume.lower() in ("auto", "true", "1")


def _resumed_id(path: Path, run_id: str | None) -> str | None:
    """The id to start with ``resume="auto"``: the given one, else the one the project's resume
    file keeps (a run that did not finish cleanly), else None (a new run)."""
    from gitcfg import resumefile

    kept = resumefile.read(path)
    if kept is None or kept == run_id:
        return run_id
    if run_id is not None:
        _note(f"resume='auto': id {run_id!r} was given, so run {kept!r} is not resumed")
        return run_id
    _note(f"resume='auto': resuming run {kept!r}, which did not finish cleanly")
    return kept


def _keep_resume(run: Run, path: Path, resume: Any) -> None:
    """``resume="auto"``: keep the run's id to resume it after a crash; an init without
    ``resume`` drops the project's resume file, as wandb does."""
    from gitcfg import resumefile

    try:
        if _auto_resume(resume):
            shared = run._store.repo.shared if run._store is not None else 0
            resumefile.write(path, run.id, shared=shared)
            run._resume_file = path
        elif resume is None or resume is False:
            resumefile.forget(path)
    except OSError as error:  # the run is recorded; only a later auto-resume is lost
        _note(f"cannot keep the id of run {run.ref} for resume='auto': {error}")


def _note(text: str) -> None:
    sys.stderr.write(f"gitcfg: {text}\n")
    sys.stderr.flush()


class _Env:
    """A setting from ``GITCFG_<NAME>``, else ``WANDB_<NAME>`` (wandb scripts and launchers)."""

    def get(self, name: str) -> str | None:
        return os.environ.get(f"GITCFG_{name}") or os.environ.get(f"WANDB_{name}") or None


def _env_tags(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def _resume_mode(resume: bool | str | None, env_attach: bool) -> str:
    if resume is None or resume is False:
        return "allow" if env_attach else "never"
    if resume is True:
        return "allow"
    if isinstance(resume, str):
        text = resume.lower()
        if text in ("true", "1", "allow", "auto"):
            return "allow"
        if text in ("false", "0", "never"):
            return "allow" if env_attach else "never"
        if text == "must":
            return "must"
    raise UsageError(f"init(resume={resume!r}): use 'allow', 'must', 'never', 'auto' or True")


def _meta(**fields: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key == "tags":
            if isinstance(value, str):
                raise UsageError(
                    f"tags={value!r} is a string; pass a list of tags: tags=[{value!r}]"
                )
            meta[key] = [str(t) for t in value]
        else:
            meta[key] = str(value)
    return meta


def _missing_keys(stored: Mapping[str, Any], flat: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of ``flat`` that ``stored`` lacks and that do not collide with its keys."""
    groups: set[str] = set()
    for key in stored:
        parts = key.split(".")
        groups.update(".".join(parts[:i]) for i in range(1, len(parts)))
    added = {}
    for key, value in flat.items():
        if key in stored or key in groups:
            continue
        parts = key.split(".")
        if any(".".join(parts[:i]) in stored for i in range(1, len(parts))):
            continue
        added[key] = value
    return added


def _start_disabled(
    project: str | None,
    run_id: str | None,
    flat: Mapping[str, Any],
    meta: dict[str, Any],
    allow_val_change: bool,
    run_dir: str | None,
    entity: str | None,
) -> Run:
    """``mode="disabled"``: a run object that works and records nothing, even outside git."""
    from gitcfg.layout import RunRef
    from gitcfg.names import new_run_id, project_from_directory

    ref = RunRef(project or project_from_directory(Path.cwd().name), run_id or new_run_id())
    config = Config._from_flat(flat, allow_val_change=allow_val_change)
    return Run(None, ref, config, dict(meta), "", run_dir=run_dir, entity=entity)


def _repo_name(store: ConfigStore) -> str:
    # The main repository's directory, so that linked worktrees of one repository share it.
    common = store.repo.common_dir
    if common.name == ".git":
        return common.parent.name
    return common.name.removesuffix(".git")


def _at_exit_or_signal(reason: str, status: int | None) -> None:
    """At exit or a deadly signal, finish every open run with the process's exit status; at a
    signal the process may survive (``status`` None), commit what changed and go on."""
    for run in reversed(list(_open)):
        try:
            if status is None:
                run._flush()
            else:
                run.finish(exit_code=status)
        except Exception as error:  # no caller to raise to here: one line, no traceback
            _warn(run, error)


def _warn(run: Run, error: BaseException) -> None:
    sys.stderr.write(f"gitcfg: could not commit the changes of run {run.ref}: {error}\n")
    sys.stderr.flush()


# -- runs used from other processes (see the module docstring) ---------------------------------


def _handle_of(repo: str, branch: str, project: str, run_id: str) -> Run:
    """The run a pickle names: this process's own object for it if it has one, else a handle
    on it, made the global run if there is none (as wandb's attach does)."""
    global _active
    from gitcfg.layout import RunRef

    ref = RunRef(project, run_id)
    with _active_lock:
        for run in reversed(_open):
            if run.ref == ref and _store_named(run._store, repo, branch):
                return run
    from gitcfg.store import ConfigStore

    run = attach(ConfigStore.open(repo, branch=branch), ref)
    run._become_handle()
    with _active_lock:
        _open.append(run)
        if _active is None:
            _active = run
    # no signal handlers: a handle's changes are committed already (see gitcfg.flush)
    flush.install(_at_exit_or_signal, signals=False)
    _flush_at_multiprocessing_end()
    return run


def _store_named(store: ConfigStore | None, repo: str, branch: str) -> bool:
    return store is not None and store.branch == branch and str(store.repo.cwd) == repo


def _disabled_copy(project: str, run_id: str, flat: dict[str, Any], meta: dict[str, Any]) -> Run:
    """A pickled ``mode="disabled"`` run: this process's own object for it, else a copy that
    records nothing either."""
    from gitcfg.layout import RunRef

    ref = RunRef(project, run_id)
    for run in reversed(_open):
        if run.ref == ref and run._store is None:
            return run
    return Run(None, ref, Config._from_flat(flat, allow_val_change=False), meta, "")


_forking: list[Run] = []  # the runs whose history writes wait for a fork to be done


def _before_fork() -> None:
    # The child's rows must come after those logged here so far: write them now, not a
    # second later (the child drops its copy of them).
    _forking[:] = _open  # another thread may start a run meanwhile
    for run in _forking:
        run._shared = True
        run._recorder.before_fork()
    if _forking:
        _refinalize_in_children()


def _after_fork_in_parent() -> None:
    for run in _forking:
        run._recorder.after_fork_in_parent()
    _forking.clear()


def _after_fork_in_child() -> None:
    global _active_lock
    _active_lock = threading.RLock()  # another thread of the parent may have held it
    _forking.clear()
    for run in _open:
        run._adopt()


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


class _AfterFork:
    """What multiprocessing keeps to call ``_refinalize`` in each child it starts."""


_AFTER_FORK = _AfterFork()
_finalizing = False


def _flush_at_multiprocessing_end() -> None:
    """Commit the runs' changes when this process, a multiprocessing child, ends: its Process
    and Pool workers end with os._exit, past atexit, after multiprocessing's own finalizers."""
    _refinalize(_AFTER_FORK)
    _refinalize_in_children()


def _refinalize_in_children() -> None:
    # A child that multiprocessing starts clears the finalizers it inherited or unpickled,
    # then calls what was registered here: ours is set again there.
    global _finalizing
    util = sys.modules.get("multiprocessing.util")
    if util is not None and not _finalizing:
        _finalizing = True
        util.register_after_fork(_AFTER_FORK, _refinalize)


def _refinalize(_: object) -> None:
    util = sys.modules.get("multiprocessing.util")
    if util is not None:  # else not a multiprocessing child
        util.Finalize(None, _at_process_end, exitpriority=0)


def _at_process_end() -> None:
    _at_exit_or_signal("exit", None)
