"""A sweep point's program, started with ``os.posix_spawn`` rather than ``subprocess.Popen``.

Popen's own Python code (a pipe to learn of a failed exec, the environment encoded again, its
checks) costs ~0.15 ms a start here, more than the start itself, and a sweep pays it at
every point, in the slot that waits for it. The program starts as Popen starts it by default:
with the environment given, found on PATH as the shell finds it, SIGPIPE and SIGXFSZ back to
their defaults (Python ignores them), and no file descriptor but 0, 1 and 2 (Python's own are
close-on-exec, and ``close_inherited_fds`` makes those this process was given so too). Where
``os.posix_spawn`` is missing, or the descriptors cannot be listed, Popen starts it.

Two differences remain, neither seen by a program: glibc's posix_spawn starts it with its two
internal signals (32 and 33, for threads' cancellation and set*id) ignored, which a program
that uses them handles afresh; and a descriptor made inheritable after the sweep started
(gitcfg makes none: Python's are close-on-exec) would reach it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping

# What Popen's restore_signals sets back to the default in the program.
_DEFAULTS = tuple(
    getattr(signal, name) for name in ("SIGPIPE", "SIGXFZ", "SIGXFSZ") if hasattr(signal, name)
)


def close_inherited_fds() -> bool:
    """Make the file descriptors this process inherited, past 0, 1 and 2, close-on-exec (as
    Popen's close_fds keeps them from its programs); False if they cannot be listed."""
    for listing in ("/proc/self/fd", "/dev/fd"):
        try:
            names = os.listdir(listing)
        except OSError:
            continue
        for name in names:
            fd = int(name)
            if fd > 2:
                with contextlib.suppress(OSError):  # the listing's own, closed since
                    if os.get_inheritable(fd):
                        os.set_inheritable(fd, False)
        return True
    return False


class Program:
    """A started program: ``wait`` for its end, ``send_signal`` while it runs (the part of
    ``subprocess.Popen`` a sweep uses). ``spawn``: start it with ``os.posix_spawn``, after
    ``close_inherited_fds``; else Popen does."""

    def __init__(self, argv: list[str], env: Mapping[str, str], *, spawn: bool) -> None:
        self.returncode: int | None = None
        self._popen: subprocess.Popen[bytes] | None = None
        if not spawn or not hasattr(os, "posix_spawn"):
            self._popen = subprocess.Popen(argv, env=env)
            self.pid = self._popen.pid
        elif os.sep in argv[0]:
            self.pid = os.posix_spawn(argv[0], argv, env, setsigdef=_DEFAULTS)
        else:  # PATH is searched as the shell does (the program's is this process's own)
            self.pid = os.posix_spawnp(argv[0], argv, env, setsigdef=_DEFAULTS)

    def wait(self) -> int:
        """Its exit status as Popen gives it: negative for the signal that ended it."""
        if self._popen is not None:
            self.returncode = self._popen.wait()
        else:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self._popen is not None:
            self._popen.send_signal(signum)
        elif self.returncode is None:  # never to a process waited for: its pid may be reused
            os.kill(self.pid, signum)
