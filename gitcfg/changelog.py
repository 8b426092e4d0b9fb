"""The store branch as a change log: each commit with the runs and keys it changed.

Summary keys are listed as ``summary:KEY``, the name ``gitcfg runs`` uses for them, so they
never read as config keys.

``gitcfg log`` reads this; for one run it comes from ``ConfigStore.history``, for the whole
branch from one ``git log --raw`` (which blobs each commit changed) and the commits'
``Gitcfg-Run:`` trailers (which runs a commit is about).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gitcfg.diff import Change, diff_configs
from gitcfg.git import is_null
from gitcfg.layout import CONFIG_FILE, SUMMARY_FILE, RunRef, parse_run_path
from gitcfg.store import SUMMARY_PREFIX, ConfigStore


@dataclass(frozen=True)
class LogEntry:
    """One commit of the store branch; ``runs`` pairs each run it touched with its changes."""

    commit: str
    time: int
    subject: str
    runs: list[tuple[RunRef, list[Change]]] = field(default_factory=list)
    # Per run, the files that are not valid YAML at this commit (their changes are not listed).
    invalid: dict[RunRef, tuple[str, ...]] = field(default_factory=dict)


def run_log(store: ConfigStore, run: RunRef, limit: int | None = None) -> list[LogEntry]:
    """The versions of one run, newest first, each with its change from the version before.

    A version whose file is not valid YAML is listed as such; the next readable version is
    compared with the last readable one before it.
    """
    versions = store.history(run)
    shown = versions if limit is None else versions[:limit]
    entries = []
    for i, version in enumerate(shown):
        older = versions[i + 1 :]
        changes: list[Change] = []
        if CONFIG_FILE not in version.invalid:
            before = next((v.config for v in older if CONFIG_FILE not in v.invalid), {})
            changes += diff_configs(before, version.config)
        if SUMMARY_FILE not in version.invalid:
            before = next((v.summary for v in older if SUMMARY_FILE not in v.invalid), {})
            changes += _labelled(diff_configs(before, version.summary))
        subject = version.message.split("\n", 1)[0]
        invalid = {run: version.invalid} if version.invalid else {}
        entries.append(LogEntry(version.commit, version.time, subject, [(run, changes)], invalid))
    return entries


def branch_log(store: ConfigStore, limit: int | None = None) -> list[LogEntry]:
    """Every commit of the store branch, newest first, with the config changes of each run."""
    if store.tip() is None:
        return []
    store.check_is_store()
    args = [
        "log",
        "--format=%x1e%H%x1f%ct%x1f%s%x1f%(trailers:key=Gitcfg-Run,valueonly,separator=%x1d)%x1f",
        "--raw",
        "--no-abbrev",
        "--no-renames",
    ]
    if limit is not None:
        args.append(f"--max-count={limit}")
    output = store.repo.git(*args, store.ref, "--").stdout.decode("utf-8", "replace")
    commits: list[tuple[str, int, str, list[str], dict[RunRef, dict[str, tuple[str, str]]]]] = []
    blobs: dict[str, str] = {}
    for record in output.split("\x1e")[1:]:
        sha, timestamp, subject, trailers, raw = record.split("\x1f", 4)
        touched: dict[RunRef, dict[str, tuple[str, str]]] = {}
        for line in raw.strip().splitlines():
            if not line.startswith(":"):
                continue
            info, _, path = line.partition("\t")
            parsed = parse_run_path(path)
            if parsed is None or parsed[1] not in (CONFIG_FILE, SUMMARY_FILE):
                continue
            old, new = info.split()[2:4]
            touched.setdefault(parsed[0], {})[parsed[1]] = (old, new)
            for blob in (old, new):
                if not is_null(blob):
                    blobs[blob] = path
        named = [t.strip() for t in trailers.split("\x1d") if t.strip()]
        commits.append((sha, int(timestamp), subject, named, touched))
    invalid: dict[str, str] = {}
    configs = store.parsed_files(blobs, invalid)
    # Each file's last readable version, as the walk from the oldest commit reaches it: the
    # version after an invalid one is compared with it. (Before the oldest commit listed: {}.)
    readable: dict[tuple[RunRef, str], dict[str, Any]] = {}
    entries = []
    for sha, when, subject, named, touched in reversed(commits):
        runs: list[tuple[RunRef, list[Change]]] = []
        bad: dict[RunRef, tuple[str, ...]] = {}
        for ref, files in touched.items():
            changes: list[Change] = []
            for name, (old, new) in sorted(files.items()):
                if new in invalid:
                    bad[ref] = (*bad.get(ref, ()), name)
                    continue
                before = configs[old] if old in configs else readable.get((ref, name), {})
                after = readable[ref, name] = configs.get(new, {})
                found = diff_configs(before, after)
                changes += _labelled(found) if name == SUMMARY_FILE else found
            runs.append((ref, changes))
        seen = {str(ref) for ref in touched}
        for name in named:  # a run the commit names but whose config it did not change
            project, _, run_id = name.rpartition("/")
            if name not in seen and project:
                runs.append((RunRef(project, run_id), []))
                seen.add(name)
        entries.append(LogEntry(sha, when, subject, runs, bad))
    return entries[::-1]


def _labelled(changes: list[Change]) -> list[Change]:
    return [Change(SUMMARY_PREFIX + c.key, c.old, c.new) for c in changes]
