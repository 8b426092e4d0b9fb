"""Listing runs: 100,000 runs as compact JSON texts, read from a cache of shard subtrees.

The branch is sharded ``project/a/b/c/d/id`` (``gitcfg.layout``). Each subtree three shard levels
down (``project/a/b/c``, at most 4,096 per project) is a unit of the cache: its listing rows,
keyed by its path and tree id, are one row of the blob cache's database. A listing reads the
trees down to that level in-process (a few hundred small objects), looks every subtree up,
and reads only the subtrees the cache does not have (all of them when it is cold): their files
come from one ``git ls-tree -r`` read as it arrives and ``git cat-file --batch``, and config
files in the form gitcfg writes are turned into JSON text without a YAML parser
(``gitcfg.flatjson``). Many missed subtrees are split with a forked copy of the process
(``gitcfg.forkread``), which reads half and streams its rows back: the conversion is Python's,
one core a process. An unchanged subtree is never read again; a new run costs re-reading
only the few runs that share its subtree. A caller that keeps a text of its own per subtree
(the table's cells, ``also_cache``) gets it made as the subtrees are read, or has them read
for its texts alone (``read_also``): then files in the plain form are handed over as they
are, and no row is made.

A run is kept as a ``ListedRow``: its row as JSON text, exactly what ``gitcfg runs --format
json`` prints, and its meta.yaml as JSON text; callers decode only what they need.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import json
import operator
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring as encode_string
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from gitcfg import forkread, yamlcodec
from gitcfg.blobcache import BlobCache
from gitcfg.errors import CorruptStoreError, YamlError
from gitcfg.flatjson import encode, fast_json, fast_json_many, plain_lines, to_json
from gitcfg.git import ObjectReader
from gitcfg.git.catfile import BlobStream
from gitcfg.git.process import git_command, git_env, widen_pipe
from gitcfg.layout import (
    CONFIG_FILE,
    META_FILE,
    RUN_DEPTH,
    SUMMARY_FILE,
    RunRef,
    check_store_root,
    parse_run_dir,
)
from gitcfg.query import meta_members
from gitcfg.starttime import start_order

if TYPE_CHECKING:
    from gitcfg.git import GitRepo

PAGE = 1000  # runs decoded at once by ``pages``
CACHE_LEVELS = 3  # shard levels below a project whose subtrees are the cache's units
_CHUNK = 2000  # runs whose files are read and converted at once on a cache miss
_PATHSPECS = 500  # more missed subtrees than this: list their top shard directories instead
# Missed subtrees from which a forked copy reads half (a cold cache over ~1,200 runs or more)
_FORK_SUBTREES = 1024
# The share of them the copy reads when it sends its rows back: a little less than half, as it
# also writes them to the pipe and sorts them (with half, it ended 150-400 ms after this side on
# a loaded machine). A copy that sends nothing (a cold table's texts) reads half: this side
# reads its texts from the cache once it has ended.
_COPY_SHARE = 0.47
_SHARDS = 16  # directories a shard directory holds (one a hex digit)

_READ_SIZE = 1 << 20
# The separator of a cached subtree's fields (id, start time, row of each run; meta files): JSON
# text never holds a raw control character.
_SEP = "\x1f"
_META = "#meta"  # a subtree's meta files are cached under its key and this


class ListedRow(NamedTuple):
    """A run of a listing as JSON text: ``text`` is its row exactly as ``gitcfg runs --format
    json`` prints it (``json.dumps(query.run_row(...))``), ``meta`` its meta.yaml (``{}`` if it
    has none, ``''`` when the listing was asked not to keep it). Rows sort oldest first (start
    time, then project and id)."""

    order: str  # meta.yaml's start time in UTC (starttime.start_order; '' when absent)
    project: str
    id: str
    text: str
    meta: str

    @property
    def ref(self) -> RunRef:
        return RunRef(self.project, self.id)

    def row(self) -> dict[str, Any]:
        """The run's row decoded (``query.run_row``'s shape)."""
        decoded: dict[str, Any] = json.loads(self.text)
        return decoded

    def decoded(self) -> ListedRun:
        """The run with its config, meta and summary as dicts of its own."""
        row = self.row()
        meta = json.loads(self.meta) if self.meta else {}
        return ListedRun(self, row["config"], meta, row["summary"])


class ListedRun(NamedTuple):
    """A run of a listing page, decoded: its listed row, config, meta and summary as dicts."""

    entry: ListedRow
    config: dict[str, Any]
    meta: dict[str, Any]
    summary: dict[str, Any]


def parse_blobs(
    reader: ObjectReader,
    blobs: Sequence[str],
    sources: Mapping[str, str],
    invalid: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Read ``blobs`` through cat-file and parse each as a config file (``sources`` name them).

    A file that does not parse is a ``CorruptStoreError`` naming it, raised once every blob
    has been read (cat-file must be drained before it can be stopped); given ``invalid``, it
    is recorded there instead (``{blob: message}``) and left out of the result.
    """
    fresh: dict[str, dict[str, Any]] = {}
    error: YamlError | None = None
    for blob, _kind, body in reader.read_many(blobs):
        try:
            fresh[blob] = yamlcodec.load_config(body.decode("utf-8", "replace"), sources[blob])
        except YamlError as exc:
            if invalid is not None:
                invalid[blob] = f"{exc.source} is not valid: {exc.problem}"
            else:
                error = error or exc
    if error is not None:
        raise CorruptStoreError(f"{error.source} is not valid: {error.problem}") from error
    return fresh


class Head(NamedTuple):
    """What a run's meta.yaml gives its row: its sort order (its start time in UTC,
    ``starttime.start_order``; '' if none), and as JSON text the row's start time
    (``created``) and its members after it (``"code_commit": ..., "notes": ...``)."""

    order: str
    created: str
    rest: str

    def members(self) -> str:
        """The row's members from meta.yaml, as JSON text."""
        return f'"created": {self.created}, {self.rest}'


def _head(meta: Mapping[str, Any]) -> Head:
    """A run's ``Head`` from its parsed meta.yaml."""
    members = meta_members(meta)
    created = encode(members.pop("created"))
    return Head(start_order(str(meta.get("started") or "")), created, encode(members)[1:-1])


# The members of a meta file's JSON text that make a row's fixed columns. Only for text from
# flatjson's fast path, where no string holds a quote and no list a bracket.
_HEAD_MEMBER = re.compile(
    r'"(code_commit|dirty|name|group|job_type|tags|notes)": ("[^"]*"|\[[^\]]*\]|[^,}]*)'
)
_STARTED = '"started": '
_UNSEEN = ""  # no tail is empty


def _fast_head(meta: str, tails: dict[str, str | None]) -> tuple[str, str, str] | None:
    """A run's ``Head`` (its fields, as a plain tuple: one is made a run) from its meta
    file's fast-path JSON text, None if a value needs more than its text (a start time or
    dirty flag that is not a string, a bool or null).

    Runs differ in their start time and share the rest (host, code commit...): the head's
    other members are made once per distinct rest of the text, kept in ``tails``."""
    at = meta.find(_STARTED)
    if at < 0:
        order, started, rest = "", "null", meta
    else:
        start = at + len(_STARTED)
        if meta.startswith('"', start):
            end = meta.index('"', start + 1) + 1
            order = start_order(meta[start + 1 : end - 1])
        elif meta.startswith("null", start):
            end = start + 4
            order = ""
        else:
            return None
        started = meta[start:end]
        rest = meta[:at] + meta[end:]
    tail = tails.get(rest, _UNSEEN)
    if tail == _UNSEEN:
        tail = tails[rest] = _head_tail(rest)
    return None if tail is None else (order, started, tail)


def _head_tail(meta: str) -> str | None:
    """The members of a row's head after its start time, from a meta file's fast-path JSON
    text; None if its dirty flag is not a bool or null."""
    members = dict(_HEAD_MEMBER.findall(meta))
    dirty = members.get("dirty", "false")
    if dirty not in ("true", "false", "null"):
        return None
    get = members.get
    return (
        f'"code_commit": {get("code_commit", "null")}, '
        f'"dirty": {"true" if dirty == "true" else "false"}, "name": {get("name", "null")}, '
        f'"group": {get("group", "null")}, "job_type": {get("job_type", "null")}, '
        f'"tags": {get("tags", "null")}, "notes": {get("notes", "null")}'
    )


_STARTED_LINE = "\nstarted: "


def _meta_head(text: str, slow: bool, tails: dict[str, str | None]) -> tuple[str, str, str]:
    """A run's ``Head`` (its fields) from its meta file's JSON text (``slow``: the loader's,
    not flatjson's fast path); ``tails`` as ``_fast_head`` keeps them."""
    fast = None if slow else _fast_head(text, tails)
    return _head(json.loads(text)) if fast is None else fast


def _line_heads(metas: Sequence[str]) -> list[Head | None]:
    """The ``Head`` of each meta file from its lines, not its JSON, or None where it needs
    more (a file, or a start time, not in the plain form; a start time neither a quoted
    string nor null): the start time's line is cut out, and the rest, which runs share but
    for a few, made JSON once per distinct rest."""
    values: list[str] = []  # each file's start time as written (null: none; '': no line end)
    rests: list[str] = []
    for meta in metas:
        before, found, after = ("\n" + meta).partition(_STARTED_LINE)
        if not found:
            values.append("null")
            rests.append(meta)
            continue
        value, newline, after = after.partition("\n")
        values.append(value if newline else "")
        rests.append(before[1:] + "\n" + after if before else after)
    lined = iter(plain_lines([f"started: {value}\n" for value in values if value]))
    plain = [bool(value) and next(lined) for value in values]
    tails = {rest: _rest_tail(rest) for rest in set(rests)}
    return [
        None
        if not sound or (members := tails[rest]) is None
        else Head("", value, members)
        if value == "null"
        # a quoted string in the plain form: its text is its JSON's
        else Head(start_order(value[1:-1]), f'"{value[1:-1]}"', members)
        if value[:1] == "'"
        else None
        for value, rest, sound in zip(values, rests, plain, strict=True)
    ]


def _rest_tail(rest: str) -> str | None:
    """``_head_tail`` of a meta file's lines but its start time's, None if not in the plain
    form or holding another start time."""
    text = fast_json(rest) if rest else "{}"
    if text is None or '"started' in text:
        return None
    return _head_tail(text)


class ReadRun(NamedTuple):
    """A run as read from git, for a caller that keeps a text of its own per subtree
    (``RunListing.also_cache``): its project, id and ``Head``, and its config and summary
    files: when ``plain``, their texts, each in flatjson's plain form line by line (``""``:
    it has none; its keys are not checked, see ``plainform.sound_keys``), else their JSON texts."""

    project: str
    id: str
    head: Head
    config: str
    summary: str
    plain: bool


# What a caller keeps per subtree (``RunListing.also_cache``): the suffix of its cache key,
# and what makes the texts of a chunk's subtrees from their runs (None: not cached).
AlsoCache = tuple[str, Callable[[Sequence[Sequence[ReadRun]]], list[str | None]]]

# A run directory found by ls-tree: the run, its path and its files {name: blob}.
_RunFiles = tuple[RunRef, str, dict[str, str]]


class _Chunk(NamedTuple):
    """Runs of whole subtrees read together, and their blobs ``{blob: source}`` in the order
    they were asked of cat-file: config and summary files, then meta files."""

    runs: list[_RunFiles]
    sources: dict[str, str]
    metas: dict[str, str]


# What a read makes of each chunk (listing rows, or a caller's texts): from the chunk, the
# stream of its files, the missed subtrees ``{path: cache key}`` and the cache writer's queue.
_R = TypeVar("_R", bound=tuple[str, ...])
_Convert = Callable[
    [_Chunk, BlobStream, Mapping[str, str], "queue.Queue[dict[str, str] | None]"], list[_R]
]


def _dropped(made: Iterable[Sequence[str]]) -> None:
    """A forked copy's sink when nothing it makes is sent back (it is in the cache)."""


def _json_of(
    bodies: Mapping[str, str], sources: Mapping[str, str], slow: set[str]
) -> dict[str, str]:
    """Files ``{blob: text}`` as JSON text (``gitcfg.flatjson``; ``sources`` name them); those
    the loader read are added to ``slow``. A file that does not parse is a
    ``CorruptStoreError``."""
    blobs = list(bodies)
    texts = fast_json_many(list(bodies.values()))
    for i, text in enumerate(texts):
        if text is None:
            blob = blobs[i]
            slow.add(blob)
            try:
                texts[i] = to_json(bodies[blob], sources[blob])
            except YamlError as exc:
                raise CorruptStoreError(f"{exc.source} is not valid: {exc.problem}") from exc
    return dict(zip(blobs, texts, strict=True))  # type: ignore[arg-type]


def tree_runs(repo: GitRepo, tip: str, pathspecs: Sequence[str] = ()) -> Iterator[_RunFiles]:
    """Each run directory at ``tip`` (under ``pathspecs``): the run, its path and its files
    ``{name: blob}``, as ``git ls-tree -r`` lists them, read as they arrive."""
    args = ["ls-tree", "-r", "-z", "--full-tree", tip]
    if pathspecs:
        args += ["--", *pathspecs]
    hexsz = repo.algo.hexsz
    proc = subprocess.Popen(
        git_command(args), cwd=repo.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=git_env({"GIT_LITERAL_PATHSPECS": "1"}),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    widen_pipe(proc.stdout.fileno())
    last_dir = ""
    ref: RunRef | None = None
    files: dict[str, str] = {}
    rest = b""
    try:
        while True:
            chunk = proc.stdout.read(_READ_SIZE)
            if not chunk:
                break
            complete, _, rest = (rest + chunk).rpartition(b"\0")
            # decoded a piece at a time, not an entry at a time ('\0' is no part of a
            # multi-byte character, so the names are the same)
            for item in complete.decode("utf-8", "surrogateescape").split("\0"):
                info, _, path = item.partition("\t")
                directory, _, name = path.rpartition("/")
                if name != CONFIG_FILE and name != META_FILE and name != SUMMARY_FILE:
                    continue
                if directory != last_dir:  # a run's files are listed one after the other
                    if ref is not None and files:
                        yield ref, last_dir, files
                    last_dir, ref, files = directory, parse_run_dir(directory), {}
                if ref is not None:
                    files[name] = info[-hexsz:]
        if ref is not None and files:
            yield ref, last_dir, files
    finally:
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.wait() != 0 and sys.exc_info()[0] is None:
            detail = err.decode(errors="replace").strip().splitlines()
            raise CorruptStoreError(
                f"cannot list {tip}: {detail[-1] if detail else 'ls-tree failed'}"
            )


def _write_cache(cache: BlobCache, writes: queue.Queue[dict[str, str] | None]) -> None:
    """The cache writer thread: a connection of its own (SQLite's are not shared)."""
    own = BlobCache(cache.path.parent, max_entries=cache.max_entries, shared=cache.shared)
    try:
        while (packed := writes.get()) is not None:
            # it is only a cache: whatever goes wrong here must not stop the listing, nor
            # leave the converting thread waiting on a full queue
            with contextlib.suppress(Exception):
                own.add_subtrees(packed)
    finally:
        own.close()


def _subtree_of(directory: str) -> str:
    """The cached subtree (``project/a/b/c``) holding a run directory (``project/a/b/c/d/id``)."""
    return directory.rsplit("/", RUN_DEPTH - CACHE_LEVELS - 1)[0]


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Python's cycle collector paused: reading 100,000 runs makes millions of small objects,
    none in a cycle, and the collector would walk them all again and again (~5% of the time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _prefix(path: str, level: int = 1) -> str:
    """A cached subtree's shard directory ``level`` levels down (``project/a`` of
    ``project/a/b/c`` at level 1)."""
    return path.rsplit("/", CACHE_LEVELS - level)[0]


def _pathspecs(missed: Iterable[str]) -> list[str]:
    """What ls-tree is asked to list for subtrees ``missed``: each, if few; else their top
    shard directories (at most 16 a project), but a top directory only some of whose second
    level ones hold them by these (``_halves`` may split one); the whole tree past that.
    (Each pathspec costs git a little on every entry it lists.)"""
    paths = sorted(missed)
    if len(paths) <= _PATHSPECS:
        return [path + "/" for path in paths]
    found = []
    for top, below in itertools.groupby(paths, _prefix):
        seconds = sorted({_prefix(path, 2) + "/" for path in below})
        found += seconds if len(seconds) < _SHARDS else [top + "/"]
    if len(found) <= _PATHSPECS:
        return found
    tops = sorted({_prefix(path) + "/" for path in paths})
    return tops if len(tops) <= _PATHSPECS else []


def _halves(missed: Mapping[str, str], share: float) -> tuple[dict[str, str], dict[str, str]]:
    """``missed`` split in two by second level shard directory (whole, as ls-tree lists them),
    the second part, for a forked copy, about ``share`` of the subtrees (runs are spread
    evenly over them by their ids' digests)."""
    halves: tuple[dict[str, str], dict[str, str]] = ({}, {})
    mine = len(missed) - round(len(missed) * share)
    for _directory, paths in itertools.groupby(sorted(missed), lambda p: _prefix(p, 2)):
        half = halves[0] if len(halves[0]) < mine else halves[1]
        half.update((path, missed[path]) for path in paths)
    return halves


_ORDER = operator.itemgetter(0)  # a row's start time (``ListedRow.order``)


def _sort_rows(rows: list[ListedRow]) -> None:
    """Sort ``rows`` as they compare (``ListedRow``: start time, then project and id): by
    their start times alone when no two are the same, as most are not (comparing strings, not
    tuples of them, takes a fraction of the time: a cold listing sorts 100,000 rows)."""
    rows.sort(key=_ORDER)
    orders = list(map(_ORDER, rows))
    if any(map(operator.eq, orders, itertools.islice(orders, 1, None))):
        rows.sort()  # two rows started at once: their project and id order them


_CACHED_FIELDS = operator.itemgetter(2, 0, 3)  # a row's id, order and text


def _pack(rows: Sequence[ListedRow], meta_texts: Sequence[str]) -> tuple[str, str] | None:
    """A subtree's rows and their meta files as two cache texts; None if a field holds the
    separator (then it is not cached)."""
    runs = _SEP.join(itertools.chain.from_iterable(map(_CACHED_FIELDS, rows)))
    metas = _SEP.join(meta_texts)
    if runs.count(_SEP) != 3 * len(rows) - 1 or metas.count(_SEP) != len(rows) - 1:
        return None
    return runs, metas


def _unpack(project: str, runs: str, metas: str | None) -> list[ListedRow] | None:
    """The rows of cache texts (``metas`` None: not kept); None if they are not such texts."""
    if not runs:
        return []
    flat = runs.split(_SEP)
    count = len(flat) // 3
    if len(flat) != 3 * count:
        return None
    meta: Iterable[str] = itertools.repeat("", count)
    if metas is not None:
        meta = metas.split(_SEP)
        if len(meta) != count:
            return None
    projects = itertools.repeat(project, count)
    fields = zip(flat[1::3], projects, flat[0::3], flat[2::3], meta, strict=True)
    return list(itertools.starmap(ListedRow, fields))


class RunListing:
    """The runs at one tip of the branch (of one project); see the module docstring.

    ``meta=False`` leaves each run's meta.yaml out (its fixed columns are in the row), as
    ``gitcfg runs`` prints no more of it: the cache's meta texts are not even read.
    """

    def __init__(
        self,
        repo: GitRepo,
        branch: str,
        tip: str | None,
        cache: BlobCache,
        project: str | None,
        *,
        meta: bool = True,
    ) -> None:
        self.repo = repo
        self.branch = branch
        self.tip = tip
        self.cache = cache
        self.project = project
        self.keep_meta = meta
        self._rows: list[ListedRow] | None = None
        self._reader: ObjectReader | None = None
        self._subtree_keys: dict[str, str] | None = None
        # Set by a caller that keeps a text of its own per subtree (``gitcfg.tablecells``):
        # made from the subtrees as they are read from git, a chunk's at once, cached under
        # each subtree's key and the suffix (None: not cached).
        self.also_cache: AlsoCache | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.cache.close()

    def __enter__(self) -> RunListing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the rows ------------------------------------------------------------------------

    @property
    def rows(self) -> list[ListedRow]:
        """Every run, oldest first (by start time, then project and id)."""
        if self._rows is None:
            self._rows = self._read_rows()
        return self._rows

    def __len__(self) -> int:
        return len(self.rows)

    def forget_rows(self) -> None:
        """Let go of the rows read (read again if asked for): their memory is freed once the
        caller holds none of them either."""
        self._rows = None

    def subtree_keys(self) -> dict[str, str]:
        """``{path: cache key}`` of the subtrees holding the runs (``project/a/b/c``: the key
        holds its tree id, so what is cached under it is never stale); no run is read."""
        if self._subtree_keys is None:
            subtrees = self._subtrees() if self.tip is not None else []
            self._subtree_keys = {path: f"{path}:{tree}" for path, tree in subtrees}
        return self._subtree_keys

    def batches(self, paths: Sequence[str] | None = None) -> Iterator[list[str]]:
        """The paths of ``subtree_keys`` (or ``paths`` of them) a batch at a time, for a caller
        that reads them with ``rows_of`` so as never to hold every run: a batch is as big as
        a cold read that the listing splits with a forked copy."""
        paths = list(self.subtree_keys() if paths is None else paths)
        for start in range(0, len(paths), _FORK_SUBTREES):
            yield paths[start : start + _FORK_SUBTREES]

    def rows_of(self, paths: Iterable[str]) -> list[ListedRow]:
        """The runs of the subtrees ``paths`` alone (of ``subtree_keys``), in no set order."""
        keys = self.subtree_keys()
        return self._rows_of({keys[path]: path for path in paths})

    def read_also(self, paths: Iterable[str]) -> dict[str, str]:
        """Read the subtrees ``paths`` (of ``subtree_keys``) from git for ``also_cache``'s texts
        alone: they are made and cached, no listing rows (a listing that needs the rows reads
        the files again). ``{path: text}`` of the texts made in this process; those of a
        forked copy's half are in the cache only, and a subtree whose text was not made (a
        file that ``also_cache`` cannot show) is in neither."""
        keys = self.subtree_keys()
        missed = {path: keys[path] for path in paths}
        with _no_cycle_collection():
            made, helper, theirs = self._read_split(missed, self._convert_also, back=False)
            if helper is not None and helper.records() is None:  # the copy failed
                made += self._read_here(theirs, self._convert_also)
        return dict(made)

    def _read_rows(self) -> list[ListedRow]:
        found = self._rows_of({key: path for path, key in self.subtree_keys().items()})
        _sort_rows(found)
        return found

    def _rows_of(self, paths: dict[str, str]) -> list[ListedRow]:
        """The runs of subtrees ``{cache key: path}``: from the cache, the rest read."""
        texts = dict(self.cache.subtree_texts(paths))
        metas = dict(self.cache.subtree_texts(k + _META for k in texts)) if self.keep_meta else {}
        found: list[ListedRow] = []
        missed: dict[str, str] = {}  # path -> cache key
        for key, path in paths.items():
            runs = texts.pop(key, None)  # each text freed once split: half the peak memory
            rows = None
            if runs is not None and (not self.keep_meta or key + _META in metas):
                meta = metas.pop(key + _META) if self.keep_meta else None
                rows = _unpack(path.partition("/")[0], runs, meta)
            if rows is None:
                missed[path] = key
            else:
                found.extend(rows)
        if missed:
            with _no_cycle_collection():
                found.extend(self._read_subtrees(missed))
        return found

    def _subtrees(self) -> list[tuple[str, str]]:
        """``(path, tree id)`` of every shard subtree ``CACHE_LEVELS`` below a project."""
        assert self.tip is not None
        reader = self._object_reader()
        root = self.repo.read_commit(self.tip, reader).tree
        entries = self.repo.read_tree(root, reader)
        # never list someone's own branch as runs
        check_store_root(self.branch, entries, lambda sha: self.repo.read_tree(sha, reader))
        level = [
            (e.name, e.sha)
            for e in entries
            if e.is_tree and (self.project is None or e.name == self.project)
        ]
        for _ in range(CACHE_LEVELS):
            level = [
                (f"{path}/{e.name}", e.sha)
                for path, sha in level
                for e in self.repo.read_tree(sha, reader)
                if e.is_tree
            ]
        return level

    def _object_reader(self) -> ObjectReader:
        if self._reader is None:
            self._reader = ObjectReader(self.repo)
        return self._reader

    # -- reading subtrees the cache does not have ----------------------------------------

    def _read_subtrees(self, missed: Mapping[str, str]) -> list[ListedRow]:
        """The rows of the ``missed`` subtrees ``{path: cache key}``, read and cached; many
        of them are split with a forked copy of this process (``gitcfg.forkread``), which
        reads and caches its half and streams its rows back."""
        rows, helper, theirs = self._read_split(missed, self._convert, back=True)
        if helper is None:
            return rows
        # each half sorted apart (this one while the copy finishes): the final sort then
        # merges two runs, a comparison a row, not seventeen
        _sort_rows(rows)
        records = helper.records()
        if records is None:  # the copy failed: read its half here
            return rows + self._read_here(theirs, self._convert)
        # made ListedRows as they came, and in order (the copy sorted them)
        return rows + cast("list[ListedRow]", records)

    def _read_split(
        self, missed: Mapping[str, str], convert: _Convert[_R], *, back: bool
    ) -> tuple[list[_R], forkread.Helper | None, Mapping[str, str]]:
        """What ``convert`` makes of the ``missed`` subtrees, read and cached here; many of
        them split with a forked copy, which reads and caches its half (``theirs``) and, if
        ``back``, streams what it makes back: ``(what this process made, the copy, theirs)``;
        no copy if the read was not split."""
        if len(missed) < _FORK_SUBTREES or not forkread.can_fork():
            return self._read_here(missed, convert), None, {}
        mine, theirs = _halves(missed, _COPY_SHARE if back else 0.5)
        cache_dir, shared = self.cache.path.parent, self.cache.shared
        # SQLite forbids carrying an open connection across a fork: close it (it reopens on use)
        self.cache.close()

        def work(sink: forkread.Sink) -> None:  # in the copy: its own cache connection
            self.cache = BlobCache(cache_dir, max_entries=self.cache.max_entries, shared=shared)
            self._read_here(theirs, convert, sink if back else _dropped)

        try:
            helper = forkread.Helper(work, len(ListedRow._fields), ListedRow._make)
        except OSError:  # no process or pipe to be had (a limit): all of it here, then
            return self._read_here(missed, convert), None, {}
        try:
            made = self._read_here(mine, convert)
        except BaseException:
            helper.stop()
            raise
        return made, helper, theirs

    def _read_here(
        self, missed: Mapping[str, str], convert: _Convert[_R], sink: forkread.Sink | None = None
    ) -> list[_R]:
        """What ``convert`` makes of the ``missed`` subtrees, read and cached in this process
        (passed to ``sink`` a chunk at a time, if given, rather than returned).

        A thread lists them (ls-tree) and asks cat-file for their files a chunk of whole
        subtrees at a time; this thread converts each chunk while git reads the next, and
        another writes the converted subtrees to the cache (SQLite and hashing let go of
        Python's lock, so that work runs beside the converting).
        """
        chunks: queue.Queue[_Chunk | BaseException | None] = queue.Queue(maxsize=2)
        seen: set[str] = set()
        writes: queue.Queue[dict[str, str] | None] = queue.Queue(maxsize=2)
        writer = threading.Thread(target=_write_cache, args=(self.cache, writes), daemon=True)
        writer.start()
        try:
            made = self._read_chunks(missed, convert, chunks, seen, writes, sink)
        finally:
            writes.put(None)
            writer.join()
        # a subtree without a run in it (only other files) is remembered as such
        empty = [key for path, key in missed.items() if path not in seen]
        suffixes = ["", _META] + ([self.also_cache[0]] if self.also_cache is not None else [])
        self.cache.add_subtrees({key + suffix: "" for key in empty for suffix in suffixes})
        return made

    def _read_chunks(
        self,
        missed: Mapping[str, str],
        convert: _Convert[_R],
        chunks: queue.Queue[_Chunk | BaseException | None],
        seen: set[str],
        writes: queue.Queue[dict[str, str] | None],
        sink: forkread.Sink | None,
    ) -> list[_R]:
        with BlobStream(self.repo) as stream:
            lister = threading.Thread(
                target=self._list_chunks, args=(missed, stream, chunks, seen), daemon=True
            )
            lister.start()
            made: list[_R] = []
            try:
                while (chunk := chunks.get()) is not None:
                    if isinstance(chunk, BaseException):
                        raise chunk
                    converted = convert(chunk, stream, missed, writes)
                    if sink is None:
                        made.extend(converted)
                    else:
                        sink(converted)
            finally:
                stream.close()  # done, or failed: a lister waiting on git gets a broken pipe
                while lister.is_alive():  # let it put what it holds, then end
                    with contextlib.suppress(queue.Empty):
                        chunks.get(timeout=0.05)
                lister.join()
        return made

    def _list_chunks(
        self,
        missed: Mapping[str, str],
        stream: BlobStream,
        chunks: queue.Queue[_Chunk | BaseException | None],
        seen: set[str],
    ) -> None:
        """The lister thread: chunks of runs of whole missed subtrees, their blobs requested."""
        assert self.tip is not None
        pathspecs = _pathspecs(missed)
        try:
            runs: list[_RunFiles] = []
            for ref, directory, files in tree_runs(self.repo, self.tip, pathspecs):
                path = _subtree_of(directory)
                if path not in missed:
                    continue  # a subtree the cache had (the whole tree is being listed)
                if len(runs) >= _CHUNK and path not in seen:
                    self._send(runs, stream, chunks)
                    runs = []
                seen.add(path)
                runs.append((ref, directory, files))
            if runs:
                self._send(runs, stream, chunks)
            chunks.put(None)
        except BaseException as exc:  # handed to the converting thread, which raises it
            stream.fail(exc)  # it may be waiting on git for files this thread never asked for
            chunks.put(exc)

    def _send(
        self,
        runs: list[_RunFiles],
        stream: BlobStream,
        chunks: queue.Queue[_Chunk | BaseException | None],
    ) -> None:
        """Queue a chunk, then ask for its blobs (in that order: the converter waits for the
        chunk, never for blobs nobody asked for), configs and metas apart."""
        sources: dict[str, str] = {}
        metas: dict[str, str] = {}
        for _ref, directory, files in runs:
            for name, blob in files.items():
                (metas if name == META_FILE else sources).setdefault(
                    blob, f"{self.branch}:{directory}/{name}"
                )
        for blob in metas.keys() & sources.keys():
            del metas[blob]  # the same blob as a config and a meta file: read once
        chunks.put(_Chunk(runs, sources, metas))
        stream.request([*sources, *metas])

    def _convert(
        self,
        chunk: _Chunk,
        stream: BlobStream,
        missed: Mapping[str, str],
        writes: queue.Queue[dict[str, str] | None],
    ) -> list[ListedRow]:
        """Rows for the runs of whole subtrees, from their files; the subtrees are cached."""
        slow: set[str] = set()  # files the loader read: their JSON is json.dumps's
        # the plain files' texts, for a caller that keeps a text of its own
        plain: dict[str | None, str] | None = None if self.also_cache is None else {None: ""}
        texts = self._json_texts(chunk.sources, stream, slow, plain)
        texts.update(self._json_texts(chunk.metas, stream, slow, None))
        heads: dict[str | None, tuple[str, str, str]] = {None: _head({})}  # by meta blob
        tails: dict[str, str | None] = {}  # of _fast_head
        by_subtree: dict[str, tuple[list[ListedRow], list[str]]] = {}  # rows, meta texts
        read: dict[str, list[ReadRun]] = {}  # for ``also_cache``
        projects: dict[str, str] = {}
        keep_meta = self.keep_meta
        for ref, directory, files in chunk.runs:
            meta_blob = files.get(META_FILE)
            if meta_blob is not None and meta_blob not in heads:
                heads[meta_blob] = _meta_head(texts[meta_blob], meta_blob in slow, tails)
            order, created, rest = heads[meta_blob]
            config = files.get(CONFIG_FILE)
            summary = files.get(SUMMARY_FILE)
            project = projects.get(ref.project) or projects.setdefault(
                ref.project, encode_string(ref.project)
            )
            config_text = "{}" if config is None else texts[config]
            summary_text = "{}" if summary is None else texts[summary]
            text = (
                f'{{"project": {project}, "id": {encode_string(ref.id)}, '
                f'"created": {created}, {rest}, '
                f'"config": {config_text}, "summary": {summary_text}}}'
            )
            meta_text = "{}" if meta_blob is None else texts[meta_blob]
            row = ListedRow(order, ref.project, ref.id, text, meta_text if keep_meta else "")
            subtree = _subtree_of(directory)
            rows, meta_texts = by_subtree.get(subtree) or by_subtree.setdefault(subtree, ([], []))
            rows.append(row)
            meta_texts.append(meta_text)
            if plain is not None:
                lined_config, lined_summary = plain.get(config), plain.get(summary)
                head = Head(order, created, rest)
                if lined_config is None or lined_summary is None:
                    run = ReadRun(*row[1:3], head, config_text, summary_text, False)
                else:
                    run = ReadRun(*row[1:3], head, lined_config, lined_summary, True)
                read.setdefault(subtree, []).append(run)
        packed = {}
        for path, (rows, meta_texts) in by_subtree.items():
            both = _pack(rows, meta_texts)
            if both is not None:
                key = missed[path]
                packed[key], packed[key + _META] = both
        if self.also_cache is not None:
            suffix, make = self.also_cache
            for path, also in zip(read, make(list(read.values())), strict=True):
                if also is not None and missed[path] in packed:
                    packed[missed[path] + suffix] = also
        writes.put(packed)
        return [row for rows, _ in by_subtree.values() for row in rows]

    def _convert_also(
        self,
        chunk: _Chunk,
        stream: BlobStream,
        missed: Mapping[str, str],
        writes: queue.Queue[dict[str, str] | None],
    ) -> list[tuple[str, str]]:
        """``also_cache``'s texts of whole subtrees, from their files, and no rows: config and
        summary files in the plain form are handed over as they are, not turned into JSON.
        The texts made are cached; ``(path, text)`` of each."""
        assert self.also_cache is not None
        suffix, make = self.also_cache
        blobs = list(chunk.sources)
        bodies = [body.decode("utf-8", "replace") for body in stream.take(len(blobs))]
        lined = {
            blob: body
            for blob, body, ok in zip(blobs, bodies, plain_lines(bodies), strict=True)
            if ok
        }
        # made JSON: files not in the plain form, those beside one in a run, and meta files
        # read as config files (their blobs are the same)
        wanted = {blob for blob in blobs if blob not in lined}
        for _ref, _directory, files in chunk.runs:
            meta = files.get(META_FILE)
            if meta is not None and meta not in chunk.metas:
                wanted.add(meta)
            if wanted:
                pair = [blob for blob in (files.get(CONFIG_FILE), files.get(SUMMARY_FILE)) if blob]
                if not wanted.isdisjoint(pair):
                    wanted.update(pair)
        slow: set[str] = set()
        texts = _json_of(
            {blob: body for blob, body in zip(blobs, bodies, strict=True) if blob in wanted},
            chunk.sources,
            slow,
        )
        heads = self._read_heads(chunk, stream, slow, texts)
        read: dict[str, list[ReadRun]] = {}
        for ref, directory, files in chunk.runs:
            head = heads[files.get(META_FILE)]
            config, summary = files.get(CONFIG_FILE), files.get(SUMMARY_FILE)
            if (config is None or config in lined) and (summary is None or summary in lined):
                run = ReadRun(
                    ref.project,
                    ref.id,
                    head,
                    "" if config is None else lined[config],
                    "" if summary is None else lined[summary],
                    True,
                )
            else:
                run = ReadRun(
                    ref.project,
                    ref.id,
                    head,
                    "{}" if config is None else texts[config],
                    "{}" if summary is None else texts[summary],
                    False,
                )
            read.setdefault(_subtree_of(directory), []).append(run)
        made = [
            (path, text)
            for path, text in zip(read, make(list(read.values())), strict=True)
            if text is not None
        ]
        writes.put({missed[path] + suffix: text for path, text in made})
        return made

    def _read_heads(
        self, chunk: _Chunk, stream: BlobStream, slow: set[str], texts: dict[str, str]
    ) -> dict[str | None, Head]:
        """The ``Head`` of each meta file of a chunk's runs by blob (None: a run without one),
        read next from ``stream``: from its lines (``_line_heads``), else from its JSON text,
        added to ``texts`` (where those of meta files also read as config files are)."""
        heads: dict[str | None, Head] = {None: _head({})}
        blobs = list(chunk.metas)
        bodies = [body.decode("utf-8", "replace") for body in stream.take(len(blobs))]
        found = zip(blobs, _line_heads(bodies), strict=True)
        heads.update((blob, head) for blob, head in found if head is not None)
        rest = {b: body for b, body in zip(blobs, bodies, strict=True) if b not in heads}
        texts.update(_json_of(rest, chunk.metas, slow))
        tails: dict[str, str | None] = {}  # of _fast_head
        for _ref, _directory, files in chunk.runs:
            blob = files.get(META_FILE)
            if blob is not None and blob not in heads:
                heads[blob] = Head(*_meta_head(texts[blob], blob in slow, tails))
        return heads

    def _json_texts(
        self,
        sources: Mapping[str, str],
        stream: BlobStream,
        slow: set[str],
        plain: dict[str | None, str] | None,
    ) -> dict[str, str]:
        """The next files of ``stream`` (``{blob: source}``) as JSON text (``gitcfg.flatjson``);
        those the loader read are added to ``slow``, the others' texts to ``plain`` if given.
        A file that does not parse is a ``CorruptStoreError``."""
        blobs = list(sources)
        bodies = [body.decode("utf-8", "replace") for body in stream.take(len(blobs))]
        texts = _json_of(dict(zip(blobs, bodies, strict=True)), sources, slow)
        if plain is not None:  # a blob the loader read once, it reads every time
            plain.update((b, body) for b, body in zip(blobs, bodies, strict=True) if b not in slow)
        return texts

    # -- pages ---------------------------------------------------------------------------

    def pages(self, size: int = PAGE, *, newest_first: bool = False) -> Iterator[list[ListedRun]]:
        """The runs with their config, meta and summary decoded, ``size`` at a time, oldest
        first (or newest first); each run gets dicts of its own."""
        rows = self.rows[::-1] if newest_first else self.rows
        for start in range(0, len(rows), size):
            yield [listed.decoded() for listed in rows[start : start + size]]
