"""Ref updates: compare-and-swap under git's lock, never stealing a lock gitcfg did not take."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitcfg.errors import BranchCheckedOutError, RefNameClashError, RepositoryError
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git
from tests.mounts import full_disk, read_only


def test_a_lock_held_by_git_is_waited_for_then_refused_never_removed(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD").strip()
    lock = repo / ".git" / "refs" / "heads" / "gitcfg.lock"
    # A real git transaction, prepared (so holding the ref lock) and not yet committed.
    holder = subprocess.Popen(
        ["git", "update-ref", "--stdin"],
        cwd=repo,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    holder.stdin.write(f"start\nupdate refs/heads/gitcfg {head} {'0' * 40}\nprepare\n")
    holder.stdin.flush()
    assert holder.stdout.readline() == "start: ok\n"
    assert holder.stdout.readline() == "prepare: ok\n"
    assert lock.exists()
    started = time.monotonic()
    with pytest.raises(RepositoryError, match=r"locked by another git process.*remove that file"):
        ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    assert time.monotonic() - started < 5
    assert lock.exists()  # still git's
    holder.stdin.write("commit\n")
    holder.stdin.close()
    assert holder.stdout.readline() == "commit: ok\n"
    assert holder.wait(timeout=10) == 0
    assert git(repo, "rev-parse", "gitcfg").strip() == head


def test_git_lock_timeout_setting_is_honoured(repo: Path) -> None:
    git(repo, "config", "core.filesRefLockTimeout", "1500")
    lock = repo / ".git" / "refs" / "heads" / "gitcfg.lock"
    lock.write_text("")

    def release() -> None:
        time.sleep(0.5)
        lock.unlink()

    import threading

    threading.Thread(target=release).start()
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")  # waited 0.5 s, then went on
    assert ConfigStore.open().exists(_ref("r1"))


GC_HOLDER = """
import fcntl, os, sys, time
from pathlib import Path
git_dir = Path(sys.argv[1])
(git_dir / "gitcfg").mkdir(exist_ok=True)
gc = open(git_dir / "gitcfg" / "gc.lock", "a")
fcntl.flock(gc.fileno(), fcntl.LOCK_EX)  # as the gc gitcfg starts holds it
lock = git_dir / "refs" / "heads" / "gitcfg.lock"
lock.write_text("")  # as gc's pack-refs or reflog expire holds the branch's lock
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
print(time.monotonic(), flush=True)  # the system-wide clock, just before letting go
lock.unlink()
"""


def test_writers_wait_for_the_gc_gitcfg_started_instead_of_failing(repo: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", GC_HOLDER, str(repo / ".git"), "1.5"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")  # no error: it waited
    done = time.monotonic()
    assert holder.wait(timeout=30) == 0
    # it went on only once the gc let go, 1.5 s later: far past git's 100 ms lock timeout
    assert done > float(holder.stdout.read())
    assert ConfigStore.open().exists(_ref("r1"))


KILLED_WRITER = """
import os, signal
from gitcfg.store import ConfigStore
real_replace = os.replace
def die_holding_the_lock(src, dst, *args, **kwargs):
    if str(src).endswith(".lock"):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_replace(src, dst, *args, **kwargs)
os.replace = die_holding_the_lock
ConfigStore.open().create("p", {"a": 1}, run_id="dead")
"""


def test_the_lock_of_a_killed_gitcfg_writer_is_recovered(repo: Path) -> None:
    ConfigStore.open().create("p", {"a": 0}, run_id="first")
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER], cwd=repo)
    assert proc.returncode == -9
    lock = repo / ".git" / "refs" / "heads" / "gitcfg.lock"
    assert lock.exists()
    assert subprocess.run(["git", "branch", "-f", "gitcfg", "HEAD"], cwd=repo).returncode != 0
    ConfigStore.open().create("p", {"a": 2}, run_id="alive")
    assert not lock.exists()
    assert {r.ref.id for r in ConfigStore.open().runs()} == {"first", "alive"}
    assert_fsck_clean(repo)


def test_reflogs_are_written_where_git_writes_them(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed')\n")  # dirty: snapshot and keep refs
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    assert git(repo, "for-each-ref", "refs/gitcfg/keep/").count("\n") == 2
    assert not (repo / ".git" / "logs" / "refs" / "gitcfg").exists()  # git logs no such refs
    assert "gitcfg: create p/r1" in git(repo, "reflog", "show", "gitcfg")


def _ref(run_id: str):  # type: ignore[no-untyped-def]
    from gitcfg.layout import RunRef

    return RunRef("p", run_id)


def test_refs_that_git_packs_moves_or_deletes_are_seen_by_an_open_store(repo: Path) -> None:
    # One store held open across git's own ref changes, as a sweep or a training process holds
    # it: its reads of packed-refs (parsed once per version of the file) are never stale.
    store = ConfigStore.open()
    first, _ = store.create("p", {"lr": 0.1})
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1", head)
    git(repo, "pack-refs", "--all", "--prune")
    assert not (repo / ".git" / "refs" / "heads" / "gitcfg").exists()  # packed now
    assert store.tip() == git(repo, "rev-parse", "gitcfg").strip()
    assert store.repo.read_ref("refs/tags/v1") == head

    git(repo, "tag", "-d", "v1")  # git rewrites packed-refs without it
    assert store.repo.read_ref("refs/tags/v1") is None
    git(repo, "commit", "-q", "--allow-empty", "-m", "more code")
    newer = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1", newer)
    git(repo, "pack-refs", "--all", "--prune")
    assert store.repo.read_ref("refs/tags/v1") == newer

    second, _ = store.create("p", {"lr": 0.2})  # on top of the packed tip
    assert store.tip() == git(repo, "rev-parse", "gitcfg").strip()
    assert {str(r) for r in store.run_refs()} == {str(first), str(second)}
    assert_fsck_clean(repo)


def test_a_settled_packed_refs_parse_is_reused_and_a_rewrite_seen(repo: Path) -> None:
    # Older than two seconds, packed-refs is parsed once; git's next rewrite is still seen,
    # even one of the same size (a tag moved from one commit to another).
    store = ConfigStore.open()
    first = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "commit", "-q", "--allow-empty", "-m", "more code")
    second = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "tag", "v1", first)
    git(repo, "pack-refs", "--all", "--prune")
    time.sleep(2.1)
    assert store.repo.read_ref("refs/tags/v1") == first
    assert store.repo.read_ref("refs/tags/v1") == first  # from the kept parse
    size = (repo / ".git" / "packed-refs").stat().st_size
    git(repo, "tag", "-f", "v1", second)
    git(repo, "pack-refs", "--all", "--prune")
    assert (repo / ".git" / "packed-refs").stat().st_size == size
    assert store.repo.read_ref("refs/tags/v1") == second


def all_refs(repo: Path) -> str:
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname)")


def git_refuses(repo: Path, ref: str) -> bool:
    """Whether git itself refuses to create ``ref`` here (the oracle for the clash rule)."""
    proc = subprocess.run(
        ["git", "update-ref", "--no-deref", ref, "HEAD", ""], cwd=repo, capture_output=True
    )
    if proc.returncode == 0:
        git(repo, "update-ref", "-d", ref)
    return proc.returncode != 0


CLASHES = [
    # (a branch of the user's, the store branch, how git keeps the user's branch)
    ("gitcfg/foo", "gitcfg", "packed"),
    ("gitcfg/foo", "gitcfg", "loose"),
    ("gitcfg/foo/bar", "gitcfg", "loose"),
    ("gitcfg", "gitcfg/runs", "packed"),
    ("gitcfg", "gitcfg/runs", "loose"),
    ("exp", "exp/a/b", "loose"),
]


@pytest.mark.parametrize(("users", "branch", "kept"), CLASHES)
def test_a_store_branch_that_would_be_a_directory_of_a_ref_or_inside_one_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch, users: str, branch: str, kept: str
) -> None:
    git(repo, "branch", users)
    if kept == "packed":
        git(repo, "pack-refs", "--all", "--prune")
    monkeypatch.setenv("GITCFG_BRANCH", branch)
    before = all_refs(repo)
    assert git_refuses(repo, f"refs/heads/{branch}")  # git's own rule says the same
    store = ConfigStore.open()
    with pytest.raises(RefNameClashError) as caught:
        store.create("p", {"lr": 0.1})
    assert str(caught.value) == (
        f"cannot create the branch {branch!r}: the branch {users!r} exists, and git cannot keep "
        f"both (one would be a directory of the other); set GITCFG_BRANCH (or git config "
        f"gitcfg.branch) to another name, e.g. GITCFG_BRANCH=gitcfg-runs, or rename that branch"
    )
    assert all_refs(repo) == before  # no keep ref either: refused before anything was written
    # and the user's branch is still theirs to use
    git(repo, "checkout", "-q", users)
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-D", users)
    git(repo, "gc", "-q")


def test_a_new_ref_is_checked_where_it_is_written_loose_or_packed(repo: Path) -> None:
    # The ref update itself refuses, whoever calls it (the store checks earlier too).
    store = ConfigStore.open()
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "branch", "gitcfg/late")
    for _ in ("loose", "packed"):
        with pytest.raises(RefNameClashError, match="the branch 'gitcfg/late' exists"):
            store.repo.update_ref("refs/heads/gitcfg", head, None, "gitcfg: test")
        assert not (repo / ".git" / "refs" / "heads" / "gitcfg.lock").exists()
        git(repo, "pack-refs", "--all", "--prune")
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/heads/") == (
        "refs/heads/gitcfg/late\nrefs/heads/main\n"
    )


def test_keep_refs_follow_the_same_rule(repo: Path) -> None:
    git(repo, "update-ref", "refs/gitcfg/keep", "HEAD")  # someone's ref where gitcfg's go
    head = git(repo, "rev-parse", "HEAD").strip()
    store = ConfigStore.open()
    before = all_refs(repo)
    with pytest.raises(RefNameClashError, match=r"the ref refs/gitcfg/keep exists.*update-ref -d"):
        store.repo.keep_ref(f"refs/gitcfg/keep/{head}", head)
    assert all_refs(repo) == before


def test_an_empty_directory_where_the_branch_goes_is_no_clash(repo: Path) -> None:
    # Left by refs deleted by hand: git removes it to create the ref, and so does gitcfg.
    (repo / ".git" / "refs" / "heads" / "gitcfg" / "old").mkdir(parents=True)
    ConfigStore.open().create("p", {"lr": 0.1})
    assert git(repo, "rev-parse", "--verify", "-q", "gitcfg").strip()
    assert_fsck_clean(repo)


def _gitcfg(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=repo, capture_output=True, text=True
    )


def test_a_full_disk_at_the_ref_update_is_one_line_and_moves_nothing(repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    tip = git(repo, "rev-parse", "gitcfg")
    # the objects fit; the ref update's files (gitcfg/locks, gitcfg/write.lock) do not
    with full_disk(repo / ".git" / "gitcfg"):
        proc = _gitcfg(repo, "update", "r1", "lr=0.2")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: could not update refs/heads/gitcfg in ")
    assert "No space left on device; free disk space" in proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert git(repo, "rev-parse", "gitcfg") == tip
    assert not list((repo / ".git" / "refs").rglob("*.lock"))
    assert ConfigStore.open().read(_ref("r1")).config == {"lr": 0.1}


def test_read_only_refs_are_one_line_and_move_nothing(repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    tip = git(repo, "rev-parse", "gitcfg")
    with read_only(repo / ".git" / "refs"):
        proc = _gitcfg(repo, "update", "r1", "lr=0.2")
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: could not update refs/heads/gitcfg in ")
    assert "Read-only file system" in proc.stderr and proc.stderr.count("\n") == 1
    assert git(repo, "rev-parse", "gitcfg") == tip


def test_a_reflog_that_cannot_be_written_fails_the_update_as_in_git(repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    tip = git(repo, "rev-parse", "gitcfg").strip()
    with read_only(repo / ".git" / "logs"):
        git_says = subprocess.run(
            ["git", "update-ref", "-m", "by git", "refs/heads/gitcfg", "HEAD", tip],
            cwd=repo,
            capture_output=True,
            text=True,
        )
        proc = _gitcfg(repo, "update", "r1", "lr=0.2")
    assert git_says.returncode != 0 and "unable to append" in git_says.stderr
    assert proc.returncode == 1 and "Read-only file system" in proc.stderr
    assert git(repo, "rev-parse", "gitcfg").strip() == tip


def test_a_symbolic_store_branch_moves_the_branch_it_names_as_git_does(repo: Path) -> None:
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    git(repo, "branch", "-m", "gitcfg", "runs")
    git(repo, "symbolic-ref", "refs/heads/gitcfg", "refs/heads/runs")
    ConfigStore.open().create("p", {"a": 2}, run_id="r2")
    assert git(repo, "symbolic-ref", "refs/heads/gitcfg") == "refs/heads/runs\n"
    assert git(repo, "log", "--format=%s", "runs") == "create p/r2 (1 key)\ncreate p/r1 (1 key)\n"
    # a reflog entry for each, as 'git update-ref refs/heads/gitcfg' writes them
    assert "gitcfg: create p/r2" in git(repo, "reflog", "show", "refs/heads/runs")
    assert "gitcfg: create p/r2" in git(repo, "reflog", "show", "refs/heads/gitcfg")
    tip = git(repo, "rev-parse", "runs").strip()
    git(repo, "update-ref", "-m", "by git", "refs/heads/gitcfg", f"{tip}~1", tip)
    assert git(repo, "symbolic-ref", "refs/heads/gitcfg") == "refs/heads/runs\n"
    assert git(repo, "reflog", "-1", "--format=%gs", "refs/heads/gitcfg") == "by git\n"


def test_a_symbolic_store_branch_naming_a_checked_out_branch_is_refused(repo: Path) -> None:
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    git(repo, "branch", "-m", "gitcfg", "runs")
    git(repo, "symbolic-ref", "refs/heads/gitcfg", "refs/heads/runs")
    git(repo, "worktree", "add", "-q", str(repo.parent / "runs-tree"), "runs")
    tip = git(repo, "rev-parse", "runs")
    with pytest.raises(BranchCheckedOutError, match="'runs' is checked out in the work tree"):
        ConfigStore.open().create("p", {"a": 2}, run_id="r2")
    assert git(repo, "rev-parse", "runs") == tip
    assert git(repo, "symbolic-ref", "refs/heads/gitcfg") == "refs/heads/runs\n"
