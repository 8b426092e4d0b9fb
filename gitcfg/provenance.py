"""What a run ran with: code commit, uncommitted changes, command line, host and versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import getpass
import os
import shlex
import shutil
import sys
import tempfile
from typing import Any, NamedTuple

from gitcfg import snapshotmemo
from gitcfg.errors import RepositoryError
from gitcfg.git import GitRepo, default_identity
from gitcfg.worktree import (
    known_clean,
    known_no_untracked,
    remember_no_untracked,
    tracked_paths,
    untracked_stamps,
)

VERSION = "0.1.0"
KEEP_PREFIX = "refs/gitcfg/keep/"


class Provenance(NamedTuple):
    """The facts recorded in a run's ``meta.yaml``."""

    code_commit: str | None
    branch: str | None
    dirty: bool
    snapshot: str | None
    command: str
    host: str
    user: str
    python: str
    gitcfg: str
    started: str
    # Untracked files over the snapshot's caps, so not in it (meta.yaml has it only when any).
    snapshot_left_out: tuple[str, ...] | list[str] | None = ()

    def as_dict(self) -> dict[str, Any]:
        values = self._asdict()
        if not values["snapshot_left_out"]:
            del values["snapshot_left_out"]
        return values

    @property
    def code_version(self) -> str | None:
        """The commit that holds the exact code: the snapshot when dirty, else the code commit."""
        return self.snapshot or self.code_commit


# platform.python_version() without importing platform (~2 ms at every run's start)
_PYTHON = sys.version.split()[0]


def _host() -> str:
    """The host name, as socket.gethostname() gives it, without importing socket."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


@functools.cache
def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return str(os.getuid())


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="milliseconds")


def capture(code_repo: GitRepo | None, argv: list[str] | None = None) -> Provenance:
    """Record the code version in ``code_repo`` (None: no code repository) and the process facts.

    A dirty work tree is snapshotted as a commit on top of HEAD, built in a throwaway index, so
    the user's index, stash and branches stay as they are. Dirty means changed tracked files,
    untracked files that are not ignored, or an entry script (``python train.py``) inside the
    work tree that git does not track; the snapshot holds all of them (untracked files up to the
    caps below; the paths left out are listed in ``snapshot_left_out``). Code commit and
    snapshot are pinned by refs under ``refs/gitcfg/keep/`` so that rebasing, deleting branches
    and ``git gc`` keep them.
    """
    code_commit = branch = snapshot = None
    dirty = False
    left_out: tuple[str, ...] = ()
    if code_repo is not None:
        head, code_commit = code_repo.head()
        branch = head.removeprefix("refs/heads/") if head else None
        if code_commit is not None:
            code_repo.keep_ref(KEEP_PREFIX + code_commit, code_commit)
        if code_repo.worktree is not None:
            dirty, snapshot, left_out = _dirty_state(code_repo, code_commit)
    return Provenance(
        code_commit=code_commit,
        branch=branch,
        dirty=dirty,
        snapshot=snapshot,
        # argv holds lone surrogates for non-UTF-8 bytes; keep the rest readable
        command=shlex.join(sys.argv if argv is None else argv)
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "replace"),
        host=_host(),
        user=_user(),
        python=_PYTHON,
        gitcfg=VERSION,
        started=now_iso(),
        snapshot_left_out=left_out,
    )


# What the snapshot takes of untracked files: enough for code and small configs, not datasets
# or checkpoints that happen not to be ignored (those are listed in meta.yaml instead).
MAX_UNTRACKED_FILE = 1 << 20
MAX_UNTRACKED_TOTAL = 10 << 20
MAX_UNTRACKED_FILES = 1000
_MAX_LISTED = 100


def entry_script(repo: GitRepo) -> str | None:
    """The running script's path relative to the work tree, if it lies inside it.

    ``__main__.__file__`` (else ``sys.argv[0]``); not for ``python -c``, the REPL, or a program
    installed in the Python environment (a virtualenv inside the work tree, console scripts).
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None) or (sys.argv[0] if sys.argv else None)
    if not path or repo.worktree is None:
        return None
    return _entry_in(os.path.abspath(path), str(repo.worktree))


@functools.lru_cache(maxsize=8)
def _entry_in(path: str, worktree: str) -> str | None:
    # cached: resolving symlinks costs tens of microseconds, and a run is recorded per call
    if not os.path.isfile(path):
        return None
    full = os.path.realpath(path)
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        if full.startswith(os.path.realpath(prefix) + os.sep):
            return None
    top = os.path.realpath(worktree)
    if not full.startswith(top + os.sep):
        return None
    return os.path.relpath(full, top).replace(os.sep, "/")


def _dirty_state(repo: GitRepo, head: str | None) -> tuple[bool, str | None, tuple[str, ...]]:
    """(dirty, snapshot commit, untracked paths left out of it) for the work tree of ``repo``."""
    entry = entry_script(repo)
    tracked = tracked_paths(repo)
    entry_known = entry is None or (tracked is not None and entry in tracked)
    # The common cases, in-process: the tree is as it was at the last snapshot (asked first: a
    # sweep from a dirty tree would otherwise stat every tracked file twice per run); or the
    # index proves tracked files clean and no new untracked file appeared.
    remembered = snapshotmemo.recall(repo, head, entry)
    if remembered is not None:
        known = remembered[0]
        if known is None:  # clean, though the index's stat data could not show it
            return False, None, ()
        if repo.read_ref(KEEP_PREFIX + known) == known:  # still pinned, as capture needs
            return True, known, remembered[1]
    if head is not None and entry_known and known_clean(repo, head) and known_no_untracked(repo):
        return False, None, ()
    seen = snapshotmemo.observe(repo, head, entry)
    # the directory mtimes the observation took (before git looks), or taken now
    stamps = seen.dirs if seen is not None else untracked_stamps(repo)
    status = repo.git("status", "--porcelain", "-z", "-uall", check=False)
    if status.returncode != 0:
        return False, None, ()
    changed, untracked = _parse_status(status.stdout)
    if not untracked and stamps is not None:
        remember_no_untracked(repo, stamps)
    if entry is not None and tracked is None:  # an index we do not read: ask git
        entry_known = bool(repo.git("ls-files", "-z", "--", entry).stdout)
    forced = [] if entry_known or entry in untracked else [entry] if entry else []
    if not (changed or untracked or forced):
        if seen is not None:
            # Clean, yet the index could not prove it: its stat data is stale (the code was
            # copied or rsynced here, new inodes) or racy, and git status re-reads every file
            # for it on every run until some git command refreshes the index, which gitcfg
            # never writes. Remembered as a dirty tree's snapshot is: the next runs do not ask.
            seen.add_untracked(repo, [])
            snapshotmemo.remember(repo, seen, None, ())
        return False, None, ()
    if seen is not None:
        seen.add_untracked(repo, untracked)
    taken, left_out = _within_caps(repo, [u for u in untracked if u != entry])
    if entry is not None and entry in untracked:
        taken.append(entry)  # always, whatever its size
    snapshot = _snapshot(repo, head, taken, forced, changed=changed)
    repo.keep_ref(KEEP_PREFIX + snapshot, snapshot)
    if seen is not None:
        snapshotmemo.remember(repo, seen, snapshot, tuple(left_out))
    return True, snapshot, tuple(left_out)


def _parse_status(out: bytes) -> tuple[bool, list[str]]:
    """Whether ``git status --porcelain -z`` lists tracked changes, and its untracked paths."""
    changed = False
    untracked: list[str] = []
    items = out.split(b"\0")
    i = 0
    while i < len(items):
        item = items[i]
        i += 1
        if len(item) < 4:
            continue
        code, path = item[:2], os.fsdecode(item[3:])
        if code == b"??":
            untracked.append(path)
            continue
        changed = True
        if b"R" in code or b"C" in code:
            i += 1  # the source path of a rename or copy follows
    return changed, untracked


def _within_caps(repo: GitRepo, paths: list[str]) -> tuple[list[str], list[str]]:
    assert repo.worktree is not None
    taken: list[str] = []
    left_out: list[str] = []
    total = 0
    for path in sorted(paths):
        try:
            size = os.lstat(os.path.join(repo.worktree, path)).st_size
        except OSError:
            continue  # gone since git listed it
        if (
            size > MAX_UNTRACKED_FILE
            or total + size > MAX_UNTRACKED_TOTAL
            or len(taken) >= MAX_UNTRACKED_FILES
        ):
            left_out.append(path)
        else:
            taken.append(path)
            total += size
    if len(left_out) > _MAX_LISTED:
        left_out[_MAX_LISTED:] = [f"... and {len(left_out) - _MAX_LISTED} more"]
    return taken, left_out


def _no_snapshot(repo: GitRepo, exc: OSError) -> RepositoryError:
    return RepositoryError(
        f"could not snapshot the uncommitted changes in {repo.git_dir}: {exc.strerror or exc}; "
        f"free disk space or check the permissions of the repository, then retry"
    )


def _snapshot(
    repo: GitRepo, head: str | None, untracked: list[str], forced: list[str], *, changed: bool
) -> str:
    """A commit of the work tree: tracked changes plus ``untracked`` and ``forced`` files;
    ``changed``: git status listed a tracked file (else only new files differ from HEAD)."""
    try:
        fd, index = tempfile.mkstemp(prefix="gitcfg-index-", dir=repo.git_dir)
    except OSError as exc:  # a read-only repository, a full disk
        raise _no_snapshot(repo, exc) from exc
    os.close(fd)
    try:
        try:
            # copy2 keeps the index's mtime: git trusts an entry's stat data only when the file
            # is older than the index, so a fresh mtime would hide a same-size edit made in the
            # second the index was written (git's "racy clean" case).
            shutil.copy2(repo.git_dir / "index", index)
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise _no_snapshot(repo, exc) from exc
        env = {"GIT_INDEX_FILE": index}
        if os.path.getsize(index) == 0:
            if head is not None:
                repo.git("read-tree", head, env=env)
            else:
                os.unlink(index)  # git wants no file rather than an empty one
        if changed:  # a git process less when the index and its files are HEAD's already
            repo.git("add", "-u", env=env)
        # update-index adds what it is given, ignored or not (the entry script always goes in);
        # paths on stdin, as thousands of them would not fit on a command line.
        extra = untracked + forced
        if extra:
            paths = b"".join(os.fsencode(p) + b"\0" for p in extra)
            repo.git("update-index", "--add", "-z", "--stdin", input=paths, env=env)
        tree = repo.git("write-tree", env=env).stdout.decode().strip()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(index)
    who = repo.identity or default_identity(repo)
    parents = [head] if head is not None else []
    return repo.write_commit(tree, parents, "gitcfg: snapshot of uncommitted changes\n", *who)
