"""Listing runs as a stream: 100,000 runs without holding 100,000 configs.

``git ls-tree -r`` of the branch tip is read as it arrives. A first pass reads each run's
``meta.yaml`` (from the blob cache, else parsed and cached) and keeps only what ordering needs —
the run, its two blob ids and the three meta fields every listing shows — in an index sorted
oldest first. Configs are then read page by page in that order, so at any moment one page of
configs is in memory. The JSON text the cache holds for a config is exactly what ``json.dumps``
writes for it, so ``gitcfg runs --format json`` pastes it unparsed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg import yamlcodec
from gitcfg.blobcache import BlobCache
from gitcfg.errors import CorruptStoreError, YamlError
from gitcfg.git import ObjectReader
from gitcfg.git.process import git_command, git_env
from gitcfg.layout import CONFIG_FILE, META_FILE, SUMMARY_FILE, RunRef, parse_run_dir

if TYPE_CHECKING:
    from gitcfg.git import GitRepo

PAGE = 1000  # runs whose configs are in memory at once
_BATCH = 2000  # runs whose meta files are looked up at once in the first pass
_READ_SIZE = 1 << 20


class IndexEntry(NamedTuple):
    """What a listing keeps of every run: enough to order it and show its fixed columns."""

    started: str  # meta.yaml's start time ('' when absent): the listing's order
    project: str
    id: str
    config_blob: str | None
    meta_blob: str | None
    summary_blob: str | None
    created: Any
    code_commit: Any
    dirty: bool

    @property
    def ref(self) -> RunRef:
        return RunRef(self.project, self.id)

    def where(self, name: str) -> Where:
        return (self.project, self.id, name)


# A file named for error messages only: (project, run id, file name); the path is built on error.
Where = tuple[str, str, str]


def parse_blobs(
    reader: ObjectReader, blobs: Sequence[str], sources: Mapping[str, str]
) -> dict[str, dict[str, Any]]:
    """Read ``blobs`` through cat-file and parse each as a config file (``sources`` name them).

    A file that does not parse is a ``CorruptStoreError`` naming it, raised once every blob
    has been read (cat-file must be drained before it can be stopped).
    """
    fresh: dict[str, dict[str, Any]] = {}
    error: YamlError | None = None
    for blob, _kind, body in reader.read_many(blobs):
        try:
            fresh[blob] = yamlcodec.load_config(body.decode("utf-8", "replace"), sources[blob])
        except YamlError as exc:
            error = error or exc
    if error is not None:
        raise CorruptStoreError(f"{error.source} is not valid: {error.problem}") from error
    return fresh


def _path(where: Where) -> str:
    project, run_id, name = where
    return f"{RunRef(project, run_id).directory}/{name}"


class ListedRun(NamedTuple):
    """A run of a listing page: its index entry, parsed config, meta and summary."""

    entry: IndexEntry
    config: dict[str, Any]
    meta: dict[str, Any]
    summary: dict[str, Any]


def _own(parsed: dict[str, dict[str, Any]], blob: str | None, taken: set[str]) -> dict[str, Any]:
    if blob is None or blob not in parsed:
        return {}
    if blob in taken:
        return dict(parsed[blob])
    taken.add(blob)
    return parsed[blob]


def tree_runs(
    repo: GitRepo, tip: str, project: str | None
) -> Iterator[tuple[RunRef, dict[str, str]]]:
    """Each run directory at ``tip`` with its files ``{name: blob}``, as ``git ls-tree`` lists."""
    args = ["ls-tree", "-r", "-z", "--full-tree", tip]
    if project is not None:
        args += ["--", project + "/"]
    hexsz = repo.algo.hexsz
    proc = subprocess.Popen(
        git_command(args), cwd=repo.cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=git_env(),
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    last_dir = ""
    ref: RunRef | None = None
    files: dict[str, str] = {}
    rest = b""
    try:
        while True:
            chunk = proc.stdout.read(_READ_SIZE)
            if not chunk:
                break
            items = (rest + chunk).split(b"\0")
            rest = items.pop()
            for item in items:
                info, _, raw_path = item.partition(b"\t")
                path = raw_path.decode("utf-8", "surrogateescape")
                directory, _, name = path.rpartition("/")
                if name != CONFIG_FILE and name != META_FILE and name != SUMMARY_FILE:
                    continue
                if directory != last_dir:  # a run's files are listed one after the other
                    if ref is not None and files:
                        yield ref, files
                    last_dir, ref, files = directory, parse_run_dir(directory), {}
                if ref is not None:
                    files[name] = info[-hexsz:].decode()
        if ref is not None and files:
            yield ref, files
    finally:
        proc.stdout.close()
        err = proc.stderr.read()
        proc.stderr.close()
        if proc.wait() != 0 and sys.exc_info()[0] is None:
            detail = err.decode(errors="replace").strip().splitlines()
            raise CorruptStoreError(
                f"cannot list {tip}: {detail[-1] if detail else 'ls-tree failed'}"
            )


class RunListing:
    """The runs at one tip of the branch, read lazily; see the module docstring."""

    def __init__(
        self, repo: GitRepo, branch: str, tip: str | None, cache: BlobCache, project: str | None
    ) -> None:
        self.repo = repo
        self.branch = branch
        self.tip = tip
        self.cache = cache
        self.project = project
        self._index: list[IndexEntry] | None = None
        self._reader: ObjectReader | None = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self.cache.close()

    def __enter__(self) -> RunListing:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the index -----------------------------------------------------------------------

    @property
    def index(self) -> list[IndexEntry]:
        """Every run, oldest first (by start time, then project and id)."""
        if self._index is None:
            self._index = self._build_index()
        return self._index

    def __len__(self) -> int:
        return len(self.index)

    def _build_index(self) -> list[IndexEntry]:
        if self.tip is None:
            return []
        index: list[IndexEntry] = []
        batch: list[tuple[RunRef, dict[str, str]]] = []
        projects: dict[str, str] = {}
        for item in tree_runs(self.repo, self.tip, self.project):
            batch.append(item)
            if len(batch) >= _BATCH:
                self._index_batch(batch, index, projects)
                batch = []
        self._index_batch(batch, index, projects)
        index.sort()
        return index

    def _index_batch(
        self,
        batch: list[tuple[RunRef, dict[str, str]]],
        index: list[IndexEntry],
        projects: dict[str, str],
    ) -> None:
        paths = {
            f[META_FILE]: (ref.project, ref.id, META_FILE) for ref, f in batch if META_FILE in f
        }
        metas = self.parsed(paths)
        intern = sys.intern
        for ref, names in batch:
            meta_blob = names.get(META_FILE)
            meta = metas.get(meta_blob, {}) if meta_blob is not None else {}
            started = meta.get("started")
            code = meta.get("code_commit")
            index.append(
                IndexEntry(
                    str(started or ""),
                    projects.setdefault(ref.project, ref.project),
                    ref.id,
                    names.get(CONFIG_FILE),
                    meta_blob,
                    names.get(SUMMARY_FILE),
                    started,
                    intern(code) if type(code) is str else code,
                    bool(meta.get("dirty", False)),
                )
            )

    # -- parsed files --------------------------------------------------------------------

    def parsed(self, paths: Mapping[str, Where]) -> dict[str, dict[str, Any]]:
        """Each parsed file ``{blob: where}`` as a dict: cached, else read, parsed and cached."""
        found: dict[str, dict[str, Any]] = {}
        for blob, text in self.cache.texts(paths):
            found[blob] = json.loads(text)
        missing = [blob for blob in paths if blob not in found]
        if missing:
            fresh = self._parse(missing, paths)
            self.cache.add(fresh)
            found.update(fresh)
        return found

    def _parse(self, blobs: Sequence[str], paths: Mapping[str, Where]) -> dict[str, dict[str, Any]]:
        if self._reader is None:
            self._reader = ObjectReader(self.repo)
        return parse_blobs(
            self._reader, blobs, {b: f"{self.branch}:{_path(paths[b])}" for b in blobs}
        )

    # -- pages ---------------------------------------------------------------------------

    def pages(
        self,
        size: int = PAGE,
        *,
        meta: bool = True,
        summary: bool = True,
        order: Sequence[int] | None = None,
    ) -> Iterator[list[ListedRun]]:
        """The runs with their parsed config (meta, summary), ``size`` at a time, oldest first.

        ``order`` lists positions in ``index`` to read instead, in that order (a sorted or
        filtered listing). ``meta=False``/``summary=False`` skip reading those files (their
        dicts are then empty).
        """
        index = self.index
        total = len(index) if order is None else len(order)
        for start in range(0, total, size):
            if order is None:
                page = index[start : start + size]
            else:
                page = [index[i] for i in order[start : start + size]]
            configs = self.parsed(
                {e.config_blob: e.where(CONFIG_FILE) for e in page if e.config_blob}
            )
            metas = (
                self.parsed({e.meta_blob: e.where(META_FILE) for e in page if e.meta_blob})
                if meta
                else {}
            )
            summaries = (
                self.parsed({e.summary_blob: e.where(SUMMARY_FILE) for e in page if e.summary_blob})
                if summary
                else {}
            )
            taken: set[str] = set()
            # a blob shared by two runs is copied for the second: editing one changes one
            yield [
                ListedRun(
                    e,
                    _own(configs, e.config_blob, taken),
                    _own(metas, e.meta_blob, taken),
                    _own(summaries, e.summary_blob, taken),
                )
                for e in page
            ]
