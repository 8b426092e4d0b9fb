"""The store branch is never moved under a work tree that has it checked out (git's own rule)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gitcfg
from gitcfg import remote
from gitcfg.checkedout import checked_out_at
from gitcfg.errors import BranchCheckedOutError
from gitcfg.store import ConfigStore
from tests.apihelpers import no_active_run, run_script  # noqa: F401 (autouse fixture)
from tests.conftest import git


def state(repo: Path) -> tuple[str, str, str]:
    """Every ref with its value, and how many loose objects and packs the repository has."""
    refs = git(repo, "for-each-ref", "--format=%(objectname) %(refname)")
    objects = git(repo, "count-objects", "-v")
    return refs, objects, git(repo, "worktree", "list", "--porcelain")


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=cwd, capture_output=True, text=True
    )


@pytest.fixture
def edit(repo: Path, tmp_path: Path) -> Path:
    """A run r1 recorded, then the store branch checked out in a linked work tree to edit it."""
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    path = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(path), "gitcfg")
    return path


def test_a_run_is_refused_while_a_linked_work_tree_has_the_branch(repo: Path, edit: Path) -> None:
    before = state(repo)
    with pytest.raises(BranchCheckedOutError) as caught:
        gitcfg.init(config={"lr": 0.2}, project="p", id="r2")
    message = str(caught.value)
    assert str(edit) in message and "git worktree remove" in message
    assert state(repo) == before  # no object, no snapshot, no keep ref, no moved branch

    # The edit made there is kept, not undone, and once the work tree is gone runs are recorded.
    config = git(edit, "ls-files", "*config.yaml").strip()
    (edit / config).write_text("lr: 0.5\n")
    git(edit, "commit", "-q", "-am", "edit r1 by hand")
    git(repo, "worktree", "remove", str(edit))
    gitcfg.init(config={"lr": 0.2}, project="p", id="r2").finish()
    store = ConfigStore.open()
    assert {r.ref.id: r.config for r in store.runs()} == {"r1": {"lr": 0.5}, "r2": {"lr": 0.2}}


def test_cli_update_is_one_line_and_changes_nothing(repo: Path, edit: Path) -> None:
    before = state(repo)
    result = cli(repo, "update", "p/r1", "lr=0.3")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: the store branch 'gitcfg' is checked out in")
    assert result.stderr.count("\n") == 1 and str(edit) in result.stderr
    assert state(repo) == before
    # A dry run writes nothing, so it still shows what would change.
    assert cli(repo, "update", "p/r1", "lr=0.3", "--dry-run").returncode == 0


def test_a_run_ending_while_the_branch_is_checked_out_keeps_its_changes(
    repo: Path, tmp_path: Path
) -> None:
    edit = tmp_path / "edit"
    result = run_script(
        repo,
        f"""
        import subprocess, gitcfg
        gitcfg.init(config={{"lr": 0.1}}, project="p", id="r1")
        subprocess.run(["git", "worktree", "add", "-q", {str(edit)!r}, "gitcfg"], check=True)
        gitcfg.config.epochs = 3
        """,
    )
    assert result.returncode == 0
    (kept,) = (repo / ".git" / "gitcfg" / "pending").glob("*.json")
    assert result.stderr == (
        f"gitcfg: run p/r1 ended, but its last changes (epochs) could not be committed: the "
        f"store branch 'gitcfg' is checked out in the work tree {edit}; they are kept in {kept}, "
        f"and the next gitcfg command in this repository commits them (e.g. 'gitcfg show p/r1') "
        f"once that work tree is removed or detached ('git worktree remove {edit}' or 'git -C "
        f"{edit} switch --detach', after committing your edits there)\n"
    )
    assert git(repo, "log", "--format=%s", "gitcfg").splitlines() == ["create p/r1 (1 key)"]
    # while the branch is checked out, a command says they are still kept, and why
    still = cli(repo, "show", "p/r1")
    assert still.stdout == "lr: 0.1\n" and "are still kept in" in still.stderr
    git(repo, "worktree", "remove", str(edit))
    shown = cli(repo, "show", "p/r1")
    assert shown.stdout == "epochs: 3\nlr: 0.1\n"
    assert shown.stderr == (
        "gitcfg: committed the last changes of run p/r1 (epochs), kept when it ended\n"
    )


def test_the_main_work_tree_on_the_store_branch_is_refused(repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    git(repo, "switch", "-q", "gitcfg")
    before = state(repo)
    with pytest.raises(BranchCheckedOutError) as caught:
        ConfigStore.open().create("p", {"lr": 0.2}, run_id="r2")
    assert caught.value.main and str(repo) in str(caught.value) and "switch" in str(caught.value)
    assert state(repo) == before


def test_a_bare_repository_whose_head_names_the_store_branch_is_written(tmp_path: Path) -> None:
    bare = tmp_path / "store.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=gitcfg", str(bare))
    store = ConfigStore.open(bare)
    store.create("p", {"lr": 0.1}, run_id="r1")
    assert [r.ref.id for r in store.runs()] == ["r1"]


def test_a_rebase_in_progress_counts_as_checked_out(repo: Path, tmp_path: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", "--detach", str(wt), "gitcfg")
    admin = Path(git(wt, "rev-parse", "--absolute-git-dir").strip())
    assert checked_out_at(Path(git(repo, "rev-parse", "--git-common-dir").strip()), "x") is None
    (admin / "rebase-merge").mkdir()
    (admin / "rebase-merge" / "head-name").write_text("refs/heads/gitcfg\n")
    with pytest.raises(BranchCheckedOutError):
        ConfigStore.open().create("p", {"lr": 0.2}, run_id="r2")
    (admin / "rebase-merge" / "head-name").unlink()
    (admin / "rebase-merge").rmdir()
    ConfigStore.open().create("p", {"lr": 0.2}, run_id="r2")


def test_pull_does_not_move_a_checked_out_branch(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    store = ConfigStore.open()
    store.create("p", {"lr": 0.1}, run_id="r1")
    remote.push(store.repo, "gitcfg")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(bare), str(other))
    git(other, "fetch", "-q", "origin", "gitcfg:gitcfg")
    ConfigStore.open(other).create("p", {"lr": 0.2}, run_id="r2")
    remote.push(ConfigStore.open(other).repo, "gitcfg")
    store.create("p", {"lr": 0.3}, run_id="r3")  # diverged: pull would merge

    edit = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(edit), "gitcfg")
    before = git(repo, "rev-parse", "gitcfg")
    result = cli(repo, "pull")
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("Error: the store branch 'gitcfg' is checked out")
    assert git(repo, "rev-parse", "gitcfg") == before
    git(repo, "worktree", "remove", str(edit))
    assert cli(repo, "pull").returncode == 0
    assert {r.ref.id for r in ConfigStore.open().runs()} == {"r1", "r2", "r3"}
