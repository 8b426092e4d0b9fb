"""Parsed config files keyed by blob id, kept beside the repository's objects.

A blob id names its content forever, so an entry never goes stale: listing 10,000 runs parses
only the files it has not seen before. The cache is an append-only JSON-lines file (each line a
``{blob: parsed}`` object); concurrent appenders cannot corrupt each other's entries beyond a torn
line, which is skipped. It is only a cache: deleting it costs one slow listing.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_COMPACT_AFTER_LINES = 512


class BlobCache:
    def __init__(self, directory: Path) -> None:
        self.path = directory / "blobcache-v1.jsonl"
        self._entries: dict[str, dict[str, Any]] | None = None
        self._lines = 0

    def load(self) -> dict[str, dict[str, Any]]:
        if self._entries is None:
            entries: dict[str, dict[str, Any]] = {}
            lines = 0
            with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as fh:
                for line in fh:
                    lines += 1
                    try:
                        chunk = json.loads(line)
                    except ValueError:
                        continue  # a torn line from a writer that died mid-append
                    if isinstance(chunk, dict):
                        entries.update(chunk)
            self._entries = entries
            self._lines = lines
        return self._entries

    def forget(self) -> None:
        """Drop the entries held in memory (the file stays); the next lookup reads it again."""
        self._entries = None

    def get(self, blob: str) -> dict[str, Any] | None:
        return self.load().get(blob)

    def add(self, parsed: Mapping[str, dict[str, Any]]) -> None:
        """Record new entries: appended as one line, or the file rewritten when it got long."""
        if not parsed:
            return
        if self._entries is not None:
            self._entries.update(parsed)
        with contextlib.suppress(OSError, ValueError):
            self.path.parent.mkdir(exist_ok=True)
            if self._entries is not None and self._lines >= _COMPACT_AFTER_LINES:
                self._rewrite(self._entries)
                return
            data = json.dumps(parsed, separators=(",", ":"), allow_nan=True) + "\n"
            # One write() on an O_APPEND descriptor: concurrent appenders never overwrite.
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
            self._lines += 1

    def _rewrite(self, entries: Mapping[str, dict[str, Any]]) -> None:
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        with open(tmp, "w") as fh:
            fh.write(json.dumps(entries, separators=(",", ":"), allow_nan=True) + "\n")
        os.replace(tmp, self.path)
        self._lines = 1
