"""The git layer: every git process, object and ref that gitcfg touches goes through here.

Hot paths (writing a run) work on the object database and refs in-process, the way git itself lays
them out: loose objects are zlib-deflated files named by their SHA-1, a ref update takes
``<ref>.lock`` with O_EXCL, checks the old value under the lock and renames. Everything else runs
git plumbing in a subprocess with ``GIT_OPTIONAL_LOCKS=0`` (never rewrite the user's index) and
``core.hooksPath=/dev/null`` (never run the user's hooks). No git process outlives a call.
GitPython is not used at run time: its ~90 ms import alone would blow the start-up budget, and
its persistent ``cat-file`` processes are what long-lived training jobs must not accumulate.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import struct
import subprocess
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from gitcfg.errors import CorruptStoreError, RepositoryError

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
# A "<ref>.lock" older than this, found while we hold our own flock, was left by a gitcfg writer
# killed between creating and renaming it (live gitcfg writers hold it only under the flock, for
# microseconds, and git itself holds a ref lock for milliseconds).
_STALE_LOCK_SECONDS = 2.0


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git subprocesses: no optional locks (so no index refresh), no prompts."""
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.pop("GIT_INDEX_FILE", None)
    if extra:
        env.update(extra)
    return env


def run_git(
    args: Sequence[str],
    cwd: str | os.PathLike[str],
    *,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command to completion and return its result; raise RepositoryError on failure."""
    cmd = ["git", "-c", "core.hooksPath=/dev/null", *args]
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, input=input, capture_output=True, env=git_env(env), check=False
        )
    except FileNotFoundError as exc:
        raise RepositoryError(
            "git is not installed or not on PATH; install git 2.25 or newer"
        ) from exc
    if check and proc.returncode != 0:
        message = proc.stderr.decode(errors="replace").strip().splitlines()
        detail = message[-1] if message else f"exit code {proc.returncode}"
        raise RepositoryError(f"git {args[0]} failed: {detail}")
    return proc


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == "40000"


@dataclass(frozen=True)
class Identity:
    name: str
    email: str

    def signature(self, when: float | None = None) -> str:
        now = time.time() if when is None else when
        offset = time.localtime(now).tm_gmtoff
        sign = "+" if offset >= 0 else "-"
        hours, minutes = divmod(abs(offset) // 60, 60)
        return f"{self.name} <{self.email}> {int(now)} {sign}{hours:02d}{minutes:02d}"


@dataclass(frozen=True)
class Commit:
    sha: str
    tree: str
    parents: tuple[str, ...]
    time: int
    message: str


class GitRepo:
    """A git repository located on disk, read and written without a long-lived git process."""

    def __init__(self, git_dir: Path, common_dir: Path, worktree: Path | None) -> None:
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.worktree = worktree
        self.objects_dir = common_dir / "objects"
        self._reftable = _uses_reftable(common_dir)
        self._packs = PackStore(self.objects_dir, self._read_loose)
        # Who appears in reflog entries; set by the store from the config it read at open.
        self.identity: Identity | None = None

    # -- discovery ---------------------------------------------------------------------------

    @classmethod
    def discover(cls, path: str | os.PathLike[str]) -> GitRepo:
        """Find the repository containing ``path`` (a work tree, subdirectory or bare repo)."""
        where = Path(path)
        if not where.is_dir():
            raise RepositoryError(
                f"{where} is not a directory; point GITCFG_REPO or repo= at a git repository"
            )
        proc = run_git(
            [
                "rev-parse",
                "--absolute-git-dir",
                "--git-common-dir",
                "--is-bare-repository",
                "--is-inside-work-tree",
                "--show-cdup",
            ],
            where,
            check=False,
        )
        if proc.returncode != 0:
            raise RepositoryError(
                f"{where.resolve()} is not inside a git repository; run 'git init' there, "
                f"or set GITCFG_REPO (or pass repo=) to the repository that should hold the runs"
            )
        lines = proc.stdout.decode().split("\n")
        git_dir = Path(lines[0])
        common = Path(lines[1])
        common_dir = (common if common.is_absolute() else where / common).resolve()
        bare = lines[2] == "true"
        inside = lines[3] == "true"
        worktree = (where / lines[4]).resolve() if inside and not bare else None
        return cls(git_dir, common_dir, worktree)

    @property
    def cwd(self) -> Path:
        return self.worktree or self.git_dir

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        return run_git(args, self.cwd, input=input, env=env, check=check)

    def config_values(self, pattern: str) -> dict[str, str]:
        """Git config entries whose names match the regex ``pattern`` (last value wins)."""
        proc = self.git("config", "-z", "--get-regexp", pattern, check=False)
        values: dict[str, str] = {}
        for item in proc.stdout.decode(errors="replace").split("\0"):
            if item:
                name, _, value = item.partition("\n")
                values[name] = value
        return values

    # -- objects -----------------------------------------------------------------------------

    def _loose_path(self, sha: str) -> Path:
        return self.objects_dir / sha[:2] / sha[2:]

    def write_object(self, kind: str, data: bytes) -> str:
        """Store an object as a loose file and return its id; an existing object is kept."""
        raw = f"{kind} {len(data)}\0".encode() + data
        sha = hashlib.sha1(raw).hexdigest()
        path = self._loose_path(sha)
        if path.exists():
            return sha
        tmp = path.parent / f"tmp_obj_gitcfg_{os.getpid()}_{time.monotonic_ns()}"
        # Level 1: objects here are small and written on every run start; speed beats ratio.
        data = zlib.compress(raw, 1)
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        except FileNotFoundError:  # the first object in this fan-out directory
            path.parent.mkdir(exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return sha

    def read_object(self, sha: str, reader: ObjectReader | None = None) -> tuple[str, bytes]:
        """Read one object in-process (loose or packed), else through ``reader`` (cat-file).

        The cat-file fallback covers what the pack reader does not: alternates, version-1
        indexes, and anything that looks wrong in a pack (it then never guesses).
        """
        found = self._read_loose(sha)
        if found is None:
            found = self._packs.read(sha)
        if found is not None:
            return found
        if reader is not None:
            return reader.read(sha)
        with ObjectReader(self) as batch:
            return batch.read(sha)

    def _read_loose(self, sha: str) -> tuple[str, bytes] | None:
        """A loose object, or None when there is no loose file for ``sha``."""
        try:
            with open(self._loose_path(sha), "rb") as fh:
                raw = zlib.decompress(fh.read())
        except FileNotFoundError:
            return None
        except zlib.error as exc:
            raise CorruptStoreError(f"object {sha} cannot be inflated") from exc
        header, _, body = raw.partition(b"\0")
        kind, _, _size = header.decode().partition(" ")
        return kind, body

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Iterable[TreeEntry]) -> str:
        return self.write_object("tree", format_tree(entries))

    def read_tree(self, sha: str, reader: ObjectReader | None = None) -> list[TreeEntry]:
        kind, body = self.read_object(sha, reader)
        if kind != "tree":
            raise CorruptStoreError(f"{sha} is a {kind}, expected a tree")
        return parse_tree(body)

    def write_commit(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        author: Identity,
        committer: Identity | None = None,
    ) -> str:
        lines = [f"tree {tree}"] + [f"parent {p}" for p in parents]
        now = time.time()
        lines.append(f"author {author.signature(now)}")
        lines.append(f"committer {(committer or author).signature(now)}")
        body = "\n".join(lines) + "\n\n" + message.rstrip("\n") + "\n"
        return self.write_object("commit", body.encode())

    def read_commit(self, sha: str, reader: ObjectReader | None = None) -> Commit:
        kind, body = self.read_object(sha, reader)
        if kind != "commit":
            raise CorruptStoreError(f"{sha} is a {kind}, expected a commit")
        head, _, message = body.decode(errors="replace").partition("\n\n")
        tree = ""
        parents: list[str] = []
        when = 0
        for line in head.split("\n"):
            field, _, value = line.partition(" ")
            if field == "tree":
                tree = value
            elif field == "parent":
                parents.append(value)
            elif field == "committer":
                with contextlib.suppress(ValueError, IndexError):
                    when = int(value.rsplit(" ", 2)[1])
        return Commit(sha, tree, tuple(parents), when, message)

    # -- refs --------------------------------------------------------------------------------

    def _ref_base(self, name: str) -> Path:
        # HEAD and other pseudo-refs are per worktree; refs/* live in the common dir.
        return self.common_dir if name.startswith("refs/") else self.git_dir

    def read_ref(self, name: str) -> str | None:
        """The object id a ref points to (symbolic refs followed), or None if it does not exist."""
        if self._reftable:
            proc = self.git("rev-parse", "--verify", "-q", name + "^{}", check=False)
            return proc.stdout.decode().strip() or None
        for _ in range(5):
            try:
                content = (self._ref_base(name) / name).read_text().strip()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return self._packed_refs().get(name)
            if content.startswith("ref: "):
                name = content[5:].strip()
                continue
            if not _HEX40.match(content):
                raise CorruptStoreError(f"ref {name} holds {content[:60]!r}")
            return content
        return None

    def symbolic_head(self) -> str | None:
        """The branch HEAD points to (``refs/heads/main``), or None when detached."""
        try:
            content = (self.git_dir / "HEAD").read_text().strip()
        except FileNotFoundError:
            return None
        return content[5:].strip() if content.startswith("ref: ") else None

    def _packed_refs(self) -> dict[str, str]:
        try:
            text = (self.common_dir / "packed-refs").read_text()
        except FileNotFoundError:
            return {}
        refs: dict[str, str] = {}
        for line in text.splitlines():
            if line and line[0] not in "#^":
                sha, _, ref = line.partition(" ")
                refs[ref] = sha
        return refs

    def loose_objects_estimate(self) -> int:
        """Loose objects in the repository, estimated from one fan-out directory as git does."""
        try:
            return len(os.listdir(self.objects_dir / "17")) * 256
        except FileNotFoundError:
            return 0

    def update_ref(self, name: str, new: str, old: str | None, message: str) -> bool:
        """Point ``name`` at ``new`` only if it still points at ``old`` (None: must not exist).

        Returns False when another writer got there first, so the caller can retry on the new tip.
        """
        if self._reftable:
            proc = self.git("update-ref", "-m", message, name, new, old or "0" * 40, check=False)
            return proc.returncode == 0
        ref_path = self.common_dir / name
        ref_path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = ref_path.with_name(ref_path.name + ".lock")
        with self._writer_lock():
            fd = self._acquire_ref_lock(lock_path)
            try:
                current = self.read_ref(name)
                if current != old:
                    return False
                os.write(fd, (new + "\n").encode())
                os.close(fd)
                fd = -1
                os.replace(lock_path, ref_path)
            finally:
                if fd != -1:
                    os.close(fd)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(lock_path)
        self._append_reflog(name, old, new, message)
        return True

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        # An flock dies with its process, so a SIGKILLed writer cannot block the others; it also
        # makes gitcfg writers take turns instead of spinning on each other's ref lock.
        lock_dir = self.common_dir / "gitcfg"
        lock_dir.mkdir(exist_ok=True)
        with open(lock_dir / "write.lock", "a") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _acquire_ref_lock(self, lock_path: Path) -> int:
        deadline = time.monotonic() + 30
        while True:
            try:
                return os.open(lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                with contextlib.suppress(FileNotFoundError):
                    if time.time() - lock_path.stat().st_mtime > _STALE_LOCK_SECONDS:
                        os.unlink(lock_path)
                        continue
                if time.monotonic() > deadline:
                    raise RepositoryError(
                        f"{lock_path} is held by another process; if no git command is running, "
                        f"delete that file and retry"
                    ) from None
                time.sleep(0.002)

    def _append_reflog(self, name: str, old: str | None, new: str, message: str) -> None:
        if self.worktree is None and not (self.common_dir / "logs" / name).exists():
            return  # bare repositories keep no reflog unless asked to
        log = self.common_dir / "logs" / name
        with contextlib.suppress(OSError):
            log.parent.mkdir(parents=True, exist_ok=True)
            who = (self.identity or default_identity(self)).signature()
            line = f"{old or '0' * 40} {new} {who}\t{message.splitlines()[0]}\n"
            with open(log, "a") as fh:
                fh.write(line)

    def keep_ref(self, name: str, sha: str) -> None:
        """Create ``name`` pointing at ``sha`` unless it exists; used to pin commits against gc."""
        if self.read_ref(name) == sha:
            return
        if not self.update_ref(name, sha, None, "gitcfg: keep"):
            current = self.read_ref(name)
            if current != sha:
                raise CorruptStoreError(f"ref {name} points at {current}, expected {sha}")

    def list_refs(self, prefix: str) -> dict[str, str]:
        proc = self.git("for-each-ref", "--format=%(objectname) %(refname)", prefix)
        refs: dict[str, str] = {}
        for line in proc.stdout.decode().splitlines():
            sha, _, ref = line.partition(" ")
            refs[ref] = sha
        return refs

    def rev_parse(self, rev: str) -> str | None:
        """Resolve any revision expression to a full object id, or None."""
        if _HEX40.match(rev) and self._loose_path(rev).exists():
            return rev
        proc = self.git("rev-parse", "--verify", "-q", "--end-of-options", rev, check=False)
        return proc.stdout.decode().strip() or None


class ObjectReader:
    """One ``git cat-file --batch`` process for the length of a ``with`` block."""

    def __init__(self, repo: GitRepo) -> None:
        self._repo = repo
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self._repo.cwd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=git_env(),
            )
        return self._proc

    def read(self, sha: str) -> tuple[str, bytes]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(sha.encode() + b"\n")
        proc.stdin.flush()
        return _read_batch_entry(proc.stdout, sha)

    def read_many(self, shas: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
        """Stream many objects: writes requests from a thread so neither pipe can fill up."""
        import threading

        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        stdin = proc.stdin

        def feed() -> None:
            with contextlib.suppress(BrokenPipeError):
                stdin.write("".join(s + "\n" for s in shas).encode())
                stdin.flush()

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            for sha in shas:
                kind, body = _read_batch_entry(proc.stdout, sha)
                yield sha, kind, body
        finally:
            feeder.join()

    def close(self) -> None:
        if self._proc is not None:
            proc, self._proc = self._proc, None
            assert proc.stdin is not None and proc.stdout is not None
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
            proc.stdout.close()
            proc.wait()


def _read_batch_entry(stdout: IO[bytes], sha: str) -> tuple[str, bytes]:
    header = stdout.readline().decode().split()
    if len(header) != 3:
        raise CorruptStoreError(f"object {sha} is missing")
    _, kind, size = header
    body = stdout.read(int(size))
    stdout.read(1)  # the newline after each object
    return kind, body


# -- packs ---------------------------------------------------------------------------------------
#
# After 'git gc' most objects a run creation reads are packed; starting cat-file for them costs
# 1.5-2 ms per run. The reader below handles what git writes itself (version-2 .idx, pack
# versions 2 and 3, OFS_DELTA and REF_DELTA) and declines anything else, leaving it to cat-file.
# It holds no file descriptor between calls: Python < 3.13 mmaps keep a duplicate fd open, so
# it reads with pread and caches only what it has read of each .idx (the fan-out and touched
# name buckets), which never changes for a given pack name (git names packs by their content).

_IDX_MAGIC = b"\xfftOc"
_IDX_HEADER = 8 + 256 * 4  # magic, version, fan-out table
_PACK_KINDS = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
_KIND_NUMBERS = {kind: number for number, kind in _PACK_KINDS.items()}
_OFS_DELTA = 6
_REF_DELTA = 7
# git itself caps delta chains at 4095; a longer chain (or a loop) means a damaged pack.
_MAX_CHAIN = 10_000
_BASE_CACHE_BYTES = 16 << 20
_BASE_CACHE_ENTRIES = 256


class _PackMiss(Exception):
    """The pack reader cannot vouch for an object; the caller falls back to cat-file."""


class PackIndex:
    """One version-2 ``.idx`` file: its fan-out table, read at open, and name buckets on demand."""

    def __init__(self, idx_path: Path) -> None:
        self.idx_path = idx_path
        self.pack_path = idx_path.with_suffix(".pack")
        fd = os.open(idx_path, os.O_RDONLY)
        try:
            stat = os.fstat(fd)
            header = os.pread(fd, _IDX_HEADER, 0)
            self.pack_checksum = os.pread(fd, 20, stat.st_size - 40)
        finally:
            os.close(fd)
        # Version 1 has no magic; the fallback reads those packs.
        if len(header) != _IDX_HEADER or header[:8] != _IDX_MAGIC + b"\0\0\0\2":
            raise _PackMiss(f"{idx_path} is not a version-2 pack index")
        self._fanout: tuple[int, ...] = struct.unpack_from(">256I", header, 8)
        self.count = self._fanout[255]
        self._names_at = _IDX_HEADER
        self._offsets_at = _IDX_HEADER + 24 * self.count  # after the names and the CRC32s
        self._large_at = self._offsets_at + 4 * self.count
        # Names, CRCs and offsets, then up to 8 bytes per object of large offsets, two checksums.
        if not self._large_at + 40 <= stat.st_size <= self._large_at + 8 * self.count + 40:
            raise _PackMiss(f"{idx_path} has the wrong length for {self.count} objects")
        if any(a > b for a, b in zip(self._fanout, self._fanout[1:], strict=False)):
            raise _PackMiss(f"{idx_path} has an unsorted fan-out table")
        self._size = stat.st_size
        self._buckets: dict[int, tuple[bytes, bytes]] = {}
        self.pack_checked = False

    def find(self, key: bytes) -> int | None:
        """The pack offset of the object named ``key`` (20 raw bytes), or None."""
        names, offsets = self._bucket(key[0])
        lo, hi = 0, len(names) // 20
        while lo < hi:
            mid = (lo + hi) // 2
            name = names[20 * mid : 20 * mid + 20]
            if name < key:
                lo = mid + 1
            elif name > key:
                hi = mid
            else:
                (offset,) = struct.unpack_from(">I", offsets, 4 * mid)
                if offset & 0x8000_0000:  # an index into the 64-bit table (packs over 2 GiB)
                    return self._large_offset(offset & 0x7FFF_FFFF)
                return int(offset)
        return None

    def _bucket(self, byte: int) -> tuple[bytes, bytes]:
        cached = self._buckets.get(byte)
        if cached is not None:
            return cached
        first = self._fanout[byte - 1] if byte else 0
        end = self._fanout[byte]
        fd = self._open()
        try:
            names = os.pread(fd, 20 * (end - first), self._names_at + 20 * first)
            offsets = os.pread(fd, 4 * (end - first), self._offsets_at + 4 * first)
        finally:
            os.close(fd)
        if len(names) != 20 * (end - first) or len(offsets) != 4 * (end - first):
            raise _PackMiss(f"{self.idx_path} is truncated")
        self._buckets[byte] = bucket = (names, offsets)
        return bucket

    def _large_offset(self, index: int) -> int:
        at = self._large_at + 8 * index
        if at + 8 > self._size - 40:
            raise _PackMiss(f"{self.idx_path} points past its large-offset table")
        fd = self._open()
        try:
            raw = os.pread(fd, 8, at)
        finally:
            os.close(fd)
        (offset,) = struct.unpack(">Q", raw)
        return int(offset)

    def _open(self) -> int:
        fd = os.open(self.idx_path, os.O_RDONLY)
        if os.fstat(fd).st_size != self._size:  # replaced since the fan-out was read
            os.close(fd)
            raise _PackMiss(f"{self.idx_path} changed")
        return fd


class PackStore:
    """The objects in ``<objects>/pack``, read in-process; see the comment above ``PackIndex``.

    ``read_loose`` reads a loose object (None if there is none): a REF_DELTA base may be loose.
    """

    def __init__(
        self, objects_dir: Path, read_loose: Callable[[str], tuple[str, bytes] | None]
    ) -> None:
        self._pack_dir = objects_dir / "pack"
        self._read_loose = read_loose
        self._packs: list[PackIndex] | None = None
        self._known: dict[tuple[str, int, int, int], PackIndex] = {}
        # Resolved delta bases by (pack, offset): neighbouring objects share their bases.
        self._bases: OrderedDict[tuple[Path, int], tuple[int, bytes]] = OrderedDict()
        self._base_bytes = 0
        # Reentrant: resolving a REF_DELTA looks its base up through the same store.
        self._lock = threading.RLock()

    def read(self, sha: str) -> tuple[str, bytes] | None:
        """Object ``sha`` as (kind, body) if a pack holds it and it checks out, else None."""
        if not _HEX40.match(sha):
            return None
        key = bytes.fromhex(sha)
        with self._lock:
            fresh = self._packs is None
            if self._packs is None:
                self._packs = self._scan()
            while True:
                fds: dict[Path, int] = {}
                try:
                    found = self._find(key, fds, 0)
                except FileNotFoundError:
                    found = None  # a pack deleted by gc since the scan: rescan below
                except (_PackMiss, CorruptStoreError, OSError, zlib.error, ValueError, IndexError):
                    return None
                finally:
                    for fd in fds.values():
                        os.close(fd)
                if found is not None:
                    kind, body = found
                    # The final check that makes a bug or a damaged pack a fallback, not bad data.
                    if (
                        hashlib.sha1(b"%s %d\0%s" % (kind.encode(), len(body), body)).digest()
                        != key
                    ):
                        return None
                    return found
                if fresh:
                    return None
                self._packs, fresh = self._scan(), True  # new packs appear after gc

    def _scan(self) -> list[PackIndex]:
        found: list[tuple[int, PackIndex]] = []
        known: dict[tuple[str, int, int, int], PackIndex] = {}
        try:
            entries = list(os.scandir(self._pack_dir))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.endswith(".idx"):
                continue
            try:
                stat = entry.stat()
                ident = (entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
                pack = self._known.get(ident) or PackIndex(Path(entry.path))
            except (OSError, _PackMiss, struct.error):
                continue  # unreadable or version 1: cat-file reads its objects
            known[ident] = pack
            found.append((stat.st_mtime_ns, pack))
        self._known = known
        # Newest first: the objects a run reads were most likely packed by the latest gc.
        return [pack for _, pack in sorted(found, key=lambda item: -item[0])]

    def _find(self, key: bytes, fds: dict[Path, int], depth: int) -> tuple[str, bytes] | None:
        assert self._packs is not None
        for pack in self._packs:
            offset = pack.find(key)
            if offset is not None:
                kind, body = self._resolve(pack, offset, fds, depth)
                return _PACK_KINDS[kind], body
        return None

    def _resolve(
        self, pack: PackIndex, offset: int, fds: dict[Path, int], depth: int
    ) -> tuple[int, bytes]:
        """Kind number and body of the entry at ``offset``, its delta chain applied."""
        chain: list[tuple[int, bytes]] = []  # (offset, delta), outermost first
        while True:
            if depth + len(chain) > _MAX_CHAIN:
                raise _PackMiss(f"delta chain too long in {pack.pack_path}")
            cached = self._bases.get((pack.pack_path, offset))
            if cached is not None:
                self._bases.move_to_end((pack.pack_path, offset))
                kind, data = cached
                break
            kind, payload, base = self._entry(pack, offset, fds)
            if kind == _OFS_DELTA:
                assert isinstance(base, int)
                chain.append((offset, payload))
                offset = base
                continue
            if kind == _REF_DELTA:
                assert isinstance(base, bytes)
                chain.append((offset, payload))
                kind, data = self._ref_base(pack, base, fds, depth + len(chain))
                break
            data = payload
            break
        for at, delta in reversed(chain):
            data = apply_delta(data, delta)
            self._remember(pack.pack_path, at, kind, data)
        return kind, data

    def _ref_base(
        self, pack: PackIndex, key: bytes, fds: dict[Path, int], depth: int
    ) -> tuple[int, bytes]:
        # The same pack first (the usual case), then loose, then the other packs.
        offset = pack.find(key)
        if offset is not None:
            return self._resolve(pack, offset, fds, depth)
        found = self._read_loose(key.hex())
        if found is None:
            found = self._find(key, fds, depth)
        if found is None or found[0] not in _KIND_NUMBERS:
            raise _PackMiss(f"delta base {key.hex()} is not in-process")
        return _KIND_NUMBERS[found[0]], found[1]

    def _entry(
        self, pack: PackIndex, offset: int, fds: dict[Path, int]
    ) -> tuple[int, bytes, int | bytes | None]:
        """Kind number, inflated payload and delta base (offset or name) of one pack entry."""
        fd = self._pack_fd(pack, fds)
        head = os.pread(fd, 32, offset)  # size varint (<= 10 bytes) and a base name fit in 32
        byte = head[0]
        kind = (byte >> 4) & 7
        size = byte & 0x0F
        shift, at = 4, 1
        while byte & 0x80:
            byte = head[at]
            size |= (byte & 0x7F) << shift
            shift, at = shift + 7, at + 1
            if at > 10:
                raise _PackMiss("entry size does not fit in 64 bits")
        base: int | bytes | None = None
        if kind == _OFS_DELTA:
            # Big-endian base-128 distance back, with an implicit +1 per continuation byte.
            byte = head[at]
            distance = byte & 0x7F
            at += 1
            while byte & 0x80:
                byte = head[at]
                distance = ((distance + 1) << 7) | (byte & 0x7F)
                at += 1
            base = offset - distance
            if distance <= 0 or base < 12:
                raise _PackMiss(f"bad delta base offset in {pack.pack_path}")
        elif kind == _REF_DELTA:
            base = head[at : at + 20]
            at += 20
            if len(base) != 20:
                raise _PackMiss(f"truncated entry in {pack.pack_path}")
        elif kind not in _PACK_KINDS:
            raise _PackMiss(f"unknown entry type {kind} in {pack.pack_path}")
        return kind, _inflate(fd, offset + at, size), base

    def _pack_fd(self, pack: PackIndex, fds: dict[Path, int]) -> int:
        fd = fds.get(pack.pack_path)
        if fd is not None:
            return fd
        fd = os.open(pack.pack_path, os.O_RDONLY)
        fds[pack.pack_path] = fd
        if not pack.pack_checked:
            # The pack must be the one its index describes: header, object count, checksum.
            header = os.pread(fd, 12, 0)
            trailer = os.pread(fd, 20, os.fstat(fd).st_size - 20)
            version, count = struct.unpack(">II", header[4:]) if len(header) == 12 else (0, -1)
            if header[:4] != b"PACK" or version not in (2, 3) or count != pack.count:
                raise _PackMiss(f"{pack.pack_path} does not match its index")
            if trailer != pack.pack_checksum:
                raise _PackMiss(f"{pack.pack_path} checksum differs from its index")
            pack.pack_checked = True
        return fd

    def _remember(self, pack_path: Path, offset: int, kind: int, data: bytes) -> None:
        if len(data) > _BASE_CACHE_BYTES // 4:
            return
        key = (pack_path, offset)
        previous = self._bases.pop(key, None)
        if previous is not None:
            self._base_bytes -= len(previous[1])
        self._bases[key] = (kind, data)
        self._base_bytes += len(data)
        while self._base_bytes > _BASE_CACHE_BYTES or len(self._bases) > _BASE_CACHE_ENTRIES:
            _, (_, dropped) = self._bases.popitem(last=False)
            self._base_bytes -= len(dropped)


def _inflate(fd: int, offset: int, size: int) -> bytes:
    """Inflate the zlib stream at ``offset`` that must yield exactly ``size`` bytes."""
    stream = zlib.decompressobj()
    parts: list[bytes] = []
    produced = 0
    # Deflate adds a few bytes per block at worst, so size + 64 is usually the whole stream.
    chunk = min(size + 64, 1 << 20)
    data = b""
    while not stream.eof:
        if stream.unconsumed_tail:
            data = stream.unconsumed_tail
        else:
            data = os.pread(fd, chunk, offset)
            if not data:
                raise _PackMiss("pack entry runs past the end of the pack")
            offset += len(data)
        part = stream.decompress(data, size + 1 - produced)  # never more than one byte too many
        produced += len(part)
        parts.append(part)
        if produced > size:
            raise _PackMiss("pack entry inflates to more than its stated size")
    if produced != size:
        raise _PackMiss("pack entry inflates to less than its stated size")
    return b"".join(parts)


def _delta_varint(delta: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = delta[at]
        value |= (byte & 0x7F) << shift
        shift, at = shift + 7, at + 1
        if not byte & 0x80:
            return value, at


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """The object that git's delta format ``delta`` builds from ``base``."""
    source_size, at = _delta_varint(delta, 0)
    target_size, at = _delta_varint(delta, at)
    if source_size != len(base):
        raise _PackMiss("delta base has the wrong size")
    source = memoryview(base)
    out = bytearray()
    end = len(delta)
    while at < end:
        op = delta[at]
        at += 1
        if op & 0x80:  # copy from the base: bits 0-3 say which offset bytes follow, 4-6 size
            offset = length = 0
            for bit in range(4):
                if op & (1 << bit):
                    offset |= delta[at] << (8 * bit)
                    at += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    length |= delta[at] << (8 * bit)
                    at += 1
            length = length or 0x10000
            if offset + length > source_size:
                raise _PackMiss("delta copies past the end of its base")
            out += source[offset : offset + length]
        elif op:  # insert the next ``op`` bytes of the delta
            if at + op > end:
                raise _PackMiss("delta inserts past its own end")
            out += delta[at : at + op]
            at += op
        else:
            raise _PackMiss("delta holds the reserved opcode 0")
        if len(out) > target_size:
            raise _PackMiss("delta builds more than its stated size")
    if len(out) != target_size:
        raise _PackMiss("delta builds less than its stated size")
    return bytes(out)


def parse_tree(body: bytes) -> list[TreeEntry]:
    entries: list[TreeEntry] = []
    pos = 0
    end = len(body)
    while pos < end:
        space = body.index(b" ", pos)
        nul = body.index(b"\0", space)
        mode = body[pos:space].decode()
        name = body[space + 1 : nul].decode("utf-8", errors="surrogateescape")
        sha = body[nul + 1 : nul + 21].hex()
        entries.append(TreeEntry(mode, name, sha))
        pos = nul + 21
    return entries


def format_tree(entries: Iterable[TreeEntry]) -> bytes:
    # Git sorts tree entries as if directory names ended in "/".
    ordered = sorted(entries, key=lambda e: e.name + "/" if e.is_tree else e.name)
    return b"".join(
        f"{e.mode} ".encode()
        + e.name.encode("utf-8", errors="surrogateescape")
        + b"\0"
        + bytes.fromhex(e.sha)
        for e in ordered
    )


def _uses_reftable(common_dir: Path) -> bool:
    try:
        text = (common_dir / "config").read_text()
    except OSError:
        return False
    return re.search(r"refstorage\s*=\s*reftable", text, re.IGNORECASE) is not None


_FALLBACK_IDENTITY = Identity("gitcfg", "gitcfg@localhost")


def default_identity(repo: GitRepo, config: dict[str, str] | None = None) -> Identity:
    """The user's git identity from the environment or git config, else a gitcfg identity."""
    values = config if config is not None else repo.config_values(r"^user\.(name|email)$")
    name = (
        os.environ.get("GIT_COMMITTER_NAME") or values.get("user.name") or _FALLBACK_IDENTITY.name
    )
    email = (
        os.environ.get("GIT_COMMITTER_EMAIL")
        or values.get("user.email")
        or _FALLBACK_IDENTITY.email
    )
    return Identity(name, email)
