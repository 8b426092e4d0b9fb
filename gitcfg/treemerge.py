"""Merging two versions of the store branch: runs file by file, configs and summaries key by key.

Runs created on different machines live in different directories, so they merge as plain file
additions. A run changed on both sides is merged three-way against the common version, one key at
a time; the same key set to different values on both sides is a conflict. The result is written
in-process as new trees on top of our side, rewriting only the directories that changed; the
new objects go into one pack (``gitcfg.git.packwrite``), written only when the merge succeeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field

from gitcfg import yamlcodec
from gitcfg.diff import Side, diff_configs, merge_configs
from gitcfg.errors import CorruptStoreError, YamlError
from gitcfg.git import GitRepo, ObjectReader, TreeEntry, is_null
from gitcfg.git.packwrite import PackWriter
from gitcfg.layout import CONFIG_FILE, META_FILE, SUMMARY_FILE, parse_run_path


@dataclass(frozen=True)
class FileChange:
    mode: str
    blob: str | None  # None: deleted
    status: str  # git's letter: A added, M modified, D deleted
    old_mode: str = ""  # before the change ("" and None: added)
    old_blob: str | None = None

    def same_content(self, other: FileChange) -> bool:
        return (self.mode, self.blob) == (other.mode, other.blob)


@dataclass
class MergeOutcome:
    tree: str
    added: int = 0
    updated: int = 0
    conflicts: dict[str, list[str]] = field(default_factory=dict)


def changed_files(repo: GitRepo, old: str, new: str) -> dict[str, FileChange]:
    """Files that differ between two commits or trees, with their new mode and blob."""
    proc = repo.git("diff-tree", "-r", "-z", "--no-renames", old, new)
    fields = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    changes: dict[str, FileChange] = {}
    for i in range(0, len(fields) - 1, 2):
        info, path = fields[i], fields[i + 1]
        if not info.startswith(":"):
            continue
        old_mode, new_mode, old_blob, new_blob, status = info[1:].split(" ")
        changes[path] = FileChange(
            new_mode,
            None if is_null(new_blob) else new_blob,
            status,
            "" if is_null(old_blob) else old_mode,
            None if is_null(old_blob) else old_blob,
        )
    return changes


_LABELS = {SUMMARY_FILE: "summary:", META_FILE: "meta:"}
# A conflict's entry for a run one side deleted while the other changed it.
DELETED_AND_CHANGED = "deleted on one side, changed on the other"


def _deleted_against_changed(
    mine: Mapping[str, FileChange], their: Mapping[str, FileChange]
) -> dict[str, Side]:
    """``{run directory: the side that deleted it}`` of the runs one side deleted (their
    config.yaml) while the other changed any of their files. Such a run is merged whole: file
    by file, --ours or --theirs would keep some of its files and drop the others (a config
    without its meta.yaml and summary.yaml)."""
    found: dict[str, Side] = {}
    sides: tuple[tuple[Side, Mapping[str, FileChange], Mapping[str, FileChange]], ...] = (
        ("ours", mine, their),
        ("theirs", their, mine),
    )
    for side, changes, other in sides:
        touched = {path.rpartition("/")[0] for path in other if parse_run_path(path)}
        for path, change in changes.items():
            parsed = parse_run_path(path)
            if parsed is None or parsed[1] != CONFIG_FILE or change.blob is not None:
                continue
            directory = path.rpartition("/")[0]
            both = other.get(path)
            if directory in touched and not (both is not None and both.blob is None):
                found[directory] = side
    return found


def _whole_run(
    directory: str,
    deleter: Side,
    prefer: Side,
    mine: Mapping[str, FileChange],
    their: Mapping[str, FileChange],
) -> dict[str, FileChange]:
    """The changes to our tree that make run ``directory`` the ``prefer`` side's whole run."""
    prefix = directory + "/"
    if prefer == "ours":
        return {}  # our tree holds our version already
    result = {path: change for path, change in their.items() if path.startswith(prefix)}
    for path, change in mine.items():
        if not path.startswith(prefix) or path in result:
            continue
        if deleter == "theirs" and change.blob is not None:
            result[path] = FileChange(change.mode, None, "D")  # a file we added to a run gone
        elif deleter == "ours" and change.blob is None and change.old_blob is not None:
            result[path] = FileChange(change.old_mode, change.old_blob, "A")  # theirs kept it
    return result


def merge_commits(
    repo: GitRepo,
    base: str | None,
    ours: str,
    theirs: str,
    prefer: Side | None = None,
    *,
    writer: PackWriter,
) -> MergeOutcome:
    """Merge commit ``theirs`` into ``ours``; conflicts are reported, not written.

    The new objects go through ``writer``; the caller releases its pack once the branch
    points at the merge (or will not).
    """
    empty = repo.write_tree([])
    base_rev = base or empty
    mine = changed_files(repo, base_rev, ours)
    their = changed_files(repo, base_rev, theirs)
    result: dict[str, FileChange] = {}
    outcome = MergeOutcome(tree="")
    new_runs: set[str] = set()
    changed_runs: set[str] = set()
    whole = _deleted_against_changed(mine, their)
    for directory, deleter in whole.items():
        parsed = parse_run_path(directory + "/" + CONFIG_FILE)
        run = str(parsed[0]) if parsed else directory
        if prefer is None:
            outcome.conflicts.setdefault(run, []).append(DELETED_AND_CHANGED)
            continue
        result.update(_whole_run(directory, deleter, prefer, mine, their))
        if prefer == "theirs" != deleter:
            changed_runs.add(run)  # their run, back in ours
    with ObjectReader(repo) as reader:
        for path, change in their.items():
            if path.rpartition("/")[0] in whole:
                continue  # merged whole, above
            mine_change = mine.get(path)
            parsed = parse_run_path(path)
            run = str(parsed[0]) if parsed else path
            if mine_change is None:
                result[path] = change
            elif mine_change.same_content(change):
                continue
            elif (
                parsed is not None
                and parsed[1] in (CONFIG_FILE, META_FILE, SUMMARY_FILE)
                and change.blob is not None
                and mine_change.blob is not None
            ):
                merged = _merge_file(
                    repo, writer, reader, path, base, mine_change.blob, change.blob, prefer
                )
                if isinstance(merged, list):  # keys named as 'gitcfg update' names them
                    label = _LABELS.get(parsed[1], "")
                    outcome.conflicts.setdefault(run, []).extend(label + k for k in merged)
                    continue
                if merged != mine_change.blob:
                    result[path] = FileChange(mine_change.mode, merged, "M")
            elif prefer == "theirs":
                result[path] = change
            elif prefer != "ours":
                outcome.conflicts.setdefault(run, []).append(path.rsplit("/", 1)[-1])
                continue
            else:
                continue
            if parsed is not None and parsed[1] == CONFIG_FILE:
                (new_runs if change.status == "A" else changed_runs).add(run)
        if outcome.conflicts:
            return outcome
        our_tree = repo.read_commit(ours, reader).tree
        outcome.tree = _apply(repo, writer, our_tree, result, reader) or empty
    writer.flush()
    outcome.added = len(new_runs)
    outcome.updated = len(changed_runs)
    return outcome


def _lookup_blob(repo: GitRepo, reader: ObjectReader, rev: str, path: str) -> str | None:
    kind, _body = repo.read_object(rev, reader)
    tree = rev if kind == "tree" else repo.read_commit(rev, reader).tree
    sha: str | None = tree
    for name in path.split("/"):
        if sha is None:
            return None
        entry = next((e for e in repo.read_tree(sha, reader) if e.name == name), None)
        sha = entry.sha if entry is not None else None
    return sha


def _merge_file(
    repo: GitRepo,
    writer: PackWriter,
    reader: ObjectReader,
    path: str,
    base: str | None,
    our_blob: str,
    their_blob: str,
    prefer: Side | None,
) -> str | list[str]:
    """The merged blob of a config or meta file, or the list of conflicting keys."""
    base_blob = _lookup_blob(repo, reader, base, path) if base else None
    base_text = _text(repo, reader, base_blob) if base_blob else ""
    our_text = _text(repo, reader, our_blob)
    their_text = _text(repo, reader, their_blob)
    try:
        base_cfg = yamlcodec.load_config(base_text, path) if base_text else {}
        our_cfg = yamlcodec.load_config(our_text, path)
        their_cfg = yamlcodec.load_config(their_text, path)
    except YamlError as exc:
        raise CorruptStoreError(f"{path} does not parse in the merge: {exc.problem}") from exc
    merged, conflicts = merge_configs(base_cfg, our_cfg, their_cfg, prefer)
    if conflicts:
        return conflicts
    changes = diff_configs(our_cfg, merged)
    if not changes:
        return our_blob
    new_text = yamlcodec.update_config_text(
        our_text,
        {c.key: c.new for c in changes if c.kind != "removed"},
        [c.key for c in changes if c.kind == "removed"],
    )
    return writer.write_blob(new_text.encode())


def _text(repo: GitRepo, reader: ObjectReader, blob: str) -> str:
    _kind, body = repo.read_object(blob, reader)
    return body.decode("utf-8", "replace")


def _apply(
    repo: GitRepo,
    writer: PackWriter,
    tree: str | None,
    changes: Mapping[str, FileChange],
    reader: ObjectReader,
) -> str | None:
    """``tree`` with the files in ``changes`` replaced; each changed directory written once."""
    entries = {e.name: e for e in repo.read_tree(tree, reader)} if tree else {}
    nested: dict[str, dict[str, FileChange]] = defaultdict(dict)
    for path, change in changes.items():
        head, slash, rest = path.partition("/")
        if slash:
            nested[head][rest] = change
        elif change.blob is None:
            entries.pop(head, None)
        else:
            entries[head] = TreeEntry(change.mode, head, change.blob)
    for head, sub in nested.items():
        child = entries.get(head)
        sub_tree = child.sha if child is not None and child.is_tree else None
        new = _apply(repo, writer, sub_tree, sub, reader)
        if new is None:
            entries.pop(head, None)
        else:
            entries[head] = TreeEntry("40000", head, new)
    return writer.write_tree(entries.values()) if entries else None
