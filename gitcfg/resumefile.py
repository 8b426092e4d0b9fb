"""``init(resume="auto")`` (or True) without an id: which run of a project to resume after a crash.

As wandb keeps ``wandb/wandb-resume.json``, the id of a run started with ``resume="auto"`` is kept
in ``<git common dir>/gitcfg/resume/<project>.json`` (``{"run_id": "..."}``), local to this
repository and never committed. The next ``resume="auto"`` init of that project continues that
run; a finish with exit status 0 removes the file, and so does an init of the project without
``resume``. A missing or unreadable file means there is nothing to resume.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from gitcfg.git.perms import create_temporary, make_dirs

RESUME_DIR = "resume"


def resume_path(common_dir: Path, project: str) -> Path:
    """Where the id to resume of ``project`` is kept in the repository ``common_dir``."""
    return common_dir / "gitcfg" / RESUME_DIR / f"{project}.json"


def read(path: Path) -> str | None:
    """The run id kept in ``path``, or None (no file, or not one we wrote)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    run_id = data.get("run_id") if isinstance(data, dict) else None
    return run_id if isinstance(run_id, str) and run_id else None


def write(path: Path, run_id: str, *, shared: int = 0) -> None:
    """Keep ``run_id`` in ``path``, atomically: a reader sees the old file or the new one.
    ``shared``: core.sharedRepository (``gitcfg.git.perms``), the modes of what is created."""
    make_dirs(str(path.parent), shared)
    fd, temporary = create_temporary(str(path.parent), ".resume-", shared)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"run_id": run_id}, handle)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def forget(path: Path, run_id: str | None = None) -> None:
    """Remove ``path``; with ``run_id``, only while it still names that run (another process
    of the project may have started a run to resume since)."""
    if run_id is not None and read(path) != run_id:
        return
    with contextlib.suppress(OSError):
        path.unlink()
