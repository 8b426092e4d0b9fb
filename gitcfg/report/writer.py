"""``gitcfg report`` as a library call: read the runs, shape them, write the page atomically."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from gitcfg.errors import GitcfgError

if TYPE_CHECKING:
    from gitcfg.override import Condition
    from gitcfg.store import ConfigStore, RunRecord


def _records(
    store: ConfigStore, project: str | None, conditions: Sequence[Condition]
) -> list[RunRecord]:
    """The runs the page shows, from the listing's stream: filtered as 'gitcfg runs --where'
    filters (decoding only the columns named), and only the runs kept decoded whole."""
    from gitcfg.runtable import where
    from gitcfg.store import RunRecord

    with store.listing(project) as listing:
        rows = where(listing.rows, conditions)
        tip = listing.tip or ""
    records = []
    for listed in rows:
        run = listed.decoded()
        records.append(RunRecord(listed.ref, run.config, run.meta, tip, run.summary))
    return records


@dataclass(frozen=True)
class ReportResult:
    """What was written: the file, how many runs it shows, its size in bytes."""

    path: Path
    runs: int
    size: int


def write_report(
    store: ConfigStore,
    path: str | os.PathLike[str],
    *,
    project: str | None = None,
    conditions: Sequence[Condition] = (),
    metric: str | None = None,
    group_by: str | None = None,
) -> ReportResult:
    """Write the HTML report of the store's runs (of ``project``, meeting ``conditions``).

    Nothing is written when there is no run to show or an argument names an unknown key; the
    file appears complete or not at all (written beside its target, then renamed).
    """
    from gitcfg.render import value_text
    from gitcfg.report.histories import read_log, resolve
    from gitcfg.report.page import check_available, render_page
    from gitcfg.report.shape import report_data

    check_available()  # before any work: a missing extra is one line, at once
    target = Path(path)
    directory = target.parent
    if target.is_dir():
        raise GitcfgError(f"{target} is a directory; give a file name with -o, e.g. -o report.html")
    if not directory.is_dir():
        raise GitcfgError(f"directory {directory} does not exist; create it or choose another -o")
    # git log runs in a thread while the runs are listed (two processes, two cores); the
    # histories' few blobs are parsed after the listing, from the cache it loaded
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(read_log, store)
        records = _records(store, project, conditions)
        log = pending.result()
    if not records:
        where = f" in project {project}" if project else ""
        which = " matching --where" if conditions else ""
        raise GitcfgError(
            f"no runs{which}{where} to report; list them with 'gitcfg runs'"
            + (" and loosen --where" if conditions else "")
        )
    context = {
        "branch": store.branch,
        "project": project,
        "where": [f"{c.key}{c.op}{value_text(c.value)}" for c in conditions],
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    histories = resolve(store, log)
    data = report_data(records, histories, metric=metric, group_by=group_by, context=context)
    html = render_page(data).encode("utf-8")
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(html)
        os.chmod(temp, 0o644)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return ReportResult(target, len(records), len(html))
