"""Running ``gitcfg`` as a process with ``-X importtime``, for the tests of the click-free
command lines (``gitcfg run``, ``gitcfg sweep``): what it imported and what it said."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def gitcfg(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gitcfg", *args],
        cwd=repo,
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def imported(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The modules the process imported, in the order their imports ended."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    return [line.rsplit("|", 1)[1].strip() for line in lines]


def messages(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
