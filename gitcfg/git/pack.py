"""Packed objects, read in-process: version-2 ``.idx`` files and packs of version 2 or 3.

After 'git gc' most objects a run creation reads are packed; starting cat-file for them costs
1.5-2 ms per run. The reader handles what git writes itself (version-2 .idx with SHA-1 or SHA-256
names, OFS_DELTA and REF_DELTA) and declines anything else, leaving it to cat-file: every object
it returns is re-hashed and must match its name, so a bug or a damaged pack is a fallback, never
bad data. It holds no file descriptor between calls: Python < 3.13 mmaps keep a duplicate fd
open, so it reads with pread and caches only what it has read of each .idx (the fan-out and
touched name buckets), which never changes for a given pack name (git names packs by content).
"""

from __future__ import annotations

import itertools
import os
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from gitcfg.errors import CorruptStoreError
from gitcfg.git.hashes import HashAlgo
from gitcfg.git.loose import header

_IDX_MAGIC = b"\xfftOc"
_IDX_HEADER = 8 + 256 * 4  # magic, version, fan-out table
_PACK_KINDS = {1: "commit", 2: "tree", 3: "blob", 4: "tag"}
KIND_NUMBERS = {kind: number for number, kind in _PACK_KINDS.items()}  # a pack entry's type
_OFS_DELTA = 6
_REF_DELTA = 7
# git itself caps delta chains at 4095; a longer chain (or a loop) means a damaged pack.
_MAX_CHAIN = 10_000
_BASE_CACHE_BYTES = 16 << 20
_BASE_CACHE_ENTRIES = 256
# A small index read this many buckets at a time is then read whole: a store that gc repacked
# incrementally has dozens of small packs, and in a process that records many runs most
# lookups miss in most of them, each miss an open and two preads. A process recording one run
# reads only a few buckets, cheaper than whole indexes.
_WHOLE_AFTER_READS = 8
_WHOLE_INDEX_BYTES = 1 << 20
# Half the names a lookup in a large bucket reads around the name's expected place: over four
# standard deviations of a place's spread at 3,000 names a bucket (sqrt(n)/2, ~27).
_NEAR = 128
# What a pack entry's first read takes: its header and, for a tree or delta of a few hundred
# bytes, the whole deflated stream.
_ENTRY_READ = 1024
_UNSURE = -1  # no pack offset: entries start after the 12-byte header


class _PackMiss(Exception):
    """The pack reader cannot vouch for an object; the caller falls back to cat-file."""


class _Unreadable(_PackMiss):
    """An index the reader does not take (version 1, damaged): its pack is left to cat-file."""


class PackIndex:
    """One version-2 ``.idx`` file: its fan-out table, read when first searched, and name
    buckets on demand. A run reads a few objects, most found in the first pack searched, so
    the other packs' indexes are never opened."""

    def __init__(self, idx_path: Path, rawsz: int = 20) -> None:
        self.idx_path = idx_path
        self.rawsz = rawsz
        self.pack_path = idx_path.with_suffix(".pack")
        self._fanout: tuple[int, ...] | None = None
        self.usable = True

    def _load(self) -> tuple[int, ...]:
        rawsz, idx_path = self.rawsz, self.idx_path
        try:
            fd = os.open(idx_path, os.O_RDONLY)
        except OSError as exc:  # gone since the scan, or out of file descriptors: next time
            raise _Unreadable(f"{idx_path} cannot be opened") from exc
        try:
            stat = os.fstat(fd)
            head = os.pread(fd, _IDX_HEADER, 0)
            self.pack_checksum = os.pread(fd, rawsz, max(0, stat.st_size - 2 * rawsz))
        finally:
            os.close(fd)
        self.usable = False  # until every check below has passed
        # Version 1 has no magic; the fallback reads those packs.
        if len(head) != _IDX_HEADER or head[:8] != _IDX_MAGIC + b"\0\0\0\2":
            raise _Unreadable(f"{idx_path} is not a version-2 pack index")
        fanout: tuple[int, ...] = struct.unpack_from(">256I", head, 8)
        self.count = fanout[255]
        self._names_at = _IDX_HEADER
        self._offsets_at = _IDX_HEADER + (rawsz + 4) * self.count  # after the names and CRC32s
        self._large_at = self._offsets_at + 4 * self.count
        # Names, CRCs and offsets, then up to 8 bytes per object of large offsets, two checksums.
        least = self._large_at + 2 * rawsz
        if not least <= stat.st_size <= least + 8 * self.count:
            raise _Unreadable(f"{idx_path} has the wrong length for {self.count} objects")
        if any(a > b for a, b in itertools.pairwise(fanout)):
            raise _Unreadable(f"{idx_path} has an unsorted fan-out table")
        self._size = stat.st_size
        self._buckets: dict[int, tuple[bytes, bytes]] = {}
        self._whole: bytes | None = None
        self._touched: set[int] = set()  # buckets searched by slices (``_find_near``)
        self.pack_checked = False
        self.usable = True
        self._fanout = fanout
        return fanout

    def find(self, key: bytes) -> int | None:
        """The pack offset of the object named ``key`` (its raw id bytes), or None."""
        byte = key[0]
        if self._fanout is None:
            self._load()
        if byte not in self._buckets and self._whole is None:
            found = self._find_near(key)
            if found != _UNSURE:
                return found
        names, offsets = self._bucket(byte)
        at = _search(names, key, self.rawsz)
        if at < 0:
            return None
        (offset,) = struct.unpack_from(">I", offsets, 4 * at)
        return self._offset(offset)

    def _offset(self, offset: int) -> int:
        if offset & 0x8000_0000:  # an index into the 64-bit table (packs over 2 GiB)
            return self._large_offset(offset & 0x7FFF_FFFF)
        return offset

    def _find_near(self, key: bytes) -> int | None:
        """Look ``key`` up in a slice of its bucket around where it should be; _UNSURE if not sure.

        Object names are uniformly spread, so in a large index (a store gc packed whole has
        ~3,000 names a bucket, 70 kB with their offsets) a name's place in its bucket is known
        to within a few dozen entries: reading 2*_NEAR names and one offset costs a fraction of
        the whole bucket. A bucket searched a second time is read whole and kept.
        """
        assert self._fanout is not None
        byte = key[0]
        first = self._fanout[byte - 1] if byte else 0
        end = self._fanout[byte]
        count = end - first
        if count <= 4 * _NEAR or byte in self._touched:
            return _UNSURE
        self._touched.add(byte)
        rawsz = self.rawsz
        guess = first + ((int.from_bytes(key[1:3], "big") * count) >> 16)
        lo = max(first, guess - _NEAR)
        hi = min(end, guess + _NEAR)
        fd = self._open()
        try:
            names = os.pread(fd, rawsz * (hi - lo), self._names_at + rawsz * lo)
            if len(names) != rawsz * (hi - lo):
                raise _PackMiss(f"{self.idx_path} is truncated")
            at = _search(names, key, rawsz)
            if at < 0:
                place = ~at
                if (place == 0 and lo > first) or (place == hi - lo and hi < end):
                    return _UNSURE  # it may lie outside the slice: search the whole bucket
                return None
            raw = os.pread(fd, 4, self._offsets_at + 4 * (lo + at))
        finally:
            os.close(fd)
        if len(raw) != 4:
            raise _PackMiss(f"{self.idx_path} is truncated")
        (offset,) = struct.unpack(">I", raw)
        return self._offset(offset)

    def _bucket(self, byte: int) -> tuple[bytes, bytes]:
        fanout = self._fanout if self._fanout is not None else self._load()
        cached = self._buckets.get(byte)
        if cached is not None:
            return cached
        first = fanout[byte - 1] if byte else 0
        end = fanout[byte]
        rawsz, names_at, offsets_at = self.rawsz, self._names_at, self._offsets_at
        whole = self._whole
        small = self._size <= _WHOLE_INDEX_BYTES
        if whole is None and small and len(self._buckets) >= _WHOLE_AFTER_READS:
            whole = self._whole = self._read_whole()
            self._buckets.clear()  # slices of the whole index are cheap: hold it once
        if whole is not None:
            names = whole[names_at + rawsz * first : names_at + rawsz * end]
            offsets = whole[offsets_at + 4 * first : offsets_at + 4 * end]
            return names, offsets
        fd = self._open()
        try:
            names = os.pread(fd, rawsz * (end - first), names_at + rawsz * first)
            offsets = os.pread(fd, 4 * (end - first), offsets_at + 4 * first)
        finally:
            os.close(fd)
        if len(names) != self.rawsz * (end - first) or len(offsets) != 4 * (end - first):
            raise _PackMiss(f"{self.idx_path} is truncated")
        self._buckets[byte] = bucket = (names, offsets)
        return bucket

    def _read_whole(self) -> bytes:
        fd = self._open()
        try:
            whole = os.pread(fd, self._size, 0)
        finally:
            os.close(fd)
        if len(whole) != self._size:
            raise _PackMiss(f"{self.idx_path} is truncated")
        return whole

    def _large_offset(self, index: int) -> int:
        at = self._large_at + 8 * index
        if at + 8 > self._size - 2 * self.rawsz:
            raise _PackMiss(f"{self.idx_path} points past its large-offset table")
        fd = self._open()
        try:
            raw = os.pread(fd, 8, at)
        finally:
            os.close(fd)
        (offset,) = struct.unpack(">Q", raw)
        return int(offset)

    def _open(self) -> int:
        fd = os.open(self.idx_path, os.O_RDONLY)
        if os.fstat(fd).st_size != self._size:  # replaced since the fan-out was read
            os.close(fd)
            raise _PackMiss(f"{self.idx_path} changed")
        return fd


class PackStore:
    """The objects in ``<objects>/pack``, read in-process; see the module docstring.

    ``read_loose`` reads a loose object (None if there is none): a REF_DELTA base may be loose.
    """

    def __init__(
        self,
        objects_dir: Path,
        algo: HashAlgo,
        read_loose: Callable[[str], tuple[str, bytes] | None],
    ) -> None:
        self._pack_dir = objects_dir / "pack"
        self._algo = algo
        self._read_loose = read_loose
        self._packs: list[PackIndex] | None = None
        self._known: dict[tuple[str, int, int, int], PackIndex] = {}
        # Resolved delta bases by (pack, offset): neighbouring objects share their bases.
        self._bases: OrderedDict[tuple[Path, int], tuple[int, bytes]] = OrderedDict()
        self._base_bytes = 0
        # Reentrant: resolving a REF_DELTA looks its base up through the same store.
        self._lock = threading.RLock()

    def read(self, sha: str) -> tuple[str, bytes] | None:
        """Object ``sha`` as (kind, body) if a pack holds it and it checks out, else None."""
        if not self._algo.is_id(sha):
            return None
        key = bytes.fromhex(sha)
        with self._lock:
            fresh = self._packs is None
            if self._packs is None:
                self._packs = self._scan()
            while True:
                fds: dict[Path, int] = {}
                try:
                    found = self._find(key, fds, 0)
                except FileNotFoundError:
                    found = None  # a pack deleted by gc since the scan: rescan below
                except (_PackMiss, CorruptStoreError, OSError, zlib.error, ValueError, IndexError):
                    return None
                finally:
                    for fd in fds.values():
                        os.close(fd)
                if found is not None:
                    kind, body = found
                    # The final check that makes a bug or a damaged pack a fallback, not bad data.
                    if self._algo.digest(header(kind, len(body)) + body) != key:
                        return None
                    return found
                if fresh:
                    return None
                self._packs, fresh = self._scan(), True  # new packs appear after gc

    def _scan(self) -> list[PackIndex]:
        found: list[tuple[tuple[int, int], PackIndex]] = []
        known: dict[tuple[str, int, int, int], PackIndex] = {}
        try:
            entries = list(os.scandir(self._pack_dir))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.name.endswith(".idx"):
                continue
            try:
                stat = entry.stat()
            except OSError:
                continue
            ident = (entry.name, stat.st_ino, stat.st_size, stat.st_mtime_ns)
            pack = self._known.get(ident) or PackIndex(Path(entry.path), self._algo.rawsz)
            known[ident] = pack
            found.append(((stat.st_size, stat.st_mtime_ns), pack))
        self._known = known
        # The largest index first, then the newest (until ``_find`` moves the last pack found
        # to the front): a run reads the trees on its path. The deep ones were last written at
        # any time since the store began, so most are in the pack gc made of everything; the
        # shallower ones are rewritten often, so they are in the latest incremental packs, if
        # not loose.
        found.sort(key=lambda item: -item[0][1])
        if found:
            largest = max(range(len(found)), key=lambda i: found[i][0][0])
            found.insert(0, found.pop(largest))
        return [pack for _, pack in found]

    def _find(self, key: bytes, fds: dict[Path, int], depth: int) -> tuple[str, bytes] | None:
        packs = self._packs
        assert packs is not None
        for at, pack in enumerate(packs):
            if not pack.usable:
                continue
            try:
                offset = pack.find(key)
            except _Unreadable:
                continue  # version 1 or damaged: cat-file reads that pack's objects
            if offset is not None:
                if at:
                    # The pack that held the last object is searched first next time, as git
                    # does (packfile.c, the MRU list): a run's trees sit together in one pack,
                    # and each other pack searched first is an index bucket read for a miss.
                    packs.insert(0, packs.pop(at))
                kind, body = self._resolve(pack, offset, fds, depth)
                return _PACK_KINDS[kind], body
        return None

    def _resolve(
        self, pack: PackIndex, offset: int, fds: dict[Path, int], depth: int
    ) -> tuple[int, bytes]:
        """Kind number and body of the entry at ``offset``, its delta chain applied."""
        chain: list[tuple[int, bytes]] = []  # (offset, delta), outermost first
        while True:
            if depth + len(chain) > _MAX_CHAIN:
                raise _PackMiss(f"delta chain too long in {pack.pack_path}")
            cached = self._bases.get((pack.pack_path, offset))
            if cached is not None:
                self._bases.move_to_end((pack.pack_path, offset))
                kind, data = cached
                break
            kind, payload, base = self._entry(pack, offset, fds)
            if kind == _OFS_DELTA:
                assert isinstance(base, int)
                chain.append((offset, payload))
                offset = base
                continue
            if kind == _REF_DELTA:
                assert isinstance(base, bytes)
                chain.append((offset, payload))
                kind, data = self._ref_base(pack, base, fds, depth + len(chain))
                break
            data = payload
            break
        for at, delta in reversed(chain):
            data = apply_delta(data, delta)
            self._remember(pack.pack_path, at, kind, data)
        return kind, data

    def _ref_base(
        self, pack: PackIndex, key: bytes, fds: dict[Path, int], depth: int
    ) -> tuple[int, bytes]:
        # The same pack first (the usual case), then loose, then the other packs.
        offset = pack.find(key)
        if offset is not None:
            return self._resolve(pack, offset, fds, depth)
        found = self._read_loose(key.hex())
        if found is None:
            found = self._find(key, fds, depth)
        if found is None or found[0] not in KIND_NUMBERS:
            raise _PackMiss(f"delta base {key.hex()} is not in-process")
        return KIND_NUMBERS[found[0]], found[1]

    def _entry(
        self, pack: PackIndex, offset: int, fds: dict[Path, int]
    ) -> tuple[int, bytes, int | bytes | None]:
        """Kind number, inflated payload and delta base (offset or name) of one pack entry."""
        fd = self._pack_fd(pack, fds)
        # One read for the entry's header (a size varint of <= 10 bytes and a base name fit in
        # 48) and, for most entries, all of its deflated data: a tree of a run's path is found
        # at the end of a delta chain of ~5 entries, each read and inflated in turn.
        head = os.pread(fd, _ENTRY_READ, offset)
        if len(head) < 2:
            raise _PackMiss(f"an entry runs past the end of {pack.pack_path}")
        byte = head[0]
        kind = (byte >> 4) & 7
        size = byte & 0x0F
        shift, at = 4, 1
        while byte & 0x80:
            byte = head[at]
            size |= (byte & 0x7F) << shift
            shift, at = shift + 7, at + 1
            if at > 10:
                raise _PackMiss("entry size does not fit in 64 bits")
        base: int | bytes | None = None
        if kind == _OFS_DELTA:
            # Big-endian base-128 distance back, with an implicit +1 per continuation byte.
            byte = head[at]
            distance = byte & 0x7F
            at += 1
            while byte & 0x80:
                byte = head[at]
                distance = ((distance + 1) << 7) | (byte & 0x7F)
                at += 1
            base = offset - distance
            if distance <= 0 or base < 12:
                raise _PackMiss(f"bad delta base offset in {pack.pack_path}")
        elif kind == _REF_DELTA:
            base = head[at : at + pack.rawsz]
            at += pack.rawsz
            if len(base) != pack.rawsz:
                raise _PackMiss(f"truncated entry in {pack.pack_path}")
        elif kind not in _PACK_KINDS:
            raise _PackMiss(f"unknown entry type {kind} in {pack.pack_path}")
        return kind, _inflate(fd, offset + len(head), size, head[at:]), base

    def _pack_fd(self, pack: PackIndex, fds: dict[Path, int]) -> int:
        fd = fds.get(pack.pack_path)
        if fd is not None:
            return fd
        fd = os.open(pack.pack_path, os.O_RDONLY)
        fds[pack.pack_path] = fd
        if not pack.pack_checked:
            # The pack must be the one its index describes: header, object count, checksum.
            head = os.pread(fd, 12, 0)
            trailer = os.pread(fd, pack.rawsz, os.fstat(fd).st_size - pack.rawsz)
            version, count = struct.unpack(">II", head[4:]) if len(head) == 12 else (0, -1)
            if head[:4] != b"PACK" or version not in (2, 3) or count != pack.count:
                raise _PackMiss(f"{pack.pack_path} does not match its index")
            if trailer != pack.pack_checksum:
                raise _PackMiss(f"{pack.pack_path} checksum differs from its index")
            pack.pack_checked = True
        return fd

    def _remember(self, pack_path: Path, offset: int, kind: int, data: bytes) -> None:
        if len(data) > _BASE_CACHE_BYTES // 4:
            return
        key = (pack_path, offset)
        previous = self._bases.pop(key, None)
        if previous is not None:
            self._base_bytes -= len(previous[1])
        self._bases[key] = (kind, data)
        self._base_bytes += len(data)
        while self._base_bytes > _BASE_CACHE_BYTES or len(self._bases) > _BASE_CACHE_ENTRIES:
            _, (_, dropped) = self._bases.popitem(last=False)
            self._base_bytes -= len(dropped)


def _inflate(fd: int, offset: int, size: int, data: bytes) -> bytes:
    """Inflate the zlib stream that must yield exactly ``size`` bytes: it starts with ``data``,
    already read, and goes on at ``offset``."""
    stream = zlib.decompressobj()
    parts: list[bytes] = []
    produced = 0
    # Deflate adds a few bytes per block at worst, so size + 64 is usually the whole stream.
    chunk = min(size + 64, 1 << 20)
    while not stream.eof:
        if stream.unconsumed_tail:
            data = stream.unconsumed_tail
        elif not data:
            data = os.pread(fd, chunk, offset)
            if not data:
                raise _PackMiss("pack entry runs past the end of the pack")
            offset += len(data)
        part = stream.decompress(data, size + 1 - produced)  # never more than one byte too many
        data = b""
        produced += len(part)
        parts.append(part)
        if produced > size:
            raise _PackMiss("pack entry inflates to more than its stated size")
    if produced != size:
        raise _PackMiss("pack entry inflates to less than its stated size")
    return b"".join(parts)


def _search(names: bytes, key: bytes, rawsz: int) -> int:
    """Index of ``key`` among the sorted ``rawsz``-byte ``names``, else ~(where it would go)."""
    lo, hi = 0, len(names) // rawsz
    while lo < hi:
        mid = (lo + hi) // 2
        name = names[rawsz * mid : rawsz * mid + rawsz]
        if name < key:
            lo = mid + 1
        elif name > key:
            hi = mid
        else:
            return mid
    return ~lo


def _delta_varint(delta: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = delta[at]
        value |= (byte & 0x7F) << shift
        shift, at = shift + 7, at + 1
        if not byte & 0x80:
            return value, at


def apply_delta(base: bytes, delta: bytes) -> bytes:
    """The object that git's delta format ``delta`` builds from ``base``."""
    source_size, at = _delta_varint(delta, 0)
    target_size, at = _delta_varint(delta, at)
    if source_size != len(base):
        raise _PackMiss("delta base has the wrong size")
    source = memoryview(base)
    out = bytearray()
    end = len(delta)
    while at < end:
        op = delta[at]
        at += 1
        if op & 0x80:  # copy from the base: bits 0-3 say which offset bytes follow, 4-6 size
            offset = length = 0
            for bit in range(4):
                if op & (1 << bit):
                    offset |= delta[at] << (8 * bit)
                    at += 1
            for bit in range(3):
                if op & (0x10 << bit):
                    length |= delta[at] << (8 * bit)
                    at += 1
            length = length or 0x10000
            if offset + length > source_size:
                raise _PackMiss("delta copies past the end of its base")
            out += source[offset : offset + length]
        elif op:  # insert the next ``op`` bytes of the delta
            if at + op > end:
                raise _PackMiss("delta inserts past its own end")
            out += delta[at : at + op]
            at += op
        else:
            raise _PackMiss("delta holds the reserved opcode 0")
        if len(out) > target_size:
            raise _PackMiss("delta builds more than its stated size")
    if len(out) != target_size:
        raise _PackMiss("delta builds less than its stated size")
    return bytes(out)
