"""``git gc --auto`` on gitcfg's behalf, in a way that can neither stall nor break writers.

Plumbing never triggers git's automatic gc, so gitcfg checks git's threshold itself after a
commit. The gc then runs in the foreground of a process of its own, detached from the caller:
git's background mode ("autoDetach") writes ``gc.log`` on any warning — for instance when prune
finds a temporary object file that a concurrent writer renamed a moment later — and then refuses
every automatic gc for a day, so loose objects pile up without bound. In the foreground git keeps
no ``gc.log`` and consults none. An flock on ``gitcfg/gc.lock``, handed to the gc process, keeps
gitcfg from starting a second gc while one runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from pathlib import Path

from gitcfg.git.perms import adjust_quietly, make_dir
from gitcfg.git.process import git_command, git_env


def gc_running(common_dir: Path) -> bool:
    """Whether a gc that gitcfg started is running in this repository (it holds gc.lock)."""
    try:
        fd = os.open(common_dir / "gitcfg" / "gc.lock", os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops a shared lock we may have taken
    return False


def start_auto_gc(common_dir: Path, cwd: Path, *, detach: bool = True, shared: int = 0) -> bool:
    """Start ``git gc --auto`` detached; False if a gitcfg-started gc is still running, or if
    its lock cannot be made (a gc is housekeeping: it never fails the commit before it).

    ``detach=False`` (the user set ``gc.autoDetach=false``) runs it to the end first, as git would.
    ``shared``: core.sharedRepository, for the modes of gitcfg's directory and lock file.
    """
    lock_dir = str(common_dir / "gitcfg")
    try:
        make_dir(lock_dir, shared)
        # read-only: in a shared repository the lock file may be another user's
        fd = os.open(os.path.join(lock_dir, "gc.lock"), os.O_RDONLY | os.O_CREAT, 0o666)
    except OSError:
        return False
    adjust_quietly(os.path.join(lock_dir, "gc.lock"), shared)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        command = git_command(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"])
        if not detach:
            subprocess.run(command, cwd=cwd, env=git_env(), capture_output=True, check=False)
            return True
        # 'sh -c "... &"' leaves git as an orphan of init: no zombie and no child for the
        # caller to wait for; git inherits the locked descriptor and holds it until it exits.
        with contextlib.suppress(OSError):
            subprocess.run(
                ["sh", "-c", '"$@" </dev/null >/dev/null 2>&1 &', "gitcfg-gc", *command],
                cwd=cwd,
                env=git_env(),
                pass_fds=(fd,),
                start_new_session=True,
                check=False,
            )
        return True
    finally:
        os.close(fd)
