"""Is a branch checked out in some work tree? Git's rule, read from the files git keeps.

Git refuses to move a branch that a work tree has checked out (``git branch -f``, ``git fetch``
into it): the work tree's index and files would silently stop matching its HEAD, and the next
commit made there would undo the move. gitcfg writes its store branch the same way, so it follows
the same rule. The answer comes from ``HEAD`` files (the main work tree's and each linked one's
under ``<common>/worktrees/``), plus the branch a rebase or bisect in progress will return to,
as git counts those too. Plain file reads, no git process: this runs before every run is recorded.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gitcfg.errors import BranchCheckedOutError

# Files in a work tree's git directory that name a branch it will come back to.
_IN_PROGRESS = ("rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START")
_BARE = re.compile(r"^\s*bare\s*=\s*(true|yes|on|1)\s*$", re.IGNORECASE | re.MULTILINE)


def _read(path: Path) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as fh:
            return fh.read().strip()
    except OSError:
        return None


def _branch_of(git_dir: Path) -> set[str]:
    """Branches a work tree whose git directory is ``git_dir`` has checked out (or will)."""
    names: set[str] = set()
    head = _read(git_dir / "HEAD")
    if head is not None and head.startswith("ref: "):
        names.add(head[5:].strip())
    for name in _IN_PROGRESS:
        text = _read(git_dir / name)
        if text:
            names.add(text if text.startswith("refs/") else "refs/heads/" + text)
    return names


def _main_is_bare(common_dir: Path) -> bool:
    # core.bare in the repository's own config; a [core] section is the only place it is set.
    text = _read(common_dir / "config") or ""
    core = re.search(r"^\s*\[core\]([^\[]*)", text, re.IGNORECASE | re.MULTILINE)
    return core is not None and _BARE.search(core.group(1)) is not None


def _main_worktree(common_dir: Path) -> Path:
    return common_dir.parent if common_dir.name == ".git" else common_dir


def checked_out_at(common_dir: Path, ref: str) -> tuple[Path, bool] | None:
    """The work tree that has branch ``ref`` (``refs/heads/x``) checked out, and whether it is
    the main one; None when none has.

    The main work tree counts unless the repository is bare; a linked work tree is named by
    the path in its ``gitdir`` file.
    """
    if ref in _branch_of(common_dir) and not _main_is_bare(common_dir):
        return _main_worktree(common_dir), True
    admin = common_dir / "worktrees"
    try:
        names = os.listdir(admin)
    except OSError:
        return None
    for name in sorted(names):
        if ref in _branch_of(admin / name):
            gitdir = _read(admin / name / "gitdir")
            return (Path(gitdir).parent if gitdir else admin / name), False
    return None


def check_not_checked_out(common_dir: Path, ref: str, target: str | None = None) -> None:
    """Raise ``BranchCheckedOutError`` when a work tree has branch ``ref`` checked out, or
    ``target``, the branch that ``ref`` moves when it is a symbolic ref."""
    names = [ref] if target is None or target == ref else [ref, target]
    for name in names:
        found = checked_out_at(common_dir, name)
        if found is not None:
            where, main = found
            raise BranchCheckedOutError(name.removeprefix("refs/heads/"), str(where), main=main)
