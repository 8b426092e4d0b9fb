"""Real file-system conditions for tests: a read-only directory, a full disk.

Both are mounts (a read-only bind mount, a small tmpfs), so they hold for root too, where
permission bits do not; a test is skipped where mounting is not allowed.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    proc = subprocess.run(["mount", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"this test mounts a file system, which needs root: {proc.stderr.strip()}")


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], check=False)


@contextmanager
def read_only(path: Path) -> Iterator[Path]:
    """``path`` made read-only for everyone (a read-only bind mount of itself)."""
    _mount("--bind", str(path), str(path))
    try:
        _mount("-o", "remount,ro,bind", str(path))
        yield path
    finally:
        _umount(path)


@contextmanager
def full_disk(path: Path) -> Iterator[Path]:
    """``path`` (an empty directory, made if missing) as a small file system filled up."""
    path.mkdir(exist_ok=True)
    _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path))
    try:
        fd = os.open(path / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(fd)
        assert os.statvfs(path).f_bavail == 0
        yield path
    finally:
        _umount(path)
