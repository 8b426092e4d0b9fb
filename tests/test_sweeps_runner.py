"""``gitcfg sweep`` and ``gitcfg.sweep``/``gitcfg.agent``, in real subprocesses and clones."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from gitcfg.store import ConfigStore, RunRecord
from tests.conftest import assert_fsck_clean, git, make_repo
from tests.test_sweeps_run import gitcfg, wait_for

WANDB = Path(__file__).parent / "data" / "wandb_sweeps"

# A tiny training program in wandb's style: argparse flags from ${args}, results to a file.
TINY = """\
import argparse, json, os
parser = argparse.ArgumentParser()
for name in ("base", "increment", "direction", "x", "y", "lr"):
    parser.add_argument("--" + name, type=float, default=0.0)
args, _ = parser.parse_known_args()
loss = args.base + args.increment * args.direction + args.x * 10 + args.y
with open(os.environ["GITCFG_SUMMARY_FILE"], "w") as out:
    json.dump({"loss_metric": loss, "loss": loss}, out)
"""


def sweep_runs(repo: Path, sweep_id: str | None = None) -> list[RunRecord]:
    runs = ConfigStore.open(repo).runs()
    return [r for r in runs if sweep_id is None or r.meta.get("group") == sweep_id]


def sweep_id_of(stderr: str) -> str:
    match = re.search(r"sweep (sw-[0-9a-z]{8})", stderr)
    assert match, stderr
    return match.group(1)


def test_inline_2x2_grid_records_four_runs_in_one_group(repo: Path) -> None:
    (repo / "tiny.py").write_text(TINY)
    result = gitcfg(
        repo, "sweep", "x=1,2", "y=0.5,0.25", "-j", "2", "--",
        "python", "tiny.py", "${args}",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sweep_id = sweep_id_of(result.stderr)
    runs = sweep_runs(repo, sweep_id)
    assert sorted((r.config["x"], r.config["y"]) for r in runs) == [
        (1, 0.25),
        (1, 0.5),
        (2, 0.25),
        (2, 0.5),
    ]
    for r in runs:
        assert r.meta["sweep_id"] == sweep_id and r.meta["exit_status"] == 0
        assert r.meta["command"] == f"python tiny.py --x={r.config['x']} --y={r.config['y']}"
        assert r.summary["loss"] == r.config["x"] * 10 + r.config["y"]
    # the table lists every run; without a metric there is no "best" line
    assert len(result.stdout.strip().splitlines()) == 1 + 4
    again = gitcfg(repo, "sweep", "x=1,2", "y=0.5,0.25", "--", "python", "tiny.py", "${args}")
    assert again.returncode == 0 and "0 run(s) to do" in again.stderr
    assert len(sweep_runs(repo)) == 4
    assert_fsck_clean(repo)


def test_wandb_grid_file_runs_and_prints_the_best_run(repo: Path) -> None:
    (repo / "train.py").write_text(TINY)
    shutil.copy(WANDB / "sweep-grid.yaml", repo / "sweep.yaml")
    result = gitcfg(repo, "sweep", "sweep.yaml", "-j", "2")
    assert result.returncode == 0, result.stderr
    runs = sweep_runs(repo)
    assert len(runs) == 27 and {r.ref.project for r in runs} == {"sweeps-examples"}
    best = min(runs, key=lambda r: r.summary["loss_metric"])
    assert best.config["base"] == 10 and best.config["direction"] == -1
    assert best.config["increment"] == 0.3
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith(f"best: sweeps-examples/{best.ref.id} loss_metric=")
    assert "(minimize)" in last and "increment=0.3" in last
    assert_fsck_clean(repo)


def test_wandb_nested_file_gives_dotted_keys(repo: Path) -> None:
    (repo / "train-nested-cli.py").write_text(
        "import sys, json, os\n"
        "json.dump({'loss': len(sys.argv)}, open(os.environ['GITCFG_SUMMARY_FILE'], 'w'))\n"
    )
    shutil.copy(WANDB / "sweep-nested-cli.yaml", repo / "nested.yaml")
    result = gitcfg(repo, "sweep", "nested.yaml", "--dry-run")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 8 and sweep_runs(repo) == []
    assert lines[0].endswith(
        "train-nested-cli.py --batch_size=32 --optimizer.lr=0.001 --optimizer.nadam.beta=0.9"
    )
    result = gitcfg(repo, "sweep", "nested.yaml")
    assert result.returncode == 0, result.stderr
    configs = sorted(tuple(sorted(r.config)) for r in sweep_runs(repo))
    assert set(configs) == {("batch_size", "optimizer.lr", "optimizer.nadam.beta")}
    assert len(configs) == 8


def test_random_with_a_seed_is_the_same_sweep_everywhere(repo: Path) -> None:
    (repo / "tiny.py").write_text(TINY)
    spec = textwrap.dedent(
        """\
        method: random
        metric: {name: loss, goal: maximize}
        parameters:
          x: {distribution: uniform, min: 0, max: 1}
          y: {distribution: int_uniform, min: 1, max: 100}
        program: tiny.py
        """
    )
    (repo / "random.yaml").write_text(spec)
    listed = gitcfg(repo, "sweep", "random.yaml", "--count", "5", "--seed", "3", "--dry-run")
    same = gitcfg(repo, "sweep", "random.yaml", "--count", "5", "--seed", "3", "--dry-run")
    other = gitcfg(repo, "sweep", "random.yaml", "--count", "5", "--seed", "4", "--dry-run")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == same.stdout != other.stdout
    assert len(listed.stdout.splitlines()) == 5
    result = gitcfg(repo, "sweep", "random.yaml", "--count", "5", "--seed", "3")
    assert result.returncode == 0, result.stderr
    runs = sweep_runs(repo)
    assert len(runs) == 5
    for line in listed.stdout.splitlines():
        words = line.split("\t")[1].split()
        assert any(r.meta["command"].split()[-2:] == words[-2:] for r in runs), line
    best = max(runs, key=lambda r: r.summary["loss"])
    assert result.stdout.strip().splitlines()[-1].startswith(f"best: {best.ref} loss=")


def test_two_shards_at_once_in_one_repository_lose_no_run_and_no_result(repo: Path) -> None:
    """Four workers of two processes commit each point's start with another point's end:
    every lost race is built again on the new tip, and nothing is lost."""
    (repo / "tiny.py").write_text(TINY)
    sweep = ["sweep", "x=1,2,3,4,5,6,7,8,9,10,11,12", "-j", "2"]
    command = ["--", "python", "tiny.py", "${args}"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gitcfg", *sweep, "--shard", f"{i}/2", *command],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    runs = sweep_runs(repo)
    assert sorted(r.config["x"] for r in runs) == list(range(1, 13))
    assert all(r.meta["exit_status"] == 0 for r in runs)
    assert sorted(r.summary["loss"] for r in runs) == [10.0 * x for x in range(1, 13)]
    assert_fsck_clean(repo)


def test_two_shards_in_two_clones_cover_every_point_once_on_one_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    origin = make_repo(tmp_path / "origin")
    git(origin, "remote", "add", "origin", str(remote))
    git(origin, "push", "-q", "origin", "main")
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        git(clone, "config", "gitcfg.autopush", "origin")
        (clone / "tiny.py").write_text(TINY)
        clones.append(clone)
    command = ["--", "python", "tiny.py", "${args}"]
    args = ["sweep", "x=1,2,3", "y=0,1", "--project", "p"]
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "gitcfg", *args, "--shard", f"{i}/2", *command],
            cwd=clone,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, clone in enumerate(clones)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    check = tmp_path / "check"
    git(tmp_path, "clone", "-q", str(remote), str(check))
    git(check, "fetch", "-q", "origin", "gitcfg:gitcfg")
    runs = sweep_runs(check)
    points = sorted(r.meta["sweep_point"] for r in runs)
    assert points == [0, 1, 2, 3, 4, 5]
    assert sorted((r.config["x"], r.config["y"]) for r in runs) == [
        (x, y) for x in (1, 2, 3) for y in (0, 1)
    ]
    assert len({r.meta["group"] for r in runs}) == 1
    assert_fsck_clean(check)
    assert_fsck_clean(remote)


SLOW = """\
import os, sys, time
x = sys.argv[1]
open(f"started-{x}", "w").close()
if x == "3" and os.path.exists("block"):
    time.sleep(60)
open(f"done-{x}", "w").close()
"""


def test_a_sweep_killed_half_way_resumes_with_the_missing_points(repo: Path) -> None:
    (repo / "slow.py").write_text(SLOW)
    (repo / "block").touch()
    args = ["sweep", "x=1,2,3,4", "--", "python", "slow.py", "${args_no_hyphens}"]
    # the point's value reaches the program as its argument x=N
    (repo / "slow.py").write_text(SLOW.replace("sys.argv[1]", "sys.argv[1].split('=')[1]"))
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", *args],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    wait_for(repo / "started-3")
    os.killpg(process.pid, signal.SIGKILL)  # the machine is gone: no handler runs
    process.communicate(timeout=60)
    runs = sweep_runs(repo)
    assert sorted(r.config["x"] for r in runs) == [1, 2, 3]
    assert [r.config["x"] for r in runs if "exit_status" not in r.meta] == [3]
    (repo / "block").unlink()
    result = gitcfg(repo, *args)
    assert result.returncode == 0, result.stderr
    assert "2 run(s) to do" in result.stderr
    finished = [r for r in sweep_runs(repo) if "exit_status" in r.meta]
    assert sorted(r.config["x"] for r in finished) == [1, 2, 3, 4]
    assert len(sweep_runs(repo)) == 5  # the interrupted run stays, without an exit status
    # the closing table shows the whole sweep: the runs recorded before it resumed, and its own
    shown = [line.split()[0] for line in result.stdout.strip().splitlines()[1:]]
    assert sorted(shown) == sorted(r.ref.id for r in finished)
    assert_fsck_clean(repo)


def test_sigterm_stops_the_sweep_and_finishes_its_running_runs(repo: Path) -> None:
    (repo / "wait.py").write_text(
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *a: sys.exit(5))\n"
        "open('ready-' + sys.argv[1], 'w').close()\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", "sweep", "x=1,2,3,4", "-j", "2", "--",
         "python", "wait.py", "${args_no_hyphens}"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(repo / "ready-x=1")
    wait_for(repo / "ready-x=2")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signal.SIGTERM, stderr
    assert "run the same command again to resume it" in stderr
    runs = sweep_runs(repo)
    assert sorted(r.config["x"] for r in runs) == [1, 2]
    assert [r.meta["exit_status"] for r in runs] == [5, 5]


def test_each_point_ends_its_predecessors_run_in_the_commit_that_creates_its_own(
    repo: Path,
) -> None:
    (repo / "tiny.py").write_text(TINY)
    result = gitcfg(repo, "sweep", "x=1,2,3,4", "--", "python", "tiny.py", "${args}")
    assert result.returncode == 0, result.stderr
    runs = sweep_runs(repo)
    assert sorted(r.summary["loss"] for r in runs) == [10.0, 20.0, 30.0, 40.0]
    assert all(r.meta["exit_status"] == 0 and r.meta["duration"] >= 0 for r in runs)
    subjects = git(repo, "log", "--reverse", "--format=%s", "gitcfg").splitlines()
    assert len(subjects) == 5  # one commit per point, and the last run's end
    order = sorted(runs, key=lambda r: r.meta["sweep_point"])
    ids = [str(r.ref) for r in order]
    assert subjects[0].startswith(f"create {ids[0]} ")
    for before, after, subject in zip(ids[:3], ids[1:], subjects[1:4], strict=True):
        assert subject.startswith(f"update {before}: ") and f"; create {after} " in subject
    assert subjects[4].startswith(f"update {ids[3]}: ")
    for run in order:  # each run's own history: its creation, then its results
        shown = gitcfg(repo, "log", str(run.ref))
        assert shown.returncode == 0 and "summary:loss" in shown.stdout, shown.stdout
    assert_fsck_clean(repo)


def test_a_store_error_in_one_of_two_workers_ends_the_sweep_with_one_line(
    repo: Path, tmp_path: Path
) -> None:
    # The store branch checked out in a worktree mid-sweep: no worker may move it any more.
    (repo / "wait.py").write_text(  # the first two points end once the branch is checked out
        "import os, sys, time\n"
        "open('ready-' + sys.argv[1], 'w').close()\n"
        "while not os.path.exists('go'):\n"
        "    time.sleep(0.01)\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", "sweep", "x=1,2,3,4,5,6", "-j", "2", "--",
         "python", "wait.py", "${args_no_hyphens}"],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for(repo / "ready-x=1")
    wait_for(repo / "ready-x=2")
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "gitcfg")
    (repo / "go").touch()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "checked out" in errors[0], stderr
    assert sorted(r.config["x"] for r in sweep_runs(repo)) == [1, 2]  # no point started after


def test_results_the_store_refuses_are_reported_and_the_sweep_goes_on(repo: Path) -> None:
    # Python's json writes a name read from os.listdir with an undecodable byte as a lone
    # surrogate escape, which no UTF-8 file can hold.
    (repo / "bad.py").write_text(
        "import json, os, sys\n"
        "x = int(sys.argv[1].split('=')[1])\n"
        "name = '\\udcff' if x == 2 else 'ok'\n"
        "json.dump({'loss': x, 'file': name}, open(os.environ['GITCFG_SUMMARY_FILE'], 'w'))\n"
    )
    result = gitcfg(repo, "sweep", "x=1,2,3", "--", "python", "bad.py", "${args}")
    assert result.returncode == 0, result.stderr
    assert "not recorded" in result.stderr and "surrogate" in result.stderr
    runs = {r.config["x"]: r for r in sweep_runs(repo)}
    assert sorted(runs) == [1, 2, 3]
    assert all(r.meta["exit_status"] == 0 for r in runs.values())
    assert runs[2].summary == {} and runs[3].summary == {"loss": 3, "file": "ok"}
    assert_fsck_clean(repo)


# Notes where its results file is, then writes results there.
WHERE = """\
import json, os
path = os.environ["GITCFG_SUMMARY_FILE"]
with open(os.path.join(os.environ["NOTES"], "where"), "a") as out:
    out.write(os.path.dirname(path) + "\\n")
with open(path, "w") as out:
    json.dump({"loss": 1.5}, out)
"""


def results_dirs(
    repo: Path, points: str, notes: Path, env: dict[str, str]
) -> tuple[set[Path], list[RunRecord]]:
    """The sweep's results directories (as its programs saw them) and its runs."""
    (notes / "where").unlink(missing_ok=True)
    result = gitcfg(
        repo, "sweep", points, "-j", "2", "--", "python", "where.py", "${args}",
        env={**env, "NOTES": str(notes)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    dirs = {Path(line) for line in (notes / "where").read_text().split()}
    return dirs, sweep_runs(repo, sweep_id_of(result.stderr))


def test_results_files_go_to_tmpdir_when_set_else_to_a_memory_file_system(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "where.py").write_text(WHERE)
    own = tmp_path / "own-tmp"
    own.mkdir()
    dirs, runs = results_dirs(repo, "x=1,2,3", tmp_path, {"TMPDIR": str(own)})
    # one directory for the whole sweep, in the user's TMPDIR, gone after the sweep
    assert len(dirs) == 1 and next(iter(dirs)).parent == own
    assert list(own.iterdir()) == []
    assert [r.summary for r in runs] == [{"loss": 1.5}] * 3
    if not (os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK)):
        pytest.skip("no writable /dev/shm here")
    dirs, runs = results_dirs(repo, "x=4,5,6", tmp_path, {"TMPDIR": "", "XDG_RUNTIME_DIR": ""})
    assert len(dirs) == 1 and next(iter(dirs)).parent == Path("/dev/shm")
    assert not next(iter(dirs)).exists()
    assert [r.summary for r in runs] == [{"loss": 1.5}] * 3
    assert_fsck_clean(repo)


AGENT = """\
import gitcfg as wandb

config = {
    "method": "grid",
    "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"lr": {"values": [0.1, 0.01]}, "bs": {"values": [16, 32]}},
}

def train():
    with wandb.init(config={"lr": 1.0, "bs": 1, "epochs": 3}) as run:
        wandb.log({"loss": run.config.lr * run.config.bs})
        print("run", run.id, dict(wandb.config))

sweep_id = wandb.sweep(config, project="agents")
wandb.agent(sweep_id, function=train, count=3)
print("sweep", sweep_id)
"""


def test_wandb_sweep_and_agent_run_in_process(repo: Path) -> None:
    (repo / "agent.py").write_text(AGENT)
    first = subprocess.run(
        [sys.executable, "agent.py"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    sweep_id = lines[-1].split()[1]
    assert len(lines) == 4 and all(line.startswith("run ") for line in lines[:3])
    runs = sweep_runs(repo, sweep_id)
    assert len(runs) == 3 and {r.ref.project for r in runs} == {"agents"}
    for r in runs:
        assert r.config["epochs"] == 3 and r.config["lr"] in (0.1, 0.01)
        assert r.summary["loss"] == r.config["lr"] * r.config["bs"]
        assert r.meta["exit_status"] == 0
    # the same script again: the same sweep, one point left
    second = subprocess.run(
        [sys.executable, "agent.py"], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert second.returncode == 0, second.stderr
    runs = sweep_runs(repo, sweep_id)
    assert sorted((r.config["lr"], r.config["bs"]) for r in runs) == [
        (0.01, 16),
        (0.01, 32),
        (0.1, 16),
        (0.1, 32),
    ]
    assert_fsck_clean(repo)


def test_bayes_learns_from_the_recorded_runs(repo: Path) -> None:
    pytest.importorskip("optuna")
    (repo / "train.py").write_text(TINY)
    shutil.copy(WANDB / "sweep-bayes.yaml", repo / "bayes.yaml")
    result = gitcfg(repo, "sweep", "bayes.yaml", "--count", "6", "-j", "2")
    assert result.returncode == 0, result.stderr
    runs = sweep_runs(repo)
    assert len(runs) == 6
    assert all(r.config["base"] in (10, 15, 20) for r in runs)
    more = gitcfg(repo, "sweep", "bayes.yaml", "--count", "9")
    assert more.returncode == 0, more.stderr
    assert "3 run(s) to do, learning from 6 recorded run(s)" in more.stderr
    runs = sweep_runs(repo)
    assert sorted(r.meta["sweep_point"] for r in runs) == list(range(9))
    best = min(runs, key=lambda r: r.summary["loss_metric"])
    assert f"best: {best.ref} loss_metric=" in more.stdout


def test_bayes_without_optuna_says_how_to_install_it(repo: Path) -> None:
    (repo / "train.py").write_text(TINY)
    shutil.copy(WANDB / "sweep-bayes.yaml", repo / "bayes.yaml")
    blocker = repo / "no_optuna"
    blocker.mkdir()
    (blocker / "optuna.py").write_text("raise ImportError('optuna hidden by the test')\n")
    result = gitcfg(repo, "sweep", "bayes.yaml", "--count", "2", env={"PYTHONPATH": str(blocker)})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("Error: method 'bayes' uses optuna")
    assert "pip install 'gitcfg[sweep]'" in result.stderr
    assert sweep_runs(repo) == []


@pytest.mark.parametrize(
    ("files", "args", "code", "message"),
    [
        ({"s.yaml": "method: hill\nparameters: {a: {value: 1}}\n"}, ["s.yaml"], 2,
         "unknown method 'hill'"),
        ({"s.yaml": "parameters: {a: {distribution: zipf, min: 1, max: 2}}\nprogram: t.py\n"},
         ["s.yaml"], 2, "unknown distribution 'zipf'"),
        ({"s.yaml": "parameters: [a: 1\n"}, ["s.yaml"], 1, "s.yaml"),
        ({"s.yaml": "parameters: {a: {value: 1}}\nprogram: missing.py\n"}, ["s.yaml"], 2,
         "program 'missing.py' does not exist"),
        ({}, ["a=1,2", "--", "no-such-program-here"], 2, "not found"),
        ({}, ["a=1,2"], 2, "no command to run"),
        ({}, ["a=1,2", "--shard", "2/2", "--", "true"], 2, "--shard '2/2'"),
        ({}, ["nosuchfile.yaml"], 1, "nosuchfile.yaml: no such file"),
        ({}, ["a=[1,", "--", "true"], 2, "quote the value"),
        ({}, ["x=0.1", "--method", "random", "--", "true"], 2, "--count"),
    ],
)  # fmt: skip
def test_bad_sweeps_are_one_line_and_record_nothing(
    repo: Path, files: dict[str, str], args: list[str], code: int, message: str
) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    result = gitcfg(repo, "sweep", *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "refs/heads/gitcfg" not in git(repo, "for-each-ref")


def test_failed_points_make_the_sweep_fail_after_all_ran(repo: Path) -> None:
    # a program in any language reads the point from $GITCFG_CONFIG
    (repo / "odd.sh").write_text(
        "n=$(python3 -c \"import json, os; print(json.loads(os.environ['GITCFG_CONFIG'])['n'])\")\n"
        "exit $((n % 2))\n"
    )
    result = gitcfg(repo, "sweep", "n=0,1,2", "--", "bash", "odd.sh")
    assert result.returncode == 1
    assert "Error: 1 of 3 run(s) exited non-zero" in result.stderr
    statuses = sorted((r.config["n"], r.meta["exit_status"]) for r in sweep_runs(repo))
    assert statuses == [(0, 0), (1, 1), (2, 0)]


def test_each_points_times_are_its_programs_own(repo: Path) -> None:
    """A point's run is finished after the next point's program has started (so the commit
    overlaps it), but its duration and end time are still those of its own program: one after
    another with -j 1, the runs do not overlap, and each lasted as long as it slept and no
    longer than from its own start to its own end."""
    nap = "import sys, time; time.sleep(float(sys.argv[1].split('=')[1]))"
    argv = [sys.executable, "-c", nap, "${args_no_hyphens}"]
    result = gitcfg(repo, "sweep", "nap=0.3,0.4,0.5", "-j", "1", "--", *argv)
    assert result.returncode == 0, result.stderr
    runs = sorted(ConfigStore.open(repo).runs(), key=lambda r: r.meta["sweep_point"])
    assert [r.config["nap"] for r in runs] == [0.3, 0.4, 0.5]
    for record in runs:
        meta = record.meta
        assert meta["exit_status"] == 0
        # The span also holds the commit that created the run, which the duration leaves out;
        # not a fixed margin over the nap: a busy machine starts Python in more than 0.25 s.
        span = datetime.fromisoformat(meta["finished"]) - datetime.fromisoformat(meta["started"])
        assert record.config["nap"] <= meta["duration"] <= span.total_seconds() + 0.002, meta
    for before, after in itertools.pairwise(runs):
        assert before.meta["finished"] <= after.meta["started"], (before.meta, after.meta)
    assert_fsck_clean(repo)


@pytest.mark.parametrize("sweep_id", ["sw-mine", 'say "hi" \\ twice'])
def test_a_sweep_resumes_from_its_own_runs_only(repo: Path, sweep_id: str) -> None:
    # Runs that mention the sweep's id elsewhere in their meta are not its runs: another
    # sweep grouped under that name, notes quoting it, a run of another project.
    store = ConfigStore.open()
    store.create("p", {"x": 1}, meta={"group": sweep_id, "sweep_id": "other", "sweep_point": 0,
                                      "exit_status": 0})  # fmt: skip
    store.create("p", {"x": 2}, meta={"notes": f"sweep_id: {sweep_id}", "exit_status": 0})
    store.create("q", {"x": 1}, meta={"sweep_id": sweep_id, "sweep_point": 0, "exit_status": 0})
    args = ["sweep", "x=1,2", "--id", sweep_id, "--project", "p", "--", "true"]
    first = gitcfg(repo, *args)
    assert first.returncode == 0, first.stderr
    assert "2 run(s) to do" in first.stderr
    again = gitcfg(repo, *args)
    assert again.returncode == 0, again.stderr
    assert "0 run(s) to do" in again.stderr
    mine = [r for r in store.runs("p") if r.meta.get("sweep_id") == sweep_id]
    assert sorted(r.config["x"] for r in mine) == [1, 2]
    shown = [line.split()[0] for line in again.stdout.strip().splitlines()[1:]]
    assert sorted(shown) == sorted(r.ref.id for r in mine)
    assert_fsck_clean(repo)


def test_the_recorded_runs_are_found_a_batch_of_subtrees_at_a_time(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the search reads the project a few subtrees at a time (never every run at once): what
    # it finds is what the whole listing holds, oldest first
    from gitcfg import listing
    from gitcfg.sweeps.plan import recorded_runs

    monkeypatch.setattr(listing, "_FORK_SUBTREES", 2)
    store = ConfigStore.open()
    for i in range(24):
        meta = {"sweep_id": "sw-a" if i % 3 else "sw-b", "sweep_point": i, "exit_status": 0}
        store.create("p", {"x": i}, run_id=f"r{i:02d}", meta=meta)
    for _ in range(2):  # read from git, then from the cache
        found = [r.record for r in recorded_runs(store, "p", "sw-a")]
        whole = [r for r in store.runs("p") if r.meta["sweep_id"] == "sw-a"]
        assert [r.ref for r in found] == [r.ref for r in whole] and len(found) == 16
        assert [r.config for r in found] == [r.config for r in whole]


# Each start is a line in "starts"; point x=1 blocks while the file "block" exists.
STARTS = """\
import os, sys, time
x = sys.argv[1].split("=")[1]
with open("starts", "a") as out:
    out.write(x + "\\n")
open(f"started-{x}", "w").close()
while x == "1" and os.path.exists("block"):
    time.sleep(0.05)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_point_cut_off_by_a_signal_runs_again_on_the_next_invocation(
    repo: Path, signum: signal.Signals
) -> None:
    # SLURM preempts with SIGTERM; the sweep records the cut-off point as 128+N, which is not
    # success: the same command runs that point once more, as a new run of the same sweep.
    (repo / "job.py").write_text(STARTS)
    (repo / "block").touch()
    args = ["sweep", "x=1,2,3", "--", "python", "job.py", "${args_no_hyphens}"]
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", *args],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # no terminal: the sweep passes SIGINT on itself
    )  # fmt: skip
    wait_for(repo / "started-1")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == -signum, stderr
    assert "run the same command again to resume it" in stderr
    [cut] = sweep_runs(repo)
    assert cut.meta["exit_status"] == 128 + signum and cut.meta["sweep_point"] == 0
    (repo / "block").unlink()
    again = gitcfg(repo, *args)
    assert again.returncode == 0, again.stderr
    assert "3 run(s) to do (1 failed or cut off before)" in again.stderr
    assert (repo / "starts").read_text().split() == ["1", "1", "2", "3"]
    runs = sweep_runs(repo)
    assert len(runs) == 4 and {r.meta["group"] for r in runs} == {cut.meta["group"]}
    assert cut.ref in [r.ref for r in runs]  # the cut-off run stays, as history
    done = [r for r in runs if r.meta["exit_status"] == 0]
    assert sorted((r.meta["sweep_point"], r.config["x"]) for r in done) == [(0, 1), (1, 2), (2, 3)]
    # the table shows each point once: point 0 by its successful run
    shown = [line.split()[0] for line in again.stdout.strip().splitlines()[1:]]
    assert sorted(shown) == sorted(r.ref.id for r in done)
    last = gitcfg(repo, *args)
    assert last.returncode == 0 and "0 run(s) to do" in last.stderr
    assert last.stdout == again.stdout and len(sweep_runs(repo)) == 4
    assert_fsck_clean(repo)


# loss: x=2 is the best point, but while "broken" exists it reports a better loss and exits 3
FAILS = """\
import json, os, sys
x = int(sys.argv[1].split("=")[1])
broken = x == 2 and os.path.exists("broken")
loss = -100 if broken else {1: 1, 2: 0, 3: 3}[x]
json.dump({"loss": loss}, open(os.environ["GITCFG_SUMMARY_FILE"], "w"))
sys.exit(3 if broken else 0)
"""


def test_a_failed_point_runs_again_and_the_sweep_fails_while_it_fails(repo: Path) -> None:
    # a sweep file with no program or command takes the command after '--'
    (repo / "job.py").write_text(FAILS)
    (repo / "broken").touch()
    (repo / "s.yaml").write_text(
        "metric: {name: loss, goal: minimize}\nparameters: {x: {values: [1, 2, 3]}}\n"
    )
    args = ["sweep", "s.yaml", "--", "python", "job.py", "${args_no_hyphens}"]
    first = gitcfg(repo, *args)
    assert first.returncode == 1, first.stderr
    assert "Error: 1 of 3 run(s) exited non-zero" in first.stderr
    assert "the same command runs their points again" in first.stderr
    by_point = {r.meta["sweep_point"]: r for r in sweep_runs(repo)}
    # the failed run's loss is not the best: the best is a successful run
    assert f"best: {by_point[0].ref} loss=1.0 " in first.stdout
    assert first.stdout.strip().splitlines()[-2].split()[:2] == [by_point[1].ref.id, "1"]
    still = gitcfg(repo, *args)  # still broken: run again, fails again, the sweep fails
    assert still.returncode == 1, still.stderr
    assert "1 run(s) to do (1 failed or cut off before)" in still.stderr
    assert "Error: 1 of 1 run(s) exited non-zero" in still.stderr
    assert len(still.stdout.strip().splitlines()) == 1 + 3 + 1  # one row per point, best
    (repo / "broken").unlink()
    fixed = gitcfg(repo, *args)
    assert fixed.returncode == 0, fixed.stderr
    runs = sweep_runs(repo)
    statuses = sorted(
        (r.meta["sweep_point"], r.meta["started"], r.meta["exit_status"]) for r in runs
    )
    assert [(point, status) for point, _, status in statuses] == [
        (0, 0), (1, 3), (1, 3), (1, 0), (2, 0)
    ]  # fmt: skip
    [best] = [r for r in runs if r.meta["sweep_point"] == 1 and r.meta["exit_status"] == 0]
    assert f"best: {best.ref} loss=0.0 " in fixed.stdout
    rows = [line.split() for line in fixed.stdout.strip().splitlines()[1:-1]]
    assert [row[0] for row in rows] == [best.ref.id, by_point[0].ref.id, by_point[2].ref.id]
    assert all(row[3] == "0" for row in rows)
    done = gitcfg(repo, *args)
    assert done.returncode == 0 and "0 run(s) to do" in done.stderr
    assert_fsck_clean(repo)


def test_each_shard_runs_again_only_its_own_failed_points(repo: Path) -> None:
    (repo / "job.py").write_text(FAILS.replace("{1: 1, 2: 0, 3: 3}[x]", "x"))
    (repo / "broken").touch()
    args = ["sweep", "x=1,2,3,4", "--", "python", "job.py", "${args_no_hyphens}"]
    first = [gitcfg(repo, *args[:2], "--shard", f"{i}/2", *args[2:]) for i in range(2)]
    assert [r.returncode for r in first] == [0, 1], [r.stderr for r in first]  # x=2: point 1
    (repo / "broken").unlink()
    other = gitcfg(repo, *args[:2], "--shard", "0/2", *args[2:])
    assert other.returncode == 0 and "0 run(s) to do" in other.stderr, other.stderr
    mine = gitcfg(repo, *args[:2], "--shard", "1/2", *args[2:])
    assert mine.returncode == 0 and "1 run(s) to do (1 failed" in mine.stderr, mine.stderr
    whole = gitcfg(repo, *args)
    assert whole.returncode == 0 and "0 run(s) to do" in whole.stderr
    assert len(whole.stdout.strip().splitlines()) == 1 + 4
    assert len(sweep_runs(repo)) == 5
    assert_fsck_clean(repo)


def test_an_agent_point_whose_function_raised_runs_again_in_the_next_agent(repo: Path) -> None:
    failing = AGENT.replace(
        "        wandb.log(",
        "        if run.config.lr == 0.1 and run.config.bs == 16 and os.path.exists('broken'):\n"
        "            raise RuntimeError('diverged')\n"
        "        wandb.log(",
    ).replace("count=3", "count=None")
    (repo / "agent.py").write_text("import os\n" + failing)
    (repo / "broken").touch()

    def agent() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "agent.py"], cwd=repo, capture_output=True, text=True, timeout=120
        )

    first = agent()
    assert first.returncode == 0 and "RuntimeError: diverged" in first.stderr, first.stderr
    runs = sweep_runs(repo)
    assert sorted(r.meta["exit_status"] for r in runs) == [0, 0, 0, 1]
    (repo / "broken").unlink()
    second = agent()
    assert second.returncode == 0, second.stderr
    assert second.stdout.count("run ") == 1  # only the failed point ran
    runs = sweep_runs(repo)
    ok = {(r.config["lr"], r.config["bs"]) for r in runs if r.meta["exit_status"] == 0}
    assert len(runs) == 5 and len(ok) == 4
    assert len(agent().stdout.splitlines()) == 1  # nothing left: only the sweep line
    assert_fsck_clean(repo)


def test_a_failed_bayes_point_runs_again_with_its_values(repo: Path) -> None:
    pytest.importorskip("optuna")
    # the first run of the sweep fails; the rest succeed
    (repo / "train.py").write_text(
        "import os, sys\n"
        "if not os.path.exists('failed-once'):\n"
        "    open('failed-once', 'w').close()\n"
        "    sys.exit(3)\n" + TINY
    )
    shutil.copy(WANDB / "sweep-bayes.yaml", repo / "bayes.yaml")
    first = gitcfg(repo, "sweep", "bayes.yaml", "--count", "3")
    assert first.returncode == 1, first.stderr
    [failed] = [r for r in sweep_runs(repo) if r.meta["exit_status"] != 0]
    again = gitcfg(repo, "sweep", "bayes.yaml", "--count", "3")
    assert again.returncode == 0, again.stderr
    assert "1 run(s) to do (1 failed or cut off before), learning from 2 recorded" in again.stderr
    point = failed.meta["sweep_point"]
    [rerun] = [
        r for r in sweep_runs(repo) if r.meta["sweep_point"] == point and r.ref != failed.ref
    ]
    assert rerun.meta["exit_status"] == 0 and rerun.config == failed.config


@pytest.mark.parametrize(
    ("files", "args", "message"),
    [
        ({}, ["lr", "--", "true"],
         "Error: 'lr' is not KEY=V1,V2,... (nor a sweep file here); write e.g. lr=0.1,0.01"),
        ({}, ["lr"], "Error: 'lr' is not KEY=V1,V2,..."),
        ({}, ["a=1,2", "lr", "--", "true"], "Error: 'lr' is not KEY=V1,V2,..."),
        ({}, ["lr=1,2", "lr=3", "--", "true"],
         "Error: 'lr' is given twice ('lr=1,2' and 'lr=3'); give each key once"),
        ({"s.yaml": "parameters: {a: {value: 1}}\n"}, ["s.yaml"],
         "Error: s.yaml names no 'program' to run; add 'program: train.py' to it, or give the "
         "command after '--': gitcfg sweep s.yaml -- python train.py"),
        ({"s.yaml": "parameters: {a: {value: 1}}\nprogram: train.py\n"},
         ["s.yaml", "--", "true"], "Error: s.yaml has its own 'program'; drop the words after"),
        ({"s.yaml": "parameters: {a: {value: 1}}\ncommand: [true]\n"},
         ["s.yaml", "--", "true"], "Error: s.yaml has its own 'command'; drop the words after"),
    ],
)  # fmt: skip
def test_malformed_sweep_arguments_are_one_line_exit_2_and_move_nothing(
    repo: Path, files: dict[str, str], args: list[str], message: str
) -> None:
    for name, text in files.items():
        (repo / name).write_text(text)
    for existing in (False, True):
        if existing:
            ConfigStore.open(repo).create("p", {"a": 1})
        refs = git(repo, "for-each-ref")
        result = gitcfg(repo, "sweep", *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(message), result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert git(repo, "for-each-ref") == refs  # the branch tip did not move
    assert_fsck_clean(repo)


def test_a_points_program_starts_with_what_popen_gives_it(repo: Path) -> None:
    # the programs are started with posix_spawn: as Popen would start them, with SIGPIPE and
    # SIGXFSZ at their defaults (Python ignores both) and no descriptor but 0, 1 and 2, even
    # one the sweep itself was given
    probe = (
        "grep SigIgn /proc/self/status; "
        "if [ -e /proc/self/fd/45 ]; then echo fd45 open; else echo fd45 closed; fi"
    )
    read_end, write_end = os.pipe()
    os.dup2(write_end, 45)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "gitcfg", "sweep", "n=1,2", "-j", "2", "--", "sh", "-c", probe],
            cwd=repo,
            capture_output=True,
            text=True,
            pass_fds=(45,),
            timeout=120,
        )
    finally:
        for fd in (read_end, write_end, 45):
            os.close(fd)
    assert result.returncode == 0, result.stderr
    ignored = [int(line.split()[1], 16) for line in result.stdout.splitlines() if "SigIgn" in line]
    assert len(ignored) == 2
    for mask in ignored:
        assert not mask & (1 << (signal.SIGPIPE - 1)) and not mask & (1 << (signal.SIGXFSZ - 1))
    assert result.stdout.count("fd45 closed") == 2


def test_a_point_whose_program_cannot_start_records_127(repo: Path) -> None:
    script = repo / "job.sh"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    result = gitcfg(repo, "sweep", "n=1,2", "--", "./job.sh")
    assert result.returncode == 1
    assert result.stderr.count("gitcfg: could not start './job.sh' for run ") == 2
    assert sorted(r.meta["exit_status"] for r in sweep_runs(repo)) == [127, 127]
    assert_fsck_clean(repo)
