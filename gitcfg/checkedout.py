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
from gitcfg.git.files import read_small

# Files in a work tree's git directory that name a branch it will come back to.
_IN_PROGRESS = ("rebase-merge/head-name", "rebase-apply/head-name", "BISECT_START")
_BARE = re.compile(r"^\s*bare\s*=\s*(true|yes|on|1)\s*$", re.IGNORECASE | re.MULTILINE)


def _read(path: str) -> str | None:
    try:
        data = read_small(path)
    except OSError:
        return None
    return None if data is None else data.decode("utf-8", "surrogateescape").strip()


def _branch_of(git_dir: Path) -> set[str]:
    """Branches a work tree whose git directory is ``git_dir`` has checked out (or will)."""
    names: set[str] = set()
    top = f"{git_dir}{os.sep}"
    head = _read(top + "HEAD")
    if head is not None and head.startswith("ref: "):
        names.add(head[5:].strip())
    for name in _IN_PROGRESS:
        if not os.access(top + name, os.F_OK):  # nearly always: asked without an exception
            continue
        text = _read(top + name)
        if text:
            names.add(text if text.startswith("refs/") else "refs/heads/" + text)
    return names


def _main_is_bare(common_dir: Path) -> bool:
    # core.bare in the repository's own config; a [core] section is the only place it is set.
    text = _read(f"{common_dir}{os.sep}config") or ""
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
    if not os.access(f"{common_dir}{os.sep}worktrees", os.F_OK):  # no linked work tree
        return None
    admin = common_dir / "worktrees"
    try:
        names = os.listdir(admin)
    except OSError:
        return None
    for name in sorted(names):
        if ref in _branch_of(admin / name):
            gitdir = _read(f"{admin}{os.sep}{name}{os.sep}gitdir")
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
