"""The ``gitcfg`` commands: a thin click layer over the library.

Each command opens the store lazily, makes one library call and formats the result with
``gitcfg.render`` and ``gitcfg.query``. Library errors become ``Error: <message>`` and an exit
code in one place, ``failure`` (raised by ``_Group.invoke``): 1 for a gitcfg error, 2 for a
usage or input error (click's own usage errors exit 2 too). The common form of ``gitcfg run``,
which starts without click (``gitcfg.cli.runcommand``), shows its errors through it as well.
Start-up stays cheap: the store and the YAML libraries are imported inside command bodies, so
``gitcfg --help`` loads neither.

Shell completion (bash, zsh, fish), with run ids completed from the store::

    eval "$(_GITCFG_COMPLETE=bash_source gitcfg)"    # in ~/.bashrc
    eval "$(_GITCFG_COMPLETE=zsh_source gitcfg)"     # in ~/.zshrc
    _GITCFG_COMPLETE=fish_source gitcfg > ~/.config/fish/completions/gitcfg.fish
"""

from __future__ import annotations

import contextlib
import functools
import gc
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from gitcfg import __version__
from gitcfg.errors import GitcfgError, InputError, UsageError

if TYPE_CHECKING:
    from gitcfg.diff import Side
    from gitcfg.layout import RunRef
    from gitcfg.listing import ListedRow, RunListing
    from gitcfg.override import Condition
    from gitcfg.remote import SyncResult
    from gitcfg.store import ConfigStore, RunRecord, Selection

# The order commands are listed in --help; push and pull are added by gitcfg's remote commands.
_COMMAND_ORDER = (
    "update",
    "edit",
    "show",
    "log",
    "diff",
    "runs",
    "history",
    "path",
    "push",
    "pull",
    "run",
    "sweep",
    "report",
)


class _Failure(click.ClickException):
    """A ``GitcfgError`` on its way out: ``Error: <message>`` on stderr, exit code 1."""

    def __init__(self, error: GitcfgError) -> None:
        super().__init__(error.one_line())
        self.error = error


class _UsageFailure(_Failure):
    """A ``UsageError`` or ``InputError``: one line like every gitcfg error, exit code 2."""

    exit_code = 2


def failure(error: GitcfgError) -> _Failure:
    """The one translation of a library error for the command line: its line and exit code."""
    return (_UsageFailure if error.exit_code == 2 else _Failure)(error)


class _Group(click.Group):
    """Lists commands in a fixed order and turns library errors into exit codes, once."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        rank = {name: i for i, name in enumerate(_COMMAND_ORDER)}
        return sorted(self.commands, key=lambda name: (rank.get(name, len(rank)), name))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GitcfgError as exc:
            raise failure(exc) from exc

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        # Global options also work after the subcommand, as git's do (`gitcfg runs --no-pager`).
        cmd.params.extend(_late_global_options())
        super().add_command(cmd, name)


def _late_global_options() -> list[click.Parameter]:
    """Hidden copies of the group's options for a subcommand; they update ``_Options``."""

    def set_repo(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            opts = ctx.find_object(_Options)
            if opts is not None:
                opts.repo, opts._store = value, None

    def set_no_pager(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        opts = ctx.find_object(_Options)
        if value and opts is not None:
            opts.pager = False

    def set_color(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        opts = ctx.find_object(_Options)
        if value is not None and opts is not None:
            opts.color_mode = value

    return [
        click.Option(["--repo"], hidden=True, expose_value=False, callback=set_repo),
        click.Option(
            ["--no-pager"], is_flag=True, hidden=True, expose_value=False, callback=set_no_pager
        ),
        click.Option(
            ["--color"],
            type=click.Choice(["auto", "always", "never"]),
            hidden=True,
            expose_value=False,
            callback=set_color,
        ),
    ]


@dataclass
class _Options:
    """The global options; the store is opened on first use, never by the group callback."""

    repo: str | None
    pager: bool
    color_mode: str
    _store: ConfigStore | None = field(default=None, repr=False)

    def store(self) -> ConfigStore:
        if self._store is None:
            from gitcfg.store import ConfigStore
            from gitcfg.stores import commit_kept

            self._store = ConfigStore.open(self.repo)
            commit_kept(self._store)  # changes runs kept when they ended (gitcfg.pending)
        return self._store

    @property
    def color(self) -> bool:
        """Colour like git: on a terminal, unless NO_COLOR is set; --color overrides both."""
        from gitcfg.cli.sweepcommand import color_wanted  # the rule the click-free sweep uses

        return color_wanted(self.color_mode)

    def out(self, text: str | Iterable[str], *, page: bool = False, plain: bool = False) -> None:
        """Write ``text`` (or its pieces) to stdout, through a pager when long on a terminal.

        ``plain``: the pieces hold no terminal escape (JSON text escapes every control
        character), so they are written as they are, not searched for one to strip (100,000
        runs: 100 MB)."""
        if not isinstance(text, str):
            if page and self.pager and _isatty(sys.stdout):
                text = "".join(text)
            elif plain:
                for piece in text:
                    sys.stdout.write(piece)
                sys.stdout.flush()
                return
            else:
                for piece in text:  # 100,000 runs are never one string
                    click.echo(piece, nl=False, color=self.color)
                return
        if page and self.pager and _isatty(sys.stdout) and _isatty(sys.stdin):
            rows = shutil.get_terminal_size().lines
            if text.count("\n") >= rows - 1 and _page(text, self.color):
                return
        click.echo(text, nl=False, color=self.color)


def _without_cycle_collection(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` run with Python's cycle collector paused: a listing of 100,000 runs holds
    their objects (none in a cycle), which the collector would walk again and again."""

    @functools.wraps(command)
    def paused(*args: Any, **kwargs: Any) -> None:
        enabled = gc.isenabled()
        gc.disable()
        try:
            command(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return paused


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _page(text: str, color: bool) -> bool:
    """Show ``text`` in the pager git would use; False when paging is turned off."""
    env = os.environ
    pager = env["GIT_PAGER"] if "GIT_PAGER" in env else env.get("PAGER", "less")
    if pager.strip() in ("", "cat"):
        return False
    # git's defaults: quit at once if it fits, keep colours, do not clear the screen
    with _environ(PAGER=pager, LESS=env.get("LESS", "FRX"), LV=env.get("LV", "-c")):
        click.echo_via_pager(text, color=color)
    return True


@contextlib.contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def _complete_run(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Shell completion of RUN: ids and project/id names of the store's runs."""
    from click.shell_completion import CompletionItem  # only completion needs it

    from gitcfg.store import ConfigStore

    try:
        refs = ConfigStore.open(ctx.find_root().params.get("repo")).run_refs()
    except GitcfgError:
        return []
    names = sorted({r.id for r in refs} | {str(r) for r in refs})
    return [CompletionItem(name) for name in names if name.startswith(incomplete)]


def _latest(selector: str, selection: Selection, verb: str) -> None:
    if selection.back:
        raise UsageError(
            f"{selector!r} names an old version; {verb} applies to the latest one, "
            f"so give {selection.ref}"
        )


CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.option(
    "--repo",
    metavar="PATH",
    help="Git repository holding the runs (default: $GITCFG_REPO, else the one around the cwd).",
)
@click.option("--no-pager", is_flag=True, help="Never page long output.")
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour the output; auto: on a terminal unless NO_COLOR is set.",
)
@click.version_option(__version__, "--version", prog_name="gitcfg")
@click.pass_context
def cli(ctx: click.Context, repo: str | None, no_pager: bool, color: str) -> None:
    """Run configs recorded as commits on the gitcfg branch of your git repository.

    RUN is project/id, an id, or a unique id prefix; RUN~N is its N-th previous version.
    KEY=VALUE values are YAML 1.2 (32 int, 1e-3 float, true, null, [1, 2], {a: 1});
    quote for a string: foo="'32'". Dotted keys address nested values.

    Exit codes: 0 ok, 1 a gitcfg error, 2 a usage error.
    Shell completion: eval "$(_GITCFG_COMPLETE=bash_source gitcfg)".

    \b
    Examples:
      gitcfg runs --where lr<0.01
      gitcfg update 3k9x2a7q lr=1e-3
      git diff $(gitcfg path 3k9x) $(gitcfg path 7b2q)
    """
    ctx.obj = _Options(repo, pager=not no_pager, color_mode=color)


run_argument = click.argument("run", metavar="RUN", shell_complete=_complete_run)


@cli.command()
@run_argument
@click.argument("assignments", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove KEY (and keys under it).")
@click.option("-m", "--message", metavar="MSG", help="Commit message (default: the keys).")
@click.option("--dry-run", is_flag=True, help="Show the change, commit nothing.")
@click.pass_obj
def update(
    opts: _Options,
    run: str,
    assignments: tuple[str, ...],
    unset: tuple[str, ...],
    message: str | None,
    dry_run: bool,
) -> None:
    """Change config keys (and summary:KEY results) of RUN in one new commit, and print the
    change.

    Keys are named as in 'gitcfg runs': summary:KEY is a key of the run's summary (its
    results), config:KEY always a config key, any other KEY a config key. Nothing changes
    (the values are already so): no commit, exit 0.

    \b
    Examples:
      gitcfg update 3k9x2a7q lr=1e-3 batch_size=64
      gitcfg update mnist/3k9x2a7q model.layers='[128, 64]' --unset dropout -m "fix arch"
      gitcfg update 3k9x summary:test_acc=0.91 --unset summary:tmp
      gitcfg update 3k9x tag="'32'" --dry-run      # the string '32', not the number
    """
    from gitcfg.diff import Change
    from gitcfg.errors import ConfigKeyError
    from gitcfg.override import parse_override
    from gitcfg.query import CONFIG, NAMESPACES, SUMMARY
    from gitcfg.render import change_lines

    parts: dict[str, dict[str, Any]] = {"config": {}, "summary": {}}
    for arg in assignments:
        name, value = parse_override(arg)
        part, key = _updated_part(name)
        parts[part][_namespaced_key(key, name)] = value
    unsets: dict[str, list[str]] = {"config": [], "summary": []}
    for name in unset:
        part, key = _updated_part(name)
        unsets[part].append(_namespaced_key(key, name))
    if not assignments and not unset:
        raise UsageError(
            "nothing to update; give KEY=VALUE or --unset KEY, e.g. 'gitcfg update RUN lr=0.01'"
        )
    store = opts.store()
    selection = store.resolve(run)
    _latest(run, selection, "update")
    ref = selection.ref
    before = store.read(ref).config
    try:
        result = store.update(
            ref,
            parts["config"],
            unsets["config"],
            message=message,
            dry_run=dry_run,
            summary=parts["summary"],
            summary_unset=unsets["summary"],
        )
    except ConfigKeyError as exc:
        part = "config" if exc.key in unsets["config"] else "summary"
        raise GitcfgError(
            f"run {ref} has no {part} key {exc.key!r} to unset; see its keys with "
            f"'gitcfg show {ref}{' --summary' if part == 'summary' else ''}'"
        ) from exc
    for change in result.changes:
        if change.kind == "added":
            similar = _similar_keys(change.key, before)
            if similar:
                click.echo(
                    f"gitcfg: {change.key} is a new key of {ref}; did you mean "
                    f"{' or '.join(similar)}?",
                    err=True,
                )
    # named as the command line names them: a config key "summary:x" is config:summary:x
    labelled = [
        Change(CONFIG + c.key, c.old, c.new) if c.key.startswith(NAMESPACES) else c
        for c in result.changes
    ]
    labelled += [Change(SUMMARY + c.key, c.old, c.new) for c in result.summary_changes]
    if not labelled:
        opts.out(f"nothing to change: {ref} has these values already\n")
        return
    lines = change_lines(labelled, opts.color)
    if result.commit is None:
        lines.append(f"dry run: {ref} not changed, nothing committed")
    else:
        subject = message.strip().split("\n")[0] if message and message.strip() else "update"
        lines.append(f"[{store.branch} {result.commit[:7]}] {ref}: {subject}")
    opts.out("\n".join(lines) + "\n")


def _updated_part(name: str) -> tuple[str, str]:
    """``query.split_namespace`` of a key ``gitcfg update`` is to change: config or summary;
    meta.yaml is gitcfg's record of the run, and a column name must mean one thing."""
    from gitcfg.query import CONFIG, split_namespace

    part, key = split_namespace(name)
    if part == "meta":
        raise InputError(
            f"{name!r} is a key of the run's meta.yaml, which 'gitcfg update' does not change; "
            f"for a config key of that name write {CONFIG}{name}"
        )
    return part, key


def _namespaced_key(key: str, name: str) -> str:
    """The key after a ``summary:``/``config:`` namespace, checked (``summary:`` alone names
    nothing)."""
    from gitcfg.errors import ConfigError
    from gitcfg.flat import check_key

    if key == name:
        return key  # checked already, or by the store
    try:
        return check_key(key)
    except ConfigError as exc:
        raise InputError(f"{name!r} names no key after the ':': {exc}") from exc


def _similar_keys(key: str, config: dict[str, Any]) -> list[str]:
    """Keys of ``config`` that end in the same name as the new ``key`` (lr -> optim.lr)."""
    last = key.rsplit(".", 1)[-1]
    return sorted(k for k in config if k != key and k.rsplit(".", 1)[-1] == last)[:3]


@cli.command()
@run_argument
@click.pass_obj
def edit(opts: _Options, run: str) -> None:
    """Edit RUN's config file in $VISUAL or $EDITOR, then commit what changed.

    The file is checked before anything is committed: YAML that does not parse, or a value
    gitcfg cannot store, is refused with the reason and the run stays as it was.

    \b
    Examples:
      gitcfg edit 3k9x2a7q
      EDITOR=nano gitcfg edit mnist/3k9x2a7q
    """
    from gitcfg.diff import MISSING, diff_configs
    from gitcfg.render import change_lines
    from gitcfg.yamlcodec import load_config

    store = opts.store()
    selection = store.resolve(run)
    _latest(run, selection, "edit")
    ref = selection.ref
    record = store.read(ref)
    blob = f"{record.commit}:{ref.config_path}"
    text = store.repo.git("cat-file", "blob", blob).stdout.decode("utf-8", "replace")
    edited = click.edit(text, extension=".yaml")
    if edited is None or edited == text:
        opts.out(f"no changes: {ref} not changed\n")
        return
    changes = diff_configs(record.config, load_config(edited, f"edited config of {ref}"))
    if not changes:
        opts.out(f"no config change: {ref} not changed\n")
        return
    keys = ", ".join(c.key for c in changes[:6]) + (", ..." if len(changes) > 6 else "")
    result = store.update(
        ref,
        {c.key: c.new for c in changes if c.new is not MISSING},
        [c.key for c in changes if c.new is MISSING],
        message=f"edit {ref}: {keys}",
        base=record.config,
    )
    lines = change_lines(result.changes, opts.color)
    if result.commit is not None:
        lines.append(f"[{store.branch} {result.commit[:7]}] {ref}: edit")
    opts.out("\n".join(lines) + "\n")


@cli.command()
@run_argument
@click.option("--nested", is_flag=True, help="Nest dotted keys (model.lr → model: {lr: ...}).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["yaml", "json"]),
    default="yaml",
    show_default=True,
    help="Output format.",
)
@click.option("--at", "rev", metavar="REV", help="As of a revision of the store branch.")
@click.option("--summary", "part", flag_value="summary", help="The summary (results) instead.")
@click.option("--all", "part", flag_value="all", help="Config and summary: {config, summary}.")
@click.pass_obj
def show(
    opts: _Options, run: str, nested: bool, fmt: str, rev: str | None, part: str | None
) -> None:
    """Print RUN's config: flat dotted keys, sorted, unless --nested.

    --summary prints its summary (the results it logged) the same way; --all prints both,
    as {config: ..., summary: ...}.

    \b
    Examples:
      gitcfg show 3k9x2a7q
      gitcfg show 3k9x~1 --format json      # the version before the latest
      gitcfg show mnist/3k9x2a7q --nested --at gitcfg~3
      gitcfg show 3k9x2a7q --summary
    """
    from gitcfg.flat import unflatten
    from gitcfg.render import json_text
    from gitcfg.yamlcodec import dump_config, dump_yaml

    store = opts.store()
    selection = store.resolve(run)
    if rev is not None and selection.back:
        raise UsageError(f"give {run!r} or --at {rev}, not both")
    if selection.back:
        version = store.version(selection)
        config, summary = version.config, version.summary
    else:
        record = store.read(selection.ref, at=rev)
        config, summary = record.config, record.summary
    if part == "all":
        both = {
            name: unflatten(dict(sorted(values.items())))
            if nested
            else dict(sorted(values.items()))
            for name, values in (("config", config), ("summary", summary))
        }
        opts.out(json_text(both) if fmt == "json" else dump_yaml(both), page=True)
        return
    flat = dict(sorted((summary if part == "summary" else config).items()))
    data: dict[str, Any] = unflatten(flat) if nested else flat
    if fmt == "json":
        opts.out(json_text(data), page=True)
    else:
        opts.out(dump_yaml(data) if nested else dump_config(flat), page=True)


@cli.command()
@click.argument("run", metavar="[RUN]", required=False, shell_complete=_complete_run)
@click.option("-p", "--patch", is_flag=True, help="Show the values each version changed.")
@click.option(
    "-n", "--max-count", "limit", type=click.IntRange(min=0), metavar="N", help="At most N."
)
@click.pass_obj
def log(opts: _Options, run: str | None, patch: bool, limit: int | None) -> None:
    """History of config changes, newest first: of RUN, or of every run.

    Each entry: the commit, its time, its message, and the keys it changed (-p: with values).

    \b
    Examples:
      gitcfg log 3k9x2a7q -p
      gitcfg log -n 20
    """
    from gitcfg.changelog import branch_log, run_log
    from gitcfg.diff import Change
    from gitcfg.render import log_entry

    store = opts.store()
    # the branch's log names each run a commit touched; one run's log names none
    label: Callable[[RunRef], str | None]
    if run is None:
        entries = branch_log(store, limit)
        label = str
    else:
        selection = store.resolve(run)
        entries = run_log(store, selection.ref)[selection.back :]
        entries = entries if limit is None else entries[:limit]
        label = _no_label
    lines: list[str] = []
    for entry in entries:
        runs: list[tuple[str | None, list[Change]]] = [
            (label(ref), changes) for ref, changes in entry.runs
        ]
        lines += log_entry(
            entry.commit,
            entry.time,
            entry.subject,
            runs,
            patch=patch,
            color=opts.color,
            invalid={label(ref): files for ref, files in entry.invalid.items()},
        )
    if lines:
        opts.out("\n".join(lines) + "\n", page=True)


def _no_label(ref: RunRef) -> None:
    return None


def _code_version(record: RunRecord) -> str:
    meta = record.meta
    version = meta.get("snapshot") if meta.get("dirty") else None
    version = version or meta.get("code_commit")
    if not isinstance(version, str) or not version:
        raise GitcfgError(
            f"run {record.ref} has no recorded code commit (it was not started in a git work "
            f"tree); diff it without --code"
        )
    return version


@cli.command()
@click.argument("run_a", metavar="RUN_A", shell_complete=_complete_run)
@click.argument("run_b", metavar="[RUN_B]", required=False, shell_complete=_complete_run)
@click.option("--code", is_flag=True, help="Add the git diff of the two runs' code versions.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.pass_obj
def diff(opts: _Options, run_a: str, run_b: str | None, code: bool, fmt: str) -> None:
    """Compare the configs and summaries of two runs, or of RUN_A and its previous version.

    Lists keys added (+), removed (-) and changed (~) with both values; summary keys are
    named summary:KEY. --code adds the git
    diff of the code each run ran with (its dirty snapshot if it had uncommitted changes).

    \b
    Examples:
      gitcfg diff 3k9x 7b2q
      gitcfg diff 3k9x2a7q                  # what the latest update changed
      gitcfg diff 3k9x~2 3k9x --code --format json
    """
    from gitcfg.diff import diff_configs
    from gitcfg.errors import RepositoryError, VersionNotFoundError
    from gitcfg.render import BOLD, change_lines, json_text, paint

    store = opts.store()
    sel_a = store.resolve(run_a)
    if run_b is None:
        versions = store.history(sel_a.ref)
        if sel_a.back >= len(versions):
            raise VersionNotFoundError(str(sel_a.ref), sel_a.back, len(versions))
        older = versions[sel_a.back + 1] if sel_a.back + 1 < len(versions) else None
        newer = versions[sel_a.back]
        for version in (newer, older) if older else (newer,):
            store.check_readable(sel_a.ref, version)
        old, new = (older.config if older else {}), newer.config
        old_summary, new_summary = (older.summary if older else {}), newer.summary
        label_a, label_b = f"{sel_a.ref}~{sel_a.back + 1}", _label(sel_a)
        record_a = record_b = store.read(sel_a.ref) if code else None
    else:
        sel_b = store.resolve(run_b)
        label_a, label_b = _label(sel_a), _label(sel_b)
        old, old_summary, record_a = _config_of(store, sel_a)
        new, new_summary, record_b = _config_of(store, sel_b)
    changes = diff_configs(old, new)
    summary_changes = diff_configs(old_summary, new_summary)
    code_text = ""
    code_versions: tuple[str, str] | None = None
    if code and record_a is not None and record_b is not None:
        code_versions = (_code_version(record_a), _code_version(record_b))
        repo = store.code_repo or store.repo
        color_flag = "--color=always" if opts.color and fmt == "text" else "--no-color"
        proc = repo.git("diff", "--no-ext-diff", color_flag, *code_versions, "--", check=False)
        if proc.returncode != 0:
            detail = (proc.stderr.decode(errors="replace").strip().splitlines() or ["?"])[-1]
            raise RepositoryError(
                f"cannot diff code versions {code_versions[0][:7]} and {code_versions[1][:7]}: "
                f"{detail}; run in the repository the runs were made in, or fetch those commits"
            )
        code_text = proc.stdout.decode("utf-8", "replace")
    if fmt == "json":
        data: dict[str, Any] = {
            "a": label_a,
            "b": label_b,
            "added": {c.key: c.new for c in changes if c.kind == "added"},
            "removed": {c.key: c.old for c in changes if c.kind == "removed"},
            "changed": {
                c.key: {"old": c.old, "new": c.new} for c in changes if c.kind == "changed"
            },
        }
        data["summary"] = {
            "added": {c.key: c.new for c in summary_changes if c.kind == "added"},
            "removed": {c.key: c.old for c in summary_changes if c.kind == "removed"},
            "changed": {
                c.key: {"old": c.old, "new": c.new} for c in summary_changes if c.kind == "changed"
            },
        }
        if code_versions is not None:
            data["code"] = {"a": code_versions[0], "b": code_versions[1], "diff": code_text}
        opts.out(json_text(data), page=True)
        return
    from gitcfg.diff import Change
    from gitcfg.store import SUMMARY_PREFIX

    lines: list[str] = []
    if changes or summary_changes:
        lines += [
            paint(f"--- {label_a}", BOLD, opts.color),
            paint(f"+++ {label_b}", BOLD, opts.color),
        ]
        lines += change_lines(changes, opts.color)
        labelled = [Change(SUMMARY_PREFIX + c.key, c.old, c.new) for c in summary_changes]
        lines += change_lines(labelled, opts.color)
    if code_versions is not None:
        a, b = code_versions
        if a == b:
            lines.append(f"same code version {a[:7]}")
        else:
            lines.append(paint(f"code {a[:7]}..{b[:7]}", BOLD, opts.color))
    text = "\n".join(lines) + "\n" if lines else ""
    opts.out(text + code_text, page=True)


def _label(selection: Selection) -> str:
    return f"{selection.ref}~{selection.back}" if selection.back else str(selection.ref)


def _config_of(
    store: ConfigStore, selection: Selection
) -> tuple[dict[str, Any], dict[str, Any], RunRecord]:
    """Config and summary of a selected run (``RUN~N``: of that version), and its record."""
    record = store.read(selection.ref)
    if selection.back:
        version = store.version(selection)
        return version.config, version.summary, record
    return record.config, record.summary, record


@cli.command()
@click.option("--project", metavar="P", help="Only runs of project P.")
@click.option(
    "--where",
    "conditions",
    multiple=True,
    metavar="EXPR",
    help="KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, KEY<VALUE or KEY<=VALUE; ANDed. "
    "tags=X: runs tagged X.",
)
@click.option(
    "--columns",
    metavar="K,..",
    help="Columns: fields (id, name, group...), config keys, summary:KEY, config:KEY.",
)
@click.option(
    "--group-by",
    "group_by",
    metavar="K",
    help="One row per value of K: run count, mean/min/max of summary metrics.",
)
@click.option("--sort", "sort_by", metavar="[-]K", help="Sort by K (-K: descending).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "yaml"]),
    default="table",
    show_default=True,
    help="table for people; json, csv and yaml for scripts.",
)
@click.pass_obj
@_without_cycle_collection
def runs(
    opts: _Options,
    project: str | None,
    conditions: tuple[str, ...],
    columns: str | None,
    group_by: str | None,
    sort_by: str | None,
    fmt: str,
) -> None:
    """List and compare runs, oldest first.

    The table shows id, project, start time, code commit (-dirty: uncommitted changes were
    snapshotted), name/group/... when runs have them, and the config and summary keys whose
    values differ among the runs listed. json and yaml print every run as {project, id, created,
    code_commit, dirty, name, group, job_type, tags, notes, config, summary}; csv has one column
    per field, config key and summary key. --columns picks the table and csv columns.

    Column names: summary:KEY is a summary key (a result); meta:KEY a key of the run's
    meta.yaml (exit_status, duration, command, host, signal that 'gitcfg run' records;
    sweep_id, sweep_point; started...), shown only when named, and added to json and yaml as
    "meta": {KEY: ...}; config:KEY always a config key; any other name is a field (project,
    id, created, code_commit, dirty, name, group, job_type, tags, notes) if it is one, else a
    config key.

    \b
    Examples:
      gitcfg runs --where 'lr<0.01' --where model=resnet --sort summary:loss
      gitcfg runs --project mnist --columns id,name,lr,summary:acc --format csv
      gitcfg runs --group-by model --columns summary:acc
      gitcfg runs --format json | jq '.[].summary.loss'
      gitcfg runs --where 'meta:exit_status>0' --columns id,meta:exit_status,meta:command
      gitcfg runs --sort -meta:duration --columns id,meta:duration,lr
    """
    from gitcfg import query, runtable, tablecells
    from gitcfg.override import parse_condition
    from gitcfg.render import csv_chunks, table_chunks, yaml_list

    parsed = [parse_condition(text) for text in conditions]
    picked = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    if picked == []:
        raise InputError(f"--columns {columns!r} names no column; give e.g. --columns id,lr")
    for name in picked or ():
        query.check_column_name(name, "--columns")
    if sort_by is not None:
        query.check_column_name(sort_by.removeprefix("-"), "--sort")
    if group_by is not None:
        query.check_column_name(group_by, "--group-by")
    store = opts.store()
    named = [*(c.key for c in parsed), *(picked or ()), *filter(None, (sort_by, group_by))]
    meta_keys = query.meta_keys(name.removeprefix("-") for name in named)
    # The runs are held as JSON texts; each step below decodes only the columns it names.
    # Their meta.yaml texts are more to read: only a meta: column needs them.
    pieces = None
    with store.listing(project, meta=bool(meta_keys)) as listing:
        default_table = fmt == "table" and picked is None and group_by is None
        if default_table and sort_by is None:
            # the table from the cells cached per subtree: every run's (no row even read), or
            # those meeting --where, found a batch of subtrees at a time
            keys = _matching(listing, parsed) if parsed else None
            if keys == []:
                _no_runs(project, store, _filtered_out(listing, conditions))
                return
            pieces = tablecells.table(listing, keys, opts.color)
        if pieces is None:
            rows = _selected(listing, parsed, sort_by)
            # sorted, the cached cells are tried now; unsorted, they were just above
            if default_table and sort_by is not None and rows:
                pieces = _default_table(listing, rows, opts.color)
                if pieces is None:  # to be made from the decoded rows after all
                    rows = _selected(listing, parsed, sort_by)
        filtered_out = _filtered_out(listing, conditions) if pieces is None and not rows else ()
    if pieces is not None:
        opts.out(pieces, page=True)
        return
    if not rows and fmt != "table" and not filtered_out and _pull_hint(store) is not None:
        # the output stays what a script reads for no runs ([], a CSV header); the reason
        # there are none here goes to stderr
        _no_runs(project, store)
    if group_by is not None:
        if not rows and fmt == "table":
            _no_runs(project, store, filtered_out)
            return
        _grouped(opts, rows, group_by, picked, fmt, sort_by)
        return
    # json and yaml print every run whole, and the meta.yaml keys --columns names
    shown_meta = query.meta_keys(picked or ())
    if fmt == "json":
        opts.out(runtable.json_chunks(rows, meta_keys=shown_meta), plain=True)
        return
    if fmt == "yaml":
        pages = runtable.full_rows(rows, meta_keys=shown_meta)
        opts.out((yaml_list(page) for page in pages) if rows else "[]\n")
        return
    if picked is None:
        names = runtable.key_stats(rows).default_columns(only_differing=fmt != "csv")
    else:
        names = picked
        _note_absent(rows, names, sort_by)  # before anything is written
    cells = runtable.cells(rows, names)
    if fmt == "csv":
        opts.out(csv_chunks(names, (values for _, values in cells)))
        return
    if not rows:
        _no_runs(project, store, filtered_out)
        return
    shown = (tablecells.table_values(row, values, names) for row, values in cells)
    opts.out(table_chunks(names, shown, opts.color), page=True)


def _default_table(listing: RunListing, rows: list[ListedRow], color: bool) -> Iterator[str] | None:
    """The table without ``--columns`` of ``rows`` (of ``listing``), from the cells cached per
    subtree (``tablecells``); None when it is to be made from the decoded rows. It takes the
    rows: the list is emptied, and the listing's own dropped, so their texts are freed before
    the cells are read."""
    from gitcfg import tablecells

    keys = [tablecells.sort_key(row.order, row.project, row.id) for row in rows]
    rows.clear()
    listing.forget_rows()
    return tablecells.table(listing, keys, color)


def _matching(listing: RunListing, conditions: list[Condition]) -> list[str]:
    """The ``tablecells.sort_key`` of each run of ``listing`` meeting ``conditions``, in the
    listing's order; the runs are read a batch of subtrees at a time, never all held."""
    from gitcfg import runtable, tablecells

    keys = []
    for batch in listing.batches():
        met = runtable.where(listing.rows_of(batch), conditions)
        keys += [tablecells.sort_key(row.order, row.project, row.id) for row in met]
    keys.sort()
    return keys


def _filtered_out(listing: RunListing, conditions: Sequence[str]) -> Sequence[str]:
    """``conditions`` if the listing has runs (so that they filtered every one out), else ()."""
    # the subtrees were listed to look for the runs: asking again reads nothing
    return conditions if conditions and listing.subtree_keys() else ()


def _no_runs(
    project: str | None, store: ConfigStore | None = None, where: Sequence[str] = ()
) -> None:
    """Say there is no run, or, when there are runs but the ``--where`` conditions ``where``
    met none of them, say that, naming them; in a fresh clone of a repository whose runs are
    on a remote (the store branch is not here yet, the remote's is), say how to bring them."""
    import shlex

    text = "no runs" + (f" in project {project}" if project else "")
    if where:
        named = " ".join(f"--where {shlex.quote(condition)}" for condition in where)
        click.echo(f"{text} match {named}", err=True)
        return
    hint = _pull_hint(store) if store is not None else None
    click.echo(text + (f"; {hint}" if hint else ""), err=True)


def _pull_hint(store: ConfigStore) -> str | None:
    """How to bring the runs of a remote into a clone that has no store branch yet (a fresh
    clone: the remote's is there as ``REMOTE/BRANCH``); None when that is not the case."""
    if store.tip() is not None:
        return None
    from gitcfg.remote import remotes_with_branch

    remotes = remotes_with_branch(store.repo, store.branch)
    if not remotes:
        return None
    return (
        f"the remote {remotes[0]!r} has a {store.branch} branch: "
        f"'gitcfg pull {remotes[0]}' brings its runs here"
    )


def _note_absent(
    rows: Sequence[ListedRow],
    columns: Sequence[str],
    sort_by: str | None = None,
    smalls: Iterable[Any] | None = None,
) -> None:
    """Say on stderr which named columns no listed run has (a typo, or a key no run has yet):
    they are shown empty, as other trackers show them, so a script's output keeps its shape.
    The ``--sort`` column was reported by ``_selected`` already."""
    from gitcfg import runtable

    sorted_on = sort_by.removeprefix("-") if sort_by is not None else None
    named = [c for c in dict.fromkeys(columns) if c != sorted_on]
    for error in runtable.absent_columns(rows, named, smalls):
        shown = ", ".join(error.available[:20]) + (", ..." if len(error.available) > 20 else "")
        click.echo(
            f"gitcfg: no run listed has column {error.column!r}, so it is empty; "
            f"available: {shown}",
            err=True,
        )


def _selected(
    listing: RunListing, conditions: list[Condition], sort_by: str | None
) -> list[ListedRow]:
    """The rows of ``listing`` meeting ``conditions``, sorted by ``sort_by`` ([-]KEY) if given."""
    from gitcfg import runtable

    rows = runtable.where(listing.rows, conditions)
    if sort_by is not None:
        key = sort_by[1:] if sort_by.startswith("-") else sort_by
        rows = runtable.sort(rows, key, descending=sort_by.startswith("-"))
        _note_absent(rows, [key])
    return rows


_STATS = ("mean", "min", "max")


def _grouped(
    opts: _Options,
    rows: Sequence[ListedRow],
    column: str,
    picked: list[str] | None,
    fmt: str,
    sort_by: str | None,
) -> None:
    """``runs --group-by``: per value of ``column``, the run count and mean/min/max of each
    numeric summary key (those named by ``--columns summary:KEY`` if given)."""
    from gitcfg import query, runtable
    from gitcfg.diff import MISSING
    from gitcfg.render import csv_text, json_list, table, yaml_list

    if picked is not None:
        metrics: list[str] | None = [
            c[len(query.SUMMARY) :] for c in picked if c.startswith(query.SUMMARY)
        ]
    else:
        metrics = None
    smalls = runtable.grouped_rows(rows, column, [*(picked or [])], metrics)
    _note_absent(rows, [column, *(picked or [])], sort_by, smalls)
    if metrics is None:
        metrics = query.numeric_summary_keys(smalls)
    groups = query.group_stats(smalls, column, metrics)
    if fmt in ("json", "yaml"):
        items = []
        for group in groups:
            item: dict[str, Any] = {} if group.value is MISSING else {column: group.value}
            item["runs"] = group.runs
            if metrics:
                item["summary"] = {
                    key: dict(zip(_STATS, figures, strict=True))
                    for key, figures in group.metrics.items()
                }
            items.append(item)
        opts.out(json_list(items) if fmt == "json" else yaml_list(items))
        return
    headers = [column, "runs", *(f"{s}({query.SUMMARY}{k})" for k in metrics for s in _STATS)]
    cells = [
        [
            group.value,
            group.runs,
            *(x for k in metrics for x in group.metrics.get(k, (MISSING,) * len(_STATS))),
        ]
        for group in groups
    ]
    if fmt == "csv":
        opts.out(csv_text(headers, cells))
    else:
        opts.out(table(headers, cells, opts.color), page=True)


@cli.command()
@run_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="table for people; csv and json for scripts.",
)
@click.pass_obj
def history(opts: _Options, run: str, fmt: str) -> None:
    """Print RUN's per-step history: one row per log() step, oldest first.

    The history is kept on the machine that ran the run (under .git/gitcfg/history), never
    committed or pushed; its last values are the run's summary, which is on the branch.

    \b
    Examples:
      gitcfg history 3k9x2a7q
      gitcfg history mnist/3k9x2a7q --format csv > curves.csv
    """
    from gitcfg.history import HistoryFile, history_columns, history_path
    from gitcfg.render import csv_text, json_list_chunks, table

    store = opts.store()
    selection = store.resolve(run)
    _latest(run, selection, "history")
    ref = selection.ref
    path = history_path(store.repo.common_dir, ref.project, ref.id)
    rows = list(HistoryFile(path, str(ref)).rows())
    if fmt == "json":
        opts.out(json_list_chunks(rows))
        return
    from gitcfg.diff import MISSING

    names = history_columns(rows)
    cells = [[row.get(name, MISSING) for name in names] for row in rows]
    if fmt == "csv":
        opts.out(csv_text(names, cells))
    else:
        opts.out(table(names, cells, opts.color), page=True)


@cli.command()
@run_argument
@click.pass_obj
def path(opts: _Options, run: str) -> None:
    """Print BRANCH:PATH of RUN's config file, for plain git (RUN~N: COMMIT:PATH).

    \b
    Examples:
      git diff $(gitcfg path 3k9x) $(gitcfg path 7b2q)
      git show $(gitcfg path 3k9x~1)
      git log -p gitcfg -- "$(gitcfg path 3k9x | cut -d: -f2)"
    """
    store = opts.store()
    selection = store.resolve(run)
    if selection.back:
        commit = store.version(selection, readable=False).commit  # git reads it, not gitcfg
        opts.out(f"{commit}:{selection.ref.config_path}\n")
    else:
        opts.out(store.path(selection.ref) + "\n")


def _sync_summary(result: SyncResult, verb: str) -> str:
    if not result.changed and not result.pushed:
        return f"{result.branch} is up to date with {result.remote}\n"
    parts = []
    if result.added or result.updated:
        parts.append(f"{result.added} run(s) added, {result.updated} updated from {result.remote}")
    if result.merged:
        parts.append("merged")
    if result.pushed:
        parts.append(f"pushed {result.branch} to {result.remote}")
    tip = (result.after or "")[:7]
    return f"{verb}: {', '.join(parts) or 'fast-forwarded'} ({tip})\n"


@cli.command()
@click.argument("remote", default="origin")
@click.pass_obj
def push(opts: _Options, remote: str) -> None:
    """Publish the runs (and the refs that keep their code) to REMOTE, default origin.

    If other machines pushed first, their runs are fetched and merged, then the push is retried.

    \b
    Examples:
      gitcfg push
      gitcfg push upstream
    """
    from gitcfg import remote as sync

    store = opts.store()
    result = sync.push(store.repo, store.branch, remote, identity=store.identity)
    opts.out(_sync_summary(result, "push"))


@cli.command()
@click.argument("remote", default="origin")
@click.option("--ours", "prefer", flag_value="ours", help="On a conflict keep the local values.")
@click.option("--theirs", "prefer", flag_value="theirs", help="On a conflict take the remote's.")
@click.pass_obj
def pull(opts: _Options, remote: str, prefer: str | None) -> None:
    """Fetch REMOTE's runs (default origin) and merge them into the local store branch.

    Your work tree, index and current branch are not touched. Runs are merged key by key; the
    same key changed differently on both sides stops the pull (nothing changes) until you choose
    --ours or --theirs.

    \b
    Examples:
      gitcfg pull
      gitcfg pull origin --theirs
    """
    from gitcfg import remote as sync

    store = opts.store()
    side: Side | None = "ours" if prefer == "ours" else "theirs" if prefer == "theirs" else None
    result = sync.pull(store.repo, store.branch, remote, prefer=side, identity=store.identity)
    opts.out(_sync_summary(result, "pull"))


# Commands in modules of their own; each keeps its heavy imports inside the command body.
from gitcfg.cli.report import report  # noqa: E402

cli.add_command(report)


def main(args: Sequence[str]) -> None:
    """Run the ``gitcfg`` command line ``args`` (the words after ``gitcfg``) through click."""
    cli.main(args=list(args), prog_name="gitcfg", complete_var="_GITCFG_COMPLETE")


from gitcfg.cli.sweep import register as _register_sweep  # noqa: E402  (needs cli defined)

_register_sweep(cli)
