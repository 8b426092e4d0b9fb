"""Where a run lives on the store branch, computed from its project and id alone.

``<project>/<aa>/<bb>/<id>/config.yaml`` where ``aabb`` are the first hex digits of SHA-1(id).
Hashing spreads sequential ids too, and with 256 x 256 shard directories no tree that a commit
rewrites grows with the number of runs: at 100,000 runs a leaf shard holds one or two runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

CONFIG_FILE = "config.yaml"
META_FILE = "meta.yaml"


@dataclass(frozen=True, order=True)
class RunRef:
    """A run named by project and id; ``str(ref)`` is ``project/id``."""

    project: str
    id: str

    def __str__(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def shards(self) -> tuple[str, str]:
        digest = hashlib.sha1(self.id.encode()).hexdigest()
        return digest[:2], digest[2:4]

    @property
    def directory(self) -> str:
        first, second = self.shards
        return f"{self.project}/{first}/{second}/{self.id}"

    @property
    def config_path(self) -> str:
        return f"{self.directory}/{CONFIG_FILE}"

    @property
    def meta_path(self) -> str:
        return f"{self.directory}/{META_FILE}"

    @property
    def segments(self) -> tuple[str, str, str, str]:
        first, second = self.shards
        return self.project, first, second, self.id


def parse_run_path(path: str) -> tuple[RunRef, str] | None:
    """Split ``project/aa/bb/id/file`` from ``git ls-tree -r`` into (run, file name)."""
    parts = path.split("/")
    if len(parts) != 5:
        return None
    project, first, second, run_id, name = parts
    ref = RunRef(project, run_id)
    if ref.shards != (first, second):
        return None
    return ref, name
