"""The public surface of ``import gitcfg``, and what importing it costs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import gitcfg
from gitcfg import errors

EXPECTED = {
    "__version__",
    "init",
    "finish",
    "config",
    "run",
    "Api",
    "Config",
    "Run",
    "log",
    "summary",
    "define_metric",
    "Summary",
    "sweep",
    "agent",
}


def test_all_lists_the_api_and_every_error() -> None:
    error_names = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type)
        and issubclass(value, errors.GitcfgError)
        and name not in errors.WANDB_ONLY  # wandb's names (wandb.errors.X), not gitcfg's API
    }
    assert set(gitcfg.__all__) == EXPECTED | error_names
    assert len(gitcfg.__all__) == len(set(gitcfg.__all__))


def test_every_exported_member_exists_and_belongs_to_gitcfg() -> None:
    for name in gitcfg.__all__:
        member = getattr(gitcfg, name)
        if name in {"__version__", "config", "run", "summary"}:
            continue
        assert member.__module__.split(".")[0] == "gitcfg", name


def test_star_import_works_before_init() -> None:
    namespace: dict[str, object] = {}
    exec("from gitcfg import *", namespace)
    assert namespace["run"] is None and "Api" in namespace


def test_import_is_cheap() -> None:
    code = (
        "import gitcfg, sys; "
        "heavy = [m for m in ('click', 'git', 'ruamel', 'yaml', 'gitcfg.store') "
        "if m in sys.modules]; print(heavy)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stdout == "[]\n", proc.stderr


def test_recording_a_run_loads_no_command_line_and_no_dataclasses(repo: Path) -> None:
    # what a training script pays for at its start: dataclasses alone (and the inspect module
    # it loads) cost ~15 ms, so the value types on this path are NamedTuples and plain classes
    code = (
        "import gitcfg, sys; gitcfg.init(config={'a': 1}).finish(); "
        "print([m for m in ('click', 'dataclasses', 'inspect', 'yaml', 'ruamel', 'sqlite3') "
        "if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True)
    assert proc.stdout == "[]\n", proc.stderr
