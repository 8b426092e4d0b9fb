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

import os
import stat
import struct

from gitcfg.git import GitRepo

# Beyond this many tracked files, stat-ing them from Python costs more than one git process.
MAX_FAST_ENTRIES = 300
_HEADER = struct.Struct(">4sII")
# ctime s/ns, mtime s/ns, dev, ino, mode, uid, gid, size
_STAT = struct.Struct(">IIIIIIIIII")
_ASSUME_VALID = 0x8000
_EXTENDED = 0x4000
_GITLINK = 0o160000


def known_clean(repo: GitRepo, head: str) -> bool | None:
    """True when the index proves the work tree matches commit ``head``; None when unsure."""
    if repo.worktree is None:
        return None
    index_path = repo.git_dir / "index"
    try:
        with open(index_path, "rb") as fh:
            data = fh.read()
            index_mtime = os.fstat(fh.fileno()).st_mtime_ns
    except OSError:
        return None
    try:
        entries = _entries(data)
    except (struct.error, ValueError, IndexError):
        return None
    if entries is None:
        return None
    paths, root_tree = entries
    if root_tree is None or root_tree != repo.read_commit(head).tree:
        return None  # staged changes, or a cache tree git has not refreshed
    worktree = str(repo.worktree)
    for path, recorded in paths:
        try:
            st = os.lstat(os.path.join(worktree, path))
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


def _entries(data: bytes) -> tuple[list[tuple[str, tuple[int, ...]]], str | None] | None:
    """Paths with their stat data, and the cached root tree id, from a version 2 or 3 index."""
    signature, version, count = _HEADER.unpack_from(data, 0)
    if signature != b"DIRC" or version not in (2, 3) or count > MAX_FAST_ENTRIES:
        return None
    pos = _HEADER.size
    paths: list[tuple[str, tuple[int, ...]]] = []
    for _ in range(count):
        start = pos
        recorded = _STAT.unpack_from(data, pos)
        flags = struct.unpack_from(">H", data, pos + 60)[0]
        pos += 62
        if flags & _EXTENDED:
            return None  # skip-worktree or intent-to-add: sparse or unusual checkouts
        if flags & _ASSUME_VALID or recorded[6] & 0o170000 == _GITLINK:
            return None
        end = data.index(b"\0", pos)
        paths.append((data[pos:end].decode("utf-8", "surrogateescape"), recorded))
        # entries are NUL-padded to a multiple of 8 bytes
        pos = start + ((end - start + 8) // 8) * 8
    root_tree = None
    while pos + 8 <= len(data) - 20:
        name = data[pos : pos + 4]
        size = struct.unpack_from(">I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if name == b"TREE":
            # root entry: "" NUL "<entries> <subtrees>\n" then the tree id when entries >= 0
            nul = body.index(b"\0")
            line_end = body.index(b"\n", nul)
            entry_count = int(body[nul + 1 : line_end].split(b" ")[0])
            if entry_count >= 0:
                root_tree = body[line_end + 1 : line_end + 21].hex()
        elif name[:1].isupper():
            pass  # an optional extension
        else:
            return None  # a required extension we do not read
        pos += 8 + size
    return paths, root_tree
