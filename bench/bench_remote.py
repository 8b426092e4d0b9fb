"""Remote figures: pull merging 1,000 remote runs into 1,000 local ones; push of 100 new runs.

Run: python bench/bench_remote.py [--runs 1000] [--push 100] [--repeat 5]
Baseline in the same command: plain ``git fetch`` + ``git push`` of the same branches.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, pack, work_dir

from gitcfg import remote
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, env=ENV, capture_output=True, text=True, check=True
    )
    return proc.stdout


def populate(path: Path, prefix: str, count: int) -> ConfigStore:
    os.chdir(path)
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    for i in range(count):
        store.create(
            "bench",
            {"i": i, "lr": 0.001 * i, "machine": prefix},
            run_id=f"{prefix}{i:05d}",
            provenance=prov,
        )
    return store


def setup(base: Path, runs: int) -> tuple[Path, Path, Path]:
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    code = base / "code"
    code.mkdir()
    git(code, "init", "-q", "-b", "main")
    (code / "train.py").write_text("print(1)\n")
    git(code, "add", ".")
    git(code, "commit", "-qm", "code")
    git(code, "push", "-q", str(bare), "main")
    a, b = base / "a", base / "b"
    git(base, "clone", "-q", str(bare), str(a))
    git(base, "clone", "-q", str(bare), str(b))
    for clone in (a, b):  # auto gc in the foreground, so none runs during the timings
        git(clone, "config", "gc.autoDetach", "false")
    store_a = populate(a, "a", runs)
    remote.push(store_a.repo, "gitcfg")
    populate(b, "b", runs)
    pack(a)
    pack(b)
    return bare, a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--push", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    pulls, fetches, pushes, plain_pushes = [], [], [], []
    for _ in range(args.repeat):
        base = work_dir("gitcfg-bench-remote-")
        try:
            bare, a, b = setup(base, args.runs)
            os.chdir(b)
            store_b = ConfigStore.open()
            tip_b = store_b.tip()
            started = time.perf_counter()
            # as `gitcfg pull` does: the identity comes with the store, read when it opened
            result = remote.pull(store_b.repo, "gitcfg", identity=store_b.identity)
            pulls.append(time.perf_counter() - started)
            assert result.merged and result.added == args.runs, result
            assert len(store_b.runs()) == 2 * args.runs
            # Baseline: the transfer alone, a plain git fetch of the branch into an empty repo.
            fresh = base / "fresh"
            git(base, "init", "-q", str(fresh))
            started = time.perf_counter()
            git(fresh, "fetch", "-q", str(bare), "+refs/heads/gitcfg:refs/bench/fetched")
            fetches.append(time.perf_counter() - started)
            assert tip_b

            store_a = ConfigStore.open(a)
            os.chdir(a)
            populate(a, "p", args.push)
            started = time.perf_counter()
            remote.push(store_a.repo, "gitcfg")
            pushes.append(time.perf_counter() - started)
            populate(a, "q", args.push)
            started = time.perf_counter()
            git(a, "push", "-q", "origin", "gitcfg")
            plain_pushes.append(time.perf_counter() - started)
            assert git(bare, "rev-parse", "gitcfg").strip() == store_a.tip()
        finally:
            os.chdir("/")
            shutil.rmtree(base, ignore_errors=True)
    pull_ms, fetch_ms = statistics.median(pulls) * 1000, statistics.median(fetches) * 1000
    push_ms, plain_ms = statistics.median(pushes) * 1000, statistics.median(plain_pushes) * 1000
    print(
        f"pull merging {args.runs} remote runs into {args.runs} local: median {pull_ms:.0f} ms "
        f"(plain git fetch of that branch into an empty repo {fetch_ms:.0f} ms, "
        f"ratio {pull_ms / fetch_ms:.1f}x)"
    )
    print(
        f"push of {args.push} new runs: median {push_ms:.0f} ms "
        f"(plain git push {plain_ms:.0f} ms, ratio {push_ms / plain_ms:.1f}x)"
    )


if __name__ == "__main__":
    main()
