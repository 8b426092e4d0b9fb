"""Per-step history of a run (every ``log`` call), kept in a local file, never on the branch.

A branch must stay small however long runs train, so the rows live under the git directory:
``<git common dir>/gitcfg/history/<project>/<id>.history``. Nothing commits or pushes it;
``git gc`` ignores it; deleting it loses only the curves. ``scan_history()`` and
``gitcfg history RUN [--format csv|json]`` read it where it exists (export from there).

The file is a sequence of Python ``marshal`` records (format version 4, unchanged since Python
3.4), written in batches: first a header ``{"gitcfg_history": 1}``, then per batch a list of
rows ``{"_step": 0, "_timestamp": 1700000000.1, "loss": 0.5, ...}`` holding only str, int,
float, bool and None. ``marshal`` is used for its cost, under a microsecond per row where JSON
text costs several (a ``log`` call must stay cheap), and it never runs code when read. A batch
cut short by a crash ends the file: the rows before it are read.
"""

from __future__ import annotations

import marshal
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gitcfg.errors import HistoryNotFoundError

HISTORY_DIR = "history"
SUFFIX = ".history"
FORMAT = 1
_MARSHAL_VERSION = 4
_HEADER = marshal.dumps({"gitcfg_history": FORMAT}, _MARSHAL_VERSION)


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
        """Append ``rows`` as one record, in one write. A failure (disk full) warns once and
        never raises: losing curves must not stop a training run."""
        if not rows or self._failed:
            return
        try:
            data = marshal.dumps(list(rows), _MARSHAL_VERSION)
        except ValueError:  # a value log() let through that marshal cannot hold
            data = marshal.dumps([_plain(row) for row in rows], _MARSHAL_VERSION)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # one write in append mode: concurrent writers never interleave inside a record
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.fstat(fd).st_size == 0:
                    data = _HEADER + data
                os.write(fd, data)
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
            first = True
            while True:
                try:
                    record = marshal.load(handle)
                except (EOFError, ValueError, TypeError):
                    return  # the end, or a batch cut short by a crash
                if first:
                    first = False
                    if isinstance(record, dict) and "gitcfg_history" in record:
                        continue
                if isinstance(record, list):
                    yield from (row for row in record if isinstance(row, dict))

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


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        str(k): v if type(v) in (int, float, str, bool, type(None)) else repr(v)
        for k, v in row.items()
    }
