"""Every run's config history for the report, from one pass over the store branch.

``gitcfg.changelog.branch_log`` reads the whole branch with one ``git log --raw`` and parses each
config blob once (through the blob cache), so 10,000 runs cost one git process, not 10,000.
Each run keeps at most ``limit`` versions, newest first; older ones are counted, not listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gitcfg.changelog import branch_log
from gitcfg.diff import Change
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore

# Versions listed per run; a run edited more often than this says how many are left out.
VERSION_LIMIT = 20


@dataclass(frozen=True)
class Version:
    """One commit of a run: when, its message subject, and the config keys it changed."""

    commit: str
    time: int
    subject: str
    changes: list[Change]


@dataclass
class RunHistory:
    """A run's versions, newest first, and how many older ones were left out."""

    versions: list[Version] = field(default_factory=list)
    omitted: int = 0


def run_histories(
    store: ConfigStore, runs: Iterable[RunRef], limit: int = VERSION_LIMIT
) -> dict[RunRef, RunHistory]:
    """The history of each of ``runs`` (at most ``limit`` versions each), from one git log."""
    wanted = set(runs)
    histories: dict[RunRef, RunHistory] = {ref: RunHistory() for ref in wanted}
    for entry in branch_log(store):
        for ref, changes in entry.runs:
            history = histories.get(ref)
            if history is None:
                continue
            if len(history.versions) < limit:
                history.versions.append(Version(entry.commit, entry.time, entry.subject, changes))
            else:
                history.omitted += 1
    return histories
