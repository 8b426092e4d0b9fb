"""The config store: runs, their versions and provenance, on one branch of a git repository.

Each write builds new tree and commit objects in-process on top of the branch tip and publishes
them with a compare-and-swap ref update; when another writer won the race, the change is applied
again on the new tip. The user's work tree, index, HEAD and stash are never touched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg import yamlcodec
from gitcfg.blobcache import BlobCache
from gitcfg.checkedout import check_not_checked_out
from gitcfg.diff import MISSING, Change, diff_configs, same_value

if TYPE_CHECKING:
    from gitcfg.listing import RunListing
from gitcfg.errors import (
    AmbiguousRunError,
    ConcurrentUpdateError,
    ConfigKeyError,
    CorruptStoreError,
    InputError,
    InvalidBranchNameError,
    KeyCollisionError,
    NotAStoreError,
    RepositoryError,
    RunExistsError,
    RunNotFoundError,
    SecretKeyError,
    VersionNotFoundError,
    YamlError,
)
from gitcfg.flat import check_key, find_collision, flatten, is_secret, secrets_allowed
from gitcfg.git import SETTINGS, GitRepo, ObjectReader, Signers, TreeEntry, default_identity
from gitcfg.git.process import start_git
from gitcfg.git.refnames import branch_name_problem
from gitcfg.git.repo import config_command, parse_config
from gitcfg.layout import (
    CONFIG_FILE,
    META_FILE,
    SUMMARY_FILE,
    RunRef,
    check_store_root,
    parse_run_dir,
)
from gitcfg.names import check_project, check_run_id, new_run_id
from gitcfg.provenance import Provenance, capture
from gitcfg.values import coerce_value

DEFAULT_BRANCH = "gitcfg"
_CACHE_CHUNK = 5000  # files parsed and cached per batch
_MAX_ATTEMPTS = 1000
_TEXTS_REMEMBERED = 256  # runs' files a process reads back soon after (a sweep's in flight)
_SELECTOR = re.compile(r"^(?P<run>[^~]+?)(?:~(?P<back>\d*))?$")


class RunRecord(NamedTuple):
    """A run as stored at one commit of the branch; ``summary`` is {} without summary.yaml."""

    ref: RunRef
    config: dict[str, Any]
    meta: dict[str, Any]
    commit: str
    summary: dict[str, Any]


class RunVersion(NamedTuple):
    """One version of a run (a commit that changed its config or summary), newest first in
    ``ConfigStore.history``, with the config and summary as of that commit."""

    commit: str
    time: int
    message: str
    config: dict[str, Any]
    summary: dict[str, Any]
    # Files (config.yaml, summary.yaml) that are not valid YAML at this version, their dicts
    # then {}: an old hand edit must not stop the history around it from being read.
    invalid: tuple[str, ...] = ()


class UpdateResult(NamedTuple):
    """What ``ConfigStore.update`` changed: config, summary and meta keys, and the commit."""

    run: RunRef
    commit: str | None
    changes: list[Change]
    summary_changes: list[Change]
    meta_changes: list[Change]


class RunUpdate(NamedTuple):
    """Results and meta keys for one run, written with ``ConfigStore.create``'s commit of
    another: a sweep ends one point's run in the commit that starts the next."""

    run: RunRef
    summary: Mapping[str, Any] | None = None
    meta: Mapping[str, Any] | None = None


class _Message(NamedTuple):
    subject: str
    body: str  # '' for none
    trailers: list[str]


# A subtree to put at a path of the store's tree (None: remove what is there).
_Replacement = tuple[tuple[str, ...], str | None]


class _Change(NamedTuple):
    """One part of a commit: ``build`` reads the old root tree and gives the subtree to put in
    it (None: nothing to change); ``message`` describes it once built."""

    build: Callable[[str | None, ObjectReader], _Replacement | None]
    message: Callable[[], _Message]


class _Known(NamedTuple):
    """A run file as this process wrote or read it (``ConfigStore._texts``)."""

    text: str
    dumped: bool  # written by this process with dump_config: nothing hand-made in it to keep
    parsed: Mapping[str, Any] | None  # what it reads back as, when that is sure and immutable


# A sweep's small packs are joined every this many, and git's geometric repack starts past the
# second number of packs: both well below git's gc.autoPackLimit (50), past which its gc --auto
# repacks the whole store.
_ROLL_EVERY = 32
_PACKS_BEFORE_REPACK = 16

_SCALARS = frozenset({str, int, float, bool, type(None)})


class Selection(NamedTuple):
    """A resolved RUN selector: the run, and how many versions back (``RUN~N``)."""

    ref: RunRef
    back: int = 0


class ConfigStore:
    """Runs on the store branch of ``repo``; see the module docstring for how writes work."""

    def __init__(
        self,
        repo: GitRepo,
        branch: str = DEFAULT_BRANCH,
        *,
        identity: Signers | None = None,
        code_repo: GitRepo | bool | None = True,
        autopush: str | None = None,
        gc_auto: int = 0,
    ) -> None:
        self.repo = repo
        # A remote to push to after every run commit (gitcfg.autopush / GITCFG_AUTOPUSH).
        self.autopush = autopush
        # git's gc.auto: how many loose objects may pile up before 'git gc --auto' packs them.
        self.gc_auto = gc_auto
        self._small_packs = False  # use_small_packs turned them on
        problem = branch_name_problem(branch)
        if problem is not None:
            raise InvalidBranchNameError(branch, problem)
        self.branch = branch
        self.ref = f"refs/heads/{branch}"
        self._identity = identity
        repo.identity = identity
        # True: the code repository is the store's own (if it has a work tree).
        self._code_repo = code_repo
        self.cache = BlobCache(repo.common_dir / "gitcfg", shared=repo.shared)
        # The last commit whose root tree was seen to be a store's, and that tree.
        self._root_seen: tuple[str, str] | None = None
        # Run files this process wrote or read, by blob id (an id names its content, so an
        # entry is never stale): a run's end reads back the meta.yaml its start wrote.
        self._texts: dict[str, _Known] = {}

    @classmethod
    def open(
        cls, repo: str | os.PathLike[str] | None = None, *, branch: str | None = None
    ) -> ConfigStore:
        """Open the store of ``repo``, else ``$GITCFG_REPO``, else the repository of the cwd;
        ``branch``: the store branch, else the one the settings name."""
        explicit = repo if repo is not None else os.environ.get("GITCFG_REPO") or None
        where = Path(explicit) if explicit is not None else Path.cwd()
        # git config runs beside rev-parse: both find the same repository from ``where``
        listing = config_command(f"^({SETTINGS}|gitcfg\\..*|gc\\.auto)$")
        pending = start_git(listing, where) if where.is_dir() else None
        try:
            git_repo = GitRepo.discover(where)
        finally:
            out = pending.communicate()[0] if pending is not None else None
        config = parse_config(out) if out is not None else git_repo.config_values(listing[-1])
        git_repo.apply_settings(config)
        branch = (
            branch
            or os.environ.get("GITCFG_BRANCH")
            or config.get("gitcfg.branch")
            or DEFAULT_BRANCH
        )
        code_repo: GitRepo | bool | None = True
        if explicit is not None:
            code_repo = _code_repo_of_cwd(git_repo)
        return cls(
            git_repo,
            branch,
            identity=default_identity(git_repo, config),
            code_repo=code_repo,
            autopush=os.environ.get("GITCFG_AUTOPUSH") or config.get("gitcfg.autopush") or None,
            gc_auto=_int_or(config.get("gc.auto"), _GIT_GC_AUTO),
        )

    @property
    def identity(self) -> Signers:
        if self._identity is None:
            self._identity = self.repo.identity = default_identity(self.repo)
        return self._identity

    @property
    def code_repo(self) -> GitRepo | None:
        """The repository whose code a run records (None: none); asked only when recording."""
        if self._code_repo is True:
            return self.repo if self.repo.worktree is not None else None
        code = self._code_repo or None
        if code is not None and code.algo != self.repo.algo:
            # A run's code commit must be an id of the store's own kind (diff --code, push).
            raise RepositoryError(
                f"the code repository {code.worktree} uses {code.algo.name} object ids but the "
                f"store {self.repo.common_dir} uses {self.repo.algo.name}; keep the runs in a "
                f"repository of the same object format (set GITCFG_REPO to one, or unset it)"
            )
        return code

    def tip(self) -> str | None:
        """The commit at the tip of the store branch, None before the first run."""
        return self.repo.read_ref(self.ref)

    # -- writing -----------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Raise ``BranchCheckedOutError`` if a work tree has the store branch checked out,
        ``NotAStoreError`` if the branch is someone's own work, ``RefNameClashError`` if it
        does not exist and cannot be created (``refs/heads/gitcfg/x`` exists).

        Every writer calls this before it writes anything (a keep ref, an object): moving a
        checked-out branch would make the next commit in that work tree silently undo the runs
        recorded meanwhile. The commit itself checks the branch again.
        """
        target, tip = self.repo.resolve_ref(self.ref)  # the branch a symbolic ref moves too
        check_not_checked_out(self.repo.common_dir, self.ref, target)
        if tip is None:
            self.repo.check_ref_room(self.ref)
        else:
            self.check_is_store(tip)

    def create(
        self,
        project: str,
        config: Mapping[str, Any],
        *,
        run_id: str | None = None,
        provenance: Provenance | None = None,
        meta: Mapping[str, Any] | None = None,
        allow_secrets: bool | None = None,
        summary: Mapping[str, Any] | None = None,
        with_update: RunUpdate | None = None,
        writable: bool = False,
    ) -> tuple[RunRef, str]:
        """Record a new run with its flat ``config``; returns the run and its commit.

        ``meta`` adds run attributes (name, notes, tags) to the provenance in ``meta.yaml``;
        ``summary`` (results) is written to ``summary.yaml`` when given and not empty.
        ``with_update`` sets results and meta keys of another run in the same commit, as
        ``update`` would (its errors, such as a run that is gone, stop both writes).
        ``writable``: the caller has made ``check_writable``'s test (before its snapshot).
        """
        project = check_project(project)
        ref = RunRef(project, check_run_id(run_id) if run_id is not None else new_run_id())
        flat = self._checked(config, allow_secrets, True)
        if not writable:
            self.check_writable()
        changes: list[_Change] = []
        if with_update is not None:
            update = self._update_change(
                with_update.run, summary=with_update.summary, meta=with_update.meta, writable=True
            )[0]
            changes.append(update)
        if run_id is not None and self.exists(ref):  # refuse before writing any object
            raise RunExistsError(str(ref))
        prov = provenance if provenance is not None else capture(self.code_repo)
        meta_values = {**prov.as_dict(), **(meta or {})}
        meta_flat = {check_key(k): coerce_value(k, v) for k, v in meta_values.items()}
        summary_flat = self._checked(summary or {}, allow_secrets, True, summary=True)
        files = [
            TreeEntry("100644", CONFIG_FILE, self._write_dumped(flat)),
            TreeEntry("100644", META_FILE, self._write_dumped(meta_flat)),
        ]
        if summary_flat:
            summary_blob = self._write_dumped(summary_flat)
            files.append(TreeEntry("100644", SUMMARY_FILE, summary_blob))
        run_tree = self.repo.write_tree(files)
        trailers = [f"Gitcfg-Run: {ref}"]
        if prov.code_commit:
            trailers.append(f"Gitcfg-Code-Commit: {prov.code_commit}")
        if prov.snapshot:
            trailers.append(f"Gitcfg-Dirty-Snapshot: {prov.snapshot}")
        count = f"{len(flat)} key" + ("" if len(flat) == 1 else "s")
        message = _Message(f"create {ref} ({count})", "", trailers)

        def build(root: str | None, reader: ObjectReader) -> _Replacement:
            if self._lookup(root, [*ref.segments], reader) is not None:
                raise RunExistsError(str(ref))
            return ref.segments, run_tree

        commit = self._commit([*changes, _Change(build, lambda: message)])
        assert commit is not None
        self._after_commit()
        return ref, commit

    def update(
        self,
        run: RunRef,
        set_values: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        *,
        message: str | None = None,
        base: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        allow_secrets: bool | None = None,
        summary: Mapping[str, Any] | None = None,
        summary_unset: Iterable[str] = (),
        summary_base: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> UpdateResult:
        """Set and unset flat keys of ``run`` in one commit; no commit when nothing changes.

        ``base`` is the config the caller's edit started from: a key the caller changed that
        someone else changed differently since then raises ConcurrentUpdateError instead of
        being overwritten; keys the caller did not touch keep whatever the branch has.
        ``summary``/``summary_unset``/``summary_base`` do the same for the run's results in
        ``summary.yaml`` (created when missing, removed when emptied), in the same commit;
        ``meta`` sets keys of ``meta.yaml`` (name, notes, tags, group, ...).
        """
        change, outcome = self._update_change(
            run,
            set_values,
            unset,
            message=message,
            base=base,
            dry_run=dry_run,
            allow_secrets=allow_secrets,
            summary=summary,
            summary_unset=summary_unset,
            summary_base=summary_base,
            meta=meta,
        )
        commit = self._commit([change])
        if commit is not None:
            self._after_commit()
        return UpdateResult(
            run,
            commit,
            list(outcome.get("changes", [])),
            list(outcome.get("summary_changes", [])),
            list(outcome.get("meta_changes", [])),
        )

    def _update_change(
        self,
        run: RunRef,
        set_values: Mapping[str, Any] | None = None,
        unset: Iterable[str] = (),
        *,
        message: str | None = None,
        base: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        allow_secrets: bool | None = None,
        summary: Mapping[str, Any] | None = None,
        summary_unset: Iterable[str] = (),
        summary_base: Mapping[str, Any] | None = None,
        meta: Mapping[str, Any] | None = None,
        writable: bool = False,
    ) -> tuple[_Change, dict[str, Any]]:
        """``update``'s change, and what it found (filled in when it is built); ``writable``:
        the caller has made ``check_writable``'s test."""
        wanted = self._checked(set_values or {}, allow_secrets, False)
        removals = [check_key(k) for k in unset]
        summary_wanted = self._checked(summary or {}, allow_secrets, False)
        summary_removals = [check_key(k) for k in summary_unset]
        meta_wanted = self._checked(meta or {}, True, False)
        if not (dry_run or writable):
            self.check_writable()
        outcome: dict[str, Any] = {}

        def build(root: str | None, reader: ObjectReader) -> _Replacement | None:
            run_tree = self._lookup(root, [*run.segments], reader)
            if run_tree is None:
                raise RunNotFoundError(str(run))
            entries = {e.name: e for e in self.repo.read_tree(run_tree, reader)}
            if CONFIG_FILE not in entries:
                raise CorruptStoreError(f"{run.config_path} is missing")
            parsed: dict[str, dict[str, Any]] = {}
            changes: list[Change] = []
            if wanted or removals:  # the config is not read when nothing of it changes
                changes = self._edit_file(
                    entries,
                    run,
                    CONFIG_FILE,
                    reader,
                    parsed,
                    wanted,
                    removals,
                    base,
                    allow_secrets,
                    write=not dry_run,
                )
            summary_changes: list[Change] = []
            if summary_wanted or summary_removals:
                summary_changes = self._edit_file(
                    entries,
                    run,
                    SUMMARY_FILE,
                    reader,
                    parsed,
                    summary_wanted,
                    summary_removals,
                    summary_base,
                    allow_secrets,
                    write=not dry_run,
                )
            meta_changes: list[Change] = []
            if meta_wanted:
                meta_changes = self._edit_file(
                    entries,
                    run,
                    META_FILE,
                    reader,
                    parsed,
                    meta_wanted,
                    [],
                    None,
                    True,
                    not dry_run,
                )
            outcome["changes"] = changes
            outcome["summary_changes"] = summary_changes
            outcome["meta_changes"] = meta_changes
            if not (changes or summary_changes or meta_changes) or dry_run:
                return None
            outcome["parsed"] = parsed
            tree = self.repo.write_tree(entries.values())
            outcome["message"] = _update_message(
                run,
                [
                    *changes,
                    *_labelled(summary_changes, SUMMARY_PREFIX),
                    *_labelled(meta_changes, META_PREFIX),
                ],
                message,
            )
            return run.segments, tree

        return _Change(build, lambda: outcome["message"]), outcome

    def update_summary(
        self,
        run: RunRef,
        values: Mapping[str, Any],
        unset: Iterable[str] = (),
        *,
        message: str | None = None,
        base: Mapping[str, Any] | None = None,
    ) -> UpdateResult:
        """Set and unset keys of the run's summary (results) in one commit, as ``update``."""
        return self.update(
            run, message=message, summary=values, summary_unset=unset, summary_base=base
        )

    def update_meta(
        self, run: RunRef, values: Mapping[str, Any], *, message: str | None = None
    ) -> UpdateResult:
        """Set keys of the run's ``meta.yaml`` (exit status, name, notes...) in one commit."""
        return self.update(run, message=message, meta=values)

    def _edit_file(
        self,
        entries: dict[str, TreeEntry],
        run: RunRef,
        name: str,
        reader: ObjectReader,
        parsed: dict[str, dict[str, Any]],
        wanted: Mapping[str, Any],
        removals: Sequence[str],
        base: Mapping[str, Any] | None,
        allow_secrets: bool | None,
        write: bool = True,
    ) -> list[Change]:
        """Apply one file's changes to the run's ``entries``; returns the changes made.

        ``write=False`` (a dry run) computes the changes and writes no object.
        """
        path = f"{run.directory}/{name}"
        entry = entries.get(name)
        known: _Known | None = None
        current: Mapping[str, Any] = {}
        if entry is not None:
            known = self._file_text(entry.sha, reader)
            # parsed when this process wrote it (see _write_dumped), else read now
            current = known.parsed or self._parse(entry.sha, known.text, path)
        new = self._apply(run, current, wanted, removals, base, allow_secrets, name == SUMMARY_FILE)
        changes = diff_configs(current, new)
        if not changes or not write:
            return changes
        collision = find_collision(new.keys())
        if collision is not None:
            raise KeyCollisionError(*collision)
        if not new and name == SUMMARY_FILE:
            del entries[name]  # no results left: no file, as before the first one
            return changes
        to_set = {c.key: c.new for c in changes if c.new is not MISSING}
        to_unset = [c.key for c in changes if c.new is MISSING]
        if known is None:
            blob = self._write_dumped(dict(sorted(new.items())))
        elif known.dumped:  # this process wrote it with dump_config: nothing hand-made to keep
            removed = set(to_unset)
            kept = {k: v for k, v in current.items() if k not in removed}
            blob = self._write_dumped({**kept, **to_set})  # what update_config_text writes
        else:
            blob = self._write_text(
                yamlcodec.update_config_text(known.text, to_set, to_unset, current=current)
            )
        parsed[blob] = new
        entries[name] = TreeEntry("100644", name, blob)
        return changes

    def _apply(
        self,
        run: RunRef,
        current: Mapping[str, Any],
        wanted: Mapping[str, Any],
        removals: Sequence[str],
        base: Mapping[str, Any] | None,
        allow_secrets: bool | None,
        summary: bool = False,
    ) -> dict[str, Any]:
        new = dict(current)
        conflicts = []
        for key, value in wanted.items():
            if base is not None:
                theirs = current.get(key, MISSING)
                if not same_value(theirs, base.get(key, MISSING)) and not same_value(theirs, value):
                    conflicts.append(key)
            new[key] = value
        for key in removals:
            # a key set in the same update stays: unset "a" + set "a.b" turns a value into a group
            matched = [k for k in new if (k == key or k.startswith(key + ".")) and k not in wanted]
            if base is not None:
                theirs = current.get(key, MISSING)
                if theirs is not MISSING and not same_value(theirs, base.get(key, MISSING)):
                    conflicts.append(key)
            elif not matched:
                raise ConfigKeyError(key)
            for k in matched:
                del new[k]
        if conflicts:
            raise ConcurrentUpdateError(str(run), conflicts)
        if not (allow_secrets or secrets_allowed()):
            for key, value in wanted.items():
                if key not in current and is_secret(key, value, result=summary):
                    raise SecretKeyError(key, summary=summary)
        return new

    def checked_results(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``values`` flattened as a summary update writes them, or the error it would raise:
        results checked before they go into a commit with another change (a key that looks
        like a credential is ``SecretKeyError`` unless ``GITCFG_ALLOW_SECRETS`` is set)."""
        return self._checked(values, None, True, summary=True)

    def _checked(
        self,
        config: Mapping[str, Any],
        allow_secrets: bool | None,
        check_secrets: bool,
        summary: bool = False,
    ) -> dict[str, Any]:
        # A mapping value is a group of nested keys: {"model": {"lr": 1}} sets "model.lr".
        flat = flatten({check_key(k): coerce_value(str(k), v) for k, v in config.items()})
        collision = find_collision(flat.keys())
        if collision is not None:
            raise KeyCollisionError(*collision)
        if check_secrets and not (allow_secrets or secrets_allowed()):
            for key, value in flat.items():
                if is_secret(key, value, result=summary):
                    raise SecretKeyError(key, summary=summary)
        return flat

    def _commit(self, changes: Sequence[_Change]) -> str | None:
        """Apply ``changes`` together to the tip's tree and publish the result as one commit
        (none when none changed anything); retry on a lost race."""
        with ObjectReader(self.repo) as reader:
            for _ in range(_MAX_ATTEMPTS):
                tip = self.tip()
                root = self._root_of(tip, reader) if tip else None
                # every change reads the old tree: they are about different runs
                replacements: dict[tuple[str, ...], str | None] = {}
                messages = []
                for change in changes:
                    built = change.build(root, reader)
                    if built is not None:
                        if built[0] in replacements:
                            raise ValueError(f"two changes of {'/'.join(built[0])} in one commit")
                        replacements[built[0]] = built[1]
                        messages.append(change.message())
                if not messages:
                    return None
                new_root = self._replace(root, replacements, reader)
                text = _joined(messages)
                parents = [tip] if tip else []
                commit = self.repo.write_commit(new_root, parents, text, *self.identity)
                if self.repo.update_ref(self.ref, commit, tip, "gitcfg: " + text.split("\n")[0]):
                    # the next commit starts from this one, whose root it need not read again
                    self._root_seen = (commit, new_root)
                    return commit
        raise RepositoryError(
            f"could not update {self.ref}: it kept changing under {_MAX_ATTEMPTS} attempts; retry"
        )

    def use_small_packs(self) -> bool:
        """Write each commit's new objects as one small pack (``GitRepo.pack_writes``), for a
        writer that commits many times (a sweep) and calls ``roll_small_packs`` at its end.
        Not when the user keeps git from automatic maintenance or from joining packs, which
        the roll-up is. Returns whether it is on."""
        repo = self.repo
        self._small_packs = (
            self.gc_auto > 0 and repo.gc_pack_limit > 0 and repo.auto_gc_enabled
        ) and not repo.has_multi_pack_index()
        repo.pack_writes = self._small_packs
        return self._small_packs

    def roll_small_packs(self) -> None:
        """Join the small packs this process wrote since the last roll-up into one; once the
        store has more than a few packs, start git's geometric repack (detached unless
        gc.autoDetach is false), which joins the joined ones as ``git maintenance`` would.
        Nothing unless ``use_small_packs`` turned them on (so nothing the user turned off)."""
        if not self._small_packs:
            return
        self.repo.roll_small_packs()
        if self.repo.pack_count() > _PACKS_BEFORE_REPACK:
            self.repo.auto_gc(gc=False)

    def end_small_packs(self) -> None:
        """Back to loose objects for what follows, the small packs written so far joined."""
        self.repo.pack_writes = False
        self.roll_small_packs()
        self._small_packs = False

    def _after_commit(self) -> None:
        # Plumbing never triggers git's automatic gc, so check its threshold the way git does
        # (a sample fan-out directory); gc runs in a detached process (gitcfg.git.maintenance).
        if self.repo.needs_gc(self.gc_auto):
            self.repo.auto_gc()
        if self.repo.unrolled_packs >= _ROLL_EVERY:
            self.roll_small_packs()  # well before git's gc.autoPackLimit (50) is reached
        if self.autopush:
            from gitcfg.remote import push_soft  # only loaded by users who share this way

            push_soft(self.repo, self.branch, self.autopush, self.identity)

    # -- trees -------------------------------------------------------------------------------

    def _lookup(self, tree: str | None, path: Sequence[str], reader: ObjectReader) -> str | None:
        for name in path:
            if tree is None:
                return None
            entry = next((e for e in self.repo.read_tree(tree, reader) if e.name == name), None)
            if entry is None or not entry.is_tree:
                return None
            tree = entry.sha
        return tree

    def _replace(
        self,
        tree: str | None,
        replacements: Mapping[tuple[str, ...], str | None],
        reader: ObjectReader,
    ) -> str:
        """A copy of ``tree`` with the subtree at each path replaced (None: removed), each tree
        on the way written once however many paths go through it."""
        entries = {e.name: e for e in self.repo.read_tree(tree, reader)} if tree else {}
        below: dict[str, dict[tuple[str, ...], str | None]] = {}
        for path, subtree in replacements.items():
            below.setdefault(path[0], {})[path[1:]] = subtree
        for name, rest in below.items():
            if () in rest:
                if len(rest) > 1:
                    raise ValueError(f"a change inside {name}, which another change replaces")
                new = rest[()]
            else:
                child = entries.get(name)
                sub = child.sha if child is not None and child.is_tree else None
                replaced = self._replace(sub, rest, reader)
                new = None if replaced == self.repo.empty_tree else replaced
            if new is None:
                entries.pop(name, None)
            else:
                entries[name] = TreeEntry("40000", name, new)
        return self.repo.write_tree(entries.values())

    def _blob_text(self, sha: str, reader: ObjectReader) -> str:
        return self._file_text(sha, reader).text

    def _file_text(self, sha: str, reader: ObjectReader) -> _Known:
        """A run file's text, as this process wrote it or read from the store."""
        known = self._texts.get(sha)
        if known is None:
            kind, body = self.repo.read_object(sha, reader)
            if kind != "blob":
                raise CorruptStoreError(f"{sha} is a {kind}, expected a file")
            known = _Known(body.decode("utf-8", errors="replace"), False, None)
            self._remember_text(sha, known)
        return known

    def _write_dumped(self, flat: Mapping[str, Any]) -> str:
        """Store ``dump_config(flat)`` as a blob and return its id."""
        text = yamlcodec.dump_config(flat)
        sha = self.repo.write_blob(text.encode())
        # Plain scalars read back as themselves (dump_config's round trip), so the file's next
        # edit needs no parse; a list is left out: whoever holds it could change it in place.
        scalars = _SCALARS.issuperset(map(type, flat.values()))
        self._remember_text(sha, _Known(text, True, flat if scalars else None))
        return sha

    def _write_text(self, text: str) -> str:
        """Store a run file's ``text`` (not dump_config's) as a blob and return its id."""
        sha = self.repo.write_blob(text.encode())
        self._remember_text(sha, _Known(text, False, None))
        return sha

    def _remember_text(self, sha: str, known: _Known) -> None:
        texts = self._texts
        if len(texts) >= _TEXTS_REMEMBERED:
            # the newer half stays: a sweep's runs in flight read theirs back a few points on.
            # A new dict, not deletions: another thread may be reading this one.
            texts = self._texts = dict(list(texts.items())[_TEXTS_REMEMBERED // 2 :])
        texts[sha] = known

    def _parse(self, blob: str, text: str, source: str) -> dict[str, Any]:
        try:
            return yamlcodec.load_config(text, source)
        except YamlError as exc:
            raise CorruptStoreError(f"{self.branch}:{source} is not valid: {exc.problem}") from exc

    # -- reading -----------------------------------------------------------------------------

    def _root_at(self, rev: str | None, reader: ObjectReader) -> tuple[str | None, str | None]:
        if rev is None:
            commit = self.tip()
        else:
            commit = self.repo.rev_parse(rev + "^{commit}")
            if commit is None:
                raise InputError(
                    f"unknown revision {rev!r}; give a commit of the {self.branch} branch, "
                    f"e.g. {self.branch}~1 or a sha from 'gitcfg log'"
                )
        if commit is None:
            return None, None
        try:
            return commit, self._root_of(commit, reader)
        except NotAStoreError:
            if rev is None:
                raise
            # the revision is another branch's: the store branch is not the one to blame
            raise InputError(
                f"{rev!r} is not a commit of the {self.branch} branch (its files are not runs); "
                f"give one of its commits, e.g. {self.branch}~1 or a sha from 'gitcfg log'"
            ) from None

    def check_is_store(self, commit: str | None = None) -> None:
        """Raise NotAStoreError if the branch (at ``commit``, else its tip) exists and is not a
        store but someone's own work."""
        commit = commit or self.tip()
        if commit is not None:
            with ObjectReader(self.repo) as reader:
                self._root_of(commit, reader)

    def _root_of(self, commit: str, reader: ObjectReader) -> str:
        """The root tree of ``commit``, once seen to be a store's (a NotAStoreError if not):
        every write and read starts here, so none goes on in someone's own branch."""
        seen = self._root_seen  # once: another thread may replace it meanwhile
        if seen is not None and seen[0] == commit:
            return seen[1]  # a commit id names its tree: never stale
        root = self.repo.read_commit(commit, reader).tree
        entries = self.repo.read_tree(root, reader)
        check_store_root(self.branch, entries, lambda sha: self.repo.read_tree(sha, reader))
        self._root_seen = (commit, root)
        return root

    def read(self, run: RunRef, at: str | None = None) -> RunRecord:
        """The run's config and meta at the branch tip, or as of revision ``at``."""
        with ObjectReader(self.repo) as reader:
            commit, root = self._root_at(at, reader)
            run_tree = self._lookup(root, [*run.segments], reader)
            if run_tree is None or commit is None:
                if at is None:
                    raise self.run_not_found(str(run))
                raise RunNotFoundError(f"{run} at {at}")
            entries = {e.name: e for e in self.repo.read_tree(run_tree, reader)}
            files: dict[str, dict[str, Any]] = {}
            for name, path in (
                (CONFIG_FILE, run.config_path),
                (META_FILE, run.meta_path),
                (SUMMARY_FILE, run.summary_path),
            ):
                entry = entries.get(name)
                if entry is None:
                    files[name] = {}
                    continue
                files[name] = self._parse(entry.sha, self._blob_text(entry.sha, reader), path)
        return RunRecord(run, files[CONFIG_FILE], files[META_FILE], commit, files[SUMMARY_FILE])

    def run_not_found(self, name: str) -> RunNotFoundError:
        """The error for run ``name``, which is not on the branch; in a clone that has no store
        branch yet while a remote has one (a fresh clone), it says to pull."""
        if self.tip() is None:
            from gitcfg.remote import remotes_with_branch  # only on this error's path

            remotes = remotes_with_branch(self.repo, self.branch)
            if remotes:
                return RunNotFoundError(name, remote=remotes[0], branch=self.branch)
        return RunNotFoundError(name)

    def exists(self, run: RunRef) -> bool:
        with ObjectReader(self.repo) as reader:
            _, root = self._root_at(None, reader)
            return self._lookup(root, [*run.segments], reader) is not None

    def history(self, run: RunRef) -> list[RunVersion]:
        """Every version of the run (commits that changed its config or summary), newest first."""
        if self.tip() is None:
            raise self.run_not_found(str(run))
        proc = self.repo.git(
            "log",
            "--format=%x1e%H%x1f%ct%x1f%B%x1f",
            "--raw",
            "--no-abbrev",
            "--no-renames",
            "--full-history",
            self.ref,
            "--",
            run.config_path,
            run.summary_path,
        )
        # newest first: (sha, time, message, config blob or None, summary blob, touched summary)
        commits: list[tuple[str, int, str, str | None, str | None, bool]] = []
        for record in proc.stdout.decode(errors="replace").split("\x1e")[1:]:
            sha, when, message, raw = record.split("\x1f", 3)
            config_blob: str | None = None
            summary_blob: str | None = None
            summary_touched = False
            for line in raw.strip().splitlines():
                if not line.startswith(":"):
                    continue
                blob = line.split()[3]
                if line.endswith("\t" + run.config_path):
                    config_blob = blob
                elif line.endswith("\t" + run.summary_path):
                    summary_blob, summary_touched = blob, True
            if config_blob is not None and set(config_blob) == {"0"}:
                if commits:
                    break  # the run was deleted and recreated: older versions are another run
                continue
            entry = (sha, int(when), message.strip(), config_blob, summary_blob, summary_touched)
            commits.append(entry)
        # oldest first, carrying each file's blob over the commits that did not change it
        entries: list[tuple[str, int, str, str, str | None]] = []
        config_now: str | None = None
        summary_now: str | None = None
        for sha, time, message, config_blob, summary_blob, touched in reversed(commits):
            if config_blob is not None:
                config_now = config_blob
            if touched:
                summary_now = (
                    None if summary_blob is None or set(summary_blob) == {"0"} else summary_blob
                )
            if config_now is not None:
                entries.append((sha, time, message, config_now, summary_now))
        if not entries:
            raise RunNotFoundError(str(run))
        blobs = {config: run.config_path for *_, config, _ in entries}
        blobs.update({summary: run.summary_path for *_, summary in entries if summary})
        invalid: dict[str, str] = {}
        parsed = self.parsed_files(blobs, invalid)
        for newest in entries[-1][3:]:
            if newest in invalid:  # the run as it is now: every reader shows it, so an error
                raise CorruptStoreError(invalid[newest])
        versions = []
        for commit, stamp, text, config_id, summary_id in reversed(entries):
            bad = [CONFIG_FILE] if config_id in invalid else []
            bad += [SUMMARY_FILE] if summary_id in invalid else []
            config = parsed.get(config_id, {})
            summary = parsed.get(summary_id, {}) if summary_id else {}
            versions.append(RunVersion(commit, stamp, text, config, summary, tuple(bad)))
        return versions

    def parsed_files(
        self, blobs: Mapping[str, str], invalid: dict[str, str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """Parsed config or meta files for many blob ids (``{blob: path}``), via the blob cache.

        A file that does not parse raises ``CorruptStoreError``; given ``invalid``, it is
        recorded there (``{blob: message}``) and left out, as history readers need.
        """
        try:
            result = self.cache.get_many(blobs)
            missing = [blob for blob in blobs if blob not in result]
            for start in range(0, len(missing), _CACHE_CHUNK):
                chunk = missing[start : start + _CACHE_CHUNK]
                result.update(self._parse_blobs(chunk, blobs, invalid))
        finally:
            self.cache.close()  # a long-lived training process keeps no database open
        return result

    def _parse_blobs(
        self, missing: Sequence[str], paths: Mapping[str, str], invalid: dict[str, str] | None
    ) -> dict[str, dict[str, Any]]:
        """Read and parse blobs the cache did not have, and record them there."""
        from gitcfg.listing import parse_blobs

        sources = {b: f"{self.branch}:{paths[b]}" for b in missing}
        with ObjectReader(self.repo) as reader:
            fresh = parse_blobs(reader, missing, sources, invalid)
        self.cache.add(fresh)  # only the valid ones: an invalid blob is read again next time
        return fresh

    def listing(self, project: str | None = None, *, meta: bool = True) -> RunListing:
        """The runs at the branch tip (of one project), as JSON texts decoded on demand.

        Use it as a context manager (it holds a cat-file process and the cache while open);
        ``runs`` is the same listing decoded into a list. ``meta=False`` keeps only the fixed
        columns of each run's meta.yaml (see ``RunListing``).
        """
        from gitcfg.listing import RunListing

        if project is not None:
            check_project(project)
        return RunListing(self.repo, self.branch, self.tip(), self.cache, project, meta=meta)

    def runs(self, project: str | None = None) -> list[RunRecord]:
        """Every run at the branch tip (of one project), with config and meta, oldest first."""
        with self.listing(project) as listing:
            tip = listing.tip or ""
            return [
                RunRecord(run.entry.ref, run.config, run.meta, tip, run.summary)
                for page in listing.pages()
                for run in page
            ]

    def run_refs(self) -> list[RunRef]:
        """Every run at the tip, without reading any config (for resolving prefixes)."""
        tip = self.tip()
        if tip is None:
            return []
        proc = self.repo.git("ls-tree", "-r", "-d", "-z", "--name-only", "--full-tree", tip)
        refs = []
        for path in proc.stdout.decode("utf-8", "surrogateescape").split("\0"):
            ref = parse_run_dir(path)
            if ref is not None:
                refs.append(ref)
        return refs

    def resolve(self, selector: str) -> Selection:
        """Resolve ``project/id``, ``id`` or a unique id prefix, optionally with ``~N``."""
        match = _SELECTOR.match(selector.strip())
        if match is None:
            raise InputError(
                f"cannot read run {selector!r}; give project/id, an id or an id prefix, "
                f"optionally followed by ~N"
            )
        back_text = match.group("back")
        back = 0 if back_text is None else int(back_text or "1")
        name = match.group("run")
        project, _, run_id = name.rpartition("/")
        if project:
            check_project(project)
        with ObjectReader(self.repo) as reader:
            _, root = self._root_at(None, reader)
            if project:
                candidates = [RunRef(project, run_id)]
            else:
                projects = (
                    [e.name for e in self.repo.read_tree(root, reader) if e.is_tree] if root else []
                )
                candidates = [RunRef(p, run_id) for p in projects]
            exact = [c for c in candidates if self._lookup(root, [*c.segments], reader) is not None]
        if not exact:
            exact = [
                r
                for r in self.run_refs()
                if r.id.startswith(run_id) and (not project or r.project == project)
            ]
        if not exact:
            raise self.run_not_found(name)
        if len(exact) > 1:
            raise AmbiguousRunError(name, sorted(str(r) for r in exact))
        return Selection(exact[0], back)

    def version(self, selection: Selection, *, readable: bool = True) -> RunVersion:
        """The version of a selected run that ``RUN~N`` names.

        ``readable``: raise ``CorruptStoreError`` if a file of it is not valid at that version
        (False: only its commit is wanted).
        """
        versions = self.history(selection.ref)
        if selection.back >= len(versions):
            raise VersionNotFoundError(str(selection.ref), selection.back, len(versions))
        version = versions[selection.back]
        if readable:
            self.check_readable(selection.ref, version)
        return version

    def check_readable(self, run: RunRef, version: RunVersion) -> None:
        """Raise ``CorruptStoreError`` if a file of ``version`` (from ``history``) is not valid."""
        if version.invalid:
            raise CorruptStoreError(
                f"{version.commit[:12]}:{run.directory}/{version.invalid[0]} is not valid YAML; "
                f"'gitcfg log {run}' lists the versions that read"
            )

    def path(self, run: RunRef) -> str:
        """``BRANCH:PATH`` of the run's config file, for plain git commands."""
        return f"{self.branch}:{run.config_path}"


# How a commit message names a summary or meta key, so it never reads as a config key.
SUMMARY_PREFIX = "summary:"
META_PREFIX = "meta:"


def _labelled(changes: Sequence[Change], prefix: str) -> list[Change]:
    return [Change(prefix + c.key, c.old, c.new) for c in changes]


def _flow(value: Any) -> str:
    """A value as it appears on its line of a stored config file."""
    return yamlcodec.flow_text(value)


def _joined(messages: Sequence[_Message]) -> str:
    """One commit message of several changes: subjects on the first line, trailers last."""
    subject = "; ".join(m.subject for m in messages)
    bodies = "".join(m.body + "\n\n" for m in messages if m.body)
    return f"{subject}\n\n{bodies}" + "\n".join(t for m in messages for t in m.trailers) + "\n"


def _update_message(run: RunRef, changes: Sequence[Change], message: str | None) -> _Message:
    keys = ", ".join(c.key for c in changes[:6]) + (", ..." if len(changes) > 6 else "")
    subject = (
        message.strip().split("\n")[0] if message and message.strip() else f"update {run}: {keys}"
    )
    lines = []
    for change in changes:
        if change.kind == "added":
            lines.append(f"+ {change.key}: {_flow(change.new)}")
        elif change.kind == "removed":
            lines.append(f"- {change.key}: {_flow(change.old)}")
        else:
            lines.append(f"~ {change.key}: {_flow(change.old)} -> {_flow(change.new)}")
    body = ""
    if message and "\n" in message.strip():
        body = message.strip().split("\n", 1)[1].strip() + "\n\n"
    return _Message(subject, body + "\n".join(lines), [f"Gitcfg-Run: {run}"])


_GIT_GC_AUTO = 6700  # git's default gc.auto


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default


def _code_repo_of_cwd(store_repo: GitRepo) -> GitRepo | None:
    try:
        repo = GitRepo.discover(Path.cwd())
    except RepositoryError:
        return None
    if repo.common_dir == store_repo.common_dir and repo.git_dir == store_repo.git_dir:
        return store_repo
    return repo if repo.worktree is not None else None
