"""Every run's config history for the report, from one pass over the store branch.

One ``git log --raw`` lists, for each commit of the branch, the config blobs it changed; only
the blobs of later versions are parsed (once each, through the store's blob cache), since a
run's first version is marked "created", not diffed: its config is shown beside it. So 10,000
runs cost one git process, not 10,000. Histories are keyed by the run's config path, so they
can be read before the runs themselves (and share the blob cache the listing loads).
Each run keeps at most ``limit`` versions, newest first; older ones are counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gitcfg.diff import Change, diff_configs
from gitcfg.git import is_null
from gitcfg.layout import CONFIG_FILE
from gitcfg.store import ConfigStore

# Versions listed per run; a run edited more often than this says how many are left out.
VERSION_LIMIT = 20


@dataclass(frozen=True)
class Version:
    """One commit of a run: when, its message subject, and what it changed.

    ``created``: the commit created the run (``changes`` is then empty).
    """

    commit: str
    time: int
    subject: str
    changes: list[Change]
    created: bool = False


@dataclass
class RunHistory:
    """A run's versions, newest first, and how many older ones were left out."""

    versions: list[Version] = field(default_factory=list)
    omitted: int = 0


def run_histories(store: ConfigStore, limit: int = VERSION_LIMIT) -> dict[str, RunHistory]:
    """Every run's history (at most ``limit`` versions each) by config path, from one git log."""
    histories: dict[str, RunHistory] = {}
    if store.tip() is None:
        return histories
    output = store.repo.git(
        "log",
        "--format=%x1e%H%x1f%ct%x1f%s%x1f",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        store.ref,
        "--",
    ).stdout.decode("utf-8", "replace")
    kept: dict[str, list[tuple[str, int, str, str, str]]] = {}
    blobs: dict[str, str] = {}
    suffix = "/" + CONFIG_FILE
    for record in output.split("\x1e")[1:]:
        sha, timestamp, subject, raw = record.split("\x1f", 3)
        for line in raw.splitlines():
            info, _, path = line.partition("\t")
            if not path.endswith(suffix) or not info.startswith(":"):
                continue
            entries = kept.setdefault(path, [])
            if len(entries) >= limit:
                histories.setdefault(path, RunHistory()).omitted += 1
                continue
            old, new = info.split()[2:4]
            entries.append((sha, int(timestamp), subject, old, new))
            if not is_null(old):  # a later version: both sides are diffed
                blobs[old] = path
                if not is_null(new):
                    blobs[new] = path
    configs = store.parsed_files(blobs)
    for path, entries in kept.items():
        versions = histories.setdefault(path, RunHistory()).versions
        for sha, when, subject, old, new in entries:
            if is_null(old):
                versions.append(Version(sha, when, subject, [], created=True))
                continue
            after = {} if is_null(new) else configs[new]
            versions.append(Version(sha, when, subject, diff_configs(configs[old], after)))
    return histories
