"""``gitcfg.Api``: read and edit past runs, like ``wandb.Api``.

api = gitcfg.Api()
run = api.run("mnist/3k9x2a7q")        # project/id, id, or a unique id prefix
run.config["foo"] = 32
run.summary["best_acc"] = 0.91
run.update()                            # one commit; nothing changed: no commit
run.summary.update({"acc": 0.9})        # as in wandb: the summary alone, committed at once
list(run.scan_history())                # per-step rows logged on this machine
[r.id for r in api.runs("mnist", filters={"model": "resnet"})]
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
    from gitcfg.override import Condition
    from gitcfg.store import ConfigStore, RunRecord, RunVersion

Filters = Mapping[str, Any] | str | Sequence[str | Mapping[str, Any]]


class Api:
    """Past runs of ``repo`` (default ``$GITCFG_REPO``, else the working directory's repository)."""

    def __init__(self, repo: str | os.PathLike[str] | None = None) -> None:
        from gitcfg.stores import open_store

        self.store = open_store(repo)

    def run(self, path: str) -> StoredRun:
        """The run named by ``project/id``, ``id`` or a unique id prefix, as it is now.

        wandb's ``entity/project/id`` is accepted too; the entity is not used.
        """
        if path.count("/") == 2:
            path = path.split("/", 1)[1]
        selection = self.store.resolve(path)
        return StoredRun(self.store, self.store.read(selection.ref))

    def runs(
        self, project: str | None = None, filters: Filters | None = None, per_page: int = 1000
    ) -> Runs:
        """Runs at the branch tip, oldest first, of one ``project`` or all, read lazily.

        ``project`` may be wandb's ``entity/project``; the entity is not used.

        ``filters`` keeps the runs that match every condition: a dict of flat config key ->
        value means equality (``{"model.depth": 50}``); condition strings use the CLI's
        ``--where`` syntax and column names (``"lr>0.01"``, ``"summary:acc>=0.9"``,
        ``"group=sweep1"``, ``"meta:exit_status>0"`` for a key of meta.yaml; with ``= != >
        >= < <=``); a list may mix both. A missing key only meets ``!=``. As in wandb,
        ``{"tags": "best"}`` keeps the runs tagged best (so does ``"tags=best"``),
        ``{"tags": {"$in": ["a", "b"]}}`` those tagged a or b, and a list of
        tags the runs tagged exactly so.

        As wandb's ``Api().runs()``, the result is iterated a page (``per_page`` runs) at a
        time; ``len()`` and indexing work too.
        """
        conditions = _conditions(filters)
        if project is not None:
            project = _project_of(project)
        return Runs(self.store, project, conditions, per_page)


class Runs:
    """Runs of a store, read a page at a time when iterated (``Api.runs``)."""

    def __init__(
        self,
        store: ConfigStore,
        project: str | None,
        conditions: Sequence[Condition],
        per_page: int = 1000,
    ) -> None:
        self.store = store
        self.project = project
        self.conditions = list(conditions)
        self.per_page = per_page
        self._length: int | None = None

    def __iter__(self) -> Iterator[StoredRun]:
        from gitcfg.store import RunRecord

        with self.store.listing(self.project) as listing:
            tip = listing.tip or ""
            for page in listing.pages(self.per_page):
                for run in page:
                    record = RunRecord(run.entry.ref, run.config, run.meta, tip, run.summary)
                    if not self.conditions or _meets(record, self.conditions):
                        yield StoredRun(self.store, record)
                # A StoredRun is a reference cycle (its config commits through it), which only
                # the cycle collector frees: collect a page's worth now, or they pile up.
                gc.collect()

    def __len__(self) -> int:
        if self._length is None:
            if self.conditions:
                self._length = sum(1 for _ in self)
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
    (editable), ``update()``, ``history()``, ``scan_history()``, ``code`` (provenance), ``meta``."""

    def __init__(self, store: ConfigStore, record: RunRecord) -> None:
        self.store = store
        self.ref: RunRef = record.ref
        self.commit = record.commit  # the branch tip the run was read at (or last updated to)
        self.meta: dict[str, Any] = dict(record.meta)
        self._meta_base = meta_copy(record.meta)
        self.config = Config._from_flat(record.config, allow_val_change=True)
        self.config._persist = self.update
        self.summary = StoredSummary(record.summary, self._commit_summary)

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


def _meets(record: RunRecord, conditions: Sequence[Condition]) -> bool:
    """Whether the run meets every condition, read as ``gitcfg runs --where`` reads them."""
    from gitcfg.query import run_row, value

    # a meta: column reads the row's "meta", which the JSON shape leaves out
    row = {**run_row(record), "meta": record.meta}
    return all(c.test(value(row, c.key)) for c in conditions)


def _conditions(filters: Filters | None) -> list[Condition]:
    from gitcfg.flat import check_key
    from gitcfg.override import TAGS, Condition, parse_condition
    from gitcfg.values import coerce_value

    if filters is None:
        return []
    items: Sequence[Any] = [filters] if isinstance(filters, (str, Mapping)) else filters
    conditions: list[Condition] = []
    for item in items:
        if isinstance(item, str):
            conditions.append(parse_condition(item))
        elif isinstance(item, Mapping):
            for key, value in item.items():
                if key == TAGS:  # wandb's {"tags": "best"}: the run's tags, not a config key
                    conditions.append(_tags_filter(value))
                    continue
                flat_key = check_key(key)
                # a dict names config keys, whatever they are called
                column = "config:" + flat_key
                conditions.append(Condition(column, "=", coerce_value(flat_key, value)))
        else:
            from gitcfg.errors import InputError

            raise InputError(
                f"cannot filter runs by a {type(item).__name__}; give a dict of key -> value "
                f"or condition strings such as 'lr>0.01'"
            )
    return conditions


def _tags_filter(value: Any) -> Condition:
    """wandb's filter on tags: ``"best"`` (runs tagged best), ``{"$in": ["a", "b"]}`` (runs
    tagged a or b), or a list (exactly those tags)."""
    from gitcfg.errors import InputError
    from gitcfg.override import tag_condition

    if isinstance(value, Mapping):
        if list(value) == ["$in"] and isinstance(value["$in"], (list, tuple)):
            return tag_condition("in", [str(tag) for tag in value["$in"]])
        raise InputError(
            f"cannot filter runs by tags {dict(value)!r}: only {{'$in': [...]}} of MongoDB's "
            f"operators is understood; give a tag, a list of tags or condition strings"
        )
    if isinstance(value, (list, tuple)):
        return tag_condition("=", [str(tag) for tag in value])
    return tag_condition("=", value)
