"""Report figures: ``gitcfg report`` over 1,000 and 10,000 runs, and the page in headless Chromium.

Run: python bench/bench_report.py [--sizes 1000,10000] [--repeat 5]
Needs the report extra; the page timing also needs selenium and apt's chromium/chromium-driver.

Each store has one commit per run (and an update commit for every 10th run), written with
``git fast-import`` holding exactly the files ConfigStore.create writes plus a summary.yaml, so
the report reads a real history of 1,000 or 10,000 commits. Figures, medians of whole processes:
time to write the report, with ``gitcfg runs --format json`` over the same store as baseline;
file size; time from navigation until the page says it is drawn (``body[data-ready]``) in
headless Chromium (and until the table is shown, before the WebGL parallel coordinates), with a
page holding only the inlined plotly.js as baseline.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, config, make_repo, stamped, work_dir

from gitcfg.layout import RunRef
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import dump_config

ENV.pop("PYTHONDONTWRITEBYTECODE", None)
BIN = Path(sys.executable).parent
GITCFG = str(BIN / "gitcfg") if (BIN / "gitcfg").exists() else shutil.which("gitcfg") or "gitcfg"


def _file(path: str, text: bytes) -> bytes:
    return b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(text), text)


def _commit(when: int, message: str, files: list[bytes]) -> bytes:
    body = message.encode()
    head = b"commit refs/heads/gitcfg\ncommitter gitcfg <gitcfg@localhost> %d +0000\n" % when
    return head + b"data %d\n%s\n" % (len(body), body) + b"".join(files) + b"\n"


def populate(repo: Path, count: int) -> None:
    """``count`` runs, one create commit each, every 10th run updated once, with results."""
    os.chdir(repo)
    prov = capture(ConfigStore.open().code_repo)
    stream = []
    for i in range(count):
        ref = RunRef("bench", f"run{i:06d}")
        values = config(i)
        lr = float(values["param_00"]) % 1 or 0.5
        summary = {"accuracy": round(0.9 - 0.1 * (lr - 0.5) ** 2 + 0.001 * (i % 7), 4),
                   "loss": round(0.1 + math.log1p(i % 13) / 10, 4)}  # fmt: skip
        files = [
            _file(ref.config_path, dump_config(values).encode()),
            _file(ref.meta_path, dump_config(stamped(prov, i).as_dict()).encode()),
            _file(f"{ref.directory}/summary.yaml", dump_config(summary).encode()),
        ]
        trailer = f"\n\nGitcfg-Run: {ref}\n"
        stream.append(
            _commit(1_700_000_000 + i, f"create {ref} ({len(values)} keys){trailer}", files)
        )
        if i % 10 == 0:
            values["seed"] = i + 1
            update = [_file(ref.config_path, dump_config(values).encode())]
            stream.append(_commit(1_700_000_000 + i, f"update {ref}: seed{trailer}", update))
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=repo, check=True, env=ENV
    )


def timed(args: list[str], cwd: Path, repeat: int) -> list[float]:
    subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, check=True)  # warm-up, .pyc
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def page_load(pages: list[Path], repeat: int) -> list[list[tuple[float, float]]] | None:
    """(seconds to the table, to everything drawn) per page, each page loaded ``repeat`` times."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from browser import available, chromium

    reason = available()
    if reason is not None:
        print(f"page load not measured: {reason}")
        return None
    results = []
    with chromium() as driver:
        for page in pages:
            samples = []
            for _ in range(repeat):
                driver.get("about:blank")
                driver.get(page.resolve().as_uri())  # returns after the load event
                while not driver.execute_script("return document.body.dataset.ready"):
                    time.sleep(0.01)
                # the page notes when (ms since navigation) its table and its plots were ready
                table, drawn = driver.execute_script(
                    "return [document.body.dataset.table, document.body.dataset.ready]"
                )
                samples.append((int(table or drawn) / 1000, int(drawn) / 1000))
            results.append(samples)
    return results


def plotly_only_page(where: Path) -> Path:
    """The baseline page: the same plotly.js inlined, nothing else."""
    import plotly.offline

    page = where / "plotly-only.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body><script>"
        + plotly.offline.get_plotlyjs()
        + "</script><script>document.body.dataset.ready = String(Math.round(performance.now()))"
        + "</script></body></html>"
    )
    return page


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    base = work_dir("gitcfg-bench-report-")
    print(f"gitcfg: {GITCFG}; whole processes, medians of {args.repeat}, warmed up once")
    try:
        reports = []
        for size in (int(s) for s in args.sizes.split(",")):
            repo = make_repo(base / f"runs{size}")
            started = time.perf_counter()
            populate(repo, size)
            took = time.perf_counter() - started
            report = repo / "report.html"
            write = statistics.median(
                timed([GITCFG, "report", "-o", str(report)], repo, args.repeat)
            )
            runs = statistics.median(timed([GITCFG, "runs", "--format", "json"], repo, args.repeat))
            print(
                f"{size} runs ({took:.0f} s to build): gitcfg report {write * 1000:.0f} ms "
                f"(target <= 5000 at 10,000), gitcfg runs --format json {runs * 1000:.0f} ms, "
                f"ratio {write / runs:.1f}x; file {report.stat().st_size / 1e6:.1f} MB"
            )
            reports.append((size, report))
        baseline = plotly_only_page(base)
        loads = page_load([baseline] + [r for _, r in reports], args.repeat)
        if loads is not None:
            plain = statistics.median(s[1] for s in loads[0])
            print(f"headless Chromium (software WebGL): plotly.js alone {plain * 1000:.0f} ms")
            for (size, _), samples in zip(reports, loads[1:], strict=True):
                table = statistics.median(s[0] for s in samples)
                drawn = statistics.median(s[1] for s in samples)
                print(
                    f"  report of {size} runs: table shown {table * 1000:.0f} ms, everything "
                    f"drawn {drawn * 1000:.0f} ms; ratios to plotly.js alone "
                    f"{table / plain:.1f}x, {drawn / plain:.1f}x"
                )
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
