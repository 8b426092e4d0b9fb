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
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from gitcfg.runconfig import Config
from gitcfg.runsummary import Summary
from gitcfg.runview import RunView, checked_tags, meta_copy

if TYPE_CHECKING:
    from gitcfg.history import HistoryFile
    from gitcfg.layout import RunRef
    from gitcfg.store import ConfigStore, RunRecord, RunVersion

Filters = Mapping[str, Any] | str | Sequence[str | Mapping[str, Any]]
_Row = dict[str, Any]
_Predicate = Callable[[_Row], bool]
# The arguments of StoredRun.history that were not given (None is a value some take).
_UNSET: Any = object()
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


class StoredUser(NamedTuple):
    """Who ran a run (``meta.yaml``'s ``user``), as wandb's ``run.user`` names it."""

    username: str
    name: str

    def __str__(self) -> str:
        return self.username


class StoredSweep(NamedTuple):
    """The sweep a run came from (``gitcfg sweep``, ``gitcfg.agent``): its id, which is also
    the runs' group; ``name`` is the id too, as gitcfg names sweeps by their id."""

    id: str
    name: str
    project: str

    def __str__(self) -> str:
        return self.id


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
    and wandb's ``state``, ``created_at``, ``url``, ``entity``, ``display_name``,
    ``summary_metrics``, ``lastHistoryStep``, ``user``, ``metadata``, ``sweep``."""

    def __init__(self, store: ConfigStore, record: RunRecord, entity: str | None = None) -> None:
        self.store = store
        self.ref: RunRef = record.ref
        self.commit = record.commit  # the branch tip the run was read at (or last updated to)
        self.meta: dict[str, Any] = dict(record.meta)
        self._meta_base = meta_copy(record.meta)
        self._config = Config._from_flat(record.config, allow_val_change=True)
        self._config._persist = self.update
        self.summary = StoredSummary(record.summary, self._commit_summary)
        self._entity = entity

    @property
    def config(self) -> Config:
        """The run's config, edited in place; ``run.update()`` commits it."""
        return self._config

    @config.setter
    def config(self, value: Any) -> None:
        """``run.config = {...}`` then ``run.update()`` (wandb's public API): the config becomes
        ``value``, keys it lacks removed. Checked first: a value that cannot be stored changes
        nothing."""
        replacement = Config(value)
        with self._config._lock:
            self._config.clear()
            self._config.update(replacement.as_dict(), allow_val_change=True)

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
    def display_name(self) -> str | None:
        """wandb's name for ``name`` (its ``name`` of a stored run is the id)."""
        return self.name

    @display_name.setter
    def display_name(self, value: str | None) -> None:
        self.name = value

    @property
    def state(self) -> str:
        """wandb's state: ``"failed"`` when the run recorded an exit status other than 0,
        else ``"finished"``. gitcfg keeps no heartbeat, so a run still going reads as
        finished."""
        from gitcfg.wandbquery import run_state

        return run_state(self.meta)

    @property
    def created_at(self) -> str | None:
        """When the run started, as wandb writes it: UTC to the second, no zone
        (``created`` is the time as recorded, with its zone)."""
        from gitcfg.wandbquery import utc_text

        return utc_text(self.meta.get("started"))

    @property
    def url(self) -> str:
        """Where to see the run: the command that shows it (there is no server)."""
        return f"gitcfg show {self.ref}"

    @property
    def entity(self) -> str | None:
        """The entity named when the run was asked for (a path or ``overrides``), else the
        user who ran it, as wandb's default entity is the user."""
        user = self.meta.get("user")
        return self._entity or (str(user) if user else None)

    @property
    def user(self) -> StoredUser | None:
        """Who ran it (``meta.yaml``'s ``user``): ``run.user.username``, ``run.user.name``."""
        user = self.meta.get("user")
        return StoredUser(str(user), str(user)) if user else None

    @property
    def summary_metrics(self) -> dict[str, Any]:
        """The summary as plain nested dicts (a copy), as wandb's ``summary_metrics``."""
        return self.summary.as_dict()

    @property
    def metadata(self) -> dict[str, Any]:
        """The run's ``meta.yaml`` (a copy), with wandb's names of what it shares with
        wandb-metadata.json: ``startedAt``, ``username``, ``git`` (commit, branch)."""
        data = meta_copy(self.meta)
        data.update(
            startedAt=self.created_at,
            username=self.meta.get("user"),
            git={"commit": self.meta.get("code_commit"), "branch": self.meta.get("branch")},
        )
        return data

    @property
    def sweep(self) -> StoredSweep | None:
        """The sweep the run came from (its ``id``, which is also its group), else None."""
        sweep_id = self.meta.get("sweep_id")
        if not isinstance(sweep_id, str):
            return None
        return StoredSweep(sweep_id, sweep_id, self.project)

    @property
    def sweep_name(self) -> str | None:
        """The id of the sweep the run came from, else None."""
        sweep = self.sweep
        return None if sweep is None else sweep.id

    @property
    def lastHistoryStep(self) -> int:  # wandb's name
        """The last step of the run's history on this machine; -1 when there is none."""
        step = self._history_file().last_step()
        return -1 if step is None else step

    def update(self, message: str | None = None) -> str | None:
        """Commit the config, summary and name/notes/tags changes made since it was read, in
        one commit; returns the commit or None.

        A key that another writer changed differently in the meantime raises
        ``ConcurrentUpdateError``; their changes to other keys are kept.
        """
        return self._commit_pending(message)

    def _commit_summary(self) -> str | None:
        return self._commit_pending(summary_only=True)

    @overload
    def history(self) -> list[RunVersion]: ...

    @overload
    def history(
        self,
        samples: int = ...,
        keys: Sequence[str] | None = ...,
        x_axis: str = ...,
        pandas: bool = ...,
        stream: str = ...,
    ) -> Any: ...

    def history(
        self,
        samples: int = _UNSET,
        keys: Sequence[str] | None = _UNSET,
        x_axis: str = _UNSET,
        pandas: bool = _UNSET,
        stream: str = _UNSET,
    ) -> Any:
        """Without arguments: every version of the run, newest first (commit, time, message,
        config, summary), gitcfg's own history.

        With any of wandb's arguments, wandb's ``history()``: the metrics ``log`` recorded on
        this machine (``scan_history``'s rows), at most ``samples`` rows (default 500) picked
        evenly from first to last; with ``keys``, only the rows that have all of them, each
        with ``x_axis`` (default ``_step``) and those keys. A pandas ``DataFrame`` if
        ``pandas`` (the default) and pandas is installed, else a list of dicts.
        ``HistoryNotFoundError`` where there is no history (the run ran elsewhere).
        """
        arguments = {"samples": samples, "keys": keys, "x_axis": x_axis, "pandas": pandas}
        given: dict[str, Any] = {k: v for k, v in arguments.items() if v is not _UNSET}
        if not given and stream is _UNSET:
            return self.store.history(self.ref)
        if stream is not _UNSET and stream != "default":
            from gitcfg.errors import InputError

            raise InputError(
                f"history(stream={stream!r}): gitcfg records no system metrics; only the "
                f"default stream (what log recorded) is there"
            )
        return self._sampled_history(**given)

    def _sampled_history(
        self,
        samples: int = 500,
        keys: Sequence[str] | None = None,
        x_axis: str = "_step",
        pandas: bool = True,
    ) -> Any:
        from gitcfg.errors import InputError

        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 1:
            raise InputError(f"history(samples={samples!r}): give a number of rows, 1 or more")
        if keys is not None and (
            isinstance(keys, str) or not all(isinstance(key, str) for key in keys)
        ):
            raise InputError(f"history(keys={keys!r}): give a list of key names")
        wanted = None if not keys else list(dict.fromkeys([x_axis, *keys]))

        def matching() -> Iterator[dict[str, Any]]:
            for row in self._history_file().rows():
                if x_axis not in row:
                    continue
                if wanted is None:
                    yield row
                elif all(key in row for key in wanted):
                    yield {key: row[key] for key in wanted}

        # two passes, so that only the rows kept are held, however long the history
        picked = _evenly(sum(1 for _ in matching()), samples)
        rows = [row for i, row in enumerate(matching()) if i in picked]
        return _table(rows) if pandas else rows

    def scan_history(
        self,
        keys: Sequence[str] | None = None,
        page_size: int = 1000,
        min_step: int | None = None,
        max_step: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[dict[str, Any]]:
        """The per-step rows ``log`` wrote for this run on this machine, oldest first, as
        wandb's ``scan_history``: with ``keys``, only the rows that have all of them, each
        with ``_step`` and those keys; steps in ``[min_step, max_step)``. Raises
        ``HistoryNotFoundError`` where there is no history (the run ran on another machine:
        history is never pushed). ``page_size`` and ``use_cache`` change nothing here.
        """
        rows = self._history_file().rows()
        first = next(rows, None)  # raises here, not at the caller's first next()
        return _select_rows(first, rows, keys, min_step, max_step)

    def _history_file(self) -> HistoryFile:
        from gitcfg.history import HistoryFile, history_path

        path = history_path(self.store.repo.common_dir, self.project, self.id)
        return HistoryFile(path, str(self.ref))

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
    wanted = None if keys is None else list(dict.fromkeys(["_step", *keys]))
    for row in itertools.chain((first,), rows):
        step = row.get("_step")
        if isinstance(step, int):
            if min_step is not None and step < min_step:
                continue
            if max_step is not None and step >= max_step:
                continue
        if wanted is not None:
            if not all(key in row for key in wanted):
                continue  # as wandb: a row without one of the keys is not one of them
            row = {key: row[key] for key in wanted}
        yield row


def _evenly(total: int, samples: int) -> set[int]:
    """``samples`` indices of ``range(total)`` spread evenly, the first and the last among
    them (all of them when there are no more)."""
    if total <= samples:
        return set(range(total))
    if samples == 1:
        return {total - 1}
    return {i * (total - 1) // (samples - 1) for i in range(samples)}


def _table(rows: list[dict[str, Any]]) -> Any:
    """``rows`` as a pandas DataFrame, as wandb's ``history()`` gives; the list itself, with a
    warning, when pandas is not installed (wandb does the same)."""
    try:
        import pandas
    except ImportError:
        import warnings

        from gitcfg.runsummary import user_stacklevel

        warnings.warn(
            "gitcfg: pandas is not installed, so history() gives a list of dicts; "
            "pass pandas=False to ask for that",
            UserWarning,
            stacklevel=user_stacklevel(),
        )
        return rows
    return pandas.DataFrame.from_records(rows)


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
