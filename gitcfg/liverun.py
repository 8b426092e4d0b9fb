"""The run this process records: ``gitcfg.init``, ``gitcfg.log``, ``gitcfg.finish`` and ``Run``.

``init`` commits the run at once ("create"), or attaches to an existing run (``resume=``, or
``GITCFG_RUN_ID`` set by a parent such as ``gitcfg run``). Later changes to ``run.config``,
``run.summary`` (fed by ``log``) and ``run.name``/``notes``/``tags`` are committed together as
one commit per flush: at ``finish()``, ``config.persist()``, and at exit or SIGTERM/SIGINT
(``gitcfg.flush``). Each flush passes the last committed version as the base, so another
process's edit of other keys of the same run is kept, and its edit of the same key is a conflict.
The per-step history of ``log`` goes to a local file (``gitcfg.history``), never to the branch.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitcfg import flush
from gitcfg.defaults import config_paths, load_layers, overlay
from gitcfg.errors import GitcfgError, RunExistsError, RunNotFoundError, SecretKeyError, UsageError
from gitcfg.flat import is_secret, secrets_allowed
from gitcfg.results import Metric, Recorder
from gitcfg.runconfig import Config, _flat_items
from gitcfg.runsummary import Summary
from gitcfg.runview import RunView, meta_copy
from gitcfg.sources import select_keys, to_mapping

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore

_active: Run | None = None
_active_lock = threading.RLock()

RESUME_MODES = ("allow", "must", "never", "auto")
MODES = ("online", "offline", "disabled", "dryrun", "run", "shared")


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
    ) -> None:
        self._store = store
        self.ref = ref
        self.config = config
        self.meta = meta
        self._meta_base = meta_copy(meta)
        self.commit = commit  # the latest commit that recorded this run ("" when disabled)
        self.finished = False
        self.resumed = resumed
        self.entity = entity
        self._dir = run_dir
        self.summary = summary if summary is not None else Summary()
        history = None
        if store is not None:
            from gitcfg.history import HistoryFile, history_path

            history = HistoryFile(
                history_path(store.repo.common_dir, ref.project, ref.id), str(ref)
            )
        self._recorder = Recorder(self.summary, history, start_step)
        # bound once, so that a log call costs one function call
        self.log = self._recorder.log  # type: ignore[method-assign]
        config._persist = self._flush

    @property
    def store(self) -> ConfigStore:  # type: ignore[override]
        if self._store is None:
            raise UsageError(
                f"run {self.ref} was started with mode='disabled' and has no store; "
                f"start it without mode='disabled' to record it"
            )
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
        Path(self._dir).mkdir(parents=True, exist_ok=True)
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
            self._recorder.write()
            if self._store is None:
                return None
            return self._commit_pending(message)

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Commit what changed and end the run; ``gitcfg.config`` is unset again.

        ``exit_code`` and ``quiet`` are accepted for wandb's signature and have no effect.
        """
        global _active
        with _active_lock:
            if self.finished:
                return
            self._recorder.close()
            self._flush()
            self.finished = True
            self.log = self._log_after_finish  # type: ignore[method-assign]
            self.config._closed = f"run {self.ref} is finished; call gitcfg.init() for a new run"
            if _active is self:
                _active = None

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
            self.finish()
        except GitcfgError as error:
            _warn(self, error)

    def __getattr__(self, name: str) -> Any:
        # wandb's Run methods that mean nothing here (watch, save, log_artifact...): no-ops
        from gitcfg.wandbnames import run_noop

        return run_noop(name)


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
    it; ``"must"``: it must exist; ``"never"``/None: it must not). Continuing a run keeps its
    stored config values over this call's ``config`` and the defaults files (new keys are
    added); later changes are new commits on it. ``GITCFG_RUN_ID`` (set by ``gitcfg run``)
    attaches the same way. ``mode="disabled"`` records nothing and returns a working run.
    ``mode="shared"`` (also in ``settings``) with an ``id`` attaches like ``resume="allow"``.
    The other keywords of ``wandb.init`` (``entity``, ``reinit``, ``settings``, ``save_code``,
    ``sync_tensorboard``, ``monitor_gym``, ``magic``, ``anonymous``, ...) are accepted and
    have no effect; ``dir`` sets ``run.dir``. A second ``init`` finishes the first run.
    """
    global _active
    env = _Env()
    from gitcfg.wandbnames import setting

    mode = mode or setting(settings, "mode") or env.get("MODE")
    if mode is not None and mode not in MODES:
        raise UsageError(f"init(mode={mode!r}): use 'online', 'offline' or 'disabled'")
    env_attach = id is None and bool(os.environ.get("GITCFG_RUN_ID"))
    run_id = id or env.get("RUN_ID")
    if env_attach:
        # the parent that set GITCFG_RUN_ID named the run: its project wins over the script's
        project = os.environ.get("GITCFG_PROJECT") or project
    # wandb's shared mode: processes that name the same id log to one run
    shared = mode == "shared" and run_id is not None
    resume_mode = _resume_mode(
        resume if resume is not None else env.get("RESUME"), env_attach or shared
    )
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
    flat = overlay(flat, _flat_items(chosen, ""))
    if not secrets_allowed():
        for key, value in flat.items():
            if is_secret(key, value):
                raise SecretKeyError(key)
    run_dir = os.fspath(dir) if dir is not None else None
    if mode == "disabled":
        return _start_disabled(
            project or env.get("PROJECT"), run_id, flat, meta, allow_val_change, run_dir, entity
        )

    from gitcfg.names import project_from_directory
    from gitcfg.stores import open_store

    store = open_store(repo)
    project = project or env.get("PROJECT") or project_from_directory(_repo_name(store))
    with _active_lock:
        if _active is not None:
            _active.finish()
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
        _active = run
    flush.install(_flush_active)
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
    if run_id is not None and resume != "never":
        ref = RunRef(check_project(project), check_run_id(run_id))
        if store.exists(ref):
            return attach(store, ref, flat, meta=meta, allow_val_change=allow_val_change)
        if resume == "must":
            raise RunNotFoundError(str(ref))
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
    return Run(store, ref, config, {**provenance.as_dict(), **(meta or {})}, commit)


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
    from gitcfg.history import HistoryFile, history_path

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
    last = HistoryFile(
        history_path(store.repo.common_dir, ref.project, ref.id), str(ref)
    ).last_step()
    return Run(
        store,
        ref,
        config,
        {**record.meta, **meta_changes},
        commit,
        summary=Summary(record.summary),
        start_step=0 if last is None else last + 1,
        resumed=True,
    )


def _report_overrides(ref: RunRef, stored: Mapping[str, Any], flat: Mapping[str, Any]) -> None:
    # A sweep's or 'gitcfg run --set' value beat the script's own default: say so, as wandb does.
    won = {k: (stored[k], v) for k, v in flat.items() if k in stored and stored[k] != v}
    if won:
        text = ", ".join(f"{k}={new!r} (script: {old!r})" for k, (new, old) in sorted(won.items()))
        sys.stderr.write(f"gitcfg: run {ref} was given {text}\n")
        sys.stderr.flush()


def finish() -> None:
    """Finish the active run (commit what changed); nothing if there is none."""
    run = _active
    if run is not None:
        run.finish()


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
    return _active


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
    global _active
    from gitcfg.layout import RunRef
    from gitcfg.names import new_run_id, project_from_directory

    ref = RunRef(project or project_from_directory(Path.cwd().name), run_id or new_run_id())
    with _active_lock:
        if _active is not None:
            _active.finish()
        config = Config._from_flat(flat, allow_val_change=allow_val_change)
        run = Run(None, ref, config, dict(meta), "", run_dir=run_dir, entity=entity)
        _active = run
    return run


def _repo_name(store: ConfigStore) -> str:
    # The main repository's directory, so that linked worktrees of one repository share it.
    common = store.repo.common_dir
    if common.name == ".git":
        return common.parent.name
    return common.name.removesuffix(".git")


def _flush_active(reason: str) -> None:
    run = _active
    if run is None:
        return
    try:
        if reason == "exit":
            run._recorder.close()
        run._flush()
    except Exception as error:  # at exit there is no caller to raise to: one line, no traceback
        _warn(run, error)


def _warn(run: Run, error: BaseException) -> None:
    sys.stderr.write(f"gitcfg: could not commit the changes of run {run.ref}: {error}\n")
    sys.stderr.flush()
