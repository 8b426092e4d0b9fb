"""Store engine figures: create time vs. run count, listing time, bytes per run, import time.

Run: python bench/bench_store.py [--sizes 10,1000,10000] [--repeat 50]
Each figure is a median; baselines are measured in the same command, on the same machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, config, drop_blob_cache, make_repo, median_ms, pack, stamped, work_dir

from gitcfg.provenance import capture
from gitcfg.store import ConfigStore


def objects_bytes(repo: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(repo / ".git" / "objects"):
        for name in files:
            total += os.path.getsize(os.path.join(root, name))
    return total


def bench_create(base: Path, sizes: list[int], repeat: int) -> None:
    repo = make_repo(base / "create")
    os.chdir(repo)
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    existing = 0
    results: dict[int, float] = {}
    per_run_bytes: dict[int, float] = {}
    for size in sizes:
        while existing < size:  # fill up to the size, with the same provenance (faster to fill)
            store.create("bench", config(existing), provenance=stamped(prov, existing))
            existing += 1
        pack(repo)  # every size starts from the same settled state
        before = objects_bytes(repo)
        samples = []
        for i in range(repeat):
            fresh = ConfigStore.open() if i == 0 else store
            started = time.perf_counter()
            fresh.create("bench", config(existing + i))  # full path: provenance captured too
            samples.append(time.perf_counter() - started)
        per_run_bytes[size] = (objects_bytes(repo) - before) / repeat
        existing += repeat
        results[size] = median_ms(samples)
        print(
            f"create 20 keys at {size:>6} runs: median {results[size]:.2f} ms, "
            f"{per_run_bytes[size]:.0f} bytes added to .git per run (loose)"
        )
    naive = bench_naive(base / "naive", repeat)
    first, last = sizes[0], sizes[-1]
    print(f"ratio create at {last} : {first} runs = {results[last] / results[first]:.2f}")
    ratio = per_run_bytes[last] / per_run_bytes[first]
    print(f"ratio bytes/run at {last} : {first} runs = {ratio:.2f}")
    print(
        f"baseline naive write+git add+git commit: median {naive:.2f} ms "
        f"(gitcfg at {first} runs is {naive / results[first]:.1f}x faster)"
    )


def bench_naive(path: Path, repeat: int) -> float:
    repo = make_repo(path)
    samples = []
    for i in range(repeat):
        started = time.perf_counter()
        run_dir = repo / "runs" / f"run{i}"
        run_dir.mkdir(parents=True)
        (run_dir / "config.yaml").write_text("".join(f"{k}: {v}\n" for k, v in config(i).items()))
        subprocess.run(["git", "add", "runs"], cwd=repo, check=True, env=ENV)
        subprocess.run(
            ["git", "commit", "-qm", f"run {i}", "--no-verify"], cwd=repo, check=True, env=ENV
        )
        samples.append(time.perf_counter() - started)
    return median_ms(samples)


def bench_list(base: Path, count: int, repeat: int) -> None:
    repo = make_repo(base / f"list{count}")
    os.chdir(repo)
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    for i in range(count):
        store.create("bench", config(i), provenance=stamped(prov, i))
    cold, warm = [], []
    for _ in range(repeat):
        drop_blob_cache(repo)
        started = time.perf_counter()
        runs = ConfigStore.open().runs()
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        runs = ConfigStore.open().runs()
        warm.append(time.perf_counter() - started)
    assert len(runs) == count
    git_only = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run(
            ["git", "ls-tree", "-r", "gitcfg"], cwd=repo, capture_output=True, check=True
        )
        git_only.append(time.perf_counter() - started)
    print(
        f"list {count} runs with configs: cold cache median {median_ms(cold):.0f} ms, "
        f"warm median {median_ms(warm):.0f} ms; baseline 'git ls-tree -r' alone "
        f"{median_ms(git_only):.0f} ms (warm/baseline {median_ms(warm) / median_ms(git_only):.1f}x)"
    )
    return None


def bench_import(repeat: int) -> None:
    def run(code: str) -> float:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - started)
        return median_ms(samples)

    root = str(Path(__file__).resolve().parent.parent)
    prefix = f"import sys; sys.path.insert(0, {root!r}); "
    base = run("pass")
    imp = run(prefix + "import gitcfg")
    git_py = run("import git")
    print(
        f"import gitcfg whole process: median {imp:.1f} ms; python -c pass {base:.1f} ms "
        f"(import cost {imp - base:.1f} ms); import git (GitPython) {git_py:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--list", type=int, default=10000)
    args = parser.parse_args()
    base = work_dir("gitcfg-bench-store-")
    try:
        bench_import(15)
        bench_create(base, [int(s) for s in args.sizes.split(",")], args.repeat)
        bench_list(base, args.list, 5)
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
