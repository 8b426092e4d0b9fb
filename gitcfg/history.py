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

Several processes may write one run's history (a forked or spawned child logging to its parent's
run, ``mode="shared"``). Each appends under an exclusive ``flock`` of the file and first reads what
the others appended since its own last append: those rows are returned to the writer (its summary
takes their values), and its own rows are numbered on after them, so that steps follow the order
in which rows reach the file and no two rows share a step (wandb numbers the rows of attached
processes in the order its service receives them). A writer that named its steps
(``log(step=N)``) keeps them as named.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import marshal
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gitcfg.errors import HistoryNotFoundError
from gitcfg.git.perms import adjust_fd, make_dirs

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

    def __init__(self, path: Path, run: str, *, shared: int = 0) -> None:
        self.path = path
        self.run = run  # project/id, for messages
        # core.sharedRepository: processes of other users of the group append to it too
        self.shared = shared
        self._failed = False
        # Where the file ended after this writer's last append (or read): what lies beyond was
        # appended by other processes. None until ``mark_end`` or ``last_step`` sets it.
        self._end: int | None = None
        self._last: int | None = None  # the largest step up to there, when known

    def mark_end(self) -> None:
        """Take the file as it is now as this writer's starting point (a run just created)."""
        try:
            self._end = os.stat(self.path).st_size
        except OSError:
            self._end = 0

    def append(
        self, rows: Sequence[dict[str, Any]], *, renumber: bool = True
    ) -> list[dict[str, Any]]:
        """Append ``rows`` as one record, in one write, and return the rows other processes
        appended since this writer's last append (oldest first); ``rows`` are renumbered
        (``_step``, in place) to follow theirs unless ``renumber`` is false. With no ``rows``,
        only reads theirs. A failure (disk full) warns once and never raises: losing curves
        must not stop a training run."""
        if self._failed:
            return []
        try:
            flags = os.O_RDWR | os.O_APPEND | os.O_CREAT if rows else os.O_RDONLY
            try:
                fd = os.open(self.path, flags, 0o666)
            except FileNotFoundError:
                if not rows:  # nothing logged by anyone yet
                    return []
                make_dirs(str(self.path.parent), self.shared)
                fd = os.open(self.path, flags, 0o666)
            try:
                if rows and self.shared:
                    with contextlib.suppress(OSError):  # another user's file: git leaves those
                        adjust_fd(fd, self.shared)
                fcntl.flock(fd, fcntl.LOCK_EX if rows else fcntl.LOCK_SH)
                size = os.fstat(fd).st_size
                end = size if self._end is None else self._end
                theirs = _read_rows(fd, end, size) if size > end else []
                last = _larger(self._last, max_step(theirs))
                if rows:
                    if renumber:
                        _follow(rows, last)
                    data = _dump(rows)
                    if size == 0:
                        data = _HEADER + data
                    # one write in append mode: a reader never sees half a record of another
                    os.write(fd, data)
                    size += len(data)
                    # one writer's steps never go down: its last row has its largest
                    last = _larger(last, max_step(rows[-1:]))
                self._end = size
                self._last = last
            finally:
                os.close(fd)  # the lock goes with it
        except OSError as exc:
            if rows:  # a failed read only costs the other processes' values, this once
                self._failed = True
                sys.stderr.write(f"gitcfg: cannot write the history of run {self.run}: {exc}\n")
            return []
        return theirs

    def exists(self) -> bool:
        return self.path.is_file()

    def rows(self) -> Iterator[dict[str, Any]]:
        """Every row, oldest first; raises ``HistoryNotFoundError`` when there is no file."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise HistoryNotFoundError(self.run, str(self.path)) from None
        with handle:
            yield from _records(handle)

    def last_step(self) -> int | None:
        """The ``_step`` of the last complete row, or None (no file, no rows). This writer's
        later appends start from the file as read here."""
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            self._end = 0
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)  # no other writer's record half read
            size = os.fstat(fd).st_size
            rows = _read_rows(fd, 0, size)
        finally:
            os.close(fd)
        self._end = size
        self._last = max_step(rows)
        return self._last


def _records(handle: Any) -> Iterator[dict[str, Any]]:
    """The rows of the records ``handle`` reads, skipping the header."""
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


def _read_rows(fd: int, start: int, end: int) -> list[dict[str, Any]]:
    """The rows of the records between offsets ``start`` and ``end`` of the open file ``fd``."""
    data = b""
    while len(data) < end - start:
        block = os.pread(fd, end - start - len(data), start + len(data))
        if not block:
            break
        data += block
    return list(_records(io.BytesIO(data)))


def max_step(rows: Sequence[dict[str, Any]]) -> int | None:
    """The largest ``_step`` of ``rows``, or None."""
    last: int | None = None
    for row in rows:
        step = row.get("_step")
        if isinstance(step, int) and (last is None or step > last):
            last = step
    return last


def _larger(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _follow(rows: Sequence[dict[str, Any]], last: int | None) -> None:
    """Renumber ``rows`` (consecutive steps of one writer) to start after step ``last``."""
    first = rows[0].get("_step")
    if last is None or not isinstance(first, int) or first > last:
        return
    shift = last + 1 - first
    for row in rows:
        step = row.get("_step")
        if isinstance(step, int):
            row["_step"] = step + shift


def _dump(rows: Sequence[dict[str, Any]]) -> bytes:
    try:
        return marshal.dumps(list(rows), _MARSHAL_VERSION)
    except ValueError:  # a value log() let through that marshal cannot hold
        return marshal.dumps([_plain(row) for row in rows], _MARSHAL_VERSION)


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {
        str(k): v if type(v) in (int, float, str, bool, type(None)) else repr(v)
        for k, v in row.items()
    }
