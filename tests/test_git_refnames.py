"""Branch names: gitcfg accepts exactly what ``git check-ref-format --branch`` accepts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg.git.refnames import branch_name_problem

NAMES = [
    "gitcfg", "gitcfg/runs", "a@b", "x.lock.y", "a%b", "é", "HEAD/x", "x/HEAD", "refs",
    "FETCH_HEAD", "a-b_c.d", "HEAD", "@", "-x", "-", "", "a@{b", "@{-1}", "a..b", ".a", "a/.b",
    "a.lock", "a/b.lock", "a/", "/a", "a//b", "a b", "a~", "a:", "a?", "a[", "a\\b", "a^", "a.",
    "a*", "a\x7f", "a\tb", "a/..", "a/b/",
]  # fmt: skip


def git_accepts(name: str, cwd: Path) -> bool:
    proc = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=cwd, capture_output=True, check=False
    )
    return proc.returncode == 0


@pytest.mark.parametrize("name", NAMES)
def test_a_branch_name_is_accepted_as_git_accepts_it(name: str, repo: Path) -> None:
    # '@' is git's own name for HEAD (it answers with the checked-out branch): refused too
    expected = git_accepts(name, repo) and name != "@"
    assert (branch_name_problem(name) is None) == expected


@settings(max_examples=150)
@given(st.text(alphabet="ab./-@{}~^:?*[\\ \x01HEAD", max_size=8))
def test_any_name_is_judged_as_git_judges_it(name: str) -> None:
    # no repository needed: check-ref-format --branch only reads HEAD for '@' and '@{-N}'
    expected = git_accepts(name, Path("/")) and name != "@"
    assert (branch_name_problem(name) is None) == expected, name
