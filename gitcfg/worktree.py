"""Is the work tree clean? A fast in-process answer for small repositories, else ``git status``.

Recording a run must know whether the code has uncommitted changes. ``git status`` answers
that in ~2 ms of process start-up, most of the time budget of recording a run. For a small
repository the index answers it directly, the way git itself does: the index's cached root tree
must equal HEAD's tree (nothing staged) and every tracked file's stat data must equal what the
index recorded (nothing modified). Any doubt — a racy timestamp, a flag, a submodule, an index
format or extension we do not read, a mismatch of any kind — returns None, and the caller asks
``git status``, which is authoritative. A None is never an error, only a slower path.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import time

from gitcfg.git import GitRepo
from gitcfg.git.perms import adjust

# Beyond this many tracked files the index is left to git. Measured here: reading the index and
# stat-ing 1,000 files takes 6 ms, about one ``git status`` (4.5 ms), 3,000 take 17 ms against
# 10 ms. Up to it, a dirty tree's snapshot is also remembered (``snapshotmemo``), which saves
# ``git status`` and three more git processes on every later run from the same tree.
MAX_FAST_ENTRIES = 1000
_HEADER = struct.Struct(">4sII")
# ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
_STAT = struct.Struct(">IIIIIIIIII")
_ASSUME_VALID = 0x8000
_EXTENDED = 0x4000
_GITLINK = 0o160000


# Entries with their stat data, cached root tree id, index mtime, and the set of tracked paths.
_Index = tuple[list[tuple[str, tuple[int, ...]]], str | None, int, frozenset[str]]
# The last index read in-process, by (path, mtime, size, inode): recording a run reads it
# several times, and a stat is cheaper than reading and parsing it again.
_last_index: tuple[tuple[str, int, int, int], _Index | None] | None = None


def _read_index(repo: GitRepo) -> _Index | None:
    """A small v2/v3 index, parsed; None when it is not one we read."""
    global _last_index
    index_path = f"{repo.git_dir}{os.sep}index"
    try:
        st = os.stat(index_path)
        key = (index_path, st.st_mtime_ns, st.st_size, st.st_ino)
        if _last_index is not None and _last_index[0] == key:
            return _last_index[1]
        with open(index_path, "rb") as fh:
            if os.fstat(fh.fileno()).st_mtime_ns != st.st_mtime_ns:
                return None  # replaced while we looked: let git answer
            data = fh.read()
    except OSError:
        return None
    try:
        entries = _entries(data, repo.algo.rawsz)
    except (struct.error, ValueError, IndexError):
        entries = None
    parsed = None
    if entries is not None:
        paths = frozenset(path for path, _ in entries[0])
        parsed = (entries[0], entries[1], st.st_mtime_ns, paths)
    _last_index = (key, parsed)
    return parsed


def tracked_paths(repo: GitRepo) -> frozenset[str] | None:
    """The paths the index tracks, read in-process; None when the index is not one we read."""
    if repo.worktree is None:
        return None
    parsed = _read_index(repo)
    return None if parsed is None else parsed[3]


def known_clean(repo: GitRepo, head: str) -> bool | None:
    """True when the index proves the work tree matches commit ``head``; None when unsure."""
    if repo.worktree is None:
        return None
    parsed = _read_index(repo)
    if parsed is None:
        return None
    paths, root_tree, index_mtime, _ = parsed
    if root_tree is None or root_tree != repo.read_commit(head).tree:
        return None  # staged changes, or a cache tree git has not refreshed
    top = str(repo.worktree) + os.sep
    lstat = os.lstat
    for path, recorded in paths:
        try:
            st = lstat(top + path)
        except OSError:
            return None
        mtime_ns = recorded[2] * 1_000_000_000 + recorded[3]
        if st.st_mtime_ns >= index_mtime or mtime_ns != st.st_mtime_ns:
            return None  # racily clean or touched: let git look at the content
        ctime_ns = recorded[0] * 1_000_000_000 + recorded[1]
        if (
            ctime_ns != st.st_ctime_ns
            or recorded[5] != st.st_ino & 0xFFFFFFFF
            or recorded[6] != _git_mode(st.st_mode)
            or recorded[9] != st.st_size & 0xFFFFFFFF
        ):
            return None
    return True


def _git_mode(st_mode: int) -> int:
    """The mode git records for a file: 644 or 755 for regular files, 120000 for symlinks."""
    if stat.S_ISLNK(st_mode):
        return 0o120000
    if stat.S_ISREG(st_mode):
        return 0o100755 if st_mode & 0o100 else 0o100644
    return st_mode


def _entries(
    data: bytes, rawsz: int = 20
) -> tuple[list[tuple[str, tuple[int, ...]]], str | None] | None:
    """Paths with their stat data, and the cached root tree id, from a version 2 or 3 index.

    ``rawsz`` is the size of an object id in this repository (20 for SHA-1, 32 for SHA-256).
    """
    signature, version, count = _HEADER.unpack_from(data, 0)
    if signature != b"DIRC" or version not in (2, 3) or count > MAX_FAST_ENTRIES:
        return None
    pos = _HEADER.size
    paths: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(count):
        start = pos
        recorded = _STAT.unpack_from(data, pos)
        flags = struct.unpack_from(">H", data, pos + 40 + rawsz)[0]
        pos += 42 + rawsz
        if flags & _EXTENDED:
            return None  # skip-worktree or intent-to-add: sparse or unusual checkouts
        if flags & _ASSUME_VALID or recorded[6] & 0o170000 == _GITLINK:
            return None
        end = data.index(b"\0", pos)
        paths.append((data[pos:end].decode("utf-8", "surrogateescape"), recorded))
        # entries are NUL-padded to a multiple of 8 bytes
        pos = start + ((end - start + 8) // 8) * 8
    root_tree = None
    while pos + 8 <= len(data) - rawsz:
        name = data[pos : pos + 4]
        size = struct.unpack_from(">I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if name == b"TREE":
            # root entry: "" NUL "<entries> <subtrees>\n" then the tree id when entries >= 0
            nul = body.index(b"\0")
            line_end = body.index(b"\n", nul)
            entry_count = int(body[nul + 1 : line_end].split(b" ")[0])
            if entry_count >= 0:
                root_tree = body[line_end + 1 : line_end + 1 + rawsz].hex()
        elif name[:1].isupper():
            pass  # an optional extension
        else:
            return None  # a required extension we do not read
        pos += 8 + size
    return paths, root_tree


# -- untracked files ------------------------------------------------------------------------
#
# Finding untracked files means listing directories and applying .gitignore: git's job, and a
# process start. To keep the common case (no untracked file) in-process, gitcfg remembers, after
# git found none, the mtime of every directory where a new file would matter: the top level,
# each directory holding a tracked file, their direct subdirectories (a new, empty directory
# such as outputs/, unless git ignores it), and the exclude files. Adding, removing or renaming
# an entry changes its directory's mtime, so while every one of them is unchanged there is
# still no untracked file. A directory touched less than a second before it was recorded is
# racy (timestamps are coarse) and is not remembered, nor is a tree with a corner these mtimes
# do not cover (``unwatched_corners``). What it cannot see: a change of core.excludesFile.

_NO_UNTRACKED = "gitcfg-no-untracked"
_RACY_NS = 1_000_000_000


def _holding(top: str, tracked: frozenset[str]) -> set[str]:
    """The work tree's top and every directory holding a tracked file, as paths."""
    dirs = {top}
    for path in tracked:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add(os.path.join(top, *parts[:i]))
    return dirs


def _watched(repo: GitRepo, tracked: frozenset[str]) -> list[str]:
    assert repo.worktree is not None
    dirs = _holding(str(repo.worktree), tracked)
    for directory in list(dirs):
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name != ".git" and entry.is_dir(follow_symlinks=False):
                        dirs.add(entry.path)
        except OSError:
            pass
    config_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    dirs.add(str(repo.common_dir / "info" / "exclude"))
    dirs.add(os.path.join(config_home, "git", "ignore"))
    return sorted(dirs)


def mtime_stamp(path: str) -> int:
    """A path's mtime in ns as the watched-directory records keep it; -1 when missing."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1  # missing: must stay missing


def untracked_stamps(repo: GitRepo) -> list[tuple[str, int]] | None:
    """The mtimes to remember if git then finds no untracked file; None when unknown.

    Take them before asking git, so that anything added meanwhile shows as a change.
    """
    tracked = tracked_paths(repo)
    if tracked is None:
        return None
    return [(path, mtime_stamp(path)) for path in _watched(repo, tracked)]


def not_ignored(repo: GitRepo, stamps: list[tuple[str, int]]) -> list[tuple[str, int]] | None:
    """``stamps`` without the directories git ignores; None when git cannot say.

    Ignored directories (outputs/, .venv/, __pycache__/) are not watched: files inside them
    never count, and training writes to them all the time.
    """
    assert repo.worktree is not None
    listing = repo.git(
        "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
        check=False,
    )  # fmt: skip
    if listing.returncode != 0:
        return None
    top = str(repo.worktree)
    ignored = {
        os.path.join(top, os.fsdecode(item[:-1]))
        for item in listing.stdout.split(b"\0")
        if item.endswith(b"/")
    }
    return [(path, mtime) for path, mtime in stamps if path not in ignored]


def unwatched_corners(repo: GitRepo, kept: list[tuple[str, int]]) -> bool:
    """Whether the watched directories ``kept`` leave a corner where an untracked file could
    appear unseen: a subdirectory of a directory holding no tracked file (a file created down
    there changes no watched mtime; rsync brings such empty directories along), or a
    ``.gitignore`` git does not track (edited in place, it can unhide files). Then nothing may
    be remembered, and git is asked each time."""
    tracked = tracked_paths(repo)
    if tracked is None or repo.worktree is None:
        return True
    top = str(repo.worktree)
    holding = _holding(top, tracked)
    for directory, _ in kept:
        untracked = directory not in holding
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    if entry.name == ".gitignore":
                        relative = os.path.relpath(entry.path, top).replace(os.sep, "/")
                        if relative not in tracked:
                            return True
                    elif untracked and entry.is_dir(follow_symlinks=False):
                        return True
        except NotADirectoryError:
            continue  # an exclude file, watched by its mtime
        except FileNotFoundError:
            continue  # missing: recorded as such, and must stay so
        except OSError:
            return True
    return False


def remember_no_untracked(repo: GitRepo, stamps: list[tuple[str, int]]) -> None:
    """Record that git found no untracked file while ``stamps`` held.

    A watched directory changed less than a second ago is racy (timestamps are coarse): then
    nothing is remembered.
    """
    kept = not_ignored(repo, stamps)
    if kept is None or unwatched_corners(repo, kept):
        return
    now = time.time_ns()
    if any(now - mtime < _RACY_NS for _, mtime in kept):
        return
    data = b"".join(os.fsencode(path) + b"\0" + b"%d\0" % mtime for path, mtime in kept)
    target = repo.git_dir / _NO_UNTRACKED
    tmp = repo.git_dir / f"{_NO_UNTRACKED}.{os.getpid()}.tmp"
    try:
        tmp.write_bytes(data)
        adjust(str(tmp), repo.shared)  # core.sharedRepository: the next user rewrites it
        os.replace(tmp, target)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


def known_no_untracked(repo: GitRepo) -> bool:
    """True when nothing changed since git last found no untracked file (see above)."""
    try:
        data = (repo.git_dir / _NO_UNTRACKED).read_bytes()
    except OSError:
        return False
    fields = data.split(b"\0")
    if len(fields) < 3 or fields.pop() != b"":
        return False
    tracked = tracked_paths(repo)
    if tracked is None:
        return False
    seen = set()
    for path_bytes, mtime in zip(fields[::2], fields[1::2], strict=True):
        path = os.fsdecode(path_bytes)
        if mtime_stamp(path) != int(mtime):
            return False
        seen.add(path)
    # a directory of a newly tracked file is watched from now on: ask git again
    assert repo.worktree is not None
    top = str(repo.worktree)
    return all(
        os.path.join(top, path.rpartition("/")[0]) in seen for path in tracked if "/" in path
    )
