"""``gitcfg sweep``: run the points of a plan, ``jobs`` at once, each a recorded run.

Every point goes through the same ``ChildRun`` as ``gitcfg run`` (created before its child
starts, finished with exit status, duration and results), in this process: one Python start
for the whole sweep, not one per point. Store writes are made one at a time (a lock); the
children run in parallel. SIGTERM/SIGINT stop launching points, reach the running children,
and their runs are still finished.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg.sweeps.child import ChildRun, handling, note, terminal_delivers
from gitcfg.sweeps.command import build_command
from gitcfg.sweeps.plan import Plan, metric_of, recorded_runs, succeeded
from gitcfg.sweeps.program import Program, close_inherited_fds
from gitcfg.sweeps.strategies import Point

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore, RunRecord


# Plain classes, not dataclasses: a sweep starts faster without the dataclasses module.
class Outcome:
    """How one point of the sweep ended in this process."""

    def __init__(
        self, index: int, ref: RunRef, point: Point, exit_status: int, metric: float | None
    ) -> None:
        self.index = index
        self.ref = ref
        self.point = point
        self.exit_status = exit_status
        self.metric = metric


class _Ended:
    """A point whose program has ended, its run not yet finished in the store."""

    def __init__(
        self, index: int, point: Point, child: ChildRun, returncode: int, at: tuple[float, str]
    ) -> None:
        self.index = index
        self.point = point
        self.child = child
        self.returncode = returncode
        self.at = at  # when it ended: monotonic clock, ISO time


class _Turns:
    """Store writes one at a time, and a point waiting to start goes first: its slot stays idle
    until its run is created, while a run waiting to be finished overlaps a running program."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._busy = False
        self._firsts = 0  # writes waiting that go first

    @contextlib.contextmanager
    def turn(self, *, first: bool) -> Iterator[None]:
        with self._changed:
            self._firsts += first
            try:
                while self._busy or (not first and self._firsts):
                    self._changed.wait()
            finally:
                self._firsts -= first
            self._busy = True
        try:
            yield
        finally:
            with self._changed:
                self._busy = False
                self._changed.notify_all()


class SweepRunner:
    """Runs a ``Plan`` in ``project`` of ``store``; ``run()`` returns the outcomes."""

    def __init__(
        self,
        store: ConfigStore,
        plan: Plan,
        project: str,
        *,
        jobs: int = 1,
        on_start: Callable[[int, RunRef, list[str]], None] | None = None,
    ) -> None:
        self.store = store
        self.plan = plan
        self.project = project
        self.jobs = max(1, jobs)
        self.on_start = on_start
        self.outcomes: list[Outcome] = []
        self._writes = _Turns()
        self._live: set[Program] = set()
        self._stopping: int | None = None  # the signal that stopped the sweep
        self._failed = False  # a worker raised: no new point starts
        self._scratch: str | None = None
        self._environ: dict[str, str] = {}  # the children's environment before their run's
        self._spawn_fast = False  # programs started with posix_spawn (gitcfg.sweeps.program)

    @property
    def stopped_by(self) -> int | None:
        """The signal that stopped the sweep early, None if it ran to the end."""
        return self._stopping

    def run(self) -> list[Outcome]:
        """Run every point of the plan (``jobs`` at once) and return how each ended."""
        # one private directory for the points' results files, not a directory per point
        scratch_dir = tempfile.TemporaryDirectory(prefix="gitcfg-sweep-", dir=scratch_parent())
        with self._forwarding(), scratch_dir as scratch:
            self._scratch = scratch
            self._environ = dict(os.environ)  # copied once: ~50 variables decoded a point
            self._spawn_fast = close_inherited_fds()
            # each commit's new objects as one small pack, not ~17 loose files (store.py)
            self.store.use_small_packs()
            try:
                if self.jobs == 1:
                    self._worker()
                else:
                    self._in_threads()
            finally:
                self.store.end_small_packs()
        return sorted(self.outcomes, key=lambda o: o.index)

    def _in_threads(self) -> None:
        # Plain threads, not concurrent.futures: importing that costs a sweep's start ~4 ms.
        failed: list[BaseException] = []

        def work() -> None:
            try:
                self._worker()
            except BaseException as exc:  # raised in the calling thread below
                failed.append(exc)
                self._failed = True  # the other workers start no new point

        workers = [
            threading.Thread(target=work, name=f"gitcfg-sweep-{n}") for n in range(self.jobs)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        if failed:
            raise failed[0]

    def _worker(self) -> None:
        # A point's run is finished in the commit that creates the worker's next run: one
        # commit per point, not two (the commits are most of this process's work, and its
        # CPU is taken from the running programs). Bayes waits for each result before it asks
        # for the next point, so there the run is finished at once.
        adaptive = self.plan.spec.method == "bayes"
        ended: _Ended | None = None
        try:
            while self._stopping is None and not self._failed:
                item = self.plan.next()
                if item is None:
                    return
                index, point = item
                started = self._start_point(index, point, ended)
                if started is None:
                    return  # stopped: ``ended`` is finished alone below
                child, process = started
                previous, ended = ended, None  # its end went in with the new run
                if previous is not None:
                    previous.child.clean_up()
                    self._finished(previous)
                ended = self._wait(index, point, child, process)
                if adaptive:
                    self._finish(ended)
                    ended = None
        finally:
            if ended is not None:
                self._finish(ended)

    def _start_point(
        self, index: int, point: Point, ended: _Ended | None
    ) -> tuple[ChildRun, Program | None] | None:
        """Create the point's run, with ``ended``'s end in the same commit, and start its
        program; None (nothing written) when the sweep was stopped while this point waited.

        The program starts within the turn: started beside another worker's commit, it waited
        for the interpreter's lock (held by that commit's Python code) for milliseconds. The
        ended program's results file needs no turn: it is read before, so the other worker,
        when it waits for its own turn, does not wait for that read too.
        """
        spec = self.plan.spec
        argv, json_file = build_command(
            spec.command, point, program=spec.program, project=self.project
        )
        meta = {"group": self.plan.sweep_id, "sweep_id": self.plan.sweep_id, "sweep_point": index}
        finishing = None
        if ended is not None and self._stopping is None and not self._failed:
            finishing = ended.child.ending(ended.returncode, at=ended.at)
        with self._writes.turn(first=True):
            if self._stopping is not None or self._failed:
                if json_file is not None:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(json_file)
                return None
            child = ChildRun.create(
                self.store,
                argv,
                point,
                project=self.project,
                meta=meta,
                json_file=json_file,
                scratch=self._scratch,
                finishing=finishing,
            )
            if self.on_start is not None:
                self.on_start(index, child.ref, child.argv)
            return child, self._spawn(child)

    def _wait(self, index: int, point: Point, child: ChildRun, process: Program | None) -> _Ended:
        if process is None:
            returncode = 127
        else:
            try:
                returncode = process.wait()
            finally:
                self._live.discard(process)
        return _Ended(index, point, child, returncode, child.ended())

    def _finish(self, ended: _Ended) -> None:
        with self._writes.turn(first=False):
            ended.child.finish(ended.returncode, at=ended.at)
            self._finished(ended)

    def _finished(self, ended: _Ended) -> None:
        """Note how a point ended, once its run is finished in the store."""
        name = self.plan.spec.metric_name
        metric = None if name is None else metric_of(self.store.read(ended.child.ref), name)
        code = ended.returncode
        status = 128 - code if code < 0 else code
        self.plan.done(ended.index, metric if status == 0 else None)  # a failure teaches nothing
        self.outcomes.append(Outcome(ended.index, ended.child.ref, ended.point, status, metric))

    def _spawn(self, child: ChildRun) -> Program | None:
        """Start the point's program; None (exit status 127) if it cannot start."""
        try:
            process = Program(child.argv, child.env(self._environ), spawn=self._spawn_fast)
        except OSError as exc:
            note(f"could not start {child.argv[0]!r} for run {child.ref}: {exc.strerror}")
            return None
        self._live.add(process)
        if self._stopping is not None:  # stopped while this one was being created
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(self._stopping)
        return process

    @contextlib.contextmanager
    def _forwarding(self) -> Iterator[None]:
        def stop(signum: int, frame: FrameType | None) -> None:
            if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                self._stopping = signum
            if signum == signal.SIGINT and terminal_delivers():
                return  # Ctrl-C on the terminal reached the children already
            for process in list(self._live):
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signum)

        with handling(stop):
            yield


def scratch_parent() -> str | None:
    """Where a sweep keeps its points' results files: ``$TMPDIR`` when the user set it, else a
    memory file system (``$XDG_RUNTIME_DIR``, ``/dev/shm``) when there is a writable one, else
    the system's temporary directory (None).

    Each point's program creates its results file and the sweep removes it: on a disk file
    system that is a new inode and a delete per point, in the slot that waits for it. On ext4
    without a journal a new inode skips every inode freed in the last seconds, by anyone: with
    other processes deleting files, 0.1-1 ms each on this machine's /tmp, ~0.01 ms in memory.
    """
    if os.environ.get("TMPDIR"):
        return None
    for candidate in (os.environ.get("XDG_RUNTIME_DIR"), "/dev/shm"):
        if candidate and os.path.isdir(candidate) and os.access(candidate, os.W_OK | os.X_OK):
            return candidate
    return None


class SweepRow(NamedTuple):
    """A finished run of the sweep, as the closing table shows it."""

    ref: RunRef
    point: int | None
    values: dict[str, Any]  # the sweep's parameters as the run has them
    exit_status: Any
    metric: float | None


def sweep_table(
    store: ConfigStore, project: str, plan: Plan, outcomes: Sequence[Outcome] | None = None
) -> tuple[list[str], list[list[Any]], SweepRow | None]:
    """One row per point of the sweep that has a finished run: headers, rows (successful runs
    first, best first by the metric), and the best successful run.

    A point run more than once (it failed or was cut off, then run again) shows its latest
    successful run, else its latest failure; its other runs stay on the branch as history.
    A whole sweep (no ``--shard``) that ran here knows its runs: those recorded before it
    started and its ``outcomes``, so the store is not listed again. A shard lists the store,
    to show the runs of every shard that reached it.
    """
    spec = plan.spec
    keys = [p.key for p in spec.parameters]
    name = spec.metric_name
    if outcomes is not None and plan.shard is None:
        found = [_row(r.record, keys, name) for r in plan.recorded if r.finished]
        found += [
            SweepRow(o.ref, o.index, {k: o.point.get(k) for k in keys}, o.exit_status, o.metric)
            for o in outcomes
        ]
    else:
        found = [
            _row(r.record, keys, name)
            for r in recorded_runs(store, project, plan.sweep_id)
            if r.finished
        ]
    found = _one_per_point(found)
    sign = -1.0 if spec.goal == "maximize" else 1.0

    def rank(row: SweepRow) -> tuple[bool, bool, float, int]:
        order = row.point if isinstance(row.point, int) else 0
        value = 0.0 if row.metric is None else sign * row.metric
        return (not succeeded(row.exit_status), row.metric is None, value, order)

    found.sort(key=rank)
    shown = [p.key for p in spec.parameters if p.distribution != "constant"] or keys
    headers = ["id", "point", *shown, "exit", *([name] if name else [])]
    rows = [
        [row.ref.id, row.point, *(row.values.get(k) for k in shown), row.exit_status]
        + ([row.metric] if name else [])
        for row in found
    ]
    top = found[0] if found else None
    best = top if name and top and top.metric is not None and succeeded(top.exit_status) else None
    return headers, rows, best


def _one_per_point(rows: list[SweepRow]) -> list[SweepRow]:
    """Of ``rows`` (oldest first), each point's latest successful run, else its latest run."""
    chosen: dict[int, SweepRow] = {}
    loose = []  # runs with no point number (written by hand): each shown as it is
    for row in rows:
        if not isinstance(row.point, int) or isinstance(row.point, bool):
            loose.append(row)
            continue
        held = chosen.get(row.point)
        if held is None or succeeded(row.exit_status) or not succeeded(held.exit_status):
            chosen[row.point] = row
    return [*chosen.values(), *loose]


def _row(record: RunRecord, keys: list[str], metric: str | None) -> SweepRow:
    point = record.meta.get("sweep_point")
    return SweepRow(
        record.ref,
        point,
        {k: record.config.get(k) for k in keys},
        record.meta.get("exit_status"),
        metric_of(record, metric),
    )
