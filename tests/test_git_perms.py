"""In a shared repository (``git init --shared``) gitcfg's files get the modes git gives its own."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitcfg.git.perms import EVERYBODY, GROUP, UMASK, parse_shared
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git

RECORD = "import gitcfg; gitcfg.init(config={'lr': 0.1}, project='p', id='r1').finish()"


def _mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


@pytest.mark.parametrize("shared", ["group", "all", "0640"])
def test_everything_gitcfg_creates_gets_the_mode_git_gives_its_own(
    tmp_path: Path, shared: str
) -> None:
    repo = tmp_path / "shared"
    git(tmp_path, "init", "-q", f"--shared={shared}", "-b", "main", str(repo))
    (repo / "train.py").write_text("print('training')\n")
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "code")
    (repo / "train.py").write_text("print('changed')\n")  # dirty: a snapshot, keep refs, memo
    proc = subprocess.run([sys.executable, "-c", RECORD], cwd=repo, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    dot_git = repo / ".git"
    # what git itself creates, of each kind, in the same repository
    (tmp_path / "content").write_text("written by git\n")
    blob = git(repo, "hash-object", "-w", str(tmp_path / "content")).strip()
    git(repo, "update-ref", "-m", "by git", "refs/made-by/git/x", "HEAD")
    git(repo, "update-ref", "--create-reflog", "-m", "by git", "refs/heads/by-git", "HEAD")
    object_mode = _mode(dot_git / "objects" / blob[:2] / blob[2:])
    dir_mode = _mode(dot_git / "refs" / "made-by")
    ref_mode = _mode(dot_git / "refs" / "made-by" / "git" / "x")
    log_mode = _mode(dot_git / "logs" / "refs" / "heads" / "by-git")

    # every loose object and fan-out directory, gitcfg's and git's alike
    for fanout in (dot_git / "objects").iterdir():
        if fanout.name not in ("info", "pack"):
            assert _mode(fanout) == dir_mode, fanout
            for obj in fanout.iterdir():
                assert _mode(obj) == object_mode, obj
    keep = list((dot_git / "refs" / "gitcfg" / "keep").iterdir())
    assert len(keep) == 2  # the code commit and the snapshot
    for ref in [dot_git / "refs" / "heads" / "gitcfg", *keep]:
        assert _mode(ref) == ref_mode, ref
    for directory in [dot_git / "refs" / "gitcfg", dot_git / "refs" / "gitcfg" / "keep"]:
        assert _mode(directory) == dir_mode, directory
    assert _mode(dot_git / "logs" / "refs" / "heads" / "gitcfg") == log_mode
    # gitcfg's own files: as writable by the group as a ref
    assert _mode(dot_git / "gitcfg") == dir_mode
    assert _mode(dot_git / "gitcfg" / "locks") == dir_mode
    assert _mode(dot_git / "gitcfg" / "write.lock") == ref_mode
    assert _mode(dot_git / "gitcfg-snapshot") == ref_mode
    if shared != "0640":
        assert int(dir_mode, 8) & 0o2070 == 0o2070 and int(ref_mode, 8) & 0o060 == 0o060


# Every kind of file gitcfg keeps under .git/gitcfg: a run's history, its resume file and run
# directory, the blob cache (a listing), and a change kept when git holds the branch's lock.
PER_RUN = """
import os, subprocess, sys, gitcfg
run = gitcfg.init(config={'lr': 0.1}, project='p', id='r1', resume='auto')
run.log({'loss': 1.0})
os.listdir(run.dir)
run.finish(exit_code=1)  # not clean: its id is kept for resume='auto'
subprocess.run([sys.executable, '-m', 'gitcfg', 'runs'], check=True, capture_output=True)
run = gitcfg.init(config={'lr': 0.2}, project='q', id='r2')
run.summary['acc'] = 1.0
lock = os.path.join('.git', 'refs', 'heads', 'gitcfg.lock')
open(lock, 'x').close()  # git holds the branch as the run ends: its change is kept
gitcfg.pending.END_WAIT_SECONDS = 0.1
run.finish()
os.unlink(lock)
"""


@contextlib.contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _git_modes(repo: Path) -> tuple[str, str]:
    """The modes git gives a new directory and a new file (a ref) in ``repo``."""
    git(repo, "update-ref", "-m", "by git", "refs/made-by/git/x", "HEAD")
    dot_git = repo / ".git"
    return _mode(dot_git / "refs" / "made-by"), _mode(dot_git / "refs" / "made-by" / "git" / "x")


@pytest.mark.parametrize(
    ("shared", "umask"),
    [("group", 0o022), ("all", 0o022), ("0640", 0o022), ("0660", 0o077), ("umask", 0o002)],
)
def test_gitcfg_keeps_its_own_files_as_git_keeps_its_own(
    tmp_path: Path, shared: str, umask: int
) -> None:
    repo = tmp_path / "shared"
    with _umask(umask):  # 002 alone: a group shares a repository by its umask (setgid dir)
        git(tmp_path, "init", "-q", f"--shared={shared}", "-b", "main", str(repo))
        (repo / "train.py").write_text("print('training')\n")
        git(repo, "add", "train.py")
        git(repo, "commit", "-q", "-m", "code")
        # a clean tree not changed within git's racy second: gitcfg remembers it has no new files
        past = time.time() - 10
        for path in (repo, repo / ".git" / "info" / "exclude"):
            os.utime(path, (past, past))
        code = "import gitcfg.pending\n" + PER_RUN
        proc = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        dir_mode, file_mode = _git_modes(repo)
    own = repo / ".git" / "gitcfg"
    made = {str(path.relative_to(own)): path for path in own.rglob("*")}
    assert {
        "history/p/r1.history",
        "resume/p.json",
        "files/p/r1",
        "blobcache-v4.sqlite3",
        "locks",
        "write.lock",
    } <= set(made)
    assert [name for name in made if name.startswith("pending/")], "no change was kept"
    for name, path in {".": own, **made}.items():
        assert _mode(path) == (dir_mode if path.is_dir() else file_mode), name
    assert _mode(repo / ".git" / "gitcfg-no-untracked") == file_mode


def test_the_blob_cache_journals_get_the_mode_of_the_cache(tmp_path: Path) -> None:
    repo = tmp_path / "shared"
    with _umask(0o022):
        git(tmp_path, "init", "-q", "--shared=group", "-b", "main", str(repo))
        store = ConfigStore.open(repo)
        try:
            store.cache.add_subtrees({"key": "rows"})
            cache = store.cache.path
            # while a connection is open, SQLite keeps its write-ahead log and shared memory
            journals = [Path(f"{cache}-wal"), Path(f"{cache}-shm")]
            assert all(path.exists() for path in journals)
            assert {_mode(path) for path in [cache, *journals]} == {"0o664"}
        finally:
            store.cache.close()
    assert dict(ConfigStore.open(repo).cache.subtree_texts(["key"])) == {"key": "rows"}


# Two members of one group, neither root, with no account needed (numeric ids).
_FIRST, _SECOND, _GROUP = 64101, 64102, 64100


def _as_member(uid: int, repo: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in ``repo`` as the user ``uid`` of the shared group, umask 022, with the
    git config of the directory above (where ``.gitconfig`` trusts the repository)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        env={**os.environ, "GIT_CONFIG_GLOBAL": str(repo.parent / ".gitconfig")},
        user=uid,
        group=uid,
        extra_groups=[_GROUP],
        umask=0o022,
        capture_output=True,
        text=True,
        check=False,
    )


def _members_can_run_python(where: Path) -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False  # only root can act as two other users
    try:
        return _as_member(_SECOND, where, "import gitcfg").returncode == 0
    except PermissionError:  # the interpreter lies in a directory of root's alone
        return False


@pytest.fixture
def team_repo(tmp_path: Path) -> Iterator[Path]:
    """A repository the first member made with ``git init --shared=group`` in the group's
    directory, then recorded in (``PER_RUN``: a change of run q/r2 is kept)."""
    # Outside pytest's private (0700) temporary tree: the members must reach the repository.
    base = Path(tempfile.mkdtemp(prefix="gitcfg-shared-"))
    try:
        os.chmod(base, 0o755)
        if not _members_can_run_python(base):
            pytest.skip("needs root, and an interpreter that other users may run")
        # the group's directory, as an administrator sets one up; git trusts repositories of
        # other owners there (safe.directory)
        team = base / "team"
        team.mkdir()
        os.chown(team, 0, _GROUP)
        os.chmod(team, 0o2775)
        for where in (base, team):
            (where / ".gitconfig").write_text("[safe]\n\tdirectory = *\n")
        git(tmp_path, "config", "--global", "safe.directory", "*")  # for this test's own git
        made = _as_member(
            _FIRST,
            team,
            "import subprocess\n"
            "for args in (['init', '-q', '--shared=group', '-b', 'main', 'repo'],\n"
            "             ['-C', 'repo', 'commit', '-q', '--allow-empty', '-m', 'code']):\n"
            "    subprocess.run(['git', '-c', 'user.name=a', '-c', 'user.email=a@x', *args],"
            " check=True)\n",
        )
        assert made.returncode == 0, made.stderr
        repo = team / "repo"
        code = "import os, gitcfg.pending\n" + PER_RUN.replace("os.listdir(run.dir)", "")
        made = _as_member(_FIRST, repo, code)
        assert made.returncode == 0, made.stderr
        assert len(os.listdir(repo / ".git" / "gitcfg" / "pending")) == 1
        yield repo
        assert_fsck_clean(repo)
    finally:
        shutil.rmtree(base)


def test_another_member_of_the_group_works_in_what_the_first_one_made(team_repo: Path) -> None:
    repo = team_repo
    cache = repo / ".git" / "gitcfg" / "blobcache-v4.sqlite3"
    made = cache.stat()
    # the second member commits the first one's kept change and lists (cache writes), logs to
    # the first one's run and writes in its directory, keeps it for resume='auto'
    second = _as_member(_SECOND, repo, "import gitcfg.cli; gitcfg.cli.main(['runs'])")
    assert second.returncode == 0, second.stderr
    assert "committed the last changes of run q/r2" in second.stderr
    assert os.listdir(repo / ".git" / "gitcfg" / "pending") == []
    second = _as_member(
        _SECOND,
        repo,
        "import os, gitcfg\n"
        "run = gitcfg.init(project='p', id='r1', resume='auto', mode='shared')\n"
        "run.log({'loss': 0.5})\n"
        "open(os.path.join(run.dir, 'second.txt'), 'w').write('second')\n"
        "run.finish(exit_code=1)\n",
    )
    assert second.returncode == 0, second.stderr
    assert second.stderr == ""
    after = cache.stat()
    assert (after.st_ino, after.st_uid) == (made.st_ino, _FIRST)  # one cache, never dropped
    # the first member again: resumes the run the second one kept, and finishes it
    first = _as_member(
        _FIRST,
        repo,
        "import gitcfg\n"
        "run = gitcfg.init(project='p', resume='auto')\n"
        "run.finish()\n"
        "print(run.id, [row['loss'] for row in gitcfg.Api().run('p/r1').scan_history()])\n",
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout == "r1 [1.0, 0.5]\n"
    assert not (repo / ".git" / "gitcfg" / "resume" / "p.json").exists()


def test_a_kept_change_is_left_to_a_user_who_can_remove_it(team_repo: Path) -> None:
    kept = team_repo / ".git" / "gitcfg" / "pending"
    os.chmod(kept, 0o2755)  # as older gitcfg made it: the group may not remove files
    show = "import gitcfg.cli; gitcfg.cli.main(['show', 'q/r2', '--summary', '--format', 'json'])"
    second = _as_member(_SECOND, team_repo, show)
    assert second.returncode == 0, second.stderr
    assert f"this user may not remove files from {kept}" in second.stderr
    assert '"acc"' not in second.stdout  # not committed: it would be again, over later changes
    assert len(os.listdir(kept)) == 1
    first = _as_member(_FIRST, team_repo, show)
    assert "committed the last changes of run q/r2" in first.stderr
    assert '"acc": 1.0' in first.stdout
    assert os.listdir(kept) == []


def test_a_repository_that_is_not_shared_keeps_the_umask(repo: Path) -> None:
    old = os.umask(0o077)
    try:
        proc = subprocess.run([sys.executable, "-c", RECORD], cwd=repo, capture_output=True)
    finally:
        os.umask(old)
    assert proc.returncode == 0, proc.stderr
    assert _mode(repo / ".git" / "refs" / "heads" / "gitcfg") == "0o600"
    assert _mode(repo / ".git" / "gitcfg") == "0o700"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("group", GROUP),
        ("true", GROUP),
        ("1", GROUP),
        ("all", EVERYBODY),
        ("world", EVERYBODY),
        ("everybody", EVERYBODY),
        ("2", EVERYBODY),
        ("umask", UMASK),
        ("false", UMASK),
        ("0", UMASK),
        ("0640", -0o640),
        ("0660", -0o660),
        ("0666", -0o666),
        (None, GROUP),  # the name alone
    ],
)
def test_the_setting_is_read_as_git_reads_it(value: str | None, expected: int) -> None:
    assert parse_shared(value) == expected
