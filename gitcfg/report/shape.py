"""The report's data: what the page shows, as plain JSON-able values.

The page gets, once: the config keys that differ among the runs (its columns), the keys all runs
share (shown in each run's detail), the summary metrics, each run's row, provenance and history.
Repeated provenance (the same code commit, command, host...) is stored once and referred to by
index, and a run's first version is stored as "created" rather than N additions, so
10,000 runs stay a few megabytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitcfg.diff import MISSING
from gitcfg.errors import UnknownColumnError
from gitcfg.query import differing_keys, run_row
from gitcfg.render import finite

if TYPE_CHECKING:
    from gitcfg.report.histories import RunHistory
    from gitcfg.store import RunRecord

# Provenance fields shown in a run's detail, in this order.
PROVENANCE_FIELDS = (
    "code_commit",
    "branch",
    "dirty",
    "snapshot",
    "command",
    "host",
    "user",
    "python",
    "gitcfg",
)
_JSON_SAFE = frozenset({str, int, bool, type(None)})
# Metric names that are better when lower; anything else is taken as better when higher.
_LOWER_IS_BETTER = ("loss", "err", "perplexity", "mse", "mae", "rmse", "time", "latency", "wer")
# Preferred default metrics, in order, when --metric is not given.
_PREFERRED = ("accuracy", "acc", "val_acc", "val_accuracy", "f1", "val_loss", "loss")


def plain(item: Any) -> Any:
    """``item`` as strict JSON can carry it: nan and infinities as text, unknown types as text."""
    if type(item) in _JSON_SAFE:  # the common case first: 10,000 runs have many values
        return item
    if isinstance(item, float):
        return item if math.isfinite(item) else finite(item)  # "NaN", as `gitcfg runs` writes it
    if item is None or isinstance(item, (str, int, bool)):
        return item
    if isinstance(item, Mapping):
        return {str(k): plain(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [plain(v) for v in item]
    return str(item)  # a date YAML read from a hand-edited file, say


def metric_keys(summaries: Sequence[Mapping[str, Any]]) -> list[str]:
    """Summary keys holding a number in at least one run, sorted."""
    keys: set[str] = set()
    for summary in summaries:
        for key, item in summary.items():
            if isinstance(item, (int, float)) and not isinstance(item, bool):
                keys.add(key)
    return sorted(keys)


def default_metric(metrics: Sequence[str]) -> str | None:
    """The metric shown first: a well-known name if there is one, else the first."""
    for name in _PREFERRED:
        if name in metrics:
            return name
    return metrics[0] if metrics else None


def goal_of(metric: str | None) -> str:
    """``"min"`` for losses and errors, else ``"max"`` (the page lets the reader flip it)."""
    if metric is None:
        return "max"
    lowered = metric.lower()
    return "min" if any(word in lowered for word in _LOWER_IS_BETTER) else "max"


def _tags(tags: Any) -> list[str]:
    """A run's tags as text; a hand-edited ``tags: x`` (not a list) is one tag."""
    if tags is None:
        return []
    return [str(tag) for tag in tags] if isinstance(tags, list) else [str(tags)]


def _history_data(history: RunHistory | None) -> dict[str, Any]:
    if history is None:
        return {"versions": [], "omitted": 0}
    versions = []
    for version in history.versions:
        item: dict[str, Any] = {
            "commit": version.commit,
            "time": version.time,
            "message": version.subject,
        }
        if version.created:
            item["created"] = True  # the config itself is shown beside it
        elif version.invalid:
            item["invalid"] = True
        else:
            item["changes"] = [
                [
                    change.kind,
                    change.key,
                    None if change.old is MISSING else plain(change.old),
                    None if change.new is MISSING else plain(change.new),
                ]
                for change in version.changes
            ]
        versions.append(item)
    return {"versions": versions, "omitted": history.omitted}


def report_data(
    records: Sequence[RunRecord],
    histories: Mapping[str, RunHistory],
    *,
    metric: str | None = None,
    group_by: str | None = None,
    title: str = "gitcfg report",
    context: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the page shows about ``records``, as JSON-able data.

    ``histories`` are keyed by config path (``gitcfg.report.histories.run_histories``);
    ``metric`` and ``group_by`` are the page's initial choices (checked to exist);
    ``context`` says what was reported (branch, project, filters, time) for the page header.
    """
    rows = [run_row(record) for record in records]
    summaries = [record.summary for record in records]  # summary.yaml, {} without one
    differ = differing_keys(rows) if len(rows) > 1 else []
    every_key = sorted({key for row in rows for key in row["config"]})
    common = {k: plain(rows[0]["config"][k]) for k in every_key if k not in differ} if rows else {}
    metrics = metric_keys(summaries)
    if metric is not None and metric not in metrics:
        raise UnknownColumnError(metric, metrics)
    if group_by is not None and group_by not in every_key and group_by not in ("group", "name"):
        raise UnknownColumnError(group_by, ["group", "name", *every_key])
    chosen = metric or default_metric(metrics)
    provenance: list[dict[str, Any]] = []
    provenance_index: dict[tuple[Any, ...], int] = {}
    runs = []
    for record, row, summary in zip(records, rows, summaries, strict=True):
        meta = record.meta
        facts = tuple(plain(meta.get(name)) for name in PROVENANCE_FIELDS)
        index = provenance_index.get(facts)
        if index is None:
            index = provenance_index[facts] = len(provenance)
            provenance.append(dict(zip(PROVENANCE_FIELDS, facts, strict=True)))
        config = row["config"]
        runs.append(
            {
                "project": row["project"],
                "id": row["id"],
                "name": plain(meta.get("name")),
                "group": plain(meta.get("group")),
                "created": plain(row["created"]),
                "tags": _tags(meta.get("tags")),
                # a failed run's code (recorded for failures, and by gitcfg run/sweep always)
                "exit": plain(meta.get("exit_status")),
                "commit": plain(row["code_commit"]),
                "dirty": row["dirty"],
                # plain() only where needed: a call per value is most of the cost at 10,000 runs
                "config": {
                    k: v if type(v) in _JSON_SAFE else plain(v)
                    for k in differ
                    if (v := config.get(k, MISSING)) is not MISSING
                },
                "summary": {
                    k: v if type(v) in _JSON_SAFE else plain(v) for k, v in summary.items()
                },
                "provenance": index,
                "history": _history_data(histories.get(record.ref.config_path)),
            }
        )
    return {
        "title": title,
        "context": plain(dict(context or {})),
        "keys": differ,
        "common": common,
        "metrics": metrics,
        "metric": chosen,
        "goal": goal_of(chosen),
        "groupBy": group_by,
        "runs": runs,
        "provenance": provenance,
    }
