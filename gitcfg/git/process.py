"""Running git: one short-lived process per call, never the user's hooks or optional locks.

``GIT_OPTIONAL_LOCKS=0`` keeps porcelain such as ``git status`` from refreshing (rewriting) the
user's index; ``core.hooksPath=/dev/null`` and ``core.fsmonitor=false`` keep git from starting any
program the user configured (githooks(5) lists fsmonitor as a hook too).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
from collections.abc import Sequence

from gitcfg.errors import RepositoryError

# Prepended to every git command gitcfg runs.
SAFE_CONFIG = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")


_PIPE_SIZE = 1 << 20


def git_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for git subprocesses: no optional locks (so no index refresh), no prompts."""
    env = dict(os.environ)
    env["GIT_OPTIONAL_LOCKS"] = "0"
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.pop("GIT_INDEX_FILE", None)
    objects = env.get("GIT_OBJECT_DIRECTORY")
    if objects and not os.path.isabs(objects):
        # git starts in the work tree's top: the directory the caller meant, as gitcfg's own
        # writes take it (gitcfg.git.repo.object_directory)
        env["GIT_OBJECT_DIRECTORY"] = os.path.abspath(objects)
    if extra:
        env.update(extra)
    return env


def git_command(args: Sequence[str]) -> list[str]:
    return ["git", *SAFE_CONFIG, *args]


def run_git(
    args: Sequence[str],
    cwd: str | os.PathLike[str],
    *,
    input: bytes | None = None,
    env: dict[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    """Run one git command to completion and return its result; raise RepositoryError on failure."""
    try:
        proc = subprocess.run(
            git_command(args),
            cwd=cwd,
            input=input,
            capture_output=True,
            env=git_env(env),
            check=False,
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


def start_git(args: Sequence[str], cwd: str | os.PathLike[str]) -> subprocess.Popen[bytes] | None:
    """Start one git command whose output is read later (``communicate``), so that it runs
    beside other work; None if it cannot start (the caller's next git call says why)."""
    try:
        return subprocess.Popen(
            git_command(args),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=git_env(),
        )
    except OSError:
        return None


def widen_pipe(fd: int) -> None:
    """Let the pipe ``fd`` hold 1 MiB instead of 64 KiB: a listing that reads tens of megabytes
    from git then trades a hundred large pieces with it, not thousands of small ones, and
    spends a second less switching (Linux only; elsewhere the pipe stays as it was)."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
