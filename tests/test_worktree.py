"""The in-process clean check agrees with git status, and says 'unsure' whenever it should."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gitcfg.git import GitRepo
from gitcfg.provenance import capture
from gitcfg.worktree import MAX_FAST_ENTRIES, known_clean
from tests.conftest import git


def settled(repo: Path) -> GitRepo:
    """Files older than the index, as they are a moment after any checkout or commit."""
    past = time.time() - 60
    for path in git(repo, "ls-files").split():
        os.utime(repo / path, (past, past))
    git(repo, "update-index", "--refresh")
    return GitRepo.discover(repo)


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def test_a_clean_tree_is_known_clean_without_git(repo: Path) -> None:
    (repo / "src").mkdir()
    (repo / "src" / "model.py").write_text("x = 1\n")
    (repo / "run.sh").write_text("#!/bin/sh\n")
    (repo / "run.sh").chmod(0o775)
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "more code")
    r = settled(repo)
    assert known_clean(r, head(repo)) is True
    assert capture(r).dirty is False
    assert git(repo, "status", "--porcelain", "-uno") == ""


def test_every_kind_of_change_falls_back_and_is_seen_as_dirty(repo: Path) -> None:
    r = settled(repo)
    original = (repo / "train.py").read_text()
    cases = {
        "modified": lambda: (repo / "train.py").write_text("print('changed')\n"),
        "staged": lambda: (
            (repo / "train.py").write_text("print('staged')\n"),
            git(repo, "add", "train.py"),
        ),
        "deleted": lambda: (repo / "train.py").unlink(),
    }
    for name, change in cases.items():
        change()
        assert known_clean(r, head(repo)) is None, name
        assert capture(r).dirty is True, name
        git(repo, "checkout", "-q", "HEAD", "--", "train.py")
        assert (repo / "train.py").read_text() == original
        r = settled(repo)
        # Unstaging leaves git's cached tree invalid, so the fast answer may be "unsure".
        assert known_clean(r, head(repo)) in (True, None), f"after undoing {name}"
        assert capture(r).dirty is False, f"after undoing {name}"


def test_touched_but_unchanged_is_unsure_and_then_clean(repo: Path) -> None:
    r = settled(repo)
    os.utime(repo / "train.py")  # same content, new timestamp
    assert known_clean(r, head(repo)) is None
    assert capture(r).dirty is False  # git status looked at the content


def test_a_racy_timestamp_is_unsure(repo: Path) -> None:
    r = settled(repo)
    future = time.time() + 60  # as new as the index or newer: git would re-check the content
    os.utime(repo / "train.py", (future, future))
    assert known_clean(r, head(repo)) is None


def test_a_big_index_is_left_to_git(repo: Path) -> None:
    for i in range(MAX_FAST_ENTRIES + 1):
        (repo / f"f{i}.txt").write_text(f"{i}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "many files")
    r = settled(repo)
    assert known_clean(r, head(repo)) is None
    assert capture(r).dirty is False
