"""Runs from an unchanged dirty tree share its snapshot; any change makes a new, right one."""

from __future__ import annotations

import os
import random
import shutil
import time
from pathlib import Path

import pytest

from gitcfg.git import GitRepo
from gitcfg.provenance import capture
from tests.conftest import git


def dirty_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    (path / ".gitignore").write_text("outputs/\n")
    (path / "src").mkdir()
    (path / "src" / "model.py").write_text("layers = 1\n")
    (path / "train.py").write_text("print('train')\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "code")
    (path / "train.py").write_text("print('TRAIN')\n")  # uncommitted, same size
    (path / "notes.txt").write_text("untracked\n")
    return path


def expected_files(repo: Path) -> dict[str, bytes]:
    """What git says the work tree holds: tracked files that exist, untracked ones not ignored."""
    listed = git(repo, "ls-files", "-z", "-c", "-o", "--exclude-standard").split("\0")
    return {p: (repo / p).read_bytes() for p in set(listed) if p and (repo / p).is_file()}


def snapshot_files(repo: Path, commit: str) -> dict[str, bytes]:
    names = git(repo, "ls-tree", "-r", "-z", "--name-only", commit).split("\0")
    return {
        name: git(repo, "cat-file", "blob", f"{commit}:{name}").encode() for name in names if name
    }


@pytest.mark.parametrize("modules", [0, 600])  # a small project, and one of 600 files
def test_unchanged_dirty_tree_reuses_its_snapshot_without_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, modules: int
) -> None:
    repo = dirty_repo(tmp_path / "code")
    for i in range(modules):
        (repo / "src" / f"module{i}.py").write_text(f"value = {i}\n")
    if modules:
        git(repo, "add", "src")
        git(repo, "commit", "-q", "-m", "more code")
    capture(GitRepo.discover(repo))  # its git status may refresh the index: not remembered
    time.sleep(0.05)  # past the clock tick of the last change
    first = capture(GitRepo.discover(repo))
    assert first.dirty and first.snapshot is not None
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    again = [capture(GitRepo.discover(repo)).snapshot for _ in range(3)]
    assert again == [first.snapshot] * 3
    started = [line for line in trace.read_text().splitlines() if "trace: built-in" in line]
    # GitRepo.discover asks git once per call; the snapshot asks nothing
    assert all("rev-parse" in line for line in started), started
    assert snapshot_files(repo, first.snapshot) == expected_files(repo)


def _edit(repo: Path, rng: random.Random, step: int) -> str:
    """One change a user makes between two runs; returns what it was."""
    kind = rng.choice(
        ["same-size edit", "untracked", "untracked in new dir", "ignored", "remove",
         "git add", "touch", "chmod", "commit", "nothing"]
    )  # fmt: skip
    letter = "abcdefghij"[step % 10]
    if kind == "same-size edit":
        target = rng.choice(["train.py", "src/model.py", "notes.txt"])
        path = repo / target
        if path.exists():
            text = path.read_text()
            path.write_text(text[:-2] + letter + "\n")
    elif kind == "untracked":
        (repo / "src" / f"u{step}.py").write_text(f"x = {step}\n")
    elif kind == "untracked in new dir":
        (repo / f"d{step}").mkdir()
        (repo / f"d{step}" / "f.txt").write_text("new\n")
    elif kind == "ignored":
        (repo / "outputs").mkdir(exist_ok=True)
        (repo / "outputs" / f"ckpt{step}").write_text("weights\n")
    elif kind == "remove":
        extra = sorted(repo.glob("src/u*.py"))
        if extra:
            extra[0].unlink()
    elif kind == "git add":
        git(repo, "add", "-A")
    elif kind == "touch":
        os.utime(repo / "train.py")
    elif kind == "chmod":
        path = repo / "src" / "model.py"
        path.chmod(path.stat().st_mode ^ 0o100)
    elif kind == "commit":
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "--allow-empty", "-m", f"step {step}")
        (repo / "train.py").write_text(f"print({step!r})\n")
    return kind


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_snapshot_holds_the_tree_as_it_was(tmp_path: Path, seed: int) -> None:
    """Edits of every kind, some in the same clock tick as the previous run: each run's snapshot
    is exactly the work tree git sees at that moment, never a remembered older one."""
    repo = dirty_repo(tmp_path / f"code{seed}")
    rng = random.Random(seed)  # reuse itself is checked by the test above
    for step in range(40):
        kind = _edit(repo, rng, step)
        prov = capture(GitRepo.discover(repo))
        head = git(repo, "rev-parse", "HEAD").strip()
        assert prov.code_commit == head
        if prov.snapshot is None:
            assert snapshot_files(repo, head) == expected_files(repo), kind
        else:
            assert snapshot_files(repo, prov.snapshot) == expected_files(repo), (step, kind)
            modes = git(repo, "ls-tree", prov.snapshot, "src/model.py").split()[0]
            executable = (repo / "src" / "model.py").stat().st_mode & 0o100
            assert modes == ("100755" if executable else "100644"), (step, kind)
        if rng.random() < 0.5:
            time.sleep(0.02)


def copied_clean_repo(tmp_path: Path) -> Path:
    """A clean project copied elsewhere (as code is rsynced to a cluster node): its index's stat
    data (inodes, ctimes) no longer match the files, so only git's reading of them says clean."""
    origin = dirty_repo(tmp_path / "origin")
    git(origin, "add", "-A")
    git(origin, "commit", "-q", "-m", "all")
    git(origin, "status", "--porcelain")  # a fresh index there
    copy = tmp_path / "copy"
    shutil.copytree(origin, copy, symlinks=True)
    assert git(copy, "status", "--porcelain") == ""  # clean, as git sees it (no refresh)
    return copy


def test_a_copied_clean_tree_is_known_clean_without_git_after_one_look(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = copied_clean_repo(tmp_path)
    index = (repo / ".git" / "index").read_bytes()
    time.sleep(0.05)  # past the clock tick of the copy
    first = capture(GitRepo.discover(repo))
    assert not first.dirty and first.snapshot is None
    trace = tmp_path / "trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    again = [capture(GitRepo.discover(repo)) for _ in range(3)]
    assert [(p.dirty, p.snapshot) for p in again] == [(False, None)] * 3
    started = [line for line in trace.read_text().splitlines() if "trace: built-in" in line]
    assert all("rev-parse" in line for line in started), started
    assert (repo / ".git" / "index").read_bytes() == index  # the user's index left as it was
    monkeypatch.delenv("GIT_TRACE")

    (repo / "train.py").write_text((repo / "train.py").read_text().upper())  # same size
    edited = capture(GitRepo.discover(repo))
    assert edited.dirty and edited.snapshot is not None
    assert snapshot_files(repo, edited.snapshot) == expected_files(repo)


@pytest.mark.parametrize("seed", [4, 5])
def test_every_run_from_a_copied_tree_records_it_as_it_was(tmp_path: Path, seed: int) -> None:
    """From a copied clean tree, edits of every kind: a run says clean only when it is."""
    repo = copied_clean_repo(tmp_path)
    rng = random.Random(seed)
    for step in range(30):
        kind = _edit(repo, rng, step) if step % 3 else "nothing"
        prov = capture(GitRepo.discover(repo))
        head = git(repo, "rev-parse", "HEAD").strip()
        clean = git(repo, "status", "--porcelain") == ""
        assert prov.dirty is not clean, (step, kind)
        commit = head if prov.snapshot is None else prov.snapshot
        assert snapshot_files(repo, commit) == expected_files(repo), (step, kind)
        if rng.random() < 0.5:
            time.sleep(0.02)


def test_no_corner_hides_a_new_untracked_file_from_a_remembered_tree(tmp_path: Path) -> None:
    # Places no watched directory mtime sees: under an empty untracked directory brought along
    # by a copy, and behind a .gitignore git does not track, edited in place.
    repo = copied_clean_repo(tmp_path)
    (repo / "data" / "sub").mkdir(parents=True)
    (repo / "foo").mkdir()
    (repo / "foo" / ".gitignore").write_text("*\n")
    (repo / "foo" / "a.py").write_text("hidden = 1\n")
    assert git(repo, "status", "--porcelain") == ""
    time.sleep(0.05)
    for _ in range(2):  # looked at twice: whatever can be remembered is
        assert not capture(GitRepo.discover(repo)).dirty
    (repo / "data" / "sub" / "new.py").write_text("x = 1\n")
    prov = capture(GitRepo.discover(repo))
    assert prov.dirty and prov.snapshot is not None
    assert "data/sub/new.py" in snapshot_files(repo, prov.snapshot)
    (repo / "data" / "sub" / "new.py").unlink()
    time.sleep(0.05)
    assert not capture(GitRepo.discover(repo)).dirty
    with open(repo / "foo" / ".gitignore", "r+") as fh:  # same file, in place
        fh.truncate(0)
    prov = capture(GitRepo.discover(repo))
    assert prov.dirty and prov.snapshot is not None
    assert snapshot_files(repo, prov.snapshot) == expected_files(repo)
    assert "foo/a.py" in expected_files(repo)
