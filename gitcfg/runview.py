"""What a live run (``gitcfg.init``) and a stored run (``gitcfg.Api``) have in common.

Both are a run on the store branch with a ``Config`` and a ``Summary``: the same identity
properties, and the same way of committing the pending changes of config, summary and the
editable ``meta.yaml`` fields (name, notes, tags, group, job_type) in one commit, against the
last committed version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gitcfg.diff import MISSING, same_value

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.provenance import Provenance
    from gitcfg.runconfig import Config
    from gitcfg.runsummary import Summary
    from gitcfg.store import ConfigStore, UpdateResult

# meta.yaml fields a user may change on a run (the rest is provenance, written once)
EDITABLE_META = ("name", "notes", "tags", "group", "job_type")


class RunView:
    """A run on the store branch: identity, attributes from ``meta.yaml``, ``config`` and
    ``summary``."""

    store: ConfigStore
    ref: RunRef
    meta: dict[str, Any]
    config: Config
    summary: Summary
    commit: str
    _meta_base: dict[str, Any]

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def project(self) -> str:
        return self.ref.project

    @property
    def path(self) -> str:
        """``project/id``, as ``gitcfg.Api().run(...)`` and the CLI take it."""
        return str(self.ref)

    @property
    def git_path(self) -> str:
        """``BRANCH:PATH`` of the config file, for plain git (``git show``)."""
        return self.store.path(self.ref)

    @property
    def name(self) -> str:
        """The run's display name (``meta.yaml``), else its id; settable, committed at the next
        flush. Never None, as wandb's generated names: scripts build paths from it."""
        return self.meta.get("name") or self.ref.id

    @name.setter
    def name(self, value: str | None) -> None:
        self.meta["name"] = None if value is None else str(value)

    @property
    def notes(self) -> str | None:
        """Free-text notes (``meta.yaml``); settable, committed at the next flush."""
        return self.meta.get("notes")

    @notes.setter
    def notes(self, value: str | None) -> None:
        self.meta["notes"] = None if value is None else str(value)

    @property
    def tags(self) -> tuple[str, ...]:
        """The run's tags, a tuple as in wandb (``run.tags += ("b",)``); settable with a list
        or tuple, committed at the next flush."""
        return tuple(self.meta.get("tags") or ())

    @tags.setter
    def tags(self, value: Any) -> None:
        self.meta["tags"] = checked_tags(value)

    @property
    def group(self) -> str | None:
        return self.meta.get("group")

    @property
    def job_type(self) -> str | None:
        return self.meta.get("job_type")

    @property
    def created(self) -> str | None:
        """When the run started (ISO 8601)."""
        return self.meta.get("started")

    @property
    def code(self) -> Provenance:
        """What the run ran with: code_commit, branch, dirty, snapshot, command, host, ..."""
        return provenance_from_meta(self.meta)

    def _update(
        self, run: RunRef, set_values: Mapping[str, Any], unset: Sequence[str], **options: Any
    ) -> UpdateResult:
        """The commit of ``_commit_pending``: ``store.update``'s (a live run's last one keeps
        its change if the branch cannot take it, ``gitcfg.pending``)."""
        return self.store.update(run, set_values, unset, **options)

    def _commit_pending(
        self,
        message: str | None = None,
        extra_meta: Mapping[str, Any] | None = None,
        *,
        summary_only: bool = False,
    ) -> str | None:
        """Commit the changes to config, summary and meta since the last commit, in one
        commit; returns the commit, or None when nothing changed. ``extra_meta``: more
        ``meta.yaml`` fields to write in that commit (a live run's ``exit_status``).
        ``summary_only``: commit the summary's changes alone (wandb's ``summary.update()``
        on a stored run); the others stay pending.

        The last committed version is the base, so another writer's changes to other keys are
        kept and a different change to the same key raises ``ConcurrentUpdateError``.
        """
        config = self.config
        summary = self.summary
        with config._lock:
            sets, unsets = ({}, []) if summary_only else config._pending()
            summary_now = summary._snapshot()
            summary_sets, summary_unsets = summary._pending(summary_now)
            meta_sets = {} if summary_only else self._meta_pending()
            meta_sets.update(extra_meta or {})
            if not (sets or unsets or summary_sets or summary_unsets or meta_sets):
                return None
            snapshot = config.flat()
            # Config checked new keys for secrets when they were set
            result = self._update(
                self.ref,
                sets,
                unsets,
                message=message,
                base=config._base,
                allow_secrets=True,
                summary=summary_sets,
                summary_unset=summary_unsets,
                summary_base=self._summary_base(bool(summary_unsets)),
                meta=meta_sets,
            )
            if not summary_only:
                config._committed(snapshot)
            summary._committed(summary_now)
            self._meta_base.update(meta_copy(meta_sets))
            if result.commit is not None:
                self.commit = result.commit
            return result.commit

    def _meta_pending(self) -> dict[str, Any]:
        """The editable ``meta.yaml`` fields changed since the last commit."""
        return {
            key: self.meta[key]
            for key in EDITABLE_META
            if key in self.meta
            and not same_value(self._meta_base.get(key, MISSING), self.meta[key])
            # run.tags read on a run without tags gives an empty list: not a change
            and not (key not in self._meta_base and self.meta[key] == [])
        }

    def _summary_base(self, unsets: bool) -> Mapping[str, Any] | None:
        """The summary version the pending changes started from, to find conflicting edits
        (None: none are looked for, the changes win)."""
        return self.summary._base


def meta_copy(meta: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``meta`` to compare later edits with: its lists (tags) copied too, so that
    ``run.tags.append(...)`` is a change."""
    return {k: list(v) if isinstance(v, list) else v for k, v in meta.items()}


def checked_tags(value: Any) -> list[str]:
    """Tags as ``meta.yaml`` keeps them (a list of strings), from a list, tuple or other
    iterable; a single string is refused rather than split into letters."""
    from gitcfg.errors import UsageError

    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise UsageError(
            f"tags={value!r} is not a list of tags; pass a list or tuple: tags=[{value!r}]"
        )
    return [str(t) for t in value]


def provenance_from_meta(meta: dict[str, Any]) -> Provenance:
    """The provenance fields of a run's ``meta.yaml`` (absent ones None)."""
    from gitcfg.provenance import Provenance

    values: dict[str, Any] = {name: meta.get(name) for name in Provenance._fields}
    return Provenance(**values)
