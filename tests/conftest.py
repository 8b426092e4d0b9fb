"""Fixtures: real throwaway git repositories, isolated from the developer's own git config."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Timing-based checks fail on a busy 2-core machine without saying anything about correctness.
settings.register_profile(
    "gitcfg",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI is a gate: the same examples every run, so it passes or fails on the change, not on a draw
# (a local run keeps drawing new ones, where a rare failure is found and kept in its database).
settings.register_profile("gitcfg-ci", parent=settings.get_profile("gitcfg"), derandomize=True)
settings.load_profile("gitcfg-ci" if os.environ.get("CI") else "gitcfg")

# Identity for the commits the tests make themselves; gitcfg's own commits must not need it.
TEST_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


def git_dirs(root: Path) -> list[Path]:
    """Every repository (``.git`` directory or bare repository) under ``root``.

    A directory is one when it holds ``HEAD``, ``objects/`` and ``refs/``; linked worktrees'
    admin directories (no ``objects/``) are covered by their common directory.
    """
    found: list[Path] = []
    for path, dirs, files in os.walk(root):
        if "HEAD" in files and "objects" in dirs and "refs" in dirs:
            found.append(Path(path))
            dirs.clear()  # nothing of interest inside a git directory
    return found


def fsck_problems(git_dir: Path) -> str | None:
    """What ``git fsck --strict`` (with its default connectivity checks) says is wrong, if any."""
    proc = subprocess.run(
        ["git", "--git-dir", str(git_dir), "fsck", "--strict", "--no-progress", "--no-dangling"],
        capture_output=True,
        text=True,
        check=False,
    )
    # "notice:" lines (an unborn HEAD in a fresh bare remote) are not problems; anything else is.
    lines = (proc.stdout + proc.stderr).splitlines()
    report = "\n".join(line for line in lines if line.strip() and not line.startswith("notice:"))
    if proc.returncode != 0 or report:
        return report or f"exit code {proc.returncode}"
    return None


def assert_fsck_clean(repo: Path) -> None:
    """Fail unless ``git fsck --strict`` finds nothing wrong in ``repo`` (work tree or bare)."""
    git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
    wait_for_gitcfg_gc(git_dir)  # fsck beside a running gc sees objects vanish
    problems = fsck_problems(git_dir)
    assert problems is None, f"git fsck --strict in {repo}:\n{problems}"


@pytest.fixture(autouse=True)
def fsck_after(request: pytest.FixtureRequest, isolated_git: None) -> Iterator[None]:
    """Fail a test that leaves any repository under its ``tmp_path`` failing ``git fsck --strict``.

    Every test builds its repositories under ``tmp_path``, so scanning it at teardown finds each
    one the test created or wrote to (it runs inside ``isolated_git``, so no outside git config
    applies). Tests that damage a repository on purpose opt out with
    ``@pytest.mark.no_fsck``.
    """
    if "tmp_path" not in request.fixturenames or request.node.get_closest_marker("no_fsck"):
        yield
        return
    root: Path = request.getfixturevalue("tmp_path")
    yield
    failures = []
    for git_dir in git_dirs(root):
        wait_for_gitcfg_gc(git_dir)  # fsck beside a running gc sees objects vanish
        problems = fsck_problems(git_dir)
        if problems is not None:
            failures.append(f"{git_dir}:\n{problems}")
    if failures:
        pytest.fail("git fsck --strict failed:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture(autouse=True)
def isolated_git(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No global or system git config, no user identity, no gitcfg settings from outside."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    for name in list(os.environ):
        if name.startswith(
            ("GIT_AUTHOR", "GIT_COMMITTER", "GITCFG_", "WANDB_", "GIT_DIR", "GIT_WORK_TREE")
        ):
            monkeypatch.delenv(name)
    monkeypatch.delenv("EMAIL", raising=False)  # git's last source of an email address
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:git")
    # Commands the tests run as a user types them ("gitcfg run -- python train.py") find this
    # interpreter, as in an activated venv, also when pytest is started as .venv/bin/python.
    bin_dir = os.path.dirname(sys.executable)
    monkeypatch.setenv("PATH", os.pathsep.join([bin_dir, os.environ.get("PATH", os.defpath)]))


def git(cwd: Path | str, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git as a user would (with a test identity) and return its stdout."""
    full_env = {**os.environ, **TEST_IDENTITY, **(env or {})}
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=full_env, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout


def wait_for_gitcfg_gc(repo: Path, timeout: float = 120) -> None:
    """Wait until no gc that gitcfg started is running in ``repo`` (it holds gitcfg/gc.lock).

    git fsck beside a running gc reports objects that gc is deleting at that moment.
    """
    import fcntl
    import time

    git_dir = repo / ".git" if (repo / ".git").is_dir() else repo
    lock = git_dir / "gitcfg" / "gc.lock"
    if not lock.exists():
        return
    deadline = time.time() + timeout
    with open(lock, "a") as fh:
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
                return
            except BlockingIOError:
                if time.time() > deadline:
                    raise AssertionError(f"gitcfg's gc in {repo} did not finish") from None
                time.sleep(0.05)


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    (path / "train.py").write_text("print('training')\n")
    git(path, "add", "train.py")
    git(path, "commit", "-q", "-m", "initial code")
    return path


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A code repository with one commit; the working directory is its top level."""
    path = make_repo(tmp_path / "project")
    monkeypatch.chdir(path)
    yield path


def run_writers(repo: Path, script: str, count: int, runs: int) -> list[tuple[int, str]]:
    """Run ``count`` Python processes of ``script`` (argv: its number, ``runs``) in ``repo`` at
    once; each one's exit status and stderr, in order."""
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(w), str(runs)],
            cwd=repo,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(count)
    ]
    return [(w.wait(timeout=300), w.stderr.read() if w.stderr else "") for w in writers]
