"""``GitRepo``: one repository on disk, its objects and refs, without a long-lived git process."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from gitcfg.errors import CorruptStoreError, RepositoryError, UnsafeRepositoryError
from gitcfg.git.catfile import ObjectReader
from gitcfg.git.hashes import HashAlgo, object_format, read_config_text
from gitcfg.git.identity import Identity, Signers, git_date, signers_from
from gitcfg.git.loose import LooseObjects, header
from gitcfg.git.maintenance import start_auto_gc
from gitcfg.git.objects import (
    Commit,
    TreeEntry,
    format_commit,
    format_tree,
    parse_commit,
    parse_tree,
)
from gitcfg.git.pack import PackStore
from gitcfg.git.perms import parse_shared, shared_in
from gitcfg.git.process import run_git
from gitcfg.git.refs import Refs
from gitcfg.git.smallpack import Entry, entries_of, roll_up, write_small_pack

# core.fsync's aggregate names, expanded to the components gitcfg writes (a pack and its index
# are one here: git's "pack" and "pack-metadata").
_FSYNC_GROUPS = {
    "objects": {"loose-object", "pack"},
    "pack-metadata": {"pack"},
    "committed": {"loose-object", "pack", "reference"},
    "added": {"loose-object", "pack", "reference"},
    "all": {"loose-object", "pack", "reference"},
}
# Fewer objects than this are written loose even while held: a pack is two files.
_SMALL_PACK_MIN = 4
_TRUE = {"true", "yes", "on", "1"}


class GitRepo:
    """A git repository located on disk, read and written without a long-lived git process."""

    def __init__(
        self, git_dir: Path, common_dir: Path, worktree: Path | None, *, bare: bool = False
    ) -> None:
        self.git_dir = git_dir
        self.common_dir = common_dir
        self.worktree = worktree
        self.objects_dir = object_directory(common_dir)
        config_text = read_config_text(common_dir)
        algo = object_format(config_text)
        if algo is None:
            raise RepositoryError(
                f"{common_dir} uses an object format gitcfg does not know; "
                f"gitcfg supports SHA-1 and SHA-256 repositories"
            )
        self.algo: HashAlgo = algo
        # core.sharedRepository: the repository's own setting until the full config is read
        self.shared = shared_in(config_text)
        self.loose = LooseObjects(self.objects_dir, algo, shared=self.shared)
        self._packs = PackStore(self.objects_dir, algo, self.loose.read)
        self.refs = Refs(
            git_dir,
            common_dir,
            algo,
            self.git,
            bare=bare,
            reftable=_uses_reftable(config_text),
        )
        self.refs.shared = self.shared
        # Who commits (the committer also appears in reflog entries); set by the store from
        # the config it read at open.
        self.identity: Signers | None = None
        self._trees: dict[str, tuple[TreeEntry, ...]] = {}
        # True: a thread's new objects wait for its next ref update, then go into one small
        # pack (gitcfg.git.smallpack), for a writer that commits often and rolls the packs up
        # (a sweep). Held by thread: a sweep's jobs commit from threads of their own.
        self.pack_writes = False
        # core.fsync's "pack" (on by default): a roll-up's pack replaces packs that may be on
        # disk already, so it is synced before they go. A commit's own small pack stands in
        # for loose objects and follows their setting (off by default, as in git).
        self.pack_fsync = True
        self._held = threading.local()
        # the small packs this process wrote and has not rolled up yet: names and entries
        self._unrolled: list[tuple[str, list[Entry]]] = []
        self._unrolled_lock = threading.Lock()
        self.gc_detach = True  # gc.autoDetach
        # maintenance.auto and maintenance.gc.enabled: whether git's own commands would start
        # the gc after a commit (run-command.c run_auto_maintenance, builtin/gc.c)
        self.auto_gc_enabled = True
        self.gc_pack_limit = _GC_AUTO_PACK_LIMIT  # gc.autoPackLimit

    # -- discovery ---------------------------------------------------------------------------

    @classmethod
    def discover(cls, path: str | os.PathLike[str]) -> GitRepo:
        """Find the repository containing ``path`` (a work tree, subdirectory or bare repo)."""
        where = Path(path)
        if not where.is_dir():
            raise RepositoryError(
                f"{where} is not a directory; point GITCFG_REPO or repo= at a git repository"
            )
        proc = run_git(
            [
                "rev-parse",
                "--absolute-git-dir",
                "--git-common-dir",
                "--is-bare-repository",
                "--is-inside-work-tree",
                "--show-cdup",
            ],
            where,
            check=False,
        )
        if proc.returncode != 0:
            raise _discovery_error(where, proc.stderr.decode(errors="replace"))
        lines = proc.stdout.decode().split("\n")
        git_dir = Path(lines[0])
        common = Path(lines[1])
        common_dir = (common if common.is_absolute() else where / common).resolve()
        bare = lines[2] == "true"
        inside = lines[3] == "true"
        worktree = (where / lines[4]).resolve() if inside and not bare else None
        return cls(git_dir, common_dir, worktree, bare=bare)

    @property
    def cwd(self) -> Path:
        return self.worktree or self.git_dir

    @property
    def empty_tree(self) -> str:
        return self.algo.empty_tree

    def git(
        self,
        *args: str,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        return run_git(args, self.cwd, input=input, env=env, check=check)

    def config_values(self, pattern: str) -> dict[str, str]:
        """Git config entries whose names match the regex ``pattern`` (last value wins)."""
        return parse_config(self.git(*config_command(pattern), check=False).stdout)

    def apply_settings(self, config: Mapping[str, str]) -> None:
        """Take git's durability and locking settings from ``config`` (see ``SETTINGS``)."""
        fsync = _fsync_components(config.get("core.fsync", ""))
        self.loose.fsync = (
            config.get("core.fsyncobjectfiles", "").lower() in _TRUE or "loose-object" in fsync
        )
        self.refs.fsync = "reference" in fsync
        self.pack_fsync = "pack" in fsync
        timeout = config.get("core.filesreflocktimeout", "")
        if timeout.lstrip("-").isdigit():
            self.refs.lock_timeout_ms = max(0, int(timeout)) if int(timeout) >= 0 else 10**9
        self.refs.log_all = config.get("core.logallrefupdates") or None
        if "core.sharedrepository" in config:
            self.shared = parse_shared(config["core.sharedrepository"])
            self.loose.shared = self.refs.shared = self.shared
        self.gc_detach = config.get("gc.autodetach", "true").lower() in _TRUE
        self.auto_gc_enabled = _config_bool(config.get("maintenance.auto"), True) and (
            _config_bool(config.get("maintenance.gc.enabled"), True)
        )
        limit = config.get("gc.autopacklimit", "")
        self.gc_pack_limit = int(limit) if limit.lstrip("-").isdigit() else _GC_AUTO_PACK_LIMIT

    # -- objects -----------------------------------------------------------------------------

    def write_object(self, kind: str, data: bytes) -> str:
        """Store an object as a loose file and return its id (see ``gitcfg.git.loose``); with
        ``pack_writes`` on, hold it for this thread's next ref update (``store_held``)."""
        if not self.pack_writes:
            return self.loose.write(kind, data)
        sha = self.algo.hexdigest(header(kind, len(data)) + data)
        held: dict[str, tuple[str, bytes]] | None = getattr(self._held, "objects", None)
        if held is None:
            held = self._held.objects = {}
        held[sha] = (kind, data)
        return sha

    def store_held(self) -> None:
        """Store the objects this thread holds (``pack_writes``) as one small pack, or loose if
        a handful, where a pack saves nothing. Every ref update of the thread does it first."""
        held: dict[str, tuple[str, bytes]] | None = getattr(self._held, "objects", None)
        if not held:
            return
        if len(held) < _SMALL_PACK_MIN:
            for kind, data in held.values():
                self.loose.write(kind, data)
        else:
            entries = entries_of(held.values(), self.algo)
            name = write_small_pack(
                self.objects_dir, entries, self.algo, fsync=self.loose.fsync, shared=self.shared
            )
            with self._unrolled_lock:
                self._unrolled.append((name, entries))
        self._held.objects = None  # after the write: a failed one keeps them for a retry

    @property
    def unrolled_packs(self) -> int:
        """How many small packs this process wrote since its last ``roll_small_packs``."""
        return len(self._unrolled)

    def roll_small_packs(self) -> None:
        """Join the small packs this process wrote since the last call into one pack, from
        the entries it still holds (no git process, nothing deflated again)."""
        with self._unrolled_lock:
            packs, self._unrolled = self._unrolled, []
            if len(packs) < 2 or self.has_multi_pack_index():
                return  # one pack, or git's repack joins them (it keeps the midx right)
            # housekeeping, as a gc is: a failure leaves the small packs as they are, sound
            with contextlib.suppress(RepositoryError):
                roll_up(
                    self.objects_dir, packs, self.algo, fsync=self.pack_fsync, shared=self.shared
                )

    def has_multi_pack_index(self) -> bool:
        """Whether a multi-pack-index lists packs (``git maintenance``'s incremental-repack
        writes one): only git's own repack may then remove a pack, as it rewrites the index."""
        pack_dir = f"{self.objects_dir}{os.sep}pack{os.sep}"
        return os.path.exists(pack_dir + "multi-pack-index") or os.path.isdir(
            pack_dir + "multi-pack-index.d"
        )

    def pack_count(self) -> int:
        """How many packs ``git gc --auto`` counts: not kept ones, nor cruft packs."""
        try:
            names = os.listdir(f"{self.objects_dir}{os.sep}pack")
        except FileNotFoundError:
            return 0
        # packs git does not count: kept ones, and cruft packs (unreachable objects)
        skip = (".keep", ".mtimes")
        kept = {name.rpartition(".")[0] for name in names if name.endswith(skip)}
        return sum(1 for n in names if n.endswith(".pack") and n[:-5] not in kept)

    def read_object(self, sha: str, reader: ObjectReader | None = None) -> tuple[str, bytes]:
        """Read one object in-process (loose or packed), else through ``reader`` (cat-file).

        The cat-file fallback covers what the pack reader does not: alternates, version-1
        indexes, and anything that looks wrong in a pack (it then never guesses).
        """
        held: dict[str, tuple[str, bytes]] | None = getattr(self._held, "objects", None)
        found = held.get(sha) if held else None
        if found is None:
            found = self.loose.read(sha)
        if found is None:
            found = self._packs.read(sha)
        if found is not None:
            return found
        if reader is not None:
            return reader.read(sha)
        with ObjectReader(self) as batch:
            return batch.read(sha)

    def write_blob(self, data: bytes) -> str:
        return self.write_object("blob", data)

    def write_tree(self, entries: Iterable[TreeEntry]) -> str:
        listed = list(entries)
        sha = self.write_object("tree", format_tree(listed))
        self._remember_tree(sha, listed)
        return sha

    def read_tree(self, sha: str, reader: ObjectReader | None = None) -> list[TreeEntry]:
        known = self._trees.get(sha)
        if known is not None:
            return list(known)
        kind, body = self.read_object(sha, reader)
        if kind != "tree":
            raise CorruptStoreError(f"{sha} is a {kind}, expected a tree")
        entries = parse_tree(body, self.algo.rawsz)
        self._remember_tree(sha, entries)
        return entries

    def _remember_tree(self, sha: str, entries: list[TreeEntry]) -> None:
        # The next commit of this process starts from the trees the last one wrote (the path
        # from the root to a run): reading them back from disk is most of a commit's reads.
        # A tree's id names its content, so a remembered tree is never stale.
        if len(self._trees) >= _TREES_REMEMBERED:
            # another thread (a sweep's) may drop the same oldest tree, or add one, meanwhile
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del self._trees[next(iter(self._trees))]
        self._trees[sha] = tuple(entries)

    def write_commit(
        self,
        tree: str,
        parents: Sequence[str],
        message: str,
        author: Identity,
        committer: Identity | None = None,
    ) -> str:
        """A commit object; ``committer`` defaults to the author, dates to now."""
        now = time.time()
        signed = author.signature(now)
        if committer is not None and committer != author:
            committed = committer.signature(now)
        else:
            committed = signed
        return self.write_object("commit", format_commit(tree, parents, signed, committed, message))

    def read_commit(self, sha: str, reader: ObjectReader | None = None) -> Commit:
        kind, body = self.read_object(sha, reader)
        if kind != "commit":
            raise CorruptStoreError(f"{sha} is a {kind}, expected a commit")
        return parse_commit(sha, body)

    def needs_gc(self, auto: int) -> bool:
        """Whether ``git gc --auto`` would do anything with ``gc.auto`` = ``auto``: too many loose
        objects, or more packs than ``gc.autoPackLimit`` (git's two tests, made the same way).
        Never when the user turned automatic maintenance off (``maintenance.auto=false``)."""
        if auto <= 0 or not self.auto_gc_enabled:
            return False
        if self.gc_pack_limit > 0 and self.pack_count() > self.gc_pack_limit:
            return True
        return self.loose.too_many(auto)

    def auto_gc(self, *, gc: bool = True) -> bool:
        """Start ``git gc --auto`` detached (see ``gitcfg.git.maintenance``); ``gc=False``: only
        the geometric repack that follows it, which rolls small packs up."""
        return start_auto_gc(
            self.common_dir,
            self.cwd,
            objects_dir=self.objects_dir,
            geometric=self.gc_pack_limit > 0,
            gc=gc,
            detach=self.gc_detach,
            shared=self.shared,
        )

    # -- refs --------------------------------------------------------------------------------

    def read_ref(self, name: str) -> str | None:
        """The object id a ref points to (symbolic refs followed), or None if it does not exist."""
        return self.refs.read(name)

    def ref_target(self, name: str) -> str:
        """The ref that an update of ``name`` moves: ``name``, or where its symbolic ref leads."""
        return self.refs.target(name)

    def resolve_ref(self, name: str) -> tuple[str, str | None]:
        """``ref_target(name)`` and ``read_ref(name)``, from one read of the ref."""
        return self.refs.resolve(name)

    def symbolic_head(self) -> str | None:
        """The branch HEAD points to (``refs/heads/main``), or None when detached."""
        return self.refs.symbolic_head()

    def head(self) -> tuple[str | None, str | None]:
        """HEAD's branch (None when detached) and commit (None before the first commit)."""
        return self.refs.head()

    def update_ref(self, name: str, new: str, old: str | None, message: str) -> bool:
        """Point ``name`` at ``new`` only if it still points at ``old`` (None: must not exist);
        a symbolic ref is followed, as ``git update-ref`` follows it.

        Returns False when another writer got there first, so the caller can retry on the new tip.
        """
        self.store_held()  # the objects the new value reaches, before the ref can lead to them
        who = (self.identity or default_identity(self)).committer.signature()
        return self.refs.update(name, new, old, message, who)

    def check_ref_room(self, name: str) -> None:
        """Raise RefNameClashError if a ref is a directory of ``name`` or lies inside it."""
        self.refs.check_room(name)

    def keep_ref(self, name: str, sha: str) -> None:
        """Create ``name`` pointing at ``sha`` unless it exists; used to pin commits against gc."""
        if self.read_ref(name) == sha:
            return
        if not self.update_ref(name, sha, None, "gitcfg: keep"):
            current = self.read_ref(name)
            if current != sha:
                raise CorruptStoreError(f"ref {name} points at {current}, expected {sha}")

    def rev_parse(self, rev: str) -> str | None:
        """Resolve any revision expression to a full object id, or None."""
        if self.algo.is_id(rev) and self.loose.exists(rev):
            return rev
        proc = self.git("rev-parse", "--verify", "-q", "--end-of-options", rev, check=False)
        return proc.stdout.decode().strip() or None


def _discovery_error(where: Path, stderr: str) -> RepositoryError:
    """Why git found no repository at ``where``, as git said it (its ``fatal:`` line)."""
    dubious = _DUBIOUS.search(stderr)
    if dubious is not None:
        # git finds the repository and refuses it: saying "not a repository" would send the
        # user to 'git init' over their own repository
        command = _SAFE_DIRECTORY.search(stderr)
        path = dubious.group(1)
        return UnsafeRepositoryError(
            path,
            command.group(0).strip()
            if command is not None
            else f"git config --global --add safe.directory {path}",
        )
    lines = [line for line in stderr.splitlines() if line.startswith("fatal: ")]
    if not lines or "not a git repository" in lines[-1]:
        return RepositoryError(
            f"{where.resolve()} is not inside a git repository; run 'git init' there, "
            f"or set GITCFG_REPO (or pass repo=) to the repository that should hold the runs"
        )
    return RepositoryError(
        f"git cannot open the repository around {where.resolve()}: "
        f"{lines[-1].removeprefix('fatal: ')}; fix that (see 'git status' there), or set "
        f"GITCFG_REPO (or pass repo=) to another repository"
    )


# How git (2.35.2 and later) refuses a repository owned by another user, and the command it
# suggests for it.
_DUBIOUS = re.compile(r"dubious ownership in repository at '([^\n]*)'")
_SAFE_DIRECTORY = re.compile(r"git config --global --add safe\.directory [^\n]*")

_GC_AUTO_PACK_LIMIT = 50  # git's default gc.autoPackLimit

# Trees kept in memory by id (oldest dropped first): the paths from root to run of the last
# ~80 commits, as far back as a sweep's points end (each commit writes a dozen trees).
_TREES_REMEMBERED = 1024

# The git config entries ``apply_settings`` and ``default_identity`` read, as one regex.
_IDENTITY = r"(user|author|committer)\.(name|email)"
SETTINGS = (
    _IDENTITY + r"|gc\.(autodetach|autopacklimit)|"
    r"core\.(fsync|fsyncobjectfiles|filesreflocktimeout|logallrefupdates|sharedrepository)|"
    r"maintenance\.(auto|gc\.enabled)"
)


def config_command(pattern: str) -> list[str]:
    """The git arguments that list config entries matching ``pattern``, NUL-separated."""
    return ["config", "-z", "--get-regexp", pattern]


def parse_config(out: bytes) -> dict[str, str]:
    """``git config -z --get-regexp`` output as a dict (the last value of a name wins)."""
    values: dict[str, str] = {}
    for item in out.decode(errors="replace").split("\0"):
        if item:
            name, _, value = item.partition("\n")
            values[name] = value
    return values


def default_identity(repo: GitRepo, config: Mapping[str, str] | None = None) -> Signers:
    """The author and committer git would use, from the environment or git config (``config``:
    the entries ``SETTINGS`` names, already read), else gitcfg's own identity."""
    values = config if config is not None else repo.config_values(f"^{_IDENTITY}$")
    return signers_from(values, lambda variable, value: git_date(variable, value, repo.cwd))


def _config_bool(value: str | None, default: bool) -> bool:
    """A boolean setting as git reads it (``git_config_bool``); ``default`` when unset or not a
    boolean at all (git would stop there with an error of its own)."""
    if value is None:
        return default
    text = value.strip().lower()
    if text in ("true", "yes", "on"):
        return True
    if text in ("false", "no", "off", ""):
        return False
    try:
        return int(text, 0) != 0
    except ValueError:
        return default


def _fsync_components(value: str) -> set[str]:
    """The components ``core.fsync`` leaves on, from git's default (packs, not loose objects
    nor refs)."""
    enabled: set[str] = {"pack"}
    for item in (part.strip().lower() for part in value.split(",")):
        name = item.removeprefix("-")
        parts = _FSYNC_GROUPS.get(name, {name})
        if item == "none":
            enabled.clear()
        elif item.startswith("-"):
            enabled -= parts
        elif item:
            enabled |= parts
    return enabled


def object_directory(common_dir: Path) -> Path:
    """Where git keeps this repository's objects: ``$GIT_OBJECT_DIRECTORY`` when set (as in a
    hook's object quarantine), else ``objects`` in the common directory. Every object gitcfg
    writes goes where the git processes it starts write theirs."""
    override = os.environ.get("GIT_OBJECT_DIRECTORY")
    return Path(os.path.abspath(override)) if override else common_dir / "objects"


def _uses_reftable(config_text: str) -> bool:
    return re.search(r"refstorage\s*=\s*reftable", config_text, re.IGNORECASE) is not None
