"""``git cat-file --batch``: the reader of last resort, alive only for a ``with`` block."""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol

from gitcfg.errors import CorruptStoreError
from gitcfg.git.process import git_command, git_env, widen_pipe

# A read of git's output smaller than this, and BlobStream's reader waits a moment before the
# next: git writes each object apart, and the pipe gathers them meanwhile (a millisecond is
# ~250 objects of a listing; reading each as it comes cost more CPU than taking them all).
_SMALL_READ = 64 << 10
_GATHER_SECONDS = 0.001


class ObjectReader:
    """One ``git cat-file --batch`` process for the length of a ``with`` block."""

    def __init__(self, repo: _HasCwd) -> None:
        self._cwd = repo.cwd
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ObjectReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                git_command(["cat-file", "--batch"]),
                cwd=self._cwd,
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


class _HasCwd(Protocol):
    @property
    def cwd(self) -> Path: ...


def _read_batch_entry(stdout: IO[bytes], sha: str) -> tuple[str, bytes]:
    header = stdout.readline().decode().split()
    if len(header) != 3:
        raise CorruptStoreError(f"object {sha} is missing")
    _, kind, size = header
    body = stdout.read(int(size))
    stdout.read(1)  # the newline after each object
    return kind, body


class BlobStream:
    """A ``git cat-file --batch`` for listings of many thousands of objects.

    ``request`` sends object ids; ``take(n)`` returns the next ``n`` objects in request order.
    Request from another thread than the one taking (git stops reading requests while its
    output waits to be taken), unless the objects asked fit in ``limit``. A thread drains
    git's output as it comes, so git works on the next objects while the caller works on
    these: git and Python then share the machine's cores. It holds at most ``limit`` bytes
    unread (then git waits), and reads in large pieces, about a microsecond an object. A
    missing object is a ``CorruptStoreError``.
    """

    def __init__(self, repo: _HasCwd, limit: int = 8 << 20) -> None:
        self._proc = subprocess.Popen(
            git_command(["cat-file", "--batch=%(objectsize)"]), cwd=repo.cwd,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=git_env(),
        )  # fmt: skip
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._stdin = self._proc.stdin
        self._fd = self._proc.stdout.fileno()
        widen_pipe(self._fd)
        self._limit = limit
        self._pending: list[bytes] = []  # pieces read, not yet taken
        self._size = 0
        self._eof = False
        self._stop = False
        self._ready = threading.Condition()
        self._shas: collections.deque[str] = collections.deque()
        self._failure: BaseException | None = None
        self._drainer = threading.Thread(target=self._drain, daemon=True)
        self._drainer.start()
        self._buf = b""
        self._pos = 0

    def _drain(self) -> None:
        while True:
            with self._ready:
                while self._size > self._limit and not self._stop:
                    self._ready.wait()
                if self._stop:
                    return
            try:
                chunk = os.read(self._fd, 1 << 20)
            except OSError:
                chunk = b""
            with self._ready:
                if chunk:
                    self._pending.append(chunk)
                    self._size += len(chunk)
                else:
                    self._eof = True
                self._ready.notify_all()
            if not chunk:
                return
            if len(chunk) < _SMALL_READ:
                # else this thread wakes (and takes Python's lock) for each small object
                time.sleep(_GATHER_SECONDS)

    def request(self, shas: Sequence[str]) -> None:
        """Ask for ``shas``, from one thread, which may be another than the one that takes
        them (``take`` waits for what it takes to be asked for)."""
        with self._ready:
            self._shas.extend(shas)
            self._ready.notify_all()
        for start in range(0, len(shas), 4096):
            self._stdin.write(("\n".join(shas[start : start + 4096]) + "\n").encode())
        self._stdin.flush()

    def fail(self, error: BaseException) -> None:
        """The thread asking for objects failed: a ``take`` waiting for what it would have
        asked raises ``error`` instead of waiting forever."""
        with self._ready:
            self._failure = error
            self._ready.notify_all()

    def _more(self, sha: str) -> None:
        """Append what the drainer has read to the buffer, waiting for it if need be."""
        with self._ready:
            while not self._pending and not self._eof:
                if self._failure is not None:
                    raise self._failure
                self._ready.wait()
            if not self._pending:
                raise CorruptStoreError(f"object {sha} could not be read: git cat-file stopped")
            pieces, self._pending, self._size = self._pending, [], 0
            self._ready.notify_all()
        self._buf = b"".join([self._buf[self._pos :], *pieces])
        self._pos = 0

    def _next_shas(self, most: int) -> list[str]:
        """The next objects asked for (at least one, at most ``most``), once they are: a
        caller may queue its work for this thread before it asks git (so git's full pipe
        never waits on work nobody takes). Taken under one lock, not one an object."""
        with self._ready:
            while not self._shas:
                if self._failure is not None:
                    raise self._failure
                if self._eof or self._stop:
                    raise CorruptStoreError("git cat-file stopped before it was asked for more")
                self._ready.wait()
            popleft = self._shas.popleft
            return [popleft() for _ in range(min(most, len(self._shas)))]

    def take(self, count: int) -> list[bytes]:
        """The bodies of the next ``count`` objects requested."""
        found: list[bytes] = []
        while len(found) < count:
            shas = self._next_shas(count - len(found))
            at = self._take_read(shas, 0, found)
            while at < len(shas):  # the rest of the buffer was not enough: read on
                found.append(self._take_one(shas[at]))
                at = self._take_read(shas, at + 1, found)
        return found

    def _take_read(self, shas: list[str], start: int, found: list[bytes]) -> int:
        """Append the bodies of ``shas[start:]`` already read whole to ``found``, in one tight
        loop, not a call an object (a listing takes 200,000); the index of the first not."""
        buf, pos, end_of_buf = self._buf, self._pos, len(self._buf)
        append = found.append
        done = start
        for sha in itertools.islice(shas, start, None):
            newline = buf.find(b"\n", pos)
            if newline < 0:
                break
            header = buf[pos:newline]
            if not header.isdigit():  # "<sha> missing" instead of a size
                raise CorruptStoreError(f"object {sha} is missing")
            end = newline + 1 + int(header)
            if end >= end_of_buf:  # the body or the newline after it still to come
                break
            append(buf[newline + 1 : end])
            pos = end + 1
            done += 1
        self._pos = pos
        return done

    def _take_one(self, sha: str) -> bytes:
        newline = self._buf.find(b"\n", self._pos)
        while newline < 0:
            self._more(sha)
            newline = self._buf.find(b"\n")
        header = self._buf[self._pos : newline]
        if not header.isdigit():  # "<sha> missing" instead of a size
            raise CorruptStoreError(f"object {sha} is missing")
        end = newline + 1 + int(header)
        while len(self._buf) <= end:  # the body and the newline after it
            shift = self._pos
            self._more(sha)
            newline, end = newline - shift, end - shift
        self._pos = end + 1
        return self._buf[newline + 1 : end]

    def close(self) -> None:
        if self._stop:
            return
        with contextlib.suppress(OSError):
            self._stdin.close()
        with self._ready:
            self._stop = True
            self._ready.notify_all()
        if self._proc.poll() is None:
            self._proc.kill()  # read-only: nothing is lost by stopping it early
        self._drainer.join()
        assert self._proc.stdout is not None
        self._proc.stdout.close()
        self._proc.wait()

    def __enter__(self) -> BlobStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
