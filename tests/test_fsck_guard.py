"""The autouse fsck guard in conftest finds every repository a test made and sees damage."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import fsck_problems, git, git_dirs, make_repo


@pytest.mark.no_fsck  # the test damages an object on purpose
def test_the_guard_finds_work_trees_and_bare_repositories_and_sees_damage(tmp_path: Path) -> None:
    work = make_repo(tmp_path / "a" / "work")
    git(tmp_path, "init", "-q", "--bare", "remote.git")
    git(work, "worktree", "add", "-q", str(tmp_path / "linked"))
    assert sorted(git_dirs(tmp_path)) == [tmp_path / "a" / "work" / ".git", tmp_path / "remote.git"]
    assert fsck_problems(work / ".git") is None
    blob = git(work, "rev-parse", "HEAD:train.py").strip()
    path = work / ".git" / "objects" / blob[:2] / blob[2:]
    os.chmod(path, 0o644)
    path.write_bytes(b"not zlib")
    problems = fsck_problems(work / ".git")
    assert problems is not None and blob in problems
