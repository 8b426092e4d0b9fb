"""``git cat-file --batch``: the reader of last resort, alive only for a ``with`` block."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol

from gitcfg.errors import CorruptStoreError
from gitcfg.git.process import git_command, git_env


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


def stream_objects(repo: _HasCwd, shas: Sequence[str]) -> Iterator[tuple[str, str, bytes]]:
    """``(sha, kind, body)`` of many objects from a ``git cat-file --batch`` of their own.

    For listings of thousands of objects: the requests are written by a thread and the
    answers read in large pieces, about a microsecond an object instead of three reads each.
    A missing object is a ``CorruptStoreError``.
    """
    proc = subprocess.Popen(
        git_command(["cat-file", "--batch"]), cwd=repo.cwd, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, env=git_env(),
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None
    stdin, fd = proc.stdin, proc.stdout.fileno()

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            for start in range(0, len(shas), 4096):
                stdin.write("".join(s + "\n" for s in shas[start : start + 4096]).encode())
            stdin.close()

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    buf, pos = b"", 0
    try:
        for sha in shas:
            newline = buf.find(b"\n", pos)
            while newline < 0:
                buf, pos = buf[pos:] + _read_some(fd, sha), 0
                newline = buf.find(b"\n")
            header = buf[pos:newline].split()
            if len(header) != 3:
                raise CorruptStoreError(f"object {sha} is missing")
            end = newline + 1 + int(header[2])
            while len(buf) <= end:  # the body and the newline after it
                buf, newline, end = buf[pos:] + _read_some(fd, sha), newline - pos, end - pos
                pos = 0
            yield sha, header[1].decode(), buf[newline + 1 : end]
            pos = end + 1
    finally:
        proc.stdout.close()
        with contextlib.suppress(OSError):
            stdin.close()
        proc.wait()
        feeder.join()


def _read_some(fd: int, sha: str) -> bytes:
    chunk = os.read(fd, 1 << 20)
    if not chunk:
        raise CorruptStoreError(f"object {sha} could not be read: git cat-file stopped")
    return chunk
