"""gitcfg's in-process git readers against git itself, over repositories shaped like real ones.

The object reader may decline an object (and ask ``git cat-file``), but must never return other
bytes than git; the in-process dirty check may be unsure, but must never call a work tree clean
that ``git status`` calls dirty. Each test builds a repository the way git users end up with
one (deep delta chains, several packs and a multi-pack-index, alternates, loose objects beside
packs; index version 4, split and sparse indexes, the untracked cache, racy timestamps) and
compares every answer.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gitcfg.git import GitRepo
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore
from gitcfg.worktree import known_clean
from tests.conftest import TEST_IDENTITY, git, make_repo
from tests.test_packs import all_objects, cat_file_starts, max_chain  # noqa: F401 (fixture)


def fast_history(repo: Path, commits: int, branch: str = "main") -> None:
    """``commits`` commits on ``branch``, each changing a few lines of two growing files.

    Built with ``git fast-import`` (one process), so long histories cost little; small edits of
    big files are what makes git store long delta chains.
    """
    lines = [f"line {i}: {'x' * (i % 37)}\n" for i in range(400)]
    parent = git(repo, "rev-parse", "--verify", "-q", branch).strip() or None
    stream = []
    for n in range(commits):
        lines[(n * 7) % len(lines)] = f"changed {n}\n"
        lines.append(f"appended {n}\n")
        text = "".join(lines).encode()
        config = f"lr: {n / 1000}\nlayers: [{n}, {n + 1}]\n".encode()
        message = f"step {n}\n".encode()
        stream.append(f"commit refs/heads/{branch}\n".encode())
        stream.append(f"committer Test <t@example.com> {1_700_000_000 + n} +0000\n".encode())
        stream.append(b"data %d\n%s\n" % (len(message), message))
        if parent is not None and n == 0:
            stream.append(f"from {parent}\n".encode())
        stream.append(b"M 100644 inline model.py\ndata %d\n%s\n" % (len(text), text))
        stream.append(b"M 100644 inline conf/run.yaml\ndata %d\n%s\n" % (len(config), config))
    subprocess.run(
        ["git", "fast-import", "--quiet", "--force"],
        cwd=repo,
        input=b"".join(stream),
        check=True,
        env={**os.environ, **TEST_IDENTITY},
    )


def with_runs(repo: Path, count: int) -> None:
    """A store with ``count`` runs, each updated once, written by gitcfg itself."""
    store = ConfigStore.open(repo)
    for i in range(count):
        ref, _ = store.create("p", {"lr": i / 10, "model": {"depth": i}}, run_id=f"r{i:03d}")
        store.update(ref, {"epochs": i})


def assert_reader_matches_git(repo: Path) -> int:
    """Read every object git has here with gitcfg; return how many there were."""
    expected = all_objects(repo)
    reader = GitRepo.discover(repo)
    for sha, found in expected.items():
        assert reader.read_object(sha) == found, sha
    return len(expected)


def test_deep_delta_chains_after_an_aggressive_repack(
    repo: Path,
    cat_file_starts: Callable[[], int],  # noqa: F811 (the fixture imported above)
) -> None:
    fast_history(repo, 300)
    with_runs(repo, 20)
    git(repo, "repack", "-adf", "-q", "--depth=250", "--window=250")
    assert max_chain(repo) >= 100  # the shape under test: chains far deeper than gc's default
    assert assert_reader_matches_git(repo) > 600
    assert cat_file_starts() == 0  # and every one of them was read in-process


def test_several_packs_under_a_multi_pack_index(
    repo: Path,
    cat_file_starts: Callable[[], int],  # noqa: F811 (the fixture imported above)
) -> None:
    for round_ in range(4):
        fast_history(repo, 25)
        ConfigStore.open(repo).create("p", {"round": round_}, run_id=f"m{round_}")
        git(repo, "repack", "-d", "-q")  # one more pack of what is new
    git(repo, "multi-pack-index", "write")
    git(repo, "multi-pack-index", "verify")
    packs = list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert len(packs) >= 4 and (repo / ".git" / "objects" / "pack" / "multi-pack-index").exists()
    assert_reader_matches_git(repo)
    assert cat_file_starts() == 0


def test_alternates_are_read_through_git_with_the_same_bytes(tmp_path: Path, repo: Path) -> None:
    fast_history(repo, 50)
    with_runs(repo, 5)
    git(repo, "repack", "-adf", "-q", "--depth=50")
    borrower = tmp_path / "borrower"
    git(tmp_path, "clone", "-q", "--shared", str(repo), str(borrower))
    assert (borrower / ".git" / "objects" / "info" / "alternates").exists()
    fast_history(borrower, 10)  # its own objects, loose, on top of the borrowed packs
    assert assert_reader_matches_git(borrower) > 100


def test_loose_and_packed_objects_mixed(repo: Path) -> None:
    import shutil

    fast_history(repo, 60)
    with_runs(repo, 10)
    objects = repo / ".git" / "objects"
    kept = objects.parent / "loose-copy"
    shutil.copytree(objects, kept, ignore=shutil.ignore_patterns("pack", "info"))
    git(repo, "repack", "-ad", "-q")
    # The same objects loose again beside the pack, as a crash between repack and prune leaves.
    shutil.copytree(kept, objects, dirs_exist_ok=True)
    shutil.rmtree(kept)
    store = ConfigStore.open(repo)
    for i in range(10):  # and new loose objects on top of the packed store
        store.update(store.resolve(f"p/r{i:03d}").ref, {"late": i})
    loose = sum(1 for d in objects.glob("[0-9a-f][0-9a-f]") for _ in d.iterdir())
    assert loose > 50 and list((objects / "pack").glob("*.pack"))
    assert_reader_matches_git(repo)


# -- the dirty check -------------------------------------------------------------------------


def git_status(repo: Path, untracked: str = "no") -> str:
    """``git status --porcelain`` without refreshing the index (what a user would see)."""
    return subprocess.run(
        ["git", "status", "--porcelain", f"-u{untracked}"],
        cwd=repo,
        env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def assert_agrees(repo: Path) -> bool | None:
    """known_clean never says clean when git status says dirty; capture() agrees with git."""
    code = GitRepo.discover(repo)
    head = code.read_ref("HEAD")
    assert head is not None
    answer = known_clean(code, head)  # first: a later git command may refresh the index
    status = git_status(repo)
    if answer is True:
        assert status == "", status
    assert capture(code).dirty == bool(git_status(repo, "all")), git_status(repo, "all")
    return answer


def edits(repo: Path) -> list[Callable[[], None]]:
    """Changes a user makes: each leaves the tree dirty; the last resets tracked files and adds
    an untracked one (dirty for capture(), clean for known_clean, which reads tracked files)."""
    model = repo / "src" / "model.py"

    def same_size() -> None:
        text = model.read_text()
        model.write_text(text.replace("a", "b", 1))  # same size, same second as the index

    def bigger() -> None:
        model.write_text(model.read_text() + "# more\n")

    def staged() -> None:
        (repo / "src" / "new.py").write_text("y = 1\n")
        git(repo, "add", "src/new.py")

    def untracked_only() -> None:
        git(repo, "reset", "-q", "--hard")
        (repo / "notes.py").write_text("n = 1\n")

    return [same_size, bigger, staged, untracked_only]


def index_shape(repo: Path, shape: str) -> None:
    if shape == "v4":
        git(repo, "update-index", "--index-version", "4")
    elif shape == "split":
        git(repo, "config", "core.splitIndex", "true")
        git(repo, "update-index", "--split-index")
        assert list((repo / ".git").glob("sharedindex.*"))
    elif shape == "sparse":
        git(repo, "sparse-checkout", "init", "--cone", "--sparse-index")
        git(repo, "sparse-checkout", "set", "src")
        assert not (repo / "docs").exists()
    elif shape == "untracked-cache":
        git(repo, "config", "core.untrackedCache", "true")
        git(repo, "update-index", "--untracked-cache")
        git(repo, "status", "--porcelain")  # fills the cache (UNTR extension)
    elif shape == "racy":
        # a file modified within the same second as the index write, same size
        git(repo, "update-index", "--refresh")
        model = repo / "src" / "model.py"
        model.write_text(model.read_text().replace("b", "c", 1))
        index = repo / ".git" / "index"
        os.utime(model, ns=(index.stat().st_atime_ns, index.stat().st_mtime_ns))


@pytest.mark.parametrize("shape", ["plain", "v4", "split", "sparse", "untracked-cache", "racy"])
def test_the_dirty_check_agrees_with_git_status(tmp_path: Path, shape: str) -> None:
    repo = make_repo(tmp_path / "project")
    for directory in ("src", "docs", "data"):
        (repo / directory).mkdir()
        for i in range(3):
            (repo / directory / f"f{i}.py").write_text(f"a = {i}\n")
    (repo / "src" / "model.py").write_text("import torch\nclass Model:\n    a = 1\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "code")
    index_shape(repo, shape)
    assert_agrees(repo)
    for edit in edits(repo):
        edit()
        answer = assert_agrees(repo)
        if edit.__name__ != "untracked_only":  # known_clean is about tracked files only
            assert answer is not True
    git(repo, "reset", "-q", "--hard")
    (repo / "notes.py").unlink()
    time.sleep(1.1)  # out of the racy second, so the in-process check may answer
    final = assert_agrees(repo)
    # The shapes it reads (v2/v3, optional extensions) it answers in-process; others it leaves.
    assert final is (True if shape in ("plain", "untracked-cache", "racy") else None)


def sha256_project(tmp_path: Path) -> Path:
    repo = tmp_path / "sha256"
    git(tmp_path, "init", "-q", "--object-format=sha256", "-b", "main", str(repo))
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "initial code")
    return repo


def test_deep_delta_chains_in_a_sha256_repository(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cat_file_starts: Callable[[], int],  # noqa: F811 (the fixture imported above)
) -> None:
    repo = sha256_project(tmp_path)
    monkeypatch.chdir(repo)  # the runs' code repository is the one gitcfg runs in
    fast_history(repo, 120)
    with_runs(repo, 10)
    git(repo, "repack", "-adf", "-q", "--depth=250", "--window=250")
    assert max_chain(repo) >= 30  # dozens of deltas to apply for one object
    assert assert_reader_matches_git(repo) > 250
    assert cat_file_starts() == 0  # 32-byte names in the .idx: still read in-process


def test_the_dirty_check_reads_a_sha256_index(tmp_path: Path) -> None:
    repo = sha256_project(tmp_path)
    time.sleep(1.1)  # past the racy window of the index git just wrote
    git(repo, "update-index", "--refresh")
    r = GitRepo.discover(repo)
    head = git(repo, "rev-parse", "HEAD").strip()
    assert known_clean(r, head) is True  # answered in-process, not left to git
    (repo / "train.py").write_text("print('changed')\n")
    assert known_clean(r, head) is not True
    assert git_status(repo) != ""
