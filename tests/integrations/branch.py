"""Read what the integrations recorded, as it is on the store branch (plain git, PyYAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.conftest import git, wait_for_gitcfg_gc


def runs_on_branch(repo: Path, branch: str = "gitcfg") -> dict[str, dict[str, Any]]:
    """``{"project/id": {"config": {...}, "meta": {...}, "summary": {...}}}`` from the branch."""
    runs: dict[str, dict[str, Any]] = {}
    names = git(repo, "ls-tree", "-r", "--name-only", branch).split()
    for name in names:
        parts = name.split("/")
        project, run_id, filename = parts[0], parts[-2], parts[-1]
        text = git(repo, "show", f"{branch}:{name}")
        runs.setdefault(f"{project}/{run_id}", {})[filename.removesuffix(".yaml")] = (
            yaml.safe_load(text) or {}
        )
    wait_for_gitcfg_gc(repo)
    git(repo, "fsck", "--strict")
    return runs


def only_run(repo: Path) -> tuple[str, dict[str, Any]]:
    """The one run on the branch (fails if there are more or none)."""
    runs = runs_on_branch(repo)
    assert len(runs) == 1, sorted(runs)
    return next(iter(runs.items()))
