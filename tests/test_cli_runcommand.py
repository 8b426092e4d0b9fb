"""``gitcfg run``'s common form, read without click: it must mean what click reads it as."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg.cli import main
from gitcfg.cli.commands import _Options, cli
from gitcfg.cli.runcommand import RunArgs, parse
from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git
from tests.quickcli import gitcfg, imported, messages


def click_reads(args: list[str]) -> RunArgs | None:
    """What click's own parser makes of ``gitcfg ARGS`` when it is a ``run``; None when click
    refuses it or it names another command."""
    try:
        ctx = cli.make_context("gitcfg", list(args))
        params = ctx.params
        ctx.obj = _Options(params["repo"], pager=not params["no_pager"], color_mode=params["color"])
        rest = [*getattr(ctx, "_protected_args", []), *ctx.args]
        name, command, words = cli.resolve_command(ctx, rest)
        if name != "run" or command is None:
            return None
        sub = command.make_context(name, words, parent=ctx)
    except click.exceptions.ClickException:
        return None
    p = sub.params
    after = sub.meta["command"]
    return RunArgs(
        ctx.obj.repo,
        p["assignments"],
        p["config_file"],
        p["project"],
        p["name"],
        p["group"],
        tuple(after if after is not None else p["words"]),
    )


COMMON = [
    ["run", "--", "true"],
    ["run", "--set", "lr=0.1", "--set=layers=[64, 32]", "--", "python", "train.py", "--x=1"],
    ["--repo", "/r", "run", "--name", "n", "--group=g", "--project", "p", "--", "a", "--", "b"],
    ["--no-pager", "--color", "never", "run", "--config", "c.yaml", "--repo=/s", "--", "x"],
    ["run", "--name", "a", "--name", "b", "--set", "k=v", "--no-pager", "--", "x", "-h"],
    ["run", "--set", "s=a=b", "--color=always", "--", "x"],
]


@pytest.mark.parametrize("args", COMMON)
def test_the_common_forms_are_read_without_click_and_as_click_reads_them(args: list[str]) -> None:
    quick = parse(args)
    assert quick is not None
    assert quick == click_reads(args)


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--help", "--", "x"],  # help is click's
        ["run", "--set", "--", "x"],  # a missing value: click's usage error
        ["run", "--sett", "a=1", "--", "x"],  # a misspelt option
        ["run", "--name", "-x", "--", "x"],  # a value that looks like an option
        ["run", "--color", "pink", "--", "x"],  # not a colour choice
        ["--set", "a=1", "run", "--", "x"],  # run's option before run
        ["run", "train.py"],  # no '--'
        ["run", "--"],  # no command
        ["runs", "--", "x"],
        ["--version", "run", "--", "x"],
        ["run", "run", "--", "x"],
    ],
)
def test_every_other_form_is_left_to_click(args: list[str]) -> None:
    assert parse(args) is None


WORDS = st.sampled_from(
    [
        "run", "--", "--set", "--set=a=1", "a=1", "b=[1, 2]", "--config", "c.yaml",
        "--project", "--name", "--group", "--repo", "--repo=/r", "--no-pager", "--color",
        "auto", "never", "--color=always", "-x", "", "x=", "--help", "--name=", "py",
    ]
)  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(WORDS, max_size=9))
def test_whatever_parse_reads_click_reads_the_same(args: list[str]) -> None:
    quick = parse(args)
    if quick is not None:
        assert quick == click_reads(args)


def test_the_common_form_starts_without_click_and_records_what_the_click_form_does(
    repo: Path,
) -> None:
    sets = ["--set", "lr=0.1", "--set", "model.layers=[64, 32]", "--name", "n", "--group", "g"]
    quick = gitcfg(repo, "run", *sets, "--", "true")
    slow = gitcfg(repo, "run", *sets, "true")  # without '--': click reads it
    assert quick.returncode == slow.returncode == 0, (quick.stderr, slow.stderr)
    assert "gitcfg.store" in imported(quick)
    assert not {"click", "dataclasses", "inspect"} & set(imported(quick))
    assert "click" in imported(slow)
    runs = {str(r.ref): r for r in ConfigStore.open(repo).runs()}
    assert len(runs) == 2
    first, second = (runs[m[0].removeprefix("gitcfg: run ")] for m in map(messages, (quick, slow)))
    assert first.config == second.config == {"lr": 0.1, "model.layers": [64, 32]}
    for key in ("name", "group", "set", "command", "exit_status"):
        assert first.meta[key] == second.meta[key], key
    assert_fsck_clean(repo)


@pytest.mark.parametrize(
    "sets",
    [
        ["--set", "lr"],
        ["--set", "lr=[1,"],
        ["--config", "missing.yaml"],
        ["--set", "a.b=1", "--set", "a=2"],
    ],
)
def test_bad_input_reads_the_same_with_and_without_click(repo: Path, sets: list[str]) -> None:
    quick = gitcfg(repo, "run", *sets, "--", "true")
    slow = gitcfg(repo, "run", *sets, "true")
    # the error is found without click, which is then loaded only to show it as every command
    order = imported(quick)
    assert order.index("gitcfg.override") < order.index("click")
    assert quick.returncode == slow.returncode != 0
    assert messages(quick) == messages(slow)
    assert len(messages(quick)) == 1 and messages(quick)[0].startswith("Error: ")
    assert "refs/heads/gitcfg" not in git(repo, "for-each-ref")


@pytest.mark.parametrize("closed", [1, 2])
def test_a_closed_stdout_or_stderr_still_records_the_whole_run(repo: Path, closed: int) -> None:
    # a job started with 1>&- or 2>&-: Python then has no sys.stdout or sys.stderr at all
    script = f"exec {sys.executable} -m gitcfg run --set a=1 -- true {closed}>&-"
    result = subprocess.run(["bash", "-c", script], cwd=repo, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    (record,) = ConfigStore.open(repo).runs()
    assert record.config == {"a": 1} and record.meta["exit_status"] == 0
    assert "Traceback" not in result.stderr.decode()


def test_main_called_in_process_ends_with_system_exit_not_the_process(repo: Path) -> None:
    with pytest.raises(SystemExit) as ended:
        main(["run", "--set", "b=2", "--", "sh", "-c", "exit 3"])
    assert ended.value.code == 3
    (record,) = ConfigStore.open(repo).runs()
    assert record.config == {"b": 2} and record.meta["exit_status"] == 3
