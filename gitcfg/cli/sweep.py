"""``gitcfg run`` and ``gitcfg sweep``: record runs of any program, one or a whole sweep.

Everything after ``--`` is the child's command, never read as gitcfg's options.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitcfg.cli.commands import _Options


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
    from gitcfg.cli.sweepcommand import SweepArgs, run_sweep

    command = click.get_current_context().meta.get("command")
    args = SweepArgs(
        opts.repo,
        opts.color_mode,
        definition,
        None if command is None else tuple(command),
        jobs,
        count,
        shard,
        project,
        method,
        seed,
        sweep_id,
        dry_run,
    )
    code = run_sweep(args, opts.store, opts.out)
    if code:
        sys.exit(code)


def register(group: click.Group) -> None:
    """Add ``run`` and ``sweep`` to the ``gitcfg`` command group."""
    group.add_command(run)
    group.add_command(sweep)
