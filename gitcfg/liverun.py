"""The run this process records: ``gitcfg.init``, ``gitcfg.finish`` and ``Run``.

``init`` commits the run at once ("create"); later changes to ``run.config`` are committed as
one commit per flush: at ``finish()``, ``config.persist()``, and at exit or SIGTERM/SIGINT
(``gitcfg.flush``). Each flush passes the last committed config as the base, so another process's
edit of other keys of the same run is kept, and its edit of the same key is a conflict.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from gitcfg import flush
from gitcfg.defaults import config_paths, load_layers, overlay
from gitcfg.errors import GitcfgError, SecretKeyError, UsageError
from gitcfg.flat import is_secret_key
from gitcfg.runconfig import Config, _flat_items, secrets_allowed
from gitcfg.runview import RunView
from gitcfg.sources import select_keys, to_mapping

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore

_active: Run | None = None
_active_lock = threading.RLock()


class Run(RunView):
    """A run recorded by this process; ``run.config`` is its ``Config``."""

    def __init__(
        self, store: ConfigStore, ref: RunRef, config: Config, meta: dict[str, Any], commit: str
    ) -> None:
        self.store = store
        self.ref = ref
        self.config = config
        self.meta = meta
        self.commit = commit  # the latest commit that recorded this run
        self.finished = False
        config._persist = self._flush

    def __repr__(self) -> str:
        return f"<gitcfg.Run {self.ref}>"

    def _flush(self, message: str | None = None) -> str | None:
        """Commit the config changes since the last commit; returns the commit, or None."""
        with flush.critical():
            return self._commit_pending(message)

    def finish(self) -> None:
        """Commit what changed and end the run; ``gitcfg.config`` is unset again."""
        global _active
        with _active_lock:
            if self.finished:
                return
            self._flush()
            self.finished = True
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
) -> Run:
    """Start a run and commit its config ("create"); returns the ``Run``, also ``gitcfg.run``.

    ``config``: a dict, argparse Namespace, absl/tf FLAGS, dataclass, pydantic model, OmegaConf
    DictConfig, object with attributes, or YAML file path; it goes over the defaults files
    (``gitcfg.defaults``). ``repo``: the repository that keeps the runs (default ``$GITCFG_REPO``,
    else the one of the working directory). ``project``: default ``$GITCFG_PROJECT``, else the
    repository's directory name. ``id``: default 8 random base-36 characters; an existing id is
    refused. ``allow_val_change``: let later writes change existing values.
    A second ``init`` in the process finishes the first run.
    """
    global _active
    # Everything that can be refused is checked before anything is committed.
    chosen = select_keys(to_mapping(config), config_include_keys, config_exclude_keys)
    flat: dict[str, Any] = {}
    for layer in load_layers(config_paths()):
        flat = overlay(flat, _flat_items(layer, ""))
    flat = overlay(flat, _flat_items(chosen, ""))
    if not secrets_allowed():
        for key in flat:
            if is_secret_key(key):
                raise SecretKeyError(key)
    meta: dict[str, Any] = {}
    if name is not None:
        meta["name"] = name
    if notes is not None:
        meta["notes"] = notes
    if tags is not None:
        if isinstance(tags, str):
            raise UsageError(f"tags={tags!r} is a string; pass a list of tags: tags=[{tags!r}]")
        meta["tags"] = list(tags)

    from gitcfg.names import project_from_directory
    from gitcfg.provenance import capture
    from gitcfg.stores import open_store

    store = open_store(repo)
    if project is None:
        project = os.environ.get("GITCFG_PROJECT") or project_from_directory(_repo_name(store))
    with _active_lock:
        if _active is not None:
            _active.finish()
        store.check_writable()  # before the snapshot: a refused run writes nothing
        # captured here rather than by the store, so that the run knows what meta.yaml holds
        provenance = capture(store.code_repo)
        # secrets were checked above (allow_secrets=True skips checking them twice)
        ref, commit = store.create(
            project, flat, run_id=id, provenance=provenance, meta=meta or None, allow_secrets=True
        )
        run = Run(
            store,
            ref,
            Config._from_flat(flat, allow_val_change=allow_val_change),
            {**provenance.as_dict(), **meta},
            commit,
        )
        _active = run
    flush.install(_flush_active)
    return run


def finish() -> None:
    """Finish the active run (commit what changed); nothing if there is none."""
    run = _active
    if run is not None:
        run.finish()


def active_run() -> Run | None:
    return _active


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
        run._flush()
    except Exception as error:  # at exit there is no caller to raise to: one line, no traceback
        _warn(run, error)


def _warn(run: Run, error: BaseException) -> None:
    sys.stderr.write(f"gitcfg: could not commit the config changes of run {run.ref}: {error}\n")
    sys.stderr.flush()
