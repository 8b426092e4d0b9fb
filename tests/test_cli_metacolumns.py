"""``meta:KEY`` columns of ``gitcfg runs``: what ``gitcfg run`` and failed runs record in meta.yaml
(exit status, duration, command), reached by --where, --sort, --columns, --group-by and every
format, from a cold cache and a warm one alike."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

import gitcfg
from gitcfg.blobcache import FILE_NAME
from gitcfg.cli.commands import cli
from gitcfg.errors import InputError
from gitcfg.store import ConfigStore


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--no-pager", *args], prog_name="gitcfg")
    assert result.exit_code == code, (result.output, result.exception)
    return result


def gitcfg_run(repo: Path, name: str, *command: str) -> int:
    """``gitcfg run`` as a user runs it: a process of its own running ``command``."""
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "run", "--project", "p", "--name", name, "--", *command],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return proc.returncode


@pytest.fixture
def runs(repo: Path) -> dict[str, str]:
    """Four runs of project p, by name -> id: ``gitcfg run`` of a command failing with 3 and
    one succeeding, an in-process run finished with exit code 2 and one finished well (which
    records no exit status at all)."""
    assert gitcfg_run(repo, "crash", "sh", "-c", "exit 3") == 3
    assert gitcfg_run(repo, "fine", "sh", "-c", "exit 0") == 0
    gitcfg.init(project="p", name="inproc-bad", config={"lr": 0.1}).finish(exit_code=2)
    gitcfg.init(project="p", name="inproc-ok", config={"lr": 0.2}).finish()
    return {run.meta["name"]: run.ref.id for run in ConfigStore.open().runs("p")}


@pytest.fixture(params=["cold", "warm"])
def cache(request: pytest.FixtureRequest, repo: Path, runs: dict[str, str]) -> Iterator[str]:
    """The blob cache empty (cold: every run read from git), or filled by a plain ``gitcfg
    runs``, which keeps no meta.yaml in memory (warm: the meta texts come from the cache)."""
    for path in (repo / ".git" / "gitcfg").glob(FILE_NAME + "*"):
        path.unlink()
    if request.param == "warm":
        invoke("runs")
    yield request.param


def ids(result: Result) -> list[str]:
    """The first column of a table, below its header."""
    return [line.split()[0] for line in result.stdout.splitlines()[1:]]


def test_where_meta_exit_status_lists_the_failed_runs(runs: dict[str, str], cache: str) -> None:
    failed = {runs["crash"], runs["inproc-bad"]}
    assert set(ids(invoke("runs", "--where", "meta:exit_status>0"))) == failed
    picked = invoke("runs", "--where", "meta:exit_status>0", "--columns", "id")
    assert set(ids(picked)) == failed
    # a run that records no exit status meets only !=, as a missing config key does
    clean = invoke("runs", "--where", "meta:exit_status!=0", "--columns", "id")
    assert set(ids(clean)) == failed | {runs["inproc-ok"]}
    assert set(ids(invoke("runs", "--where", "meta:exit_status=0", "--columns", "id"))) == {
        runs["fine"]
    }


def test_columns_show_exit_status_duration_and_command(runs: dict[str, str], cache: str) -> None:
    result = invoke("runs", "--columns", "id,meta:exit_status,meta:duration,meta:command")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["id", "meta:exit_status", "meta:duration", "meta:command"]
    by_id = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    status, duration, *command = by_id[runs["crash"]]
    assert (status, " ".join(command)) == ("3", "sh -c 'exit 3'")
    assert float(duration) >= 0
    assert by_id[runs["fine"]][0] == "0"
    assert by_id[runs["inproc-bad"]][0] == "2"
    assert result.stderr == ""


def test_sort_by_exit_status_puts_runs_without_one_last(runs: dict[str, str], cache: str) -> None:
    order = ids(invoke("runs", "--sort", "meta:exit_status", "--columns", "id"))
    assert order == [runs["fine"], runs["inproc-bad"], runs["crash"], runs["inproc-ok"]]
    order = ids(invoke("runs", "--sort", "-meta:exit_status", "--columns", "id"))
    assert order == [runs["crash"], runs["inproc-bad"], runs["fine"], runs["inproc-ok"]]
    # the default table, sorted on a meta column, keeps its columns
    table = invoke("runs", "--sort", "meta:exit_status").stdout.splitlines()
    assert "meta:exit_status" not in table[0]
    assert table[1].split()[0] == runs["fine"]


def test_default_table_shows_no_meta_column(runs: dict[str, str], cache: str) -> None:
    header = invoke("runs").stdout.splitlines()[0]
    assert "meta:" not in header
    header = invoke("runs", "--where", "meta:exit_status>0").stdout.splitlines()[0]
    assert "meta:" not in header


def test_csv_has_the_meta_columns(runs: dict[str, str], cache: str) -> None:
    out = invoke("runs", "--columns", "id,meta:exit_status,meta:host", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    status = {row["id"]: row["meta:exit_status"] for row in rows}
    assert status == {
        runs["crash"]: "3",
        runs["fine"]: "0",
        runs["inproc-bad"]: "2",
        runs["inproc-ok"]: "",  # finished well: no exit status recorded
    }
    assert all(row["meta:host"] for row in rows if row["id"] == runs["crash"])


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_json_and_yaml_add_the_named_meta_keys(runs: dict[str, str], cache: str, fmt: str) -> None:
    plain = invoke("runs", "--format", fmt).stdout
    named = invoke("runs", "--columns", "id,meta:exit_status,meta:command", "--format", fmt)
    load = json.loads if fmt == "json" else yaml.safe_load
    listed = {run["id"]: run for run in load(named.stdout)}
    assert listed[runs["crash"]]["meta"] == {"exit_status": 3, "command": "sh -c 'exit 3'"}
    assert list(listed[runs["inproc-ok"]]["meta"]) == ["command"]  # the keys it has
    # the rest of each object is the plain listing's, which has no "meta"
    for run in load(plain):
        assert "meta" not in run
        assert {k: v for k, v in listed[run["id"]].items() if k != "meta"} == run


def test_group_by_exit_status(runs: dict[str, str], cache: str) -> None:
    out = invoke("runs", "--group-by", "meta:exit_status", "--format", "json").stdout
    groups = [(group.get("meta:exit_status"), group["runs"]) for group in json.loads(out)]
    assert groups == [(0, 1), (2, 1), (3, 1), (None, 1)]


def test_an_unknown_meta_key_is_shown_empty_and_named(runs: dict[str, str], cache: str) -> None:
    result = invoke("runs", "--columns", "id,meta:no_such_key", "--format", "csv")
    assert [row["meta:no_such_key"] for row in csv.DictReader(io.StringIO(result.stdout))] == [
        ""
    ] * 4
    assert result.stderr.startswith("gitcfg: no run listed has column 'meta:no_such_key'")
    assert "meta:exit_status" in result.stderr and "meta:duration" in result.stderr
    none = invoke("runs", "--where", "meta:no_such_key=1")
    assert none.stdout == ""
    assert none.stderr == "no runs match --where meta:no_such_key=1\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "meta:>0"], "Error: 'meta:>0': meta: names no key; write meta:KEY\n"),
        (["--columns", "id,meta:"], "Error: --columns 'meta:' is not a column name: meta: "),
        (["--sort", "meta:"], "Error: --sort 'meta:' is not a column name: meta: "),
        (["--group-by", "meta:"], "Error: --group-by 'meta:' is not a column name: meta: "),
        (["--where", "summary:=1"], "Error: 'summary:=1': summary: names no key; "),
    ],
)
def test_a_namespace_without_a_key_is_a_usage_error(
    runs: dict[str, str], args: list[str], message: str
) -> None:
    result = invoke("runs", *args, code=2)
    assert result.stderr.startswith(message)
    assert result.stdout == ""


def test_a_config_key_named_like_a_meta_column_is_config_colon(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("p", {"meta:x": 1, "lr": 0.1}, run_id="aaaa1111", meta={"x": 2})
    store.create("p", {"meta:x": 3, "lr": 0.1}, run_id="bbbb2222", meta={"x": 4})
    header = invoke("runs").stdout.splitlines()[0].split()
    assert "config:meta:x" in header and "meta:x" not in header
    out = invoke("runs", "--columns", "id,config:meta:x,meta:x", "--format", "csv").stdout
    assert out.splitlines() == ["id,config:meta:x,meta:x", "aaaa1111,1,2", "bbbb2222,3,4"]
    failed = invoke("update", "aaaa1111", "meta:x=5", code=2)
    assert "config:meta:x" in failed.stderr
    assert ConfigStore.open().read(store.resolve("aaaa1111").ref).config["meta:x"] == 1


def test_api_filters_reach_meta_keys(runs: dict[str, str]) -> None:
    failed = gitcfg.Api().runs("p", filters=["meta:exit_status>0"])
    assert {run.id for run in failed} == {runs["crash"], runs["inproc-bad"]}
    by_command = gitcfg.Api().runs("p", filters=["meta:command=sh -c 'exit 3'"])
    assert {run.id for run in by_command} == {runs["crash"]}
    with pytest.raises(InputError, match="meta: names no key"):
        gitcfg.Api().runs(filters="meta:=1")
