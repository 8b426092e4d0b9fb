"""SHA-256 repositories work fully: objects, trees, packs, refs, keep refs, pull and push."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gitcfg.errors import RepositoryError
from gitcfg.git import SHA1, SHA256, GitRepo
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git


def sha256_repo(path: Path, *, bare: bool = False) -> Path:
    args = ["init", "-q", "--object-format=sha256", "-b", "main"]
    git(path.parent, *args, *(["--bare"] if bare else []), str(path))
    return path


def record(cwd: Path, run_id: str, env: dict[str, str] | None = None) -> None:
    code = (
        "import gitcfg, sys; r = gitcfg.init(config={'lr': 0.1, 'layers': [1, 2]}, project='p', "
        "id=sys.argv[1]); gitcfg.config.batch = 32; r.finish()"
    )
    import os

    proc = subprocess.run(
        [sys.executable, "-c", code, run_id],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr


def test_the_object_format_is_read_from_the_repository(tmp_path: Path) -> None:
    assert GitRepo.discover(sha256_repo(tmp_path / "a")).algo is SHA256
    git(tmp_path, "init", "-q", str(tmp_path / "b"))
    assert GitRepo.discover(tmp_path / "b").algo is SHA1
    assert (
        GitRepo.discover(tmp_path / "a").empty_tree
        == git(tmp_path / "a", "hash-object", "-t", "tree", "/dev/null").strip()
    )


def test_a_bare_sha256_store_records_runs_that_fsck_accepts(tmp_path: Path) -> None:
    store = sha256_repo(tmp_path / "s.git", bare=True)
    code = sha256_repo(tmp_path / "code")
    git(code, "commit", "-q", "--allow-empty", "-m", "code")
    record(code, "r1", {"GITCFG_REPO": str(store)})
    assert_fsck_clean(store)
    tip = git(store, "rev-parse", "gitcfg").strip()
    assert len(tip) == 64
    assert "batch: 32" in git(store, "show", ConfigStore.open(store).path(_ref("r1")))


def test_a_fresh_sha256_repository_without_commits_and_one_with_commits(tmp_path: Path) -> None:
    fresh = sha256_repo(tmp_path / "fresh")
    record(fresh, "r1")
    assert_fsck_clean(fresh)
    used = sha256_repo(tmp_path / "used")
    (used / "train.py").write_text("print(1)\n")
    git(used, "add", "train.py")
    git(used, "commit", "-q", "-m", "code")
    (used / "train.py").write_text("print(2)\n")  # dirty: a snapshot commit and keep refs
    record(used, "r1")
    record(used, "r2")
    assert_fsck_clean(used)
    runs = ConfigStore.open(used).runs()
    assert [r.ref.id for r in runs] == ["r1", "r2"]
    snapshot = runs[0].meta["snapshot"]
    assert len(snapshot) == 64
    assert git(used, "show", f"{snapshot}:train.py") == "print(2)\n"
    kept = set(git(used, "for-each-ref", "--format=%(refname)", "refs/gitcfg/keep/").split())
    code = git(used, "rev-parse", "HEAD").strip()
    pinned = {code, snapshot, runs[1].meta["snapshot"]}  # r2's snapshot: same tree, own time
    assert kept == {f"refs/gitcfg/keep/{sha}" for sha in pinned}
    # After gc the objects are packed (32-byte names in the .idx): read in-process, same answers.
    git(used, "gc", "-q", "--prune=now")
    assert [r.config for r in ConfigStore.open(used).runs()] == [r.config for r in runs]
    record(used, "r3")
    assert_fsck_clean(used)


def test_pull_and_push_between_sha256_repositories(tmp_path: Path) -> None:
    remote = sha256_repo(tmp_path / "remote.git", bare=True)
    a = sha256_repo(tmp_path / "a")
    git(a, "commit", "-q", "--allow-empty", "-m", "code")
    git(a, "remote", "add", "origin", str(remote))
    git(a, "push", "-q", "origin", "main")
    git(tmp_path, "clone", "-q", str(remote), str(tmp_path / "b"))
    b = tmp_path / "b"
    record(a, "ra")
    record(b, "rb")
    for side in (a, b):
        proc = subprocess.run(
            [sys.executable, "-m", "gitcfg", "push"], cwd=side, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "pull"], cwd=a, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert {r.ref.id for r in ConfigStore.open(a).runs()} == {"ra", "rb"}
    for path in (a, b, remote):
        assert_fsck_clean(path)


def test_a_store_and_a_code_repository_of_different_formats_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sha256_repo(tmp_path / "s.git", bare=True)
    code = tmp_path / "code"
    git(tmp_path, "init", "-q", str(code))
    monkeypatch.chdir(code)
    with pytest.raises(RepositoryError, match=r"sha1 object ids but the store .* uses sha256"):
        ConfigStore.open(store).code_repo  # noqa: B018 - asked when a run is recorded
    proc = subprocess.run(
        [sys.executable, "-c", "import gitcfg; gitcfg.init(config={'a': 1})"],
        cwd=code,
        env={**__import__("os").environ, "GITCFG_REPO": str(store)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    assert "same object format" in proc.stderr
    assert subprocess.run(["git", "rev-parse", "-q", "--verify", "gitcfg"], cwd=store).returncode


def _ref(run_id: str):  # type: ignore[no-untyped-def]
    from gitcfg.layout import RunRef

    return RunRef("p", run_id)
