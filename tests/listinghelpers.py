"""Shared by the listing and table tests: the answers made from every run read on its own, and
the forked copies a listing starts."""

from __future__ import annotations

from typing import Any

import pytest

from gitcfg import forkread, query
from gitcfg.render import table
from gitcfg.store import ConfigStore
from gitcfg.tablecells import table_values


def rows_from_git(store: ConfigStore) -> list[dict[str, Any]]:
    """Every run read on its own from git (no listing, no cache), as rows, oldest first."""
    rows = [query.run_row(store.read(ref)) for ref in store.run_refs()]
    rows.sort(key=lambda r: (str(r["created"] or ""), r["project"], r["id"]))
    return rows


def expected_table(rows: list[dict[str, Any]]) -> str:
    """The default table as the whole rows make it: ``query``'s columns, each cell shortened
    as the table shows it, aligned by ``render.table``."""
    names = query.default_columns(rows, only_differing=True)
    cells = [table_values(r, [query.getter(n)(r) for n in names], names) for r in rows]
    return table(names, cells, False)


def count_forks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The pids of the forked copies listings start from now on (this test's), in order."""
    forks: list[int] = []

    class Counted(forkread.Helper):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            forks.append(self.pid)

    monkeypatch.setattr(forkread, "Helper", Counted)
    return forks
