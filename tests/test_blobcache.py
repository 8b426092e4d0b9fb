"""The SQLite blob cache: whatever state the file is in, listings answer exactly as without it."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gitcfg.blobcache import FILE_NAME, BlobCache, digest
from gitcfg.listing import CACHE_LEVELS
from gitcfg.store import ConfigStore
from tests.conftest import git


def _listing(store: ConfigStore) -> list[tuple[str, dict[str, object], dict[str, object]]]:
    return [(str(r.ref), r.config, r.meta) for r in store.runs()]


def _store_with_runs(count: int = 6) -> tuple[ConfigStore, list[tuple[str, dict, dict]]]:
    store = ConfigStore.open()
    for i in range(count):
        store.create(
            "p", {"lr": 0.1 * i, "name": f"ünï-{i}", "layers": [i, 2], "nan": float("inf")}
        )
    truth = _listing(ConfigStore.open())  # the cold listing also fills the cache
    return store, truth


def _cache_path(repo: Path) -> Path:
    return repo / ".git" / "gitcfg" / FILE_NAME


def _subtrees(store: ConfigStore) -> int:
    """How many shard subtrees (the listing's cache units) hold the store's runs."""
    return len({r.ref.segments[: CACHE_LEVELS + 1] for r in store.runs()})


def test_listing_fills_the_cache_and_reads_the_same_from_it(repo: Path) -> None:
    store, truth = _store_with_runs()
    with sqlite3.connect(_cache_path(repo)) as db:
        (rows,) = db.execute("SELECT count(*) FROM subtrees").fetchone()
        (mode,) = db.execute("PRAGMA journal_mode").fetchone()
    assert rows == 2 * _subtrees(store) >= 8  # per shard subtree holding runs: rows, metas
    assert mode == "wal"
    assert _listing(ConfigStore.open()) == truth


def test_a_missing_cache_is_rebuilt(repo: Path) -> None:
    _store, truth = _store_with_runs()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{_cache_path(repo)}{suffix}").unlink(missing_ok=True)
    assert _listing(ConfigStore.open()) == truth
    assert _cache_path(repo).exists()


def test_garbage_in_the_cache_file_changes_no_answer(repo: Path) -> None:
    store, truth = _store_with_runs()
    for suffix in ("-wal", "-shm"):
        Path(f"{_cache_path(repo)}{suffix}").unlink(missing_ok=True)
    _cache_path(repo).write_bytes(b"\x00garbage, not a database\xff" * 300)
    assert _listing(ConfigStore.open()) == truth
    # rebuilt silently: the file is a sound database again, holding the entries
    with sqlite3.connect(_cache_path(repo)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM subtrees").fetchone() == (2 * _subtrees(store),)
    assert git(repo, "fsck", "--strict") == ""


def test_a_truncated_cache_changes_no_answer(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(300):  # enough rows for the database to span many pages
        store.create("p", {"i": i, "text": "x" * 200}, run_id=f"r{i:04d}")
    truth = _listing(ConfigStore.open())
    path = _cache_path(repo)
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    assert size > 20_000
    with open(path, "r+b") as fh:
        fh.truncate(size // 2)
    assert _listing(ConfigStore.open()) == truth
    assert _listing(ConfigStore.open()) == truth


def test_an_edited_row_is_never_shown(repo: Path) -> None:
    _store, truth = _store_with_runs()
    with sqlite3.connect(_cache_path(repo)) as db:
        # every row's runs given a plausible, well-formed, wrong config: lr 0.1 -> 90.1
        db.execute("""UPDATE subtrees SET value = replace(value, '"lr": ', '"lr": 9')""")
        like = ['%"lr": 9%']
        assert db.execute("SELECT count(*) FROM subtrees WHERE value LIKE ?", like).fetchone()[0]
    assert _listing(ConfigStore.open()) == truth
    # and the rows were repaired, so the next listing reads them from the cache again
    with sqlite3.connect(_cache_path(repo)) as db:
        query = "SELECT value FROM subtrees WHERE blob NOT LIKE '%#meta'"
        values = [v for (v,) in db.execute(query)]
    assert values and not any('"lr": 9' in v for v in values)
    assert all(json.loads(v.split("\x1f")[2])["config"]["lr"] < 1 for v in values)


def test_rows_swapped_between_subtrees_are_never_shown(repo: Path) -> None:
    _store, truth = _store_with_runs()
    with sqlite3.connect(_cache_path(repo)) as db:
        rows = db.execute("SELECT blob, value, digest FROM subtrees ORDER BY blob").fetchall()
        assert len(rows) >= 2
        # each row moved to its neighbour's key, digest and all: sound rows, wrong subtrees
        for (key, *_), (_, value, check) in zip(rows, [*rows[1:], rows[0]], strict=True):
            db.execute(
                "UPDATE subtrees SET value = ?, digest = ? WHERE blob = ?", (value, check, key)
            )
    assert _listing(ConfigStore.open()) == truth


def test_a_row_whose_digest_does_not_match_is_a_miss(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path)
    blob = "ab" * 20
    cache.add({blob: {"lr": 0.1}})
    assert cache.get(blob) == {"lr": 0.1}
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE parsed SET digest = ?", (digest(blob, '{"lr": 0.2}'),))
    assert BlobCache(tmp_path).get(blob) is None


@pytest.mark.parametrize("count", [1, 3, 16, 37, 161])
def test_every_row_of_a_write_is_kept_however_many(tmp_path: Path, count: int) -> None:
    # rows go many to a statement: none lost at a statement's edge, a repeated key replaced
    cache = BlobCache(tmp_path)
    texts = {f"p/{i:04d}:" + "ab" * 20: f"run {i} " * i for i in range(count)}
    cache.add_subtrees(texts)
    cache.add_subtrees({"p/0000:" + "ab" * 20: "again"})
    again = BlobCache(tmp_path)
    assert dict(again.subtree_texts(texts)) == texts | {"p/0000:" + "ab" * 20: "again"}


def test_a_new_cache_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    # a subtree's rows are one text of ~10 kB: large pages hold it whole
    cache = BlobCache(tmp_path)
    cache.add_subtrees({"p/0/0/0:" + "ab" * 20: "x" * 10_000})
    cache.close()
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (65536,)
    old = tmp_path / "old"
    old.mkdir()
    with sqlite3.connect(old / FILE_NAME) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE t (x)")
    BlobCache(old).add_subtrees({"k": "v"})
    with sqlite3.connect(old / FILE_NAME) as db:
        assert db.execute("PRAGMA page_size").fetchone() == (4096,)
    assert dict(BlobCache(old).subtree_texts(["k"])) == {"k": "v"}


def test_the_cache_stays_bounded(tmp_path: Path) -> None:
    cache = BlobCache(tmp_path, max_entries=100)
    for batch in range(10):
        cache.add({f"{batch:02d}{i:038d}": {"i": i} for i in range(40)})
    with sqlite3.connect(cache.path) as db:
        (rows,) = db.execute("SELECT count(*) FROM parsed").fetchone()
    assert rows <= 100
    assert cache.get(f"09{39:038d}") == {"i": 39}  # the newest entries stay


@pytest.mark.parametrize(
    "name",
    # v3's listing rows are ordered by start times as text, not by their instant
    ["blobcache-v1.jsonl", "blobcache-v2.sqlite3", "blobcache-v3.sqlite3"],
)
def test_the_caches_of_earlier_versions_are_dropped(repo: Path, name: str) -> None:
    _store, truth = _store_with_runs()
    old = repo / ".git" / "gitcfg" / name
    old.write_text('{"x": {"lr": 1}}\n')
    ConfigStore.open().cache.close()
    assert _listing(ConfigStore.open()) == truth
    assert not old.exists()


_WRITER = """
import sys
from pathlib import Path

import pytest
from gitcfg.blobcache import BlobCache
directory, who = Path(sys.argv[1]), int(sys.argv[2])
cache = BlobCache(directory)
for batch in range(20):
    cache.add({f"{who:04d}{batch:04d}{i:032d}": {"who": who, "i": i, "batch": batch}
               for i in range(50)})
    # read back what everyone wrote so far: never a wrong value
    names = [f"{w:04d}{batch:04d}{i:032d}" for w in range(8) for i in range(50)]
    for blob, value in cache.get_many(names).items():
        assert value == {"who": int(blob[:4]), "i": int(blob[8:]), "batch": batch}, (blob, value)
"""


def test_concurrent_writers_lose_nothing_and_agree(tmp_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(tmp_path), str(who)], stderr=subprocess.PIPE
        )
        for who in range(8)
    ]
    for proc in procs:
        _out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    cache = BlobCache(tmp_path)
    wanted = [f"{w:04d}{b:04d}{i:032d}" for w in range(8) for b in range(20) for i in range(50)]
    found = cache.get_many(wanted)
    # a writer that could not get the lock in time skips its write: it is a cache. Every row
    # written is right, and under this load (8 writers, 2 s wait) none is skipped.
    assert len(found) == len(wanted)
    assert all(
        v == {"who": int(k[:4]), "i": int(k[8:]), "batch": int(k[4:8])} for k, v in found.items()
    )
    with sqlite3.connect(cache.path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
