"""gitcfg report in a real browser: headless Chromium with the network blocked, driven by selenium.

Run with ``python -m pytest -q -m browser`` (needs apt's chromium and chromium-driver, and
``pip install selenium 'gitcfg[report]'``). Each test writes a report of a real store with the
gitcfg command and checks what a reader of the page would see.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import gitcfg
from gitcfg.cli.commands import cli
from gitcfg.store import ConfigStore
from tests.browser import available, chromium, console_errors
from tests.reportruns import HOSTILE, record_sweep

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = available()
    if reason is not None:
        pytest.fail(f"the browser tests cannot run: {reason}")
    with chromium() as driver:
        yield driver


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


def open_report(browser: Any, path: Path) -> Any:
    browser.get(path.resolve().as_uri())
    assert wait_for(lambda: browser.execute_script("return document.body.dataset.ready"))
    return browser


def errors(browser: Any) -> list[str]:
    # Chromium's software WebGL reports "GPU stall due to ReadPixels" as a performance note
    return [e for e in console_errors(browser) if "GPU stall due to ReadPixels" not in e]


def write_report(*args: str) -> Path:
    result = CliRunner().invoke(cli, ["report", "-o", "report.html", *args], prog_name="gitcfg")
    assert result.exit_code == 0, result.output
    return Path("report.html")


@pytest.fixture
def page(repo: Path, browser: Any) -> Any:
    record_sweep(ConfigStore.open())
    console_errors(browser)  # forget what earlier pages logged
    return open_report(browser, write_report())


def rows(browser: Any) -> list[Any]:
    return list(browser.find_elements("css selector", "#runs tbody tr"))


def column(browser: Any, name: str) -> list[str]:
    headers = [th.text for th in browser.find_elements("css selector", "#runs thead tr + tr th")]
    index = headers.index(name)
    return [row.find_elements("css selector", "td")[index].text for row in rows(browser)]


def test_page_loads_offline_without_errors(page: Any) -> None:
    assert errors(page) == []
    # nothing was fetched: the page's only resources are inline
    fetched = page.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    assert fetched == []
    assert page.execute_script("return typeof Plotly.react") == "function"


def test_one_row_per_run_with_the_differing_keys(page: Any) -> None:
    assert len(rows(page)) == 16
    headers = [th.text for th in page.find_elements("css selector", "#runs thead tr + tr th")]
    assert headers[:2] == ["id", "created"]
    assert headers[3:] == ["batch_size", "lr", "note", "optimizer", "accuracy", "loss"]
    assert "epochs" not in headers  # the same in every run
    assert page.find_element("id", "count").text == "16 run(s)"
    band = [th.text for th in page.find_elements("css selector", "#runs tr.band th")]
    assert band == ["RUN", "CONFIG (KEYS THAT DIFFER)", "RESULTS"]


def test_the_best_run_and_its_settings_stand_out(page: Any) -> None:
    best = page.find_element("id", "best").text
    assert "Best accuracy (highest) of 16 run(s): 0.984 — run run10" in best
    assert "batch_size = 64" in best and "lr = 0.01" in best and "optimizer = adam" in best
    best_row = page.find_element("css selector", "#runs tbody tr.is-best")
    assert best_row.get_attribute("data-run") == "mnist/run10"
    # per learning rate: 0.01 has the best mean, and its row is the one marked
    page.find_element("css selector", "#group-key option[value='c:lr']").click()
    groups = page.find_elements("css selector", "#groups tbody tr")
    assert [g.text.split()[0] for g in groups] == ["0.0001", "0.001", "0.01", "0.1"]
    marked = page.find_element("css selector", "#groups tbody tr.is-best").text.split()
    assert marked == ["0.01", "4", "0.977", "0.97", "0.984"]
    # lower loss is better: the same run is best
    page.find_element("css selector", "#metric option[value='loss']").click()
    assert wait_for(
        lambda: "Best loss (lowest) of 16 run(s): 0.016" in page.find_element("id", "best").text
    )
    assert errors(page) == []


def test_plots_are_drawn(page: Any) -> None:
    for plot in ("parcoords", "scatter", "groupbar"):
        node = page.find_element("id", plot)
        assert node.size["width"] > 300 and node.size["height"] > 200
        svg = node.find_element("css selector", "svg.main-svg")
        assert svg.size["width"] > 300 and svg.size["height"] > 200
    # parallel coordinates: one axis per differing key and the metric, drawn with WebGL
    axes = page.find_elements("css selector", "#parcoords .axis-title")
    assert [a.text for a in axes] == ["batch_size", "lr (log)", "note", "optimizer", "accuracy"]
    canvas = page.find_elements("css selector", "#parcoords canvas")
    assert canvas and max(c.size["width"] for c in canvas) > 300
    # a point per run, and a star over the best one
    assert len(page.find_elements("css selector", "#scatter .point")) == 16 + 1
    # grouped first by the key that explains accuracy most: lr, one bar per value
    assert page.find_element("id", "group-key").get_attribute("value") == "c:lr"
    assert len(page.find_elements("css selector", "#groupbar .point")) == 4


def test_typing_in_the_filter_reduces_the_rows(page: Any) -> None:
    page.find_element("id", "filter").send_keys("sgd")
    assert wait_for(lambda: len(rows(page)) == 8)
    assert set(column(page, "optimizer")) == {"sgd"}
    assert page.find_element("id", "count").text == "8 run(s) (filtered from 16)"
    page.find_element("id", "conditions").send_keys("lr>=0.01, batch_size=64")
    assert wait_for(lambda: len(rows(page)) == 2)
    assert sorted(column(page, "lr")) == ["0.01", "0.1"]
    # results too: summary:KEY names a result, as in 'gitcfg runs'
    conditions = page.find_element("id", "conditions")
    conditions.clear()
    conditions.send_keys("summary:accuracy>0.97")
    assert wait_for(lambda: len(rows(page)) == 1)
    assert column(page, "id") == ["run11"]  # the best sgd run; the filter keeps only sgd
    page.find_element("id", "clear").click()
    assert wait_for(lambda: len(rows(page)) == 16)
    assert errors(page) == []


def test_a_condition_on_an_unknown_key_says_so(page: Any) -> None:
    page.find_element("id", "conditions").send_keys("nope=1")
    assert wait_for(lambda: page.find_element("id", "condition-error").text == 'no key "nope"')
    assert len(rows(page)) == 16


def test_sorting_by_a_column(page: Any) -> None:
    def lr_header() -> Any:
        return page.find_element("css selector", "#runs th[data-column='c:lr'] button")

    lr_header().click()
    values = [float(v) for v in column(page, "lr")]
    assert values == sorted(values) and values[0] == 0.0001
    assert (
        page.find_element("css selector", "th[data-column='c:lr']").get_attribute("aria-sort")
        == "ascending"
    )
    lr_header().click()
    values = [float(v) for v in column(page, "lr")]
    assert values == sorted(values, reverse=True) and values[0] == 0.1


def test_markup_in_a_value_stays_text(page: Any) -> None:
    assert column(page, "note")[0] == HOSTILE
    scripts = page.execute_script("return document.scripts.length")
    assert scripts == 3  # the data, plotly.js and the page's script: none was injected
    assert page.execute_script("return window.alerted === undefined")
    # no alert opened: selenium would fail every call while one is open
    assert page.title == "gitcfg report"


def test_a_click_on_a_run_shows_its_history_and_provenance(repo: Path, browser: Any) -> None:
    store = ConfigStore.open()
    refs = record_sweep(store)
    store.update(refs[5], {"lr": 0.05}, message="retune lr")
    page = open_report(browser, write_report())
    row = page.find_element("css selector", "#runs tbody tr[data-run='mnist/run05']")
    row.click()
    dialog = page.find_element("id", "detail")
    assert wait_for(dialog.is_displayed)
    text = dialog.text
    assert "mnist/run05" in text
    assert "retune lr" in text and "~ lr: 0.001 → 0.05" in text
    assert "create mnist/run05 (5 keys)" in text and "created with the config above" in text
    meta = store.read(refs[5]).meta
    assert meta["code_commit"] in text and meta["host"] in text and meta["command"] in text
    assert "epochs\n3" in text  # keys common to all runs are shown too
    page.find_element("id", "detail-close").click()
    assert wait_for(lambda: not dialog.is_displayed())
    assert errors(page) == []


def test_brushing_an_axis_filters_the_table(page: Any) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    # the batch_size axis: drag from its middle up past its top, selecting 64
    axis = page.find_elements("css selector", "#parcoords .axis-brush rect.background")[0]
    height = axis.size["height"]
    ActionChains(page).move_to_element(axis).click_and_hold().move_by_offset(
        0, -height // 4
    ).move_by_offset(0, -height).release().perform()
    assert wait_for(lambda: len(rows(page)) == 8)
    assert set(column(page, "batch_size")) == {"64"}
    assert len(page.find_elements("css selector", "#scatter .point")) == 8 + 1


def test_many_runs_are_paged(repo: Path, browser: Any) -> None:
    store = ConfigStore.open()
    for i in range(250):
        config = {
            "lr": 0.001 * (1 + i % 10),
            "seed": i,
            **{f"k{k:02d}": i % (k + 2) for k in range(12)},
        }
        results = {"accuracy": 0.5 + 0.04 * (i % 10) - 0.001 * (i % 7)}
        store.create("big", config, run_id=f"r{i:04d}", summary=results)
    page = open_report(browser, write_report())
    assert len(rows(page)) == 100
    assert page.find_element("id", "page-info").text == "rows 1 to 100 of 250, page 1 of 3"
    page.find_element("id", "next").click()
    assert column(page, "id")[0] == "r0100"
    # 14 keys differ: the parallel coordinates keep the 12 that explain accuracy most
    note = page.find_element("id", "parcoords-note").text
    assert "12 of 14 keys shown: those that explain accuracy most." in note
    axes = [a.text for a in page.find_elements("css selector", "#parcoords .axis-title")]
    assert len(axes) == 13 and "lr" in axes and axes[-1] == "accuracy"
    assert errors(page) == []


def test_screenshot_of_the_demo_report(
    tmp_path: Path, browser: Any, request: pytest.FixtureRequest
) -> None:
    """The README's picture: the report the demo writes, as a reader first sees it.

    ``REPORT_SCREENSHOT=docs/report.png`` keeps it (relative to where pytest was started).
    """
    import subprocess
    import sys

    where = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "-m", "gitcfg.demo", str(where)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = where / "gitcfg-report.html"
    assert report.exists(), proc.stdout
    browser.set_window_size(1400, 1500)
    try:
        open_report(browser, report)
        time.sleep(0.5)  # plotly's transitions
        keep = os.environ.get("REPORT_SCREENSHOT")
        target = request.config.invocation_params.dir / keep if keep else tmp_path / "report.png"
        assert browser.save_screenshot(str(target))
        assert target.stat().st_size > 50_000
        assert errors(browser) == []
    finally:
        browser.set_window_size(1400, 1000)


def test_tags_and_exit_codes_get_columns_once_a_run_has_them(repo: Path, browser: Any) -> None:
    record_sweep(ConfigStore.open())
    gitcfg.init(project="mnist", id="tagged", config={"lr": 0.5}, tags=["baseline", "v2"]).finish()
    gitcfg.init(project="mnist", id="failed", config={"lr": 0.7}).finish(exit_code=3)
    page = open_report(browser, write_report())
    ids = column(page, "id")
    tags, codes = column(page, "tags"), column(page, "exit")
    assert tags[ids.index("tagged")] == "baseline, v2"
    assert codes[ids.index("failed")] == "3"
    assert codes[ids.index("run00")] == "" and tags[ids.index("run00")] == ""
    assert errors(page) == []
