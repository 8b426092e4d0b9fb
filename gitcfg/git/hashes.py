"""Object names: SHA-1 or SHA-256, whichever the repository was created with.

A repository's object format is fixed at ``git init`` (``extensions.objectFormat``); every object
id, tree entry, pack index and ref of that repository uses it. Code above this layer treats ids
as opaque hex strings and asks the repository's ``HashAlgo`` for lengths and well-known ids.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import NamedTuple


class HashAlgo(NamedTuple):
    """One of git's object formats: its name, digest size and the ids every repository has."""

    name: str
    rawsz: int
    empty_tree: str
    hex_id: re.Pattern[str]  # a full lowercase hex id of this format

    @property
    def hexsz(self) -> int:
        return 2 * self.rawsz

    @property
    def null(self) -> str:
        """The all-zero id git uses for "no object" (a ref that does not exist yet)."""
        return "0" * self.hexsz

    def digest(self, data: bytes) -> bytes:
        return _HASHES[self.name](data).digest()

    def hexdigest(self, data: bytes) -> str:
        # the constructor itself: hashlib.new(name) looks it up again each time (+40%)
        return _HASHES[self.name](data).hexdigest()

    def is_id(self, text: str) -> bool:
        """Whether ``text`` is a full lowercase hex object id of this format."""
        return self.hex_id.fullmatch(text) is not None


_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
SHA1 = HashAlgo("sha1", 20, "4b825dc642cb6eb9a060e54bf8d69288fbee4904", re.compile("[0-9a-f]{40}"))
SHA256 = HashAlgo(
    "sha256",
    32,
    "6ef19b41225c5369f1c104d45d8d85efa9b057b53b14b4b9b939dd74decc5321",
    re.compile("[0-9a-f]{64}"),
)

_FORMAT = re.compile(r"^\s*objectformat\s*=\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def is_null(oid: str) -> bool:
    """Whether ``oid`` is git's all-zero "no object" id, of either format."""
    return not oid.strip("0")


def object_format(config_text: str) -> HashAlgo | None:
    """The format a repository's config file declares (SHA-1 when silent); None if unknown."""
    found = _FORMAT.search(config_text)
    name = found.group(1).strip('"').lower() if found else "sha1"
    return {"sha1": SHA1, "sha256": SHA256}.get(name)


def read_config_text(common_dir: Path) -> str:
    """The repository's own config file as text ('' when unreadable)."""
    try:
        return (common_dir / "config").read_text(errors="replace")
    except OSError:
        return ""
