"""Packed objects read in-process: every object of real packs equals what git itself reads."""

from __future__ import annotations

import os
import random
import subprocess
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from gitcfg.errors import CorruptStoreError
from gitcfg.git import GitRepo, ObjectReader
from gitcfg.store import ConfigStore
from tests.conftest import git

OFS_DELTA, REF_DELTA = 6, 7


@pytest.fixture
def cat_file_starts(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many cat-file processes gitcfg has started since the fixture was set up."""
    started = 0
    original = ObjectReader._start

    def counting(self: ObjectReader) -> subprocess.Popen[bytes]:
        nonlocal started
        if self._proc is None:
            started += 1
        return original(self)

    monkeypatch.setattr(ObjectReader, "_start", counting)
    return lambda: started


def all_objects(repo: Path) -> dict[str, tuple[str, bytes]]:
    """Every object git knows here, as git's own ``cat-file --batch`` prints it."""
    out = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"],
        cwd=repo,
        capture_output=True,
        check=True,
    ).stdout
    objects: dict[str, tuple[str, bytes]] = {}
    at = 0
    while at < len(out):
        newline = out.index(b"\n", at)
        sha, kind, size = out[at:newline].decode().split()
        start = newline + 1
        objects[sha] = (kind, out[start : start + int(size)])
        at = start + int(size) + 1
    return objects


def entry_types(repo: Path) -> Counter[int]:
    """Entry types in all packs, from git's own list of offsets and each entry's first byte."""
    types: Counter[int] = Counter()
    for idx in (repo / ".git" / "objects" / "pack").glob("*.idx"):
        listing = subprocess.run(
            ["git", "show-index"], stdin=idx.open("rb"), capture_output=True, check=True
        ).stdout.decode()
        data = idx.with_suffix(".pack").read_bytes()
        for line in listing.splitlines():
            offset = int(line.split()[0])
            types[(data[offset] >> 4) & 7] += 1
    return types


def max_chain(repo: Path) -> int:
    depth = 0
    for idx in (repo / ".git" / "objects" / "pack").glob("*.idx"):
        for line in git(repo, "verify-pack", "-v", str(idx)).splitlines():
            fields = line.split()
            # sha type size packed offset depth base (SHA-1 or SHA-256 names)
            if len(fields) == 7 and len(fields[0]) in (40, 64):
                depth = max(depth, int(fields[5]))
    return depth


def assert_all_read_in_process(repo: Path, starts: Callable[[], int]) -> int:
    expected = all_objects(repo)
    r = GitRepo.discover(repo)
    for sha, (kind, body) in expected.items():
        assert r.read_object(sha) == (kind, body), sha
    assert starts() == 0
    assert Path(f"/proc/self/task/{os.getpid()}/children").read_text().split() == []
    return len(expected)


def similar_history(repo: Path, commits: int, seed: int = 1) -> None:
    """Many commits of slowly changing files and directories: ideal delta material."""
    rng = random.Random(seed)
    lines = [f"line {i}: {rng.random()}\n" for i in range(300)]
    for n in range(commits):
        for _ in range(3):
            lines[rng.randrange(len(lines))] = f"changed {n}: {rng.random()}\n"
        for d in range(3):
            sub = repo / f"dir{d}"
            sub.mkdir(exist_ok=True)
            (sub / f"file{n % 7}.txt").write_text("".join(lines[d:]))
        (repo / "notes.txt").write_text("".join(lines[::2]) + f"commit {n}\n")
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"commit {n}")


def test_ofs_delta_chains_are_read_in_process(
    repo: Path, cat_file_starts: Callable[[], int]
) -> None:
    similar_history(repo, 40)
    git(repo, "repack", "-adf", "--window=50", "--depth=50")
    assert git(repo, "count-objects").startswith("0 objects")  # all packed
    types = entry_types(repo)
    assert types[OFS_DELTA] > 100 and types[REF_DELTA] == 0
    assert max_chain(repo) >= 10
    assert assert_all_read_in_process(repo, cat_file_starts) == sum(types.values())


def test_ref_delta_chains_are_read_in_process(
    repo: Path, cat_file_starts: Callable[[], int]
) -> None:
    similar_history(repo, 40)
    git(repo, "-c", "repack.useDeltaBaseOffset=false", "repack", "-adf", "--window=50")
    types = entry_types(repo)
    assert types[REF_DELTA] > 100 and types[OFS_DELTA] == 0
    assert max_chain(repo) >= 10
    assert_all_read_in_process(repo, cat_file_starts)


def test_large_blobs_and_their_deltas(repo: Path, cat_file_starts: Callable[[], int]) -> None:
    # Over 64 KiB: copy instructions with 3-byte offsets and the implicit 0x10000 size.
    rng = random.Random(7)
    data = bytearray(rng.randbytes(300_000))
    for n in range(4):
        data[rng.randrange(len(data))] ^= 0xFF
        data[100_000 + n : 100_000 + n] = b"inserted"
        (repo / "weights.bin").write_bytes(bytes(data))
        git(repo, "add", "weights.bin")
        git(repo, "commit", "-q", "-m", f"weights {n}")
    git(repo, "repack", "-adf", "--window=10")
    assert entry_types(repo)[OFS_DELTA] >= 3
    assert_all_read_in_process(repo, cat_file_starts)


def test_several_packs_and_a_thin_fetched_pack(
    repo: Path, tmp_path: Path, cat_file_starts: Callable[[], int]
) -> None:
    similar_history(repo, 10, seed=2)
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(repo), str(clone))
    for path in sorted(repo.glob("dir*/*.txt")):  # small edits: deltas against the clone's
        path.write_text(path.read_text() + "one more line\n")
    git(repo, "commit", "-q", "-am", "edits")
    # Kept as a pack, thin on the wire: index-pack appends the missing bases and keeps the
    # deltas against them as REF_DELTA, with the base after the delta.
    git(clone, "-c", "fetch.unpackLimit=1", "fetch", "-q", "origin")
    for n in range(3):  # incremental packs on top
        similar_history(clone, 2, seed=10 + n)
        git(clone, "repack", "-d", "-q")
    (clone / "loose.txt").write_text("a loose object next to the packs\n")
    git(clone, "add", "loose.txt")
    git(clone, "commit", "-q", "-m", "loose")
    assert len(list((clone / ".git" / "objects" / "pack").glob("*.idx"))) >= 5
    types = entry_types(clone)
    assert types[REF_DELTA] > 0 and types[OFS_DELTA] > 0
    assert_all_read_in_process(clone, cat_file_starts)


def test_new_packs_are_found_after_gc(repo: Path, cat_file_starts: Callable[[], int]) -> None:
    r = GitRepo.discover(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "gc", "-q")
    assert r.read_object(head)[0] == "commit"
    similar_history(repo, 3)
    git(repo, "gc", "-q", "--prune=now")  # a new pack replaces the one already read
    for sha, found in all_objects(repo).items():
        assert r.read_object(sha) == found
    assert cat_file_starts() == 0


def test_version_1_index_and_alternates_fall_back_to_cat_file(
    repo: Path, tmp_path: Path, cat_file_starts: Callable[[], int]
) -> None:
    similar_history(repo, 5)
    git(repo, "repack", "-adf", "-q")
    (pack,) = (repo / ".git" / "objects" / "pack").glob("*.pack")
    git(repo, "index-pack", "--index-version=1", "-o", str(pack.with_suffix(".idx")), str(pack))
    expected = all_objects(repo)
    r = GitRepo.discover(repo)
    with ObjectReader(r) as reader:
        for sha, found in expected.items():
            assert r.read_object(sha, reader) == found
    assert cat_file_starts() == 1

    borrower = tmp_path / "borrower"
    git(tmp_path, "init", "-q", str(borrower))
    (borrower / ".git" / "objects" / "info" / "alternates").write_text(
        str(repo / ".git" / "objects") + "\n"
    )
    b = GitRepo.discover(borrower)
    with ObjectReader(b) as reader:
        for sha, found in expected.items():
            assert b.read_object(sha, reader) == found
    assert cat_file_starts() == 2


@pytest.mark.no_fsck  # the damaged pack is the point
def test_a_damaged_pack_entry_is_never_returned(
    repo: Path, cat_file_starts: Callable[[], int]
) -> None:
    blob = git(repo, "rev-parse", "HEAD:train.py").strip()
    (repo / "other.txt").write_text("other\n")
    git(repo, "add", "other.txt")
    git(repo, "commit", "-q", "-m", "other")
    pack_dir = repo / ".git" / "objects" / "pack"

    def pack(objects: str) -> Path:
        name = subprocess.run(
            ["git", "pack-objects", "-q", str(pack_dir / "pack")],
            cwd=repo, input=objects.encode(), capture_output=True, check=True,
        ).stdout.decode().strip()  # fmt: skip
        return pack_dir / f"pack-{name}.pack"

    pack(f"{blob}\n")  # a sound copy, alone in its pack
    # Every object again, the blob damaged: the largest pack, so the reader looks there first.
    everything = git(repo, "rev-list", "--objects", "--all")
    bad = pack("".join(line.split()[0] + "\n" for line in everything.splitlines()))
    listed = git(repo, "verify-pack", "-v", str(bad.with_suffix(".idx")))
    size, offset = next(line.split()[3:5] for line in listed.splitlines() if line.startswith(blob))
    git(repo, "prune-packed")  # no loose copy to read instead
    raw = bytearray(bad.read_bytes())
    raw[int(offset) + int(size) - 1] ^= 0x55  # the entry's zlib checksum
    os.chmod(bad, 0o644)
    bad.write_bytes(bytes(raw))
    r = GitRepo.discover(repo)
    with ObjectReader(r) as reader:
        assert r.read_object(blob, reader) == ("blob", b"print('training')\n")
    assert cat_file_starts() == 1


def test_the_store_after_gc_reads_no_object_through_cat_file(
    repo: Path, cat_file_starts: Callable[[], int]
) -> None:
    store = ConfigStore.open()
    refs = [store.create(f"p{i % 3}", {"lr": i, "layers": [i, 2]})[0] for i in range(40)]
    git(repo, "gc", "-q", "--prune=now")
    assert git(repo, "count-objects").startswith("0 objects")
    fds_before = set(os.listdir("/proc/self/fd"))
    store = ConfigStore.open()
    before = cat_file_starts()
    new, _ = store.create("p1", {"lr": 99})
    assert cat_file_starts() == before
    store.update(refs[5], {"lr": 0.5})
    assert store.read(refs[5]).config == {"lr": 0.5, "layers": [5, 2]}
    assert store.read(refs[7]).config == {"lr": 7, "layers": [7, 2]}
    assert store.read(new).config == {"lr": 99}
    assert cat_file_starts() == before
    assert {record.ref for record in store.runs()} == {*refs, new}
    assert set(os.listdir("/proc/self/fd")) == fds_before
    assert Path(f"/proc/self/task/{os.getpid()}/children").read_text().split() == []


def test_names_looked_up_around_their_place_in_a_bucket(
    repo: Path, monkeypatch: pytest.MonkeyPatch, cat_file_starts: Callable[[], int]
) -> None:
    # A large index's lookup reads a slice of names around where a name should be; with slices
    # of 2 names either side, buckets of over 8 names here take that path, fallbacks included.
    import gitcfg.git.pack as pack

    monkeypatch.setattr(pack, "_NEAR", 2)
    stream = "".join(
        f"blob\nmark :{n + 1}\ndata {len(f'object {n}')}\nobject {n}\n" for n in range(4000)
    )
    git(repo, "repack", "-adq")
    # fast-import writes a pack of its own, unreachable blobs included: two packs
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream.encode(), check=True)
    assert git(repo, "count-objects").startswith("0 objects")
    expected = all_objects(repo)
    assert len(expected) > 4000
    # Each name below is the first looked up in its bucket (a bucket searched again, or a
    # small index searched in 8 buckets, is read whole), so each is searched in a slice.
    r = GitRepo.discover(repo)
    for sha in sorted(expected)[::700]:
        assert r.read_object(sha) == expected[sha]
    # names next to real ones, which the slice search must not mistake for them
    r = GitRepo.discover(repo)
    with ObjectReader(r) as reader:
        for sha in sorted(expected)[::97]:
            near = sha[:-1] + ("0" if sha[-1] != "0" else "1")
            if near not in expected:
                with pytest.raises(CorruptStoreError, match="missing"):
                    r.read_object(near, reader)
    assert cat_file_starts() == 1  # only for the missing names
    r = GitRepo.discover(repo)
    for sha, found in sorted(expected.items(), key=lambda item: item[0][::-1]):
        assert r.read_object(sha) == found, sha
    assert cat_file_starts() == 1
