"""Continuing a run: init(resume=..., id=...), GITCFG_RUN_ID (gitcfg run's child), WANDB_RUN_ID."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gitcfg
from gitcfg import liverun
from gitcfg.layout import RunRef
from gitcfg.stores import open_store
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401
from tests.conftest import git


def test_resume_allow_continues_the_run_with_new_commits(repo: Path) -> None:
    first = gitcfg.init(config={"lr": 0.1}, project="p", id="r")
    first.log({"loss": 0.9})
    first.finish()
    run = gitcfg.init(config={"lr": 0.1}, project="p", id="r", resume="allow")
    assert run.resumed and run.step == 1
    assert run.summary["loss"] == 0.9
    gitcfg.config.epochs = 3
    run.log({"loss": 0.5})
    run.finish()
    assert subjects(repo) == [
        "update p/r: epochs, summary:loss",
        "update p/r: summary:loss",
        "create p/r (1 key)",
    ]
    assert config_text(repo, "p", "r") == "epochs: 3\nlr: 0.1\n"
    steps = [row["_step"] for row in gitcfg.Api().run("p/r").scan_history()]
    assert steps == [0, 1]
    git(repo, "fsck", "--strict")


@pytest.mark.parametrize("mode", ["allow", "auto", True, "must"])
def test_every_resume_mode_that_continues(repo: Path, mode: bool | str) -> None:
    gitcfg.init(config={"a": 1}, project="p", id="r").finish()
    run = gitcfg.init(config={"a": 1}, project="p", id="r", resume=mode)
    run.finish()
    assert run.resumed and subjects(repo) == ["create p/r (1 key)"]


def test_resume_allow_creates_a_missing_run(repo: Path) -> None:
    run = gitcfg.init(config={"a": 1}, project="p", id="new", resume="allow")
    assert not run.resumed and subjects(repo) == ["create p/new (1 key)"]


def test_resume_must_refuses_a_missing_run_and_never_an_existing_one(repo: Path) -> None:
    with pytest.raises(gitcfg.RunNotFoundError, match="no run 'p/nope'"):
        gitcfg.init(project="p", id="nope", resume="must")
    with pytest.raises(gitcfg.UsageError, match="needs the id"):
        gitcfg.init(project="p", resume="must")
    gitcfg.init(project="p", id="r").finish()
    with pytest.raises(gitcfg.RunExistsError):
        gitcfg.init(project="p", id="r", resume="never")
    with pytest.raises(gitcfg.RunExistsError):
        gitcfg.init(project="p", id="r")
    with pytest.raises(gitcfg.UsageError, match="resume='sometimes'"):
        gitcfg.init(project="p", id="r", resume="sometimes")
    assert subjects(repo) == ["create p/r (0 keys)"]


def test_stored_values_win_over_the_scripts_defaults_and_new_keys_are_added(repo: Path) -> None:
    store = open_store()
    # what `gitcfg run --set lr=0.5 -- python train.py` does before starting its child
    ref = liverun.start(store, "p", {"lr": 0.5, "model.depth": 50}, run_id="sw1").ref
    run = liverun.attach(store, ref, {"lr": 0.01, "model.depth": 18, "model.width": 4})
    assert run.config.as_dict() == {"lr": 0.5, "model": {"depth": 50, "width": 4}}
    assert subjects(repo) == ["update p/sw1: model.width", "create p/sw1 (2 keys)"]
    with pytest.raises(gitcfg.ValueChangeError):
        run.config.lr = 0.1  # the usual value lock holds on an attached run


def test_gitcfg_run_id_in_the_environment_attaches_a_plain_init(repo: Path) -> None:
    store = open_store()
    store.create("sweep", {"lr": 0.5}, run_id="child1", meta={"group": "sw"})
    script = """
    import gitcfg
    run = gitcfg.init(config={"lr": 0.01, "epochs": 2}, project="mine")
    for epoch in range(gitcfg.config.epochs):
        gitcfg.log({"loss": gitcfg.config.lr / (epoch + 1)})
    print(run.path, run.resumed, run.group)
    """
    env = {"GITCFG_RUN_ID": "child1", "GITCFG_PROJECT": "sweep"}
    proc = run_script(repo, script, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "sweep/child1 True sw\n"
    assert config_text(repo, "sweep", "child1") == "epochs: 2\nlr: 0.5\n"
    assert open_store().read(RunRef("sweep", "child1")).summary == {"loss": 0.25}
    assert [r.ref.id for r in open_store().runs()] == ["child1"]  # one run, not two


def test_wandb_run_id_and_resume_variables_are_fallbacks(repo: Path) -> None:
    gitcfg.init(config={"a": 1}, project="p", id="w1").finish()
    env = {"WANDB_RUN_ID": "w1", "WANDB_RESUME": "allow", "WANDB_PROJECT": "p"}
    proc = run_script(repo, "import gitcfg\nprint(gitcfg.init().path)\n", env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "p/w1\n"
    # a GITCFG_ variable wins over its WANDB_ twin
    env["GITCFG_PROJECT"] = "q"
    env["WANDB_RESUME"] = "never"
    proc = run_script(repo, "import gitcfg\nprint(gitcfg.init().path)\n", env=env)
    assert proc.stdout == "q/w1\n", proc.stderr
    assert os.environ.get("WANDB_RUN_ID") is None


@pytest.mark.slow
def test_processes_attached_to_one_run_at_once_lose_no_result(repo: Path) -> None:
    import subprocess
    import sys

    open_store().create("p", {"lr": 0.1}, run_id="shared")
    code = (
        "import sys, gitcfg\n"
        "w = sys.argv[1]\n"
        "run = gitcfg.init(config={'lr': 0.5, f'worker{w}': True})\n"
        "for step in range(200):\n"
        "    gitcfg.log({f'loss{w}': 1 / (step + 1)})\n"
    )
    env = {**os.environ, "GITCFG_RUN_ID": "shared", "GITCFG_PROJECT": "p"}
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(w)], cwd=repo, env=env) for w in range(4)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0] * 4
    record = open_store().read(RunRef("p", "shared"))
    assert record.config == {"lr": 0.1, **{f"worker{w}": True for w in range(4)}}
    assert record.summary == {f"loss{w}": 0.005 for w in range(4)}
    assert len(list(gitcfg.Api().run("p/shared").scan_history())) == 800
    git(repo, "fsck", "--strict")
