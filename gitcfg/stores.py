"""One ``ConfigStore`` per repository per process: opening one costs two git subprocesses."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gitcfg.store import ConfigStore

_stores: dict[tuple[str, str, str], ConfigStore] = {}
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
        return store


def forget_stores() -> None:
    """Drop cached stores (after changing a repository's gitcfg settings in-process)."""
    with _lock:
        _stores.clear()
