"""Rows of ``gitcfg runs`` streamed from a listing: filtered, optionally in a sorted order.

A row is the JSON shape ``query`` works on. Rows are made a page at a time from
``RunListing.pages``, so a listing of 100,000 runs holds one page of configs; sorting holds the
sort column's value per run, nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from gitcfg import query
from gitcfg.diff import MISSING

if TYPE_CHECKING:
    from gitcfg.listing import IndexEntry, RunListing
    from gitcfg.override import Condition
    from gitcfg.query import Row


def row_of(entry: IndexEntry, config: dict[str, object]) -> Row:
    """The JSON shape of one run (as ``query.run_row``), from its index entry and config."""
    return {
        "project": entry.project,
        "id": entry.id,
        "created": entry.created,
        "code_commit": entry.code_commit,
        "dirty": entry.dirty,
        "config": config,
    }


def positioned(listing: RunListing, conditions: Sequence[Condition]) -> Iterator[tuple[int, Row]]:
    """``(position in the index, row)`` of each run meeting every condition, oldest first."""
    position = 0
    for page in listing.pages(meta=False, summary=False):
        for run in page:
            if all(c.matches(run.config) for c in conditions):
                yield position, row_of(run.entry, run.config)
            position += 1


def rows(
    listing: RunListing, conditions: Sequence[Condition], order: Sequence[int] | None = None
) -> Iterator[Row]:
    """The rows meeting every condition, oldest first, or the runs at ``order`` (unfiltered:
    ``sorted_positions`` has filtered them already)."""
    if order is None:
        for _position, row in positioned(listing, conditions):
            yield row
        return
    for page in listing.pages(meta=False, summary=False, order=order):
        for run in page:
            yield row_of(run.entry, run.config)


def sorted_positions(
    listing: RunListing,
    conditions: Sequence[Condition],
    column: str,
    *,
    descending: bool,
    stats: query.KeyStats,
) -> list[int]:
    """Positions of the matching runs in the order ``query.sort_rows`` gives their rows.

    Holds one value per run (of ``column``); ``stats`` observes every matching row's config.
    """
    present: list[tuple[tuple[int, object], int]] = []
    absent: list[int] = []
    for position, row in positioned(listing, conditions):
        stats.observe(row["config"])
        item = query.value(row, column)
        if item is MISSING:
            absent.append(position)
        else:
            present.append((query.sort_key(item), position))
    present.sort(key=lambda pair: pair[0], reverse=descending)
    return [position for _key, position in present] + absent
