"""git runs on gitcfg's behalf start none of the user's programs: hooks or fsmonitor."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from tests.conftest import git


def test_an_fsmonitor_hook_is_never_started(repo: Path) -> None:
    marker = repo.parent / "fsmonitor-ran"
    hook = repo.parent / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IEXEC)
    git(repo, "config", "core.fsmonitor", str(hook))
    (repo / "train.py").write_text("print('dirty')\n")  # so gitcfg asks git status and git add
    git(repo, "status", "--porcelain")
    assert marker.exists()  # git itself starts it: the check below can fail
    marker.unlink()
    code = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, env=os.environ
    )
    assert proc.returncode == 0, proc.stderr
    assert not marker.exists()
    assert "dirty: true" in git(repo, "show", "gitcfg:" + _meta_path())


def _meta_path() -> str:
    from gitcfg.layout import RunRef

    return RunRef("p", "r1").config_path.replace("config.yaml", "meta.yaml")
