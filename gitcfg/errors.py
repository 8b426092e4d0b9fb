"""The one error tree of gitcfg.

Every error carries the data it is about and writes a one-line message that names the next step.
The CLI turns them into exit codes in one place (``gitcfg.cli.commands.failure``): ``UsageError``
and ``InputError`` exit 2, every other ``GitcfgError`` exits 1.

    GitcfgError
    ├── UsageError                     the API used in the wrong order (config before init)
    ├── InputError (ValueError)        a malformed argument: KEY=VALUE, --where, selector
    │   ├── InvalidNameError           a run id or project name gitcfg does not accept
    │   ├── InvalidBranchNameError     a store branch name git does not accept
    │   └── SweepSpecError             a sweep definition or 'gitcfg run' command gitcfg cannot run
    ├── ConfigError (ValueError)       a config gitcfg cannot record
    │   ├── ConfigKeyError (KeyError)  a key that is not in the config
    │   │   └── ConfigAttributeError (AttributeError)  the same, read as config.x
    │   ├── ReadOnlyValueError (TypeError)  a list read from a config, changed in place
    │   ├── KeyCollisionError          a key that is both a leaf and a branch
    │   │   └── DuplicateKeyError      one key given twice (dotted and nested) with two values
    │   ├── UnsupportedValueError (TypeError)
    │   ├── ValueChangeError           changing a value without allow_val_change
    │   └── SecretKeyError             a credential-looking key without opt-in
    ├── YamlError                      malformed or unsafe YAML, missing config file
    ├── RepositoryError                not a git repository, git failed
    │   ├── CorruptStoreError          the store branch holds something unreadable
    │   ├── NotAStoreError             the store branch holds something else (the user's code)
    │   ├── RefNameClashError          a new ref and an existing one are file and directory
    │   ├── RefLockedError             git holds the store branch's lock past the wait
    │   ├── BranchCheckedOutError      a work tree has the store branch checked out
    │   ├── PendingChangesError        a run's kept last changes cannot be committed yet
    │   ├── KeptChangeStuckError       a kept change this user could commit but not remove
    │   └── UnsafeRepositoryError      git refuses a repository owned by another user
    ├── RunError
    │   ├── RunNotFoundError (LookupError)
    │   ├── AmbiguousRunError (LookupError)
    │   ├── RunExistsError
    │   ├── VersionNotFoundError (LookupError)
    │   ├── HistoryNotFoundError (LookupError)  no local per-step history of the run
    │   └── ConcurrentUpdateError      the run changed under an edit in a conflicting way
    ├── UnknownColumnError (LookupError)  a 'gitcfg runs' column no listed run has
    ├── MissingExtraError (ImportError)   an optional extra (report) is not installed
    ├── MergeConflictError             pull met the same key changed both ways
    ├── RemoteError                    push/pull could not reach or update a remote
    └── SweepError                     a sweep cannot go on (a bayes sweep without optuna)

wandb's error names are here too, so that ``import gitcfg as wandb`` scripts can name
``wandb.errors.X`` (in ``except`` clauses above all); they are not gitcfg's API (not in
``gitcfg.__all__``): ``Error`` is ``GitcfgError``, ``CommError`` is ``RemoteError`` (both
are about reaching somewhere else), ``UsageError`` is gitcfg's own, and the ones gitcfg never
raises are subclasses in the tree: ``AuthenticationError`` (of ``RemoteError``, as of
``CommError`` in wandb), ``UnsupportedError`` (of ``UsageError``) and
``WandbCoreNotAvailableError`` (of ``GitcfgError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class GitcfgError(Exception):
    """Root of every error gitcfg raises on purpose."""

    exit_code = 1

    @property
    def message(self) -> str:
        """The message, as wandb's errors carry it (``except wandb.Error as e: e.message``)."""
        return str(self)

    def one_line(self) -> str:
        """The message as the CLI prints it after ``Error:``, its lines joined by spaces."""
        return " ".join(str(self).split("\n"))


class UsageError(GitcfgError):
    """The API or CLI was used in a way it does not support."""

    exit_code = 2


class InputError(GitcfgError, ValueError):
    """An argument is malformed."""

    exit_code = 2


class InvalidNameError(InputError):
    """A run id or project name that gitcfg refuses."""

    def __init__(self, kind: str, name: str, reason: str) -> None:
        self.kind = kind
        self.name = name
        self.reason = reason
        super().__init__(
            f"invalid {kind} {name!r}: {reason}; use letters, digits, '-', '_' and '.' "
            f"(no leading '.', no '..')"
        )


class InvalidBranchNameError(InputError):
    """A store branch name (``GITCFG_BRANCH``, ``gitcfg.branch``) that git refuses."""

    def __init__(self, branch: str, reason: str) -> None:
        self.branch = branch
        self.reason = reason
        super().__init__(
            f"invalid store branch name {branch!r}: {reason}; set GITCFG_BRANCH (or git config "
            f"gitcfg.branch) to a name git accepts as a branch, such as 'gitcfg'"
        )


class ConfigError(GitcfgError, ValueError):
    """A config that gitcfg cannot record."""


class ConfigKeyError(ConfigError, KeyError):
    """A key that is not in the config."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no config key {key!r}; list the keys with config.keys()")

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class ConfigAttributeError(ConfigKeyError, AttributeError):
    """A key that is not in the config, read as an attribute: ``getattr(config, "x", None)``."""


class ReadOnlyValueError(ConfigError, TypeError):
    """A list (or a mapping inside one) read from a config and then changed in place."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(
            f"config value {key!r} cannot be changed in place, the change would not be recorded; "
            f"assign a new value instead: config[{key!r}] = [...]"
        )


class KeyCollisionError(ConfigError):
    """A key is used both as a value and as a group of nested keys."""

    def __init__(self, leaf: str, branch: str) -> None:
        self.leaf = leaf
        self.branch = branch
        super().__init__(
            f"key {leaf!r} is a value and {branch!r} is nested under it; "
            f"rename one of them or unset {leaf!r} first"
        )


class DuplicateKeyError(KeyCollisionError):
    """One flat key given twice with different values, once dotted and once nested."""

    def __init__(self, key: str, first: Any, second: Any) -> None:
        self.leaf = self.branch = key
        self.key = key
        self.first = first
        self.second = second
        ConfigError.__init__(
            self,
            f"key {key!r} is given twice with different values ({first!r} and {second!r}), "
            f"once dotted and once nested; give it only once",
        )


class UnsupportedValueError(ConfigError, TypeError):
    """A value of a type that cannot be stored as YAML."""

    def __init__(self, key: str, value: Any) -> None:
        self.key = key
        self.type_name = f"{type(value).__module__}.{type(value).__qualname__}"
        super().__init__(
            f"cannot store {key!r}: values of type {self.type_name} are not supported; "
            f"convert it to a number, string, bool, None, list or dict first"
        )


class ValueChangeError(ConfigError):
    """An existing key set to a different value without permission."""

    def __init__(self, key: str, old: Any, new: Any) -> None:
        self.key = key
        self.old = old
        self.new = new
        super().__init__(
            f"config key {key!r} is already {old!r}, refusing to change it to {new!r}; "
            f"pass allow_val_change=True to change it"
        )


class SecretKeyError(ConfigError):
    """A key that looks like a credential, which would end up in git history."""

    def __init__(self, key: str, *, summary: bool = False) -> None:
        self.key = key
        self.summary = summary  # a key of the run's summary (results), not of its config
        what, where = ("summary key", "results") if summary else ("key", "configs")
        super().__init__(
            f"{what} {key!r} looks like a credential and would be kept in git history; "
            f"keep secrets out of {where}, or set GITCFG_ALLOW_SECRETS=1 to record it anyway"
        )


class YamlError(GitcfgError):
    """YAML that gitcfg cannot read: malformed, unsafe tags, or a missing file."""

    def __init__(self, source: str, problem: str) -> None:
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}")


class RepositoryError(GitcfgError):
    """No usable git repository, or git itself failed.

    ``reason`` says what is wrong without the next step, ``until`` what must change before a
    write can succeed (both None: the message says it all); a run that ends while the store
    cannot be written keeps its changes and says so with them (``gitcfg.pending``).
    """

    reason: str | None = None
    until: str | None = None


class UnsafeRepositoryError(RepositoryError):
    """git refuses a repository owned by another user that ``safe.directory`` does not list
    (git's "dubious ownership")."""

    def __init__(self, path: str, command: str) -> None:
        self.path = path
        self.command = command  # what git suggests: git config --global --add safe.directory
        super().__init__(
            f"git refuses the repository at {path}: it is owned by another user and git's "
            f"safe.directory setting does not list it (git: detected dubious ownership); if you "
            f"trust it, run '{command}', or set GITCFG_REPO (or pass repo=) to a repository "
            f"of your own"
        )


class CorruptStoreError(RepositoryError):
    """The store branch holds an object or file gitcfg cannot read."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(
            f"the gitcfg store is damaged: {what}; "
            f"run 'git fsck' and restore the branch from a remote"
        )


class NotAStoreError(RepositoryError):
    """The store branch exists but is not gitcfg's: writing runs on it would take it over."""

    def __init__(self, branch: str, entry: str) -> None:
        self.branch = branch
        self.entry = entry
        super().__init__(
            f"the branch {branch!r} is not a gitcfg store: it holds {entry}, which gitcfg never "
            f"writes there; keep the runs on another branch by setting GITCFG_BRANCH (or git "
            f"config gitcfg.branch) to a new name, e.g. GITCFG_BRANCH=gitcfg-runs"
        )


class RefNameClashError(RepositoryError):
    """A ref that cannot be created because an existing ref is its directory or lies inside it
    (git keeps each ref as a file, so refs/heads/a and refs/heads/a/b cannot both exist)."""

    def __init__(self, ref: str, existing: str) -> None:
        self.ref = ref
        self.existing = existing
        if ref.startswith("refs/heads/"):
            step = (
                "set GITCFG_BRANCH (or git config gitcfg.branch) to another name, e.g. "
                "GITCFG_BRANCH=gitcfg-runs, or rename that branch"
            )
        else:
            step = f"rename or delete the ref {existing} ('git update-ref -d {existing}')"
        super().__init__(
            f"cannot create {_ref_label(ref)}: {_ref_label(existing)} exists, and git cannot "
            f"keep both (one would be a directory of the other); {step}"
        )


def _ref_label(ref: str) -> str:
    """``the branch 'x'`` for refs/heads/x, ``the ref <name>`` otherwise."""
    if ref.startswith("refs/heads/"):
        return f"the branch {ref.removeprefix('refs/heads/')!r}"
    return f"the ref {ref}"


class BranchCheckedOutError(RepositoryError):
    """The store branch is checked out in a work tree, so moving it would undo edits there."""

    def __init__(self, branch: str, worktree: str, *, main: bool = False) -> None:
        self.branch = branch
        self.worktree = worktree
        self.main = main
        if main:
            step = (
                f"commit your edits there and switch it to another branch "
                f"('git -C {worktree} switch -')"
            )
        else:
            step = (
                f"commit your edits there, then 'git worktree remove {worktree}' "
                f"(or 'git -C {worktree} switch --detach')"
            )
        self.reason = f"the store branch {branch!r} is checked out in the work tree {worktree}"
        if main:
            self.until = (
                f"once that work tree is on another branch ('git -C {worktree} switch -', "
                f"after committing your edits there)"
            )
        else:
            self.until = (
                f"once that work tree is removed or detached ('git worktree remove {worktree}' "
                f"or 'git -C {worktree} switch --detach', after committing your edits there)"
            )
        super().__init__(
            f"{self.reason}, and gitcfg will not move a checked-out branch (git would not "
            f"either); {step}, and retry"
        )


class RefLockedError(RepositoryError):
    """Another git process holds a ref's lock past the wait (``core.filesRefLockTimeout``)."""

    def __init__(self, ref: str, lock_path: str) -> None:
        self.ref = ref
        self.lock_path = lock_path
        self.reason = f"{ref} is locked by another git process ({lock_path} exists)"
        self.until = f"once that lock is gone (if no git command is running, remove {lock_path})"
        super().__init__(
            f"{self.reason}; wait for it to finish and retry; if no git command is running, "
            f"remove that file"
        )


class PendingChangesError(RepositoryError):
    """A run's changes kept when it could not commit them at its end (``gitcfg.pending``) are
    still not committed, so the run cannot go on from its last state (``resume``)."""

    def __init__(self, run: str, path: str, error: RepositoryError) -> None:
        self.run = run
        self.path = path
        self.error = error
        self.reason = (
            f"run {run!r} has changes it could not commit when it last ended (kept in {path}), "
            f"and they cannot be committed now: {error.reason or error}"
        )
        self.until = error.until
        super().__init__(
            f"{self.reason}; "
            + (f"resume it {error.until}" if error.until else "resume it once they can be")
        )


class KeptChangeStuckError(RepositoryError):
    """A change kept when its run ended (``gitcfg.pending``) in a directory this user may not
    remove files from (another user's, in a shared repository): committed, the file would stay
    and be committed again later, over whatever changed the run meanwhile, so it is left."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.reason = f"this user may not remove files from {directory}"
        self.until = f"when run by a user who may (or once the group may write to {directory})"
        super().__init__(
            f"{self.reason}; run gitcfg as a user who may, or let the group write there "
            f"(chmod g+w {directory})"
        )


class RunError(GitcfgError):
    """Something about one run."""


class RunNotFoundError(RunError, LookupError):
    """No such run. ``remote``: the store branch is not in this clone yet, and that remote
    has it (a fresh clone), so pulling is the next step."""

    def __init__(self, run: str, *, remote: str | None = None, branch: str = "gitcfg") -> None:
        self.run = run
        self.remote = remote
        if remote is None:
            super().__init__(f"no run {run!r}; list the runs with 'gitcfg runs'")
            return
        super().__init__(
            f"no run {run!r} here: this clone has no {branch} branch yet, and the remote "
            f"{remote!r} has one; 'gitcfg pull {remote}' brings its runs here"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class AmbiguousRunError(RunError, LookupError):
    def __init__(self, run: str, matches: Sequence[str]) -> None:
        self.run = run
        self.matches = list(matches)
        shown = ", ".join(self.matches[:5]) + (", ..." if len(self.matches) > 5 else "")
        super().__init__(f"run {run!r} is ambiguous, it matches {shown}; give more of the id")

    def __str__(self) -> str:
        return str(self.args[0])


class RunExistsError(RunError):
    def __init__(self, run: str) -> None:
        self.run = run
        super().__init__(f"run {run!r} exists already; choose another id or leave id unset")


class VersionNotFoundError(RunError, LookupError):
    def __init__(self, run: str, back: int, versions: int) -> None:
        self.run = run
        self.back = back
        self.versions = versions
        super().__init__(
            f"run {run!r} has {versions} version(s), so {run}~{back} does not exist; "
            f"see them with 'gitcfg log {run}'"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class ConcurrentUpdateError(RunError):
    """Another writer changed the same keys of a run since it was read."""

    def __init__(self, run: str, keys: Sequence[str]) -> None:
        self.run = run
        self.keys = list(keys)
        super().__init__(
            f"run {run!r} was changed elsewhere since it was read ({', '.join(self.keys)}); "
            f"read it again and reapply your change"
        )


class HistoryNotFoundError(RunError, LookupError):
    """A run with no per-step history on this machine (it ran elsewhere, or logged nothing)."""

    def __init__(self, run: str, path: str) -> None:
        self.run = run
        self.path = path
        super().__init__(
            f"run {run!r} has no per-step history here ({path} does not exist): history stays "
            f"on the machine that ran it and is never pushed; its summary is on the branch "
            f"('gitcfg show {run} --summary')"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class UnknownColumnError(GitcfgError, LookupError):
    """A column (field or config key) asked of ``gitcfg runs`` that no listed run has."""

    def __init__(self, column: str, available: Sequence[str]) -> None:
        self.column = column
        self.available = list(available)
        shown = ", ".join(self.available[:20]) + (", ..." if len(self.available) > 20 else "")
        super().__init__(
            f"no column {column!r} in the runs listed; "
            + (f"available: {shown}" if shown else "they have none to choose from yet")
        )

    def __str__(self) -> str:
        return str(self.args[0])


class MissingExtraError(GitcfgError, ImportError):
    """A command needs an optional extra (``pip install 'gitcfg[EXTRA]'``) that is not installed."""

    def __init__(self, extra: str, packages: Sequence[str], problem: str | None = None) -> None:
        self.extra = extra
        self.packages = list(packages)
        self.problem = problem
        names = " and ".join(self.packages)
        state = "which are not installed" if problem is None else f"which failed: {problem}"
        super().__init__(
            f"this needs {names}, {state}; install them with: pip install 'gitcfg[{extra}]'"
        )

    def __str__(self) -> str:
        return str(self.args[0])


class MergeConflictError(GitcfgError):
    """The same key of a run was changed to different values on both sides of a merge."""

    def __init__(self, conflicts: dict[str, list[str]], remote_ref: str, remote: str) -> None:
        self.conflicts = conflicts
        self.remote_ref = remote_ref
        self.remote = remote
        parts = "; ".join(f"{run}: {', '.join(keys)}" for run, keys in sorted(conflicts.items()))
        super().__init__(
            f"conflicting changes to {parts} (theirs kept at {remote_ref}); "
            f"take theirs with 'gitcfg pull {remote} --theirs', or keep ours (after setting the "
            f"value you want with 'gitcfg update') with 'gitcfg pull {remote} --ours'"
        )


class RemoteError(GitcfgError):
    """A remote could not be reached or updated."""


class SweepSpecError(InputError):
    """A sweep definition (or ``gitcfg run``'s command) that cannot be run as written."""


class SweepError(GitcfgError):
    """A sweep that cannot go on: a missing optional library, a program that cannot start."""


# wandb's names (see the module docstring)
Error = GitcfgError
CommError = RemoteError


class AuthenticationError(RemoteError):
    """wandb's error for refused credentials; gitcfg logs in nowhere and never raises it."""


class UnsupportedError(UsageError):
    """wandb's error for a feature it does not support; gitcfg never raises it."""


class WandbCoreNotAvailableError(GitcfgError):
    """wandb's error for its missing core service; gitcfg never raises it."""


# the names above that are wandb's only, not gitcfg's API
WANDB_ONLY = (
    "AuthenticationError",
    "CommError",
    "Error",
    "UnsupportedError",
    "WandbCoreNotAvailableError",
)
