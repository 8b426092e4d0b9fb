"""The git layer against git itself and against GitPython, an independent reader of objects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import git as gitpython
import pytest

from gitcfg.errors import RepositoryError
from gitcfg.git import GitRepo, Identity, ObjectReader, TreeEntry
from tests.conftest import git


def test_objects_written_in_process_are_what_git_writes(repo: Path) -> None:
    r = GitRepo.discover(repo)
    blob = r.write_blob(b"lr: 0.1\n")
    hashed = subprocess.run(
        ["git", "hash-object", "--stdin"],
        cwd=repo,
        input=b"lr: 0.1\n",
        capture_output=True,
        check=True,
    )
    assert blob == hashed.stdout.decode().strip()
    assert git(repo, "cat-file", "-p", blob) == "lr: 0.1\n"
    # Names that sort differently as files and as directories: git's own order must be kept.
    sub = r.write_tree([TreeEntry("100644", "f", blob)])
    entries = [
        TreeEntry("100644", "a.txt", blob),
        TreeEntry("40000", "a", sub),
        TreeEntry("100644", "a-b", blob),
        TreeEntry("100644", "ä", blob),
    ]
    tree = r.write_tree(entries)
    listing = git(repo, "ls-tree", tree)
    mktree_input = "".join(
        f"{'040000 tree' if e.is_tree else '100644 blob'} {e.sha}\t{e.name}\n" for e in entries
    )
    expected = (
        subprocess.run(
            ["git", "mktree"],
            cwd=repo,
            input=mktree_input.encode(),
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    assert tree == expected, listing
    commit = r.write_commit(tree, [], "a message\n", Identity("Ada", "ada@example.com"))
    assert (
        git(repo, "log", "-1", "--format=%an <%ae>|%s", commit).strip()
        == "Ada <ada@example.com>|a message"
    )
    fsck = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling"], cwd=repo, capture_output=True, text=True
    )
    assert fsck.returncode == 0 and fsck.stdout == ""


def test_gitpython_reads_our_objects(repo: Path) -> None:
    r = GitRepo.discover(repo)
    blob = r.write_blob("x: ü\n".encode())
    tree = r.write_tree(
        [TreeEntry("40000", "run", r.write_tree([TreeEntry("100644", "config.yaml", blob)]))]
    )
    commit = r.write_commit(tree, [], "create p/run\n", Identity("gitcfg", "gitcfg@localhost"))
    assert r.update_ref("refs/heads/gitcfg", commit, None, "create")
    with gitpython.Repo(repo) as other:  # GitPython parses commits and trees on its own
        head = other.commit("gitcfg")
        assert head.message == "create p/run\n"
        assert head.author.name == "gitcfg"
        data = (head.tree / "run" / "config.yaml").data_stream.read()
        assert data.decode() == "x: ü\n"


def test_read_object_falls_back_to_packs(repo: Path) -> None:
    r = GitRepo.discover(repo)
    blob = r.write_blob(b"packed\n")
    tree = r.write_tree([TreeEntry("100644", "f", blob)])
    commit = r.write_commit(tree, [], "m\n", Identity("a", "a@b"))
    r.update_ref("refs/heads/gitcfg", commit, None, "m")
    git(repo, "gc", "-q", "--prune=now")
    assert not (repo / ".git" / "objects" / blob[:2] / blob[2:]).exists()
    with ObjectReader(r) as reader:
        assert r.read_object(blob, reader) == ("blob", b"packed\n")
        assert r.read_tree(tree, reader) == [TreeEntry("100644", "f", blob)]
    assert r.read_ref("refs/heads/gitcfg") == commit  # now in packed-refs


def test_update_ref_is_compare_and_swap(repo: Path) -> None:
    r = GitRepo.discover(repo)
    head = r.read_ref("HEAD")
    assert head is not None
    assert r.update_ref("refs/heads/x", head, None, "create")
    assert not r.update_ref("refs/heads/x", head, None, "must not exist")
    other = r.write_commit(r.write_tree([]), [head], "next\n", Identity("a", "a@b"))
    assert not r.update_ref("refs/heads/x", other, "0" * 39 + "1", "stale old value")
    assert r.read_ref("refs/heads/x") == head
    assert r.update_ref("refs/heads/x", other, head, "advance")
    assert git(repo, "rev-parse", "x").strip() == other
    assert "advance" in git(repo, "reflog", "x")


def test_discover_in_a_bare_repository_and_outside_any(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "b.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    r = GitRepo.discover(bare)
    assert r.worktree is None and r.common_dir == bare.resolve()
    plain = tmp_path / "plain"
    plain.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(RepositoryError, match="not inside a git repository"):
        GitRepo.discover(plain)


RECORD = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"


def _loose(objects: Path) -> set[str]:
    return {p.parent.name + p.name for p in objects.glob("??/*")}


def _run(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``args`` (``git ...``, or Python's arguments) run in ``repo`` with ``env`` added."""
    command = list(args) if args[0] == "git" else [sys.executable, *args]
    return subprocess.run(
        command, cwd=repo, env={**os.environ, **env}, capture_output=True, text=True
    )


def test_objects_go_to_gits_object_directory_as_in_a_hooks_quarantine(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("print('changed')\n")  # dirty: git write-tree runs too
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    env = {
        "GIT_OBJECT_DIRECTORY": str(incoming),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(repo / ".git" / "objects"),
    }
    before = _loose(repo / ".git" / "objects")
    proc = _run(repo, env, "-c", RECORD)
    assert proc.returncode == 0, proc.stderr
    assert _loose(repo / ".git" / "objects") == before  # all of the run went where git's went
    fsck = _run(repo, env, "git", "fsck", "--strict", "--no-dangling")
    assert fsck.returncode == 0 and not fsck.stdout + fsck.stderr, fsck.stdout + fsck.stderr
    shown = _run(repo, env, "-m", "gitcfg", "show", "r1")
    assert shown.returncode == 0 and shown.stdout == "lr: 0.1\n", shown.stderr
    # git moves the objects in when it accepts them: the repository is then whole
    for path in incoming.glob("??/*"):
        target = repo / ".git" / "objects" / path.parent.name / path.name
        target.parent.mkdir(exist_ok=True)
        shutil.move(path, target)


def test_objects_go_to_an_object_store_kept_outside_the_repository(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "train.py").write_text("print('changed')\n")
    elsewhere = tmp_path / "objects"
    shutil.move(repo / ".git" / "objects", elsewhere)
    (repo / ".git" / "objects").mkdir()
    env = {"GIT_OBJECT_DIRECTORY": str(elsewhere)}
    try:
        proc = _run(repo, env, "-c", RECORD)
        assert proc.returncode == 0, proc.stderr
        assert not _loose(repo / ".git" / "objects")
        fsck = _run(repo, env, "git", "fsck", "--strict", "--no-dangling")
        assert fsck.returncode == 0 and not fsck.stdout + fsck.stderr, fsck.stdout + fsck.stderr
        shown = _run(repo, env, "-m", "gitcfg", "show", "r1")
        assert shown.returncode == 0 and shown.stdout == "lr: 0.1\n", shown.stderr
    finally:
        shutil.rmtree(repo / ".git" / "objects")
        shutil.move(elsewhere, repo / ".git" / "objects")


def test_refs_do_not_move_inside_gits_object_quarantine(repo: Path, tmp_path: Path) -> None:
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    env = {
        "GIT_OBJECT_DIRECTORY": str(incoming),
        "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(repo / ".git" / "objects"),
        "GIT_QUARANTINE_PATH": str(incoming),  # as git sets it for a pre-receive hook
    }
    by_git = _run(repo, env, "git", "update-ref", "refs/heads/x", "HEAD")
    assert by_git.returncode != 0 and "quarantine" in by_git.stderr
    proc = _run(repo, env, "-m", "gitcfg", "run", "--", "true")
    assert proc.returncode == 1
    assert "refs may not move inside git's object quarantine" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "gitcfg"], cwd=repo).returncode
