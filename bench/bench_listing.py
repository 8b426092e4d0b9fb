"""Listing figures (SPEC §6): ``gitcfg runs --format json`` and ``gitcfg runs`` (the table)
over 10,000 and 100,000 runs.

Run: python bench/bench_listing.py [--sizes 10000,100000] [--repeat 3] [--store PATH]
Each store is written as one commit with ``git fast-import`` holding exactly the files
ConfigStore.create writes (``bench_cli.populate_fast``); ``--store`` adds a store built through
the API (e.g. bench_create.py's 100,000-run store). Figures are medians of whole processes, for
the JSON output and for the table: a cold cache (deleted before each run) and warm, beside the
baseline ``git ls-tree -r`` of the same branch, measured in the same command; peak RSS from
``/usr/bin/time -v``. Then a one-point sweep in each store's project: its start searches
the project for the sweep's runs.
The machine's load average is printed, as other work shares it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_cli import GITCFG, bench_runs, ms, peak_rss_mb, populate_fast
from benchlib import ENV, make_repo, work_dir

from gitcfg.store import ConfigStore


def bench_sweep_start(repo: Path, repeat: int) -> None:
    """A one-point sweep of ``true`` in the store's project: the time is mostly its search for
    the sweep's recorded runs among the project's (every sweep and every shard starts with it).
    Each has an id of its own, so each records its one run."""
    samples = []
    for n in range(repeat + 1):
        args = [GITCFG, "sweep", f"x={n}", "--id", f"bench-start-{os.getpid()}-{n}"]
        args += ["--project", "bench", "--", "true"]
        started = time.perf_counter()
        subprocess.run(args, cwd=repo, env=ENV, capture_output=True, check=True)
        if n:  # the first warms the cache of the listing
            samples.append(time.perf_counter() - started)
    rss = peak_rss_mb([*args[:3], "--id", f"bench-start-{os.getpid()}-rss", *args[5:]], repo)
    print(f"gitcfg sweep, 1 point of 'true': median {ms(samples):.0f} ms, peak RSS {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--store", action="append", default=[], help="an existing store too")
    args = parser.parse_args()
    base = work_dir("gitcfg-bench-listing-")
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            repo = make_repo(base / f"runs-{size}")
            populate_fast(repo, size)
            print(f"[fast-import store, load average {os.getloadavg()[0]:.1f}]", flush=True)
            bench_runs(repo, size, args.repeat)
            bench_sweep_start(repo, args.repeat)
        for store in args.store:
            path = Path(store)
            count = len(ConfigStore.open(path).run_refs())
            print(f"[API-built store {path}, load average {os.getloadavg()[0]:.1f}]", flush=True)
            bench_runs(path, count, args.repeat)
            bench_sweep_start(path, args.repeat)
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
