"""Comparing configs: two-way diffs for show/log/diff, three-way merges for pull."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from gitcfg.flat import MISSING as MISSING  # here too: the diffs' marker of an absent key

Side = Literal["ours", "theirs"]


class Change(NamedTuple):
    """One key's change between two versions of a config; ``old``/``new`` absent → MISSING."""

    key: str
    old: Any
    new: Any

    @property
    def kind(self) -> str:
        if self.old is MISSING:
            return "added"
        if self.new is MISSING:
            return "removed"
        return "changed"


def same_value(a: Any, b: Any) -> bool:
    """Equal in value and type (so 1, 1.0 and True differ, and nan equals nan)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (a != a and b != b)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def diff_configs(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Keys added, removed or changed from ``old`` to ``new``, sorted by key."""
    changes = []
    for key in sorted(old.keys() | new.keys()):
        before = old.get(key, MISSING)
        after = new.get(key, MISSING)
        if not same_value(before, after):
            changes.append(Change(key, before, after))
    return changes


def merge_configs(
    base: Mapping[str, Any],
    ours: Mapping[str, Any],
    theirs: Mapping[str, Any],
    prefer: Side | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """Three-way merge of flat configs, key by key; returns (merged, conflicting keys).

    A key changed on one side only takes that side's value; changed the same way on both, that
    value; changed differently on both, it is a conflict unless ``prefer`` names a side.
    """
    merged: dict[str, Any] = {}
    conflicts: list[str] = []
    for key in sorted(base.keys() | ours.keys() | theirs.keys()):
        b, o, t = base.get(key, MISSING), ours.get(key, MISSING), theirs.get(key, MISSING)
        if same_value(o, t) or same_value(t, b):
            value = o
        elif same_value(o, b):
            value = t
        elif prefer is not None:
            value = o if prefer == "ours" else t
        else:
            conflicts.append(key)
            value = o
        if value is not MISSING:
            merged[key] = value
    return merged, conflicts
