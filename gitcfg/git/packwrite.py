"""Writing many new objects at once as one pack, not thousands of loose files.

A merge of 1,000 remote runs writes thousands of shard trees; as loose files that is thousands
of file creations (and a ``git gc`` to follow). ``PackWriter`` collects the objects in memory and
hands them to ``git index-pack --stdin`` as one version-2 pack of whole (undeltified) objects:
git checks every object, computes the names, writes the ``.idx`` and moves the pack into place
under its own temporary names (``tmp_pack_*``, ``.idx`` last), so no half-written pack is ever
visible and the repository's object format (SHA-1 or SHA-256) is git's to apply. Few objects are
written loose instead: starting index-pack costs more than a handful of files.

Until a ref points at them the pack's objects are unreachable, and a concurrent ``git repack -a
-d`` or ``git gc --prune=now`` would delete the pack. So, as ``git fetch`` does, index-pack marks
it ``--keep`` (a ``.keep`` file, which repack and gc leave alone), and the writer removes that
mark when the caller is done with its ref update, made or failed: use it as a context manager.
"""

from __future__ import annotations

import contextlib
import os
import struct
import subprocess
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Protocol

from gitcfg.errors import RepositoryError
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.loose import deflate, header
from gitcfg.git.objects import TreeEntry, format_tree
from gitcfg.git.smallpack import entry_header

# Below this many objects loose files are cheaper than an index-pack process.
PACK_THRESHOLD = 64


class _Repo(Protocol):
    algo: HashAlgo
    objects_dir: Path

    def write_object(self, kind: str, data: bytes) -> str: ...

    def git(
        self, *args: str, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]: ...


def pack_bytes(objects: Iterable[tuple[str, bytes]], count: int, algo: HashAlgo) -> bytes:
    """A version-2 pack holding ``count`` whole objects ``(kind, body)``, with its checksum."""
    parts = [b"PACK", struct.pack(">II", 2, count)]
    for kind, data in objects:
        parts.append(entry_header(kind, len(data)))
        parts.append(deflate(data))
    body = b"".join(parts)
    return body + algo.digest(body)


class PackWriter:
    """New objects for one bulk operation; ``flush()`` stores them (a pack, or loose if few).

    Objects are not readable through the repository before ``flush()``: write what a later
    step reads back (none of the merge's trees are read back) only after flushing. A pack
    written stays kept from repack and gc until ``release()`` (or the end of a ``with`` block).
    """

    def __init__(self, repo: _Repo, *, threshold: int = PACK_THRESHOLD) -> None:
        self.repo = repo
        self.threshold = threshold
        self._objects: dict[str, tuple[str, bytes]] = {}
        self._kept: list[str] = []  # .keep files of the packs written

    def __enter__(self) -> PackWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def release(self) -> None:
        """Let repack and gc treat the packs written like any other: call it once a ref points
        at their objects, or once nothing will."""
        kept, self._kept = self._kept, []
        for path in kept:
            with contextlib.suppress(OSError):
                os.unlink(path)

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
        # the .keep's text says who keeps it, as git fetch's does
        reason = f"--keep=gitcfg {os.getpid()} on {os.uname().nodename}"
        try:
            # --stdin: git writes tmp_pack_*, checks and names every object, then renames the
            # pack and its index into objects/pack (the index last, which makes it visible).
            proc = self.repo.git("index-pack", "--stdin", reason, input=data)
        except RepositoryError as exc:
            raise RepositoryError(
                f"could not store {len(objects)} new objects as a pack ({exc}); free disk "
                f"space and retry"
            ) from exc
        # it says "keep\t<pack name>" (or "pack\t..." if the pack was there already, unkept)
        said, _, name = proc.stdout.split(b"\n", 1)[0].decode().partition("\t")
        if said == "keep":
            self._kept.append(str(self.repo.objects_dir / "pack" / f"pack-{name}.keep"))
