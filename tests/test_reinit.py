"""wandb's run lifecycle in one process: a second ``init`` (``reinit``), several open runs,
``resume="auto"`` after a crash, how a run ended (``exit_status``), and wandb's Run names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import gitcfg
from gitcfg import liverun
from tests.apihelpers import no_active_run, run_script, subjects  # noqa: F401
from tests.conftest import git


def meta(repo: Path, path: str) -> dict[str, object]:
    return dict(gitcfg.Api(repo=str(repo)).run(path).meta)


# -- a second init ---------------------------------------------------------------------------


def test_a_second_init_returns_the_active_run(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = gitcfg.init(project="p", id="one")
    assert gitcfg.init() is first and capsys.readouterr().err == ""
    again = gitcfg.init(project="p", id="two", config={"a": 1}, reinit="return_previous")
    assert again is first and not first.finished and gitcfg.run is first
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "run p/one is active" in err and "config, project, id not applied" in err
    assert subjects(repo) == ["create p/one (0 keys)"]  # nothing started, nothing finished


def test_reinit_is_checked(repo: Path) -> None:
    with pytest.raises(gitcfg.UsageError, match="reinit='sometimes'"):
        gitcfg.init(project="p", reinit="sometimes")
    assert subjects(repo) == []


def test_resume_must_while_a_run_is_active_is_refused(repo: Path) -> None:
    gitcfg.init(project="p", id="one")
    with pytest.raises(gitcfg.UsageError, match="while run p/one is active"):
        gitcfg.init(project="p", id="one", resume="must")


def test_create_new_runs_log_and_finish_on_their_own(repo: Path) -> None:
    ra = gitcfg.init(project="p", id="a")
    rb = gitcfg.init(project="p", id="b", reinit="create_new")
    assert ra is not rb and not ra.finished
    assert gitcfg.run is ra  # create_new leaves the global run alone, as wandb
    ra.log({"loss": 1.0})
    rb.log({"loss": 2.0})
    gitcfg.log({"acc": 0.5})  # the global run's
    rb.finish(exit_code=4)
    ra.log({"loss": 0.5})
    assert liverun.open_runs() == (ra,)
    ra.finish()
    assert gitcfg.run is None and liverun.open_runs() == ()
    assert gitcfg.Api().run("p/a").summary == {"loss": 0.5, "acc": 0.5}
    assert gitcfg.Api().run("p/b").summary == {"loss": 2.0}
    # a failure is recorded; a clean end is the absence of one (no commit of its own)
    assert (meta(repo, "p/a").get("exit_status"), meta(repo, "p/b")["exit_status"]) == (None, 4)


def test_create_new_first_leaves_the_global_run_unset(repo: Path) -> None:
    run = gitcfg.init(project="p", id="a", reinit="create_new")
    assert gitcfg.run is None
    with pytest.raises(gitcfg.UsageError, match="no active run"):
        gitcfg.log({"x": 1})
    # return_previous returns the most recent open run, the global one or not
    assert gitcfg.init() is run
    run.finish()


def test_exit_finishes_every_open_run_with_the_exit_status(repo: Path) -> None:
    proc = run_script(
        repo,
        """
        import sys, gitcfg
        a = gitcfg.init(project="p", id="a")
        b = gitcfg.init(project="p", id="b", reinit="create_new")
        a.log({"x": 1})
        b.log({"x": 2})
        sys.exit(3)
        """,
    )
    assert (proc.returncode, proc.stderr) == (3, "")
    for path, x in (("p/a", 1), ("p/b", 2)):
        assert meta(repo, path)["exit_status"] == 3
        assert gitcfg.Api().run(path).summary == {"x": x}
    git(repo, "fsck", "--strict")


# -- exit status -----------------------------------------------------------------------------


def test_finish_records_the_exit_code_and_a_failed_block_1(repo: Path) -> None:
    gitcfg.init(project="p", id="ok").finish()
    gitcfg.init(project="p", id="bad").finish(exit_code=2)
    with pytest.raises(RuntimeError), gitcfg.init(project="p", id="cm"):
        raise RuntimeError("diverged")
    statuses = [meta(repo, f"p/{i}").get("exit_status") for i in ("ok", "bad", "cm")]
    assert statuses == [None, 2, 1]


def test_a_child_of_gitcfg_run_gets_one_status_the_processs(repo: Path) -> None:
    script = repo.parent / "child.py"
    script.write_text("import gitcfg\ngitcfg.init().finish(exit_code=5)\n")
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "run", "--project", "c", "--", sys.executable, script],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    run = gitcfg.Api(repo=str(repo)).runs(project="c")[0]
    assert run.meta["exit_status"] == 0  # the process's status, written by gitcfg run
    log = git(repo, "log", "-p", "--format=%s", "gitcfg")
    assert log.count("+exit_status") == 1  # one status in the run's history


def test_agent_counts_the_functions_exit_code(repo: Path) -> None:
    calls: list[int] = []

    def train() -> None:
        run = gitcfg.init()
        calls.append(run.config["x"])
        run.finish(exit_code=1 if run.config["x"] == 2 else 0)

    sweep_id = gitcfg.sweep({"method": "grid", "parameters": {"x": {"values": [1, 2]}}})
    gitcfg.agent(sweep_id, train, project="s")
    statuses = sorted(
        (r.config["x"], r.meta["exit_status"]) for r in gitcfg.Api().runs(project="s")
    )
    assert statuses == [(1, 0), (2, 1)]
    gitcfg.agent(sweep_id, train, project="s")  # the script again: only the failed point
    assert calls == [1, 2, 2]


# -- resume="auto" ---------------------------------------------------------------------------

AUTO = """
import sys, gitcfg
run = gitcfg.init(project="p", resume="auto")
print(run.id, run.resumed, run.starting_step)
run.log({"loss": 1.0})
if sys.argv[1:] == ["crash"]:
    raise RuntimeError("crashed")
"""


def test_resume_auto_resumes_a_crashed_run_until_it_finishes_cleanly(repo: Path) -> None:
    first = run_script(repo, AUTO, "crash")
    assert first.returncode == 1
    run_id, resumed, step = first.stdout.split()
    assert (resumed, step) == ("False", "0")
    resume_file = repo / ".git" / "gitcfg" / "resume" / "p.json"
    assert json.loads(resume_file.read_text()) == {"run_id": run_id}
    second = run_script(repo, AUTO)
    assert second.returncode == 0
    assert second.stdout.split() == [run_id, "True", "1"]
    assert "resuming run" in second.stderr
    assert not resume_file.exists()  # finished cleanly: nothing to resume
    third = run_script(repo, AUTO)
    assert third.stdout.split()[0] != run_id
    assert meta(repo, f"p/{run_id}")["exit_status"] == 0


def test_a_corrupt_resume_file_means_nothing_to_resume(repo: Path) -> None:
    resume_file = repo / ".git" / "gitcfg" / "resume" / "p.json"
    resume_file.parent.mkdir(parents=True)
    resume_file.write_text("{not json")
    run = gitcfg.init(project="p", resume=True)
    assert not run.resumed
    assert json.loads(resume_file.read_text()) == {"run_id": run.id}
    run.finish()
    assert not resume_file.exists()


# -- wandb's names ---------------------------------------------------------------------------


def test_join_is_finish_and_not_part_of_gitcfgs_api(repo: Path) -> None:
    assert gitcfg.join is gitcfg.finish
    assert "join" not in gitcfg.__all__
    run = gitcfg.init(project="p", id="j")
    gitcfg.join()
    assert run.finished
    other = gitcfg.init(project="p", id="k")
    other.join(exit_code=6)
    assert meta(repo, "p/k")["exit_status"] == 6


def test_wandb_run_attributes(repo: Path) -> None:
    import time

    before = time.time()
    run = gitcfg.init(project="p", id="r", config={"lr": 0.1, "model": {"depth": 2}})
    assert before <= run.start_time <= time.time()
    assert run.starting_step == 0
    assert run.get_url() == run.url == "gitcfg show p/r"
    assert run.get_project_url() == run.project_url == "gitcfg runs --project p"
    assert run.get_sweep_url() is None and run.sweep_url is None
    assert run.project_name() == "p"
    assert run.settings.project == "p" and run.settings.run_id == "r"
    assert run.settings.mode == "online" and run.settings.anything_else is None
    assert run.sync_dir == run.dir
    static = run.config_static
    assert static.lr == 0.1 and static["model"] == {"depth": 2}
    with pytest.raises(AttributeError):
        static.lr = 1
    run.log({"a": 1})
    run.finish()
    again = gitcfg.init(project="p", id="r", resume="allow")
    assert again.starting_step == 1
    again.finish()


def test_sweep_url_names_the_sweeps_runs(repo: Path) -> None:
    urls: list[str | None] = []

    def train() -> None:
        urls.append(gitcfg.init().get_sweep_url())

    sweep_id = gitcfg.sweep({"method": "grid", "parameters": {"x": {"value": 1}}})
    gitcfg.agent(sweep_id, train, project="s")
    assert urls == [f"gitcfg runs --project s --where group={sweep_id}"]
