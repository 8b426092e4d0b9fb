"""Sharing runs through a git remote: a bare repository on disk and a real git daemon."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitcfg import remote
from gitcfg.errors import MergeConflictError, NotAStoreError, RemoteError, RepositoryError
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
from tests.conftest import TEST_IDENTITY, assert_fsck_clean, git

Clone = Callable[[str], Path]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def git_daemon(served: Path, max_connections: int | None = None) -> Iterator[str]:
    """``git daemon`` serving the repositories in ``served`` read-write on 127.0.0.1; yields
    its base URL and stops it at the end."""
    limit = [f"--max-connections={max_connections}"] if max_connections else []
    # The port is free when picked, not when git binds it: one another process took meanwhile
    # makes this daemon exit at once, and then a new port is tried.
    for _ in range(5):
        port = free_port()
        daemon = subprocess.Popen(
            ["git", "daemon", "--export-all", "--enable=receive-pack", "--reuseaddr", *limit,
             f"--base-path={served}", "--listen=127.0.0.1", f"--port={port}", str(served)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        if _listening(daemon, port):
            break
        daemon.kill()
        daemon.wait(timeout=10)
    else:
        pytest.fail("git daemon did not start")
    try:
        yield f"git://127.0.0.1:{port}"
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


def _listening(daemon: subprocess.Popen[bytes], port: int) -> bool:
    """Whether ``daemon`` took ``port``: it accepts there and is still running (a daemon that
    could not bind exits, while whoever holds the port would accept too)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and daemon.poll() is None:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                time.sleep(0.05)  # a daemon that lost the port has exited by now
                return daemon.poll() is None
        time.sleep(0.05)
    return False


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    """A directory whose repositories a git daemon on 127.0.0.1 serves, push enabled."""
    root = tmp_path / "served"
    root.mkdir()
    yield root


@pytest.fixture(params=["path", "daemon"])
def remote_url(request: pytest.FixtureRequest, repo: Path, served: Path) -> Iterator[str]:
    """The URL of a bare remote holding the code's main branch: a path, or git:// on loopback."""
    bare = served / "remote.git"
    git(served, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    git(repo, "push", "-q", str(bare), "main")
    if request.param == "path":
        yield str(bare)
        return
    with git_daemon(served) as base:
        yield f"{base}/remote.git"


@pytest.fixture
def clone(tmp_path: Path, remote_url: str, monkeypatch: pytest.MonkeyPatch) -> Clone:
    """Make a clone of the remote (a 'machine') and work inside it."""

    def make(name: str) -> Path:
        path = tmp_path / name
        git(tmp_path, "clone", "-q", remote_url, str(path))
        monkeypatch.chdir(path)
        return path

    return make


def store_in(path: Path, monkeypatch: pytest.MonkeyPatch) -> ConfigStore:
    monkeypatch.chdir(path)
    return ConfigStore.open()


def tip(path: Path) -> str:
    return git(path, "rev-parse", "--verify", "-q", "gitcfg").strip()


def test_push_then_pull_on_another_machine(clone: Clone, monkeypatch: pytest.MonkeyPatch) -> None:
    a = clone("a")
    (a / "train.py").write_text("print('dirty on a')\n")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1}, run_id="r1")
    result = remote.push(store_a.repo, "gitcfg")
    assert result.pushed

    b = clone("b")
    store_b = store_in(b, monkeypatch)
    head_before = git(b, "rev-parse", "HEAD")
    pulled = remote.pull(store_b.repo, "gitcfg")
    assert pulled.after == tip(a)
    record = store_b.read(ref)
    assert record.config == {"lr": 0.1}
    # The dirty snapshot from machine a came along and is readable on b.
    assert git(b, "show", f"{record.meta['snapshot']}:train.py") == "print('dirty on a')\n"
    assert git(b, "rev-parse", "HEAD") == head_before
    assert git(b, "status", "--porcelain") == ""


def _git_version(path: Path) -> tuple[int, ...]:
    words = git(path, "version").split()[2].split(".")
    return tuple(int(word) for word in words[:2] if word.isdigit())


def test_pull_and_push_leave_the_users_fetch_head_alone(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    store_a.create("p", {"lr": 0.1}, run_id="r1")
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    if _git_version(b) < (2, 29):
        pytest.skip("git before 2.29 always writes FETCH_HEAD")
    git(b, "fetch", "-q", "origin", "main")  # the user's own fetch, for a 'git merge FETCH_HEAD'
    fetched = (b / ".git" / "FETCH_HEAD").read_bytes()
    store_b = store_in(b, monkeypatch)
    store_b.create("p", {"lr": 0.2}, run_id="r2")
    remote.pull(store_b.repo, "gitcfg")
    assert remote.push(store_b.repo, "gitcfg").pushed
    assert (b / ".git" / "FETCH_HEAD").read_bytes() == fetched
    assert git(b, "rev-parse", "FETCH_HEAD") == git(b, "rev-parse", "origin/main")


def test_runs_created_on_both_sides_merge(clone: Clone, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = clone("a"), clone("b")
    store_a, store_b = store_in(a, monkeypatch), store_in(b, monkeypatch)
    for i in range(3):
        store_a.create("p", {"i": i}, run_id=f"a{i}")
        store_b.create("p", {"i": i}, run_id=f"b{i}")
    remote.push(store_a.repo, "gitcfg")
    pushed = remote.push(store_b.repo, "gitcfg")  # must fetch a's runs and merge first
    assert pushed.merged and pushed.added == 3
    remote.pull(store_a.repo, "gitcfg")

    expected = {f"a{i}" for i in range(3)} | {f"b{i}" for i in range(3)}
    assert {r.ref.id for r in store_a.runs()} == expected
    assert {r.ref.id for r in store_b.runs()} == expected
    assert tip(a) == tip(b)
    subjects = git(a, "log", "--format=%s", "gitcfg").splitlines()
    creates = [s for s in subjects if s.startswith("create ")]
    assert sorted(creates) == sorted(f"create p/{i} (1 key)" for i in expected)


def test_divergent_updates_of_different_keys_keep_both(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1, "bs": 32, "wd": 0.0}, run_id="r")
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    store_b = store_in(b, monkeypatch)
    remote.pull(store_b.repo, "gitcfg")

    store_a.update(ref, {"lr": 0.2})
    store_b.update(ref, {"bs": 64}, unset=["wd"])
    remote.push(store_a.repo, "gitcfg")
    remote.push(store_b.repo, "gitcfg")
    remote.pull(store_a.repo, "gitcfg")

    for store in (store_a, store_b):
        assert store.read(ref).config == {"lr": 0.2, "bs": 64}
    assert git(a, "show", f"gitcfg:{ref.config_path}") == "bs: 64\nlr: 0.2\n"


def test_summaries_merge_key_by_key_like_configs(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1}, run_id="r", summary={"loss": 0.5})
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    store_b = store_in(b, monkeypatch)
    remote.pull(store_b.repo, "gitcfg")

    store_a.update_summary(ref, {"loss": 0.4})  # a new result on a
    store_b.update_summary(ref, {"test_acc": 0.9})  # another one on b
    fresh, _ = store_b.create("p", {"lr": 0.2}, run_id="s", summary={"acc": 0.7})
    remote.push(store_a.repo, "gitcfg")
    remote.push(store_b.repo, "gitcfg")
    remote.pull(store_a.repo, "gitcfg")
    for store in (store_a, store_b):
        assert store.read(ref).summary == {"loss": 0.4, "test_acc": 0.9}
        assert store.read(fresh).summary == {"acc": 0.7}
    assert git(a, "show", f"gitcfg:{ref.summary_path}") == "loss: 0.4\ntest_acc: 0.9\n"
    git(a, "fsck", "--strict")


def test_same_key_conflict_changes_nothing_and_says_how_to_resolve(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1}, run_id="r")
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    store_b = store_in(b, monkeypatch)
    remote.pull(store_b.repo, "gitcfg")
    store_a.update(ref, {"lr": 0.2})
    remote.push(store_a.repo, "gitcfg")
    store_b.update(ref, {"lr": 0.3})
    before = tip(b)

    with pytest.raises(MergeConflictError) as caught:
        remote.pull(store_b.repo, "gitcfg")
    message = str(caught.value)
    assert "p/r: lr" in message and "--theirs" in message and "--ours" in message
    assert tip(b) == before
    assert store_b.read(ref).config == {"lr": 0.3}
    theirs = caught.value.remote_ref
    assert git(b, "show", f"{theirs}:{ref.config_path}") == "lr: 0.2\n"
    with pytest.raises(MergeConflictError):
        remote.push(store_b.repo, "gitcfg")  # push refuses too, nothing sent
    assert git(a, "ls-remote", "origin", "gitcfg").split()[0] == tip(a)

    remote.pull(store_b.repo, "gitcfg", prefer="theirs")
    assert store_b.read(ref).config == {"lr": 0.2}


def test_a_results_conflict_names_its_key_as_update_does(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1}, run_id="r", summary={"acc": 0.5})
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    store_b = store_in(b, monkeypatch)
    remote.pull(store_b.repo, "gitcfg")
    store_a.update(ref, {}, summary={"acc": 0.6})
    remote.push(store_a.repo, "gitcfg")
    store_b.update(ref, {}, summary={"acc": 0.7})
    with pytest.raises(MergeConflictError, match=r"p/r: summary:acc \(theirs kept"):
        remote.pull(store_b.repo, "gitcfg")
    remote.pull(store_b.repo, "gitcfg", prefer="ours")
    assert store_b.read(ref).summary == {"acc": 0.7}


def test_a_fresh_clone_says_how_to_bring_the_remotes_runs_here(tmp_path: Path, repo: Path) -> None:
    # git clone brings origin/gitcfg along, not the local store branch: "no runs" alone would
    # leave a new user thinking the runs are lost
    store = ConfigStore.open()
    store.create("p", {"lr": 0.1}, run_id="r1")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", "--no-single-branch", str(repo), str(fresh))
    out = gitcfg_cli(fresh, "runs")
    assert out.returncode == 0 and out.stdout == ""
    assert out.stderr == (
        "no runs; the remote 'origin' has a gitcfg branch: 'gitcfg pull origin' brings its "
        "runs here\n"
    )
    # a script's formats print what they print for no runs; the reason goes to stderr
    listed = gitcfg_cli(fresh, "runs", "--format", "json")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, "[]\n", out.stderr)
    pull = subprocess.run(
        [sys.executable, "-m", "gitcfg", "pull", "origin"], cwd=fresh, capture_output=True
    )
    assert pull.returncode == 0
    listed = gitcfg_cli(fresh, "runs", "--format", "json")
    assert '"id": "r1"' in listed.stdout and listed.stderr == ""


def test_a_run_asked_of_a_fresh_clone_says_to_pull(tmp_path: Path, repo: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="U-0")
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", "--origin", "team", str(repo), str(fresh))
    hint = (
        "no run 'U-0' here: this clone has no gitcfg branch yet, and the remote 'team' has "
        "one; 'gitcfg pull team' brings its runs here"
    )
    for command in (["show", "U-0"], ["log", "U-0"], ["history", "U-0"]):
        shown = gitcfg_cli(fresh, *command)
        assert (shown.returncode, shown.stdout, shown.stderr) == (1, "", f"Error: {hint}\n")
    resumed = subprocess.run(
        [sys.executable, "-c", "import gitcfg; gitcfg.init(project='p', id='U-0', resume='must')"],
        cwd=fresh,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 1 and resumed.stderr.endswith(
        f"RunNotFoundError: {hint.replace('U-0', 'p/U-0', 1)}\n"
    )
    assert git(fresh, "branch", "--list", "gitcfg") == ""  # nothing was written
    # the advice works: the name is the one pull takes
    assert gitcfg_cli(fresh, "pull", "team").returncode == 0
    assert gitcfg_cli(fresh, "show", "U-0").stdout == "lr: 0.1\n"
    # a run that is not there once the branch is: the plain message
    assert gitcfg_cli(fresh, "show", "nope").stderr == (
        "Error: no run 'nope'; list the runs with 'gitcfg runs'\n"
    )


def test_prefer_ours_keeps_the_local_value(clone: Clone, monkeypatch: pytest.MonkeyPatch) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1, "bs": 1}, run_id="r")
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    store_b = store_in(b, monkeypatch)
    remote.pull(store_b.repo, "gitcfg")
    store_a.update(ref, {"lr": 0.2, "bs": 2})
    remote.push(store_a.repo, "gitcfg")
    store_b.update(ref, {"lr": 0.3})
    remote.push(store_b.repo, "gitcfg", prefer="ours")
    assert store_b.read(ref).config == {"lr": 0.3, "bs": 2}
    remote.pull(store_a.repo, "gitcfg")
    assert store_a.read(ref).config == {"lr": 0.3, "bs": 2}


def _delete_run_by_hand(path: Path, ref: RunRef) -> None:
    edit = path.parent / f"{path.name}-edit"
    git(path, "worktree", "add", "-q", str(edit), "gitcfg")
    git(edit, "rm", "-rq", ref.config_path.rpartition("/")[0])
    git(edit, "commit", "-qm", f"delete {ref}")
    git(path, "worktree", "remove", str(edit))


def _run_files(path: Path, ref: RunRef) -> list[str]:
    directory = ref.config_path.rpartition("/")[0]
    listed = git(path, "ls-tree", "-r", "--name-only", "gitcfg", "--", directory + "/")
    return [name.rpartition("/")[2] for name in listed.split()]


@pytest.mark.parametrize(
    ("deleted_by", "prefer", "kept"),
    [("theirs", "ours", True), ("theirs", "theirs", False), ("ours", "theirs", True),
     ("ours", "ours", False)],
)  # fmt: skip
def test_a_run_deleted_on_one_side_and_changed_on_the_other_is_merged_whole(
    clone: Clone, monkeypatch: pytest.MonkeyPatch, deleted_by: str, prefer: str, kept: bool
) -> None:
    # file by file, --ours/--theirs kept the changed config and applied the other side's
    # deletion of meta.yaml and summary.yaml: a run without its provenance and results
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"x": 1}, run_id="r1", summary={"acc": 0.5})
    remote.push(store_a.repo, "gitcfg")
    b = clone("b")
    remote.pull(store_in(b, monkeypatch).repo, "gitcfg")
    if deleted_by == "theirs":  # a deletes the run and pushes; b (ours) changes it
        _delete_run_by_hand(a, ref)
        remote.push(store_in(a, monkeypatch).repo, "gitcfg")
        store_b = store_in(b, monkeypatch)
        store_b.update(ref, {"x": 2})
    else:  # a changes it and pushes; b (ours) deletes it
        store_a.update(ref, {"x": 2})
        remote.push(store_a.repo, "gitcfg")
        _delete_run_by_hand(b, ref)
        store_b = store_in(b, monkeypatch)
    before = tip(b)
    with pytest.raises(MergeConflictError, match="p/r1: deleted on one side, changed on the"):
        remote.pull(store_b.repo, "gitcfg")
    assert tip(b) == before
    remote.pull(store_b.repo, "gitcfg", prefer=prefer)  # type: ignore[arg-type]
    if kept:
        assert _run_files(b, ref) == ["config.yaml", "meta.yaml", "summary.yaml"]
        record = store_b.read(ref)
        assert record.config == {"x": 2} and record.summary == {"acc": 0.5}
        assert record.meta["started"]
    else:
        assert _run_files(b, ref) == []


PUSHER = """
import sys
from gitcfg import remote
from gitcfg.store import ConfigStore
name = sys.argv[1]
store = ConfigStore.open()
for i in range(10):
    store.create("sweep", {"machine": name, "i": i}, run_id=f"{name}-{i}")
remote.push(store.repo, store.branch, "origin")
"""


@pytest.mark.slow
def test_eight_machines_push_at_once_and_lose_nothing(
    clone: Clone, remote_url: str, served: Path
) -> None:
    machines = [clone(f"m{i}") for i in range(8)]
    procs = [
        subprocess.Popen([sys.executable, "-c", PUSHER, m.name], cwd=m, stderr=subprocess.PIPE)
        for m in machines
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    bare = served / "remote.git"
    listing = git(bare, "ls-tree", "-r", "--name-only", "gitcfg").split()
    runs = {path.split("/")[-2] for path in listing if path.endswith("config.yaml")}
    assert runs == {f"m{i}-{j}" for i in range(8) for j in range(10)}
    fsck = subprocess.run(
        ["git", "fsck", "--strict", "--no-dangling"], cwd=bare, capture_output=True, text=True
    )
    assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr


def test_unreachable_or_missing_remote_is_one_line_and_keeps_local(
    repo: Path, tmp_path: Path
) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1}, run_id="r")
    before = tip(repo)
    for where in (
        str(tmp_path / "does-not-exist.git"),
        "nosuchremote",
        f"git://127.0.0.1:{free_port()}/x.git",
    ):
        with pytest.raises(RemoteError) as caught:
            remote.push(store.repo, "gitcfg", where)
        assert "\n" not in str(caught.value)
        assert where in str(caught.value)
        with pytest.raises(RemoteError):
            remote.pull(store.repo, "gitcfg", where)
    assert tip(repo) == before
    assert store.read(ref).config == {"a": 1}


def test_autopush_after_each_run_and_soft_failure(
    repo: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    git(repo, "config", "gitcfg.autopush", "origin")
    store = ConfigStore.open()
    ref, commit = store.create("p", {"a": 1}, run_id="r")
    assert git(bare, "rev-parse", "gitcfg").strip() == commit
    store.update(ref, {"a": 2})
    assert git(bare, "rev-parse", "gitcfg").strip() == tip(repo)

    monkeypatch.setenv("GITCFG_AUTOPUSH", str(tmp_path / "gone.git"))
    store = ConfigStore.open()
    ref2, commit2 = store.create("p", {"a": 3}, run_id="r2")
    assert tip(repo) == commit2  # the local commit stands
    err = capfd.readouterr().err
    assert "committed locally, but pushing to" in err and "gitcfg push" in err
    assert os.path.basename(str(tmp_path / "gone.git")) in err
    assert ref2 in {r.ref for r in store.runs()}
    assert RunRef("p", "r2") == ref2


def gitcfg_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=cwd, capture_output=True, text=True
    )


def test_push_and_pull_commands(clone: Clone, monkeypatch: pytest.MonkeyPatch) -> None:
    a = clone("a")
    store_a = store_in(a, monkeypatch)
    ref, _ = store_a.create("p", {"lr": 0.1}, run_id="r")
    pushed = gitcfg_cli(a, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert pushed.stdout.startswith("push: pushed gitcfg to origin")

    b = clone("b")
    pulled = gitcfg_cli(b, "pull", "origin")
    assert pulled.returncode == 0, pulled.stderr
    assert pulled.stdout.startswith("pull: fast-forwarded")
    assert gitcfg_cli(b, "pull").stdout == "gitcfg is up to date with origin\n"
    store_b = store_in(b, monkeypatch)
    assert store_b.read(ref).config == {"lr": 0.1}

    # A same-key conflict: exit 1, one line naming run and key, nothing changed; --theirs resolves.
    store_a.update(ref, {"lr": 0.2})
    assert gitcfg_cli(a, "push").returncode == 0
    store_b.update(ref, {"lr": 0.3})
    before = tip(b)
    conflict = gitcfg_cli(b, "pull")
    assert conflict.returncode == 1
    assert conflict.stderr.count("\n") == 1
    assert conflict.stderr.startswith("Error: conflicting changes to p/r: lr")
    assert tip(b) == before
    resolved = gitcfg_cli(b, "pull", "--theirs")
    assert resolved.returncode == 0, resolved.stderr
    assert "merged" in resolved.stdout
    assert store_b.read(ref).config == {"lr": 0.2}


def test_push_command_to_a_missing_remote(repo: Path, tmp_path: Path) -> None:
    ConfigStore.open().create("p", {"a": 1}, run_id="r")
    before = tip(repo)
    (tmp_path / "plain-dir").mkdir()
    for where in ("nope", str(tmp_path / "nowhere.git"), str(tmp_path / "plain-dir")):
        for verb in ("push", "pull"):
            result = gitcfg_cli(repo, verb, where)
            # git's own reason, not its advice lines ("and the repository exists.")
            assert (result.returncode, result.stdout, result.stderr) == (
                1,
                "",
                f"Error: cannot fetch from {where!r}: {where!r} does not appear to be a git "
                f"repository; check 'git remote -v' and that {where!r} is reachable and "
                f"writable\n",
            )
    assert tip(repo) == before


@pytest.mark.parametrize(
    ("stderr", "line"),
    [
        (
            "fatal: 'x' does not appear to be a git repository\n"
            "fatal: Could not read from remote repository.\n\n"
            "Please make sure you have the correct access rights\nand the repository exists.\n",
            "'x' does not appear to be a git repository",
        ),
        (
            "ssh: Could not resolve hostname h: Name or service not known\n"
            "fatal: Could not read from remote repository.\n\n"
            "Please make sure you have the correct access rights\nand the repository exists.\n",
            "ssh: Could not resolve hostname h: Name or service not known",
        ),
        (
            "remote: Repository not found.\nfatal: repository 'https://h/x/' not found\n",
            "repository 'https://h/x/' not found",
        ),
        ("", "git failed"),
    ],
)
def test_the_line_that_says_what_is_wrong_is_picked(stderr: str, line: str) -> None:
    assert remote._last_line(stderr) == line


def many_keep_refs(repo: Path, count: int) -> None:
    """``count`` keep refs at HEAD, named like gitcfg names them (a 40-hex id each), made fast."""
    import hashlib

    head = git(repo, "rev-parse", "HEAD").strip()
    lines = "".join(
        f"create refs/gitcfg/keep/{hashlib.sha1(str(i).encode()).hexdigest()} {head}\n"
        for i in range(count)
    )
    subprocess.run(["git", "update-ref", "--stdin"], cwd=repo, input=lines, text=True, check=True)


@pytest.mark.slow
def test_push_and_autopush_with_seventeen_thousand_keep_refs(repo: Path, tmp_path: Path) -> None:
    # 17,000 keep refs on a command line are over the kernel's argument limit (E2BIG).
    bare = tmp_path / "shared.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    git(repo, "remote", "add", "origin", str(bare))
    many_keep_refs(repo, 17_000)
    git(repo, "config", "gitcfg.autopush", "origin")
    script = "import gitcfg; gitcfg.init(config={'lr': 1}, project='p', id='r1').finish()"
    created = subprocess.run(
        [sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120
    )
    assert created.returncode == 0 and created.stderr == "", created.stderr
    assert git(bare, "rev-parse", "gitcfg") == git(repo, "rev-parse", "gitcfg")
    local = git(repo, "for-each-ref", "refs/gitcfg/keep/")
    assert len(local.splitlines()) == 17_001  # and the run's own code commit
    assert git(bare, "for-each-ref", "refs/gitcfg/keep/") == local

    ConfigStore.open().create("p", {"lr": 2}, run_id="r2")
    pushed = gitcfg_cli(repo, "push")
    assert pushed.returncode == 0, pushed.stderr
    assert git(bare, "rev-parse", "gitcfg") == git(repo, "rev-parse", "gitcfg")


def test_autopush_never_raises_into_the_script(
    repo: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # A remote name longer than the kernel allows for one argument: starting git itself fails
    # with OSError (E2BIG), not a gitcfg error. The run stands; one warning line says so.
    store = ConfigStore.open()
    store.autopush = "x" * 200_000
    _, commit = store.create("p", {"a": 1}, run_id="r")
    assert tip(repo) == commit
    err = capfd.readouterr().err
    assert err.count("\n") == 1 and "committed locally, but pushing to" in err
    assert "OSError" in err and "Traceback" not in err


def test_pull_never_merges_a_store_with_a_branch_of_someones_own_work(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = clone("a"), clone("b")
    store_in(a, monkeypatch).create("p", {"lr": 0.1}, run_id="r1")
    remote.push(store_in(a, monkeypatch).repo, "gitcfg")
    # b's own branch 'gitcfg' holds code: neither pull nor push may take it over
    git(b, "switch", "-q", "-c", "gitcfg")
    (b / "code.py").write_text("print(1)\n")
    git(b, "add", "code.py")
    git(b, "commit", "-q", "-m", "my work")
    git(b, "switch", "-q", "main")
    mine = tip(b)
    store_b = store_in(b, monkeypatch)
    for sync in (remote.pull, remote.push):
        with pytest.raises(NotAStoreError, match="the branch 'gitcfg' is not a gitcfg store"):
            sync(store_b.repo, "gitcfg")
        assert tip(b) == mine
    # and a remote branch of someone's code is never merged into a store
    git(b, "push", "-q", "-f", "origin", "gitcfg")
    ours = tip(a)
    with pytest.raises(NotAStoreError, match="the branch 'origin/gitcfg' is not a gitcfg store"):
        remote.pull(store_in(a, monkeypatch).repo, "gitcfg")
    assert tip(a) == ours


# One process of a cluster job sharing one checkout: records its runs, each autopushed.
RECORDER = """
import sys
import gitcfg
name, runs = sys.argv[1], int(sys.argv[2])
for i in range(runs):
    gitcfg.init(config={"who": name, "i": i}, project="p", id=f"{name}-{i}").finish()
"""


def test_processes_sharing_one_clone_autopush_every_run(repo: Path, tmp_path: Path) -> None:
    # They all fetch into the same tracking and keep refs: a lost race for one of those
    # local locks is retried, never reported as the remote failing, and no run stays behind.
    # The race is in the clone's own refs, whatever the transport: a path remote will do.
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    git(repo, "push", "-q", str(bare), "main")
    shared = tmp_path / "shared"
    git(tmp_path, "clone", "-q", str(bare), str(shared))
    git(shared, "config", "gitcfg.autopush", "origin")
    env = {**os.environ, **TEST_IDENTITY}
    procs = []
    for i in range(8):
        command = [sys.executable, "-c", RECORDER, f"w{i}", "5"]
        procs.append(subprocess.Popen(command, cwd=shared, env=env, stderr=subprocess.PIPE))
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert "pushing to" not in err.decode(), err.decode()
    local = git(shared, "ls-tree", "-r", "gitcfg")
    assert git(bare, "ls-tree", "-r", "gitcfg") == local  # every run arrived
    assert local.count("config.yaml") == 40
    for path in (shared, bare):
        assert_fsck_clean(path)


@pytest.mark.parametrize("sync", [remote.pull, remote.push])
def test_a_lost_race_for_the_tracking_ref_is_retried(
    sync: Callable[..., remote.SyncResult],
    clone: Clone,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = clone("a")
    store = store_in(path, monkeypatch)
    store.create("p", {"a": 1}, run_id="r")
    remote.push(store.repo, "gitcfg")
    clone("b")  # another machine pushes a run, so a's next fetch must move its tracking ref
    other = store_in(path.parent / "b", monkeypatch)
    other.create("p", {"a": 2}, run_id="r2")
    remote.push(other.repo, "gitcfg")
    # another process of clone a holds the tracking ref's lock, then lets go
    lock = path / ".git" / (remote.tracking_ref("origin", "gitcfg") + ".lock")
    lock.write_text("")
    backoffs: list[int] = []

    def released(rng: object, attempt: int) -> None:
        backoffs.append(attempt)
        lock.unlink(missing_ok=True)

    monkeypatch.setattr(remote, "_backoff", released)
    store = store_in(path, monkeypatch)
    sync(store.repo, "gitcfg")
    assert backoffs == [0]
    assert {r.ref.id for r in store.runs()} == {"r", "r2"}


def test_a_stale_lock_on_the_tracking_ref_is_not_blamed_on_the_remote(
    clone: Clone, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = clone("a")
    store = store_in(path, monkeypatch)
    store.create("p", {"a": 1}, run_id="r")
    remote.push(store.repo, "gitcfg")
    git(path, "update-ref", "-d", remote.tracking_ref("origin", "gitcfg"))
    lock = path / ".git" / (remote.tracking_ref("origin", "gitcfg") + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text("")  # left by a process that crashed
    monkeypatch.setattr(remote, "_backoff", lambda rng, attempt: None)
    monkeypatch.setattr(remote, "_PUSH_ATTEMPTS", 3)  # still bounded, and quick to give up
    for sync in (remote.pull, remote.push):
        with pytest.raises(RepositoryError) as caught:
            sync(store.repo, "gitcfg")
        message = str(caught.value)
        assert not isinstance(caught.value, RemoteError)
        assert str(lock) in message and "reachable" not in message and "\n" not in message
    lock.unlink()
