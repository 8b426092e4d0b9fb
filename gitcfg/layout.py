"""Where a run lives on the store branch, computed from its project and id alone.

``<project>/<a>/<b>/<c>/<d>/<id>/config.yaml`` (beside it ``meta.yaml`` and ``summary.yaml``)
where ``abcd`` are the first hex digits of SHA-1(id). Hashing spreads sequential ids too. Every
shard directory holds at most 16 entries and there are 65,536 leaf directories, so no tree that
a commit rewrites grows with the number of runs: the shard trees fill up to their fixed size by
a few thousand runs and stay there (at 100,000 runs a leaf holds one or two runs). Small trees
keep each commit's bytes small.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from gitcfg.errors import NotAStoreError

if TYPE_CHECKING:
    from gitcfg.git.objects import TreeEntry

CONFIG_FILE = "config.yaml"
META_FILE = "meta.yaml"
# The run's results (wandb's summary), beside its config; absent until something is logged.
SUMMARY_FILE = "summary.yaml"
SHARD_LEVELS = 4
# project + shard levels + id
RUN_DEPTH = SHARD_LEVELS + 2


# What a project directory may be named (gitcfg.names.check_name, without its length limit).
_PROJECT = re.compile(r"(?!\.)(?!.*\.\.)[A-Za-z0-9_.-]+")
_KINDS = {"120000": "link", "160000": "submodule"}


class RunRef(NamedTuple):
    """A run named by project and id; ``str(ref)`` is ``project/id``."""

    project: str
    id: str

    def __str__(self) -> str:
        return f"{self.project}/{self.id}"

    @property
    def shards(self) -> tuple[str, ...]:
        return tuple(_shards(self.id))

    @property
    def segments(self) -> tuple[str, ...]:
        """The directory names from the branch root down to the run's directory."""
        return (self.project, *self.shards, self.id)

    @property
    def directory(self) -> str:
        return "/".join(self.segments)

    @property
    def config_path(self) -> str:
        return f"{self.directory}/{CONFIG_FILE}"

    @property
    def meta_path(self) -> str:
        return f"{self.directory}/{META_FILE}"

    @property
    def summary_path(self) -> str:
        return f"{self.directory}/{SUMMARY_FILE}"


def parse_run_dir(path: str) -> RunRef | None:
    """The run whose directory is ``path`` (``project/a/b/c/d/id``), or None."""
    parts = path.split("/")
    if len(parts) != RUN_DEPTH:
        return None
    # the shards checked before a RunRef is made: a listing parses 100,000 directories
    return RunRef(parts[0], parts[-1]) if parts[1:-1] == list(_shards(parts[-1])) else None


def _shards(run_id: str) -> str:
    """The shard directory names of run ``run_id``, one hex digit each, as one string."""
    return hashlib.sha1(run_id.encode()).hexdigest()[:SHARD_LEVELS]


def parse_run_path(path: str) -> tuple[RunRef, str] | None:
    """Split ``project/a/b/c/d/id/file`` from ``git ls-tree -r`` into (run, file name)."""
    directory, slash, name = path.rpartition("/")
    ref = parse_run_dir(directory) if slash else None
    return (ref, name) if ref is not None else None


def check_store_root(
    branch: str,
    entries: Iterable[TreeEntry],
    read_tree: Callable[[str], Iterable[TreeEntry]],
) -> None:
    """Raise NotAStoreError if the root tree ``entries`` of ``branch`` is not a store's.

    gitcfg writes nothing at the root but project directories, so a file there (``README``,
    ``.gitignore``, ``code.py``), a link, a submodule or a directory no project could be named
    (``.github``) means the branch is someone's own work, which a run must not be stacked on,
    unless a project directory beside it holds gitcfg's shards (directories ``0``-``f``): then
    it is a store someone added a file to (a README), which stays. Only the root tree is read,
    which every write and read reads anyway, and a project's tree when the root holds more.
    """
    entries = list(entries)
    odd = next((e for e in entries if not e.is_tree or not _PROJECT.fullmatch(e.name)), None)
    if odd is None:
        return
    for entry in entries:
        if entry.is_tree and _PROJECT.fullmatch(entry.name) and _holds_runs(entry.sha, read_tree):
            return
    if odd.is_tree:
        raise NotAStoreError(branch, f"the directory {odd.name!r}")
    raise NotAStoreError(branch, f"the {_KINDS.get(odd.mode, 'file')} {odd.name!r}")


_SHARDS = frozenset("0123456789abcdef")


def _holds_runs(project: str, read_tree: Callable[[str], Iterable[TreeEntry]]) -> bool:
    """Whether the tree ``project`` holds shard directories down to a run whose id they are
    the digest of, as gitcfg writes them (its first one is looked at)."""
    sha, path = project, ""
    for _ in range(SHARD_LEVELS):
        inside = list(read_tree(sha))
        if not inside or not all(e.is_tree and e.name in _SHARDS for e in inside):
            return False
        sha, path = inside[0].sha, path + inside[0].name
    runs = [e.name for e in read_tree(sha) if e.is_tree]
    return bool(runs) and _shards(runs[0]) == path
