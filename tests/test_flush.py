"""Pending changes are committed at exit, on an unhandled exception, SIGTERM and SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import gitcfg
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401

START = """
import os, signal, sys, time, gitcfg
gitcfg.init(config={"epochs": 4}, project="f", id="run")
gitcfg.config.lr = 0.1
gitcfg.config.update({"model": {"depth": 18}})
"""
SETTLED = "epochs: 4\nlr: 0.1\nmodel.depth: 18\n"
TWO_COMMITS = ["update f/run: lr, model.depth", "create f/run (1 key)"]
# a run that failed, finished by the exit: its changes and how it ended, in one commit
FINISHED = ["update f/run: lr, model.depth, meta:exit_status", "create f/run (1 key)"]


def exit_status(repo: Path, path: str = "f/run") -> object:
    return gitcfg.Api(repo=str(repo)).run(path).meta.get("exit_status")


def test_normal_exit_commits_pending_changes_once(repo: Path) -> None:
    proc = run_script(repo, START)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert config_text(repo, "f", "run") == SETTLED
    assert subjects(repo) == TWO_COMMITS
    assert exit_status(repo) is None  # a clean end: no failure to record


def test_nothing_changed_makes_no_commit(repo: Path) -> None:
    proc = run_script(repo, "import gitcfg\ngitcfg.init(config={'a': 1}, project='f', id='r')\n")
    assert proc.returncode == 0
    assert subjects(repo) == ["create f/r (1 key)"]


def test_persist_and_finish_each_make_one_commit(repo: Path) -> None:
    proc = run_script(
        repo,
        START
        + """
gitcfg.config.persist()
gitcfg.config.persist()  # nothing new: no commit
gitcfg.config.step = 1
gitcfg.finish()
""",
    )
    assert (proc.returncode, proc.stderr) == (0, "")
    assert subjects(repo) == ["update f/run: step", *TWO_COMMITS]


def test_unhandled_exception_commits_and_exit_code_stays_1(repo: Path) -> None:
    proc = run_script(repo, START + "raise RuntimeError('diverged')\n")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == "RuntimeError: diverged"
    assert config_text(repo, "f", "run") == SETTLED
    assert exit_status(repo) == 1 and subjects(repo) == FINISHED


def test_sys_exit_code_is_kept(repo: Path) -> None:
    proc = run_script(repo, START + "sys.exit(3)\n")
    assert proc.returncode == 3
    assert config_text(repo, "f", "run") == SETTLED
    assert exit_status(repo) == 3


def test_sys_exit_in_a_thread_is_not_the_processs_status(repo: Path) -> None:
    # sys.exit in a thread ends the thread only: the run ended well
    script = START + "import threading\nt = threading.Thread(target=sys.exit, args=(1,))\n"
    proc = run_script(repo, script + "t.start()\nt.join()\n")
    assert (proc.returncode, exit_status(repo)) == (0, None)
    assert subjects(repo) == TWO_COMMITS


def wait_ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"


def start(repo: Path, code: str) -> subprocess.Popen[str]:
    script = repo.parent / "script.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script)],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as from a terminal: a suite started in the background (`&` in a script) would pass
        # SIGINT on ignored, and gitcfg rightly leaves an ignored signal alone
        preexec_fn=_sigint_default,
    )


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


LOOP = START + "print('ready', flush=True)\nwhile True:\n    time.sleep(0.05)\n"


def test_sigterm_commits_and_the_process_still_dies_by_sigterm(repo: Path) -> None:
    proc = start(repo, LOOP)
    wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=20)
    assert proc.returncode == -signal.SIGTERM
    assert stderr == ""
    assert config_text(repo, "f", "run") == SETTLED
    assert subjects(repo) == FINISHED
    assert exit_status(repo) == 128 + signal.SIGTERM  # as the shell reports it


def test_sigint_commits_and_raises_keyboard_interrupt(repo: Path) -> None:
    proc = start(
        repo,
        START
        + """
try:
    print('ready', flush=True)  # inside: the signal may come before print returns
    while True:
        time.sleep(0.05)
except KeyboardInterrupt:
    print('interrupted', flush=True)
    raise
""",
    )
    wait_ready(proc)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    assert stdout == "interrupted\n"
    assert stderr.strip().splitlines()[-1] == "KeyboardInterrupt"
    assert proc.returncode == -signal.SIGINT  # Python's exit status for an unhandled ^C
    # committed at the signal (the script may have gone on), finished at exit
    assert subjects(repo) == ["update f/run: meta:exit_status", *TWO_COMMITS]
    assert exit_status(repo) == 128 + signal.SIGINT


def test_users_own_sigterm_handler_is_still_called(repo: Path) -> None:
    proc = start(
        repo,
        """
import signal, sys, time
def handler(signum, frame):
    print('user handler', flush=True)
    sys.exit(7)
signal.signal(signal.SIGTERM, handler)
"""
        + LOOP,
    )
    wait_ready(proc)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=20)
    assert (proc.returncode, stdout, stderr) == (7, "user handler\n", "")
    assert subjects(repo) == ["update f/run: meta:exit_status", *TWO_COMMITS]
    assert exit_status(repo) == 7


def test_failed_flush_at_exit_prints_one_line(repo: Path) -> None:
    proc = run_script(
        repo,
        START
        + """
import subprocess
# someone else changes the same key meanwhile, so this process's change is a conflict
subprocess.run([sys.executable, "-c", "import gitcfg; r = gitcfg.Api().run('f/run'); "
                "r.config['lr'] = 0.5; r.update()"], check=True)
""",
    )
    assert proc.returncode == 0
    assert proc.stderr == (
        "gitcfg: could not commit the changes of run f/run: run 'f/run' was changed "
        "elsewhere since it was read (lr); read it again and reapply your change\n"
    )
    assert config_text(repo, "f", "run") == "epochs: 4\nlr: 0.5\n"


def test_another_process_edit_of_other_keys_is_kept(repo: Path) -> None:
    run = gitcfg.init(config={"a": 1, "b": 1}, project="f", id="keep")
    other = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gitcfg; r = gitcfg.Api().run('f/keep'); r.config.b = 2; r.update()",
        ],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 0, other.stderr
    run.config.c = 3
    run.finish()
    assert config_text(repo, "f", "keep") == "a: 1\nb: 2\nc: 3\n"


def test_no_child_processes_or_open_files_after_init(repo: Path) -> None:
    import os

    def fds() -> set[str]:
        return set(os.listdir("/proc/self/fd"))

    before = fds()
    gitcfg.init(config={"a": 1}, project="f", id="res")
    gitcfg.config.b = 2
    gitcfg.config.persist()
    children = Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()
    assert children == []
    assert fds() == before


@pytest.mark.skipif(sys.platform != "linux", reason="signals as on Linux")
def test_sigterm_during_a_flush_is_delivered_after_it(repo: Path) -> None:
    # the handler must not flush inside a flush (the store's write lock is held): it waits
    proc = start(
        repo,
        START
        + """
from gitcfg import flush
print('ready', flush=True)
with flush.critical():
    time.sleep(1)
    print('after critical', flush=True)
time.sleep(5)
print('not reached', flush=True)
""",
    )
    wait_ready(proc)
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=20)
    assert stdout == "after critical\n"
    assert proc.returncode == -signal.SIGTERM
    assert config_text(repo, "f", "run") == SETTLED


@pytest.mark.skipif(sys.platform != "linux", reason="fork and signals as on Linux")
def test_pools_terminated_as_their_workers_start_do_not_hang(repo: Path) -> None:
    # `with Pool()` ends with terminate(): a worker still starting when its SIGTERM came lost it
    # to the inherited Python handler (CPython drops those at a fork), then waited forever for
    # the queue lock terminate holds; about one pool in twenty hung so
    proc = run_script(
        repo,
        """
        import multiprocessing as mp, gitcfg

        if __name__ == "__main__":
            run = gitcfg.init(project="p", id="run")
            for i in range(40):
                with mp.get_context("fork").Pool(2) as pool:
                    assert pool.map(abs, [-1, -2]) == [1, 2]
                gitcfg.log({"pool": i})
        """,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    rows = gitcfg.Api(repo=str(repo)).run("p/run").scan_history()
    assert [row["pool"] for row in rows] == list(range(40))
