"""A run's last changes, kept when the store branch cannot take them as the run ends.

A run commits what changed at its end (``finish``, exit, a deadly signal). The branch may not
take that commit then: another git process holds its lock past git's wait, or a work tree has
it checked out. Hours of training must not lose their last config changes and results to that,
and the process is ending: there is nobody to retry. So:

- the commit is tried as usual (git's wait for a held lock, ``core.filesRefLockTimeout``);
- if the branch cannot be written, the change is kept in a file of its own,
  ``<git common dir>/gitcfg/pending/<time>-<pid>-<n>.json``, written whole under another name,
  flushed to disk and then renamed, so that it is there whole or not at all;
- a lock held by git is then waited for longer, ``END_WAIT_SECONDS``, and the kept change
  committed if it goes (a killed process leaves the file, so nothing is lost to the wait);
- otherwise one line says what was kept, why, where, and what commits it: the next gitcfg
  process that opens the store (any ``gitcfg`` command, ``init``, ``Api()``) commits every
  kept change before it does anything else, and ``resume`` of the run commits its own first
  (or refuses, saying why), so it goes on from its last state.

A kept change is what an update of the run applies: keys set and removed in its config and
summary, and ``meta.yaml`` fields set. It is applied on top of whatever the run holds by then,
as ``gitcfg update`` would: keys others changed meanwhile are kept, a key both changed takes the
kept value (the later commit), and a removal of a key that is gone already is nothing. Files are
applied oldest first, and the later changes of a run wait for its earlier ones. A process
applies a file only under an flock on it, and removes it under that lock once its commit is
made: two processes never apply a change twice, and one that dies meanwhile (its flock goes
with it) leaves the file to the next.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg.errors import (
    ConfigKeyError,
    GitcfgError,
    KeptChangeStuckError,
    PendingChangesError,
    RefLockedError,
    RepositoryError,
)
from gitcfg.git.perms import create_new, make_dirs
from gitcfg.layout import RunRef
from gitcfg.stores import PENDING_DIR

if TYPE_CHECKING:
    from gitcfg.store import ConfigStore, UpdateResult

# How long a run's end waits for a ref lock that git holds, beyond git's own 100 ms, before it
# leaves its change kept. git holds a ref's lock for the moment of writing it; what holds one
# for long is a gc expiring the branch's reflog (one entry per run: ~0.3 s for 100,000 here) or
# a server's slow hook: seconds cover those many times over, and cost a run of hours nothing.
# Longer would only delay the process's end: the change is on disk already, and a container
# stopped meanwhile (docker stop kills after 10 s) loses nothing.
END_WAIT_SECONDS = 5.0
_FORMAT = 1  # of a kept file's JSON
_SHOWN_KEYS = 6
_counter = itertools.count()


class PendingChange(NamedTuple):
    """One run's change as a kept file holds it: config keys set and removed, summary keys set
    and removed, ``meta.yaml`` fields set, the commit message (None: the default)."""

    run: RunRef
    config: dict[str, Any]
    config_unset: list[str]
    summary: dict[str, Any]
    summary_unset: list[str]
    meta: dict[str, Any]
    message: str | None = None

    def keys(self) -> str:
        """The keys it changes, as a commit message names them (``lr, summary:loss, ...``)."""
        names = [*self.config, *self.config_unset]
        names += [f"summary:{key}" for key in (*self.summary, *self.summary_unset)]
        names += [f"meta:{key}" for key in self.meta]
        more = ", ..." if len(names) > _SHOWN_KEYS else ""
        return ", ".join(names[:_SHOWN_KEYS]) + more


class Outcome(NamedTuple):
    """What became of one kept file: committed (``commit``; None when it changed nothing), or
    not (``error``)."""

    path: Path
    change: PendingChange
    commit: str | None
    error: GitcfgError | None


def pending_dir(common_dir: Path) -> Path:
    """Where the kept changes of the repository whose git common directory is ``common_dir``
    are."""
    return common_dir / PENDING_DIR


def keep_at_end(
    store: ConfigStore,
    failure: RepositoryError,
    run: RunRef,
    set_values: Mapping[str, Any],
    unset: Sequence[str],
    **options: Any,
) -> UpdateResult:
    """After ``store.update(run, set_values, unset, **options)``, a run's last commit, failed
    with ``failure`` (the branch cannot be written): keep the change (see the module docstring)
    and return a result without a commit; raise ``failure`` if even keeping it fails."""
    from gitcfg.store import UpdateResult

    change = PendingChange(
        run,
        dict(set_values),
        list(unset),
        dict(options.get("summary") or {}),
        list(options.get("summary_unset") or ()),
        dict(options.get("meta") or {}),
        options.get("message"),
    )
    try:
        path = keep(store.repo.common_dir, change, shared=store.repo.shared)
    except (OSError, ValueError, TypeError):
        raise failure from None  # nowhere to keep it either: the branch's error says why
    if isinstance(failure, RefLockedError):
        # git's wait is over, the change is safe on disk: wait for the lock a while longer
        outcome = _apply_file(store, path, None, set(), wait=True, patience=END_WAIT_SECONDS)
        if outcome is None or outcome.error is None:  # committed, here or by another process
            commit = outcome.commit if outcome is not None else None
            return UpdateResult(run, commit, [], [], [])
        if isinstance(outcome.error, RepositoryError):
            failure = outcome.error
    _note(
        f"run {run} ended, but its last changes ({change.keys()}) could not be committed: "
        f"{failure.reason or failure}; they are kept in {path}, and the next gitcfg command "
        f"in this repository commits them (e.g. 'gitcfg show {run}')"
        + (f" {failure.until}" if failure.until else "")
    )
    return UpdateResult(run, None, [], [], [])


def keep(common_dir: Path, change: PendingChange, *, shared: int = 0) -> Path:
    """Write ``change`` to a new kept file, whole or not at all, and flushed to disk; returns
    its path. Names sort in the order the files were kept. ``shared``: core.sharedRepository
    (another user of the group commits and removes the file)."""
    directory = pending_dir(common_dir)
    make_dirs(str(directory), shared)
    name = f"{time.time_ns():020d}-{os.getpid()}-{next(_counter)}"
    data = {
        "format": _FORMAT,
        "run": str(change.run),
        "config": change.config,
        "config_unset": change.config_unset,
        "summary": change.summary,
        "summary_unset": change.summary_unset,
        "meta": change.meta,
        "message": change.message,
    }
    text = json.dumps(data, ensure_ascii=False, indent=1)
    temporary = directory / f".{name}.tmp"  # not a kept file until renamed (*.json)
    path = directory / f"{name}.json"
    fd = create_new(str(temporary), shared)  # outside the try: a name that exists is not ours
    try:
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)  # the new name survives a power cut too
    return path


def commit_pending(
    store: ConfigStore, *, run: RunRef | None = None, wait: bool = False
) -> list[Outcome]:
    """Commit the changes kept in ``store``'s repository (of ``run`` only, if given), oldest
    first; returns what became of each file looked at.

    ``wait``: wait for a file another process is committing right now (else it is skipped,
    with the later ones of its run).
    """
    directory = pending_dir(store.repo.common_dir)
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".json"))
    except OSError:  # nothing was ever kept: the usual case, one failed call
        return []
    outcomes = []
    blocked: set[RunRef] = set()  # runs whose earlier change is not committed
    for name in names:
        outcome = _apply_file(store, directory / name, run, blocked, wait=wait, patience=None)
        if outcome is not None:
            outcomes.append(outcome)
    return outcomes


def commit_and_report(store: ConfigStore) -> None:
    """``commit_pending``, with one line on stderr for each change committed or still kept: for
    a process that opens the store (a command, ``init``, ``Api()``)."""
    for outcome in commit_pending(store):
        change = outcome.change
        what = f"the last changes of run {change.run} ({change.keys()})"
        error = outcome.error
        if error is None:
            _note(f"committed {what}, kept when it ended")
        elif isinstance(error, RepositoryError):
            _note(
                f"{what} are still kept in {outcome.path}, not committed: "
                f"{error.reason or error}; the next gitcfg command commits them"
                + (f" {error.until}" if error.until else "")
            )
        else:  # the change itself is refused (the run is gone, a key now a group...)
            _note(
                f"{what}, kept in {outcome.path}, cannot be committed: {error.one_line()}; "
                f"once that is fixed the next gitcfg command commits them (remove the file to "
                f"drop them)"
            )


def commit_before_resume(store: ConfigStore, run: RunRef) -> None:
    """Commit the kept changes of ``run`` before it goes on in this process (``resume``),
    waiting for another process committing them; raise ``PendingChangesError`` if they cannot
    be: the run would go on from a state that is not its last."""
    for outcome in commit_pending(store, run=run, wait=True):
        error = outcome.error
        if error is None:
            continue
        if isinstance(error, RepositoryError):
            raise PendingChangesError(str(run), str(outcome.path), error) from error
        raise error


def _apply_file(
    store: ConfigStore,
    path: Path,
    run: RunRef | None,
    blocked: set[RunRef],
    *,
    wait: bool,
    patience: float | None,
) -> Outcome | None:
    """Commit the change kept in ``path`` (of ``run``, if given) and remove the file; None
    when there is nothing to do here (another run's, committed by another process meanwhile,
    or being committed by one)."""
    with contextlib.ExitStack() as stack:
        try:
            handle = stack.enter_context(open(path, "rb"))
        except FileNotFoundError:
            return None  # committed by another process since it was listed
        change = _read(handle.read())
        if change is None:
            # not a file gitcfg writes whole: left alone, said once per command
            _note(f"{path} is not a change gitcfg kept; remove it")
            return None
        if (run is not None and change.run != run) or change.run in blocked:
            return None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            blocked.add(change.run)  # another process is committing it now
            return None
        if os.fstat(handle.fileno()).st_nlink == 0:
            return None  # committed and removed while this process waited for it
        if not os.access(path.parent, os.W_OK | os.X_OK):
            # another user's directory: the file would outlive its commit, to be applied again
            blocked.add(change.run)
            return Outcome(path, change, None, KeptChangeStuckError(str(path.parent)))
        try:
            with _waiting(store, patience):
                commit = _apply(store, change)
        except GitcfgError as error:
            blocked.add(change.run)
            return Outcome(path, change, None, error)
        os.unlink(path)  # under the lock: whoever opened it meanwhile sees it gone
        return Outcome(path, change, commit, None)


def _apply(store: ConfigStore, change: PendingChange) -> str | None:
    """Commit ``change`` on top of what the run holds now (see the module docstring)."""
    for _ in range(3):
        record = store.read(change.run)
        try:
            result = store.update(
                change.run,
                change.config,
                [key for key in change.config_unset if key in record.config],
                message=change.message,
                allow_secrets=True,  # checked when they were set
                summary=change.summary,
                summary_unset=[key for key in change.summary_unset if key in record.summary],
                meta=change.meta,
            )
        except ConfigKeyError:
            continue  # a key removed by another writer between the read and the commit
        return result.commit
    raise RepositoryError(
        f"run {change.run} kept changing while its kept changes were committed; retry"
    )


@contextlib.contextmanager
def _waiting(store: ConfigStore, seconds: float | None) -> Iterator[None]:
    """Wait up to ``seconds`` (None: git's setting) for a ref lock that git holds."""
    refs = store.repo.refs
    before = refs.lock_timeout_ms
    if seconds is not None:
        refs.lock_timeout_ms = max(before, int(seconds * 1000))
    try:
        yield
    finally:
        refs.lock_timeout_ms = before


def _read(data: bytes) -> PendingChange | None:
    """The change a kept file holds; None if it is not one."""
    try:
        item = json.loads(data)
        project, _, run_id = item["run"].rpartition("/")
        change = PendingChange(
            RunRef(project, run_id),
            dict(item["config"]),
            list(item["config_unset"]),
            dict(item["summary"]),
            list(item["summary_unset"]),
            dict(item["meta"]),
            item["message"],
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
    if item.get("format") != _FORMAT or not project:
        return None
    return change


def _sync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _note(text: str) -> None:
    sys.stderr.write(f"gitcfg: {text}\n")
    sys.stderr.flush()
