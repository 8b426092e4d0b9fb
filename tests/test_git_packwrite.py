"""Bulk writes go into one pack that git accepts: SHA-1 and SHA-256, merges of many runs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from gitcfg import remote
from gitcfg.git import GitRepo, TreeEntry
from gitcfg.git.packwrite import PackWriter
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git


def loose_files(path: Path) -> int:
    objects = path / ".git" / "objects"
    return sum(len(files) for root, _, files in os.walk(objects) if len(Path(root).name) == 2)


def packs(path: Path) -> list[str]:
    return sorted(p.name for p in (path / ".git" / "objects" / "pack").iterdir())


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_many_objects_become_one_pack_that_git_reads(tmp_path: Path, object_format: str) -> None:
    path = tmp_path / "r"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", str(path))
    repo = GitRepo.discover(path)
    with PackWriter(repo) as writer:
        blobs = [writer.write_blob(f"value {i}\n".encode() * (i % 50 + 1)) for i in range(300)]
        trees = [
            writer.write_tree([TreeEntry("100644", f"f{j}.yaml", blobs[i + j]) for j in range(3)])
            for i in range(0, 297, 3)
        ]
        root = writer.write_tree([TreeEntry("40000", f"d{i:03d}", t) for i, t in enumerate(trees)])
        assert len(writer) == 300 + 99 + 1  # trees repeat nothing; the writer dedupes by id
        writer.flush()
        assert loose_files(path) == 0
        names = packs(path)
        # kept from repack and gc while nothing refers to it yet
        assert sorted(n.rsplit(".", 1)[1] for n in names) == ["idx", "keep", "pack"]
        assert not any(n.startswith("tmp_") for n in names)
    assert [n.rsplit(".", 1)[1] for n in packs(path)] == ["idx", "pack"]  # released
    # every object reads back through git, byte for byte
    assert git(path, "cat-file", "-p", f"{blobs[7]}") == "value 7\n" * 8
    assert git(path, "ls-tree", "-r", "--name-only", root).count("\n") == 297
    commit = repo.write_commit(root, [], "bulk\n", repo_identity())
    git(path, "update-ref", "refs/heads/main", commit)
    assert_fsck_clean(path)
    # and in-process, through the pack reader
    assert repo.read_object(blobs[299]) == ("blob", b"value 299\n" * 50)


def repo_identity():  # type: ignore[no-untyped-def]
    from gitcfg.git import Identity

    return Identity("Test", "test@example.com")


def test_few_objects_stay_loose(tmp_path: Path) -> None:
    path = tmp_path / "r"
    git(tmp_path, "init", "-q", str(path))
    writer = PackWriter(GitRepo.discover(path))
    shas = [writer.write_blob(f"{i}\n".encode()) for i in range(5)]
    writer.flush()
    assert loose_files(path) == 5
    assert [p for p in packs(path) if p.endswith(".pack")] == []
    assert git(path, "cat-file", "blob", shas[3]) == "3\n"


def _machine(tmp_path: Path, bare: Path, name: str, runs: int) -> Path:
    path = tmp_path / name
    git(tmp_path, "clone", "-q", str(bare), str(path))
    os.chdir(path)  # the clone is the code repository too
    store = ConfigStore.open()
    for i in range(runs):
        store.create("p", {"machine": name, "i": i, "lr": 0.01 * i}, run_id=f"{name}{i:03d}")
    git(path, "gc", "-q")  # as after a long sweep
    return path


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_a_pull_merging_many_runs_writes_one_pack(
    tmp_path: Path, object_format: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", f"--object-format={object_format}", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", "-b", "main", str(seed))
    git(seed, "commit", "-q", "--allow-empty", "-m", "code")
    git(seed, "push", "-q", str(bare), "main")
    a = _machine(tmp_path, bare, "a", 150)
    b = _machine(tmp_path, bare, "b", 150)
    remote.push(GitRepo.discover(a), "gitcfg", "origin")
    packs_before = {p for p in packs(b) if p.endswith(".pack")}
    loose_before = loose_files(b)
    result = remote.pull(GitRepo.discover(b), "gitcfg", "origin")
    assert result.merged and result.added == 150
    new_packs = {p for p in packs(b) if p.endswith(".pack")} - packs_before
    assert len(new_packs) == 2  # the fetched pack and the merge's own
    # the hundreds of merged shard trees are packed: only the merge commit (and the empty
    # tree the merge starts from) may be loose
    assert loose_files(b) - loose_before <= 2
    listed = {r.ref.id: r.config for r in ConfigStore.open(b).runs()}
    assert len(listed) == 300
    assert listed["a007"] == {"i": 7, "lr": 0.07, "machine": "a"}
    assert listed["b149"]["machine"] == "b"
    assert_fsck_clean(b)


# git on PATH, with a repack (or gc) right after each 'git index-pack' gitcfg runs: in the
# moment before gitcfg's ref update, when the merge's pack is not yet reachable
RACING_GIT = """#!/bin/sh
"$REAL_GIT" "$@"
status=$?
case " $* " in
  *" index-pack "*) "$REAL_GIT" $RACE >/dev/null 2>&1 ;;
esac
exit $status
"""


@pytest.mark.parametrize("race", ["repack -a -d -q", "gc -q --prune=now"])
def test_a_repack_racing_a_pull_never_deletes_the_merges_pack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, race: str
) -> None:
    monkeypatch.chdir(tmp_path)
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    git(seed, "commit", "-q", "--allow-empty", "-m", "code")
    git(seed, "push", "-q", str(bare), "main")
    a = _machine(tmp_path, bare, "a", 40)
    b = _machine(tmp_path, bare, "b", 40)
    remote.push(GitRepo.discover(a), "gitcfg", "origin")
    wrapper = tmp_path / "bin"
    wrapper.mkdir()
    (wrapper / "git").write_text(RACING_GIT)
    (wrapper / "git").chmod(0o755)
    monkeypatch.setenv("REAL_GIT", str(shutil.which("git")))
    monkeypatch.setenv("RACE", race)
    monkeypatch.setenv("PATH", f"{wrapper}{os.pathsep}{os.environ['PATH']}")
    result = remote.pull(GitRepo.discover(b), "gitcfg", "origin")
    assert result.merged and result.added == 40
    monkeypatch.setenv("PATH", os.environ["PATH"].split(os.pathsep, 1)[1])
    assert_fsck_clean(b)
    assert len(ConfigStore.open(b).runs()) == 80
    assert not list((b / ".git" / "objects" / "pack").glob("*.keep"))  # released after the ref
