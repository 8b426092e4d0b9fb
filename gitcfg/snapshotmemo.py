"""The last snapshot of a dirty work tree, remembered so that the next run from it reuses it.

A run from a work tree with uncommitted changes records a snapshot commit, which costs
``git status`` and three more git processes. Sweeps and shell loops record many runs from the
same tree, so after a snapshot gitcfg remembers what it was made from: HEAD, the entry script,
the index file, the stat data of every tracked file and of each untracked file git listed, and
the mtimes of the directories where a new untracked file would appear (``worktree``'s watched
directories, without the ignored ones). While all of them are unchanged the tree holds the same
content, so the snapshot is the same commit and no git process runs.

A clean tree that the index cannot vouch for is remembered the same way, as "no snapshot":
code copied or rsynced to a cluster node keeps an index whose stat data (inodes, ctimes) no
longer match, so ``git status`` re-reads every tracked file on every run, and gitcfg never
refreshes the user's index.

Stat data is trusted as git trusts its index: only for what last changed before the snapshot
began. That moment is the mtime of a file created then in the git directory, so it has the file
system's own timestamp granularity; anything changed in that same tick could change again
unseen, and then nothing is remembered. A tree with a corner no watched mtime covers (see
``worktree.unwatched_corners``) is not remembered either. What it cannot see is a change of
``core.excludesFile``.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from gitcfg.git import GitRepo
from gitcfg.git.perms import adjust
from gitcfg.worktree import (
    mtime_stamp,
    not_ignored,
    tracked_paths,
    untracked_stamps,
    unwatched_corners,
)

_MEMO = "gitcfg-snapshot"
_VERSION = 2  # 2: a snapshot of None records a clean tree
# Beyond this many untracked files, comparing their stat data is no longer cheap.
MAX_REMEMBERED_UNTRACKED = 1000

# st_mtime_ns, st_ctime_ns, st_size, st_ino, st_mode; None for a missing file
_Stat = list[int] | None


def _stat(path: str) -> _Stat:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_mode]


def _index_stat(repo: GitRepo) -> _Stat:
    return _stat(f"{repo.git_dir}{os.sep}index")


class Observation:
    """What the work tree looked like just before git was asked about it."""

    # A plain class, not a dataclass: ``gitcfg run`` starts faster without the dataclasses module.
    def __init__(
        self,
        since: int,
        head: str,
        entry: str | None,
        index: _Stat,
        files: dict[str, _Stat],
        dirs: list[tuple[str, int]],
    ) -> None:
        self.since = since  # the file system's "now" when observing began
        self.head = head
        self.entry = entry
        self.index = index
        self.files = files
        self.dirs = dirs
        self.untracked: dict[str, _Stat] | None = None

    def add_untracked(self, repo: GitRepo, paths: list[str]) -> None:
        """Note the untracked files git listed: call it before their content is read."""
        if len(paths) > MAX_REMEMBERED_UNTRACKED:
            return
        assert repo.worktree is not None
        top = str(repo.worktree)
        self.untracked = {path: _stat(os.path.join(top, path)) for path in paths}


def observe(repo: GitRepo, head: str | None, entry: str | None) -> Observation | None:
    """Observe the tree before ``git status`` runs; None when it cannot be remembered.

    ``git status`` must then run without optional locks, so that it leaves the index as it is.
    """
    tracked = tracked_paths(repo)
    if head is None or repo.worktree is None or tracked is None:
        return None
    since = _now_on_disk(repo)
    if since is None:
        return None
    top = str(repo.worktree)
    files = {path: _stat(os.path.join(top, path)) for path in tracked}
    dirs = untracked_stamps(repo)
    if dirs is None:
        return None
    index = _index_stat(repo)
    return Observation(since, head, entry, index, files, dirs)


def remember(
    repo: GitRepo, seen: Observation, snapshot: str | None, left_out: tuple[str, ...]
) -> None:
    """Remember that the tree ``seen`` (with its untracked files noted) gave ``snapshot``
    (None: git found it clean)."""
    global _last
    if seen.untracked is None:
        return
    if _index_stat(repo) != seen.index:
        return  # git status refreshed the index (or someone changed it): next time
    dirs = not_ignored(repo, seen.dirs)
    if dirs is None or unwatched_corners(repo, dirs):
        return
    mtimes = [s[0] for s in (*seen.files.values(), *seen.untracked.values()) if s is not None]
    mtimes += [mtime for _, mtime in dirs]
    if any(mtime >= seen.since for mtime in mtimes):
        return  # changed in the tick the snapshot began: it could change again unseen
    record = {
        "version": _VERSION,
        "head": seen.head,
        "entry": seen.entry,
        "index": seen.index,
        "files": seen.files,
        "untracked": seen.untracked,
        "dirs": dirs,
        "snapshot": snapshot,
        "left_out": list(left_out),
    }
    target = repo.git_dir / _MEMO
    tmp = repo.git_dir / f"{_MEMO}.{os.getpid()}.tmp"
    text = json.dumps(record)
    try:
        tmp.write_text(text)
        adjust(str(tmp), repo.shared)  # core.sharedRepository: the next user rewrites it
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        return
    _last = (str(target), json.loads(text))  # as a reader of the file would find it


# The last memo record this process read or wrote, with the path of its file.
_last: tuple[str, Any] | None = None


def recall(
    repo: GitRepo, head: str | None, entry: str | None
) -> tuple[str | None, tuple[str, ...]] | None:
    """The remembered (snapshot, untracked paths left out) if the tree is as it was; else None.
    A snapshot of None: the tree was clean."""
    global _last
    if head is None or repo.worktree is None:
        return None
    path = f"{repo.git_dir}{os.sep}{_MEMO}"
    last = _last  # once: another thread may replace it meanwhile
    if last is not None and last[0] == path:
        # The record this process read or wrote last, if its tree is still the one there: a
        # record whose every stat still matches is right, however old (a sweep asks per run).
        found = _answer(repo, last[1], head, entry)
        if found is not None:
            return found
    try:
        with open(path, "rb") as fh:
            record = json.loads(fh.read())
    except (OSError, ValueError):
        return None  # no memo, or not one this version wrote
    found = _answer(repo, record, head, entry)
    if found is not None:
        _last = (path, record)
    return found


def _answer(
    repo: GitRepo, record: Any, head: str, entry: str | None
) -> tuple[str | None, tuple[str, ...]] | None:
    """``recall``'s answer from ``record`` if the tree is as it describes, else None."""
    try:
        if (
            record["version"] != _VERSION
            or record["head"] != head
            or record["entry"] != entry
            or record["index"] != _index_stat(repo)
        ):
            return None
        top = str(repo.worktree) + os.sep
        for group in ("files", "untracked"):
            for path, recorded in record[group].items():
                if _stat(top + path) != recorded:
                    return None
        for path, mtime in record["dirs"]:
            if mtime_stamp(path) != mtime:
                return None
        snapshot = record["snapshot"]
        return (None if snapshot is None else str(snapshot)), tuple(record["left_out"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # not a record this version wrote


def _now_on_disk(repo: GitRepo) -> int | None:
    """The mtime of a file created now in the git directory: "now" at the disk's granularity."""
    path = repo.git_dir / f"{_MEMO}.{os.getpid()}.now"
    try:
        fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        try:
            return os.fstat(fd).st_mtime_ns
        finally:
            os.close(fd)
            os.unlink(path)
    except OSError:
        return None
