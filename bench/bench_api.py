"""Python API figures: init + updates + finish in-process, whole-process cost, leftovers.

Run: env -u PYTHONDONTWRITEBYTECODE python bench/bench_api.py [--runs 10000] [--repeat 50]
(without bytecode caches every process start recompiles gitcfg, which is not what users see).
Each figure is a median; the baselines are measured in the same command, on the same machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, make_repo, median_ms, stamped, work_dir

import gitcfg
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore

# 30 keys: 25 flat, one nested group of 3, a list, a string
CONFIG: dict[str, object] = {f"param_{k:02d}": k * 0.5 for k in range(25)}
CONFIG.update({"model": {"depth": 50, "width": 2, "act": "relu"}, "layers": [64, 32], "opt": "sgd"})
SCRIPT = f"import gitcfg; gitcfg.init(config={CONFIG!r}).finish()"


def populate(store: ConfigStore, count: int) -> None:
    prov = capture(store.code_repo)
    for i in range(count):
        store.create("bench", {**CONFIG, "seed": i}, provenance=stamped(prov, i))


def one_run() -> None:
    run = gitcfg.init(config=CONFIG, project="bench")
    run.config.update({"epochs": 10})
    run.config.update({"sched": {"warmup": 100}})
    run.config.update({"seed": 1})
    run.finish()


def bench_in_process(repo: Path, runs: int, repeat: int) -> dict[int, float]:
    os.chdir(repo)
    store = ConfigStore.open()
    results: dict[int, float] = {}
    existing = 0
    for size in (10, runs):
        populate(store, size - existing)
        existing = size
        # a repository that has held many runs is packed: let git's gc finish rather than have
        # the background 'gc --auto' that the populating commits started compete with the timing
        subprocess.run(["git", "gc", "-q"], cwd=repo, check=True, env=ENV)
        one_run()  # warm: the store is opened once per process
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            one_run()
            samples.append(time.perf_counter() - started)
        existing += repeat + 1
        results[size] = median_ms(samples)
        print(
            f"in-process init (30 keys) + 3 updates + finish at {size:>6} runs: "
            f"median {results[size]:.2f} ms (target <= 5 ms)"
        )
    print(f"ratio at {runs} : 10 runs = {results[runs] / results[10]:.2f}")
    return results


def bench_process(repo: Path, repeat: int) -> None:
    def timed(args: list[str]) -> float:
        samples = []
        for _ in range(repeat):
            started = time.perf_counter()
            subprocess.run(args, cwd=repo, check=True, env=ENV)
            samples.append(time.perf_counter() - started)
        return median_ms(samples)

    bare = timed([sys.executable, "-c", "pass"])
    imported = timed([sys.executable, "-c", "import gitcfg"])
    whole = timed([sys.executable, "-c", SCRIPT])
    print(f"python -c pass: median {bare:.1f} ms")
    print(f"python -c 'import gitcfg': median {imported:.1f} ms (import ~{imported - bare:.1f} ms)")
    print(
        f"python -c 'import gitcfg; gitcfg.init(config=<30 keys>).finish()': median "
        f"{whole:.1f} ms (target <= 150 ms), {whole / bare:.1f}x python -c pass"
    )


def bench_copied(base: Path, repeat: int, files: int = 800) -> None:
    """A run from a project of ``files`` tracked files as committed, and from a copy of it made
    elsewhere (code rsynced to a cluster node, a container): the copy's index no longer matches
    its files' inodes, and gitcfg never refreshes the user's index. In turns, in-process."""
    origin = make_repo(base / "origin")
    for n in range(files):
        path = origin / "src" / f"pkg{n % 20}" / f"mod{n}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {n}\n" * 40)
    subprocess.run(["git", "add", "."], cwd=origin, check=True, env=ENV)
    subprocess.run(["git", "commit", "-qm", "code"], cwd=origin, check=True, env=ENV)
    time.sleep(1.1)  # no racily clean entry: the index alone proves the original clean
    subprocess.run(["git", "status", "--porcelain"], cwd=origin, check=True, env=ENV)
    copy = base / "copy"
    shutil.copytree(origin, copy, symlinks=True)
    samples: dict[Path, list[float]] = {origin: [], copy: []}
    for turn in range(10):
        for repo in (origin, copy) if turn % 2 else (copy, origin):
            os.chdir(repo)
            one_run()  # warm: the store opened, the first look taken
            for _ in range(max(1, repeat // 10)):
                started = time.perf_counter()
                one_run()
                samples[repo].append(time.perf_counter() - started)
    a, b = median_ms(samples[origin]), median_ms(samples[copy])
    print(
        f"a run from a {files}-file project: median {a:.2f} ms where it was committed, "
        f"{b:.2f} ms from a copy of it (ratio {b / a:.2f})"
    )


def bench_leftovers(repo: Path) -> None:
    code = (
        "import os, gitcfg\n"
        "before = set(os.listdir('/proc/self/fd'))\n"
        f"gitcfg.init(config={CONFIG!r})\n"
        "children = open(f'/proc/self/task/{os.getpid()}/children').read().split()\n"
        "extra = set(os.listdir('/proc/self/fd')) - before\n"
        "print(f'after init: {len(children)} child processes, {len(extra)} extra open fds')\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=repo, check=True, env=ENV)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument(
        "--dir", default=None, help="where to make the repositories (default: the temp dir)"
    )
    args = parser.parse_args()
    if "PYTHONDONTWRITEBYTECODE" in os.environ:
        print("note: PYTHONDONTWRITEBYTECODE is set; whole-process figures include compiling")
    base = (
        Path(tempfile.mkdtemp(prefix="gitcfg-bench-api-", dir=args.dir))
        if args.dir
        else work_dir("gitcfg-bench-api-")
    )
    print(f"repositories under {base}")
    try:
        bench_in_process(make_repo(base / "inproc"), args.runs, args.repeat)
        small = make_repo(base / "process")
        bench_process(small, max(10, args.repeat // 2))
        bench_leftovers(small)
        bench_copied(base, args.repeat)
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
