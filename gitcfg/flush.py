"""When a running process commits its pending config changes without being asked.

At normal interpreter exit (which includes an unhandled exception and an unhandled
KeyboardInterrupt) through ``atexit``; at SIGTERM and SIGINT through handlers that flush first and
then do what the handler they replaced would have done: call the user's handler, raise
KeyboardInterrupt (Python's SIGINT default), or, for the default action, restore it and send the
signal again, so the process still dies "killed by SIGTERM" and its parent sees that.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

_SIGNALS = (signal.SIGTERM, signal.SIGINT)

_callback: Callable[[str], None] | None = None
# Forked children (DataLoader workers) inherit handlers and atexit; only the owner flushes.
_owner_pid: int | None = None
_previous: dict[int, Any] = {}
_busy = False
_deferred: list[int] = []


def install(callback: Callable[[str], None]) -> None:
    """Call ``callback(reason)`` at exit, SIGTERM and SIGINT; once per process.

    Signal handlers can only be set from the main thread; from another thread only the exit
    hook is installed.
    """
    global _callback, _owner_pid
    _callback = callback
    if _owner_pid == os.getpid():
        return
    _owner_pid = os.getpid()
    atexit.register(_at_exit)
    if threading.current_thread() is not threading.main_thread():
        return
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


def _run(reason: str) -> None:
    if _callback is None or os.getpid() != _owner_pid:
        return
    _callback(reason)


def _at_exit() -> None:
    _run("exit")


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _busy:
        _deferred.append(signum)
        return
    _run(signal.Signals(signum).name)
    previous = _previous.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    if previous is signal.SIG_IGN:
        return
    # The default action (or a handler set outside Python): restore it and deliver again.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
