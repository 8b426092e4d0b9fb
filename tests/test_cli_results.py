"""The command line over results: summary columns, the name grammar, group-by aggregates."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
from tests.conftest import git

A, B, C = RunRef("p", "aaaa1111"), RunRef("p", "bbbb2222"), RunRef("p", "cccc3333")


@pytest.fixture
def store(repo: Path) -> ConfigStore:
    """Three runs in two groups. A config key is named like a summary column, another like a
    field, to show that the names never mix."""
    store = ConfigStore.open()
    store.create(
        "p",
        {"lr": 0.1, "optim.lr": 0.1, "summary:loss": "a config value", "id": "cfg-id"},
        run_id=A.id,
        meta={"name": "first", "group": "g1"},
        summary={"loss": 0.5, "acc": 0.7},
    )
    store.create(
        "p",
        {"lr": 0.01, "optim.lr": 0.1, "summary:loss": "a config value", "id": "cfg-id"},
        run_id=B.id,
        meta={"name": "second", "group": "g1"},
        summary={"loss": 0.25, "acc": 0.9},
    )
    store.create(
        "p",
        {"lr": 0.001, "optim.lr": 0.1, "summary:loss": "a config value", "id": "cfg-id"},
        run_id=C.id,
        meta={"group": "g2", "job_type": "eval"},
        summary={"loss": 0.125, "acc": "n/a"},
    )
    return store


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(__import__("gitcfg.cli.commands").cli.commands.cli, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result


def test_runs_table_shows_meta_fields_and_differing_summary_keys(store: ConfigStore) -> None:
    lines = invoke("runs").stdout.splitlines()
    header = lines[0].split()
    assert header == [
        *("id", "project", "created", "code_commit", "name", "group", "job_type"),
        *("lr", "summary:acc", "summary:loss"),
    ]
    assert lines[1].split()[-5:] == ["first", "g1", "0.1", "0.7", "0.5"]


def test_where_sort_and_columns_reach_summary_keys_by_their_own_name(store: ConfigStore) -> None:
    out = invoke("runs", "--where", "summary:loss<0.3", "--columns", "id,summary:loss").stdout
    assert out.splitlines() == ["id        summary:loss", "bbbb2222  0.25", "cccc3333  0.125"]
    out = invoke("runs", "--sort", "-summary:acc", "--columns", "name,summary:acc").stdout
    # the order of config keys: descending puts the string before the numbers
    assert out.splitlines()[1:] == ["        n/a", "second  0.9", "first   0.7"]
    # the config key named "summary:loss" and the config key "id" need config:
    out = invoke("runs", "--columns", "id,config:id,config:summary:loss", "--format", "csv")
    assert out.stdout.splitlines()[:2] == [
        "id,config:id,config:summary:loss",
        "aaaa1111,cfg-id,a config value",
    ]
    assert invoke("runs", "--where", "config:summary:loss=a config value").stdout.count("\n") == 4
    assert "bbbb2222" in invoke("runs", "--where", "name=second", "--columns", "id").stdout
    # a result no run has yet (a typo, or not logged yet) is an empty column, and said so
    result = invoke("runs", "--columns", "id,summary:nope")
    assert result.stdout.splitlines()[:2] == ["id        summary:nope", "aaaa1111"]
    assert result.stderr.startswith(
        "gitcfg: no run listed has column 'summary:nope', so it is empty; available: "
    )
    assert "summary:acc, summary:loss" in result.stderr and result.stderr.count("\n") == 1


def test_group_by_gives_count_and_mean_min_max_of_summary_metrics(store: ConfigStore) -> None:
    lines = invoke("runs", "--group-by", "group").stdout.splitlines()
    assert lines[0].split() == [
        *("group", "runs", "mean(summary:acc)", "min(summary:acc)", "max(summary:acc)"),
        *("mean(summary:loss)", "min(summary:loss)", "max(summary:loss)"),
    ]
    assert lines[1].split() == ["g1", "2", "0.8", "0.7", "0.9", "0.375", "0.25", "0.5"]
    assert lines[2].split() == ["g2", "1", "0.125", "0.125", "0.125"]  # acc is not a number
    data = json.loads(invoke("runs", "--group-by", "group", "--format", "json").stdout)
    assert data[0] == {
        "group": "g1",
        "runs": 2,
        "summary": {
            "acc": {"mean": 0.8, "min": 0.7, "max": 0.9},
            "loss": {"mean": 0.375, "min": 0.25, "max": 0.5},
        },
    }
    csv_lines = invoke(
        "runs", "--group-by", "lr", "--columns", "summary:loss", "--format", "csv"
    ).stdout.splitlines()
    assert csv_lines[0] == "lr,runs,mean(summary:loss),min(summary:loss),max(summary:loss)"


def test_json_csv_and_yaml_carry_the_summary_separately(store: ConfigStore) -> None:
    data = json.loads(invoke("runs", "--format", "json").stdout)
    assert data[0]["summary"] == {"loss": 0.5, "acc": 0.7}
    assert data[0]["config"]["summary:loss"] == "a config value"
    assert (data[0]["name"], data[2]["job_type"]) == ("first", "eval")
    assert yaml.safe_load(invoke("runs", "--format", "yaml").stdout) == data
    header = invoke("runs", "--format", "csv").stdout.splitlines()[0].split(",")
    assert header == [
        *("project", "id", "created", "code_commit", "dirty", "name", "group", "job_type"),
        *("config:id", "lr", "optim.lr", "config:summary:loss", "summary:acc", "summary:loss"),
    ]


def test_show_diff_and_log_cover_the_summary(store: ConfigStore, repo: Path) -> None:
    assert invoke("show", "aaaa", "--summary").stdout == "acc: 0.7\nloss: 0.5\n"
    both = yaml.safe_load(invoke("show", "aaaa", "--all").stdout)
    assert both["summary"] == {"acc": 0.7, "loss": 0.5} and both["config"]["lr"] == 0.1
    diff = invoke("diff", "aaaa", "bbbb").stdout
    assert "~ lr: 0.1 -> 0.01\n" in diff and "~ summary:loss: 0.5 -> 0.25\n" in diff
    data = json.loads(invoke("diff", "aaaa", "bbbb", "--format", "json").stdout)
    assert data["summary"]["changed"]["acc"] == {"old": 0.7, "new": 0.9}
    store.update_summary(A, {"loss": 0.4})
    log = invoke("log", "aaaa", "-p").stdout
    assert "    ~ summary:loss: 0.5 -> 0.4\n" in log
    assert invoke("show", "aaaa~1", "--summary").stdout == "acc: 0.7\nloss: 0.5\n"
    assert "~ summary:loss: 0.5 -> 0.4" in invoke("diff", "aaaa").stdout
    branch_log = invoke("log", "-p", "-n", "1").stdout
    assert "summary:loss: 0.5 -> 0.4" in branch_log
    git(repo, "fsck", "--strict")


def test_global_options_work_after_the_subcommand(store: ConfigStore, tmp_path: Path) -> None:
    assert "aaaa1111" in invoke("runs", "--no-pager", "--columns", "id,name").stdout
    assert invoke("runs", "--color", "never", "--columns", "name").stdout.splitlines() == [
        "name",
        "first",
        "second",
        "",
    ]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = CliRunner().invoke(
        __import__("gitcfg.cli.commands").cli.commands.cli, ["runs", "--repo", str(elsewhere)]
    )
    assert result.exit_code == 1 and "elsewhere is not inside a git repository" in result.stderr


def test_update_of_a_new_key_suggests_the_nested_one(store: ConfigStore, repo: Path) -> None:
    result = invoke("update", "aaaa", "optim.momentum=0.9", "momentum=0.9")
    assert result.stderr == ""  # no similar key: no note
    store.update(A, {"nested.lr_decay": 0.1})
    result = invoke("update", "cccc", "lr_decay=0.5")
    assert result.stderr == ""
    result = invoke("update", "bbbb", "dropout=0.5", "--dry-run")
    assert result.stderr == ""
    store.create("p", {"optim.lr": 0.1}, run_id="dddd4444")
    result = invoke("update", "dddd", "lr=0.5")
    assert result.stderr == "gitcfg: lr is a new key of p/dddd4444; did you mean optim.lr?\n"
    assert "+ lr: 0.5" in result.stdout  # still added, as wandb allows new keys


def _gitcfg(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", "--no-pager", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )


def test_update_names_keys_as_runs_does_summary_key_config_key(
    repo: Path, store: ConfigStore
) -> None:
    out = invoke("update", "aaaa", "summary:acc=0.95", "config:lr=0.2", "summary:f1=0.8")
    assert out.stdout.splitlines() == [
        "~ lr: 0.1 -> 0.2",
        "~ summary:acc: 0.7 -> 0.95",
        "+ summary:f1: 0.8",
        f"[gitcfg {git(repo, 'rev-parse', '--short=7', 'gitcfg').strip()}] p/aaaa1111: update",
    ]
    record = store.read(A)
    assert record.summary == {"loss": 0.5, "acc": 0.95, "f1": 0.8}
    assert record.config["lr"] == 0.2 and "summary:acc" not in record.config
    assert "config:lr" not in record.config
    subject = git(repo, "log", "-1", "--format=%s", "gitcfg").strip()
    assert subject == "update p/aaaa1111: lr, summary:acc, summary:f1"
    # a config key that looks like a namespace is reached with config:, as in runs
    out = invoke("update", "aaaa", "config:summary:loss='edited'", "--unset", "summary:f1")
    assert out.stdout.splitlines()[:2] == [
        "~ config:summary:loss: 'a config value' -> edited",
        "- summary:f1: 0.8",
    ]
    record = store.read(A)
    assert record.config["summary:loss"] == "edited" and "f1" not in record.summary
    assert invoke("update", "aaaa", "summary:acc=0.95").stdout.startswith("nothing to change")


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (
            ["--unset", "summary:nope"],
            1,
            "Error: run p/aaaa1111 has no summary key 'nope' to unset; see its keys with "
            "'gitcfg show p/aaaa1111 --summary'\n",
        ),
        (
            ["summary:=1"],
            2,
            "Error: 'summary:' names no key after the ':': config key is empty; "
            "give every value a name\n",
        ),
        (
            ["summary:hf_token=hf_x"],
            1,
            "Error: summary key 'hf_token' looks like a credential and would be kept in git "
            "history; keep secrets out of results, or set GITCFG_ALLOW_SECRETS=1 to record it "
            "anyway\n",
        ),
    ],
)
def test_update_of_a_summary_key_refuses_bad_input_and_commits_nothing(
    repo: Path, store: ConfigStore, args: list[str], code: int, stderr: str
) -> None:
    before = git(repo, "rev-parse", "gitcfg")
    result = _gitcfg(repo, "update", "aaaa", "summary:acc=0.1", *args)
    assert (result.returncode, result.stderr, result.stdout) == (code, stderr, "")
    assert git(repo, "rev-parse", "gitcfg") == before


def _strict_loads(text: str) -> object:
    """JSON as a strict parser (JavaScript's, Go's) reads it: NaN and Infinity are errors."""

    def refuse(word: str) -> object:
        raise ValueError(f"not RFC 8259 JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_json_for_scripts_writes_nan_and_infinities_as_strings(repo: Path) -> None:
    # A diverged run: Python's json would write NaN and Infinity, which strict parsers refuse.
    store = ConfigStore.open()
    store.create(
        "p",
        {"lr": float("nan"), "note": "a: NaN, Infinity", "xs": [1.0, float("-inf")]},
        run_id=A.id,
        summary={"loss": float("inf")},
    )
    store.create("p", {"lr": 0.1, "note": "ok", "xs": [2.0]}, run_id=B.id, summary={"loss": 0.5})
    for _ in ("cold cache", "warm cache"):
        runs = _strict_loads(_gitcfg(repo, "runs", "--format", "json").stdout)
        assert isinstance(runs, list)
        assert runs[0]["config"] == {
            "lr": "NaN",
            "note": "a: NaN, Infinity",
            "xs": [1.0, "-Infinity"],
        }
        assert (runs[0]["summary"], runs[1]["summary"]) == ({"loss": "Infinity"}, {"loss": 0.5})
    shown = _strict_loads(_gitcfg(repo, "show", A.id, "--format", "json").stdout)
    assert shown == {"lr": "NaN", "note": "a: NaN, Infinity", "xs": [1.0, "-Infinity"]}
    grouped = _strict_loads(_gitcfg(repo, "runs", "--group-by", "note", "--format", "json").stdout)
    assert isinstance(grouped, list) and len(grouped) == 2
    # the store itself keeps the values: YAML has .nan and .inf, and the API gives floats
    assert _gitcfg(repo, "runs", "--format", "yaml").stdout.count(".inf") == 2
    loss = ConfigStore.open().read(A).summary["loss"]
    assert loss == float("inf")


def test_group_by_means_show_no_float_rounding_noise(repo: Path) -> None:
    store = ConfigStore.open()
    for run_id, acc in (("r1", 0.56), ("r2", 0.58)):
        store.create("p", {"opt": "adam"}, run_id=run_id, summary={"acc": acc})
    assert invoke("runs", "--group-by", "opt").stdout.splitlines()[1].split() == [
        *("adam", "2", "0.57", "0.56", "0.58")
    ]
    (group,) = json.loads(invoke("runs", "--group-by", "opt", "--format", "json").stdout)
    assert group["summary"]["acc"]["mean"] == 0.57
