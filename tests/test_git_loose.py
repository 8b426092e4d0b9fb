"""Loose objects are complete before they are named; gc and gitcfg's writers never collide."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from gitcfg.errors import RepositoryError
from gitcfg.git import GitRepo, TreeEntry, format_tree
from gitcfg.git.loose import deflate
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git, run_writers, wait_for_gitcfg_gc
from tests.mounts import read_only

BIG_RUN = """
import random, gitcfg
value = ''.join(random.choice('abc0123') for _ in range(200000))
gitcfg.init(config={'big': value}, project='p', id='big').finish()
print('created')
"""


def test_a_file_size_limit_is_an_error_not_a_truncated_object(repo: Path) -> None:
    # 50 blocks of 512 bytes: the compressed 200 kB value cannot fit in one object file.
    proc = subprocess.run(
        ["bash", "-c", f'ulimit -f 50; exec "{sys.executable}" -c "$0"', BIG_RUN],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "created" not in proc.stdout
    assert "could not write a git object" in proc.stderr
    assert_fsck_clean(repo)
    assert not list((repo / ".git" / "objects").glob("*/tmp_obj_*"))
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "gitcfg"], cwd=repo).returncode


def test_a_leftover_truncated_object_is_never_reused(repo: Path) -> None:
    r = GitRepo.discover(repo)
    data = b"lr: 0.1\n" * 100
    sha = r.algo.hexdigest(b"blob %d\0" % len(data) + data)
    path = repo / ".git" / "objects" / sha[:2] / sha[2:]
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(zlib.compress(b"blob %d\0" % len(data) + data)[:20])  # a short write
    assert r.write_blob(data) == sha
    assert git(repo, "cat-file", "blob", sha).encode() == data
    assert_fsck_clean(repo)


def test_a_leftover_truncated_tree_is_replaced(repo: Path) -> None:
    # trees (and commits) are written without asking whether they exist: a damaged copy that
    # is there is replaced by a whole one, never kept
    r = GitRepo.discover(repo)
    blob = r.write_blob(b"lr: 0.1\n")
    entries = [TreeEntry("100644", "config.yaml", blob)]
    raw = b"tree %d\0" % len(format_tree(entries)) + format_tree(entries)
    tree = r.algo.hexdigest(raw)
    path = repo / ".git" / "objects" / tree[:2] / tree[2:]
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(zlib.compress(raw)[:9])  # a short write
    assert r.write_tree(entries) == tree
    assert git(repo, "cat-file", "-p", tree).split() == ["100644", "blob", blob, "config.yaml"]
    git(repo, "tag", "kept", tree)
    assert_fsck_clean(repo)


def test_an_existing_sound_object_is_freshened_not_rewritten(repo: Path) -> None:
    r = GitRepo.discover(repo)
    sha = r.write_blob(b"x: 1\n")
    path = repo / ".git" / "objects" / sha[:2] / sha[2:]
    old = time.time() - 30 * 86400
    os.utime(path, (old, old))
    inode = path.stat().st_ino
    assert r.write_blob(b"x: 1\n") == sha
    assert path.stat().st_ino == inode
    assert path.stat().st_mtime > old + 86400  # prune (2 weeks by default) keeps it


def test_temporary_files_use_gits_name_and_never_outlive_a_write(repo: Path) -> None:
    r = GitRepo.discover(repo)
    for i in range(50):
        r.write_blob(b"%d" % i)
    objects = repo / ".git" / "objects"
    assert not [p for p in objects.rglob("*") if p.name.startswith("tmp_")]


@pytest.fixture
def tiny_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)], capture_output=True
    )
    if proc.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs as root)")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_is_one_clear_error_and_moves_nothing(tiny_disk: Path) -> None:
    repo = tiny_disk / "repo"
    git(tiny_disk, "init", "-q", str(repo))
    store = ConfigStore(GitRepo.discover(repo))
    store.create("p", {"lr": 0.1}, run_id="small")
    tip = store.tip()
    value = "".join(random.choice("abcdefgh0123456789") for _ in range(600_000))
    with pytest.raises(RepositoryError, match=r"could not write a git object.*free disk space"):
        store.create("p", {"big": value}, run_id="big")
    assert store.tip() == tip
    with pytest.raises(RepositoryError):  # still full: the same error, never a reused stub
        store.create("p", {"big": value}, run_id="big")
    assert store.tip() == tip
    assert_fsck_clean(repo)


def test_a_read_only_repository_is_one_clear_error_and_changes_nothing(repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    tip = git(repo, "rev-parse", "gitcfg")
    with read_only(repo):  # as for a user without write access to it
        proc = subprocess.run(
            [sys.executable, "-m", "gitcfg", "update", "r1", "lr=0.2"],
            cwd=repo,
            capture_output=True,
            text=True,
        )
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: could not create a file in ")
    assert "Read-only file system; check the permissions" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert git(repo, "rev-parse", "gitcfg") == tip


WRITER = """
import sys
from gitcfg.store import ConfigStore
worker, count = int(sys.argv[1]), int(sys.argv[2])
store = ConfigStore.open()
for i in range(count):
    store.create("p", {"worker": worker, "i": i, "text": "v" * (i % 7)}, run_id=f"w{worker}i{i}")
"""

GC_LOOP = """
while [ ! -e stop ]; do
  git gc -q 2>>gc-errors || echo "gc failed" >>gc-errors
  git pack-refs --all --prune 2>>gc-errors
done
"""


@pytest.mark.slow
def test_writers_lose_nothing_while_gc_and_pack_refs_loop(repo: Path) -> None:
    loop = subprocess.Popen(["bash", "-c", GC_LOOP], cwd=repo)
    try:
        results = run_writers(repo, WRITER, 8, 25)
    finally:
        (repo / "stop").touch()
        loop.wait(timeout=120)
    assert [code for code, _ in results] == [0] * 8, [err for _, err in results]
    runs = ConfigStore.open().runs()
    assert {r.ref.id for r in runs} == {f"w{w}i{i}" for w in range(8) for i in range(25)}
    assert_fsck_clean(repo)


@pytest.mark.slow
@pytest.mark.parametrize("detach", ["true", "false"])
def test_gitcfgs_auto_gc_packs_and_never_leaves_git_refusing_gc(repo: Path, detach: str) -> None:
    git(repo, "config", "gc.auto", "300")
    git(repo, "config", "gc.autoDetach", detach)  # false: gc runs to the end first, as in git
    # git's sample (objects/17) past ceil(300 / 256) = 2 at the first run, so that a gc surely
    # starts: the runs' own ~2,000 objects leave 2 or fewer there about once in 150 tests.
    for blob in _loose_in_17(repo, 3):  # reachable, so that gc packs rather than keeps them
        git(repo, "tag", f"t{blob[:8]}", blob)
    store = ConfigStore.open()
    for i in range(200):  # each run writes ~10 objects: later gcs when the sample says so
        store.create("p", {"i": i, "lr": i / 10}, run_id=f"r{i:03d}")
    if detach == "true":
        wait_for_gitcfg_gc(repo)
    assert list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert not (repo / ".git" / "gc.log").exists()
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    # How many a gc packed depends on when git's sample (objects/17) crossed gc.auto and, when
    # detached, on whether a slow gc was still running at the last runs (a second is skipped).
    assert int(counts["in-pack"]) > 0, counts
    if detach == "false":  # each gc ran to its end: nothing is left for git's own gc --auto
        assert not _git_gc_acts(repo)
    assert len(ConfigStore.open().runs()) == 200
    assert_fsck_clean(repo)


def _loose_in_17(repo: Path, count: int) -> list[str]:
    """``count`` new loose blobs whose ids start with 17 (the directory git samples)."""
    store = GitRepo.discover(repo)
    made: list[str] = []
    rng = random.Random(count)
    while len(made) < count:
        data = b"%d\n" % rng.getrandbits(64)
        if store.algo.hexdigest(b"blob %d\0" % len(data) + data).startswith("17"):
            made.append(store.write_blob(data))
    return made


def _git_gc_acts(repo: Path) -> bool:
    """Whether git's own ``gc --auto`` did anything: loose objects or packs went away."""
    before = git(repo, "count-objects", "-v")
    git(repo, "-c", "gc.autoDetach=false", "gc", "--auto", "--quiet")
    return git(repo, "count-objects", "-v") != before


@pytest.mark.parametrize(("in_17", "packs"), [(3, 0), (4, 0), (6, 0), (0, 3), (0, 4), (3, 4)])
def test_gitcfg_starts_gc_exactly_when_git_would(repo: Path, in_17: int, packs: int) -> None:
    """With gc.auto=600 git gcs past ceil(600 / 256) = 3 loose objects in objects/17, and past
    gc.autoPackLimit packs. An estimate off by one (3 * 256 > 600) started a gc after every
    run that git then found nothing to do for."""
    git(repo, "config", "gc.auto", "600")
    git(repo, "config", "gc.autoPackLimit", "3")
    for i in range(packs):
        (repo / f"f{i}").write_text(f"{i}\n")
        git(repo, "add", f"f{i}")
        git(repo, "commit", "-q", "-m", f"{i}")
        git(repo, "repack", "-q")  # one new pack with the new objects
    blobs = _loose_in_17(repo, in_17)
    for blob in blobs:  # reachable, so that gc packs rather than keeps them as recent garbage
        git(repo, "tag", f"t{blob[:8]}", blob)
    decided = ConfigStore.open().repo.needs_gc(600)
    assert decided == _git_gc_acts(repo)
    assert decided == (in_17 > 3 or packs > 3)


@pytest.mark.parametrize("setting", ["maintenance.auto", "maintenance.gc.enabled"])
def test_no_gc_is_started_when_the_user_turned_it_off(repo: Path, setting: str) -> None:
    git(repo, "config", "gc.auto", "600")
    git(repo, "config", "gc.autoDetach", "false")  # a gc would run to the end before we look
    git(repo, "config", setting, "false")
    for blob in _loose_in_17(repo, 4):  # past git's threshold: gc --auto alone would pack
        git(repo, "tag", f"t{blob[:8]}", blob)
    (repo / "more.py").write_text("x = 1\n")
    git(repo, "add", "more.py")
    git(repo, "commit", "-q", "-m", "more")  # git's own commit starts no maintenance either
    assert not list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    assert not list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert len(list((repo / ".git" / "objects" / "17").iterdir())) >= 4


def test_small_objects_are_the_bytes_a_32_kib_window_gives() -> None:
    # the small window is only a cheaper allocation: every object up to the small-object size
    # deflates to exactly the stream git's 32 KiB window gives (text, ids, incompressible bytes)
    rng = random.Random(7)
    pieces = [b"lr: 0.001\n", b"100644 config.yaml\0", b"parent ", b"\n"]
    for size in [*range(0, 300, 7), *range(3800, 4097, 9), *rng.sample(range(4097), 60)]:
        text = b"".join(rng.choice(pieces) for _ in range(size))[:size]
        noise = rng.randbytes(size)
        for raw in (text, noise, text[: size // 2] + noise[size // 2 :]):
            wide = zlib.compressobj(1, zlib.DEFLATED, 15, 4)
            assert deflate(raw) == wide.compress(raw) + wide.flush(), size
            assert zlib.decompress(deflate(raw)) == raw


def test_objects_are_deflated_as_git_deflates_them_by_default(repo: Path) -> None:
    # a run's files and trees, and a config file past the small-object path: each a zlib
    # stream with the header git's own writer gives it by default (level 1, 32 KiB window)
    store = ConfigStore.open(repo)
    store.create("p", {f"k{i:03d}": f"value {i}" for i in range(400)}, run_id="r1")
    ids = git(repo, "rev-list", "--objects", "gitcfg").split()
    sizes = []
    for sha in (s for s in ids if len(s) == 40):
        data = (repo / ".git" / "objects" / sha[:2] / sha[2:]).read_bytes()
        assert data[:2] == b"\x78\x01", sha
        raw = zlib.decompress(data)
        kind, _, body = raw.partition(b"\0")
        shown = subprocess.run(
            ["git", "cat-file", kind.split()[0].decode(), sha], cwd=repo, capture_output=True
        )
        assert shown.stdout == body, sha
        sizes.append(len(raw))
    assert max(sizes) > 4096 > min(sizes)
    assert_fsck_clean(repo)
