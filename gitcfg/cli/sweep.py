"""``gitcfg run`` and ``gitcfg sweep``: record runs of any program, one or a whole sweep.

Everything after ``--`` is the child's command, never read as gitcfg's options.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from gitcfg.errors import SweepSpecError

if TYPE_CHECKING:
    from gitcfg.cli.commands import _Options
    from gitcfg.sweeps.spec import SweepSpec


class _DashDash(click.Command):
    """Keeps the words after the first ``--`` aside (``ctx.meta["command"]``), untouched."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            at = args.index("--")
            ctx.meta["command"] = args[at + 1 :]
            args = args[:at]
        else:
            ctx.meta["command"] = None
        return super().parse_args(ctx, args)


def _note(text: str) -> None:
    click.echo(f"gitcfg: {text}", err=True)


@click.command(cls=_DashDash, context_settings={"allow_interspersed_args": False})
@click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE", help="A config value.")
@click.option("--config", "config_file", metavar="FILE", help="Config values from a YAML file.")
@click.option("--project", metavar="P", help="Project of the run (default as gitcfg.init).")
@click.option("--name", metavar="N", help="Name of the run (meta.yaml).")
@click.option("--group", metavar="G", help="Group of the run (meta.yaml).")
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="-- CMD [ARGS]...")
@click.pass_obj
def run(
    opts: _Options,
    assignments: tuple[str, ...],
    config_file: str | None,
    project: str | None,
    name: str | None,
    group: str | None,
    words: tuple[str, ...],
) -> None:
    """Record a run of any program: its config, command line, exit status, duration, results.

    The run is created first, with the --set values (over --config FILE). The program gets
    GITCFG_RUN_ID: a gitcfg.init() or wandb.init() in it attaches to this run, and the --set
    values win over its own init(config=...) defaults. Any program may write results (YAML or
    JSON) to $GITCFG_SUMMARY_FILE; they become the run's summary. $GITCFG_CONFIG holds the
    config as JSON. The exit status is the program's; signals reach it.

    \b
    Examples:
      gitcfg run --set lr=0.01 --set layers=128 -- python train.py
      gitcfg run --set n=3 -- bash -c 'echo "{score: $((n*2))}" > "$GITCFG_SUMMARY_FILE"'
    """
    from gitcfg.cli.runcommand import RunArgs, record

    command = tuple(click.get_current_context().meta.get("command") or words)
    args = RunArgs(opts.repo, assignments, config_file, project, name, group, command)
    sys.exit(record(args, opts.store))


@click.command(cls=_DashDash)
@click.argument("definition", nargs=-1, metavar="SPEC.yaml | KEY=V1,V2...")
@click.option("-j", "--jobs", default=1, show_default=True, metavar="N", help="Runs at once.")
@click.option("--count", type=int, metavar="N", help="Points of a random/bayes sweep (grid: cap).")
@click.option("--shard", metavar="I/N", help="Run only every N-th point from I (0-based).")
@click.option("--project", metavar="P", help="Project of the runs.")
@click.option(
    "--method",
    type=click.Choice(["grid", "random", "bayes"]),
    help="Search of the inline form (default grid); a sweep file names its own.",
)
@click.option("--seed", type=int, help="Seed of a random/bayes sweep (default: from the spec).")
@click.option("--id", "sweep_id", metavar="ID", help="Sweep id (default: from the definition).")
@click.option("--dry-run", is_flag=True, help="List the points this shard would run; run none.")
@click.pass_obj
def sweep(
    opts: _Options,
    definition: tuple[str, ...],
    jobs: int,
    count: int | None,
    shard: str | None,
    project: str | None,
    method: str | None,
    seed: int | None,
    sweep_id: str | None,
    dry_run: bool,
) -> None:
    """Run a sweep: one recorded run per point, the sweep id as the runs' group.

    SPEC.yaml is wandb's sweep file (method grid|random|bayes, parameters, program/command with
    ${args}-style macros, metric; a file with neither program nor command takes the command
    after --); or give KEY=V1,V2 lists and the command after --. Points that already have a
    successful run (exit status 0) are skipped, so running it again resumes it and runs again
    the points that failed or were interrupted; --shard I/N splits it over machines or a SLURM
    array with no coordinator. Prints one run per point, best first; exits 1 if a run it
    started failed.

    \b
    Examples:
      gitcfg sweep lr=0.1,0.01 layers=64,128 -- python train.py
      gitcfg sweep sweep.yaml -j 2 --count 20
      gitcfg sweep sweep.yaml --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT
    """
    from gitcfg.errors import SweepError
    from gitcfg.render import table
    from gitcfg.sweeps.child import check_command, default_project
    from gitcfg.sweeps.command import build_command
    from gitcfg.sweeps.plan import make_plan, parse_shard
    from gitcfg.sweeps.runner import SweepRunner, sweep_table

    ctx = click.get_current_context()
    spec = _spec(list(definition), ctx.meta.get("command"), method)
    spec.check_runnable()
    uses_program = spec.program is not None and "${program}" in " ".join(spec.command)
    if uses_program and not os.path.exists(spec.program or ""):
        raise SweepSpecError(
            f"the sweep's program {spec.program!r} does not exist here; "
            f"run gitcfg sweep from the directory that holds it"
        )
    if jobs < 1:
        raise SweepSpecError(f"-j {jobs}: give 1 or more runs at once")
    if count is not None and count < 1:
        raise SweepSpecError(f"--count {count}: give 1 or more runs")
    parts = parse_shard(shard) if shard else None
    if spec.method == "bayes":
        from gitcfg.sweeps.bayes import check_searchable

        check_searchable(spec)
    store = opts.store()
    named = spec.source.get("project")
    project = project or (named if isinstance(named, str) else None) or default_project(store)
    plan = make_plan(store, spec, project, sweep_id=sweep_id, shard=parts, count=count, seed=seed)
    first = plan.preview(plan.todo[0]) if plan.todo else None
    if first is not None:
        argv, json_file = build_command(spec.command, first, program=spec.program, project=project)
        if json_file:
            os.unlink(json_file)
        check_command(argv)
    total = len(plan.todo)
    again = f" ({plan.again} failed or cut off before)" if plan.again else ""
    learned = f", learning from {plan.primed} recorded run(s)" if spec.method == "bayes" else ""
    _note(
        f"sweep {plan.sweep_id} ({spec.method}) in project {project}: "
        f"{total} run(s) to do{again}{learned}"
    )
    if dry_run:
        for index in plan.todo:
            point = plan.preview(index) or {}
            argv, json_file = build_command(
                spec.command, point, program=spec.program, project=project
            )
            if json_file:
                os.unlink(json_file)
            opts.out(f"{index}\t{' '.join(argv)}\n")
        return
    started = [0]

    def on_start(index: int, ref: Any, argv: list[str]) -> None:
        started[0] += 1
        _note(f"[{started[0]}/{total}] point {index}: run {ref}: {' '.join(argv)}")

    runner = SweepRunner(store, plan, project, jobs=jobs, on_start=on_start)
    outcomes = runner.run()
    headers, rows, best = sweep_table(store, project, plan, outcomes)
    if rows:
        opts.out(table(headers, rows, opts.color))
    if best is not None:
        values = ", ".join(f"{key}={value}" for key, value in best.values.items())
        opts.out(f"best: {best.ref} {spec.metric_name}={best.metric} ({spec.goal}) with {values}\n")
    if runner.stopped_by is not None:
        from gitcfg.sweeps.child import exit_like

        _note(f"sweep {plan.sweep_id} stopped; run the same command again to resume it")
        sys.exit(exit_like(-runner.stopped_by))
    failed = [o for o in outcomes if o.exit_status != 0]
    if failed:
        raise SweepError(
            f"{len(failed)} of {len(outcomes)} run(s) exited non-zero "
            f"({', '.join(str(o.ref) for o in failed[:3])}{'...' if len(failed) > 3 else ''}); "
            f"see their output above and 'gitcfg show RUN'; the same command runs their points "
            f"again"
        )


def _spec(definition: list[str], command: list[str] | None, method: str | None) -> SweepSpec:
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
    return inline_spec(definition, command or [], method or "grid")


def _names_a_file(word: str) -> bool:
    """Whether a lone word is a sweep file's name, not a malformed ``KEY=V1,V2``."""
    if "=" in word:
        return False
    return os.path.isfile(word) or word.lower().endswith((".yaml", ".yml", ".json"))


def register(group: click.Group) -> None:
    """Add ``run`` and ``sweep`` to the ``gitcfg`` command group."""
    group.add_command(run)
    group.add_command(sweep)
