"""wandb's MongoDB-style run filters and orders, over run rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from gitcfg import wandbquery
from gitcfg.errors import InputError


def row(run_id: str, config: dict[str, Any], **meta: Any) -> dict[str, Any]:
    return {
        "project": "p",
        "id": run_id,
        "created": meta.get("started"),
        "config": config,
        "summary": {},
        "meta": meta,
    }


ROWS = [
    row("a", {"lr.x": 1, "lr.value": 5, "k": None}, tags=["t1", "t2"], started="2024-01-01"),
    row("b", {"lr": 2}, tags=[], exit_status=143, started="2024-01-02T00:00:00+05:00"),
    row("c", {"lr": 3}, exit_status=True),
]


def ids(filters: dict[str, Any]) -> list[str]:
    test = wandbquery.compile_filters(filters)
    return [r["id"] for r in ROWS if test(r)]


def test_a_key_named_value_wins_over_wandbs_value_wrapper() -> None:
    assert ids({"config.lr.value": 5}) == ["a"]  # the config key lr.value itself
    assert ids({"config.lr.value": 2}) == ["b"]  # else wandb's {"lr": {"value": 2}}
    assert ids({"config.lr": {"$eq": {"x": 1, "value": 5}}}) == ["a"]  # the group lr


def test_tags_match_by_element_and_null_matches_absent() -> None:
    assert ids({"tags": {"$gt": "t1"}}) == ["a"]
    assert ids({"tags": {"$exists": True}}) == ["a", "b"]
    assert ids({"tags": None}) == ["c"]
    assert ids({"config.k": None}) == ["a", "b", "c"]  # null, or no such key
    assert ids({"config.k": {"$exists": True}}) == ["a"]  # null is there


def test_state_and_times() -> None:
    # a bool is not an exit status; 143 (SIGTERM) is a failure
    assert ids({"state": "failed"}) == ["b"]
    # a starts 2024-01-01T00:00Z (no zone: UTC), b 2024-01-01T19:00Z; c has no start time
    assert ids({"createdAt": {"$lt": dt.date(2024, 1, 2)}}) == ["a", "b"]
    assert ids({"createdAt": {"$gte": dt.datetime(2024, 1, 1, 19)}}) == ["b"]
    assert ids({"created_at": {"$gt": "2024-01-01T18:00:00-01:00"}}) == []
    assert ids({"createdAt": {"$exists": False}}) == ["c"]
    assert wandbquery.utc_text("2024-01-02T00:00:00.123+05:00") == "2024-01-01T19:00:00"
    assert wandbquery.utc_text("not a time") is None


def test_order_forms() -> None:
    get, descending = wandbquery.order_getter("-summary_metrics.acc")
    assert get is not None and descending
    assert wandbquery.order_getter("createdAt") == (None, False)
    with pytest.raises(InputError, match="cannot order runs by 5"):
        wandbquery.order_getter(5)  # type: ignore[arg-type]
