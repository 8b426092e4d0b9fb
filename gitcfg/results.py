"""What ``log`` does in a live run: feed the summary and buffer the per-step history rows.

A ``log`` call does no git work and no I/O of its own: it copies the plain values into a row
and into the summary, and appends the row to a buffer that is written to the history file in
batches (every ``_BATCH`` rows or second, and at each flush). Steps follow wandb: each call is
a step unless ``commit=False`` (the next call adds to the same step); ``step=N`` names the step,
and a smaller ``N`` than the current one is ignored with a warning.

``define_metric(name, summary="min"|"max"|"mean"|"first"|"last"|"best"|"none", goal=...)``
changes what the summary keeps for ``name`` (a ``*`` glob is allowed): ``loss.min`` instead of
the last ``loss``, as wandb's summary does; several aggregates may be given comma-separated.

When other processes log to the same run (``gitcfg.history``), each write brings back the rows
they wrote meanwhile: their values go into the summary as if logged here, and the step goes on
after theirs. Those rows came before the ones written with them, so a key this process logged
again keeps its own, later value.
"""

from __future__ import annotations

import operator
import threading
import time
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg.errors import UsageError
from gitcfg.runsummary import SCALARS, Summary, user_stacklevel

if TYPE_CHECKING:
    from gitcfg.history import HistoryFile

_now = time.time
_ROW_KEYS = ("_step", "_timestamp")  # what a history row holds besides the logged values
_BATCH = 1000  # rows buffered before a write
_INTERVAL = 1.0  # seconds between writes at most (rows are lost only by SIGKILL or power loss)
AGGREGATES = ("min", "max", "mean", "first", "last", "best", "none")


def _step_number(step: Any) -> int:
    """``log``'s ``step`` as a plain int. Any integer (numpy's, a one-element integer tensor)
    is taken and a float is refused, as by wandb (whose step is a protobuf int64: anything with
    ``__index__``); a bool is refused too, since a step is never one (numpy's has ``__index__``
    before numpy 2.3, the last numpy for Python 3.10 among them)."""
    if not isinstance(step, bool) and getattr(getattr(step, "dtype", None), "kind", "") != "b":
        try:
            return operator.index(step)
        except TypeError:
            pass
    raise UsageError(f"step must be an int, got {step!r} ({type(step).__name__})")


class Metric(NamedTuple):
    """What ``define_metric`` returns: the rule for one metric name or glob."""

    name: str
    summary: tuple[str, ...]
    goal: str | None
    step_metric: str | None
    options: dict[str, Any]


class Recorder:
    """The results side of a live run: ``log``, ``define_metric``, history batching."""

    def __init__(
        self, summary: Summary, history: HistoryFile | None = None, start_step: int = 0
    ) -> None:
        self.summary = summary
        self.history = history
        self.step = start_step
        self._data = summary._data  # written directly: the fast path must not call methods
        self._seen = summary._seen  # keys checked for secrets: only new keys are checked
        self._numbers = summary._numbers  # but for these: a number now, a string later
        self._rows: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None
        self._metrics: dict[str, Metric] = {}
        self._globs: list[Metric] = []
        self._means: dict[str, list[float]] = {}
        self._warned: set[str] = set()
        self._last_write = time.time()
        self._writing = threading.RLock()
        self._in_write = False
        # True while a log call may take the fast path: no open step, no define_metric rules
        self._simple = True
        self._named = False  # a step was given (log(step=N)): steps stay as named
        # Whether the values other processes log become changes of this process's summary
        # (committed by it), or only show in it (a handle of another process's run: the
        # process that started the run commits them).
        self.own = True
        self.shared = False  # rows of other processes were seen in the history

    # -- log -----------------------------------------------------------------------------------

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Record one step's values (see the module docstring)."""
        if step is None and commit is None and self._simple and type(data) is dict:
            # The fast path (one step per call, no aggregates): a copy, a type check per
            # value, the summary update and a buffered row; no I/O but one write per batch.
            row = data.copy()
            for value in row.values():
                if type(value) not in SCALARS:
                    row = self._plain_row(data)
                    break
            if not row.keys() <= self._seen or (  # a key new to this run: a secret is refused
                self._numbers and not self._numbers.isdisjoint(row)
            ):
                self.summary.check_new_keys(row)
            self._data.update(row)
            now = _now()
            row["_step"] = self.step
            row["_timestamp"] = now
            self.step += 1
            rows = self._rows
            rows.append(row)
            if len(rows) >= _BATCH or now - self._last_write > _INTERVAL:
                self.write()
            return
        self._log_slow(data, step, commit)

    def _plain_row(self, data: Mapping[str, Any]) -> dict[str, Any]:
        row: dict[str, Any] = {}
        for key, value in data.items():
            if type(value) in SCALARS:
                row[key] = value
            else:
                self._convert(key, value, row)
        return row

    def _log_slow(self, data: Any, step: int | None, commit: bool | None) -> None:
        if not isinstance(data, Mapping):
            raise UsageError(
                f"log() takes a dict of names to values, got a {type(data).__name__}; "
                f"e.g. gitcfg.log({{'loss': 0.5}})"
            )
        if step is not None:
            step = _step_number(step)
            self._named = True
            if step < self.step:
                self._warn_once(
                    f"step:{step}",
                    f"log(step={step}) is before the current step {self.step}; "
                    f"these values are not recorded (wandb ignores them too)",
                )
                return
            if step > self.step:
                if self._pending is not None:
                    self._emit(self._pending)
                self.step = step
        row = self._plain_row(data)
        if not row.keys() <= self._seen or (self._numbers and not self._numbers.isdisjoint(row)):
            self.summary.check_new_keys(row)
        for key, value in row.items():
            self._summarize(key, value)
        if self._pending is None:
            self._pending = row
        else:
            self._pending.update(row)
        if commit is None:
            commit = step is None
        if commit:
            self._emit(self._pending)
        self._simple = self._pending is None and not self._metrics and not self._globs

    def _emit(self, row: dict[str, Any]) -> None:
        now = _now()
        row["_step"] = self.step
        row["_timestamp"] = now
        self.step += 1
        self._pending = None
        rows = self._rows
        rows.append(row)
        if len(rows) >= _BATCH or now - self._last_write > _INTERVAL:
            self.write()

    def _convert(self, key: Any, value: Any, row: dict[str, Any]) -> None:
        """A value that is not a plain scalar: a number-like one-element value, a dict, or
        something skipped with one warning per key."""
        if isinstance(value, Mapping):
            for sub, item in value.items():
                name = f"{key}.{sub}"
                if type(item) in SCALARS:
                    row[name] = item
                else:
                    self._convert(name, item, row)
            return
        plain = _scalar(value)
        if plain is not _SKIP:
            row[key] = plain
            return
        self._warn_once(
            str(key),
            f"is of type {type(value).__name__}; gitcfg keeps numbers, strings, bools and "
            f"None, so this value is not recorded",
        )

    def _rule(self, key: str) -> Metric | None:
        rule = self._metrics.get(key)
        if rule is None and self._globs:
            from fnmatch import fnmatchcase

            rule = next((m for m in self._globs if fnmatchcase(key, m.name)), None)
        return rule

    def _summarize(self, key: str, value: Any) -> None:
        rule = self._rule(key)
        data = self._data
        if rule is None or not rule.summary:
            data[key] = value
            return
        data.pop(key, None)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        for aggregate in rule.summary:
            name = f"{key}.{aggregate}"
            if aggregate == "none":
                continue
            if aggregate == "last":
                data[name] = value
            elif aggregate == "first":
                data.setdefault(name, value)
            elif not number:
                continue
            elif aggregate == "mean":
                total = self._means.setdefault(key, [0.0, 0])
                total[0] += value
                total[1] += 1
                data[name] = total[0] / total[1]
            else:
                kind = aggregate
                if aggregate == "best":
                    kind = "max" if rule.goal == "maximize" else "min"
                old = data.get(name)
                if not isinstance(old, (int, float)) or (
                    value < old if kind == "min" else value > old
                ):
                    data[name] = value

    # -- define_metric -------------------------------------------------------------------------

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        summary: str | None = None,
        goal: str | None = None,
        **options: Any,
    ) -> Metric:
        """Set what the summary keeps for ``name`` (see the module docstring)."""
        if not isinstance(name, str) or not name:
            raise UsageError("define_metric needs a metric name, e.g. define_metric('loss')")
        aggregates: tuple[str, ...] = ()
        if summary is not None:
            aggregates = tuple(a.strip() for a in summary.split(",") if a.strip())
            unknown = [a for a in aggregates if a not in AGGREGATES]
            if unknown:
                raise UsageError(
                    f"define_metric summary={summary!r}: unknown {', '.join(unknown)}; "
                    f"use {', '.join(AGGREGATES)} (comma-separated for several)"
                )
        if goal is not None:
            goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
            if goal not in ("minimize", "maximize"):
                raise UsageError(f"define_metric goal={goal!r}: use 'minimize' or 'maximize'")
        metric = Metric(name, aggregates, goal, step_metric, dict(options))
        if "*" in name:
            self._globs = [m for m in self._globs if m.name != name] + [metric]
        else:
            self._metrics[name] = metric
        self._simple = False
        return metric

    # -- writing -------------------------------------------------------------------------------

    def write(self, *, sync: bool = False) -> None:
        """Write the buffered history rows (the row of an open ``commit=False`` step waits)
        and take in the rows other processes wrote meanwhile; ``sync``: take those in even
        when no row of ours is waiting (before a commit)."""
        with self._writing:  # one writer at a time (a pickling or forking thread too)
            if self._in_write:
                # a signal's flush on the thread it interrupted, mid-write: that write goes on
                # after it (waiting here for the file's lock it holds would never end)
                return
            self._in_write = True
            try:
                self._write(sync)
            finally:
                self._in_write = False

    def _write(self, sync: bool) -> None:
        # The rows are taken from the list, not the list swapped for a new one: a log call on
        # another thread appends to the list it read, which is still this one.
        buffered = self._rows
        rows = buffered[:]
        del buffered[: len(rows)]
        self._last_write = _now()
        if self.history is None or not (rows or sync):
            return
        theirs = self.history.append(rows, renumber=not self._named)
        if rows and not self._named and rows[-1]["_step"] >= self.step:
            self.step = rows[-1]["_step"] + 1  # renumbered after other processes' rows
        if theirs:
            self._take(theirs, rows)

    def before_fork(self) -> None:
        """Write the rows logged so far (a child's rows come after them) and hold off other
        writes until the fork is done: a child must not inherit the history file open and
        locked by another thread. ``after_fork_in_parent`` (or ``drop`` in the child) ends it."""
        self._writing.acquire()
        self.write()

    def after_fork_in_parent(self) -> None:
        self._writing.release()

    def close(self) -> None:
        """End the run's logging: the open step is a row too (``write`` writes it)."""
        if self._pending is not None:
            self._emit(self._pending)

    def drop(self) -> None:
        """Forget the rows not written yet and the open step (a forked child's copies of its
        parent's: the parent writes them)."""
        self._rows = []
        self._pending = None
        self._simple = not self._metrics and not self._globs
        self._writing = threading.RLock()  # held by the parent's forking thread
        self._in_write = False

    def _take(self, theirs: list[dict[str, Any]], ours: list[dict[str, Any]]) -> None:
        """Rows other processes wrote before ``ours``: their values into the summary, the
        step on after theirs."""
        from gitcfg.history import max_step

        self.shared = True
        if self._named:
            if "step:shared" not in self._warned:
                self._warned.add("step:shared")
                warnings.warn(
                    "gitcfg: log: other processes log to this run too; steps given with "
                    "log(step=...) are kept as given, so rows of different processes may share "
                    "a step (wandb warns the same: define_metric(..., step_metric=...) instead)",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
        else:
            last = max_step(theirs)
            if last is not None and last >= self.step:
                self.step = last + 1
        data = self._data
        before = None if self.own else dict(data)
        for row in theirs:
            for key, value in row.items():
                if key not in _ROW_KEYS:
                    self._summarize(key, value)
        # ours were written after theirs: a key logged in both keeps our value
        later: dict[str, Any] = {}
        for row in ours:
            later.update(row)
        if self._pending is not None:
            later.update(self._pending)
        for key, value in later.items():
            if key in _ROW_KEYS:
                continue
            rule = self._rule(key)
            if rule is None or not rule.summary:
                data[key] = value
            elif "last" in rule.summary:
                data[f"{key}.last"] = value
        if before is not None:
            # their values are theirs to commit: shown here, not changes of this process
            base = self.summary._base
            for key, value in list(data.items()):  # a log call may add keys meanwhile
                if key not in before or before[key] is not value:
                    base[key] = value

    def _warn_once(self, key: str, text: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(f"gitcfg: log: {key!r} {text}", UserWarning, stacklevel=user_stacklevel())


class _Skip:
    pass


_SKIP: Any = _Skip()


def _scalar(value: Any) -> Any:
    """A number-like value with one element as a Python scalar (numpy scalars, 0-d or
    one-element arrays and tensors), else ``_SKIP``; numpy and torch are never imported."""
    if isinstance(value, (int, float, str)):  # subclasses: IntEnum, numpy.float64, str enums
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return float(value)
        return str(value)
    item = getattr(value, "item", None)
    if item is None or not callable(item):
        return _SKIP
    size = getattr(value, "size", None)
    if callable(size):  # torch: size() is a shape; numel() counts elements
        numel = getattr(value, "numel", None)
        size = numel() if callable(numel) else None
    if size is not None and size != 1:
        return _SKIP
    try:
        plain = item()
    except (TypeError, ValueError, RuntimeError):
        return _SKIP
    return plain if type(plain) in SCALARS else _SKIP
