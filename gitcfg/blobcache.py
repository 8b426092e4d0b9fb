"""Parsed config files keyed by blob id, in an SQLite database beside the repository's objects.

A blob id names its content forever, so an entry never goes stale: listing 100,000 runs parses
only the files it has not seen before. Each row holds the parsed file as JSON text together with
a digest of (blob id, text); a row whose digest does not match (a torn page, a hand edit) is a
miss, so the caller reads the blob again and the row is rewritten. Any database error (a file
that is not a database, a truncated or malformed one) drops the file and starts an empty one;
when even that fails, lookups miss and writes are skipped. It is only a cache: losing it costs
one slow listing, never a wrong answer.

A second table holds what listings read: per shard subtree of the branch (keyed by the
subtree's path and tree id, so it never goes stale either), the listing rows of all its runs as
one text. A listing of 100,000 runs is then a few thousand lookups; an unchanged subtree is never
read again. Its rows carry the same digest and are missed, never trusted, when it does not match.

SQLite in WAL mode lets many readers and writers share it; a writer that cannot get the lock
within a short wait skips its write rather than slow down the command. The database is bounded:
past ``max_entries`` rows of a table the oldest quarter is dropped.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gitcfg.git.perms import make_dir, make_file

if TYPE_CHECKING:
    import sqlite3

FILE_NAME = "blobcache-v4.sqlite3"
# Caches of earlier versions, dropped, not migrated: JSON lines; SQLite with a BLAKE2 digest;
# listing rows ordered by start times as text, not by the instant (``gitcfg.starttime``).
_OLD_FILES = (
    "blobcache-v1.jsonl",
    "blobcache-v2.sqlite3",
    "blobcache-v2.sqlite3-wal",
    "blobcache-v2.sqlite3-shm",
    "blobcache-v3.sqlite3",
    "blobcache-v3.sqlite3-wal",
    "blobcache-v3.sqlite3-shm",
)
MAX_ENTRIES = 2_000_000  # two files per run: a million runs
_BATCH = 500  # blob ids per lookup query (SQLite allows 32,766 parameters; this is plenty)
_INSERT_SIZES = (16, 4, 1)  # rows written by one statement
_WRITE_WAIT_MS = 2000
_PAGE_SIZE = 65536
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {} "
    "(blob TEXT PRIMARY KEY, value TEXT NOT NULL, digest BLOB NOT NULL)"
)
_TABLES = ("parsed", "subtrees")  # parsed files by blob id; listing rows by subtree
# The JSON text of a parsed file: exactly what json.dumps writes for it in `gitcfg runs`, so
# callers may paste it into their own JSON output unparsed.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def digest(blob: str, text: str) -> bytes:
    """The check stored with a row: ties the text to the key (blob id, subtree) it was made from.

    A CRC-32 of both, as file systems and archive formats check their blocks: it catches a torn
    page, a flipped bit or a hand edit, and costs a quarter of a cryptographic hash on the
    100 MB a listing of 100,000 runs writes and reads (it guards against accidents; anyone who
    can write the file could recompute any digest)."""
    check = zlib.crc32(blob.encode("utf-8", "surrogateescape") + b"\0")
    return zlib.crc32(text.encode("utf-8", "surrogatepass"), check).to_bytes(4, "big")


@functools.cache
def _insert(table: str, rows: int) -> str:
    return f"INSERT OR REPLACE INTO {table} VALUES " + ", ".join(["(?, ?, ?)"] * rows)


class BlobCache:
    """The blob cache of one repository (``directory`` is ``<git common dir>/gitcfg``)."""

    def __init__(self, directory: Path, *, max_entries: int = MAX_ENTRIES, shared: int = 0) -> None:
        self.path = directory / FILE_NAME
        self.max_entries = max_entries
        # core.sharedRepository: every user of the group reads and writes the one cache
        self.shared = shared
        self._db: sqlite3.Connection | None = None
        self._broken = False  # could not even start a fresh database: run uncached

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        import sqlite3  # only commands that list many runs pay for it

        for attempt in range(2):
            try:
                make_dir(str(self.path.parent), self.shared)
                # made here with the mode git gives its files (0666 less the umask, widened by
                # core.sharedRepository), not SQLite's 0644: SQLite gives its -wal and -shm
                # files the database's mode, and then the group may write all three
                make_file(str(self.path), self.shared)
                db = sqlite3.connect(self.path, timeout=_WRITE_WAIT_MS / 1000, isolation_level=None)
                try:
                    # A new file's pages as large as SQLite allows: a subtree's rows are one
                    # text of ~10 kB, and small pages chain it over several (writing 100 MB of
                    # them took half again the CPU). No effect on an existing file.
                    db.execute(f"PRAGMA page_size={_PAGE_SIZE}")
                    db.execute("PRAGMA journal_mode=WAL")
                    # a cache: a lost write after a power cut only costs a re-parse
                    db.execute("PRAGMA synchronous=OFF")
                    for table in _TABLES:
                        db.execute(_SCHEMA.format(table))
                        db.execute(f"SELECT blob, value, digest FROM {table} LIMIT 1").fetchall()
                except BaseException:
                    db.close()
                    raise
            except sqlite3.DatabaseError:
                if attempt == 0:
                    self._drop_files()
                    continue
                self._broken = True
                return None
            except OSError:
                self._broken = True
                return None
            self._db = db
            for old in _OLD_FILES:
                with contextlib.suppress(OSError):
                    (self.path.parent / old).unlink()
            return db
        return None

    def _drop_files(self) -> None:
        """Remove a damaged database (and its WAL); other processes keep their open copies."""
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(f"{self.path}{suffix}")

    def _damaged(self) -> None:
        """A query failed on a database error: start afresh on the next use."""
        self.close()
        self._drop_files()

    def close(self) -> None:
        if self._db is not None:
            db, self._db = self._db, None
            with contextlib.suppress(Exception):
                db.close()

    # -- reading -----------------------------------------------------------------------------

    def texts(self, blobs: Iterable[str]) -> Iterator[tuple[str, str]]:
        """``(blob, JSON text)`` for the given blobs that have a sound entry, in any order."""
        return self._select("parsed", blobs)

    def subtree_texts(self, keys: Iterable[str]) -> Iterator[tuple[str, str]]:
        """``(key, text)`` for the given subtree keys that have a sound entry, in any order."""
        return self._select("subtrees", keys)

    def _select(self, table: str, blobs: Iterable[str]) -> Iterator[tuple[str, str]]:
        import sqlite3

        pending = list(blobs)
        for start in range(0, len(pending), _BATCH):
            chunk = pending[start : start + _BATCH]
            db = self._connect()
            if db is None:
                return
            marks = ",".join("?" * len(chunk))
            try:
                rows = db.execute(
                    f"SELECT blob, value, digest FROM {table} WHERE blob IN ({marks})", chunk
                ).fetchall()
            except sqlite3.DatabaseError:
                self._damaged()
                return
            for blob, text, check in rows:
                if type(text) is str and check == digest(blob, text):
                    yield blob, text

    def get_many(self, blobs: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Parsed files for the given blobs that have a sound entry (the others are missing)."""
        found: dict[str, dict[str, Any]] = {}
        for blob, text in self.texts(blobs):
            with contextlib.suppress(ValueError):
                value = json.loads(text)
                if isinstance(value, dict):
                    found[blob] = value
        return found

    def get(self, blob: str) -> dict[str, Any] | None:
        return self.get_many([blob]).get(blob)

    # -- writing -----------------------------------------------------------------------------

    def add(self, parsed: Mapping[str, Mapping[str, Any]]) -> None:
        """Record parsed files ``{blob: flat dict}``; skipped quietly when the cache is busy."""
        rows = []
        for blob, value in parsed.items():
            try:
                text = _encode(value)
            except (TypeError, ValueError):
                continue  # not JSON-shaped: it is simply not cached
            rows.append((blob, text, digest(blob, text)))
        self.add_texts(rows)

    def add_subtrees(self, texts: Mapping[str, str]) -> None:
        """Record listing rows ``{subtree key: text}``; skipped quietly when the cache is busy."""
        self.add_texts([(k, v, digest(k, v)) for k, v in texts.items()], "subtrees")

    def add_texts(self, rows: list[tuple[str, str, bytes]], table: str = "parsed") -> None:
        """Record rows of (blob, JSON text, digest) in one transaction."""
        import sqlite3

        if not rows:
            return
        db = self._connect()
        if db is None:
            return
        ordered = sorted(rows)  # in key order: neighbouring keys share B-tree pages
        try:
            with db:  # sqlite3's context manager: one transaction, rolled back on error
                db.execute("BEGIN IMMEDIATE")
                # Many rows a statement, not one: each statement gives up Python's lock and
                # waits to take it back (up to 5 ms while another thread computes), holding
                # the write lock that the other process of a listing then waits for. A few
                # sizes only: a cached statement keeps a copy of the values it was last given.
                start = 0
                for size in _INSERT_SIZES:
                    while len(ordered) - start >= size:
                        values = itertools.chain.from_iterable(ordered[start : start + size])
                        db.execute(_insert(table, size), list(values))
                        start += size
            self._bound(db, table)
        except UnicodeEncodeError:
            return  # a lone surrogate in a value: SQLite cannot hold it, so it is not cached
        except sqlite3.OperationalError:
            return  # locked past the wait, or the disk is full: stay uncached this time
        except sqlite3.DatabaseError:
            self._damaged()

    def _bound(self, db: sqlite3.Connection, table: str) -> None:
        (low, high) = db.execute(f"SELECT min(rowid), max(rowid) FROM {table}").fetchone()
        if low is None or high - low + 1 <= self.max_entries:
            return
        # Rows replaced get new rowids, so the lowest rowids are the entries written longest ago.
        keep_from = high - (self.max_entries * 3) // 4
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"DELETE FROM {table} WHERE rowid <= ?", (keep_from,))
