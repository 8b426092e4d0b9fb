"""gitcfg report without a browser: what the page holds, the command's errors, --open.

The page's behaviour in a real browser is tested in tests/test_report_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import gitcfg
from gitcfg.cli.commands import cli
from gitcfg.store import ConfigStore
from tests.reportruns import HOSTILE, record_sweep

DATA = re.compile(r'<script type="application/json" id="gitcfg-data">(.*?)</script>', re.DOTALL)


def invoke(*args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, list(args), prog_name="gitcfg")
    assert result.exit_code == code, (result.output, result.exception)
    return result


def page_data(path: Path) -> dict[str, Any]:
    match = DATA.search(path.read_text("utf-8"))
    assert match is not None
    data: dict[str, Any] = json.loads(match.group(1))
    return data


@pytest.fixture
def store(repo: Path) -> ConfigStore:
    return ConfigStore.open()


def test_report_holds_every_run_and_the_keys_that_differ(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    result = invoke("report")
    out = repo / "gitcfg-report.html"
    assert result.output.startswith(f"wrote {out.name} (16 runs, ")
    data = page_data(out)
    assert [r["id"] for r in data["runs"]] == [f"run{i:02d}" for i in range(16)]
    assert data["keys"] == ["batch_size", "lr", "note", "optimizer"]
    assert data["common"] == {"epochs": 3}
    first = data["runs"][0]
    assert first["config"] == {"batch_size": 32, "lr": 0.0001, "note": HOSTILE, "optimizer": "adam"}
    assert first["commit"] == store.read(store.resolve("run00").ref).meta["code_commit"]
    assert data["provenance"][first["provenance"]]["command"]
    # results: the numeric summary keys are the metrics; accuracy first, higher is better
    assert data["metrics"] == ["accuracy", "loss"]
    assert (data["metric"], data["goal"]) == ("accuracy", "max")
    assert data["runs"][10]["summary"] == {"accuracy": 0.984, "loss": 0.016, "samples": "60k"}


def test_metric_chooses_the_result_and_its_direction(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    invoke("report", "--metric", "loss")
    data = page_data(repo / "gitcfg-report.html")
    assert (data["metric"], data["goal"]) == ("loss", "min")


def test_runs_without_results_still_get_a_report(repo: Path, store: ConfigStore) -> None:
    store.create("p", {"lr": 0.1}, run_id="a")
    store.create("p", {"lr": 0.2}, run_id="b")
    invoke("report")
    data = page_data(repo / "gitcfg-report.html")
    assert (data["metrics"], data["metric"], data["keys"]) == ([], None, ["lr"])


def test_user_text_never_becomes_markup(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    invoke("report", "--where", "note!=<b>bold</b>", "-o", "r.html")
    html = (repo / "r.html").read_text("utf-8")
    # values are in the page only as escaped JSON, arguments as escaped HTML (shown on top)
    assert "<script>alert" not in html and "<b>bold" not in html
    assert "\\u003cscript\\u003ealert(1)\\u003c/script\\u003e" in html
    assert "&#39;&lt;b&gt;bold&lt;/b&gt;&#39;" in html or "&lt;b&gt;bold&lt;/b&gt;" in html
    assert page_data(repo / "r.html")["runs"][0]["config"]["note"] == HOSTILE


def test_the_page_needs_no_network(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    invoke("report")
    html = (repo / "gitcfg-report.html").read_text("utf-8")
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", html)
    assert "default-src 'none'" in html  # and the browser is told to refuse any request
    assert html.count("<script") == 3  # the data, plotly.js once, the page's own script


def test_where_and_project_choose_the_runs(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    store.create("other", {"lr": 0.5}, run_id="elsewhere")
    invoke("report", "--where", "lr>=0.01", "--where", "optimizer=adam", "--project", "mnist")
    data = page_data(repo / "gitcfg-report.html")
    assert sorted((r["config"]["lr"], r["config"]["batch_size"]) for r in data["runs"]) == [
        (0.01, 32),
        (0.01, 64),
        (0.1, 32),
        (0.1, 64),
    ]
    assert data["common"]["optimizer"] == "adam"
    assert data["context"]["where"] == ["lr>=0.01", "optimizer=adam"]
    assert data["context"]["project"] == "mnist"


def test_history_of_each_run_with_its_changes(repo: Path, store: ConfigStore) -> None:
    refs = record_sweep(store)
    store.update(refs[3], {"epochs": 5}, message="longer")
    store.update(refs[3], {"lr": 0.02}, ["note"], message="retune")
    invoke("report", "--group-by", "optimizer")
    data = page_data(repo / "gitcfg-report.html")
    assert data["groupBy"] == "optimizer"
    run = data["runs"][3]
    versions = run["history"]["versions"]
    assert [v["message"] for v in versions] == ["retune", "longer", "create mnist/run03 (5 keys)"]
    assert sorted(versions[0]["changes"]) == [
        ["changed", "lr", 0.0001, 0.02],
        ["removed", "note", "plain", None],
    ]
    assert versions[1]["changes"] == [["changed", "epochs", 3, 5]]
    assert versions[2]["created"] is True and "changes" not in versions[2]
    assert data["runs"][0]["history"]["versions"][0]["created"] is True


def test_history_is_capped_per_run(repo: Path, store: ConfigStore) -> None:
    from gitcfg.report.histories import run_histories

    ref, _ = store.create("p", {"step": 0}, run_id="busy")
    for step in range(1, 6):
        store.update(ref, {"step": step})
    history = run_histories(store, limit=3)[ref.config_path]
    assert [v.changes[0].new for v in history.versions] == [5, 4, 3]
    assert history.omitted == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--group-by", "nope"], "Error: no column 'nope' in the runs listed; available: group"),
        (["--metric", "samples"], "Error: no column 'samples' in the runs listed; available: acc"),
        (["--where", "lr>1"], "Error: no runs matching --where to report; list them with"),
        (["--project", "ghost"], "Error: no runs in project ghost to report"),
        (["-o", "missing/dir/r.html"], "Error: directory missing/dir does not exist"),
        (["--where", "lr"], "Error: expected KEY=VALUE"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(
    repo: Path, store: ConfigStore, args: list[str], message: str
) -> None:
    record_sweep(store)
    before = sorted(p.name for p in repo.iterdir())
    result = CliRunner().invoke(cli, ["report", *args], prog_name="gitcfg")
    assert result.exit_code in (1, 2)
    assert result.output.startswith(message), result.output
    assert result.output.count("\n") == 1
    assert sorted(p.name for p in repo.iterdir()) == before


def test_an_empty_store_is_an_error(repo: Path) -> None:
    result = CliRunner().invoke(cli, ["report"], prog_name="gitcfg")
    assert result.exit_code == 1
    assert result.output == "Error: no runs to report; list them with 'gitcfg runs'\n"
    assert not (repo / "gitcfg-report.html").exists()


def test_without_the_extra_one_line_names_the_pip_command(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    # a real process in which Jinja2 cannot be imported, as where the extra is not installed
    code = "import sys; sys.modules['jinja2'] = None; from gitcfg.cli import main; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "report"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 1
    assert proc.stderr == (
        "Error: this needs Jinja2 and plotly, which are not installed; "
        "install them with: pip install 'gitcfg[report]'\n"
    )
    assert not (repo / "gitcfg-report.html").exists()


def test_open_hands_the_file_to_the_browser(repo: Path, store: ConfigStore, tmp_path: Path) -> None:
    record_sweep(store)
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {opened}\n')
    browser.chmod(browser.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "BROWSER": f"{browser} %s"}
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "report", "-o", "out.html", "--open"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert opened.read_text().strip() == (repo / "out.html").resolve().as_uri()


def test_help_does_not_import_the_report_extra() -> None:
    code = (
        "import sys; from gitcfg.cli import main\n"
        "try: main(['report', '--help'])\n"
        "except SystemExit: pass\n"
        "assert 'jinja2' not in sys.modules and 'plotly' not in sys.modules, 'imported'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "Write one HTML page to see how config affects results." in proc.stdout


def test_histories_of_all_runs_cost_one_git_log(
    repo: Path, store: ConfigStore, tmp_path: Path
) -> None:
    refs = record_sweep(store)
    for ref in refs[:4]:
        store.update(ref, {"epochs": 4})
    trace = tmp_path / "trace.txt"
    env = {**os.environ, "GIT_TRACE": str(trace)}
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg", "report"], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    commands = [line for line in trace.read_text().splitlines() if "built-in: git" in line]
    assert sum(" git log " in line for line in commands) == 1
    assert len(commands) < 10  # a handful in all, whatever the number of runs
    data = page_data(repo / "gitcfg-report.html")
    assert [len(r["history"]["versions"]) for r in data["runs"][:6]] == [2, 2, 2, 2, 1, 1]


def test_values_json_cannot_carry_become_text() -> None:
    from datetime import date

    from gitcfg.report.shape import plain

    # spelled as `gitcfg runs --format json` spells them, so the two can be compared
    nonfinite = [float("nan"), float("inf"), float("-inf"), 1.5]
    assert plain({"a": nonfinite, "d": date(2026, 1, 2)}) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5],
        "d": "2026-01-02",
    }


def test_tags_and_failed_runs_are_shown(repo: Path, store: ConfigStore) -> None:
    record_sweep(store)
    gitcfg.init(project="mnist", id="tagged", config={"lr": 0.5}, tags=["baseline", "v2"]).finish()
    gitcfg.init(project="mnist", id="failed", config={"lr": 0.7}).finish(exit_code=3)
    invoke("report", "-o", "r.html")
    runs = {r["id"]: r for r in page_data(repo / "r.html")["runs"]}
    assert (runs["tagged"]["tags"], runs["tagged"]["exit"]) == (["baseline", "v2"], None)
    assert (runs["failed"]["tags"], runs["failed"]["exit"]) == ([], 3)
    assert (runs["run00"]["tags"], runs["run00"]["exit"]) == ([], None)
