"""Results beside the config: gitcfg.log, summary.yaml, define_metric, local history."""

from __future__ import annotations

import copy
import json
import marshal
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gitcfg
from gitcfg.cli.commands import cli
from gitcfg.history import HistoryFile
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
from gitcfg.stores import open_store
from tests.apihelpers import no_active_run, run_script, subjects  # noqa: F401
from tests.conftest import assert_fsck_clean, git


def summary_text(repo: Path, project: str, run_id: str) -> str:
    return git(repo, "show", f"gitcfg:{RunRef(project, run_id).summary_path}")


def history_file(repo: Path, project: str, run_id: str) -> Path:
    return repo / ".git" / "gitcfg" / "history" / project / f"{run_id}.history"


def history_rows(repo: Path, project: str, run_id: str) -> list[dict[str, object]]:
    """The rows of the history file, read as its format says: marshal records, a header
    first, then lists of rows."""
    rows: list[dict[str, object]] = []
    with history_file(repo, project, run_id).open("rb") as handle:
        assert marshal.load(handle) == {"gitcfg_history": 1}
        while True:
            try:
                rows.extend(marshal.load(handle))
            except EOFError:
                return rows


def test_log_keeps_last_values_and_commits_them_with_the_config_at_finish(repo: Path) -> None:
    run = gitcfg.init(config={"lr": 0.1}, project="p", id="r1")
    for step in range(100):
        gitcfg.log({"loss": 1 / (step + 1), "epoch": step, "phase": "train", "ok": True})
    gitcfg.config.update({"dropout": 0.5})
    assert subjects(repo) == ["create p/r1 (1 key)"]  # a log call does no git work
    assert gitcfg.summary["loss"] == 0.01 and run.summary["epoch"] == 99
    run.finish()
    assert subjects(repo) == [
        "update p/r1: dropout, summary:epoch, summary:loss, summary:ok, summary:phase",
        "create p/r1 (1 key)",
    ]
    assert summary_text(repo, "p", "r1") == "epoch: 99\nloss: 0.01\nok: true\nphase: train\n"
    changed = git(repo, "show", "--name-only", "--format=", "gitcfg").split()
    assert changed == [RunRef("p", "r1").config_path, RunRef("p", "r1").summary_path]
    assert_fsck_clean(repo)


def test_a_flush_with_nothing_new_makes_no_commit(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.log({"loss": 0.5})
    run.config.persist()
    run.log({"loss": 0.5})  # the same value again: nothing to commit
    run.config.persist()
    run.finish()
    assert subjects(repo) == ["update p/r: summary:loss", "create p/r (0 keys)"]


def test_a_run_that_logs_nothing_has_no_summary_file(repo: Path) -> None:
    gitcfg.init(config={"a": 1}, project="p", id="r").finish()
    record = open_store().read(RunRef("p", "r"))
    assert record.summary == {}
    tree = git(repo, "ls-tree", "--name-only", f"gitcfg:{RunRef('p', 'r').directory}")
    assert tree.split() == ["config.yaml", "meta.yaml"]


def test_summary_can_be_set_directly_like_wandb(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.log({"acc": 0.5})
    run.summary["best_acc"] = 0.9
    gitcfg.summary.note = "final"
    gitcfg.summary.update({"val": {"acc": 0.8}})
    assert run.summary["val"] == {"acc": 0.8} and run.summary["val.acc"] == 0.8
    del run.summary["acc"]
    run.finish()
    assert summary_text(repo, "p", "r") == "best_acc: 0.9\nnote: final\nval.acc: 0.8\n"


def test_non_scalar_values_are_skipped_with_one_warning_per_key(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for step in range(3):
            run.log(
                {
                    "loss": np.float32(0.25),
                    "count": np.int64(step),
                    "scalar_array": np.array([2.5]),
                    "image": np.zeros((2, 2)),
                    "obj": object(),
                    "nested": {"a": 1, "b": [1, 2]},
                }
            )
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 3, messages
    assert [m.split("'")[1] for m in messages] == ["image", "nested.b", "obj"]
    assert all("not recorded" in m for m in messages)
    assert all(Path(w.filename).name == "test_results.py" for w in caught)
    run.finish()
    assert summary_text(repo, "p", "r") == (
        "count: 2\nloss: 0.25\nnested.a: 1\nscalar_array: 2.5\n"
    )


def test_define_metric_aggregates_like_wandb(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    gitcfg.define_metric("loss", summary="min")
    run.define_metric("acc", summary="max,mean")
    run.define_metric("val/*", summary="first")
    run.define_metric("err", summary="best", goal="minimize")
    run.define_metric("noise", summary="none")
    for loss, acc in [(0.9, 0.1), (0.3, 0.5), (0.6, 0.3)]:
        run.log({"loss": loss, "acc": acc, "val/x": acc, "err": loss, "noise": 1, "last": acc})
    run.finish()
    assert summary_text(repo, "p", "r") == (
        "acc.max: 0.5\nacc.mean: 0.3\nerr.best: 0.3\nlast: 0.3\nloss.min: 0.3\nval/x.first: 0.1\n"
    )
    with pytest.raises(gitcfg.UsageError, match="unknown median"):
        gitcfg.init(project="p", id="r2").define_metric("x", summary="median")


def test_steps_follow_wandb(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.log({"a": 1}, commit=False)
    run.log({"b": 2})  # same step as a
    run.log({"c": 3}, step=5)
    run.log({"d": 4}, step=5)  # still step 5
    run.log({"e": 5}, step=7)  # closes step 5
    with pytest.warns(UserWarning, match="before the current step"):
        run.log({"f": 6}, step=1)
    run.finish()  # closes step 7
    rows = list(gitcfg.Api().run("p/r").scan_history())
    assert [{k: v for k, v in r.items() if k != "_timestamp"} for r in rows] == [
        {"a": 1, "b": 2, "_step": 0},
        {"c": 3, "d": 4, "_step": 5},
        {"e": 5, "_step": 7},
    ]


def test_a_step_may_be_any_integer_type_but_not_a_bool_or_a_float(repo: Path) -> None:
    # a step counted in numpy (np.arange, a batch counter) is an int to wandb too
    run = gitcfg.init(project="p", id="r")
    run.log({"loss": 0.5}, step=np.int64(5))
    run.log({"loss": 0.4}, step=np.int32(7))
    run.log({"loss": 0.3}, step=np.uint8(9))
    for bad in (True, 10.0, np.float64(10.0), np.bool_(True), "10"):
        with pytest.raises(gitcfg.UsageError, match=r"^step must be an int, got "):
            run.log({"loss": 0.2}, step=bad)
    run.finish()
    rows = list(gitcfg.Api().run("p/r").scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(5, 0.5), (7, 0.4), (9, 0.3)]
    assert all(type(r["_step"]) is int for r in rows)
    assert run.step == 10


def test_history_is_a_local_file_never_on_the_branch(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    for step in range(2500):  # more than one write batch
        run.log({"loss": float(step), "acc": step / 10})
    run.finish()
    lines = history_rows(repo, "p", "r")
    assert len(lines) == 2500
    first = lines[0]
    assert first["loss"] == 0.0 and first["_step"] == 0 and isinstance(first["_timestamp"], float)
    branch_files = git(repo, "ls-tree", "-r", "--name-only", "gitcfg").split()
    assert not any("history" in f for f in branch_files)
    api_run = gitcfg.Api().run("p/r")
    rows = list(api_run.scan_history(keys=["acc"], min_step=10, max_step=13))
    assert rows == [{"_step": 10, "acc": 1.0}, {"_step": 11, "acc": 1.1}, {"_step": 12, "acc": 1.2}]
    assert_fsck_clean(repo)


def test_cli_history_prints_table_csv_and_json(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.log({"loss": 0.5})
    run.log({"loss": 0.25, "acc": 0.75})
    run.finish()
    runner = CliRunner()
    result = runner.invoke(cli, ["history", "r", "--format", "csv"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "_step,loss,acc,_timestamp"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == ["0,0.5,", "1,0.25,0.75"]
    result = runner.invoke(cli, ["history", "p/r", "--format", "json"])
    assert [r["loss"] for r in json.loads(result.output)] == [0.5, 0.25]
    table = runner.invoke(cli, ["history", "r"]).output.splitlines()
    assert table[0].split() == ["_step", "loss", "acc", "_timestamp"]


def test_history_of_a_run_recorded_elsewhere_says_where_it_lives(
    repo: Path, tmp_path: Path
) -> None:
    gitcfg.init(project="p", id="r").log({"loss": 1.0})
    gitcfg.finish()
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "fetch", "-q", "origin", "gitcfg:gitcfg")
    result = CliRunner().invoke(cli, ["--repo", str(clone), "history", "r"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: run 'p/r' has no per-step history here (")
    assert "never pushed" in result.output and result.output.count("\n") == 1
    with pytest.raises(gitcfg.HistoryNotFoundError):
        gitcfg.Api(clone).run("p/r").scan_history()
    # the summary travelled with the branch
    assert gitcfg.Api(clone).run("p/r").summary["loss"] == 1.0


def test_store_records_carry_the_summary_and_the_store_can_update_it(repo: Path) -> None:
    gitcfg.init(config={"a": 1}, project="p", id="r").log({"loss": 0.5})
    gitcfg.finish()
    store = open_store()
    ref = RunRef("p", "r")
    assert store.read(ref).summary == {"loss": 0.5}
    assert [(r.ref.id, r.summary) for r in store.runs()] == [("r", {"loss": 0.5})]
    result = store.update_summary(ref, {"acc": 0.9}, ["loss"], message="add acc")
    assert result.commit is not None and [c.key for c in result.summary_changes] == ["acc", "loss"]
    assert summary_text(repo, "p", "r") == "acc: 0.9\n"
    assert store.update_summary(ref, {"acc": 0.9}).commit is None  # nothing new
    assert subjects(repo)[0] == "add acc"
    assert_fsck_clean(repo)


def test_api_summary_is_editable_with_a_commit(repo: Path) -> None:
    gitcfg.init(config={"lr": 0.1}, project="p", id="r").log({"loss": 0.5})
    gitcfg.finish()
    api_run = gitcfg.Api().run("someone/p/r")  # wandb's entity/project/id
    assert api_run.summary["loss"] == 0.5
    api_run.summary["best"] = 0.4
    api_run.config["lr"] = 0.2
    commit = api_run.update()
    assert commit is not None
    assert subjects(repo)[0] == "update p/r: lr, summary:best"
    assert summary_text(repo, "p", "r") == "best: 0.4\nloss: 0.5\n"
    assert api_run.update() is None


START = """
import time, gitcfg
run = gitcfg.init(config={"lr": 0.1}, project="f", id="run")
for step in range(50):
    gitcfg.log({"loss": 1.0 / (step + 1)})
"""


def test_summary_is_committed_at_normal_exit_and_on_an_exception(repo: Path) -> None:
    proc = run_script(repo, START)
    assert proc.returncode == 0, proc.stderr
    assert summary_text(repo, "f", "run") == "loss: 0.02\n"
    assert len(history_rows(repo, "f", "run")) == 50
    proc = run_script(repo, START.replace('id="run"', 'id="bad"') + "raise SystemExit(3)\n")
    assert proc.returncode == 3
    assert summary_text(repo, "f", "bad") == "loss: 0.02\n"


def test_sigterm_commits_the_summary_and_writes_the_history(repo: Path) -> None:
    code = START + "print('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n"
    script = repo.parent / "loop.py"
    script.write_text(textwrap.dedent(code))
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM and stderr == ""
    assert summary_text(repo, "f", "run") == "loss: 0.02\n"
    # killed by SIGTERM: the summary and the exit status the shell reports, in one commit
    assert subjects(repo) == [
        "update f/run: summary:loss, meta:exit_status",
        "create f/run (1 key)",
    ]
    assert gitcfg.Api(repo=str(repo)).run("f/run").meta["exit_status"] == 128 + 15
    assert len(history_rows(repo, "f", "run")) == 50
    assert_fsck_clean(repo)


def test_log_before_init_says_to_call_init(repo: Path) -> None:
    with pytest.raises(gitcfg.UsageError, match=r"call gitcfg.init\(\) first"):
        gitcfg.log({"loss": 1})
    with pytest.raises(gitcfg.UsageError, match=r"call gitcfg.init\(\) first"):
        gitcfg.summary["x"] = 1


def test_a_history_cut_short_by_a_crash_keeps_the_rows_before(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    for step in range(3):
        run.log({"loss": float(step)})
    run.finish()
    path = history_file(repo, "p", "r")
    whole = path.read_bytes()
    with path.open("ab") as handle:  # a second batch, half written
        handle.write(marshal.dumps([{"_step": 3, "loss": 3.0}, {"_step": 4, "loss": 4.0}])[:-5])
    assert [r["loss"] for r in gitcfg.Api().run("p/r").scan_history()] == [0.0, 1.0, 2.0]
    assert path.read_bytes().startswith(whole)


def test_log_after_finish_is_refused(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.log({"loss": 1.0})
    run.finish()
    with pytest.raises(gitcfg.UsageError, match="is finished"):
        run.log({"loss": 2.0})
    assert gitcfg.Api().run("p/r").summary["loss"] == 1.0


SECRET_WRITES = [
    ("summary item", lambda run: run.summary.__setitem__("hf_token", "hf_SECRET")),
    ("summary attribute", lambda run: setattr(run.summary, "db_password", "hunter2")),
    ("summary update", lambda run: run.summary.update({"acc": 0.9, "api_key": "k"})),
    ("log", lambda run: gitcfg.log({"loss": 0.1, "db_password": "hunter2"})),
    ("log nested", lambda run: gitcfg.log({"creds": {"apiKey": "k"}})),
    ("log of a step", lambda run: gitcfg.log({"aws_secret": "s"}, step=5)),
]


@pytest.mark.parametrize(("how", "write"), SECRET_WRITES, ids=[w[0] for w in SECRET_WRITES])
def test_a_secret_result_is_refused_by_the_call_that_introduces_it(
    repo: Path, how: str, write: object
) -> None:
    run = gitcfg.init(config={"lr": 0.1}, project="p", id="r")
    run.log({"loss": 0.5})
    with pytest.raises(gitcfg.SecretKeyError, match="GITCFG_ALLOW_SECRETS=1") as info:
        write(run)  # type: ignore[operator]
    assert "summary key" in str(info.value) and "out of results" in str(info.value)
    assert run.summary.flat() == {"loss": 0.5}  # nothing of the refused call was kept
    run.finish()
    assert summary_text(repo, "p", "r") == "loss: 0.5\n"
    assert "hunter2" not in git(repo, "log", "-p", "gitcfg")
    assert [r["loss"] for r in history_rows(repo, "p", "r")] == [0.5]


def test_a_secret_result_is_refused_from_a_script_before_it_trains(repo: Path) -> None:
    proc = run_script(
        repo,
        """
        import gitcfg as wandb
        wandb.init(project="p", id="r")
        wandb.log({"loss": 1.0})
        wandb.log({"hf_token": "hf_SECRET"})
        print("trained")
        """,
    )
    assert proc.returncode == 1 and "trained" not in proc.stdout
    assert "SecretKeyError: summary key 'hf_token' looks like a credential" in proc.stderr
    assert "hf_SECRET" not in git(repo, "log", "-p", "gitcfg")


def test_masked_results_and_opted_in_secrets_are_kept(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = gitcfg.init(project="p", id="r")
    for _ in range(2):  # the second call takes the path of keys seen before
        run.log({"hub_token": "<HUB_TOKEN>", "pad_token": "[PAD]", "max_tokens": 7})
    run.summary["push_token"] = "***"
    # a masked value does not make the key safe for good: a real one later is refused
    with pytest.raises(gitcfg.SecretKeyError, match="hub_token"):
        run.log({"hub_token": "hf_real"})
    monkeypatch.setenv("GITCFG_ALLOW_SECRETS", "1")
    run.log({"hub_token": "hf_real"})
    run.summary["db_password"] = "hunter2"
    run.finish()
    assert summary_text(repo, "p", "r") == (
        "db_password: hunter2\nhub_token: hf_real\nmax_tokens: 7\npad_token: '[PAD]'\n"
        "push_token: '***'\n"
    )


def test_a_metric_named_like_a_credential_is_a_number_and_kept(repo: Path) -> None:
    # loss_per_token ends in "token" as hf_token does; a number is no credential, and refusing
    # it would stop a training loop. A string under such a key is still refused.
    run = gitcfg.init(project="p", id="r")
    for step in range(2):
        run.log({"loss_per_token": 2.5 - step, "eval/ms_per_token": 12})
    with pytest.raises(gitcfg.SecretKeyError, match="loss_per_token"):
        run.log({"loss_per_token": "hf_abc"})
    run.finish()
    assert summary_text(repo, "p", "r") == "eval/ms_per_token: 12\nloss_per_token: 1.5\n"
    with pytest.raises(gitcfg.SecretKeyError, match="cost_token"):
        ConfigStore.open().create("p", {"lr": 1}, summary={"cost_token": "x"})
    ConfigStore.open().create("p", {"lr": 1}, summary={"cost_token": 0.5}, run_id="r2")


def test_api_summary_refuses_a_secret_and_commits_nothing(repo: Path) -> None:
    gitcfg.init(config={"lr": 0.1}, project="p", id="r").finish()
    tip = git(repo, "rev-parse", "gitcfg")
    stored = gitcfg.Api().run("p/r")
    with pytest.raises(gitcfg.SecretKeyError, match="'api_key'"):
        stored.summary["api_key"] = "k"
    with pytest.raises(gitcfg.SecretKeyError, match="'client_secret'"):
        stored.summary.update(acc=0.9, client_secret="s")
    assert stored.update() is None
    assert git(repo, "rev-parse", "gitcfg") == tip


def test_the_store_refuses_new_secret_results_and_keeps_stored_ones(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store()
    with pytest.raises(gitcfg.SecretKeyError, match="summary key 'hf_token'"):
        store.create("p", {"lr": 1}, summary={"hf_token": "x"})
    ref, _ = store.create("p", {"lr": 1}, summary={"acc": 1})
    tip = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(gitcfg.SecretKeyError, match="summary key 'api_key'"):
        store.update_summary(ref, {"api_key": "k"})
    assert git(repo, "rev-parse", "gitcfg") == tip
    monkeypatch.setenv("GITCFG_ALLOW_SECRETS", "1")
    store.update_summary(ref, {"api_key": "k"})
    monkeypatch.delenv("GITCFG_ALLOW_SECRETS")
    store.update_summary(ref, {"api_key": "k2"})  # stored already: no new secret
    assert store.read(ref).summary == {"acc": 1, "api_key": "k2"}
    assert_fsck_clean(repo)


def test_the_summary_copies_and_pickles_as_plain_data(repo: Path) -> None:
    # as the config does (and wandb's summary): no lock or run travels with it
    run = gitcfg.init(project="p", id="run")
    run.log({"loss": 0.5, "val": {"acc": 0.9}})
    assert pickle.loads(pickle.dumps(run.summary)) == {"loss": 0.5, "val": {"acc": 0.9}}
    assert type(copy.deepcopy(run.summary)) is dict and copy.copy(run.summary)["loss"] == 0.5
    run.finish()


# The process that creates the run is slow to make its Run object after the run's commit: it
# waits there until another process has attached and logged (a loaded machine).
SLOW_CREATOR = """
import sys, time
from pathlib import Path
import gitcfg
from gitcfg import liverun
made = liverun.Run.__init__
def after_the_other(*args, **kwargs):
    while not Path(sys.argv[1]).exists():
        time.sleep(0.01)
    made(*args, **kwargs)
liverun.Run.__init__ = after_the_other
run = gitcfg.init(project="p", id="run", mode="shared")
run.log({"mine": 1})
run.log({"mine": 2})
run.finish()
"""


def test_a_process_attached_before_the_creator_has_its_run_keeps_its_steps(repo: Path) -> None:
    script, done = repo.parent / "creator.py", repo.parent / "attached"
    script.write_text(SLOW_CREATOR)
    creator = subprocess.Popen([sys.executable, str(script), str(done)], stderr=subprocess.PIPE)
    try:
        while True:  # the run is committed (the creator is waiting in its Run)
            try:
                gitcfg.Api(repo=str(repo)).run("p/run")
                break
            except gitcfg.RunNotFoundError:
                assert creator.poll() is None, creator.communicate()[1]
                time.sleep(0.02)
        run = gitcfg.init(project="p", id="run", mode="shared")
        for i in range(3):
            run.log({"theirs": i})
        run.finish()
    finally:
        done.touch()
        _, err = creator.communicate(timeout=120)
    assert creator.returncode == 0, err
    rows = history_rows(repo, "p", "run")
    assert [{k: v for k, v in row.items() if k != "_timestamp"} for row in rows] == [
        {"_step": 0, "theirs": 0},
        {"_step": 1, "theirs": 1},
        {"_step": 2, "theirs": 2},
        {"_step": 3, "mine": 1},
        {"_step": 4, "mine": 2},
    ]


def test_named_steps_stay_as_named_beside_another_writer_with_one_warning(repo: Path) -> None:
    run = gitcfg.init(project="p", id="run")
    run.log({"loss": 1.0}, step=10)
    run.log({"loss": 0.9}, step=20)
    other = HistoryFile(run._recorder.history.path, "p/run")  # as another process writes it
    other.last_step()
    other.append([{"_step": 21, "_timestamp": 0.0, "acc": 0.5}])
    with pytest.warns(UserWarning, match="rows of different processes may share a step"):
        run.log({"loss": 0.8}, step=21)
        run.finish()
    # the other writer's row reached the file first; ours keep the steps they were given
    rows = history_rows(repo, "p", "run")
    assert [{k: v for k, v in row.items() if k != "_timestamp"} for row in rows] == [
        {"_step": 21, "acc": 0.5},
        {"_step": 10, "loss": 1.0},
        {"_step": 20, "loss": 0.9},
        {"_step": 21, "loss": 0.8},
    ]
    assert gitcfg.Api(repo=str(repo)).run("p/run").summary.flat() == {"acc": 0.5, "loss": 0.8}


SHARED_WRITER = """
import sys, gitcfg
w = int(sys.argv[1])
run = gitcfg.init(project="p", id="run", mode="shared")
for i in range(1500):  # more than a batch: rows are written while the others write theirs
    run.log({f"w{w}": i})
run.finish()
"""


def test_processes_sharing_a_run_lose_no_row_and_share_no_step(repo: Path) -> None:
    script = repo.parent / "writer.py"
    script.write_text(SHARED_WRITER)
    writers = [
        subprocess.Popen([sys.executable, str(script), str(w)], cwd=repo, stderr=subprocess.PIPE)
        for w in range(3)
    ]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    rows = list(gitcfg.Api(repo=str(repo)).run("p/run").scan_history())
    assert [row["_step"] for row in rows] == list(range(4500))
    for w in range(3):
        assert [row[f"w{w}"] for row in rows if f"w{w}" in row] == list(range(1500))
    assert gitcfg.Api(repo=str(repo)).run("p/run").summary.flat() == {
        "w0": 1499,
        "w1": 1499,
        "w2": 1499,
    }
