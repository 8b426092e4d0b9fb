"""``gitcfg sweep``: the sweep it runs, and its common form read without click.

A sweep starts one process, but its start-up is paid by every sweep, and click (with the
``inspect`` module it loads) is a third of it, ~30 ms: in a sweep of 100 short points that is
0.3 ms a point. ``parse`` recognises ``gitcfg sweep`` with its options (``-j``/``--jobs``,
``--count``, ``--shard``, ``--project``, ``--method``, ``--seed``, ``--id``, ``--dry-run``), the
definition words and the command after ``--``, with the global options ``--repo``,
``--no-pager`` and ``--color`` before or after ``sweep``. Anything else (``--help``, an unknown
option, a value that is not what click would accept, every mistake) it leaves to click. Both
ways then call the same ``run_sweep``.

No click here, and nothing heavy at import: ``gitcfg.cli.main`` imports this module first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from gitcfg.cli.runcommand import COLORS, GLOBAL_OPTIONS, option_value
from gitcfg.errors import SweepSpecError

if TYPE_CHECKING:
    from gitcfg.store import ConfigStore
    from gitcfg.sweeps.spec import SweepSpec


class SweepArgs(NamedTuple):
    """The options, definition and command of one ``gitcfg sweep``."""

    repo: str | None
    color: str  # auto, always or never, as --color
    definition: tuple[str, ...]
    command: tuple[str, ...] | None  # the words after '--'; None without '--'
    jobs: int = 1
    run_count: int | None = None  # --count
    shard: str | None = None
    project: str | None = None
    method: str | None = None
    seed: int | None = None
    sweep_id: str | None = None
    dry_run: bool = False


_METHODS = ("grid", "random", "bayes")
# sweep's options taking a value, by spelling, and the SweepArgs field each sets
_OWN = {
    "-j": "jobs",
    "--jobs": "jobs",
    "--count": "run_count",
    "--shard": "shard",
    "--project": "project",
    "--method": "method",
    "--seed": "seed",
    "--id": "sweep_id",
}
_INTS = ("jobs", "run_count", "seed")


def parse(args: Sequence[str]) -> SweepArgs | None:
    """``args`` (the words after ``gitcfg``) as a ``sweep`` of the common form; None for
    anything else, which click then reads."""
    if "_GITCFG_COMPLETE" in os.environ:
        return None  # shell completion is click's
    words, command = list(args), None
    if "--" in words:
        at = words.index("--")
        words, command = words[:at], tuple(words[at + 1 :])
    values: dict[str, Any] = {"repo": None, "color": "auto"}
    definition: list[str] = []
    in_sweep = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if not word.startswith("-"):
            if in_sweep:
                definition.append(word)
            elif word == "sweep":
                in_sweep = True
            else:
                return None  # another command
            continue
        if word == "--no-pager":
            continue
        if word == "--dry-run" and in_sweep:
            values["dry_run"] = True
            continue
        if word.startswith("-j="):
            return None  # click reads "-j=2" as the value "=2"
        option, value, i = option_value(words, i)
        if option not in GLOBAL_OPTIONS and not (in_sweep and option in _OWN):
            return None
        if value is None:
            return None  # no value: click says so
        name = option[2:] if option in GLOBAL_OPTIONS else _OWN[option]
        if not _acceptable(name, value):
            return None
        values[name] = int(value) if name in _INTS else value  # the last one counts, as in click
    if not in_sweep:
        return None
    return SweepArgs(definition=tuple(definition), command=command, **values)


def _acceptable(name: str, value: str) -> bool:
    """Whether click takes ``value`` for option ``name`` as it is (else click reads it all)."""
    if value.startswith("-"):
        return False  # looks like an option: click decides
    if name in _INTS:
        return value.isascii() and value.isdigit()
    if name == "color":
        return value in COLORS
    if name == "method":
        return value in _METHODS
    return True


def color_wanted(mode: str) -> bool:
    """Colour like git: on a terminal, unless NO_COLOR is set; ``mode`` (--color) overrides."""
    if mode != "auto":
        return mode == "always"
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(sys.stdout.isatty())
    except (AttributeError, ValueError):
        return False


def run_sweep(
    args: SweepArgs, open_store: Callable[[], ConfigStore], out: Callable[[str], None]
) -> int:
    """Run the sweep ``args`` describes, ``out`` writing its table; returns the exit status.

    Everything the definition and command can get wrong is checked before the store is opened.
    A run that failed is a ``SweepError``; a sweep stopped by a signal ends as that signal.
    """
    from gitcfg.errors import SweepError
    from gitcfg.render import table
    from gitcfg.sweeps.child import check_command, default_project, exit_like, note
    from gitcfg.sweeps.command import build_command
    from gitcfg.sweeps.plan import make_plan, parse_shard
    from gitcfg.sweeps.runner import SweepRunner, sweep_table

    spec = _spec(list(args.definition), args.command, args.method)
    spec.check_runnable()
    uses_program = spec.program is not None and "${program}" in " ".join(spec.command)
    if uses_program and not os.path.exists(spec.program or ""):
        raise SweepSpecError(
            f"the sweep's program {spec.program!r} does not exist here; "
            f"run gitcfg sweep from the directory that holds it"
        )
    if args.jobs < 1:
        raise SweepSpecError(f"-j {args.jobs}: give 1 or more runs at once")
    if args.run_count is not None and args.run_count < 1:
        raise SweepSpecError(f"--count {args.run_count}: give 1 or more runs")
    parts = parse_shard(args.shard) if args.shard else None
    if spec.method == "bayes":
        from gitcfg.sweeps.bayes import check_searchable

        check_searchable(spec)
    store = open_store()
    named = spec.source.get("project")
    project = args.project or (named if isinstance(named, str) else None)
    project = project or default_project(store)
    plan = make_plan(
        store,
        spec,
        project,
        sweep_id=args.sweep_id,
        shard=parts,
        count=args.run_count,
        seed=args.seed,
    )
    first = plan.preview(plan.todo[0]) if plan.todo else None
    if first is not None:
        argv, json_file = build_command(spec.command, first, program=spec.program, project=project)
        if json_file:
            os.unlink(json_file)
        check_command(argv)
    total = len(plan.todo)
    again = f" ({plan.again} failed or cut off before)" if plan.again else ""
    learned = f", learning from {plan.primed} recorded run(s)" if spec.method == "bayes" else ""
    note(
        f"sweep {plan.sweep_id} ({spec.method}) in project {project}: "
        f"{total} run(s) to do{again}{learned}"
    )
    if args.dry_run:
        for index in plan.todo:
            point = plan.preview(index) or {}
            argv, json_file = build_command(
                spec.command, point, program=spec.program, project=project
            )
            if json_file:
                os.unlink(json_file)
            out(f"{index}\t{' '.join(argv)}\n")
        return 0
    started = [0]

    def on_start(index: int, ref: Any, argv: list[str]) -> None:
        started[0] += 1
        note(f"[{started[0]}/{total}] point {index}: run {ref}: {' '.join(argv)}")

    runner = SweepRunner(store, plan, project, jobs=args.jobs, on_start=on_start)
    outcomes = runner.run()
    headers, rows, best = sweep_table(store, project, plan, outcomes)
    if rows:
        out(table(headers, rows, color_wanted(args.color)))
    if best is not None:
        values = ", ".join(f"{key}={value}" for key, value in best.values.items())
        out(f"best: {best.ref} {spec.metric_name}={best.metric} ({spec.goal}) with {values}\n")
    if runner.stopped_by is not None:
        note(f"sweep {plan.sweep_id} stopped; run the same command again to resume it")
        return exit_like(-runner.stopped_by)
    failed = [o for o in outcomes if o.exit_status != 0]
    if failed:
        raise SweepError(
            f"{len(failed)} of {len(outcomes)} run(s) exited non-zero "
            f"({', '.join(str(o.ref) for o in failed[:3])}{'...' if len(failed) > 3 else ''}); "
            f"see their output above and 'gitcfg show RUN'; the same command runs their points "
            f"again"
        )
    return 0


def _spec(definition: list[str], command: Sequence[str] | None, method: str | None) -> SweepSpec:
    from gitcfg.sweeps.spec import inline_spec, parse_spec

    if not definition:
        raise SweepSpecError(
            "give a sweep file (gitcfg sweep sweep.yaml) or KEY=V1,V2 lists and a command "
            "(gitcfg sweep lr=0.1,0.01 -- python train.py)"
        )
    if len(definition) == 1 and _names_a_file(definition[0]):
        from gitcfg.yamlcodec import load_yaml_file

        path = definition[0]
        data = load_yaml_file(path)
        if command and isinstance(data, Mapping):
            owned = [key for key in ("program", "command") if key in data]
            if owned:
                raise SweepSpecError(
                    f"{path} has its own {owned[0]!r}; drop the words after '--', or remove "
                    f"{' and '.join(repr(key) for key in owned)} from the file to give the "
                    f"command after '--'"
                )
            data = {**data, "command": list(command)}  # the file leaves the command to '--'
        spec = parse_spec(data, path)
        if spec.program is None and any("${program}" in word for word in spec.command):
            raise SweepSpecError(
                f"{path} names no 'program' to run; add 'program: train.py' to it, or give "
                f"the command after '--': gitcfg sweep {path} -- python train.py"
            )
        if method is not None and method != spec.method:
            raise SweepSpecError(
                f"{path} says method {spec.method!r}; edit the file rather than --method"
            )
        return spec
    return inline_spec(definition, list(command or []), method or "grid")


def _names_a_file(word: str) -> bool:
    """Whether a lone word is a sweep file's name, not a malformed ``KEY=V1,V2``."""
    if "=" in word:
        return False
    return os.path.isfile(word) or word.lower().endswith((".yaml", ".yml", ".json"))


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def sweep_parsed(args: SweepArgs) -> int:
    """``run_sweep`` for the command line ``parse`` read: its exit status."""
    from gitcfg.stores import open_store  # it commits changes runs kept (gitcfg.pending)

    return run_sweep(args, lambda: open_store(args.repo), _write)
