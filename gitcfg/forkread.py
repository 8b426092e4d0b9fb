"""A forked copy of this process doing half of a large read, its records streamed back.

A cold listing of 100,000 runs turns 200,000 files into JSON text in Python: a few seconds of
one core, while git's readers use part of the other. Split in two, each half runs in its own
process. A fork, not a new interpreter: the copy starts at once, with the modules, the
repository and the plan already in memory. Only where that is safe: Linux (no fork-unsafe
system frameworks), a single thread in this process (a lock held by another thread would stay
held in the copy forever), and more than one core.

The copy sends its records (tuples of strings) through a pipe as it makes them, fields split
by ``_FIELD`` and records by ``_RECORD`` (JSON text never holds a raw control character; a field
that does makes the copy fail). A thread here parses them as they come, so neither side holds
the other's text twice. Last, the copy sends the order that sorts its records (it sorts them
while this side may still be busy with its own part, rather than this side after). Whatever
goes wrong in the copy (an exception, a signal, a malformed record, no order) makes
``records()`` None: the caller then does that half itself. The copy never returns
into the caller's code: it leaves through ``os._exit``, running no exit handler and flushing
no buffer it shares with this process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import NoReturn, cast

from gitcfg.git.process import widen_pipe

_FIELD = "\x1f"
_RECORD = "\x1e"
_ORDER = "\x1d"  # before the order of the records, after the last of them
_READ_SIZE = 1 << 20

Record = tuple[str, ...]
Sink = Callable[[Iterable[Sequence[str]]], None]


def can_fork() -> bool:
    """Whether a forked helper is safe and useful here."""
    return sys.platform == "linux" and threading.active_count() == 1 and (os.cpu_count() or 1) > 1


class Helper:
    """A forked copy running ``work(sink)``; ``records()`` gives what it passed to ``sink``,
    sorted (as tuples of their fields compare): the copy sorts them once its work is done,
    while this side may still be busy with its own, and sends the order last."""

    def __init__(
        self,
        work: Callable[[Sink], None],
        fields: int,
        make: Callable[[Iterable[str]], Record] | None = None,
    ) -> None:
        """Fork the copy; an ``OSError`` if there can be none (a process or file limit).
        ``make``: what makes a record of its fields (a tuple's subclass), as they arrive."""
        self._fields = fields
        self._make = make
        self._records: list[Record] = []
        self._broken = False
        read_end, write_end = os.pipe()
        # 1 MiB at a time: each read here waits for Python's lock, busy with this side's half
        widen_pipe(read_end)
        try:
            self._pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if self._pid == 0:  # the copy
            os.close(read_end)
            _run_copy(work, write_end)
        os.close(write_end)
        self._fd = read_end
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # Read to the end whatever happens: a copy blocked on a full pipe would never exit.
        rest = b""
        try:
            while block := os.read(self._fd, _READ_SIZE):
                complete, _, rest = (rest + block).rpartition(_RECORD.encode())
                if complete and not self._broken:
                    self._parse(complete.decode("utf-8", "surrogateescape"))
            # what follows the last record: the order that sorts them, or a record cut short
            # (the copy died while writing), or nothing (it died before it could sort them)
            if not self._broken:
                self._sort(rest.decode("ascii", "replace"))
        except OSError:
            self._broken = True
        finally:
            os.close(self._fd)

    def _parse(self, text: str) -> None:
        # one split into fields, then records of every n-th: C loops, no Python one per record
        flat = text.replace(_RECORD, _FIELD).split(_FIELD)
        n = self._fields
        if len(flat) % n or text.count(_RECORD) + 1 != len(flat) // n:
            self._broken = True
        else:
            records = zip(*(flat[i::n] for i in range(n)), strict=True)
            # made here, while the caller is busy with its own part, not after
            self._records.extend(records if self._make is None else map(self._make, records))

    def _sort(self, order_text: str) -> None:
        order = order_text[1:].split() if order_text[:1] == _ORDER else None
        if order is None or len(order) != len(self._records) or not all(map(str.isdigit, order)):
            self._broken = True
            return
        indices = list(map(int, order))
        if indices and (max(indices) >= len(indices) or len(set(indices)) != len(indices)):
            self._broken = True  # not each record once
            return
        self._records = [self._records[i] for i in indices]

    @property
    def pid(self) -> int:
        return self._pid

    def records(self) -> list[Record] | None:
        """Every record the copy made, once it has ended; None if it did not finish its work."""
        self._reader.join()
        _, status = os.waitpid(self._pid, 0)
        if self._broken or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
            return None
        return self._records

    def stop(self) -> None:
        """End the copy now (this side failed): kill it and wait for it."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid, signal.SIGKILL)
        self._reader.join()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)


def _run_copy(work: Callable[[Sink], None], fd: int) -> NoReturn:
    # Whatever goes wrong, the exit status says so and the caller does this half itself:
    # nothing to print here, and no exception may climb into the caller's code.
    code = 1
    try:
        out = os.fdopen(fd, "wb", buffering=_READ_SIZE)
        sent: list[Sequence[str]] = []

        def sink(records: Iterable[Sequence[str]]) -> None:
            made = records if isinstance(records, list) else list(records)
            if not made:
                return
            sent.extend(made)
            text = _RECORD.join(map(_FIELD.join, made)) + _RECORD  # C loops, no Python one
            if text.count(_RECORD) != len(made):
                raise ValueError("a field holds the record separator")
            out.write(text.encode("utf-8", "surrogateescape"))

        work(sink)
        # records compare as their fields do (tuples or lists of strings)
        comparable = cast("list[tuple[str, ...]]", sent)
        order = sorted(range(len(sent)), key=comparable.__getitem__)
        out.write((_ORDER + " ".join(map(str, order))).encode())
        out.close()
        code = 0
    finally:
        os._exit(code)
