"""``git gc --auto`` on gitcfg's behalf, in a way that can neither stall nor break writers.

Plumbing never triggers git's automatic gc, so gitcfg checks git's threshold itself after a
commit. The gc then runs in the foreground of a process of its own, detached from the caller:
git's background mode ("autoDetach") writes ``gc.log`` on any warning — for instance when prune
finds a temporary object file that a concurrent writer renamed a moment later — and then refuses
every automatic gc for a day, so loose objects pile up without bound. In the foreground git keeps
no ``gc.log`` and consults none. An flock on ``gitcfg/gc.lock``, handed to the gc process, keeps
gitcfg from starting a second gc while one runs.

After the gc, the same process runs ``git repack -d -l --geometric=2``, the geometric repack that
``git maintenance`` runs (its geometric-repack task): ``gc --auto`` packs each ~6,700 loose
objects into a new pack and joins them only past ``gc.autoPackLimit`` (50) packs, so a store
built in real use sits at dozens of packs, through which every object lookup searches (git's
and gitcfg's own: ``git ls-tree -r`` of 105,000 runs took 0.58 s with the 44 packs such a store
had, 0.40 s with the 2 this repack made of them, in turns). The geometric repack joins the
small packs as they come, so the packs stay a few, each at least twice the size of the next,
and the rare joins of big packs are spread out. It removes only packs whose objects it has
just written into a new one and loose objects now packed, as gc's own repack does, so writers
and readers are as safe as under ``git gc``; it is not started beside a gc of git's own
(``gc.pid``). Cruft packs (a gc's unreachable objects, with their ``.mtimes``) are kept as they
are, so unreachable objects keep their ages; ``.keep`` packs git keeps itself. It is skipped
with ``gc.autoPackLimit`` <= 0 (the user does not want packs joined automatically). ``--geometric``
needs git 2.32; an older git refuses the option and the repack changes nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from pathlib import Path

from gitcfg.git.perms import adjust_quietly, make_dir
from gitcfg.git.process import git_command, git_env

# $1: git's common directory, $2: the pack directory, $3: 1 for the geometric repack, 2 for it
# alone (no gc), the rest: git and its safe options. A gc that failed is not followed by a
# repack, nor one beside another git's gc (its gc.pid: a gc --auto that finds one does nothing
# and exits 0).
_GC_SCRIPT = r"""
common=$1 packs=$2 geometric=$3
shift 3
[ "$geometric" = 2 ] || "$@" gc --auto --quiet || exit
[ "$geometric" != 0 ] && [ ! -e "$common/gc.pid" ] || exit 0
keep=
for mtimes in "$packs"/pack-*.mtimes; do
    [ -e "$mtimes" ] || continue
    name=${mtimes##*/}
    keep="$keep --keep-pack=${name%.mtimes}.pack"
done
exec "$@" repack -d -l --geometric=2 --quiet $keep
"""


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


def start_auto_gc(
    common_dir: Path,
    cwd: Path,
    *,
    objects_dir: Path | None = None,
    geometric: bool = True,
    gc: bool = True,
    detach: bool = True,
    shared: int = 0,
) -> bool:
    """Start ``git gc --auto`` detached, then the geometric repack (see the module docstring);
    False if a gitcfg-started gc is still running, or if its lock cannot be made (a gc is
    housekeeping: it never fails the commit before it).

    ``objects_dir``: where the packs are (default ``common_dir/objects``). ``geometric=False``
    (``gc.autoPackLimit`` <= 0) runs the gc alone, ``gc=False`` the geometric repack alone
    (to roll up the small packs of a sweep, ``gitcfg.git.smallpack``). ``detach=False`` (the
    user set ``gc.autoDetach=false``) runs it to the end first, as git would. ``shared``:
    core.sharedRepository, for the modes of gitcfg's directory and lock file.
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
        packs = str((objects_dir or common_dir / "objects") / "pack")
        git = git_command(["-c", "gc.autoDetach=false"])
        flag = ("1" if gc else "2") if geometric else "0"
        command = ["sh", "-c", _GC_SCRIPT, "gitcfg-gc", str(common_dir), packs, flag, *git]
        if not detach:
            with contextlib.suppress(OSError):
                subprocess.run(command, cwd=cwd, env=git_env(), capture_output=True, check=False)
            return True
        # 'sh -c "... &"' leaves the gc as an orphan of init: no zombie and no child for the
        # caller to wait for; it inherits the locked descriptor and holds it until it exits.
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
