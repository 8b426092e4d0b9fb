"""One commit's new objects as one small pack, written in-process: two files, not a dozen.

A run commit writes ~10-17 objects (its files, the trees from the run up to the root, the
commit). As loose objects each is a new file, and a new file is what a slow or shared disk
charges most for: an NFS or Lustre home directory on a cluster (~1 ms a create), or an ext4
without a journal, which skips every inode freed in the last minutes on each allocation. A
sweep commits twice a point, so there it is most of what a point costs beyond the program.

The pack holds whole (undeltified) objects, and its version-2 index is written beside it, as
``git index-pack`` writes them (less the optional ``.rev``, which git computes when absent):
the pack under git's temporary name ``tmp_pack_*``, then renamed into place; the index last
(``tmp_idx_*``), since an index is what makes a pack visible. Starting ``index-pack`` for a
dozen objects would cost more than the files it saves (``gitcfg.git.packwrite`` uses it for
bulk writes, where git's checks are worth it); every object here was hashed as it was made.

Small packs pile up, and each is an index every lookup may search: whoever writes them rolls
them together (``gitcfg.git.maintenance``) well before git's ``gc.autoPackLimit`` would start a
full repack. Until the ref update that follows at once, a pack's objects are unreachable, as a
loose object is: ``gc --auto``, the geometric repack and a prune with its usual grace period all
keep them; only a ``git repack -a -d`` (no ``-A``) or a ``--prune=now`` in that moment would not,
which holds for loose objects under ``--prune=now`` too. No ``.keep`` guards them (as
``gitcfg.git.packwrite`` does for a bulk write): it would be a third file to create and delete.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

from gitcfg.errors import RepositoryError
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.loose import deflate, header, tmp_name, write_all
from gitcfg.git.pack import KIND_NUMBERS
from gitcfg.git.perms import adjust_fd, make_dirs

_IDX_MAGIC = b"\xfftOc"
_NAME_TRIES = 20


def entry_header(kind: str, size: int) -> bytes:
    """A pack entry's type and size: 3 type bits and 4 size bits, then 7 size bits a byte."""
    byte = (KIND_NUMBERS[kind] << 4) | (size & 0x0F)
    size >>= 4
    head = bytearray()
    while size:
        head.append(byte | 0x80)
        byte = size & 0x7F
        size >>= 7
    head.append(byte)
    return bytes(head)


class Entry(NamedTuple):
    """One object as a pack holds it: its binary name and its bytes (type, size, deflated body)."""

    name: bytes
    data: bytes


def entries_of(objects: Iterable[tuple[str, bytes]], algo: HashAlgo) -> list[Entry]:
    """``objects`` (kind, body) as whole (undeltified) pack entries."""
    return [
        Entry(
            algo.digest(header(kind, len(body)) + body),
            entry_header(kind, len(body)) + deflate(body),
        )
        for kind, body in objects
    ]


def pack_and_index(entries: Sequence[Entry], algo: HashAlgo) -> tuple[bytes, bytes]:
    """A version-2 pack of ``entries`` (distinct names) and its version-2 index."""
    parts = [b"PACK", struct.pack(">II", 2, len(entries))]
    offset = 12
    placed: list[tuple[bytes, int, int]] = []  # name, crc32, offset
    for name, data in entries:
        placed.append((name, zlib.crc32(data), offset))
        parts.append(data)
        offset += len(data)
    if offset >= 1 << 31:  # never for a sweep's commits; the 8-byte offset table is not written
        raise RepositoryError("too many objects for one small pack")
    body = b"".join(parts)
    checksum = algo.digest(body)
    placed.sort()
    fanout = [0] * 256
    for name, _, _ in placed:
        fanout[name[0]] += 1
    total = 0
    for byte in range(256):
        total += fanout[byte]
        fanout[byte] = total
    index = b"".join(
        [
            _IDX_MAGIC,
            struct.pack(">I", 2),
            struct.pack(">256I", *fanout),
            b"".join(name for name, _, _ in placed),
            struct.pack(f">{len(placed)}I", *(crc for _, crc, _ in placed)),
            struct.pack(f">{len(placed)}I", *(at for _, _, at in placed)),
            checksum,
        ]
    )
    return body + checksum, index + algo.digest(index)


def write_small_pack(
    objects_dir: Path,
    entries: Sequence[Entry],
    algo: HashAlgo,
    *,
    fsync: bool = False,
    shared: int = 0,
) -> str:
    """Store ``entries`` as one pack in ``objects_dir/pack``; returns the pack's name."""
    pack, index = pack_and_index(entries, algo)
    name = pack[-algo.rawsz :].hex()
    directory = f"{objects_dir}{os.sep}pack"
    stem = f"{directory}{os.sep}pack-{name}"
    try:
        make_dirs(directory, shared)
        _write_file(directory, "tmp_pack_", stem + ".pack", pack, fsync, shared)
        _write_file(directory, "tmp_idx_", stem + ".idx", index, fsync, shared)
    except OSError as exc:
        raise RepositoryError(
            f"could not write a pack in {directory}: {exc.strerror or exc}; "
            f"free disk space and retry"
        ) from exc
    return name


def roll_up(
    objects_dir: Path,
    packs: Sequence[tuple[str, Sequence[Entry]]],
    algo: HashAlgo,
    *,
    fsync: bool = False,
    shared: int = 0,
) -> str:
    """Join ``packs`` (name, entries), small packs this process wrote, into one, and remove
    them; returns the new pack's name.

    The new pack is in place before any old one goes, so every object stays readable; a
    reader that found an object in a removed pack's index finds the pack gone and looks
    again, as after any repack (git's readers and gitcfg's). Each old pack's index is removed
    before the pack, as git's repack does. One that is already gone (a concurrent repack
    joined it) is skipped: its objects are in the new pack all the same.
    """
    seen: dict[bytes, Entry] = {}
    for _, entries in packs:
        for entry in entries:
            seen.setdefault(entry.name, entry)  # a blob two commits wrote is one entry
    name = write_small_pack(objects_dir, list(seen.values()), algo, fsync=fsync, shared=shared)
    for old, _ in packs:
        if old == name:
            continue
        stem = f"{objects_dir}{os.sep}pack{os.sep}pack-{old}"
        for suffix in (".idx", ".pack"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stem + suffix)
    refresh_pack_list(objects_dir, shared)
    return name


def refresh_pack_list(objects_dir: Path, shared: int = 0) -> None:
    """Rewrite ``objects/info/packs`` (the pack list a dumb-HTTP client reads, which
    ``git update-server-info`` and every ``git repack`` write) if there is one, as git's repack
    rewrites it after removing packs: it must not name a pack that is gone, and the joined one
    is listed. Not after each small pack: a third new file per commit, and git's fetch leaves
    the list as it is too."""
    info = f"{objects_dir}{os.sep}info"
    path = f"{info}{os.sep}packs"
    if not os.path.exists(path):
        return
    # housekeeping, as the roll-up is: a failure leaves the list as git's fetch would
    with contextlib.suppress(OSError):
        files = set(os.listdir(f"{objects_dir}{os.sep}pack"))
        # as git lists them: packs with their index (one still being written has none yet),
        # those listed before in their order, then the others
        packs = {n for n in files if n.endswith(".pack") and n[:-5] + ".idx" in files}
        with open(path, encoding="utf-8", errors="replace") as listed:
            before = [line[2:].rstrip("\n") for line in listed if line.startswith("P ")]
        names = [n for n in before if n in packs]
        names += sorted(packs.difference(names))
        text = "".join(f"P {n}\n" for n in names) + "\n"
        _write_file(info, "packs_", path, text.encode(), False, shared, 0o666)  # as git's


def _write_file(
    directory: str,
    prefix: str,
    final: str,
    data: bytes,
    fsync: bool,
    shared: int,
    mode: int = 0o444,
) -> None:
    """``data`` under git's temporary name (``prefix`` and six characters), then ``final``
    (read-only, as git makes packs and their indexes, unless ``mode`` says otherwise)."""
    for _ in range(_NAME_TRIES):
        tmp = f"{directory}{os.sep}{tmp_name(prefix)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name in {directory}")
    try:
        write_all(fd, data)
        if fsync:
            os.fsync(fd)
        adjust_fd(fd, shared)
    except OSError:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, final)
    except OSError:
        os.unlink(tmp)
        raise
