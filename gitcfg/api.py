"""``gitcfg.Api``: read and edit past runs, like ``wandb.Api``.

api = gitcfg.Api()
run = api.run("mnist/3k9x2a7q")        # project/id, id, a unique id prefix, wandb's paths
run.config["foo"] = 32
run.summary["best_acc"] = 0.91
run.update()                            # one commit; nothing changed: no commit
run.summary.update({"acc": 0.9})        # as in wandb: the summary alone, committed at once
list(run.scan_history())                # per-step rows logged on this machine
[r.id for r in api.runs("mnist", filters={"config.model": "resnet"}, order="-created_at")]
api.runs(filters=["lr>0.01", "epochs<=10"])
"""

from __future__ import annotations

import gc
import itertools
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, overload

from gitcfg.runconfig import Config
from gitcfg.runsummary import Summary
from gitcfg.runview import RunView, checked_tags, meta_copy

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore, RunRecord, RunVersion

Filters = Mapping[str, Any] | str | Sequence[str | Mapping[str, Any]]
_Row = dict[str, Any]
_Predicate = Callable[[_Row], bool]
_CREATED = ("+created_at", "created_at", "+createdAt", "createdAt")


class Api:
    """Past runs of ``repo`` (default ``$GITCFG_REPO``, else the working directory's repository).

    wandb's arguments are accepted too. ``overrides`` (wandb's first argument: a dict there
    is taken as it) may hold a default ``project`` for ``run()`` and ``runs()`` and an
    ``entity`` for the runs to report; its other settings (``base_url``...), ``timeout`` and
    ``api_key`` mean nothing without a server and are not used.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str] | Mapping[str, Any] | None = None,
        timeout: int | None = None,
        api_key: str | None = None,
        *,
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        from gitcfg.errors import UsageError
        from gitcfg.names import check_project
        from gitcfg.stores import open_store

        if isinstance(repo, Mapping):  # wandb.Api({"project": ...})
            if overrides is not None:
                raise UsageError("Api() got overrides twice; pass them once: overrides={...}")
            repo, overrides = None, repo
        if overrides is not None and not isinstance(overrides, Mapping):
            raise UsageError(f"Api(overrides=...) takes a dict, got {overrides!r}")
        settings = dict(overrides or {})
        project = settings.get("project")
        self.project: str | None = check_project(project) if project else None
        entity = settings.get("entity")
        self.entity: str | None = str(entity) if entity else None
        self.store = open_store(repo)

    def run(self, path: str) -> StoredRun:
        """The run named by ``project/id``, ``id`` or a unique id prefix, as it is now.

        wandb's paths are accepted too: ``entity/project/id``, ``entity/project/runs/id``
        (a run's URL path), ``project:id``, ``entity/project:id``; the entity is not used for
        finding the run. Without a project, ``overrides={"project": ...}`` gives it.
        """
        entity, selector = _run_selector(path, self.project)
        selection = self.store.resolve(selector)
        return StoredRun(self.store, self.store.read(selection.ref), entity or self.entity)

    def runs(
        self,
        path: str | None = None,
        filters: Filters | None = None,
        order: str = "+created_at",
        per_page: int = 1000,
        include_sweeps: bool = False,
        lazy: bool = True,
        *,
        project: str | None = None,
    ) -> Runs:
        """Runs at the branch tip, oldest first, of one project or all, read lazily.

        ``path`` (or ``project=``) is a project or wandb's ``entity/project`` (the entity is
        not used); none: ``overrides={"project": ...}``, else every project.

        ``filters`` keeps the runs that match every condition. A dict is wandb's MongoDB-style
        filter (``gitcfg.wandbquery``): ``{"config.lr": 0.1}``, ``{"summary_metrics.acc":
        {"$gt": 0.9}}``, ``{"state": "finished"}``, ``{"group": "g"}``, ``{"$or": [...]}``;
        any name that is not one of wandb's run fields is a config key (``{"model.depth":
        50}``). Condition strings use the CLI's ``--where`` syntax and column names
        (``"lr>0.01"``, ``"summary:acc>=0.9"``, ``"meta:exit_status>0"``); a list may mix
        both. What gitcfg cannot answer is an ``InputError``, never an empty result.

        ``order`` is wandb's: ``+created_at`` (the default, oldest first), ``-created_at``,
        ``+/-summary_metrics.KEY`` or ``+/-config.KEY``; runs without the key come last.

        As wandb's ``Api().runs()``, the result is iterated a page (``per_page`` runs) at a
        time; ``len()`` and indexing work too. ``include_sweeps`` and ``lazy`` are wandb's
        and change nothing here.
        """
        from gitcfg.errors import InputError

        if path is not None and project is not None:
            raise InputError("Api().runs() takes path or project=, not both; they are one thing")
        named = path if path is not None else project
        if named is None:
            named = self.project
        checked = None if named is None else _project_of(named)
        return Runs(self.store, checked, _filters(filters), per_page, order, self.entity)


class Runs:
    """Runs of a store, read a page at a time when iterated (``Api.runs``)."""

    def __init__(
        self,
        store: ConfigStore,
        project: str | None,
        filters: Sequence[_Predicate] = (),
        per_page: int = 1000,
        order: str = "+created_at",
        entity: str | None = None,
    ) -> None:
        self.store = store
        self.project = project
        self.filters = list(filters)
        self.per_page = per_page
        self.order = order
        self.entity = entity
        self._sort: Callable[[_Row], Any] | None = None
        self._descending = False
        if order not in _CREATED:  # checked now, not at the first next()
            from gitcfg.wandbquery import order_getter

            self._sort, self._descending = order_getter(order)
        self._length: int | None = None

    def __iter__(self) -> Iterator[StoredRun]:
        for count, record in enumerate(self._records(), 1):
            yield StoredRun(self.store, record, self.entity)
            if count % self.per_page == 0:
                # A StoredRun is a reference cycle (its config commits through it), which
                # only the cycle collector frees: collect a page's worth now, or they pile up.
                gc.collect()

    def _records(self) -> Iterator[RunRecord]:
        """The runs that meet the filters, in the order asked."""
        from gitcfg.store import RunRecord

        with self.store.listing(self.project) as listing:
            tip = listing.tip or ""
            newest_first = self._descending and self._sort is None
            kept: list[tuple[Any, RunRecord]] = []
            for page in listing.pages(self.per_page, newest_first=newest_first):
                for run in page:
                    record = RunRecord(run.entry.ref, run.config, run.meta, tip, run.summary)
                    if not self.filters and self._sort is None:
                        yield record
                        continue
                    row = _row(record)
                    if not all(test(row) for test in self.filters):
                        continue
                    if self._sort is None:
                        yield record
                    else:
                        kept.append((self._sort(row), record))
            if self._sort is not None:
                yield from _sorted(kept, self._descending)

    def __len__(self) -> int:
        if self._length is None:
            if self.filters:
                self._length = sum(1 for _ in self._records())
            else:
                with self.store.listing(self.project) as listing:
                    self._length = len(listing)
        return self._length

    @overload
    def __getitem__(self, index: int) -> StoredRun: ...

    @overload
    def __getitem__(self, index: slice) -> list[StoredRun]: ...

    def __getitem__(self, index: int | slice) -> StoredRun | list[StoredRun]:
        if isinstance(index, int) and index >= 0:
            found = next(itertools.islice(self, index, None), None)
            if found is None:
                raise IndexError(index)
            return found
        return list(self)[index]

    def __repr__(self) -> str:
        return f"<gitcfg.Runs {self.project or 'all projects'}>"


class StoredSummary(Summary):
    """A stored run's summary. As in wandb's public API, ``update()`` writes at once: one
    commit of the summary's changes (``summary[k] = v`` before it included; the config's wait
    for ``run.update()``). A value gitcfg cannot store is an error, not a warning: this is
    not a training loop to keep going."""

    _persist: Callable[[], object]

    def __init__(self, values: Mapping[str, Any], persist: Callable[[], object]) -> None:
        super().__init__(values)
        object.__setattr__(self, "_persist", persist)

    def update(self, d: Any = None, /, **kwargs: Any) -> None:
        """Set every key of ``d`` and ``kwargs`` (all or none) and commit the summary."""
        super().update(d, **kwargs)
        self._persist()

    def _plain(self, key: Any, value: Any) -> tuple[str, Any]:
        from gitcfg.flat import check_key
        from gitcfg.values import coerce_value

        name = check_key(key)
        return name, coerce_value(name, value)


class StoredRun(RunView):
    """A run read from the store: ``config`` (editable, no value-change lock), ``summary``
    (editable), ``update()``, ``history()``, ``scan_history()``, ``code`` (provenance), ``meta``,
    ``entity``."""

    def __init__(self, store: ConfigStore, record: RunRecord, entity: str | None = None) -> None:
        self.store = store
        self.ref: RunRef = record.ref
        self.commit = record.commit  # the branch tip the run was read at (or last updated to)
        self.meta: dict[str, Any] = dict(record.meta)
        self._meta_base = meta_copy(record.meta)
        self.config = Config._from_flat(record.config, allow_val_change=True)
        self.config._persist = self.update
        self.summary = StoredSummary(record.summary, self._commit_summary)
        self._entity = entity

    @property  # type: ignore[override]
    def tags(self) -> list[str]:
        """The run's tags, a list as in wandb's ``Api().run()``: ``run.tags.append("best")``
        then ``run.update()`` commits it; assigning a list or tuple works too."""
        tags = self.meta.get("tags")
        if not isinstance(tags, list):
            tags = self.meta["tags"] = list(tags or ())
        return tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self.meta["tags"] = checked_tags(value)

    @property
    def entity(self) -> str | None:
        """The entity named when the run was asked for (a path or ``overrides``), else the
        user who ran it, as wandb's default entity is the user."""
        user = self.meta.get("user")
        return self._entity or (str(user) if user else None)

    def update(self, message: str | None = None) -> str | None:
        """Commit the config, summary and name/notes/tags changes made since it was read, in
        one commit; returns the commit or None.

        A key that another writer changed differently in the meantime raises
        ``ConcurrentUpdateError``; their changes to other keys are kept.
        """
        return self._commit_pending(message)

    def _commit_summary(self) -> str | None:
        return self._commit_pending(summary_only=True)

    def history(self) -> list[RunVersion]:
        """Every version of the config, newest first: commit, time, message, config."""
        return self.store.history(self.ref)

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """The per-step rows ``log`` wrote for this run on this machine, oldest first, as
        wandb's ``scan_history``: ``keys`` keeps those keys (and ``_step``), steps in
        ``[min_step, max_step)``. Raises ``HistoryNotFoundError`` where there is no history
        (the run ran on another machine: history is never pushed). ``page_size`` is unused.
        """
        from gitcfg.history import HistoryFile, history_path

        path = history_path(self.store.repo.common_dir, self.project, self.id)
        rows = HistoryFile(path, str(self.ref)).rows()
        first = next(rows, None)  # raises here, not at the caller's first next()
        return _select_rows(first, rows, keys, min_step, max_step)

    def __repr__(self) -> str:
        return f"<gitcfg.StoredRun {self.ref}>"


def _select_rows(
    first: dict[str, Any] | None,
    rows: Iterator[dict[str, Any]],
    keys: Sequence[str] | None,
    min_step: int | None,
    max_step: int | None,
) -> Iterator[dict[str, Any]]:
    if first is None:
        return
    wanted = None if keys is None else ["_step", *keys]
    for row in itertools.chain((first,), rows):
        step = row.get("_step")
        if isinstance(step, int):
            if min_step is not None and step < min_step:
                continue
            if max_step is not None and step >= max_step:
                continue
        if wanted is not None:
            row = {k: row[k] for k in wanted if k in row}
        yield row


def _run_selector(path: str, default_project: str | None) -> tuple[str | None, str]:
    """``(entity, project/id or id)`` of a run path in any of wandb's forms."""
    from gitcfg.errors import InputError

    if not isinstance(path, str):
        raise InputError(f"Api().run() takes a path such as 'project/id', got {path!r}")
    # wandb reads entity/project/runs/id (a run's URL path) as entity/project/id
    parts = path.replace("/runs/", "/").strip("/ ").split("/")
    entity: str | None = None
    project: str | None = None
    if len(parts) == 3:
        entity, project, run_id = parts
    elif len(parts) == 2:
        project, run_id = parts
        if ":" in run_id:  # entity/project:id
            entity, (project, run_id) = project, run_id.split(":", 1)
    elif len(parts) == 1:
        run_id = parts[0]
        if ":" in run_id:  # project:id
            project, run_id = run_id.split(":", 1)
    else:
        raise InputError(
            f"cannot read run {path!r}; give project/id, an id (or its prefix), or wandb's "
            f"entity/project/id or entity/project/runs/id"
        )
    if not run_id:
        raise InputError(f"no run id in {path!r}; give project/id or an id")
    project = project or default_project
    return entity or None, f"{project}/{run_id}" if project else run_id


def _project_of(path: str) -> str:
    """The project named by ``project`` or wandb's ``entity/project`` (the entity unused)."""
    from gitcfg.errors import InputError
    from gitcfg.names import check_project

    parts = path.split("/") if isinstance(path, str) else [path]
    if len(parts) > 2:
        raise InputError(
            f"Api().runs() takes a project or entity/project, got {path!r}; "
            f"for one run use Api().run('entity/project/id')"
        )
    return check_project(parts[-1])


def _row(record: RunRecord) -> _Row:
    """The run's row as filters read it: ``query.run_row``'s shape with its meta.yaml."""
    from gitcfg.query import run_row

    return {**run_row(record), "meta": record.meta}


def _sorted(kept: list[tuple[Any, RunRecord]], descending: bool) -> list[RunRecord]:
    """The records by their sort values (as ``gitcfg runs --sort``); those without last."""
    from gitcfg.diff import MISSING
    from gitcfg.query import sort_key

    present = [item for item in kept if item[0] is not MISSING]
    present.sort(key=lambda item: sort_key(item[0]), reverse=descending)
    return [record for _, record in present] + [r for value, r in kept if value is MISSING]


def _filters(filters: Filters | None) -> list[_Predicate]:
    """One test of a run's row per filter: wandb's dict filters and ``--where`` strings."""
    from gitcfg.errors import InputError

    if filters is None:
        return []
    if isinstance(filters, (str, Mapping)):
        items: Sequence[Any] = [filters]
    elif isinstance(filters, (list, tuple)):
        items = filters
    else:
        raise InputError(
            f"cannot filter runs by a {type(filters).__name__}; give a dict such as "
            f"{{'config.lr': 0.1}}, condition strings such as 'lr>0.01', or a list of them"
        )
    tests: list[_Predicate] = []
    for item in items:
        if isinstance(item, str):
            tests.append(_where(item))
        elif isinstance(item, Mapping):
            from gitcfg.wandbquery import compile_filters

            tests.append(compile_filters(item))
        else:
            raise InputError(
                f"cannot filter runs by a {type(item).__name__}; give a dict such as "
                f"{{'config.lr': 0.1}} or condition strings such as 'lr>0.01'"
            )
    return tests


def _where(text: str) -> _Predicate:
    """A ``--where`` condition string as a test of a run's row."""
    from gitcfg.override import parse_condition
    from gitcfg.query import getter

    condition = parse_condition(text)
    get, test = getter(condition.key), condition.test
    return lambda row: test(get(row))
