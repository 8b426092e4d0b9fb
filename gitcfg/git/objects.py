"""Object bodies: trees and commits as git encodes them (headers and hashing: ``loose``)."""

from __future__ import annotations

import contextlib
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


def parse_tree(body: bytes, rawsz: int = 20) -> list[TreeEntry]:
    """Entries of a tree object; ``rawsz`` is the id size of the repository (20 or 32 bytes)."""
    entries: list[TreeEntry] = []
    append, index = entries.append, body.index
    pos = 0
    end = len(body)
    try:
        while pos < end:
            space = index(b" ", pos)
            nul = index(b"\0", space)
            sha = body[nul + 1 : nul + 1 + rawsz]
            if len(sha) != rawsz:
                raise ValueError("truncated entry")
            name = body[space + 1 : nul].decode("utf-8", errors="surrogateescape")
            append(TreeEntry(body[pos:space].decode(), name, sha.hex()))
            pos = nul + 1 + rawsz
    except (ValueError, UnicodeDecodeError) as exc:
        raise CorruptStoreError(f"a tree object is malformed ({exc})") from exc
    return entries


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
