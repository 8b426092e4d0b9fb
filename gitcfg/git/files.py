"""Reading git's small files (refs, HEAD, markers of a rebase in progress) in few system calls.

Recording a run reads a dozen of them; a text-mode ``open`` builds a buffered reader and a
decoder for each (~10 us), three times the open, read and close themselves.
"""

from __future__ import annotations

import os

_CHUNK = 1 << 16


def read_small(path: str) -> bytes | None:
    """The bytes of the file at ``path``; None when there is none (``OSError`` if it cannot be
    read: ``IsADirectoryError`` for a directory)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        data = os.read(fd, _CHUNK)
        if len(data) == _CHUNK:  # not a small file after all: the rest too
            chunks = [data]
            while chunk := os.read(fd, _CHUNK):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data
    finally:
        os.close(fd)


def read_small_text(path: str) -> str | None:
    """``read_small`` as text, stripped (bytes that are not UTF-8 become U+FFFD)."""
    data = read_small(path)
    return None if data is None else data.decode("utf-8", "replace").strip()
