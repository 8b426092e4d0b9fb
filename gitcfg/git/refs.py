"""Refs: read them as git lays them out, move them only by compare-and-swap under git's lock.

A ref update takes ``<ref>.lock`` exactly as git does (created exclusively, holding the new id,
renamed over the ref), checks the old value under it, and appends to the reflog where git would.
A symbolic ref is followed as ``git update-ref`` follows it: the ref at the end of the chain moves.
Anything the file system refuses (a full disk, a read-only repository) fails the update before
the ref moves, with one clear error. Two rules keep gitcfg from ever breaking another writer:

- gitcfg never removes a lock it did not take. A lock held by git is waited for
  (``core.filesRefLockTimeout``), then the update fails with one clear error; while the gc that
  gitcfg itself started runs (it packs refs and expires reflogs under their locks), writers
  wait for it instead, so gitcfg's own gc never fails a run.
- A lock left behind by a gitcfg writer that was killed is still recovered without hand work:
  gitcfg writers take turns under an flock (which dies with its process), and each creates its
  lock as a hard link of a file of its own under ``gitcfg/locks/``. A lock that is the same file
  as that leftover, found while holding the flock, can only be a dead gitcfg writer's.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from gitcfg.errors import CorruptStoreError, RefLockedError, RefNameClashError, RepositoryError
from gitcfg.git.files import read_small_text
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.maintenance import gc_running
from gitcfg.git.perms import adjust_fd, adjust_quietly, create_file, make_dirs

GitRunner = Callable[..., subprocess.CompletedProcess[bytes]]
# git's own default for core.filesRefLockTimeout is 100 ms.
DEFAULT_LOCK_TIMEOUT_MS = 100
# The gc gitcfg starts holds ref locks while it packs refs and expires a reflog that has one
# entry per run: its writers wait for it (never race it), up to this long.
GC_WAIT_SECONDS = 600.0
_LOGGED_PREFIXES = ("refs/heads/", "refs/remotes/", "refs/notes/")
# How git refuses a ref name that an existing ref is a directory of (or lies inside).
_GIT_CLASH = re.compile(r"'([^']+)' exists; cannot create")
# A file written this recently may be rewritten within the same tick of a coarse clock.
_RACY_NS = 2_000_000_000
# How many symbolic refs in a row git follows (refs.c SYMREF_MAXDEPTH).
_MAX_SYMREF_DEPTH = 5


class Refs:
    """The refs of one repository (files backend in-process; reftable through git)."""

    def __init__(
        self,
        git_dir: Path,
        common_dir: Path,
        algo: HashAlgo,
        git: GitRunner,
        *,
        bare: bool = False,
        reftable: bool = False,
    ) -> None:
        self.git_dir = git_dir
        self.bare = bare
        self.common_dir = common_dir
        self.algo = algo
        self._git = git
        self.reftable = reftable
        # Settings from git config; the store fills them in from the config it reads at open.
        self.lock_timeout_ms = DEFAULT_LOCK_TIMEOUT_MS
        self.fsync = False
        self.log_all: str | None = None  # core.logAllRefUpdates, None when unset
        self.shared = 0  # core.sharedRepository (gitcfg.git.perms)
        # As strings: a run's two commits read and move refs a dozen times, and joining
        # strings costs a fraction of building Paths.
        self._git_dir = f"{git_dir}{os.sep}"
        self._common_dir = f"{common_dir}{os.sep}"
        # packed-refs as last parsed, with its stat data then (see ``packed``)
        self._packed: tuple[tuple[int, ...], dict[str, str]] | None = None

    # -- reading -----------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        # HEAD and other pseudo-refs are per worktree; refs/* live in the common dir.
        return (self._common_dir if name.startswith("refs/") else self._git_dir) + name

    def read(
        self, name: str, *, fresh: bool = False, packed: Mapping[str, str] | None = None
    ) -> str | None:
        """The object id a ref points to (symbolic refs followed), or None if it does not exist.

        ``fresh``: packed-refs is read again, whatever was parsed before (a compare-and-swap
        checks the old value that way); ``packed``: the parse of it to use instead.
        """
        return self.resolve(name, fresh=fresh, packed=packed)[1]

    def target(self, name: str) -> str:
        """The ref ``name`` stands for: itself, or the end of its chain of symbolic refs (the
        ref that an update of ``name`` moves)."""
        return self.resolve(name)[0]

    def resolve(
        self, name: str, *, fresh: bool = False, packed: Mapping[str, str] | None = None
    ) -> tuple[str, str | None]:
        """``target(name)`` and ``read(name)`` together, from one read of the ref."""
        if self.reftable:
            proc = self._git("rev-parse", "--verify", "-q", name + "^{}", check=False)
            link = self._git("symbolic-ref", "-q", name, check=False)
            return link.stdout.decode().strip() or name, proc.stdout.decode().strip() or None
        for _ in range(_MAX_SYMREF_DEPTH):
            content = self._loose(name)
            if content is None:
                return name, (packed if packed is not None else self.packed(fresh=fresh)).get(name)
            if content.startswith("ref: "):
                name = content[5:].strip()
                continue
            if not self.algo.is_id(content):
                raise CorruptStoreError(f"ref {name} holds {content[:70]!r}")
            return name, content
        return name, None

    def symbolic_head(self) -> str | None:
        """The branch HEAD points to (``refs/heads/main``), or None when detached."""
        content = read_small_text(self._git_dir + "HEAD")
        if content is None or not content.startswith("ref: "):
            return None
        return content[5:].strip()

    def head(self) -> tuple[str | None, str | None]:
        """``symbolic_head()`` and ``read("HEAD")``, reading HEAD once when it names a branch:
        the branch (None when detached) and the commit (None before the first commit)."""
        branch = self.symbolic_head()
        if branch is None or self.reftable:
            return branch, self.read("HEAD")
        return branch, self.read(branch)

    def packed(self, *, fresh: bool = False) -> Mapping[str, str]:
        """The refs in ``packed-refs``, parsed once per version of the file.

        A repository with thousands of tags, or the ``refs/gitcfg/keep/`` refs of many code
        versions once gc has packed them, has a packed-refs file of hundreds of kilobytes or
        more, and every ref that is not a loose file is looked up there (a run looks up
        several: parsed each time, 5,000 tags made each run 2.9 times slower). As git keeps
        its snapshot of the file, the parse is kept while the file's stat data stay the same
        (git rewrites packed-refs by renaming a new file over it), and, by git's racy rule, only
        for a file last written more than two seconds ago: two rewrites within one tick of a
        coarse clock can share an inode, size and mtime.
        """
        path = self._common_dir + "packed-refs"
        try:
            fd = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            self._packed = None
            return {}
        try:
            stat = os.fstat(fd)
            version = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
            cached = self._packed  # once: another thread may replace it meanwhile
            if not fresh and cached is not None and cached[0] == version:
                return cached[1]
            chunks = []
            while chunk := os.read(fd, max(stat.st_size, 1 << 16)):
                chunks.append(chunk)
        finally:
            os.close(fd)
        refs: dict[str, str] = {}
        for line in b"".join(chunks).decode("utf-8", "surrogateescape").splitlines():
            if line and line[0] not in "#^":
                sha, _, ref = line.partition(" ")
                refs[ref] = sha
        settled = time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_NS
        self._packed = (version, refs) if settled else None
        return refs

    # -- writing -----------------------------------------------------------------------------

    def update(self, name: str, new: str, old: str | None, message: str, who: str) -> bool:
        """Point ``name`` at ``new`` only if it still points at ``old`` (None: must not exist).

        A symbolic ref is followed, as ``git update-ref`` follows it: the ref it names moves
        (locked together with the symbolic ref), and both get a reflog entry where git
        would write one. ``who`` is the reflog identity (a signature line). Returns False
        when another writer got there first, so the caller can retry on the new tip.
        """
        if os.environ.get("GIT_QUARANTINE_PATH"):
            # as git itself refuses (refs.c): the objects of a quarantine may be thrown away
            raise RepositoryError(
                f"cannot update {name}: refs may not move inside git's object quarantine "
                f"(GIT_QUARANTINE_PATH is set, as in a pre-receive hook); record runs outside it"
            )
        if self.reftable:
            proc = self._git(
                "update-ref", "-m", message, name, new, old or self.algo.null, check=False
            )
            clash = _GIT_CLASH.search(proc.stderr.decode(errors="replace"))
            if proc.returncode != 0 and clash is not None:  # not a lost race: never retried
                raise RefNameClashError(name, clash.group(1))
            return proc.returncode == 0
        try:
            with self._writer_lock() as own_dir:
                return self._update_locked(own_dir, name, new, old, message, who)
        except OSError as exc:  # a full disk, a read-only repository: nothing has moved
            raise RepositoryError(
                f"could not update {name} in {self.common_dir}: {exc.strerror or exc}; "
                f"free disk space or check the permissions of the repository, then retry"
            ) from exc

    def _update_locked(
        self, own_dir: str, name: str, new: str, old: str | None, message: str, who: str
    ) -> bool:
        names = [name]  # the ref asked for, then the refs its symbolic ref chain leads to
        held: list[_Lock] = []
        moved = False
        try:
            while True:
                if old is None:
                    # before the lock: a ref that is a directory of it leaves no room for it
                    self._check_loose_room(names[-1])
                held.append(self._lock(own_dir, names[-1], new))
                content = self._loose(names[-1])
                if content is None or not content.startswith("ref: "):
                    break
                referent = content[5:].strip()
                if len(names) >= _MAX_SYMREF_DEPTH or referent in names:
                    raise CorruptStoreError(
                        f"ref {name} is a loop or a chain of too many symbolic refs; "
                        f"point it at a branch with 'git symbolic-ref {name} refs/heads/...'"
                    )
                names.append(referent)
            target = names[-1]
            # a new ref is checked against the same parse of packed-refs as its value
            packed = self.packed(fresh=True) if old is None or content is None else None
            current = content if content is not None else (packed or {}).get(target)
            if current is not None and not self.algo.is_id(current):
                raise CorruptStoreError(f"ref {target} holds {current[:70]!r}")
            if current != old:
                return False
            if old is None and packed is not None:
                _check_packed_room(target, packed)
            # logged while the ref's lock is held, as git does: entries stay in the order the
            # ref moved, whoever (gitcfg or git) moves it next
            for ref in names:
                self._append_reflog(ref, old, new, message, who)
            os.replace(held[-1].path, self._path(target))
            moved = True
            return True
        finally:
            for lock in reversed(held):
                lock.release(keep=moved and lock is held[-1])

    def _lock(self, own_dir: str, name: str, new: str) -> _Lock:
        """Take ``name``'s lock file, holding ``new``, as git does (see the module docstring)."""
        own = own_dir + name.replace("/", "%")
        lock_path = self._path(name) + ".lock"
        fd = _create_own(own, lock_path, self.shared)
        try:
            _write_all(fd, (new + "\n").encode())
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        try:
            linked = self._acquire(own, lock_path, name)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(own)
            raise
        return _Lock(own, lock_path, linked)

    def _loose(self, name: str) -> str | None:
        """The content of ``name``'s loose file (an id or ``ref: ...``), None without one."""
        try:
            return read_small_text(self._path(name))
        except IsADirectoryError:  # refs/heads/a when refs/heads/a/b exists
            return None

    def check_room(self, name: str) -> None:
        """Raise RefNameClashError if ``name`` cannot be created beside the refs there are now
        (``update`` checks again under the ref's lock); for a writer that checks before it
        writes anything."""
        if self.reftable:
            return  # git's update-ref checks, and ``update`` turns its refusal into the error
        self._check_loose_room(name)
        _check_packed_room(name, self.packed())

    def _check_loose_room(self, name: str) -> None:
        """Raise RefNameClashError if a loose ref is a directory of ``name`` or lies inside it.

        Git keeps refs as files, so ``refs/heads/a`` and ``refs/heads/a/b`` cannot both exist
        (refs.c refuses such a name: verify_refname_available). Asked only when ``name`` is
        created: a few stats.
        """
        parts = name.split("/")
        for end in range(2, len(parts)):  # from refs/x: refs/ itself is never a ref
            prefix = "/".join(parts[:end])
            if os.path.isfile(self._path(prefix)):
                raise RefNameClashError(name, prefix)
        top = self._path(name)
        if not os.path.isdir(top):
            return
        for path, _dirs, files in os.walk(top):
            if files:  # a ref, or a lock of one being created
                inside = os.path.relpath(os.path.join(path, files[0]), top).replace(os.sep, "/")
                raise RefNameClashError(name, f"{name}/{inside.removesuffix('.lock')}")
        # Only empty directories, left by refs deleted: git removes them to create the ref.
        for path, _dirs, _files in os.walk(top, topdown=False):
            with contextlib.suppress(OSError):
                os.rmdir(path)

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[str]:
        """Hold gitcfg's writer flock; yields the directory of the writers' own files (with a
        trailing separator)."""
        # An flock dies with its process, so a SIGKILLed writer cannot block the others; it also
        # makes gitcfg writers take turns instead of spinning on each other's ref lock.
        own_dir = f"{self._common_dir}gitcfg{os.sep}locks{os.sep}"
        # read-only: a shared repository's lock file may be another user's
        path = f"{self._common_dir}gitcfg{os.sep}write.lock"
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        except FileNotFoundError:  # the repository's first write: its directories are new
            make_dirs(own_dir, self.shared)
            fd = os.open(path, os.O_RDONLY | os.O_CREAT, 0o666)
        try:
            if self.shared:
                adjust_quietly(path, self.shared)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield own_dir
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(self, own: str, lock_path: str, name: str) -> bool:
        """Create ``lock_path`` as a hard link of ``own`` (True) or, on a file system without
        hard links, as a copy of it (False); wait while another process holds it."""
        started = time.monotonic()
        deadline = started + self.lock_timeout_ms / 1000
        delay = 0.001
        while True:
            try:
                os.link(own, lock_path)
                return True
            except FileExistsError:
                pass
            except FileNotFoundError:  # the ref's directory: new, or removed by pack-refs
                make_dirs(os.path.dirname(lock_path), self.shared)
                continue
            except OSError:  # a file system without hard links: git's own O_EXCL create
                with open(own, "rb") as fh:
                    if _create_exclusive(lock_path, fh.read(), self.shared):
                        return False
            if time.monotonic() >= deadline and not self._waiting_for_own_gc(started):
                raise RefLockedError(name, lock_path)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def _waiting_for_own_gc(self, started: float) -> bool:
        return time.monotonic() - started < GC_WAIT_SECONDS and gc_running(self.common_dir)

    def _append_reflog(self, name: str, old: str | None, new: str, message: str, who: str) -> None:
        log = f"{self._common_dir}logs{os.sep}{name}"
        if not (self._logs(name) or os.path.exists(log)):
            return
        line = f"{old or self.algo.null} {new} {who}\t{message.splitlines()[0]}\n"
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            fd = os.open(log, flags, 0o666)
        except FileNotFoundError:  # the reflog's first entry: its directory is new
            make_dirs(os.path.dirname(log), self.shared)
            fd = os.open(log, flags, 0o666)
        try:
            if self.shared:
                with contextlib.suppress(OSError):  # another user's log: git leaves it too
                    adjust_fd(fd, self.shared)
            # one write: an entry is never interleaved with another writer's (O_APPEND); one
            # that cannot be written fails the update, as in git, before the ref moves
            _write_all(fd, line.encode("utf-8", "surrogateescape"))
        finally:
            os.close(fd)

    def _logs(self, name: str) -> bool:
        """Whether git would start a reflog for ``name`` (``core.logAllRefUpdates``)."""
        setting = (self.log_all or "").lower()
        if setting == "always":
            return True
        if setting in ("false", "no", "off", "0"):
            return False
        if not setting and self.bare:  # git's default: on unless the repository is bare
            return False
        return name.startswith(_LOGGED_PREFIXES)


def _check_packed_room(name: str, packed: Mapping[str, str]) -> None:
    """Raise RefNameClashError if a packed ref is a directory of ``name`` or lies inside it
    (as ``Refs._check_loose_room``). One pass over the parsed names, made only when a ref is
    created: a small fraction of the parse the compare-and-swap has just made."""
    parts = name.split("/")
    for end in range(2, len(parts)):
        prefix = "/".join(parts[:end])
        if prefix in packed:
            raise RefNameClashError(name, prefix)
    below = name + "/"
    inside = next((ref for ref in packed if ref.startswith(below)), None)
    if inside is not None:
        raise RefNameClashError(name, inside)


def _clear_own_leftover(own: str, lock_path: str) -> None:
    """Remove what a killed gitcfg writer left: its file, and the ref lock linked to it."""
    try:
        leftover = os.stat(own)
    except FileNotFoundError:
        return
    with contextlib.suppress(FileNotFoundError):
        held = os.stat(lock_path)
        if (held.st_dev, held.st_ino) == (leftover.st_dev, leftover.st_ino):
            os.unlink(lock_path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(own)


class _Lock(NamedTuple):
    """A ref lock this writer holds: its own file, the lock, and whether they are one file."""

    own: str
    path: str
    linked: bool

    def release(self, *, keep: bool) -> None:
        """Drop the lock (unless ``keep``: it has become the ref) and the writer's own file."""
        if not keep:
            with contextlib.suppress(OSError):
                if not self.linked or os.path.samefile(self.own, self.path):
                    os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.unlink(self.own)


def _create_own(own: str, lock_path: str, shared: int) -> int:
    """Create the writer's own file, to be linked as the ref's lock (see the module docstring).

    Created exclusively: one is there only if a writer was killed, and then it is cleared
    first (asking before every write would cost a system call that nearly always finds none).
    """
    flags = os.O_WRONLY | os.O_EXCL
    try:
        return create_file(own, flags, shared)
    except FileExistsError:
        _clear_own_leftover(own, lock_path)
    except FileNotFoundError:  # no locks directory yet (or it was removed)
        make_dirs(os.path.dirname(own), shared)
    return create_file(own, flags, shared)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _create_exclusive(path: str, data: bytes, shared: int) -> bool:
    try:
        fd = create_file(path, os.O_WRONLY | os.O_EXCL, shared)
    except FileExistsError:
        return False
    try:
        _write_all(fd, data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    os.close(fd)
    return True
