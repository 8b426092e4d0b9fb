"""Shared by the Python API tests: no run left active between tests, scripts in subprocesses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitcfg import liverun
from tests.conftest import git


@pytest.fixture(autouse=True)
def no_active_run() -> Iterator[None]:
    """A run a test leaves active would be flushed at the end of pytest, in a deleted repo."""
    yield
    liverun._active = None
    liverun._open.clear()


def run_script(
    cwd: Path, code: str, *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as a script in a fresh interpreter; its argv is ``[script, *args]``."""
    import os

    script = cwd.parent / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def subjects(repo: Path) -> list[str]:
    """Subjects of the store branch's commits, newest first; [] when there is no branch."""
    proc = subprocess.run(
        ["git", "log", "--format=%s", "gitcfg"], cwd=repo, capture_output=True, text=True
    )
    return proc.stdout.splitlines() if proc.returncode == 0 else []


def config_text(repo: Path, project: str, run_id: str) -> str:
    """The stored config.yaml of a run, as git shows it."""
    from gitcfg.layout import RunRef

    return git(repo, "show", f"gitcfg:{RunRef(project, run_id).config_path}")
