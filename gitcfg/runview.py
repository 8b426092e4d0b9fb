"""What a live run (``gitcfg.init``) and a stored run (``gitcfg.Api``) have in common.

Both are a run on the store branch with a ``Config``: the same identity properties, and the same
way of committing the config's pending changes against the last committed version.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gitcfg.layout import RunRef
    from gitcfg.provenance import Provenance
    from gitcfg.runconfig import Config
    from gitcfg.store import ConfigStore


class RunView:
    """A run on the store branch: identity, attributes from ``meta.yaml``, and its ``config``."""

    store: ConfigStore
    ref: RunRef
    meta: dict[str, Any]
    config: Config
    commit: str

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
    def name(self) -> str | None:
        return self.meta.get("name")

    @property
    def notes(self) -> str | None:
        return self.meta.get("notes")

    @property
    def tags(self) -> list[str]:
        return list(self.meta.get("tags") or [])

    @property
    def created(self) -> str | None:
        """When the run started (ISO 8601)."""
        return self.meta.get("started")

    @property
    def code(self) -> Provenance:
        """What the run ran with: code_commit, branch, dirty, snapshot, command, host, ..."""
        return provenance_from_meta(self.meta)

    def _commit_pending(self, message: str | None = None) -> str | None:
        """Commit the config's changes since its last commit; returns the commit, or None.

        The last committed config is the base, so another writer's changes to other keys are
        kept and a different change to the same key raises ``ConcurrentUpdateError``.
        """
        config = self.config
        with config._lock:
            sets, unsets = config._pending()
            if not sets and not unsets:
                return None
            snapshot = config.flat()
            # Config checked new keys for secrets when they were set
            result = self.store.update(
                self.ref, sets, unsets, message=message, base=config._base, allow_secrets=True
            )
            config._committed(snapshot)
            if result.commit is not None:
                self.commit = result.commit
            return result.commit


def provenance_from_meta(meta: dict[str, Any]) -> Provenance:
    """The provenance fields of a run's ``meta.yaml`` (absent ones None)."""
    from gitcfg.provenance import Provenance

    values: dict[str, Any] = {f.name: meta.get(f.name) for f in fields(Provenance)}
    return Provenance(**values)
