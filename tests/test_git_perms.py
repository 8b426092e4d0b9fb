"""In a shared repository (``git init --shared``) gitcfg's files get the modes git gives its own."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from gitcfg.git.perms import EVERYBODY, GROUP, UMASK, parse_shared
from tests.conftest import git

RECORD = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.parametrize("shared", ["group", "all", "0640"])
def test_everything_gitcfg_creates_gets_the_mode_git_gives_its_own(
    tmp_path: Path, shared: str
) -> None:
    repo = tmp_path / "shared"
    git(tmp_path, "init", "-q", f"--shared={shared}", "-b", "main", str(repo))
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "code")
    (repo / "train.py").write_text("print('changed')\n")  # dirty: a snapshot, keep refs, memo
    proc = subprocess.run([sys.executable, "-c", RECORD], cwd=repo, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    dot_git = repo / ".git"
    # what git itself creates, of each kind, in the same repository
    (tmp_path / "content").write_text("written by git\n")
    blob = git(repo, "hash-object", "-w", str(tmp_path / "content")).strip()
    git(repo, "update-ref", "-m", "by git", "refs/made-by/git/x", "HEAD")
    git(repo, "update-ref", "--create-reflog", "-m", "by git", "refs/heads/by-git", "HEAD")
    object_mode = _mode(dot_git / "objects" / blob[:2] / blob[2:])
    dir_mode = _mode(dot_git / "refs" / "made-by")
    ref_mode = _mode(dot_git / "refs" / "made-by" / "git" / "x")
    log_mode = _mode(dot_git / "logs" / "refs" / "heads" / "by-git")

    # every loose object and fan-out directory, gitcfg's and git's alike
    for fanout in (dot_git / "objects").iterdir():
        if fanout.name not in ("info", "pack"):
            assert _mode(fanout) == dir_mode, fanout
            for obj in fanout.iterdir():
                assert _mode(obj) == object_mode, obj
    keep = list((dot_git / "refs" / "gitcfg" / "keep").iterdir())
    assert len(keep) == 2  # the code commit and the snapshot
    for ref in [dot_git / "refs" / "heads" / "gitcfg", *keep]:
        assert _mode(ref) == ref_mode, ref
    for directory in [dot_git / "refs" / "gitcfg", dot_git / "refs" / "gitcfg" / "keep"]:
        assert _mode(directory) == dir_mode, directory
    assert _mode(dot_git / "logs" / "refs" / "heads" / "gitcfg") == log_mode
    # gitcfg's own files: as writable by the group as a ref
    assert _mode(dot_git / "gitcfg") == dir_mode
    assert _mode(dot_git / "gitcfg" / "locks") == dir_mode
    assert _mode(dot_git / "gitcfg" / "write.lock") == ref_mode
    assert _mode(dot_git / "gitcfg-snapshot") == ref_mode
    if shared != "0640":
        assert int(dir_mode, 8) & 0o2070 == 0o2070 and int(ref_mode, 8) & 0o060 == 0o060


def test_a_repository_that_is_not_shared_keeps_the_umask(repo: Path) -> None:
    old = os.umask(0o077)
    try:
        proc = subprocess.run([sys.executable, "-c", RECORD], cwd=repo, capture_output=True)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert _mode(repo / ".git" / "refs" / "heads" / "gitcfg") == "0o600"
    assert _mode(repo / ".git" / "gitcfg") == "0o700"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("group", GROUP),
        ("true", GROUP),
        ("1", GROUP),
        ("all", EVERYBODY),
        ("world", EVERYBODY),
        ("everybody", EVERYBODY),
        ("2", EVERYBODY),
        ("umask", UMASK),
        ("false", UMASK),
        ("0", UMASK),
        ("0640", -0o640),
        ("0660", -0o660),
        ("0666", -0o666),
        (None, GROUP),  # the name alone
    ],
)
def test_the_setting_is_read_as_git_reads_it(value: str | None, expected: int) -> None:
    assert parse_shared(value) == expected
