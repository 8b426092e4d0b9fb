"""The local history file: several writers, each numbering its rows after the others'."""

from __future__ import annotations

from pathlib import Path

from gitcfg.history import HistoryFile


def test_history_writers_number_their_rows_after_each_others(tmp_path: Path) -> None:
    path = tmp_path / "run.history"
    first, second = HistoryFile(path, "p/run"), HistoryFile(path, "p/run")
    first.mark_end()
    second.mark_end()
    assert first.append([{"_step": 0, "a": 1}, {"_step": 1, "a": 2}]) == []
    # the second writer's rows come after the first's: returned to it, and numbered on
    mine = [{"_step": 0, "b": 1}]
    assert second.append(mine) == [{"_step": 0, "a": 1}, {"_step": 1, "a": 2}]
    assert mine == [{"_step": 2, "b": 1}]
    assert first.append([], renumber=True) == [{"_step": 2, "b": 1}]
    named = [{"_step": 1, "a": 3}]
    first.append(named, renumber=False)  # log(step=N): kept as named
    assert [row["_step"] for row in HistoryFile(path, "p/run").rows()] == [0, 1, 2, 1]
    assert HistoryFile(path, "p/run").last_step() == 2
