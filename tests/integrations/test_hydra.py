"""Hydra: a callback in the app's YAML records each job's resolved config, the task unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("hydra")

import yaml

from tests.integrations.branch import only_run, runs_on_branch

pytestmark = pytest.mark.integrations

CONFIG = """\
defaults:
  - _self_
lr: 0.1
model:
  depth: 3
  width: ${model.depth}
out: ${hydra:runtime.output_dir}
hydra:
  callbacks:
    gitcfg:
      _target_: gitcfg.integrations.hydra.GitcfgCallback
      project: hy
      tags: [hydra, test]
"""

APP = """\
import hydra

@hydra.main(version_base=None, config_path="conf", config_name="config")
def main(cfg):
    {body}
    return cfg.lr * 2

main()
"""


def hydra_app(repo: Path, body: str = "pass", config: str = CONFIG) -> Path:
    (repo / "conf").mkdir()
    (repo / "conf" / "config.yaml").write_text(config)
    (repo / "app.py").write_text(APP.format(body=textwrap.indent(body, "    ").strip()))
    return repo / "app.py"


def run_app(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "app.py", *args],
        cwd=repo,
        env={**os.environ, "HYDRA_FULL_ERROR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Callback GitcfgCallback" not in proc.stderr, proc.stderr  # Hydra hides failures
    return proc


def test_a_job_is_a_run_with_its_resolved_config(repo: Path) -> None:
    hydra_app(repo)
    run_app(repo, "lr=0.2", "hydra.run.dir=outputs/one")

    path, stored = only_run(repo)
    output = repo / "outputs" / "one"
    assert stored["config"] == {
        "lr": 0.2,
        "model.depth": 3,
        "model.width": 3,  # interpolations resolved
        "out": str(output),  # also Hydra's own resolvers
    }  # and no hydra.* keys
    assert stored["meta"]["tags"] == ["hydra", "test"]
    assert stored["summary"] == {"return_value": 0.4}  # what the task returned
    written = yaml.safe_load((output / "gitcfg.yaml").read_text())
    assert written["path"] == path
    assert written["id"] == path.split("/")[1]
    assert written["git_path"].startswith("gitcfg:") and written["git_path"].endswith(
        "/config.yaml"
    )


def test_multirun_is_one_run_per_job_grouped_by_sweep(repo: Path) -> None:
    hydra_app(repo)
    run_app(repo, "--multirun", "lr=0.3,0.4", "model.depth=5", "hydra.sweep.dir=multirun/s1")

    runs = runs_on_branch(repo)
    assert sorted(r["config"]["lr"] for r in runs.values()) == [0.3, 0.4]
    for stored in runs.values():
        assert stored["config"]["model.width"] == 5
        assert stored["meta"]["group"] == "multirun/s1"
        assert stored["meta"]["name"] == f"lr={stored['config']['lr']},model.depth=5"
    for job in ("0", "1"):
        written = yaml.safe_load((repo / "multirun" / "s1" / job / "gitcfg.yaml").read_text())
        assert written["path"] in runs


def test_a_task_that_calls_init_continues_the_jobs_run(repo: Path) -> None:
    body = """
import gitcfg
run = gitcfg.init(config={"extra": 1})
run.log({"acc": cfg.lr + 0.5})
print("RUN", run.path)
"""
    hydra_app(repo, body)
    proc = run_app(repo, "--multirun", "lr=0.1,0.2", "hydra.sweep.dir=multirun/s2")

    runs = runs_on_branch(repo)
    assert len(runs) == 2  # one per job, not one more per init()
    printed = sorted(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("RUN"))
    assert printed == sorted(runs)
    for stored in runs.values():
        assert stored["config"]["extra"] == 1  # the task's own config joined the job's
        assert stored["summary"]["acc"] == stored["config"]["lr"] + 0.5
        assert stored["summary"]["return_value"] == stored["config"]["lr"] * 2
