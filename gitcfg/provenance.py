"""What a run ran with: code commit, uncommitted changes, command line, host and versions."""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import os
import platform
import shlex
import shutil
import socket
import sys
import tempfile
from dataclasses import asdict, dataclass
from typing import Any

from gitcfg.git import GitRepo, default_identity
from gitcfg.worktree import known_clean

VERSION = "0.1.0"
KEEP_PREFIX = "refs/gitcfg/keep/"


@dataclass(frozen=True)
class Provenance:
    """The facts recorded in a run's ``meta.yaml``."""

    code_commit: str | None
    branch: str | None
    dirty: bool
    snapshot: str | None
    command: str
    host: str
    user: str
    python: str
    gitcfg: str
    started: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def code_version(self) -> str | None:
        """The commit that holds the exact code: the snapshot when dirty, else the code commit."""
        return self.snapshot or self.code_commit


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return str(os.getuid())


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="milliseconds")


def capture(code_repo: GitRepo | None, argv: list[str] | None = None) -> Provenance:
    """Record the code version in ``code_repo`` (None: no code repository) and the process facts.

    A dirty work tree is snapshotted as a commit on top of HEAD, built in a throwaway index, so
    the user's index, stash and branches stay as they are. Code commit and snapshot are pinned by
    refs under ``refs/gitcfg/keep/`` so that rebasing, deleting branches and ``git gc`` keep them.
    """
    code_commit = branch = snapshot = None
    dirty = False
    if code_repo is not None:
        code_commit = code_repo.read_ref("HEAD")
        head = code_repo.symbolic_head()
        branch = head.removeprefix("refs/heads/") if head else None
        if code_repo.worktree is not None and not (
            code_commit is not None and known_clean(code_repo, code_commit)
        ):
            status = code_repo.git("status", "--porcelain", "-z", "-uno", check=False)
            dirty = status.returncode == 0 and bool(status.stdout.strip(b"\0"))
            if dirty and code_commit is not None:
                snapshot = _snapshot(code_repo, code_commit)
        for sha in (code_commit, snapshot):
            if sha is not None:
                code_repo.keep_ref(KEEP_PREFIX + sha, sha)
    return Provenance(
        code_commit=code_commit,
        branch=branch,
        dirty=dirty,
        snapshot=snapshot,
        # argv holds lone surrogates for non-UTF-8 bytes; keep the rest readable
        command=shlex.join(sys.argv if argv is None else argv)
        .encode("utf-8", "surrogateescape")
        .decode("utf-8", "replace"),
        host=socket.gethostname(),
        user=_user(),
        python=platform.python_version(),
        gitcfg=VERSION,
        started=now_iso(),
    )


def _snapshot(repo: GitRepo, head: str) -> str:
    fd, index = tempfile.mkstemp(prefix="gitcfg-index-", dir=repo.git_dir)
    os.close(fd)
    try:
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(repo.git_dir / "index", index)
        env = {"GIT_INDEX_FILE": index}
        if os.path.getsize(index) == 0:
            repo.git("read-tree", head, env=env)
        repo.git("add", "-u", env=env)
        tree = repo.git("write-tree", env=env).stdout.decode().strip()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(index)
    who = default_identity(repo)
    return repo.write_commit(tree, [head], "gitcfg: snapshot of uncommitted changes\n", who)
