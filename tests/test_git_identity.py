"""Identities are cleaned exactly as git cleans them, so fsck and receiving servers accept them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gitcfg.git.identity import Identity, clean
from tests.conftest import git

_CHARS = st.characters(codec="utf-8", exclude_characters="\0")


def git_ident(name: str, email: str, cwd: Path) -> str:
    """What git itself writes for this name and email (``git var GIT_COMMITTER_IDENT``)."""
    env = {**os.environ, "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    proc = subprocess.run(
        ["git", "var", "GIT_COMMITTER_IDENT"], cwd=cwd, env=env, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode().rstrip("\n").rsplit(" ", 2)[0]  # bytes: keep a "\r" as it is


@given(name=st.text(_CHARS, min_size=1, max_size=12), email=st.text(_CHARS, max_size=12))
@example(name="Jane Doe <jane@example.com>", email="jane@example.com")
@example(name=" .Jane\n Doe, ", email="<j@x>.")
@example(name="a\tb;", email="'quoted'")
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=150)
def test_names_and_emails_are_cleaned_like_git(tmp_path: Path, name: str, email: str) -> None:
    if not clean(name):
        return  # git refuses such a name outright; gitcfg then uses its own (tested below)
    # tmp_path is only a directory to run 'git var' in: no state is kept between examples.
    ours = Identity(name, email).signature(0).rsplit(" ", 2)[0]
    assert ours == git_ident(name, email, tmp_path)


def test_a_name_with_an_email_in_it_gives_commits_a_strict_remote_accepts(repo: Path) -> None:
    remote = repo.parent / "remote.git"
    git(repo.parent, "init", "-q", "--bare", str(remote))
    git(remote, "config", "receive.fsckObjects", "true")
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "config", "user.name", "Jane Doe <jane@example.com>")
    git(repo, "config", "user.email", "jane@example.com")
    env = {**os.environ, "GIT_COMMITTER_NAME": "line\nbreak"}
    code = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    fsck = subprocess.run(["git", "fsck", "--strict"], cwd=repo, capture_output=True, text=True)
    assert fsck.returncode == 0 and "error" not in fsck.stderr, fsck.stderr
    # the committer is who GIT_COMMITTER_NAME names, the author who user.name names: as in git
    assert git(repo, "log", "-1", "--format=%cn <%ce>|%an", "gitcfg") == (
        "linebreak <jane@example.com>|Jane Doe jane@example.com\n"
    )
    push = subprocess.run(
        [sys.executable, "-m", "gitcfg", "push"], cwd=repo, capture_output=True, text=True
    )
    assert push.returncode == 0, push.stderr


def test_a_name_of_nothing_but_crud_falls_back_to_gitcfg(repo: Path) -> None:
    env = {**os.environ, "GIT_COMMITTER_NAME": " <.> ", "GIT_COMMITTER_EMAIL": "x@example.com"}
    code = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert git(repo, "log", "-1", "--format=%cn <%ce>", "gitcfg") == "gitcfg <x@example.com>\n"


GIT_COMMIT = ["git", "commit-tree", "-m", "by git", "4b825dc642cb6eb9a060e54bf8d69288fbee4904"]


@pytest.mark.parametrize(
    ("config", "env"),
    [
        ({"user.name": "Ada", "user.email": "ada@example.com"}, {}),
        (
            {"user.name": "Ada", "user.email": "ada@example.com"},
            {"GIT_AUTHOR_NAME": "Bea", "GIT_AUTHOR_EMAIL": "bea@example.com"},
        ),
        (
            {
                **{"user.name": "Ada", "user.email": "ada@example.com"},
                **{"author.name": "Cy", "committer.email": "ci@example.com"},
            },
            {},
        ),
        ({"user.name": "Ada"}, {"EMAIL": "ada@example.com"}),
        (
            {"user.name": "Ada", "user.email": "ada@example.com"},
            {"GIT_COMMITTER_NAME": "CI", "GIT_AUTHOR_DATE": "@1700000000 +0130"},
        ),
        (
            {"user.name": "Ada", "user.email": "ada@example.com"},
            {
                "GIT_AUTHOR_DATE": "2024-01-31T12:00:00+01:00",
                "GIT_COMMITTER_DATE": "Wed, 31 Jan 2024 13:00:00 -0500",
            },
        ),
    ],
)
def test_author_and_committer_are_taken_as_git_takes_them(
    repo: Path, monkeypatch: pytest.MonkeyPatch, config: dict[str, str], env: dict[str, str]
) -> None:
    for name, value in config.items():
        git(repo, "config", name, value)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    ours = _signers(repo, "gitcfg")
    by_git = subprocess.run(GIT_COMMIT, cwd=repo, capture_output=True, text=True, check=True)
    theirs = _signers(repo, by_git.stdout.strip())
    for role in ("author", "committer"):
        if f"GIT_{role.upper()}_DATE" in env:
            assert ours[role] == theirs[role]
        else:  # made a moment apart: the same up to the seconds
            assert ours[role].rsplit(" ", 2)[0] == theirs[role].rsplit(" ", 2)[0]
    # the reflog is signed by the committer, as git signs it
    log = (repo / ".git" / "logs" / "refs" / "heads" / "gitcfg").read_text().splitlines()[-1]
    assert (
        log.split("\t")[0].split(" ", 2)[2].rsplit(" ", 2)[0] == ours["committer"].rsplit(" ", 2)[0]
    )


def _signers(repo: Path, commit: str) -> dict[str, str]:
    body = git(repo, "cat-file", "commit", commit).split("\n\n", 1)[0]
    return {
        field: value
        for field, _, value in (line.partition(" ") for line in body.splitlines())
        if field in ("author", "committer")
    }


def test_a_date_git_cannot_read_is_refused_as_git_refuses_it(repo: Path) -> None:
    env = {**os.environ, "GIT_COMMITTER_DATE": "not a date"}
    code = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, env=env)
    assert proc.returncode != 0
    assert b"GIT_COMMITTER_DATE='not a date' is not a date git reads" in proc.stderr
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "gitcfg"], cwd=repo).returncode
