"""A run's last changes are kept when the store branch cannot take them as it ends, and the
next gitcfg process commits them (``gitcfg.pending``); git itself holds the lock in these tests."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import gitcfg
from gitcfg import pending
from gitcfg.errors import PendingChangesError
from gitcfg.layout import RunRef
from gitcfg.pending import PendingChange
from gitcfg.store import ConfigStore
from tests.apihelpers import config_text, no_active_run, subjects  # noqa: F401 (autouse fixture)
from tests.conftest import git

X1 = RunRef("p", "x1")


class GitHoldsLock:
    """A real git process in the middle of moving the store branch: ``git update-ref --stdin``
    has prepared its transaction, so it holds ``refs/heads/gitcfg.lock`` until it is told to
    abort (or its input ends)."""

    def __init__(self, repo: Path) -> None:
        tip = git(repo, "rev-parse", "gitcfg").strip()
        self.proc = subprocess.Popen(
            ["git", "update-ref", "--stdin"],
            cwd=repo,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(f"start\nupdate refs/heads/gitcfg {tip} {tip}\nprepare\n")
        self.proc.stdin.flush()
        assert [self.proc.stdout.readline(), self.proc.stdout.readline()] == [
            "start: ok\n",
            "prepare: ok\n",
        ]
        assert (repo / ".git" / "refs" / "heads" / "gitcfg.lock").exists()

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("abort\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=30)


@pytest.fixture
def git_holds(repo: Path) -> Iterator[type[GitHoldsLock]]:
    held: list[GitHoldsLock] = []

    class Held(GitHoldsLock):
        def __init__(self, repo: Path) -> None:
            super().__init__(repo)
            held.append(self)

    yield Held
    for lock in held:
        lock.release()


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run's end waits 0.3 s, not seconds, for a lock git holds."""
    monkeypatch.setattr(pending, "END_WAIT_SECONDS", 0.3)


def kept(repo: Path) -> list[Path]:
    return sorted((repo / ".git" / "gitcfg" / "pending").glob("*.json"))


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=cwd, capture_output=True, text=True
    )


def started_run() -> gitcfg.Run:
    run = gitcfg.init(config={"a": 1, "c": 0}, project="p", id="x1")
    gitcfg.config.b = 2
    del gitcfg.config["c"]
    gitcfg.log({"loss": 0.5})
    return run


def test_a_run_ending_while_git_holds_the_branch_keeps_its_changes(
    repo: Path, git_holds: type[GitHoldsLock], short_wait: None, capsys: pytest.CaptureFixture[str]
) -> None:
    run = started_run()
    lock = git_holds(repo)
    run.finish()  # no exception: the script's end is not the place to fail
    err = capsys.readouterr().err
    (path,) = kept(repo)
    lock_path = repo / ".git" / "refs" / "heads" / "gitcfg.lock"
    assert err == (
        f"gitcfg: run p/x1 ended, but its last changes (b, c, summary:loss) could not be "
        f"committed: refs/heads/gitcfg is locked by another git process ({lock_path} exists); "
        f"they are kept in {path}, and the next gitcfg command in this repository commits "
        f"them (e.g. 'gitcfg show p/x1') once that lock is gone (if no git command is running, "
        f"remove {lock_path})\n"
    )
    assert subjects(repo) == ["create p/x1 (2 keys)"]
    assert run.finished and gitcfg.run is None
    lock.release()
    # what the line says to run commits them, once
    shown = cli(repo, "show", "p/x1", "--all")
    assert shown.stdout == "config:\n  a: 1\n  b: 2\nsummary:\n  loss: 0.5\n"
    assert shown.stderr == (
        "gitcfg: committed the last changes of run p/x1 (b, c, summary:loss), kept when it ended\n"
    )
    assert subjects(repo) == ["update p/x1: b, c, summary:loss", "create p/x1 (2 keys)"]
    assert kept(repo) == []
    assert cli(repo, "show", "p/x1").stderr == ""


def test_a_lock_git_lets_go_of_within_the_end_wait_is_committed_at_once(
    repo: Path, git_holds: type[GitHoldsLock], capsys: pytest.CaptureFixture[str]
) -> None:
    # git's own wait is 100 ms; a run's end waits seconds (END_WAIT_SECONDS) before keeping
    run = started_run()
    lock = git_holds(repo)
    began = time.monotonic()  # before the timer starts: released no sooner than 1 s after this
    threading.Timer(1.0, lock.release).start()
    run.finish()
    assert time.monotonic() - began >= 1.0
    assert capsys.readouterr().err == ""
    assert subjects(repo) == ["update p/x1: b, c, summary:loss", "create p/x1 (2 keys)"]
    assert config_text(repo, "p", "x1") == "a: 1\nb: 2\n"
    assert kept(repo) == []


def test_a_run_of_gitcfg_run_keeps_how_its_program_ended(
    repo: Path, git_holds: type[GitHoldsLock], short_wait: None, capsys: pytest.CaptureFixture[str]
) -> None:
    from gitcfg.sweeps.child import ChildRun

    child = ChildRun.create(ConfigStore.open(), ["train"], {"lr": 0.1}, project="p")
    lock = git_holds(repo)
    child.finish(3)
    assert f"run {child.ref} ended, but its last changes (meta:exit_status, meta:duration, " in (
        capsys.readouterr().err
    )
    lock.release()
    assert cli(repo, "runs", "--where", "meta:exit_status=3", "--columns", "id").stdout == (
        f"id\n{child.ref.id}\n"
    )


def test_resume_commits_the_runs_kept_changes_first(
    repo: Path, git_holds: type[GitHoldsLock], short_wait: None
) -> None:
    started_run()
    lock = git_holds(repo)
    gitcfg.finish()
    (path,) = kept(repo)
    # while they cannot be committed, the run does not go on from a state that is not its last
    with pytest.raises(PendingChangesError) as refused:
        gitcfg.init(project="p", id="x1", resume="must")
    message = str(refused.value)
    assert message.startswith(
        f"run 'p/x1' has changes it could not commit when it last ended (kept in {path}), and "
        f"they cannot be committed now: refs/heads/gitcfg is locked by another git process"
    )
    assert "resume it once that lock is gone" in message and "retry" not in message
    assert gitcfg.run is None and kept(repo) == [path]
    lock.release()
    run = gitcfg.init(project="p", id="x1", resume="must")
    assert dict(run.config) == {"a": 1, "b": 2} and dict(run.summary) == {"loss": 0.5}
    assert kept(repo) == []
    run.finish()
    assert subjects(repo) == ["update p/x1: b, c, summary:loss", "create p/x1 (2 keys)"]


def _keep(repo: Path, change: PendingChange) -> Path:
    return pending.keep(repo / ".git", change)


def test_a_kept_change_goes_on_top_of_later_edits_as_an_update(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("p", {"a": 1, "b": 1, "c": 1}, run_id="x1", summary={"loss": 1.0})
    _keep(repo, PendingChange(X1, {"b": 2}, ["c"], {"loss": 0.5}, [], {"exit_status": 1}))
    # someone else changed the run since: another key, the same key, and removed c already
    store.update(X1, {"b": 5, "d": 4}, ["c"])
    shown = cli(repo, "show", "x1")
    assert shown.returncode == 0
    assert shown.stdout == "a: 1\nb: 2\nd: 4\n"  # the kept value is the later commit
    record = ConfigStore.open().read(X1)
    assert record.summary == {"loss": 0.5} and record.meta["exit_status"] == 1
    assert kept(repo) == []


def test_kept_changes_are_committed_oldest_first_and_a_bad_one_stays(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("p", {"a": 1}, run_id="x1")
    _keep(repo, PendingChange(X1, {"a": 2}, [], {}, [], {}))
    _keep(repo, PendingChange(RunRef("p", "gone"), {"a": 9}, [], {}, [], {}))
    _keep(repo, PendingChange(X1, {"a": 3}, [], {}, [], {}))
    junk = repo / ".git" / "gitcfg" / "pending" / "junk.json"
    junk.write_text("{")
    listed = cli(repo, "runs", "--format", "json")
    assert listed.returncode == 0 and '"a": 3' in listed.stdout
    lines = listed.stderr.splitlines()
    gone = [path for path in kept(repo) if path != junk]
    assert lines == [
        f"gitcfg: {junk} is not a change gitcfg kept; remove it",
        "gitcfg: committed the last changes of run p/x1 (a), kept when it ended",
        f"gitcfg: the last changes of run p/gone (a), kept in {gone[0]}, cannot be committed: "
        f"no run 'p/gone'; list the runs with 'gitcfg runs'; once that is fixed the next gitcfg "
        f"command commits them (remove the file to drop them)",
        "gitcfg: committed the last changes of run p/x1 (a), kept when it ended",
    ]
    assert subjects(repo) == ["update p/x1: a", "update p/x1: a", "create p/x1 (1 key)"]


def test_processes_that_start_at_once_commit_a_kept_change_once(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("p", {"a": 1}, run_id="x1")
    for value in range(2, 6):
        _keep(repo, PendingChange(X1, {"a": value}, [], {}, [], {}))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "gitcfg", "show", "x1"],
            cwd=repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errs = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4
    assert sum(err.count("gitcfg: committed the last changes") for err in errs) == 4
    assert subjects(repo) == [*["update p/x1: a"] * 4, "create p/x1 (1 key)"]
    assert config_text(repo, "p", "x1") == "a: 5\n"  # in the order they were kept
    assert kept(repo) == []
