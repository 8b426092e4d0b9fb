"""When a running process commits its pending config changes without being asked.

At normal interpreter exit (which includes an unhandled exception and an unhandled
KeyboardInterrupt) through ``atexit``; at SIGTERM and SIGINT through handlers that flush first and
then do what the handler they replaced would have done: call the user's handler, raise
KeyboardInterrupt (Python's SIGINT default), or, for the default action, restore it and send the
signal again, so the process still dies "killed by SIGTERM" and its parent sees that.

The callback is told how the process is ending, as the shell would report it, so that a run can
record its exit status: at exit, the code of ``sys.exit(n)``, 1 after an unhandled exception
(130 after an unhandled KeyboardInterrupt, which Python turns into death by SIGINT), else 0; at a
signal whose default action follows, 128+N; at a signal the process may survive (a handler of
the user's, SIGINT's KeyboardInterrupt), None.

A forked child inherits the exit hook and runs the callback too (a child that logs to its
parent's run commits what it changed; the callback tells whose runs are whose), but not the
signal handlers: they are set back to what they replaced in the child (a child that starts a
run of its own sets them again), and the two signals are blocked while the process forks, so
that one sent to the child as it starts is not lost. CPython drops the Python-level signals a
child has received before its fork is done; a multiprocessing worker that lost the SIGTERM of
``Pool.terminate`` that way would wait forever for its queue's lock, which ``terminate`` holds,
and ``terminate`` for it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any, NoReturn

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_callback: Callable[[str, int | None], None] | None = None
_exit_hooked = False  # in this interpreter: a forked child inherits the exit hook
_handling = False  # the signal handlers are set in this process (a forked child's are not)
_previous: dict[int, Any] = {}
_mask: set[int] | None = None  # the signal mask the forking thread had before a fork
_busy = False
_deferred: list[int] = []
_exit_status: int | None = None  # set by sys.exit(n) or an unhandled exception
_hooked = False


def install(callback: Callable[[str, int | None], None], *, signals: bool = True) -> None:
    """Call ``callback(reason, exit_status)`` at exit, SIGTERM and SIGINT; once per process.

    Signal handlers can only be set from the main thread; from another thread only the exit
    hook is installed, and only it with ``signals=False``.
    """
    global _callback, _exit_hooked, _handling
    _callback = callback
    if not _exit_hooked:
        _exit_hooked = True
        atexit.register(_at_exit)
        _hook_exit_status()
    if _handling or not signals or threading.current_thread() is not threading.main_thread():
        return
    _handling = True
    for signum in _SIGNALS:
        previous = signal.getsignal(signum)
        if previous is signal.SIG_IGN or previous is _on_signal:
            continue  # an ignored signal stops nothing, so there is nothing to flush for
        _previous[signum] = previous
        signal.signal(signum, _on_signal)


@contextlib.contextmanager
def critical() -> Iterator[None]:
    """Hold off a signal's flush while a flush is under way; deliver the signal right after.

    A handler runs on the thread it interrupts: flushing from it in the middle of a commit would
    wait forever on the store's write lock, which that same thread holds.
    """
    global _busy
    nested = _busy
    _busy = True
    try:
        yield
    finally:
        if not nested:
            _busy = False
            while _deferred:
                os.kill(os.getpid(), _deferred.pop(0))


def exit_status() -> int:
    """The exit status the process is ending with, as far as it is known at exit."""
    return 0 if _exit_status is None else _exit_status


def _hook_exit_status() -> None:
    """Note the status of ``sys.exit(n)`` and of an unhandled exception: ``atexit`` is not told.

    ``sys.exit`` is wrapped (as wandb does) because a ``SystemExit`` never reaches
    ``sys.excepthook``; a bare ``raise SystemExit(n)`` is not seen and counts as 0, and a
    ``sys.exit(n)`` the script catches and survives still counts (Python tells no hook).
    """
    global _hooked
    if _hooked:
        return
    _hooked = True
    original_exit = sys.exit
    original_hook = sys.excepthook

    def exit(status: Any = None) -> NoReturn:
        # Only the main thread's: sys.exit in a thread ends that thread, not the process.
        # A SystemExit the script catches is still counted (wandb's hook counts it too).
        if threading.current_thread() is threading.main_thread():
            _note_exit(status)
        original_exit(status)

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        global _exit_status
        _exit_status = status_of(value)
        original_hook(kind, value, tb)

    sys.exit = exit
    sys.excepthook = excepthook


def _note_exit(status: object) -> None:
    global _exit_status
    _exit_status = status_of(SystemExit(status))


def status_of(error: BaseException) -> int:
    """The exit status a process ends with when ``error`` goes unhandled, as the shell shows
    it: the code of ``SystemExit``, 130 for KeyboardInterrupt (Python dies of SIGINT), else 1."""
    if isinstance(error, SystemExit):
        code = error.code
        if code is None:
            return 0
        if isinstance(code, int):  # sys.exit(True) exits 1, as the int it is
            return int(code) & 0xFF  # what the parent sees of sys.exit(256 + n)
        return 1  # sys.exit("message") prints it and exits 1
    if isinstance(error, KeyboardInterrupt):
        return 128 + signal.SIGINT
    return 1


def _run(reason: str, status: int | None) -> None:
    if _callback is None:
        return
    _callback(reason, status)


def _before_fork() -> None:
    global _mask
    if _handling:  # (see the module docstring)
        _mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


def _after_fork_in_parent() -> None:
    global _mask
    if _mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask)  # a signal held meanwhile comes now
        _mask = None


def _after_fork_in_child() -> None:
    # The child has one thread: a flush another thread of the parent was in is not its own,
    # and how the parent was going to end is not how the child ends.
    global _busy, _exit_status, _handling, _mask
    _busy = False
    _deferred.clear()
    _exit_status = None
    if _handling:  # (see the module docstring)
        _handling = False
        for signum, previous in _previous.items():
            if signal.getsignal(signum) is _on_signal:  # not replaced by the user since
                with contextlib.suppress(ValueError, OSError):  # not the main thread after all
                    signal.signal(signum, previous)
    if _mask is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, _mask)  # a signal sent meanwhile comes now
        _mask = None


os.register_at_fork(
    before=_before_fork,
    after_in_parent=_after_fork_in_parent,
    after_in_child=_after_fork_in_child,
)


def _at_exit() -> None:
    _run("exit", exit_status())


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _busy:
        _deferred.append(signum)
        return
    previous = _previous.get(signum, signal.SIG_DFL)
    # Only when the default action follows is the process sure to die of the signal.
    fatal = not callable(previous) and previous is not signal.SIG_IGN
    _run(signal.Signals(signum).name, 128 + signum if fatal else None)
    if callable(previous):
        previous(signum, frame)
        return
    if previous is signal.SIG_IGN:
        return
    # The default action (or a handler set outside Python): restore it and deliver again.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
