"""``gitcfg report``: one self-contained HTML page showing how config affects results."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from gitcfg.cli.commands import _Options


@click.command()
@click.option(
    "-o",
    "--output",
    default="gitcfg-report.html",
    show_default=True,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Where to write the page.",
)
@click.option("--project", metavar="P", help="Only runs of project P.")
@click.option(
    "--where",
    "conditions",
    multiple=True,
    metavar="EXPR",
    help="Only runs where KEY=VALUE, KEY!=VALUE, KEY>VALUE, ... (as 'gitcfg runs'); ANDed.",
)
@click.option("--metric", metavar="KEY", help="The result shown first (default: a guess).")
@click.option("--group-by", "group_by", metavar="K", help="The key the page groups by first.")
@click.option("--open", "open_page", is_flag=True, help="Open the page in your web browser.")
@click.pass_obj
def report(
    opts: _Options,
    output: str,
    project: str | None,
    conditions: tuple[str, ...],
    metric: str | None,
    group_by: str | None,
    open_page: bool,
) -> None:
    """Write one HTML page to see how config affects results.

    The page works offline and can be mailed or published as it is: the runs table (keys
    that differ, results; sortable, filterable), parallel coordinates of config against a
    metric, a scatter of any key against any metric, per-group mean/min/max, and each run's
    config history and provenance. Needs: pip install 'gitcfg[report]'.

    \b
    Examples:
      gitcfg report --open
      gitcfg report -o sweep.html --where optimizer=adam --metric val_loss --group-by lr
    """
    from gitcfg.override import parse_condition
    from gitcfg.report.writer import write_report

    parsed = [parse_condition(text) for text in conditions]
    result = write_report(
        opts.store(),
        output,
        project=project,
        conditions=parsed,
        metric=metric,
        group_by=group_by,
    )
    size = result.size / 1_000_000
    opts.out(f"wrote {result.path} ({result.runs} runs, {size:.1f} MB)\n")
    if open_page:
        import webbrowser

        webbrowser.open(result.path.resolve().as_uri())
