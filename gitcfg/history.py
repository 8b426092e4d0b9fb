"""Per-step history of a run (every ``log`` call), kept in a local file, never on the branch.

A branch must stay small however long runs train, so the rows live under the git directory:
``<git common dir>/gitcfg/history/<project>/<id>.jsonl``, one JSON object per step, as
``{"_step": 0, "_timestamp": 1700000000.1, "loss": 0.5, ...}`` (``NaN``/``Infinity`` as Python's
json writes them). Nothing commits or pushes it; ``git gc`` ignores it; deleting it loses only
the curves. ``scan_history`` and ``gitcfg history RUN`` read it where it exists.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gitcfg.errors import HistoryNotFoundError

HISTORY_DIR = "history"
SUFFIX = ".jsonl"


def history_path(common_dir: Path, project: str, run_id: str) -> Path:
    """Where the history of run ``project/run_id`` is kept in the repository ``common_dir``."""
    return common_dir / "gitcfg" / HISTORY_DIR / project / f"{run_id}{SUFFIX}"


def history_columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The columns of a history table: ``_step``, the logged keys in order of first appearance,
    ``_timestamp`` last."""
    seen: dict[str, None] = {"_step": None}
    for row in rows:
        seen.update(dict.fromkeys(row))
    seen.pop("_timestamp", None)
    return [*seen, "_timestamp"] if any("_timestamp" in row for row in rows) else [*seen]


class HistoryFile:
    """The history file of one run: ``append`` rows, ``rows()`` to read them back."""

    def __init__(self, path: Path, run: str) -> None:
        self.path = path
        self.run = run  # project/id, for messages
        self._failed = False

    def append(self, rows: Sequence[dict[str, Any]]) -> None:
        """Append ``rows`` in one write. A failure (disk full) warns once and never raises:
        losing curves must not stop a training run."""
        if not rows or self._failed:
            return
        dumps = json.dumps
        text = "".join([dumps(row, default=repr) + "\n" for row in rows])
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one write of whole lines in append mode: concurrent writers never interleave lines
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, text.encode("utf-8", "surrogatepass"))
            finally:
                os.close(fd)
        except OSError as exc:
            self._failed = True
            sys.stderr.write(f"gitcfg: cannot write the history of run {self.run}: {exc}\n")

    def exists(self) -> bool:
        return self.path.is_file()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first; raises ``HistoryNotFoundError`` when there is no file."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise HistoryNotFoundError(self.run, str(self.path)) from None
        with handle:
            for line in handle:
                if not line.endswith(b"\n"):
                    break  # a write cut short by a crash: the rest of that row is lost
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if isinstance(row, dict):
                    yield row

    def last_step(self) -> int | None:
        """The ``_step`` of the last complete row, or None (no file, no rows)."""
        if not self.exists():
            return None
        last: int | None = None
        for row in self.rows():
            step = row.get("_step")
            if isinstance(step, int):
                last = step
        return last
