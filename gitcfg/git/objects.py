"""Object bodies: trees and commits as git encodes them (headers and hashing: ``loose``)."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import NamedTuple

from gitcfg.errors import CorruptStoreError


class TreeEntry(NamedTuple):
    """One entry of a tree object. A named tuple: a run's commit parses and builds dozens,
    and a frozen dataclass costs several times as much to make."""

    mode: str
    name: str
    sha: str

    @property
    def is_tree(self) -> bool:
        return self.mode == "40000"


class Commit(NamedTuple):
    sha: str
    tree: str
    parents: tuple[str, ...]
    time: int
    message: str


# One tree entry: a mode up to the first space, a name up to the first NUL, then the raw id.
# A regex walks a tree's entries in C; a loop of index() calls and slices costs ~1 us an entry,
# and a run's creation parses ~3 trees of 16 entries in a store of 100,000 runs.
_ENTRY = {rawsz: re.compile(rb"([^ ]*) ([^\0]*)\0(.{%d})" % rawsz, re.S) for rawsz in (20, 32)}
_new_tuple = tuple.__new__


def parse_tree(body: bytes, rawsz: int = 20) -> list[TreeEntry]:
    """Entries of a tree object; ``rawsz`` is the id size of the repository (20 or 32 bytes)."""
    found: list[tuple[bytes, bytes, bytes]] = _ENTRY[rawsz].findall(body)
    # Matches never overlap, so their lengths add up to the body's only if they cover all of
    # it: nothing skipped between entries, no truncated entry at the end.
    if sum([len(mode) + len(name) for mode, name, _ in found]) + (2 + rawsz) * len(found) != len(
        body
    ):
        raise CorruptStoreError("a tree object is malformed (truncated or stray bytes)")
    try:
        return [
            # tuple.__new__: a NamedTuple's own constructor is a Python function, ~3x slower
            _new_tuple(
                TreeEntry, (mode.decode(), name.decode("utf-8", "surrogateescape"), sha.hex())
            )
            for mode, name, sha in found
        ]
    except UnicodeDecodeError as exc:
        raise CorruptStoreError(f"a tree object is malformed ({exc})") from exc


def format_tree(entries: Iterable[TreeEntry]) -> bytes:
    # Git sorts tree entries as if directory names ended in "/".
    ordered = sorted(entries, key=_tree_order)
    # a list, not a generator: a commit formats some 150 entries, each a generator step more
    return b"".join(
        [
            f"{mode} {name}\0".encode("utf-8", "surrogateescape") + bytes.fromhex(sha)
            for mode, name, sha in ordered
        ]
    )


def _tree_order(entry: TreeEntry) -> str:
    return entry.name + "/" if entry.mode == "40000" else entry.name


def format_commit(
    tree: str, parents: Iterable[str], author: str, committer: str, message: str
) -> bytes:
    """A commit body; ``author``/``committer`` are signature lines (``Identity.signature``)."""
    lines = [f"tree {tree}", *(f"parent {p}" for p in parents)]
    lines.append(f"author {author}")
    lines.append(f"committer {committer}")
    return ("\n".join(lines) + "\n\n" + message.rstrip("\n") + "\n").encode()


def parse_commit(sha: str, body: bytes) -> Commit:
    head, _, message = body.decode(errors="replace").partition("\n\n")
    tree = ""
    parents: list[str] = []
    when = 0
    for line in head.split("\n"):
        field, _, value = line.partition(" ")
        if field == "tree":
            tree = value
        elif field == "parent":
            parents.append(value)
        elif field == "committer":
            with contextlib.suppress(ValueError, IndexError):
                when = int(value.rsplit(" ", 2)[1])
    return Commit(sha, tree, tuple(parents), when, message)
