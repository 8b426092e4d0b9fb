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
from typing import Any

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
    ``invalid``: its config.yaml is not valid YAML at this commit (``changes`` is then empty,
    and the next version is compared with the last readable one).
    """

    commit: str
    time: int
    subject: str
    changes: list[Change]
    created: bool = False
    invalid: bool = False


@dataclass
class RunHistory:
    """A run's versions, newest first, and how many older ones were left out."""

    versions: list[Version] = field(default_factory=list)
    omitted: int = 0


def run_histories(store: ConfigStore, limit: int = VERSION_LIMIT) -> dict[str, RunHistory]:
    """Every run's history (at most ``limit`` versions each) by config path, from one git log."""
    return resolve(store, read_log(store, limit))


@dataclass
class BranchLog:
    """The branch's commits per config path, before any blob is parsed (see ``read_log``)."""

    entries: dict[str, list[tuple[str, int, str, str, str]]] = field(default_factory=dict)
    omitted: dict[str, int] = field(default_factory=dict)
    blobs: dict[str, str] = field(default_factory=dict)


def read_log(store: ConfigStore, limit: int = VERSION_LIMIT) -> BranchLog:
    """Run ``git log --raw`` over the branch and sort its lines by config path.

    Touches no cache, so it may run in a thread while the runs are listed: git's own time then
    overlaps with the listing's.
    """
    log = BranchLog()
    if store.tip() is None:
        return log
    output = store.repo.git(
        "log",
        "--format=%x1e%H%x1f%ct%x1f%s%x1f",
        "--raw",
        "--no-abbrev",
        "--no-renames",
        store.ref,
        "--",
    ).stdout.decode("utf-8", "replace")
    suffix = "/" + CONFIG_FILE
    for record in output.split("\x1e")[1:]:
        sha, timestamp, subject, raw = record.split("\x1f", 3)
        for line in raw.splitlines():
            info, _, path = line.partition("\t")
            if not path.endswith(suffix) or not info.startswith(":"):
                continue
            entries = log.entries.setdefault(path, [])
            if len(entries) >= limit:
                log.omitted[path] = log.omitted.get(path, 0) + 1
                continue
            old, new = info.split()[2:4]
            entries.append((sha, int(timestamp), subject, old, new))
            if not is_null(old):  # a later version: both sides are diffed
                log.blobs[old] = path
                if not is_null(new):
                    log.blobs[new] = path
    return log


def resolve(store: ConfigStore, log: BranchLog) -> dict[str, RunHistory]:
    """The histories of ``log``: the later versions' blobs parsed (blob cache) and diffed."""
    invalid: dict[str, str] = {}  # an old hand edit's bad YAML: that version is marked
    configs = store.parsed_files(log.blobs, invalid) if log.blobs else {}
    histories: dict[str, RunHistory] = {}
    for path, entries in log.entries.items():
        history = histories[path] = RunHistory(omitted=log.omitted.get(path, 0))
        readable: dict[str, Any] = {}  # the last readable version, oldest first
        for sha, when, subject, old, new in reversed(entries):
            if is_null(old):
                marked = new in invalid  # known only if a later version was diffed with it
                history.versions.append(Version(sha, when, subject, [], True, marked))
                readable = configs.get(new, {})  # not parsed (nor needed) unless diffed later
            elif new in invalid:
                history.versions.append(Version(sha, when, subject, [], invalid=True))
            else:
                before = configs.get(old, readable)
                readable = {} if is_null(new) else configs[new]
                history.versions.append(Version(sha, when, subject, diff_configs(before, readable)))
        history.versions.reverse()
    return histories
