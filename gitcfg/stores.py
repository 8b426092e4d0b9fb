"""One ``ConfigStore`` per repository per process: opening one costs two git subprocesses.

A process that opens a store also commits the changes runs kept when the branch could not take
them as they ended (``gitcfg.pending``): ``open_store`` does, and so does every command.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitcfg.store import ConfigStore

_stores: dict[tuple[str, str, str], ConfigStore] = {}
# Where, below a repository's git common directory, runs keep the changes the branch could not
# take as they ended (gitcfg.pending).
PENDING_DIR = os.path.join("gitcfg", "pending")
_lock = threading.Lock()


def open_store(repo: str | os.PathLike[str] | None = None) -> ConfigStore:
    """The store of ``repo``, else ``$GITCFG_REPO``, else the repository of the working directory.

    Stores are cached by what names them (and the working directory, which decides the code
    repository), so a sweep of ``init`` calls pays for discovery once.
    """
    from gitcfg.store import ConfigStore  # the store and its YAML/git layers load on first use

    named = os.fspath(repo) if repo is not None else os.environ.get("GITCFG_REPO") or ""
    key = (
        named,
        os.environ.get("GITCFG_BRANCH", ""),
        str(Path.cwd()),
    )
    with _lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = ConfigStore.open(repo)
            commit_kept(store)
        return store


def forget_stores() -> None:
    """Drop cached stores (after changing a repository's gitcfg settings in-process)."""
    with _lock:
        _stores.clear()


def commit_kept(store: ConfigStore) -> None:
    """Commit the changes runs kept when the branch could not take them at their end
    (``gitcfg.pending``), saying what became of each: for a process that opens the store (a
    command, ``init``, ``Api()``). Without any, one listing of a directory that is not there."""
    if has_kept(store):
        from gitcfg.pending import commit_and_report  # rarely needed: not loaded otherwise

        commit_and_report(store)


def has_kept(store: ConfigStore) -> bool:
    """Whether runs kept changes in ``store``'s repository (``gitcfg.pending``)."""
    try:
        return bool(os.listdir(os.path.join(store.repo.common_dir, PENDING_DIR)))
    except OSError:
        return False
