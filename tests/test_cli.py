"""The gitcfg command: state set up through the library, invoked with CliRunner, checked again
through the library and git (exit code, exact stdout and stderr, what landed on the branch)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

import gitcfg
from gitcfg.cli.commands import cli
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
from tests.conftest import git

A = RunRef("mnist", "aaaa1111")
B = RunRef("mnist", "bbbb2222")
C = RunRef("other", "cccc3333")


def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env, prog_name="gitcfg")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a traceback is a bug
    assert result.exit_code == code, (result.stdout, result.stderr)
    return result


def tip(repo: Path) -> str:
    return git(repo, "rev-parse", "--verify", "-q", "gitcfg").strip()


@pytest.fixture
def store(repo: Path) -> ConfigStore:
    """Three runs: two in mnist that differ in lr and dropout, one in another project."""
    store = ConfigStore.open()
    store.create("mnist", {"lr": 0.001, "batch_size": 32, "model.layers": [64, 32]}, run_id=A.id)
    store.create(
        "mnist",
        {"lr": 0.01, "batch_size": 32, "model.layers": [64, 32], "dropout": 0.5},
        run_id=B.id,
    )
    store.create("other", {"lr": 0.1, "seed": 7}, run_id=C.id)
    return store


# -- update --------------------------------------------------------------------------------


def test_update_parses_values_as_yaml_and_prints_the_commit(repo: Path, store: ConfigStore) -> None:
    result = invoke(
        "update", "aaaa", "lr=1e-2", "n=32", "tag='32'", "xs=[1, 2]", "opt={a: 1}", "none=null",
        "model.depth=3",
    )  # fmt: skip

    commit = tip(repo)
    assert result.stdout == (
        "~ lr: 0.001 -> 0.01\n"
        "+ model.depth: 3\n"
        "+ n: 32\n"
        "+ none: null\n"
        "+ opt.a: 1\n"
        "+ tag: '32'\n"
        "+ xs: [1, 2]\n"
        f"[gitcfg {commit[:7]}] mnist/aaaa1111: update\n"
    )
    assert result.stderr == ""
    config = store.read(A).config
    assert config["lr"] == 0.01 and config["n"] == 32 and config["tag"] == "32"
    assert config["xs"] == [1, 2] and config["opt.a"] == 1 and config["none"] is None
    assert config["model.depth"] == 3
    assert git(repo, "log", "-1", "--format=%s", "gitcfg").strip().startswith("update mnist/aaaa")


def test_update_unsets_with_a_message(repo: Path, store: ConfigStore) -> None:
    result = invoke("update", "mnist/bbbb2222", "--unset", "dropout", "-m", "no dropout")

    assert result.stdout == f"- dropout: 0.5\n[gitcfg {tip(repo)[:7]}] mnist/bbbb2222: no dropout\n"
    assert "dropout" not in store.read(B).config
    assert git(repo, "log", "-1", "--format=%s", "gitcfg").strip() == "no dropout"


def test_update_dry_run_commits_nothing(repo: Path, store: ConfigStore) -> None:
    before = tip(repo)
    result = invoke("update", "aaaa", "lr=0.5", "--dry-run")

    assert result.stdout == (
        "~ lr: 0.001 -> 0.5\ndry run: mnist/aaaa1111 not changed, nothing committed\n"
    )
    assert tip(repo) == before
    assert store.read(A).config["lr"] == 0.001


def test_update_with_nothing_to_change_makes_no_commit(repo: Path, store: ConfigStore) -> None:
    before = tip(repo)
    result = invoke("update", "aaaa", "lr=0.001")

    assert result.stdout == "nothing to change: mnist/aaaa1111 has these values already\n"
    assert tip(repo) == before


def test_update_without_a_change_is_a_usage_error(repo: Path, store: ConfigStore) -> None:
    result = invoke("update", "aaaa", code=2)
    assert result.stderr == (
        "Error: nothing to update; give KEY=VALUE or --unset KEY, "
        "e.g. 'gitcfg update RUN lr=0.01'\n"
    )


def test_update_refuses_an_old_version_and_a_missing_key(repo: Path, store: ConfigStore) -> None:
    store.update(A, {"lr": 0.5})
    before = tip(repo)

    result = invoke("update", "aaaa~1", "lr=1", code=2)
    assert result.stderr == (
        "Error: 'aaaa~1' names an old version; update applies to the latest one, "
        "so give mnist/aaaa1111\n"
    )
    result = invoke("update", "aaaa", "--unset", "nope", code=1)
    assert result.stderr == (
        "Error: run mnist/aaaa1111 has no config key 'nope' to unset; "
        "see its keys with 'gitcfg show mnist/aaaa1111'\n"
    )
    assert tip(repo) == before


BAD_INPUT = [
    (["show", "zzzz"], 1, "Error: no run 'zzzz'; list the runs with 'gitcfg runs'"),
    (
        ["show", "mnist/"],
        1,
        "Error: run 'mnist/' is ambiguous, it matches mnist/aaaa1111, mnist/bbbb2222; "
        "give more of the id",
    ),
    (
        ["show", "aaaa~99"],
        1,
        "Error: run 'mnist/aaaa1111' has 1 version(s), so mnist/aaaa1111~99 does not exist; "
        "see them with 'gitcfg log mnist/aaaa1111'",
    ),
    (
        ["update", "aaaa", "foo"],
        2,
        "Error: expected KEY=VALUE, got 'foo'; quote the value for the shell if it has spaces "
        "(lr=0.1, name='my run')",
    ),
    (["update", "aaaa", "x=[1"], 2, "Error: 'x=[1': line 1: "),
    (
        ["update", "aaaa", "hf_token=abc"],
        1,
        "Error: key 'hf_token' looks like a credential and would be kept in git history; "
        "keep secrets out of configs, or set GITCFG_ALLOW_SECRETS=1 to record it anyway",
    ),
    (["update", "aaaa", "a..b=1"], 2, "Error: "),
    (
        ["runs", "--where", "lr"],
        2,
        "Error: expected KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, KEY<VALUE or KEY<=VALUE, "
        "got 'lr'",
    ),
    (
        ["runs", "--columns", "id,summary:"],
        2,
        "Error: --columns 'summary:' is not a column name: summary: names no key; ",
    ),
    (["runs", "--sort", "-a..b"], 2, "Error: --sort 'a..b' is not a column name: "),
    (["runs", "--group-by", "config:x\ty"], 2, "Error: --group-by 'config:x\\ty' is not a "),
    (["runs", "--columns", " , "], 2, "Error: --columns ' , ' names no column; give e.g."),
    (["runs", "--where", "lr>>1"], 2, "Error: 'lr>>1' has two operators; write one of "),
    (["show", "aaaa", "--at", "nope"], 2, "Error: unknown revision 'nope'"),
    (["show", "aaaa~1", "--at", "gitcfg"], 2, "Error: give 'aaaa~1' or --at gitcfg, not both"),
    (["diff", "aaaa", "zzzz"], 1, "Error: no run 'zzzz'"),
    (["log", "zzzz"], 1, "Error: no run 'zzzz'"),
    (["path", "zzzz"], 1, "Error: no run 'zzzz'"),
]


@pytest.mark.parametrize(("args", "code", "stderr"), BAD_INPUT)
def test_bad_input_is_one_line_and_changes_nothing(
    repo: Path, store: ConfigStore, args: list[str], code: int, stderr: str
) -> None:
    before = tip(repo)
    result = invoke(*args, code=code)
    assert result.stderr.startswith(stderr)
    assert result.stderr.count("\n") == 1 and result.stdout == ""
    assert tip(repo) == before


def test_not_a_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("runs", code=1)
    assert result.stderr == (
        f"Error: {tmp_path.resolve()} is not inside a git repository; run 'git init' there, "
        f"or set GITCFG_REPO (or pass repo=) to the repository that should hold the runs\n"
    )


@pytest.fixture
def foreign_repo(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """``repo`` owned by another user, as git sees it: really (chown) when the tests run as
    root, else through git's own switch for that (GIT_TEST_ASSUME_DIFFERENT_OWNER)."""
    if os.geteuid() != 0:
        monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
        yield repo
        return
    monkeypatch.delenv("SUDO_UID", raising=False)  # git would take root for that user
    subprocess.run(["chown", "-R", "65534:65534", str(repo)], check=True)
    try:
        yield repo
    finally:
        subprocess.run(["chown", "-R", "0:0", str(repo)], check=True)


def test_a_repository_of_another_user_says_what_git_says(foreign_repo: Path) -> None:
    # git refuses it ("dubious ownership"): it is a repository, so 'git init' is the wrong advice
    result = invoke("runs", code=1)
    path = foreign_repo.resolve()
    assert result.stderr == (
        f"Error: git refuses the repository at {path}: it is owned by another user and git's "
        f"safe.directory setting does not list it (git: detected dubious ownership); if you "
        f"trust it, run 'git config --global --add safe.directory {path}', or set GITCFG_REPO "
        f"(or pass repo=) to a repository of your own\n"
    )
    # the advice works
    subprocess.run(["git", "config", "--global", "--add", "safe.directory", str(path)], check=True)
    assert invoke("runs").stderr == "no runs\n"


def test_repo_option_names_the_repository(
    repo: Path, store: ConfigStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = invoke("--repo", str(repo), "path", "cccc")
    assert result.stdout == f"gitcfg:{C.config_path}\n"


# -- edit ----------------------------------------------------------------------------------

EDITOR = """\
import os, sys
with open(sys.argv[1], "w") as f:
    f.write(os.environ["NEW_TEXT"])
"""


@pytest.fixture
def editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "editor.py"
    script.write_text(EDITOR)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.delenv("VISUAL", raising=False)


def test_edit_commits_what_changed(
    repo: Path, store: ConfigStore, editor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEW_TEXT", "batch_size: 64  # bigger\nlr: 0.001\nmodel:\n  layers: [64]\n")
    result = invoke("edit", "aaaa")

    assert result.stdout == (
        "~ batch_size: 32 -> 64\n"
        "~ model.layers: [64, 32] -> [64]\n"
        f"[gitcfg {tip(repo)[:7]}] mnist/aaaa1111: edit\n"
    )
    assert store.read(A).config == {"batch_size": 64, "lr": 0.001, "model.layers": [64]}
    subject = git(repo, "log", "-1", "--format=%s", "gitcfg").strip()
    assert subject == "edit mnist/aaaa1111: batch_size, model.layers"


def test_edit_refuses_a_file_that_does_not_parse(
    repo: Path, store: ConfigStore, editor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tip(repo)
    monkeypatch.setenv("NEW_TEXT", "lr: [0.1\n")
    result = invoke("edit", "aaaa", code=1)

    assert result.stderr.startswith("Error: edited config of mnist/aaaa1111: line 2: ")
    assert result.stderr.count("\n") == 1
    assert tip(repo) == before


def test_edit_without_a_change_makes_no_commit(
    repo: Path, store: ConfigStore, editor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tip(repo)
    monkeypatch.setenv("NEW_TEXT", "# reordered, same values\nlr: 0.001\nbatch_size: 32\n"
                       "model.layers: [64, 32]\n")  # fmt: skip
    result = invoke("edit", "aaaa")
    assert result.stdout == "no config change: mnist/aaaa1111 not changed\n"
    assert tip(repo) == before


def test_edit_refuses_a_secret_key(
    repo: Path, store: ConfigStore, editor: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tip(repo)
    monkeypatch.setenv("NEW_TEXT", "lr: 0.001\napi_key: abc\n")
    result = invoke("edit", "aaaa", code=1)
    assert result.stderr.startswith("Error: key 'api_key' looks like a credential")
    assert tip(repo) == before


# -- show ----------------------------------------------------------------------------------


def test_show_flat_nested_json_and_versions(repo: Path, store: ConfigStore) -> None:
    store.update(A, {"lr": 0.5, "name": "no"})

    assert invoke("show", "aaaa").stdout == (
        "batch_size: 32\nlr: 0.5\nmodel.layers: [64, 32]\nname: 'no'\n"
    )
    assert invoke("show", "aaaa", "--nested").stdout == (
        "batch_size: 32\nlr: 0.5\nmodel:\n  layers: [64, 32]\nname: 'no'\n"
    )
    shown = invoke("show", "mnist/aaaa1111", "--format", "json", "--nested").stdout
    assert json.loads(shown) == {
        "batch_size": 32, "lr": 0.5, "model": {"layers": [64, 32]}, "name": "no"
    }  # fmt: skip
    old = "batch_size: 32\nlr: 0.001\nmodel.layers: [64, 32]\n"
    assert invoke("show", "aaaa~1").stdout == old
    assert invoke("show", "aaaa", "--at", "gitcfg~1").stdout == old
    first = git(repo, "rev-list", "--max-parents=0", "gitcfg").strip()
    assert invoke("show", "aaaa", "--at", first).stdout == old
    assert yaml.safe_load(invoke("show", "aaaa").stdout)["name"] == "no"


def test_show_at_a_revision_before_the_run_existed(repo: Path, store: ConfigStore) -> None:
    result = invoke("show", "cccc", "--at", "gitcfg~1", code=1)
    assert (
        result.stderr
        == "Error: no run 'other/cccc3333 at gitcfg~1'; list the runs with 'gitcfg runs'\n"
    )


# -- log -----------------------------------------------------------------------------------

TIME = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"


def test_log_of_one_run_with_patch(repo: Path, store: ConfigStore) -> None:
    store.update(A, {"lr": 0.5}, ["batch_size"], message="tune")
    shas = git(repo, "log", "--format=%h", "--abbrev=7", "gitcfg", "--", A.config_path).split()

    out = invoke("log", "aaaa", "-p").stdout
    expected = (
        f"{shas[0]} TIME  tune\n"
        "    - batch_size: 32\n"
        "    ~ lr: 0.001 -> 0.5\n"
        f"{shas[1]} TIME  create mnist/aaaa1111 (3 keys)\n"
        "    + batch_size: 32\n"
        "    + lr: 0.001\n"
        "    + model.layers: [64, 32]\n"
    )
    assert re.sub(TIME, "TIME", out) == expected
    summary = invoke("log", "aaaa", "-n", "1").stdout
    assert (
        re.sub(TIME, "TIME", summary)
        == f"{shas[0]} TIME  tune\n    changed: lr; removed: batch_size\n"
    )
    older = invoke("log", "aaaa~1").stdout
    assert older.startswith(shas[1]) and older.count("\n") == 2


def test_log_of_the_branch_names_each_run(repo: Path, store: ConfigStore) -> None:
    store.update(C, {"seed": 8})
    out = invoke("log", "-n", "2").stdout
    shas = git(repo, "log", "--format=%h", "--abbrev=7", "-n", "2", "gitcfg").split()
    assert re.sub(TIME, "TIME", out) == (
        f"{shas[0]} TIME  update other/cccc3333: seed\n"
        "    other/cccc3333\n"
        "      changed: seed\n"
        f"{shas[1]} TIME  create other/cccc3333 (2 keys)\n"
        "    other/cccc3333\n"
        "      added: lr, seed\n"
    )
    assert len(re.findall(TIME, invoke("log").stdout)) == 4


def test_log_of_an_empty_store_prints_nothing(repo: Path) -> None:
    assert invoke("log").stdout == ""


# -- diff ----------------------------------------------------------------------------------


def test_diff_of_two_runs(repo: Path, store: ConfigStore) -> None:
    assert invoke("diff", "aaaa", "bbbb").stdout == (
        "--- mnist/aaaa1111\n+++ mnist/bbbb2222\n+ dropout: 0.5\n~ lr: 0.001 -> 0.01\n"
    )
    data = json.loads(invoke("diff", "aaaa", "cccc", "--format", "json").stdout)
    assert data == {
        "a": "mnist/aaaa1111",
        "b": "other/cccc3333",
        "added": {"seed": 7},
        "removed": {"batch_size": 32, "model.layers": [64, 32]},
        "changed": {"lr": {"old": 0.001, "new": 0.1}},
        "summary": {"added": {}, "removed": {}, "changed": {}},
    }
    assert invoke("diff", "aaaa", "mnist/aaaa1111").stdout == ""


def test_diff_of_one_run_against_its_previous_version(repo: Path, store: ConfigStore) -> None:
    store.update(A, {"lr": 0.5})
    store.update(A, {"lr": 0.7})
    assert invoke("diff", "aaaa").stdout == (
        "--- mnist/aaaa1111~1\n+++ mnist/aaaa1111\n~ lr: 0.5 -> 0.7\n"
    )
    assert invoke("diff", "aaaa~1").stdout == (
        "--- mnist/aaaa1111~2\n+++ mnist/aaaa1111~1\n~ lr: 0.001 -> 0.5\n"
    )
    assert invoke("diff", "aaaa~2").stdout.endswith("+ model.layers: [64, 32]\n")  # the creation
    assert invoke("diff", "aaaa~2", "aaaa").stdout.endswith("~ lr: 0.001 -> 0.7\n")
    invoke("diff", "aaaa~3", code=1)


def test_diff_code_shows_the_code_change_between_runs(repo: Path, store: ConfigStore) -> None:
    (repo / "train.py").write_text("print('training harder')\n")
    git(repo, "commit", "-qam", "harder")
    store.create("mnist", {"lr": 0.001}, run_id="dddd4444")
    (repo / "train.py").write_text("print('uncommitted')\n")
    store.create("mnist", {"lr": 0.001}, run_id="eeee5555")  # dirty: its snapshot is diffed

    out = invoke("diff", "aaaa", "dddd", "--code").stdout
    assert "+ batch_size" not in out and "- batch_size: 32" in out
    assert "-print('training')\n+print('training harder')\n" in out
    out = invoke("diff", "dddd", "eeee", "--code").stdout
    assert out.startswith("code ") and "+print('uncommitted')\n" in out
    data = json.loads(invoke("diff", "aaaa", "dddd", "--code", "--format", "json").stdout)
    assert data["code"]["a"] == store.read(A).meta["code_commit"]
    assert "+print('training harder')" in data["code"]["diff"]
    same = invoke("diff", "aaaa", "bbbb", "--code").stdout
    assert same.endswith(f"same code version {data['code']['a'][:7]}\n")


# -- runs ----------------------------------------------------------------------------------


def _started(store: ConfigStore, ref: RunRef) -> str:
    return str(store.read(ref).meta["started"])[:19].replace("T", " ")


def test_runs_table_shows_only_the_keys_that_differ(repo: Path, store: ConfigStore) -> None:
    head = git(repo, "rev-parse", "--short=7", "HEAD").strip()
    out = invoke("runs", "--project", "mnist").stdout
    when = _started(store, A)
    assert out == (
        "id        project  created              code_commit  dropout  lr\n"
        f"aaaa1111  mnist    {when}  {head}               0.001\n"
        f"bbbb2222  mnist    {_started(store, B)}  {head}      0.5      0.01\n"
    )
    one = invoke("runs", "--where", "lr=0.1").stdout  # one run: every key is shown
    assert one.splitlines()[0].split() == ["id", "project", "created", "code_commit", "lr", "seed"]


def test_runs_where_columns_sort_and_group(repo: Path, store: ConfigStore) -> None:
    out = invoke("runs", "--where", "lr<0.05", "--where", "batch_size=32", "--columns", "id,lr")
    assert out.stdout == "id        lr\naaaa1111  0.001\nbbbb2222  0.01\n"
    out = invoke("runs", "--columns", "id,lr", "--sort", "-lr")
    assert out.stdout == "id        lr\ncccc3333  0.1\nbbbb2222  0.01\naaaa1111  0.001\n"
    out = invoke("runs", "--columns", "id,dropout", "--sort", "dropout")
    assert out.stdout.splitlines()[1:] == ["bbbb2222  0.5", "aaaa1111", "cccc3333"]
    out = invoke("runs", "--group-by", "batch_size")
    assert out.stdout == "batch_size  runs\n32          2\n            1\n"
    groups = json.loads(invoke("runs", "--group-by", "project", "--format", "json").stdout)
    assert groups == [{"project": "mnist", "runs": 2}, {"project": "other", "runs": 1}]
    # the runs are there, the conditions met none: say so, naming them as they can be pasted
    out = invoke("runs", "--where", "lr>1", "--where", "batch_size=32")
    assert (out.exit_code, out.stdout) == (0, "")
    assert out.stderr == "no runs match --where 'lr>1' --where batch_size=32\n"
    for more in (["--sort", "lr"], ["--columns", "id"], ["--group-by", "lr"]):
        assert invoke("runs", "--where", "lr>1", *more).stderr == "no runs match --where 'lr>1'\n"
    out = invoke("runs", "--project", "other", "--where", "lr>1")
    assert out.stderr == "no runs in project other match --where 'lr>1'\n"
    # no run to filter: the project has none
    assert (
        invoke("runs", "--project", "nope", "--where", "lr>1").stderr == "no runs in project nope\n"
    )


def test_runs_from_machines_in_other_zones_list_by_the_instant_they_started(repo: Path) -> None:
    # meta.yaml keeps each machine's local time: as text, 07:53+00:00 sorts after 02:53-05:00,
    # which is 30 seconds later (and 09:00+01:00 is 08:00 UTC)
    store = ConfigStore.open()
    started = {
        "first": "2026-03-29T07:53:00.000+00:00",
        "second": "2026-03-29T02:53:30.000-05:00",
        "third": "2026-03-29T09:00:00.000+01:00",
        "fourth": "2026-03-29T13:31:00.000+05:30",  # 08:01 UTC
    }
    for run_id, when in started.items():
        store.create("p", {"run": run_id}, run_id=run_id, meta={"started": when})
    order = list(started)

    def ids(*args: str) -> list[str]:
        return [item["id"] for item in json.loads(invoke("runs", "--format", "json", *args).stdout)]

    for _ in ("cold", "warm"):
        table = invoke("runs").stdout.splitlines()[1:]
        assert [line.split()[0] for line in table] == order
        assert ids() == order
    assert [run.id for run in gitcfg.Api().runs("p")] == order
    assert ids("--sort", "created") == order
    assert ids("--sort", "-created") == order[::-1]
    assert ids("--where", "run!=third") == [i for i in order if i != "third"]


def test_runs_json_yaml_and_csv_for_scripts(repo: Path, store: ConfigStore) -> None:
    meta = store.read(C).meta
    data = json.loads(invoke("runs", "--format", "json").stdout)
    assert [list(item) for item in data] == [
        [
            *("project", "id", "created", "code_commit", "dirty"),
            *("name", "group", "job_type", "tags", "notes", "config", "summary"),
        ]
    ] * 3
    assert data[2] == {
        "project": "other",
        "id": "cccc3333",
        "created": meta["started"],
        "code_commit": meta["code_commit"],
        "dirty": False,
        "name": None,
        "group": None,
        "job_type": None,
        "tags": None,
        "notes": None,
        "config": {"lr": 0.1, "seed": 7},
        "summary": {},
    }
    assert yaml.safe_load(invoke("runs", "--format", "yaml").stdout) == data
    csv_text = invoke("runs", "--format", "csv", "--where", "seed=7").stdout_bytes.decode()
    assert csv_text == (
        "project,id,created,code_commit,dirty,lr,seed\r\n"
        f"other,cccc3333,{meta['started']},{meta['code_commit']},false,0.1,7\r\n"
    )
    csv_text = invoke("runs", "--format", "csv", "--columns", "id,model.layers,seed").stdout
    assert csv_text.splitlines() == [
        "id,model.layers,seed",
        'aaaa1111,"[64, 32]",',
        'bbbb2222,"[64, 32]",',
        "cccc3333,,7",
    ]
    assert invoke("runs", "--format", "json", "--project", "nope").stdout == "[]\n"


# -- path ----------------------------------------------------------------------------------


def test_path_of_a_run_and_of_an_old_version(repo: Path, store: ConfigStore) -> None:
    first = tip(repo)
    store.update(A, {"lr": 0.5})
    assert invoke("path", "aaaa").stdout == f"gitcfg:{A.config_path}\n"
    old = invoke("path", "aaaa~1").stdout.strip()
    assert old == f"{git(repo, 'rev-list', '--reverse', 'gitcfg').split()[0]}:{A.config_path}"
    assert "lr: 0.001" in git(repo, "show", old)
    assert first


# -- terminal behaviour --------------------------------------------------------------------


def test_colour_only_when_asked_or_on_a_terminal(repo: Path, store: ConfigStore) -> None:
    plain = invoke("diff", "aaaa", "bbbb").stdout
    assert "\x1b[" not in plain
    coloured = invoke("--color", "always", "diff", "aaaa", "bbbb").stdout
    assert "\x1b[32m+ dropout: 0.5\x1b[0m" in coloured
    assert "\x1b[" not in invoke("--color", "never", "diff", "aaaa", "bbbb").stdout


def test_version_and_help_examples() -> None:
    assert invoke("--version").stdout == "gitcfg, version 0.1.0\n"
    for command in ("update", "edit", "show", "log", "diff", "runs", "history", "path", "report"):
        help_text = invoke(command, "--help").stdout
        examples = help_text.split("Examples:\n")[1]
        assert re.search(r"^ +(git|gitcfg) ", examples, re.MULTILINE), command
    listing = invoke("--help").stdout.split("Commands:\n")[1].splitlines()
    names = [line.split()[0] for line in listing if line.strip()]
    assert names == [
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
    ]


def test_shell_completion_of_run_ids(repo: Path, store: ConfigStore) -> None:
    env = {"_GITCFG_COMPLETE": "bash_complete", "COMP_WORDS": "gitcfg show aa", "COMP_CWORD": "2"}
    result = CliRunner().invoke(cli, [], env=env, prog_name="gitcfg")
    assert result.stdout.split() == ["plain,aaaa1111"]
    env["COMP_WORDS"] = "gitcfg diff mnist/"
    result = CliRunner().invoke(cli, [], env=env, prog_name="gitcfg")
    assert result.stdout.split() == ["plain,mnist/aaaa1111", "plain,mnist/bbbb2222"]


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_long_output_pages_on_a_terminal_and_no_pager_turns_it_off(
    repo: Path, store: ConfigStore, tmp_path: Path
) -> None:
    import subprocess

    paged = tmp_path / "paged.txt"
    pager = tmp_path / "pager.sh"
    pager.write_text(f"#!/bin/sh\ncat > {paged}\n")
    pager.chmod(0o755)
    env = {**os.environ, "GIT_PAGER": str(pager), "LINES": "5", "COLUMNS": "80"}
    env.pop("NO_COLOR", None)

    def run_on_a_terminal(*args: str) -> None:
        leader, follower = os.openpty()
        try:
            subprocess.run(
                [sys.executable, "-m", "gitcfg", *args],
                stdin=follower, stdout=follower, stderr=follower, env=env, check=True,
                timeout=30,
            )  # fmt: skip
        finally:
            os.close(follower)
            os.close(leader)

    run_on_a_terminal("log", "-p")
    text = paged.read_text()
    assert "create mnist/aaaa1111" in text and "\x1b[33m" in text  # coloured, to the pager
    paged.unlink()
    run_on_a_terminal("--no-pager", "log", "-p")
    assert not paged.exists()
    run_on_a_terminal("path", "aaaa")  # short output never pages
    assert not paged.exists()


# -- whole processes -----------------------------------------------------------------------


def gitcfg_command() -> list[str]:
    script = Path(sys.executable).parent / "gitcfg"
    return [str(script)] if script.exists() else [sys.executable, "-m", "gitcfg"]


def run_process(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    import subprocess

    proc = subprocess.run(
        [*gitcfg_command(), *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_git_diff_of_two_paths_in_a_shell(repo: Path, store: ConfigStore) -> None:
    import shlex
    import subprocess

    command = shlex.join(gitcfg_command())
    out = subprocess.run(
        ["sh", "-c", f"git diff $({command} path aaaa) $({command} path bbbb)"],
        cwd=repo, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert out.endswith(
        " batch_size: 32\n-lr: 0.001\n+dropout: 0.5\n+lr: 0.01\n model.layers: [64, 32]\n"
    )


def test_exit_codes_and_one_line_errors_of_the_process(repo: Path, store: ConfigStore) -> None:
    before = tip(repo)
    assert run_process("update", "aaaa", "foo") == (
        2,
        "",
        "Error: expected KEY=VALUE, got 'foo'; quote the value for the shell if it has spaces "
        "(lr=0.1, name='my run')\n",
    )
    assert run_process("show", "zzzz") == (
        1, "", "Error: no run 'zzzz'; list the runs with 'gitcfg runs'\n"
    )  # fmt: skip
    code, _, err = run_process("frobnicate")
    assert code == 2 and "Error: No such command 'frobnicate'." in err
    code, out, err = run_process("update", "aaaa", "lr=0.5")
    assert (code, err) == (0, "") and out.startswith("~ lr: 0.001 -> 0.5\n")
    assert tip(repo) != before


def test_python_m_gitcfg(repo: Path, store: ConfigStore) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "path", "cccc"], capture_output=True, text=True
    )
    assert (proc.returncode, proc.stdout) == (0, f"gitcfg:{C.config_path}\n")


def test_help_imports_neither_git_nor_yaml_nor_the_store() -> None:
    import subprocess

    probe = (
        "import sys\n"
        "from gitcfg.cli import main\n"
        "for args in (['--help'], ['runs', '--help'], ['update', '--help']):\n"
        "    try:\n"
        "        main(args)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in\n"
        "    ('git', 'gitdb', 'ruamel', 'yaml') or m in ('gitcfg.store', 'gitcfg.git'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == ""


# -- a store branch gitcfg must not use ----------------------------------------------------


def _users_branch(repo: Path, name: str) -> None:
    git(repo, "switch", "-q", "-c", name)
    (repo / "code.py").write_text("print(1)\n")
    git(repo, "add", "code.py")
    git(repo, "commit", "-q", "-m", "my work")
    git(repo, "switch", "-q", "main")


def _packed_branch_below(repo: Path) -> None:
    git(repo, "branch", "gitcfg/foo")
    git(repo, "pack-refs", "--all", "--prune")


REFUSED_BRANCHES = [
    (
        _packed_branch_below,
        {},
        1,
        "Error: cannot create the branch 'gitcfg': the branch 'gitcfg/foo' exists, and git "
        "cannot keep both",
    ),
    (
        lambda repo: git(repo, "branch", "gitcfg/foo"),
        {},
        1,
        "Error: cannot create the branch 'gitcfg': the branch 'gitcfg/foo' exists",
    ),
    (
        lambda repo: _users_branch(repo, "gitcfg"),
        {},
        1,
        "Error: the branch 'gitcfg' is not a gitcfg store: it holds the file 'code.py', which "
        "gitcfg never writes there; keep the runs on another branch by setting GITCFG_BRANCH",
    ),
    (
        lambda repo: None,
        {"GITCFG_BRANCH": "HEAD"},
        2,
        "Error: invalid store branch name 'HEAD': git reads HEAD as the checked-out branch; "
        "set GITCFG_BRANCH",
    ),
]


def _gitcfg(repo: Path, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args],
        cwd=repo,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


READS = [["runs"], ["show", "abc"], ["log"]]
CASES = [
    *[(*case, ["run", "--", "touch", "ran"]) for case in REFUSED_BRANCHES],
    # reading: a branch not created yet has nothing to read, but the other two are refused too
    *[(*case, args) for case in REFUSED_BRANCHES[2:] for args in READS],
]


@pytest.mark.parametrize(("setup", "env", "code", "stderr", "args"), CASES)
def test_a_store_branch_gitcfg_cannot_use_is_one_line_and_changes_nothing(
    repo: Path,
    setup: Callable[[Path], object],
    env: dict[str, str],
    code: int,
    stderr: str,
    args: list[str],
) -> None:
    setup(repo)
    before = git(repo, "for-each-ref", "--format=%(refname) %(objectname)")
    proc = _gitcfg(repo, args, env)
    assert (proc.returncode, proc.stderr.count("\n")) == (code, 1), proc.stderr
    assert proc.stderr.startswith(stderr), proc.stderr
    assert proc.stdout == ""
    assert not (repo / "ran").exists()  # the command never started
    assert git(repo, "for-each-ref", "--format=%(refname) %(objectname)") == before


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "--where", "lr>>1"],
        ["runs", "--where", "lr==0.1", "--format", "json"],
        ["runs", "--columns", "id,summary:"],
        ["update", "aaaa", "summary:=1"],
    ],
)
def test_malformed_input_is_a_usage_error_in_a_real_process(
    repo: Path, store: ConfigStore, args: list[str]
) -> None:
    before = tip(repo)
    result = subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=repo, capture_output=True, text=True
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert tip(repo) == before
