"""Writing many new objects at once as one pack, not thousands of loose files.

A merge of 1,000 remote runs writes thousands of shard trees; as loose files that is thousands
of file creations (and a ``git gc`` to follow). ``PackWriter`` collects the objects in memory and
hands them to ``git index-pack --stdin`` as one version-2 pack of whole (undeltified) objects:
git checks every object, computes the names, writes the ``.idx`` and moves the pack into place
under its own temporary names (``tmp_pack_*``, ``.idx`` last), so no half-written pack is ever
visible and the repository's object format (SHA-1 or SHA-256) is git's to apply. Few objects are
written loose instead: starting index-pack costs more than a handful of files.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Protocol

from gitcfg.errors import RepositoryError
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.loose import deflate, header
from gitcfg.git.objects import TreeEntry, format_tree

_KIND_NUMBERS = {"commit": 1, "tree": 2, "blob": 3, "tag": 4}
# Below this many objects loose files are cheaper than an index-pack process.
PACK_THRESHOLD = 64


class _Repo(Protocol):
    algo: HashAlgo

    def write_object(self, kind: str, data: bytes) -> str: ...

    def git(self, *args: str, input: bytes | None = None, check: bool = True) -> object: ...


def pack_bytes(objects: Iterable[tuple[str, bytes]], count: int, algo: HashAlgo) -> bytes:
    """A version-2 pack holding ``count`` whole objects ``(kind, body)``, with its checksum."""
    parts = [b"PACK", struct.pack(">II", 2, count)]
    for kind, data in objects:
        size = len(data)
        # type and size: 3 type bits and 4 size bits, then 7 size bits a byte, high bit = more
        byte = (_KIND_NUMBERS[kind] << 4) | (size & 0x0F)
        size >>= 4
        head = bytearray()
        while size:
            head.append(byte | 0x80)
            byte = size & 0x7F
            size >>= 7
        head.append(byte)
        parts.append(bytes(head))
        parts.append(deflate(data))
    body = b"".join(parts)
    return body + algo.digest(body)


class PackWriter:
    """New objects for one bulk operation; ``flush()`` stores them (a pack, or loose if few).

    Objects are not readable through the repository before ``flush()``: write what a later
    step reads back (none of the merge's trees are read back) only after flushing.
    """

    def __init__(self, repo: _Repo, *, threshold: int = PACK_THRESHOLD) -> None:
        self.repo = repo
        self.threshold = threshold
        self._objects: dict[str, tuple[str, bytes]] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def write_object(self, kind: str, data: bytes) -> str:
        sha = self.repo.algo.hexdigest(header(kind, len(data)) + data)
        self._objects.setdefault(sha, (kind, data))
        return sha

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Iterable[TreeEntry]) -> str:
        return self.write_object("tree", format_tree(entries))

    def flush(self) -> None:
        """Store every object written so far; on return they are all in the repository."""
        objects, self._objects = self._objects, {}
        if len(objects) < self.threshold:
            for kind, data in objects.values():
                self.repo.write_object(kind, data)
            return
        data = pack_bytes(objects.values(), len(objects), self.repo.algo)
        try:
            # --stdin: git writes tmp_pack_*, checks and names every object, then renames the
            # pack and its index into objects/pack (the index last, which makes it visible).
            self.repo.git("index-pack", "--stdin", input=data)
        except RepositoryError as exc:
            raise RepositoryError(
                f"could not store {len(objects)} new objects as a pack ({exc}); free disk "
                f"space and retry"
            ) from exc
