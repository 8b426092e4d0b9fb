"""``gitcfg.log`` in a training loop: the cost of a call beyond building the caller's dict.

Run: python bench/bench_log.py [--steps 100000] [--repeat 7]

Each repeat times a loop of ``steps`` iterations three ways, in this one process:
- empty:    building the dict of 5 floats only (what every variant pays);
- baseline: building it and appending it to a list (the cheapest way to keep it);
- gitcfg:   building it and calling ``gitcfg.log(...)`` on a live run (summary, history rows,
            batched writes of the local history file included; no git work).
The per-call cost beyond the dict is (loop - empty) / steps. Figures are medians over repeats;
the ratio compares gitcfg's per-call cost with the baseline's, measured in the same command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import make_repo, work_dir

import gitcfg


def loop_empty(steps: int) -> float:
    start = time.perf_counter()
    for step in range(steps):
        x = float(step)
        _ = {"loss": x, "acc": x, "lr": x, "grad_norm": x, "epoch": x}
    return time.perf_counter() - start


def loop_list(steps: int) -> float:
    kept: list[dict[str, float]] = []
    append = kept.append
    start = time.perf_counter()
    for step in range(steps):
        x = float(step)
        append({"loss": x, "acc": x, "lr": x, "grad_norm": x, "epoch": x})
    return time.perf_counter() - start


def loop_gitcfg(steps: int) -> float:
    log = gitcfg.log
    start = time.perf_counter()
    for step in range(steps):
        x = float(step)
        log({"loss": x, "acc": x, "lr": x, "grad_norm": x, "epoch": x})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    where = work_dir("gitcfg-bench-log-")
    try:
        os.chdir(make_repo(where / "repo"))
        run = gitcfg.init(config={"lr": 0.1}, project="bench")
        empty, listed, logged = [], [], []
        for _ in range(args.repeat):
            empty.append(loop_empty(args.steps))
            listed.append(loop_list(args.steps))
            logged.append(loop_gitcfg(args.steps))
        run.finish()
        rows = sum(1 for _ in gitcfg.Api().run(run.path).scan_history())
    finally:
        os.chdir("/")
        shutil.rmtree(where, ignore_errors=True)
    base = statistics.median(empty)
    per_list = (statistics.median(listed) - base) / args.steps * 1e6
    per_log = (statistics.median(logged) - base) / args.steps * 1e6
    print(f"steps per loop: {args.steps:,}, repeats: {args.repeat}, history rows: {rows:,}")
    print(f"building the dict only:       {base / args.steps * 1e6:6.3f} us/step (median)")
    print(f"baseline, list.append(dict):  {per_list:6.3f} us/call beyond the dict")
    print(f"gitcfg.log(dict):             {per_log:6.3f} us/call beyond the dict (target <= 5)")
    print(f"ratio gitcfg.log / list.append: {per_log / per_list:.1f}x")


if __name__ == "__main__":
    main()
