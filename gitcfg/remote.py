"""Sharing the store through any git remote: fetch, merge, push, retry.

There is no gitcfg server: the user's git remote carries the store branch and the
``refs/gitcfg/keep/*`` refs that keep each run's code version reachable. Pull merges the remote
branch into the local one (runs by file, configs by key, see ``treemerge``) without touching the
work tree; push pulls first and retries while other machines keep pushing.
"""

from __future__ import annotations

import hashlib
import random
import re
import sys
import time
from dataclasses import dataclass

from gitcfg.checkedout import check_not_checked_out
from gitcfg.diff import Side
from gitcfg.errors import GitcfgError, MergeConflictError, RemoteError, RepositoryError
from gitcfg.git import GitRepo, Signers, default_identity
from gitcfg.git.packwrite import PackWriter
from gitcfg.layout import check_store_root
from gitcfg.provenance import KEEP_PREFIX
from gitcfg.treemerge import merge_commits

TRACKING_PREFIX = "refs/gitcfg/remotes/"
_PUSH_ATTEMPTS = 25
_RETRYABLE = re.compile(
    r"fetch first|non-fast-forward|stale info|cannot lock|failed to lock|incorrect old value"
)
# A fetch only reads the remote: a ref it cannot lock is a local one (the tracking ref, a keep
# ref, packed-refs) that another process sharing this clone is updating right now.
_LOCAL_RACE = re.compile(
    r"cannot lock ref|unable to update local ref|Unable to create '[^']*\.lock'"
)


# A fetch leaves FETCH_HEAD alone: it is the user's, from their own last fetch (what 'git merge
# FETCH_HEAD' takes), and gitcfg's would name the store branch for merge. Emptied when git is
# older than 2.29, which does not know the option (and writes the file).
_NO_FETCH_HEAD = ["--no-write-fetch-head"]


@dataclass(frozen=True)
class SyncResult:
    """What a pull or push did to the local store branch (and the remote)."""

    remote: str
    branch: str
    before: str | None
    after: str | None
    added: int = 0
    updated: int = 0
    merged: bool = False
    pushed: bool = False
    attempts: int = 0  # push attempts it took (each a fetch, merge and push)

    @property
    def changed(self) -> bool:
        return self.before != self.after


def tracking_ref(remote: str, branch: str) -> str:
    """Where the remote's store branch is kept locally (also the 'theirs' side of a conflict)."""
    if re.match(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", remote) and ".." not in remote:
        return f"{TRACKING_PREFIX}{remote}/{branch}"
    return f"{TRACKING_PREFIX}url-{hashlib.sha1(remote.encode()).hexdigest()[:12]}/{branch}"


def remotes_with_branch(repo: GitRepo, branch: str) -> list[str]:
    """The remotes whose ``branch`` this clone has a copy of (``refs/remotes/REMOTE/BRANCH``,
    as a fresh clone has them), named as ``gitcfg pull REMOTE`` takes them; origin first."""
    names = repo.git("remote", check=False).stdout.decode(errors="replace").split()
    names.sort(key=lambda name: name != "origin")
    return [name for name in names if repo.read_ref(f"refs/remotes/{name}/{branch}") is not None]


def fetch(repo: GitRepo, branch: str, remote: str) -> str | None:
    """Fetch the remote store branch and keep refs; return the remote tip (None: no branch).

    A lost race with another process of this clone over a local ref is retried, backing off
    as push does; only the remote's own failures become a RemoteError.
    """
    tracking = tracking_ref(remote, branch)
    rng = random.Random()
    reason = ""
    for attempt in range(_PUSH_ATTEMPTS):
        proc = repo.git(
            "fetch", "--quiet", "--no-tags", *_NO_FETCH_HEAD, "--end-of-options", remote,
            f"+refs/heads/{branch}:{tracking}", f"+{KEEP_PREFIX}*:{KEEP_PREFIX}*",
            check=False,
        )  # fmt: skip
        if proc.returncode == 0:
            return repo.read_ref(tracking)
        message = proc.stderr.decode(errors="replace")
        if _NO_FETCH_HEAD and "no-write-fetch-head" in message:  # git before 2.29
            _NO_FETCH_HEAD.clear()
            continue
        if "couldn't find remote ref" in message:
            _check_reachable(repo, remote)
            return None
        reason = _last_line(message)
        if not _LOCAL_RACE.search(message):
            raise RemoteError(f"cannot fetch from {remote!r}: {reason}; {_hint(remote)}")
        _backoff(rng, attempt)
    raise RepositoryError(
        f"fetching from {remote!r} kept losing the race for a local ref to other processes "
        f"({reason}); if no other git or gitcfg runs here, remove that .lock file, then retry"
    )


def _check_reachable(repo: GitRepo, remote: str) -> None:
    proc = repo.git("ls-remote", "--heads", "--end-of-options", remote, check=False)
    if proc.returncode != 0:
        detail = _last_line(proc.stderr.decode(errors="replace"))
        raise RemoteError(f"cannot reach {remote!r}: {detail}; {_hint(remote)}")


def pull(
    repo: GitRepo,
    branch: str,
    remote: str = "origin",
    *,
    prefer: Side | None = None,
    identity: Signers | None = None,
) -> SyncResult:
    """Bring the remote's runs into the local store branch; the work tree is never touched.

    Raises MergeConflictError (local branch unchanged) when a key of a run was changed to
    different values on both sides; ``prefer`` resolves such keys for one side.
    """
    ref = f"refs/heads/{branch}"
    before = repo.read_ref(ref)
    theirs = fetch(repo, branch, remote)
    if theirs is None:
        return SyncResult(remote, branch, before, before)
    who = identity or default_identity(repo)
    _check_store(repo, theirs, f"{remote}/{branch}")
    checked = None
    while True:
        ours = repo.read_ref(ref)
        if ours is not None and ours != checked:  # never merged into someone's own branch
            _check_store(repo, ours, branch)
            checked = ours
        if ours is None:
            # an unborn branch can be checked out too
            check_not_checked_out(repo.common_dir, ref, repo.ref_target(ref))
            if repo.update_ref(ref, theirs, None, f"gitcfg: pull {remote}"):
                return SyncResult(remote, branch, before, theirs)
            continue
        # One merge base answers all three questions: a tip that is an ancestor of the
        # other is their only best common ancestor.
        base = None if ours == theirs else _merge_base(repo, ours, theirs)
        if ours == theirs or base == theirs:
            return SyncResult(remote, branch, before, ours)
        # The local branch must move: not under a work tree that has it checked out.
        check_not_checked_out(repo.common_dir, ref, repo.ref_target(ref))
        if base == ours:
            if repo.update_ref(ref, theirs, ours, f"gitcfg: pull {remote} (fast-forward)"):
                return SyncResult(remote, branch, before, theirs)
            continue
        # the merge's pack is kept from repack and gc until the branch points at it
        with PackWriter(repo) as writer:
            outcome = merge_commits(repo, base, ours, theirs, prefer, writer=writer)
            if outcome.conflicts:
                raise MergeConflictError(outcome.conflicts, tracking_ref(remote, branch), remote)
            message = (
                f"merge {remote}: {outcome.added} run(s) added, {outcome.updated} updated\n\n"
                f"Gitcfg-Merge: {remote}\n"
            )
            commit = repo.write_commit(outcome.tree, [ours, theirs], message, *who)
            if repo.update_ref(ref, commit, ours, f"gitcfg: merge {remote}"):
                return SyncResult(
                    remote, branch, before, commit, outcome.added, outcome.updated, merged=True
                )


def push(
    repo: GitRepo,
    branch: str,
    remote: str = "origin",
    *,
    prefer: Side | None = None,
    identity: Signers | None = None,
) -> SyncResult:
    """Publish the store branch and keep refs; merge the remote's new runs first and retry."""
    ref = f"refs/heads/{branch}"
    before = repo.read_ref(ref)
    rng = random.Random()
    last = ""
    for attempt in range(_PUSH_ATTEMPTS):
        pulled = pull(repo, branch, remote, prefer=prefer, identity=identity)
        tip = repo.read_ref(ref)
        if tip is None:
            raise RemoteError(f"there are no runs to push on the {branch} branch yet")
        # One pattern for every keep ref: one per dirty run, tens of thousands of them would
        # not fit on a command line. They never change once made, so the push only adds.
        keep = f"{KEEP_PREFIX}*:{KEEP_PREFIX}*"
        proc = repo.git(
            "push", "--porcelain", "--end-of-options", remote, f"{ref}:{ref}", keep, check=False
        )
        output = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
        if proc.returncode == 0:
            tracking = tracking_ref(remote, branch)
            repo.update_ref(tracking, tip, repo.read_ref(tracking), "gitcfg: push")
            return SyncResult(
                remote, branch, before, tip, pulled.added, pulled.updated, pulled.merged, True,
                attempts=attempt + 1,
            )  # fmt: skip
        last = _rejection(output)
        if not _RETRYABLE.search(output):
            raise RemoteError(f"cannot push to {remote!r}: {last}; {_hint(remote)}")
        # Another machine pushed first: back off a little, then fetch, merge and try again.
        _backoff(rng, attempt)
    raise RemoteError(
        f"{remote!r} kept moving during {_PUSH_ATTEMPTS} push attempts ({last}); "
        f"run 'gitcfg push {remote}' again"
    )


def push_soft(repo: GitRepo, branch: str, remote: str, identity: Signers | None = None) -> bool:
    """Automatic push after a run commit: never fails the run, warns how to retry instead.

    Anything that goes wrong (a gitcfg error, an OSError from the system, a bug) is one warning
    line: the run is already committed, and the training script must go on.
    """
    try:
        push(repo, branch, remote, identity=identity)
    except Exception as exc:
        detail = str(exc) if isinstance(exc, GitcfgError) else f"{type(exc).__name__}: {exc}"
        print(
            f"gitcfg: warning: the run is committed locally, but pushing to {remote!r} failed: "
            f"{' '.join(detail.split())}; retry with 'gitcfg push {remote}'",
            file=sys.stderr,
        )
        return False
    return True


def _backoff(rng: random.Random, attempt: int) -> None:
    # random and growing: writers that collided once spread out instead of colliding again
    time.sleep(rng.uniform(0.01, 0.05) * (attempt + 1))


def _check_store(repo: GitRepo, commit: str, branch: str) -> None:
    check_store_root(branch, repo.read_tree(repo.read_commit(commit).tree), repo.read_tree)


def _merge_base(repo: GitRepo, a: str, b: str) -> str | None:
    proc = repo.git("merge-base", a, b, check=False)
    return proc.stdout.decode().strip() or None


def _rejection(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("!"):
            return line.split("\t")[-1].strip()
    return _last_line(output)


# What git adds after the line that says what is wrong, whatever went wrong.
_GIT_ADVICE = frozenset(
    (
        "fatal: Could not read from remote repository.",
        "Please make sure you have the correct access rights",
        "and the repository exists.",
    )
)


def _last_line(text: str) -> str:
    """The line of git's stderr that says what went wrong: the first ``fatal:``/``error:`` one
    that is not git's generic advice (``'x' does not appear to be a git repository``), else the
    last other line (``ssh: Could not resolve hostname ...``); its ``fatal: `` dropped."""
    lines = [
        line
        for line in (raw.strip() for raw in text.splitlines())
        if line and line not in _GIT_ADVICE and not line.startswith("hint:")
    ]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))]
    if errors:
        return errors[0].removeprefix("fatal: ").removeprefix("error: ")
    return lines[-1] if lines else "git failed"


def _hint(remote: str) -> str:
    return f"check 'git remote -v' and that {remote!r} is reachable and writable"
