"""Streaming listings: the same answers as before, a page at a time, memory bounded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import gitcfg
from gitcfg.layout import RunRef
from gitcfg.provenance import capture
from gitcfg.render import json_list_chunks
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import dump_config
from tests.conftest import git

GITCFG = [sys.executable, "-m", "gitcfg"]


def _row(record: object) -> dict[str, object]:
    from gitcfg.query import run_row

    return run_row(record)  # type: ignore[arg-type]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITCFG, *args], cwd=cwd, capture_output=True, text=True)


def _varied_store() -> ConfigStore:
    store = ConfigStore.open()
    values: list[object] = [0.1, float("inf"), float("nan"), "ünï", "no", None, [1, [2, 3]], True]
    for i, item in enumerate(values):
        store.create(f"p{i % 2}", {"lr": 0.01 * i, "x": item, "big": 10**20 + i}, run_id=f"r{i}")
    store.create("p0", {"same": 1}, run_id="twin-a")  # two runs sharing one config blob
    store.create("p1", {"same": 1}, run_id="twin-b")
    return store


def test_json_listing_is_byte_for_byte_the_rows_json(repo: Path) -> None:
    store = _varied_store()
    expected = "".join(json_list_chunks([_row(r) for r in store.runs()]))
    cold = _cli(repo, "runs", "--format", "json")
    warm = _cli(repo, "runs", "--format", "json")
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout == expected
    assert warm.stdout == expected  # from the cache, pasted unparsed
    ids = [row["id"] for row in json.loads(expected.replace("NaN", "null"))]
    assert ids == ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "twin-a", "twin-b"]
    assert _cli(repo, "runs", "--format", "json", "--project", "p1").stdout.count('"id"') == 5


def test_filtered_sorted_and_other_formats_stream_the_same_rows(repo: Path) -> None:
    store = _varied_store()
    rows = [_row(r) for r in store.runs()]
    where = _cli(repo, "runs", "--format", "json", "--where", "lr>0.03")
    assert [r["id"] for r in json.loads(where.stdout.replace("NaN", "null"))] == [
        r["id"]
        for r in rows
        if isinstance(r["config"].get("lr"), float) and r["config"]["lr"] > 0.03
    ]
    by_lr = _cli(repo, "runs", "--format", "csv", "--sort", "-lr", "--columns", "id,lr")
    assert by_lr.stdout.splitlines()[:3] == ["id,lr", "r7,0.07", "r6,0.06"]
    assert by_lr.stdout.splitlines()[-2:] == ["twin-a,", "twin-b,"]  # no lr: last either way
    table = _cli(repo, "runs")
    assert table.stdout.splitlines()[0].split() == [
        "id", "project", "created", "code_commit", "big", "lr", "same", "x",
    ]  # fmt: skip
    assert _cli(repo, "runs", "--format", "yaml").stdout.count("\n- ") == len(rows) - 1
    bad = _cli(repo, "runs", "--sort", "nope")
    assert bad.returncode == 1 and bad.stdout == "" and "nope" in bad.stderr


def test_api_runs_is_lazy_and_pages(repo: Path) -> None:
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    for i in range(25):
        store.create("p", {"i": i, "even": i % 2 == 0}, run_id=f"r{i:02d}", provenance=prov)
    api = gitcfg.Api()
    runs = api.runs(per_page=4)
    assert not isinstance(runs, list)
    assert len(runs) == 25
    assert [r.id for r in runs] == [f"r{i:02d}" for i in range(25)]
    assert runs[7].config["i"] == 7
    assert [r.id for r in runs[-2:]] == ["r23", "r24"]
    evens = api.runs(filters={"even": True}, per_page=3)
    assert len(evens) == 13
    assert [r.config["i"] for r in evens][:3] == [0, 2, 4]
    # iterating only the first runs reads only the first pages
    first = next(iter(api.runs(per_page=2)))
    assert first.id == "r00" and first.meta["code_commit"] == prov.code_commit
    with pytest.raises(IndexError):
        runs[25]


def _fast_store(repo: Path, count: int) -> None:
    """``count`` runs in one commit through git fast-import, the files as create writes them."""
    prov = capture(ConfigStore.open().code_repo)
    meta = dump_config(prov.as_dict()).encode()
    started = next(line for line in meta.split(b"\n") if line.startswith(b"started: "))
    parts = [b"commit refs/heads/gitcfg\ncommitter t <t@example.com> 0 +0000\ndata 4\nruns\n"]
    for i in range(count):
        ref = RunRef("big", f"run{i:06d}")
        config = {f"param_{k:02d}": k * 0.5 + i for k in range(16)}
        config.update({"model": "resnet", "dataset": f"ds-{i % 7}", "seed": i, "text": "x" * 40})
        text = dump_config(config).encode()
        parts.append(
            b"M 100644 inline %s\ndata %d\n%s\n" % (ref.config_path.encode(), len(text), text)
        )
        # each run its own start time, quoted as create writes it
        stamped = meta.replace(started, b"started: '2026-01-01T00:00:00.%06d+00:00'" % i)
        parts.append(
            b"M 100644 inline %s\ndata %d\n%s\n" % (ref.meta_path.encode(), len(stamped), stamped)
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=b"".join(parts) + b"\n", cwd=repo, check=True
    )


_MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""
_API = """
import resource, gitcfg
count = sum(1 for run in gitcfg.Api().runs() if run.config["seed"] >= 0)
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(cwd: Path, *args: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


@pytest.mark.scale
@pytest.mark.slow
def test_listing_20000_runs_keeps_memory_bounded(repo: Path) -> None:
    _fast_store(repo, 20_000)
    gitcfg_bin = shutil.which("gitcfg") or str(Path(sys.executable).parent / "gitcfg")
    small = _peak_mb(repo, sys.executable, "-c", "import gitcfg.store, gitcfg.cli")
    api = subprocess.run([sys.executable, "-c", _API], cwd=repo, capture_output=True, text=True)
    assert api.returncode == 0, api.stderr
    count, api_mb = map(int, api.stdout.split())
    assert count == 20_000
    print(f"\npeak RSS: imports {small} MB, Api().runs() {api_mb} MB")
    # Api().runs() streams: an index of a few MB and one page of StoredRuns (Config objects,
    # reference cycles freed page by page). Holding all 20,000 configs as dicts costs ~80 MB
    # more; 45 MB was measured by hand, up to 92 MB inside pytest for reasons not yet found.
    # (`gitcfg runs` itself still reads the whole listing before printing.)
    assert api_mb - small < 100, (api_mb, small)
    out = subprocess.run(
        [gitcfg_bin, "runs", "--format", "json"], cwd=repo, capture_output=True, check=True
    ).stdout
    assert out.count(b'"project": "big"') == 20_000
    assert git(repo, "fsck", "--strict") == ""


def test_rss_helper_is_not_fooled(tmp_path: Path) -> None:
    # The measuring helper reports the child's peak, not the parent's: 200 MB held by a child.
    held = _peak_mb(
        tmp_path,
        sys.executable,
        "-c",
        "x = bytearray(200 << 20); x[::4096] = b'1' * len(x[::4096])",
    )
    assert held >= 200
    assert os.path.exists(tmp_path)
