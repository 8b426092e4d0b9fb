"""The store branch as a change log: each commit with the runs and keys it changed.

Summary keys are listed as ``summary:KEY``, the name ``gitcfg runs`` uses for them, so they
never read as config keys.

``gitcfg log`` reads this; for one run it comes from ``ConfigStore.history``, for the whole
branch from one ``git log --raw`` (which blobs each commit changed) and the commits'
``Gitcfg-Run:`` trailers (which runs a commit is about).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def run_log(store: ConfigStore, run: RunRef, limit: int | None = None) -> list[LogEntry]:
    """The versions of one run, newest first, each with its change from the version before."""
    versions = store.history(run)
    shown = versions if limit is None else versions[:limit]
    entries = []
    for i, version in enumerate(shown):
        older = versions[i + 1] if i + 1 < len(versions) else None
        changes = diff_configs(older.config if older else {}, version.config)
        changes += _labelled(diff_configs(older.summary if older else {}, version.summary))
        subject = version.message.split("\n", 1)[0]
        entries.append(LogEntry(version.commit, version.time, subject, [(run, changes)]))
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
    configs = store.parsed_files(blobs)
    entries = []
    for sha, when, subject, named, touched in commits:
        runs: list[tuple[RunRef, list[Change]]] = []
        for ref, files in touched.items():
            changes: list[Change] = []
            for name, (old, new) in sorted(files.items()):
                found = diff_configs(configs.get(old, {}), configs.get(new, {}))
                changes += _labelled(found) if name == SUMMARY_FILE else found
            runs.append((ref, changes))
        seen = {str(ref) for ref in touched}
        for name in named:  # a run the commit names but whose config it did not change
            project, _, run_id = name.rpartition("/")
            if name not in seen and project:
                runs.append((RunRef(project, run_id), []))
                seen.add(name)
        entries.append(LogEntry(sha, when, subject, runs))
    return entries


def _labelled(changes: list[Change]) -> list[Change]:
    return [Change(SUMMARY_PREFIX + c.key, c.old, c.new) for c in changes]
