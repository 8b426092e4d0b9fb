"""``gitcfg sweep``'s common form, read without click: it must mean what click reads it as."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg.cli import main
from gitcfg.cli.commands import _Options, cli
from gitcfg.cli.sweepcommand import SweepArgs, parse
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean
from tests.quickcli import gitcfg, imported, messages


def click_reads(args: list[str]) -> SweepArgs | None:
    """What click's own parser makes of ``gitcfg ARGS`` when it is a ``sweep``; None when click
    refuses it or it names another command."""
    try:
        ctx = cli.make_context("gitcfg", list(args))
        params = ctx.params
        ctx.obj = _Options(params["repo"], pager=not params["no_pager"], color_mode=params["color"])
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, words = cli.resolve_command(ctx, rest)
        if name != "sweep" or command is None:
            return None
        sub = command.make_context(name, words, parent=ctx)
    except click.exceptions.ClickException:
        return None
    p = sub.params
    after = sub.meta["command"]
    return SweepArgs(
        ctx.obj.repo,
        ctx.obj.color_mode,
        p["definition"],
        None if after is None else tuple(after),
        p["jobs"],
        p["count"],
        p["shard"],
        p["project"],
        p["method"],
        p["seed"],
        p["sweep_id"],
        p["dry_run"],
    )


COMMON = [
    ["sweep", "x=0,1,2", "-j", "2", "--", "python", "tiny.py", "${args}"],
    ["sweep", "sweep.yaml"],
    ["sweep", "sweep.yaml", "--jobs=3", "--count", "5", "--seed", "7", "--", "x", "--", "y"],
    ["--repo", "/r", "sweep", "a=1,2", "--shard", "0/4", "--project=p", "b=3", "--", "x"],
    ["--no-pager", "--color", "never", "sweep", "s.yaml", "--method", "random", "--dry-run"],
    ["sweep", "--id", "my-sweep", "a=1", "--repo=/s", "--color=always", "-j", "1", "-j", "4"],
    ["sweep", "a=1", "--"],
]


@pytest.mark.parametrize("args", COMMON)
def test_the_common_forms_are_read_without_click_and_as_click_reads_them(args: list[str]) -> None:
    quick = parse(args)
    assert quick is not None
    assert quick == click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "--help", "--", "x"],  # help is click's
        ["sweep", "a=1", "-j", "--", "x"],  # a missing value: click's usage error
        ["sweep", "a=1", "-j", "two", "--", "x"],  # not a number
        ["sweep", "a=1", "-j2", "--", "x"],  # click's own spelling, left to it
        ["sweep", "a=1", "-j=2", "--", "x"],
        ["sweep", "a=1", "--seed", "-1", "--", "x"],  # a value that looks like an option
        ["sweep", "a=1", "--method", "bayesian", "--", "x"],  # not a method
        ["sweep", "a=1", "--dry-run=yes", "--", "x"],
        ["sweep", "a=1", "--jobz", "2", "--", "x"],  # a misspelt option
        ["-j", "2", "sweep", "a=1", "--", "x"],  # sweep's option before sweep
        ["--dry-run", "sweep", "a=1"],
        ["sweeps", "a=1", "--", "x"],
        ["run", "sweep", "--", "x"],
        ["--version", "sweep", "a=1"],
        ["--", "sweep", "a=1"],
    ],
)
def test_every_other_form_is_left_to_click(args: list[str]) -> None:
    assert parse(args) is None


WORDS = st.sampled_from(
    [
        "sweep", "--", "a=1,2", "s.yaml", "-j", "--jobs", "--jobs=2", "2", "0", "-1", "x",
        "--count", "--shard", "1/2", "--project", "--method", "grid", "bayes", "--seed",
        "--id", "--dry-run", "--repo", "--repo=/r", "--no-pager", "--color", "auto", "never",
        "--color=always", "--help", "", "run", "-j2", "--id=",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=9))
def test_whatever_parse_reads_click_reads_the_same(args: list[str]) -> None:
    quick = parse(args)
    if quick is not None:
        assert quick == click_reads(args)


def test_the_common_form_sweeps_without_click_and_as_the_click_form_does(repo: Path) -> None:
    quick = gitcfg(repo, "sweep", "a=1,2", "-j", "2", "--id", "q", "--", "true")
    slow = gitcfg(repo, "sweep", "a=1,2", "-j2", "--id", "s", "--", "true")  # click reads -j2
    assert quick.returncode == 0, quick.stderr
    assert "gitcfg.sweeps.runner" in imported(quick)
    assert "click" not in imported(quick)
    # the same table, for the same points (only the run ids differ)
    rows = [line.split()[1:] for line in quick.stdout.splitlines()]
    assert rows == [["point", "a", "exit"], ["0", "1", "0"], ["1", "2", "0"]]
    assert slow.returncode == 0 and "click" in imported(slow)
    assert [line.split()[1:] for line in slow.stdout.splitlines()] == rows
    runs = ConfigStore.open(repo).runs()
    assert sorted((r.meta["sweep_id"], r.config["a"]) for r in runs) == [
        ("q", 1),
        ("q", 2),
        ("s", 1),
        ("s", 2),
    ]
    assert_fsck_clean(repo)


def test_a_failed_point_is_the_same_error_without_click(repo: Path) -> None:
    quick = gitcfg(repo, "sweep", "a=1", "--id", "q", "--", "false")
    assert quick.returncode == 1
    (line,) = [m for m in messages(quick) if m.startswith("Error: ")]
    assert line.startswith("Error: 1 of 1 run(s) exited non-zero")


def test_a_bad_definition_commits_nothing_and_says_so_as_click_would(repo: Path) -> None:
    quick = gitcfg(repo, "sweep", "a", "--", "true")
    slow = gitcfg(repo, "sweep", "a", "--count", "x", "--", "true")  # click reads this one
    assert quick.returncode == 2 and messages(quick)[-1].startswith("Error: ")
    assert slow.returncode == 2
    assert ConfigStore.open(repo).tip() is None


def test_main_called_in_process_ends_with_system_exit_not_the_process(repo: Path) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["sweep", "b=2,3", "--", "sh", "-c", "exit 3"])
    assert ended.value.code == 1
    runs = ConfigStore.open(repo).runs()
    assert sorted(r.meta["exit_status"] for r in runs) == [3, 3]
