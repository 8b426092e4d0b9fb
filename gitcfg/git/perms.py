"""``core.sharedRepository``: the modes git gives the files and directories it creates.

A repository made with ``git init --shared=group`` (or ``all``, ``world``, ``0640``...) is written
by several users, so git widens every file and directory it creates in it beyond the umask
(path.c ``adjust_shared_perm``): ``objects/xx`` becomes 2775, a ref 664. gitcfg applies the same
rule to what it creates in the git directory; a narrower mode would make the next user's git fail
("insufficient permission for adding an object"). That holds for gitcfg's own files under
``<git dir>/gitcfg/`` too (histories, kept changes, the blob cache, locks): another member of the
group logs to, commits and rewrites them. With the default (``umask``) nothing changes and nothing
is asked of the file system.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
import sys

UMASK = 0  # the default: modes as the umask leaves them
GROUP = 0o660
EVERYBODY = 0o664
_TRUE = {"true", "yes", "on"}
_OCTAL = re.compile(r"\s*[+-]?[0-7]+")
# git sets the setgid bit of a shared directory (new entries take its group), except where
# directories give that behaviour by themselves (git's DIR_HAS_BSD_GROUP_SEMANTICS: FreeBSD).
_DIR_SET_GID = 0 if sys.platform.startswith("freebsd") else stat.S_ISGID
_SHARED_LINE = re.compile(
    r"^\s*sharedrepository\s*(=.*?)?\s*(?:[#;].*)?$", re.IGNORECASE | re.MULTILINE
)


def parse_shared(value: str | None) -> int:
    """``core.sharedRepository`` as git reads it (setup.c ``git_config_perm``): 0 for the
    umask, ``GROUP`` or ``EVERYBODY`` to widen modes, or minus an exact mode (``0640``).
    ``None`` is the name given without a value, which git reads as ``group``."""
    if value is None or value == "group":
        return GROUP
    if value == "umask":
        return UMASK
    if value in ("all", "world", "everybody"):
        return EVERYBODY
    if not _OCTAL.fullmatch(value):
        return GROUP if value.lower() in _TRUE or value.lstrip("-").isdigit() else UMASK
    number = int(value, 8)
    if number in (0, 1, 2):  # git's old spellings of umask, group and everybody
        return (UMASK, GROUP, EVERYBODY)[number]
    if number & 0o600 != 0o600:
        return UMASK  # git refuses to work in such a repository at all
    return -(number & 0o666)


def shared_in(config_text: str) -> int:
    """``core.sharedRepository`` from a repository's own config file (its last setting); the
    value for a repository whose full git config has not been read."""
    settings = _SHARED_LINE.findall(config_text)
    if not settings:
        return UMASK
    last = settings[-1]  # "= value", or "" for the name alone
    return parse_shared(last[1:].strip().strip('"') if last else None)


def widened(mode: int, shared: int) -> int:
    """``mode`` (``st_mode``) as git sets it in a repository shared as ``shared``."""
    tweak = -shared if shared < 0 else shared
    if not mode & stat.S_IWUSR:
        tweak &= ~0o222  # a read-only file (an object) stays read-only for everyone
    if mode & stat.S_IXUSR:
        tweak |= (tweak & 0o444) >> 2  # whoever may read it may run it
    new = (mode & ~0o777) | tweak if shared < 0 else mode | tweak
    if stat.S_ISDIR(mode):
        new |= (new & 0o444) >> 2
        if new & 0o060:
            new |= _DIR_SET_GID
    return new


def adjust(path: str, shared: int) -> None:
    """Give ``path`` the mode git gives what it creates (nothing when ``shared`` is 0)."""
    if shared:
        mode = os.stat(path).st_mode
        new = widened(mode, shared)
        if stat.S_IMODE(new) != stat.S_IMODE(mode):
            os.chmod(path, stat.S_IMODE(new))


def adjust_fd(fd: int, shared: int) -> None:
    """``adjust`` for a file this process holds open."""
    if shared:
        mode = os.fstat(fd).st_mode
        new = widened(mode, shared)
        if stat.S_IMODE(new) != stat.S_IMODE(mode):
            os.fchmod(fd, stat.S_IMODE(new))


def make_dir(path: str, shared: int) -> None:
    """Create the directory ``path`` (its parent exists) unless it exists, with git's mode."""
    try:
        os.mkdir(path)
    except FileExistsError:
        if not os.path.isdir(path):
            raise
        return
    with contextlib.suppress(FileNotFoundError):  # removed at once (gc): the caller retries
        adjust(path, shared)


def make_dirs(path: str, shared: int) -> None:
    """Create ``path`` and whatever of its parents is missing, each with git's mode."""
    if not shared:
        os.makedirs(path, exist_ok=True)
        return
    missing = []
    while not os.path.isdir(path):
        missing.append(path)
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    for directory in reversed(missing):
        make_dir(directory, shared)


def create_file(path: str, flags: int, shared: int) -> int:
    """``os.open(path, O_CREAT | flags, 0o666)`` with git's mode for a new file."""
    fd = os.open(path, os.O_CREAT | flags, 0o666)
    if shared:
        try:
            adjust_fd(fd, shared)
        except OSError:
            os.close(fd)
            raise
    return fd


def create_new(path: str, shared: int) -> int:
    """Create ``path`` exclusively for writing, as git creates a lock file: mode 0666 less the
    umask, then git's mode (``FileExistsError`` if it exists)."""
    return create_file(path, os.O_WRONLY | os.O_EXCL, shared)


def create_temporary(directory: str, prefix: str, shared: int) -> tuple[int, str]:
    """A new file of a random name in ``directory``, made as ``create_new`` makes one (not
    ``tempfile.mkstemp``'s 0600, which only its owner could replace or read); (fd, path)."""
    while True:
        path = os.path.join(directory, f"{prefix}{os.urandom(6).hex()}")
        with contextlib.suppress(FileExistsError):
            return create_new(path, shared), path


def make_file(path: str, shared: int) -> None:
    """Create the empty file ``path`` with git's mode unless it exists: for a file that another
    library opens and fills (an SQLite database, whose journals take its mode)."""
    try:
        fd = create_new(path, shared)
    except FileExistsError:
        return
    os.close(fd)


def adjust_quietly(path: str, shared: int) -> None:
    """``adjust`` for a file that may belong to another user: git leaves those as they are."""
    with contextlib.suppress(OSError):
        adjust(path, shared)
