"""Loose objects: zlib-deflated files named by their id, written the way git writes them.

An object gets its final name only when it is complete: the bytes go to ``tmp_obj_XXXXXX`` in
its fan-out directory (git's own temporary name, so ``git gc``/``git prune`` treat it by git's
rules), are optionally fsynced (``core.fsync``), and the file is then renamed into place. A short
write, a full disk or a file-size limit is an error before any rename, so no truncated object
ever carries a name. An existing object is reused only after it inflates to exactly the expected
content; a damaged leftover is replaced.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import re
import zlib
from pathlib import Path

from gitcfg.errors import CorruptStoreError, RepositoryError
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.perms import adjust_fd, make_dir

# A fan-out directory that 'git prune-packed' removes between our mkdir and open is made again;
# a few rounds are plenty, since gc removes only directories it has just emptied.
_DIR_RETRIES = 20


def header(kind: str, size: int) -> bytes:
    return f"{kind} {size}\0".encode()


# zlib's default memLevel (8) sets up ~256 KiB of state per stream: ~40 us, more than deflating
# a run's small objects takes, and a commit writes a dozen of them. memLevel 4 gives the same
# bytes for nearly all of them (checked on a store's objects: 1,498 of 1,500, the others one byte
# apart), with git's own header and level 1, what core.looseCompression defaults to.
_SMALL_OBJECT = 4096
# Even at memLevel 4, git's 32 KiB window makes zlib allocate ~140 kB a stream, which the C
# allocator hands back to the system at every end and takes again at the next start (two brk
# calls and fresh pages): ~13 of the ~17 us a small object took. An 8 KiB window stays in the
# allocator's free memory (~4 us). For an input shorter than that window less zlib's 262-byte
# lookahead (7,930 bytes, above every small object) the window size never limits a match, so
# the deflate data are the same bytes; only the stream's header names the window, and it gets
# git's own (32 KiB, level 1: 78 01), which holds for a stream that never reaches back further.
_SMALL_WBITS = 13
_GIT_HEADER = b"\x78\x01"


def deflate(raw: bytes) -> bytes:
    """``raw`` deflated at level 1, as git deflates loose objects by default."""
    if len(raw) > _SMALL_OBJECT:
        return zlib.compress(raw, 1)
    stream = zlib.compressobj(1, zlib.DEFLATED, _SMALL_WBITS, 4)
    return _GIT_HEADER + (stream.compress(raw) + stream.flush())[2:]


class LooseObjects:
    """The loose objects of one object directory."""

    def __init__(
        self, objects_dir: Path, algo: HashAlgo, *, fsync: bool = False, shared: int = 0
    ) -> None:
        self.objects_dir = objects_dir
        self._prefix = str(objects_dir) + os.sep  # strings: pathlib costs ~10 us per join
        self.algo = algo
        self.fsync = fsync
        self.shared = shared  # core.sharedRepository (gitcfg.git.perms)

    def path(self, sha: str) -> str:
        return f"{self._prefix}{sha[:2]}{os.sep}{sha[2:]}"

    def write(self, kind: str, data: bytes) -> str:
        """Store an object and return its id; a sound existing blob is kept (and freshened).

        A tree or commit is written without asking whether it exists: gitcfg's are all but
        always new (each holds a new run's path or a new time), so the question, a system call
        for each of the dozen a commit writes, finds nothing; a copy that was there after all
        is replaced by the same bytes.
        """
        raw = header(kind, len(data)) + data
        sha = self.algo.hexdigest(raw)
        fanout = self._prefix + sha[:2]
        path = f"{fanout}{os.sep}{sha[2:]}"
        # access() answers "no such object" (nearly every object a run writes is new) without
        # raising, which costs more than the system call
        if kind == "blob" and os.access(path, os.F_OK) and self._sound(path, raw):
            return sha
        self._write_new(fanout, path, deflate(raw))
        return sha

    def _sound(self, path: str, raw: bytes) -> bool:
        """Whether ``path`` already holds exactly ``raw``; freshen it then, as git does."""
        try:
            with open(path, "rb") as fh:
                ok = zlib.decompress(fh.read()) == raw
        except FileNotFoundError:
            return False
        except (OSError, zlib.error):
            return False  # unreadable or truncated: write it again
        if ok:
            # git freshens an object it would have written, so that prune keeps it.
            try:
                os.utime(path)
            except OSError:
                return False
        return ok

    def _write_new(self, directory: str, path: str, compressed: bytes) -> None:
        fd, tmp = self._create_tmp(directory)
        try:
            write_all(fd, compressed)
            if self.fsync:
                os.fsync(fd)
            adjust_fd(fd, self.shared)  # git widens the named object; same mode, same inode
        except OSError as exc:
            os.close(fd)
            _unlink(tmp)
            raise RepositoryError(
                f"could not write a git object in {self.objects_dir}: {exc.strerror or exc}; "
                f"free disk space (or raise the file-size limit) and retry"
            ) from exc
        os.close(fd)
        try:
            os.replace(tmp, path)
        except OSError as exc:
            _unlink(tmp)
            raise RepositoryError(f"could not store git object {path}: {exc}") from exc

    def _create_tmp(self, directory: str) -> tuple[int, str]:
        for _ in range(_DIR_RETRIES):
            tmp = f"{directory}{os.sep}{tmp_name()}"
            try:
                return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o444), tmp
            except FileExistsError:
                continue
            except FileNotFoundError:  # first object of this fan-out, or gc just removed it
                try:
                    make_dir(directory, self.shared)
                except FileNotFoundError as exc:
                    raise RepositoryError(f"{self.objects_dir} does not exist") from exc
                except OSError as exc:  # read-only, not ours, or a file in the way
                    raise _cannot_create(directory, exc) from exc
            except OSError as exc:
                raise _cannot_create(directory, exc) from exc
        raise RepositoryError(f"could not create a temporary object file in {directory}; retry")

    def read(self, sha: str) -> tuple[str, bytes] | None:
        """A loose object as (kind, body), or None when there is no loose file for ``sha``."""
        try:
            with open(self.path(sha), "rb") as fh:
                raw = zlib.decompress(fh.read())
        except (FileNotFoundError, NotADirectoryError):
            return None
        except zlib.error as exc:
            raise CorruptStoreError(f"object {sha} cannot be inflated") from exc
        head, _, body = raw.partition(b"\0")
        kind, _, size = head.decode(errors="replace").partition(" ")
        if not size.isdigit() or int(size) != len(body):
            raise CorruptStoreError(f"object {sha} is truncated")
        return kind, body

    def exists(self, sha: str) -> bool:
        return os.path.exists(self.path(sha))

    def too_many(self, limit: int) -> bool:
        """git's own test for ``gc --auto``: more than ``limit`` loose objects, estimated from
        the fan-out directory 17 (over ceil(limit / 256) object files there)."""
        threshold = -(-limit // 256)
        try:
            names = os.listdir(self._prefix + "17")  # a string: pathlib costs ~5 us a join
        except FileNotFoundError:
            return False
        if len(names) <= threshold:
            return False
        object_name = re.compile(f"[0-9a-f]{{{self.algo.hexsz - 2}}}").fullmatch
        return sum(1 for name in names if object_name(name)) > threshold


# Not the random module's shared generator: that one is the training script's, seeded for
# reproducibility, and drawing from it would change the script's own numbers. A private one,
# seeded from the system: names need only differ (the create is exclusive and retried), and
# drawing from it costs no system call per object as os.urandom does.
_NAMES = random.Random()
# a child made by fork() would otherwise draw the same names as its parent
os.register_at_fork(after_in_child=_NAMES.seed)


def tmp_name(prefix: str = "tmp_obj_") -> str:
    """``prefix`` and six random characters, as git's own ``odb_mkstemp`` names its temporary
    files (``tmp_obj_``, ``tmp_pack_``, ``tmp_idx_``; hex digits: one draw, not six)."""
    return f"{prefix}{_NAMES.getrandbits(24):06x}"


def write_all(fd: int, data: bytes) -> None:
    """All of ``data`` to ``fd`` (a short write is continued; one of nothing is a full disk)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.ENOSPC, "no bytes written")
        view = view[written:]


def _cannot_create(directory: str, exc: OSError) -> RepositoryError:
    return RepositoryError(
        f"could not create a file in {directory}: {exc.strerror or exc}; "
        f"check the permissions and free space of the repository"
    )


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
