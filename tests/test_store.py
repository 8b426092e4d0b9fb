"""The store engine on real repositories: what lands on the branch, and what never changes."""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gitcfg.changelog import branch_log
from gitcfg.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    ConfigKeyError,
    CorruptStoreError,
    InputError,
    InvalidBranchNameError,
    InvalidNameError,
    KeyCollisionError,
    NotAStoreError,
    RepositoryError,
    RunExistsError,
    RunNotFoundError,
    SecretKeyError,
    UnsupportedValueError,
    VersionNotFoundError,
)
from gitcfg.flat import find_collision, is_valid_key
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore, RunUpdate
from tests.conftest import git


def tip(repo: Path, branch: str = "gitcfg") -> str:
    return git(repo, "rev-parse", "--verify", "-q", branch).strip()


def user_state(repo: Path) -> tuple[str, str, str, bytes, str, float]:
    """Everything a store write must leave alone."""
    index = repo / ".git" / "index"
    return (
        git(
            repo, "status", "--porcelain", "--untracked-files=all", env={"GIT_OPTIONAL_LOCKS": "0"}
        ),
        git(repo, "rev-parse", "HEAD"),
        git(repo, "symbolic-ref", "HEAD"),
        index.read_bytes(),
        git(repo, "stash", "list"),
        index.stat().st_mtime,
    )


def test_create_commits_sorted_yaml_and_meta_on_the_branch(repo: Path) -> None:
    store = ConfigStore.open()
    ref, commit = store.create(
        "mnist", {"lr": 0.001, "batch_size": 32, "model.layers": [64, 32]}, run_id="run1"
    )

    assert ref == RunRef("mnist", "run1")
    assert tip(repo) == commit
    text = git(repo, "show", f"gitcfg:{ref.config_path}")
    assert text == "batch_size: 32\nlr: 0.001\nmodel.layers: [64, 32]\n"
    meta = yaml.safe_load(git(repo, "show", f"gitcfg:{ref.meta_path}"))
    assert meta["code_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert meta["branch"] == "main"
    assert meta["dirty"] is False
    assert meta["snapshot"] is None
    assert set(meta) >= {"command", "host", "user", "python", "gitcfg", "started"}
    assert meta["host"] == socket.gethostname()
    assert meta["python"] == platform.python_version()
    message = git(repo, "log", "-1", "--format=%B", "gitcfg")
    assert message.startswith("create mnist/run1 (3 keys)")
    assert "Gitcfg-Run: mnist/run1" in message
    assert f"Gitcfg-Code-Commit: {meta['code_commit']}" in message


def test_runs_get_random_base36_ids(repo: Path) -> None:
    store = ConfigStore.open()
    ids = {store.create("p", {"a": 1})[0].id for _ in range(5)}
    assert len(ids) == 5
    assert all(len(i) == 8 and i.isalnum() and i == i.lower() for i in ids)


def test_git_log_of_the_branch_shows_config_commits_only(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1}, run_id="x1")
    store.update(ref, {"a": 2})
    subjects = git(repo, "log", "--format=%s", "gitcfg").splitlines()
    assert subjects == ["update p/x1: a", "create p/x1 (1 key)"]
    # The code branch's history is untouched.
    assert git(repo, "log", "--format=%s", "main").splitlines() == ["initial code"]


def test_writes_leave_worktree_index_head_and_stash_alone(repo: Path) -> None:
    (repo / "train.py").write_text("print('changed, not committed')\n")
    (repo / "notes.txt").write_text("untracked\n")
    git(repo, "stash", "push", "-q")
    (repo / "train.py").write_text("print('dirty again')\n")
    before = user_state(repo)

    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1})
    store.update(ref, {"a": 2}, message="tune a")

    assert user_state(repo) == before


def test_works_without_a_git_identity(repo: Path) -> None:
    no_identity = subprocess.run(["git", "config", "user.name"], cwd=repo, capture_output=True)
    assert no_identity.returncode == 1  # the isolated environment really has no identity
    store = ConfigStore.open()
    store.create("p", {"a": 1})
    author = git(repo, "log", "-1", "--format=%an <%ae>", "gitcfg").strip()
    assert author == "gitcfg <gitcfg@localhost>"


def test_uses_the_configured_identity_when_there_is_one(repo: Path) -> None:
    git(repo, "config", "user.name", "Ada")
    git(repo, "config", "user.email", "ada@example.com")
    ConfigStore.open().create("p", {"a": 1})
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    out = subprocess.run(
        ["git", "log", "-1", "--format=%an <%ae>", "gitcfg"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "Ada <ada@example.com>"


def test_never_runs_the_users_hooks(repo: Path, tmp_path: Path) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    marker = tmp_path / "hook-ran"
    names = [
        "pre-commit",
        "commit-msg",
        "post-commit",
        "reference-transaction",
        "post-index-change",
        "pre-push",
        "post-checkout",
        "prepare-commit-msg",
    ]
    for name in names:
        for where in (hooks, repo / ".git" / "hooks"):
            script = where / name
            script.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
            script.chmod(0o755)
    git(repo, "config", "core.hooksPath", str(hooks))
    (repo / "train.py").write_text("dirty\n")  # forces the snapshot path too

    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1})
    store.update(ref, {"a": 2})

    assert not marker.exists()


def test_update_sets_and_unsets_in_one_commit(repo: Path) -> None:
    store = ConfigStore.open()
    ref, first = store.create("p", {"a": 1, "b": 2, "c.d": 3, "c.e": 4}, run_id="r")
    result = store.update(ref, {"a": 10, "z": "new"}, unset=["b", "c"], message="tune")

    assert result.commit is not None
    assert git(repo, "rev-list", "--count", f"{first}..gitcfg").strip() == "1"
    assert git(repo, "show", f"gitcfg:{ref.config_path}") == "a: 10\nz: new\n"
    assert [(c.key, c.kind) for c in result.changes] == [
        ("a", "changed"),
        ("b", "removed"),
        ("c.d", "removed"),
        ("c.e", "removed"),
        ("z", "added"),
    ]
    body = git(repo, "log", "-1", "--format=%B", "gitcfg")
    assert body.startswith("tune\n")
    assert "~ a: 1 -> 10" in body and "- b: 2" in body and "+ z: new" in body


def test_update_with_nothing_changed_makes_no_commit(repo: Path) -> None:
    store = ConfigStore.open()
    ref, commit = store.create("p", {"a": 1})
    result = store.update(ref, {"a": 1})
    assert result.commit is None and result.changes == []
    assert tip(repo) == commit


def test_dry_run_reports_changes_without_committing(repo: Path) -> None:
    store = ConfigStore.open()
    ref, commit = store.create("p", {"a": 1})
    result = store.update(ref, {"a": 2}, dry_run=True)
    assert result.commit is None
    assert [(c.key, c.old, c.new) for c in result.changes] == [("a", 1, 2)]
    assert tip(repo) == commit


def test_read_now_and_at_an_earlier_version(repo: Path) -> None:
    store = ConfigStore.open()
    ref, first = store.create("p", {"a": 1})
    store.update(ref, {"a": 2})
    assert store.read(ref).config == {"a": 2}
    assert store.read(ref, at=first).config == {"a": 1}
    assert store.read(ref, at="gitcfg~1").config == {"a": 1}


def test_history_lists_versions_newest_first(repo: Path) -> None:
    store = ConfigStore.open()
    ref, first = store.create("p", {"a": 1})
    store.create("p", {"other": True})  # another run's commit must not appear
    second = store.update(ref, {"a": 2}, message="bump a").commit
    versions = store.history(ref)
    assert [v.commit for v in versions] == [second, first]
    assert [v.config for v in versions] == [{"a": 2}, {"a": 1}]
    assert versions[0].message.startswith("bump a")
    assert versions[0].time >= versions[1].time > 0


def test_runs_lists_every_run_with_config_and_meta(repo: Path) -> None:
    store = ConfigStore.open()
    a, _ = store.create("p", {"lr": 0.1}, run_id="a")
    b, _ = store.create("q", {"lr": 0.2}, run_id="b")
    records = {r.ref: r for r in store.runs()}
    assert set(records) == {a, b}
    assert records[a].config == {"lr": 0.1}
    assert records[b].meta["code_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert [r.ref for r in store.runs("q")] == [b]
    # A second listing, now from the blob cache, reads the same.
    assert {r.ref: r.config for r in ConfigStore.open().runs()} == {a: {"lr": 0.1}, b: {"lr": 0.2}}


def test_resolve_selectors(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("p", {"a": 1}, run_id="abc111")
    store.create("p", {"a": 1}, run_id="abc222")
    store.create("q", {"a": 1}, run_id="xyz999")
    store.create("q", {"a": 1}, run_id="abc111")

    assert store.resolve("p/abc111").ref == RunRef("p", "abc111")
    assert store.resolve("xyz999").ref == RunRef("q", "xyz999")
    assert store.resolve("xy").ref == RunRef("q", "xyz999")
    assert store.resolve("abc2~3").back == 3
    assert store.resolve("abc2~").back == 1
    with pytest.raises(AmbiguousRunError, match="p/abc111, q/abc111"):
        store.resolve("abc111")
    with pytest.raises(AmbiguousRunError):
        store.resolve("abc")
    with pytest.raises(RunNotFoundError, match="'nope'"):
        store.resolve("nope")


def test_run_version_selector_and_past_the_first(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1}, run_id="r1")
    store.update(ref, {"a": 2})
    assert store.version(store.resolve("r1~1")).config == {"a": 1}
    with pytest.raises(VersionNotFoundError, match="2 version"):
        store.version(store.resolve("r1~99"))


def test_path_is_computed_and_usable_by_plain_git(repo: Path) -> None:
    store = ConfigStore.open()
    a, _ = store.create("p", {"lr": 1}, run_id="a")
    b, _ = store.create("p", {"lr": 2}, run_id="b")
    assert store.path(a) == "gitcfg:p/{}/{}/{}/{}/a/config.yaml".format(*a.shards)
    diff = git(repo, "diff", store.path(a), store.path(b))
    assert "-lr: 1" in diff and "+lr: 2" in diff


def test_a_commit_rewrites_only_trees_on_the_runs_path(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(300):
        store.create("p", {"i": i}, run_id=f"run{i:04d}")
    ref, commit = store.create("p", {"i": -1}, run_id="last")
    changed = git(repo, "diff-tree", "-r", "-t", "--name-only", "--no-commit-id", commit).split()
    shard_dirs = ["/".join(ref.segments[:i]) for i in range(1, len(ref.segments))]
    assert changed == [*shard_dirs, ref.directory, ref.config_path, ref.meta_path]
    assert len(shard_dirs) == 5  # project and four shard levels
    # Sequential ids spread over all 16 shards, and no shard directory grows past 16 entries.
    paths = git(repo, "ls-tree", "-r", "-t", "--name-only", "gitcfg").split()
    children = Counter(path.rpartition("/")[0] for path in paths if path.count("/") <= 5)
    assert children["p"] == 16
    assert max(count for parent, count in children.items() if parent) <= 16


def test_create_with_an_update_of_another_run_is_one_commit_writing_each_tree_once(
    repo: Path,
) -> None:
    store = ConfigStore.open()
    for i in range(40):  # runs in every shard of the first level: the two paths part early
        store.create("p", {"i": i})
    older, _ = store.create("p", {"lr": 0.1}, run_id="older")
    before = git(repo, "count-objects", "-v")
    ref, commit = store.create(
        "p",
        {"lr": 0.2},
        run_id="newer",
        with_update=RunUpdate(older, {"loss": 0.5}, {"exit_status": 0}),
    )
    assert git(repo, "rev-list", "--count", "gitcfg~1..gitcfg").strip() == "1"
    assert store.read(older).summary == {"loss": 0.5}
    assert store.read(older).meta["exit_status"] == 0
    assert store.read(ref).config == {"lr": 0.2}
    message = git(repo, "log", "-1", "--format=%B", "gitcfg")
    subject, _, rest = message.partition("\n")
    assert subject == "update p/older: summary:loss, meta:exit_status; create p/newer (1 key)"
    assert "+ summary:loss: 0.5" in rest
    trailers = git(repo, "log", "-1", "--format=%(trailers:key=Gitcfg-Run,valueonly)", "gitcfg")
    assert trailers.split() == ["p/older", "p/newer"]
    entry = branch_log(store, limit=1)[0]
    assert entry.commit == commit and {str(r) for r, _ in entry.runs} == {"p/older", "p/newer"}
    # every object written is in the commit: no tree made twice on the shared path
    written = int(git(repo, "count-objects", "-v").split()[1]) - int(before.split()[1])
    listed = git(repo, "diff-tree", "-r", "-t", "--no-commit-id", "gitcfg~1", "gitcfg").split("\n")
    new_objects = {line.split()[3] for line in listed if line}
    assert written == len(new_objects) + 2  # and the root tree and the commit
    # an update of a run that is gone stops both: no commit, no new run
    tip = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(RunNotFoundError):
        store.create("p", {"lr": 0.3}, with_update=RunUpdate(RunRef("p", "gone"), None, {"a": 1}))
    assert git(repo, "rev-parse", "gitcfg") == tip
    assert len(store.runs("p")) == 42


def test_hand_edited_config_keeps_comments_and_order(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1, "b": 2}, run_id="r")
    edited = "# tuned by hand\nb: 2  # batch\na: 1\nmodel:\n  lr: 0.1\n"
    write_file_on_branch(repo, ref.config_path, edited)
    assert store.read(ref).config == {"a": 1, "b": 2, "model.lr": 0.1}

    store.update(ref, {"model.lr": 0.2, "a": 5})

    text = git(repo, "show", f"gitcfg:{ref.config_path}")
    assert text == "# tuned by hand\nb: 2  # batch\na: 5\nmodel:\n  lr: 0.2\n"


def write_file_on_branch(repo: Path, path: str, text: str) -> None:
    """Commit a hand edit to the store branch with plain git, the way a user would."""
    work = repo.parent / "edit-worktree"
    git(repo, "worktree", "add", "-q", str(work), "gitcfg")
    (work / path).write_text(text)
    git(work, "commit", "-q", "-am", "hand edit")
    git(repo, "worktree", "remove", "--force", str(work))


def test_provenance_of_a_dirty_tree_survives_rebase_and_gc(repo: Path) -> None:
    (repo / "train.py").write_text("print('uncommitted change')\n")
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1})
    meta = store.read(ref).meta
    assert meta["dirty"] is True
    snapshot = meta["snapshot"]
    assert git(repo, "show", f"{snapshot}:train.py") == "print('uncommitted change')\n"
    assert git(repo, "rev-parse", f"{snapshot}^").strip() == meta["code_commit"]
    # The user's change is still only in the work tree: not staged, not stashed.
    assert git(repo, "status", "--porcelain") == " M train.py\n"

    # Rewrite the code history so the original commit is unreachable from any branch.
    git(repo, "checkout", "-q", "--orphan", "rewritten")
    git(repo, "commit", "-q", "-am", "rewritten history")
    git(repo, "branch", "-D", "main")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")

    assert git(repo, "cat-file", "-t", meta["code_commit"]).strip() == "commit"
    assert git(repo, "show", f"{snapshot}:train.py") == "print('uncommitted change')\n"
    # And the packed store still reads.
    assert store.read(ref).config == {"a": 1}


def test_works_from_a_subdirectory_and_a_linked_worktree(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = repo / "src" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    ref, _ = ConfigStore.open().create("p", {"a": 1}, run_id="fromsub")

    linked = repo.parent / "linked"
    git(repo, "worktree", "add", "-q", "-b", "feature", str(linked))
    monkeypatch.chdir(linked)
    store = ConfigStore.open()
    ref2, _ = store.create("p", {"a": 2}, run_id="fromlinked")

    assert store.read(ref2).meta["branch"] == "feature"
    assert {r.ref for r in store.runs()} == {ref, ref2}
    assert git(repo, "show", f"gitcfg:{ref2.config_path}") == "a: 2\n"


def test_a_separate_bare_store_repository(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bare = tmp_path / "store.git"
    git(tmp_path, "init", "-q", "--bare", str(bare))
    monkeypatch.setenv("GITCFG_REPO", str(bare))
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1})
    assert git(bare, "show", f"gitcfg:{ref.config_path}") == "a: 1\n"
    # Provenance still comes from the code repository we run in.
    assert store.read(ref).meta["code_commit"] == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "branch", "--list", "gitcfg") == ""


def test_branch_name_from_git_config_and_environment(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(repo, "config", "gitcfg.branch", "experiments")
    ConfigStore.open().create("p", {"a": 1})
    assert tip(repo, "experiments")
    monkeypatch.setenv("GITCFG_BRANCH", "other")
    ConfigStore.open().create("p", {"a": 1})
    assert tip(repo, "other")


def test_not_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(RepositoryError, match=r"not inside a git repository.*GITCFG_REPO"):
        ConfigStore.open()


def test_concurrent_edit_of_the_same_key_is_refused(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1, "b": 1})
    base = store.read(ref).config
    store.update(ref, {"a": 2})  # someone else
    # Different key: merged, their change kept.
    store.update(ref, {"b": 5}, base=base)
    assert store.read(ref).config == {"a": 2, "b": 5}
    # Same key, different value: refused, nothing lost.
    before = tip(repo)
    with pytest.raises(ConcurrentUpdateError, match=r"changed elsewhere since it was read \(a\)"):
        store.update(ref, {"a": 3}, base=base)
    assert tip(repo) == before


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: s.create("p", {"a": 1}, run_id="exists"), RunExistsError),
        (lambda s: s.create("p", {"a": 1}, run_id="bad/id"), InvalidNameError),
        (lambda s: s.create("p", {"a": 1}, run_id=".hidden"), InvalidNameError),
        (lambda s: s.create("../up", {"a": 1}), InvalidNameError),
        (lambda s: s.create("p/q", {"a": 1}), InvalidNameError),
        # "$" of re.match would take these: a directory "p\n" would make the branch no store
        (lambda s: s.create("p\n", {"a": 1}), InvalidNameError),
        (lambda s: s.create("p", {"a": 1}, run_id="r1\n"), InvalidNameError),
        (lambda s: s.create("p", {"a": 1, "a.b": 2}), KeyCollisionError),
        (lambda s: s.create("p", {"hf_token": "x"}), SecretKeyError),
        (lambda s: s.create("p", {"obj": object()}), UnsupportedValueError),
        (lambda s: s.update(RunRef("p", "exists"), {"a.x": 1}), KeyCollisionError),
        (lambda s: s.update(RunRef("p", "exists"), {"db_password": "x"}), SecretKeyError),
        (lambda s: s.update(RunRef("p", "exists"), unset=["nokey"]), ConfigKeyError),
        (lambda s: s.update(RunRef("p", "nope"), {"a": 2}), RunNotFoundError),
    ],
)
def test_bad_input_raises_and_changes_nothing(repo: Path, call, error) -> None:  # type: ignore[no-untyped-def]
    store = ConfigStore.open()
    store.create("p", {"a": 1}, run_id="exists")
    before = tip(repo)
    objects_before = git(repo, "count-objects").split()[0]
    with pytest.raises(error):
        call(store)
    assert tip(repo) == before
    assert git(repo, "count-objects").split()[0] == objects_before


def test_secret_keys_can_be_allowed(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"api_key": "k"}, allow_secrets=True)
    assert store.read(ref).config == {"api_key": "k"}
    monkeypatch.setenv("GITCFG_ALLOW_SECRETS", "1")
    store.create("p", {"hf_token": "t"})


def test_unsafe_or_malformed_yaml_on_the_branch_is_a_clear_error(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"a": 1}, run_id="r")
    write_file_on_branch(
        repo, ref.config_path, "a: !!python/object/apply:os.system ['touch pwned']\n"
    )
    before = tip(repo)
    with pytest.raises(CorruptStoreError, match="python"):
        store.read(ref)
    with pytest.raises(CorruptStoreError):
        store.update(ref, {"a": 2})
    with pytest.raises(CorruptStoreError):
        ConfigStore.open().runs()
    assert not (repo / "pwned").exists()
    assert tip(repo) == before


def test_no_child_processes_or_open_files_left_after_operations(repo: Path) -> None:
    store = ConfigStore.open()
    fds_before = set(os.listdir("/proc/self/fd"))
    ref, _ = store.create("p", {"a": 1})
    store.update(ref, {"a": 2})
    store.runs()
    store.history(ref)
    store.resolve(ref.id[:3])
    children = Path(f"/proc/self/task/{os.getpid()}/children").read_text().split()
    assert children == []
    assert set(os.listdir("/proc/self/fd")) == fds_before


def test_a_second_clone_of_the_repo_reads_the_runs(repo: Path, tmp_path: Path) -> None:
    ref, _ = ConfigStore.open().create("p", {"a": [1, 2]}, run_id="r")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--no-local", str(repo), str(clone))
    git(clone, "fetch", "-q", "origin", "gitcfg:gitcfg")
    store = ConfigStore.open(clone)
    assert store.read(ref).config == {"a": [1, 2]}  # objects come from a pack here


def test_loose_objects_are_packed_by_gits_own_auto_gc(repo: Path) -> None:
    git(repo, "config", "gc.auto", "256")  # git packs once ~one object lands in objects/17/
    git(repo, "config", "gc.autoDetach", "false")  # so the test sees the result at once
    store = ConfigStore.open()
    # 300 runs write ~3,000 objects, ~12 per fan-out directory: git's sample directory objects/17
    # holds two or more (its trigger) with near certainty.
    for i in range(300):
        store.create("p", {"i": i}, run_id=f"r{i}")
    counts = dict(line.split(": ") for line in git(repo, "count-objects", "-v").splitlines())
    assert int(counts["packs"]) >= 1
    assert int(counts["count"]) < 300 * 10
    assert len(store.runs()) == 300


def users_own_branch(repo: Path, name: str, files: dict[str, str]) -> str:
    """A branch ``name`` of the user's own work (main's files and ``files``); its tip."""
    git(repo, "switch", "-q", "-c", name)
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", "my work")
    git(repo, "switch", "-q", "main")
    return tip(repo, name)


NOT_A_STORE = "the branch 'gitcfg' is not a gitcfg store: it holds the file"


def test_a_branch_of_the_users_own_work_is_never_written_or_listed(repo: Path) -> None:
    mine = users_own_branch(repo, "gitcfg", {"a": "1\n", "code.py": "print(1)\n"})
    before = git(repo, "for-each-ref")
    store = ConfigStore.open()
    with pytest.raises(NotAStoreError) as caught:
        store.create("p", {"lr": 0.1})
    assert str(caught.value) == (
        "the branch 'gitcfg' is not a gitcfg store: it holds the file 'a', which gitcfg never "
        "writes there; keep the runs on another branch by setting GITCFG_BRANCH (or git config "
        "gitcfg.branch) to a new name, e.g. GITCFG_BRANCH=gitcfg-runs"
    )
    assert git(repo, "for-each-ref") == before  # no commit, no keep ref
    assert tip(repo) == mine
    for read in (store.runs, lambda: store.resolve("abc"), lambda: branch_log(store)):
        with pytest.raises(NotAStoreError, match=NOT_A_STORE):
            read()


def test_a_readme_added_to_the_store_branch_stays_and_locks_no_one_out(repo: Path) -> None:
    # a file at the root beside gitcfg's shards is a store someone documented, not their code
    store = ConfigStore.open()
    first, _ = store.create("p", {"lr": 0.1}, run_id="r1")
    work = repo.parent / "edit-readme"
    git(repo, "worktree", "add", "-q", str(work), "gitcfg")
    (work / "README.md").write_text("our runs\n")
    git(work, "add", "README.md")
    git(work, "commit", "-q", "-m", "readme")
    git(repo, "worktree", "remove", str(work))
    store = ConfigStore.open()
    store.create("p", {"lr": 0.2}, run_id="r2")
    store.update(first, {"lr": 0.3})
    assert sorted(r.ref.id for r in store.runs()) == ["r1", "r2"]
    assert git(repo, "show", "gitcfg:README.md") == "our runs\n"
    out = subprocess.run(
        [sys.executable, "-m", "gitcfg", "runs", "--format", "json"],
        cwd=repo, capture_output=True, text=True,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert sorted(row["id"] for row in json.loads(out.stdout)) == ["r1", "r2"]


def test_a_revision_of_another_branch_is_named_not_the_store(repo: Path) -> None:
    # the store branch is fine: the user gave a commit of their own branch to --at
    store = ConfigStore.open()
    ref, _ = store.create("p", {"lr": 0.1})
    with pytest.raises(InputError, match="'main' is not a commit of the gitcfg branch"):
        store.read(ref, at="main")
    assert store.read(ref, at="gitcfg").config == {"lr": 0.1}


@pytest.mark.parametrize(
    ("files", "found"),
    [
        ({".gitignore": "*.pyc\n"}, "the file '.gitignore'"),
        ({"src/train.py": "x\n"}, "the file 'train.py'"),  # main's own file, beside src/
        ({"p/a/b/c/d/r1/config.yaml": "a: 1\n", "README.md": "runs\n"}, "the file 'README.md'"),
    ],
)
def test_any_file_at_the_root_means_not_a_store(
    repo: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str], found: str
) -> None:
    users_own_branch(repo, "mine", files)
    monkeypatch.setenv("GITCFG_BRANCH", "mine")
    store = ConfigStore.open()
    with pytest.raises(NotAStoreError, match=f"it holds {found}"):
        store.update_meta(RunRef("p", "r1"), {"notes": "x"})


def test_a_directory_no_project_could_be_named_means_not_a_store(repo: Path) -> None:
    users_own_branch(repo, "gitcfg", {".github/ci.yml": "on: push\n", "src/p/a.py": "1\n"})
    with pytest.raises(NotAStoreError, match=r"it holds the directory '\.github'"):
        ConfigStore.open().create("p", {"lr": 0.1})


def test_a_directory_added_beside_the_runs_stays(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"lr": 0.1})
    work = repo.parent / "edit-worktree"
    git(repo, "worktree", "add", "-q", str(work), "gitcfg")
    (work / ".github").mkdir()
    (work / ".github" / "ci.yml").write_text("on: push\n")
    git(work, "add", ".github")
    git(work, "commit", "-q", "-m", "CI by hand")
    git(repo, "worktree", "remove", "--force", str(work))
    ConfigStore.open().update(ref, {"lr": 0.2})
    assert ConfigStore.open().read(ref).config == {"lr": 0.2}
    assert git(repo, "show", "gitcfg:.github/ci.yml") == "on: push\n"


def test_a_store_stays_a_store_through_its_own_writes(repo: Path) -> None:
    # Projects only at the root, whatever their names: the check never refuses gitcfg's own.
    store = ConfigStore.open()
    for project in ("p", "a.b", "x_y-z", "0"):
        ref, _ = store.create(project, {"lr": 0.1})
        store.update(ref, {"lr": 0.2})
    assert len(ConfigStore.open().runs()) == 4


@pytest.mark.parametrize("name", ["HEAD", "@", "-x", "a..b", "a b", "x.lock", "a/", "a:b", "a@{1}"])
def test_a_branch_name_git_refuses_is_refused(
    repo: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    before = git(repo, "for-each-ref")
    monkeypatch.setenv("GITCFG_BRANCH", name)
    with pytest.raises(
        InvalidBranchNameError, match=f"invalid store branch name {re.escape(repr(name))}"
    ):
        ConfigStore.open().create("p", {"lr": 0.1})
    assert git(repo, "for-each-ref") == before


_flat_keys = st.text(st.sampled_from("ab.cZ_é-0 "), min_size=1, max_size=6).filter(is_valid_key)
_flat_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e16, "0.1", "true", "", "x: y", "'q'"]),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
)
_flat = st.dictionaries(_flat_keys, _flat_values, max_size=6).filter(
    lambda d: find_collision(d) is None
)


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(config=_flat, data=st.data())
def test_a_file_this_process_wrote_updates_to_the_same_bytes_as_any_other(
    repo: Path, config: dict[str, Any], data: st.DataObject
) -> None:
    # the store rewrites a file it wrote itself without update_config_text: the bytes are
    # those a process that only read the file writes for the same update (0.0 set over -0.0
    # is no change, in either)
    known = st.sampled_from(sorted(config)) if config else _flat_keys
    changes = data.draw(st.dictionaries(st.one_of(known, _flat_keys), _flat_values, max_size=4))
    unset = data.draw(st.lists(known, unique=True, max_size=3) if config else st.just([]))
    merged = {k: v for k, v in config.items() if k not in unset} | changes
    assume(find_collision(merged) is None and not set(unset) & set(changes))
    writer = ConfigStore.open()
    mine, _ = writer.create("p", config)
    theirs, _ = writer.create("p", config)
    told = writer.update(mine, changes, unset=unset)  # it knows the file it wrote
    read = ConfigStore.open().update(theirs, changes, unset=unset)  # it reads the file
    assert git(repo, "show", f"gitcfg:{mine.config_path}") == git(
        repo, "show", f"gitcfg:{theirs.config_path}"
    )
    assert repr(told.changes) == repr(read.changes)


def test_a_value_set_again_as_an_equal_float_keeps_its_bytes(repo: Path) -> None:
    # -0.0 set over 0.0 (equal: no change) beside a real change: the file keeps 0.0, whether
    # or not this process wrote it
    writer = ConfigStore.open()
    mine, _ = writer.create("p", {"a": 0.0, "b": 1})
    theirs, _ = writer.create("p", {"a": 0.0, "b": 1})
    writer.update(mine, {"a": -0.0, "b": 2})
    ConfigStore.open().update(theirs, {"a": -0.0, "b": 2})
    for ref in (mine, theirs):
        assert git(repo, "show", f"gitcfg:{ref.config_path}") == "a: 0.0\nb: 2\n"
