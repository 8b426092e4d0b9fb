"""A sweep's commits as small packs: what git itself would write, read back at once, rolled up.

Each commit of a sweep stores its new objects as one pack of two files instead of a dozen loose
ones (gitcfg.git.smallpack); the sweep joins the packs with git's geometric repack."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from gitcfg.errors import RepositoryError
from gitcfg.git import GitRepo, TreeEntry
from gitcfg.git.repo import default_identity
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git
from tests.test_sweeps_run import gitcfg

TINY = """\
import json, os, sys
with open(os.environ["GITCFG_SUMMARY_FILE"], "w") as out:
    json.dump({"loss": float(sys.argv[1].split("=")[1]) ** 2}, out)
"""


def pack_files(path: Path) -> list[Path]:
    return sorted((path / ".git" / "objects" / "pack").glob("*.pack"))


def loose_objects(path: Path) -> set[str]:
    objects = path / ".git" / "objects"
    return {
        d.name + f.name
        for d in objects.iterdir()
        if len(d.name) == 2
        for f in d.iterdir()
        if not f.name.startswith("tmp_")
    }


def held_commit(repo: GitRepo, n: int) -> str:
    """A commit of ``n`` files written while ``repo`` holds its objects for a pack."""
    blobs = [repo.write_blob(f"value: {i}\n".encode()) for i in range(n)]
    tree = repo.write_tree([TreeEntry("100644", f"f{i}.yaml", b) for i, b in enumerate(blobs)])
    return repo.write_commit(tree, [], "held\n", *default_identity(repo))


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_a_commits_objects_become_one_pack_with_the_index_git_makes(
    tmp_path: Path, object_format: str
) -> None:
    path = tmp_path / "r"
    git(tmp_path, "init", "-q", f"--object-format={object_format}", str(path))
    repo = GitRepo.discover(path)
    repo.pack_writes = True
    commit = held_commit(repo, 5)
    # held: readable in this thread already, on disk only at the ref update
    assert repo.read_commit(commit).message == "held\n"
    assert pack_files(path) == [] and loose_objects(path) == set()
    assert repo.update_ref("refs/heads/runs", commit, None, "test")
    (pack,) = pack_files(path)
    assert loose_objects(path) == set()
    assert pack.name == f"pack-{pack.read_bytes()[-repo.algo.rawsz :].hex()}.pack"
    # git's own index of the same pack is byte for byte the one gitcfg wrote
    copy = tmp_path / "copy.pack"
    shutil.copyfile(pack, copy)
    git(path, "index-pack", "--no-rev-index", str(copy))  # in the repository: its format
    assert (tmp_path / "copy.idx").read_bytes() == pack.with_suffix(".idx").read_bytes()
    listed = git(path, "ls-tree", "-r", "--name-only", "runs").split()
    assert listed == [f"f{i}.yaml" for i in range(5)]
    assert git(path, "show", "runs:f3.yaml") == "value: 3\n"
    assert_fsck_clean(path)


def test_a_handful_of_objects_stay_loose(repo: Path) -> None:
    store = GitRepo.discover(repo)
    store.pack_writes = True
    blob = store.write_blob(b"a: 1\n")
    tree = store.write_tree([TreeEntry("100644", "a.yaml", blob)])
    store.update_ref("refs/heads/small", tree, None, "test")  # two objects: not worth a pack
    assert pack_files(repo) == []
    assert {blob, tree} <= loose_objects(repo)
    git(repo, "update-ref", "-d", "refs/heads/small")


def test_objects_held_by_one_thread_wait_for_that_threads_ref_update(repo: Path) -> None:
    store = GitRepo.discover(repo)
    store.pack_writes = True
    written, go_on = threading.Event(), threading.Event()
    made: list[str] = []

    def worker() -> None:
        made.append(held_commit(store, 6))
        written.set()
        go_on.wait(30)
        store.update_ref("refs/heads/worker", made[0], None, "test")

    thread = threading.Thread(target=worker)
    thread.start()
    assert written.wait(30)
    # another thread's ref update stores nothing of the worker's (its commit is not this one's)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert store.update_ref("refs/heads/main-copy", head, None, "test")
    assert pack_files(repo) == []
    go_on.set()
    thread.join()
    assert len(pack_files(repo)) == 1
    assert git(repo, "cat-file", "-t", made[0]) == "commit\n"
    git(repo, "update-ref", "-d", "refs/heads/main-copy")


def test_a_pack_that_cannot_be_written_is_one_error_and_moves_no_ref(repo: Path) -> None:
    store = GitRepo.discover(repo)
    before = git(repo, "rev-parse", "HEAD").strip()
    store.pack_writes = True
    commit = held_commit(store, 6)
    pack_dir = repo / ".git" / "objects" / "pack"
    shutil.rmtree(pack_dir)
    pack_dir.write_text("in the way\n")  # a file where the pack directory belongs
    try:
        with pytest.raises(RepositoryError, match=r"could not write a pack in .*free disk"):
            store.update_ref("refs/heads/main", commit, before, "test")
        assert git(repo, "rev-parse", "HEAD").strip() == before
    finally:
        pack_dir.unlink()
        pack_dir.mkdir()
    # the objects are still held: the retry stores them and moves the ref
    assert store.update_ref("refs/heads/main", commit, before, "test")
    assert git(repo, "rev-parse", "HEAD").strip() == commit
    assert len(pack_files(repo)) == 1


def test_small_packs_roll_up_into_one_that_holds_each_object_once(repo: Path) -> None:
    store = GitRepo.discover(repo)
    store.pack_writes = True
    tips = []
    for n in (5, 6, 7):  # the three commits share their first five files
        commit = held_commit(store, n)
        store.update_ref(f"refs/heads/c{n}", commit, None, "test")
        tips.append(commit)
    assert len(pack_files(repo)) == 3 and store.unrolled_packs == 3
    store.roll_small_packs()
    (pack,) = pack_files(repo)
    assert [p.name for p in pack.parent.glob("*.idx")] == [pack.with_suffix(".idx").name]
    assert store.unrolled_packs == 0
    listed = git(repo, "verify-pack", "-v", str(pack.with_suffix(".idx")))
    names = [line.split()[0] for line in listed.splitlines() if " blob " in line]
    assert len(names) == len(set(names)) == 7
    for n, commit in zip((5, 6, 7), tips, strict=True):
        files = git(repo, "ls-tree", "--name-only", commit).split()
        assert files == [f"f{i}.yaml" for i in range(n)]
    assert_fsck_clean(repo)
    for n in (5, 6, 7):
        git(repo, "update-ref", "-d", f"refs/heads/c{n}")


def test_a_roll_up_rewrites_the_pack_list_of_dumb_http_as_git_would(repo: Path) -> None:
    git(repo, "gc", "-q")  # as every git repack does: objects/info/packs exists, with a pack
    listing = repo / ".git" / "objects" / "info" / "packs"
    (packed,) = pack_files(repo)
    store = GitRepo.discover(repo)
    store.pack_writes = True
    for n in (5, 6, 7):
        store.update_ref(f"refs/heads/c{n}", held_commit(store, n), None, "test")
    # a pack still being written (its index not there yet) is not one to list
    (packed.parent / ("pack-" + "0" * 40 + ".pack")).write_bytes(b"PACK")
    store.roll_small_packs()
    ours, mode = listing.read_text(), listing.stat().st_mode
    (joined,) = [p for p in pack_files(repo) if p.with_suffix(".idx").exists() and p != packed]
    # the pack listed before first, then the joined one; none of the three removed
    assert ours == f"P {packed.name}\nP {joined.name}\n\n"
    (packed.parent / ("pack-" + "0" * 40 + ".pack")).unlink()
    git(repo, "update-server-info")  # git keeps the list as it is: the same bytes
    assert listing.read_text() == ours and listing.stat().st_mode == mode
    assert_fsck_clean(repo)
    for n in (5, 6, 7):
        git(repo, "update-ref", "-d", f"refs/heads/c{n}")


def test_a_sweep_leaves_a_few_packs_and_no_loose_point_objects(repo: Path) -> None:
    git(repo, "config", "gc.autoDetach", "false")  # the roll-ups run to their end
    (repo / "tiny.py").write_text(TINY)
    before = loose_objects(repo)
    values = ",".join(str(i) for i in range(70))
    result = gitcfg(repo, "sweep", f"x={values}", "-j", "2", "--", "python", "tiny.py", "${args}")
    assert result.returncode == 0, result.stderr
    runs = ConfigStore.open(repo).runs()
    assert sorted(r.summary["loss"] for r in runs) == sorted(float(i) ** 2 for i in range(70))
    # ~70 commits of ~15 objects each: rolled up every 32 commits and at the end
    assert len(pack_files(repo)) <= 4
    # loose: only what the sweep wrote before its points (the code's snapshot, the first run)
    assert len(loose_objects(repo) - before) < 30
    assert_fsck_clean(repo)


@pytest.mark.parametrize(
    "setting", [("gc.auto", "0"), ("maintenance.auto", "false"), ("gc.autoPackLimit", "0")]
)
def test_with_maintenance_off_a_sweep_writes_loose_objects_and_joins_no_pack(
    repo: Path, setting: tuple[str, str]
) -> None:
    git(repo, "config", *setting)  # the user runs maintenance, or joins no packs
    git(repo, "config", "gc.autoDetach", "false")
    for i in range(20):  # packs enough that a roll-up would start git's repack
        (repo / f"f{i}.txt").write_text(f"{i}\n")
        git(repo, "add", f"f{i}.txt")
        git(repo, "commit", "-q", "-m", f"f{i}")
        git(repo, "repack", "-q", "-d")
    packs = pack_files(repo)
    (repo / "tiny.py").write_text(TINY)
    result = gitcfg(repo, "sweep", "x=1,2,3,4", "-j", "2", "--", "python", "tiny.py", "${args}")
    assert result.returncode == 0, result.stderr
    assert pack_files(repo) == packs
    assert len(ConfigStore.open(repo).runs()) == 4


def test_with_a_multi_pack_index_packs_are_left_to_git(repo: Path) -> None:
    store = GitRepo.discover(repo)
    store.pack_writes = True
    for n in (5, 6):
        store.update_ref(f"refs/heads/c{n}", held_commit(store, n), None, "test")
    git(repo, "multi-pack-index", "write")  # as git maintenance's incremental-repack does
    packs = pack_files(repo)
    store.roll_small_packs()  # deleting a pack the midx lists would break git fsck
    assert pack_files(repo) == packs
    assert_fsck_clean(repo)
    git(repo, "multi-pack-index", "verify")
    # and a sweep started with a midx writes loose objects, as git would
    (repo / "tiny.py").write_text(TINY)
    result = gitcfg(repo, "sweep", "x=1,2,3", "--", "python", "tiny.py", "${args}")
    assert result.returncode == 0, result.stderr
    assert pack_files(repo) == packs
    for n in (5, 6):
        git(repo, "update-ref", "-d", f"refs/heads/c{n}")


@pytest.mark.parametrize(
    ("fsync", "commit_synced", "roll_synced"),
    [
        ("", False, True),
        ("none", False, False),
        ("loose-object", True, True),
        ("-pack", False, False),
    ],
)
def test_packs_are_synced_as_git_syncs_what_they_stand_for(
    repo: Path, monkeypatch: pytest.MonkeyPatch, fsync: str, commit_synced: bool, roll_synced: bool
) -> None:
    """A commit's small pack stands in for loose objects (not synced by default); a roll-up's
    pack replaces packs that may be on disk already, and is synced as git syncs packs."""
    store = GitRepo.discover(repo)
    store.apply_settings({"core.fsync": fsync} if fsync else {})
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync_seen(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}").rpartition("/")[2])
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_seen)
    store.pack_writes = True
    for n in (5, 6):
        store.update_ref(f"refs/heads/c{n}", held_commit(store, n), None, "test")
    assert bool(synced) == commit_synced
    synced.clear()
    store.roll_small_packs()
    assert len(pack_files(repo)) == 1
    assert sorted(name[:8] for name in synced) == (["tmp_idx_", "tmp_pack"] if roll_synced else [])
    for n in (5, 6):
        git(repo, "update-ref", "-d", f"refs/heads/c{n}")
