"""``gitcfg run``: any program recorded as a run, in real subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitcfg.store import ConfigStore, RunRecord
from tests.conftest import assert_fsck_clean, git


def gitcfg(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def only_run(repo: Path) -> RunRecord:
    runs = ConfigStore.open(repo).runs()
    assert len(runs) == 1, [r.ref for r in runs]
    return runs[0]


TRAIN = """\
import gitcfg as wandb

run = wandb.init(config={"lr": 0.5, "layers": 8, "epochs": 2})
wandb.log({"loss": wandb.config.lr * wandb.config.layers})
print("lr seen by the script:", wandb.config.lr)
"""


def test_python_script_attaches_and_set_values_win(repo: Path) -> None:
    (repo / "train.py").write_text(TRAIN)
    (repo / "config-defaults.yaml").write_text("layers: 4\nlr: 0.2\n")
    result = gitcfg(repo, "run", "--set", "lr=0.01", "--name", "first", "--", "python", "train.py")
    assert result.returncode == 0, result.stderr
    assert "lr seen by the script: 0.01" in result.stdout
    assert "was given lr=0.01 (script: 0.5)" in result.stderr
    record = only_run(repo)  # one run, not two
    assert record.config == {"lr": 0.01, "layers": 8, "epochs": 2}
    assert record.summary == {"loss": 0.08}
    meta = record.meta
    assert meta["command"] == "python train.py" and meta["name"] == "first"
    assert meta["exit_status"] == 0 and meta["set"] == ["lr"]
    assert isinstance(meta["duration"], float) and meta["host"]
    assert_fsck_clean(repo)


JOB = """\
#!/bin/bash
echo "config=$GITCFG_CONFIG run=$GITCFG_RUN_ID project=$GITCFG_PROJECT"
printf '{"score": %d, "eval": {"f1": 0.5}}\\n' $((2 * $1)) > "$GITCFG_SUMMARY_FILE"
exit 3
"""


def test_bash_child_writes_its_results_and_its_exit_status_is_gitcfgs(repo: Path) -> None:
    (repo / "job.sh").write_text(JOB)
    result = gitcfg(
        repo, "run", "--set", "n=21", "--set", "model.kind=tiny", "--project", "jobs",
        "--", "bash", "job.sh", "21",
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    record = only_run(repo)
    assert result.stdout == (
        f'config={{"n": 21, "model.kind": "tiny"}} run={record.ref.id} project=jobs\n'
    )
    assert record.ref.project == "jobs"
    assert record.config == {"n": 21, "model.kind": "tiny"}
    assert record.summary == {"score": 42, "eval.f1": 0.5}
    assert record.meta["exit_status"] == 3 and record.meta["command"] == "bash job.sh 21"
    assert_fsck_clean(repo)


def test_a_results_file_that_is_not_a_mapping_is_reported_and_the_run_kept(repo: Path) -> None:
    result = gitcfg(repo, "run", "--", "bash", "-c", 'echo "[1, 2]" > "$GITCFG_SUMMARY_FILE"')
    assert result.returncode == 0
    assert "not recorded" in result.stderr and "not a mapping" in result.stderr
    record = only_run(repo)
    assert record.summary == {} and record.meta["exit_status"] == 0


def test_a_json_results_file_is_read_as_json_and_a_yaml_one_as_yaml(repo: Path) -> None:
    # Python's json writes a diverged loss as NaN: a float to JSON readers, not the string YAML
    # would make of it.
    writer = (
        "import json, os; results = {'loss': float('nan'), 'lr': 1e-05, 'ok': True}; "
        "json.dump(results, open(os.environ['GITCFG_SUMMARY_FILE'], 'w'))"
    )
    assert gitcfg(repo, "run", "--", sys.executable, "-c", writer).returncode == 0
    summary = only_run(repo).summary
    assert summary["loss"] != summary["loss"]  # NaN
    assert summary["lr"] == 1e-05 and summary["ok"] is True
    shown = gitcfg(repo, "runs", "--format", "csv", "--columns", "summary:loss")
    assert shown.stdout.splitlines()[1] in ("nan", ".nan", "NaN"), shown.stdout
    # as PowerShell writes it: a byte order mark first
    bom_writer = r'printf "\xef\xbb\xbf{\"acc\": NaN}" > "$GITCFG_SUMMARY_FILE"'
    assert gitcfg(repo, "run", "--name", "bom", "--", "bash", "-c", bom_writer).returncode == 0
    bom = next(r for r in ConfigStore.open(repo).runs() if r.meta.get("name") == "bom")
    assert bom.summary["acc"] != bom.summary["acc"]  # NaN, a float
    yaml_writer = 'printf "loss: 0.5\\nnote: no\\n" > "$GITCFG_SUMMARY_FILE"'
    assert gitcfg(repo, "run", "--", "bash", "-c", yaml_writer).returncode == 0
    runs = ConfigStore.open(repo).runs()
    assert {"loss": 0.5, "note": False} in [r.summary for r in runs]
    assert_fsck_clean(repo)


HANDLER = """\
import os, signal, sys, time
import gitcfg

run = gitcfg.init(config={"lr": 0.5})
def stop(signum, frame):
    open("got-" + signal.Signals(signum).name, "w").close()
    gitcfg.log({"stopped_at": 7})
    sys.exit(7)
signal.signal(signal.SIGTERM, stop)
open("ready", "w").close()
time.sleep(60)
"""


def wait_for(path: Path) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_sigterm_reaches_the_child_and_the_run_is_still_flushed(repo: Path) -> None:
    (repo / "train.py").write_text(HANDLER)
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", "run", "--set", "lr=0.1", "--", "python", "train.py"],
        cwd=repo,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(repo / "ready")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 7, stderr
    assert (repo / "got-SIGTERM").exists()
    record = only_run(repo)
    assert record.config == {"lr": 0.1}
    assert record.summary == {"stopped_at": 7}
    assert record.meta["exit_status"] == 7
    assert_fsck_clean(repo)


def test_a_child_killed_by_a_signal_ends_gitcfg_the_same_way(repo: Path) -> None:
    script = "touch ready; exec sleep 60"
    process = subprocess.Popen(
        [sys.executable, "-m", "gitcfg", "run", "--", "bash", "-c", script], cwd=repo
    )
    wait_for(repo / "ready")
    time.sleep(0.2)  # bash has become sleep
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == -signal.SIGTERM
    record = only_run(repo)
    assert record.meta["exit_status"] == 128 + signal.SIGTERM
    assert record.meta["signal"] == "SIGTERM"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["run", "--", "no-such-program-here"], 2, "program 'no-such-program-here' not found"),
        (["run", "--set", "lr", "--", "true"], 2, "expected KEY=VALUE, got 'lr'"),
        (["run", "--set", "lr=[1,", "--", "true"], 2, "quote the value"),
        (["run"], 2, "no command to run"),
        (["run", "--config", "missing.yaml", "--", "true"], 1, "missing.yaml: no such file"),
    ],
)
def test_bad_input_is_one_line_and_records_nothing(
    repo: Path, args: list[str], code: int, message: str
) -> None:
    result = gitcfg(repo, *args)
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "refs/heads/gitcfg" not in git(repo, "for-each-ref")


def test_a_program_that_cannot_start_is_an_error_and_its_run_says_so(repo: Path) -> None:
    script = repo / "job.sh"
    script.write_text("#!/no/such/interpreter\n")
    script.chmod(0o755)
    result = gitcfg(repo, "run", "--", "./job.sh")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("Error: could not start './job.sh'")
    record = only_run(repo)
    assert record.meta["exit_status"] == 127 and record.meta["command"] == "./job.sh"
    assert_fsck_clean(repo)


COUNTER = """\
import signal, sys, time
hits = []
def count(signum, frame):
    hits.append(signum)
signal.signal(signal.SIGINT, count)
open("ready", "w").close()
deadline = time.time() + 30
while not hits and time.time() < deadline:
    time.sleep(0.05)
time.sleep(1.0)  # a second, forwarded SIGINT would arrive in this time
open("hits", "w").write(str(len(hits)))
sys.exit(4)
"""


def test_ctrl_c_on_a_terminal_reaches_the_child_once(repo: Path) -> None:
    import pty

    (repo / "counter.py").write_text(COUNTER)
    argv = [sys.executable, "-m", "gitcfg", "run", "--", sys.executable, "counter.py"]
    pid, master = pty.fork()
    if pid == 0:  # the child: a session on its own terminal, gitcfg in the foreground group
        os.chdir(repo)
        os.execv(argv[0], argv)
    try:
        wait_for(repo / "ready")
        os.write(master, b"\x03")  # the terminal sends SIGINT to the foreground process group
        deadline = time.monotonic() + 60
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            assert time.monotonic() < deadline
            try:  # keep the terminal's buffer drained
                os.read(master, 65536)
            except OSError:
                time.sleep(0.05)
    finally:
        os.close(master)
    assert os.waitstatus_to_exitcode(status) == 4
    # gitcfg does not pass a terminal's SIGINT on a second time (two close ones may merge, so
    # this catches a double delivery only when they arrive apart)
    assert (repo / "hits").read_text() == "1"
    assert only_run(repo).meta["exit_status"] == 4


def test_a_results_file_with_a_secret_is_left_out_and_the_run_kept(repo: Path) -> None:
    # the value comes from the environment: the command line (in meta.yaml) does not hold it
    writer = 'echo "{api_key: $KEY, acc: 0.9}" > "$GITCFG_SUMMARY_FILE"; exit 3'
    result = gitcfg(repo, "run", "--", "bash", "-c", writer, env={"KEY": "sk-SECRET"})
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert lines[1:] == [
        f"gitcfg: results in $GITCFG_SUMMARY_FILE of run {only_run(repo).ref} not recorded: "
        "summary key 'api_key' looks like a credential and would be kept in git history; "
        "keep secrets out of results, or set GITCFG_ALLOW_SECRETS=1 to record it anyway"
    ]
    record = only_run(repo)
    assert record.summary == {} and record.meta["exit_status"] == 3
    assert "sk-SECRET" not in git(repo, "log", "-p", "gitcfg")
    opt_in = {"KEY": "sk-SECRET", "GITCFG_ALLOW_SECRETS": "1"}
    allowed = gitcfg(repo, "run", "--", "bash", "-c", writer, env=opt_in)
    assert allowed.returncode == 3 and "not recorded" not in allowed.stderr
    runs = ConfigStore.open(repo).runs()
    assert sorted(str(r.summary) for r in runs) == ["{'acc': 0.9, 'api_key': 'sk-SECRET'}", "{}"]
    assert_fsck_clean(repo)
