"""Did a change make recording or listing slower? The same figures for two versions of gitcfg.

Run: env -u PYTHONDONTWRITEBYTECODE python bench/bench_regression.py --base REV [--runs 1000]

The tree at REV (exported with ``git archive``) and this working tree are measured in turns, in
fresh processes, on stores built the same way: in-process recording (init with 30 keys, 3
updates, finish), the whole script (start Python, import, record), and ``gitcfg runs --format
json``. Each line gives both medians and their ratio; on this noisy machine the ratio from one
command is the figure that counts.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ENV, make_repo, median_ms, pack, work_dir

HERE = Path(__file__).resolve().parent.parent

CONFIG: dict[str, object] = {f"param_{k:02d}": k * 0.5 for k in range(25)}
CONFIG.update({"model": {"depth": 50, "width": 2, "act": "relu"}, "layers": [64, 32], "opt": "sgd"})

IN_PROCESS = f"""
import json, sys, time, gitcfg
config = {CONFIG!r}
def one():
    run = gitcfg.init(config=config, project="bench")
    run.config.update({{"epochs": 10}})
    run.config.update({{"sched": {{"warmup": 100}}}})
    run.config.update({{"seed": 1}})
    run.finish()
one()
samples = []
for _ in range(int(sys.argv[1])):
    started = time.perf_counter()
    one()
    samples.append(time.perf_counter() - started)
print(json.dumps(samples))
"""

POPULATE = f"""
import sys, gitcfg
from gitcfg.store import ConfigStore
store = ConfigStore.open()
for i in range(int(sys.argv[1])):
    store.create("bench", {{**{CONFIG!r}, "seed": i}})
"""

SCRIPT = f"import gitcfg; gitcfg.init(config={CONFIG!r}).finish()"


def export(rev: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, "gitcfg"], cwd=HERE, capture_output=True)
    if archive.returncode != 0:
        sys.exit(f"bench_regression: cannot export {rev}: {archive.stderr.decode().strip()}")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def env_for(tree: Path) -> dict[str, str]:
    return {**ENV, "PYTHONPATH": str(tree)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", required=True, help="the revision to compare with")
    parser.add_argument("--runs", type=int, default=1000, help="runs in the stores")
    parser.add_argument("--repeat", type=int, default=100, help="timed runs per round")
    parser.add_argument("--rounds", type=int, default=3, help="turns per version")
    args = parser.parse_args()
    base_dir = work_dir("gitcfg-bench-regression-")
    trees = {"base": export(args.base, base_dir / "base-tree"), "this": HERE}
    print(f"base {args.base} against this working tree; {args.runs} runs in each store")
    samples: dict[str, dict[str, list[float]]] = {v: {} for v in trees}
    repos: dict[str, Path] = {}
    try:
        for version, tree in trees.items():
            repo = make_repo(base_dir / f"repo-{version}")
            subprocess.run(
                [sys.executable, "-c", POPULATE, str(args.runs)],
                cwd=repo,
                env=env_for(tree),
                check=True,
            )
            pack(repo)
            repos[version] = repo
        for _ in range(args.rounds):
            for version, tree in trees.items():
                env = env_for(tree)
                repo = repos[version]
                out = subprocess.run(
                    [sys.executable, "-c", IN_PROCESS, str(args.repeat)],
                    cwd=repo,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                samples[version].setdefault("in-process record", []).extend(json.loads(out))
                for name, cmd in (
                    ("python -c pass", [sys.executable, "-c", "pass"]),
                    ("whole script", [sys.executable, "-c", SCRIPT]),
                    (
                        "gitcfg runs --format json",
                        [sys.executable, "-m", "gitcfg", "runs", "--format", "json"],
                    ),
                ):
                    for _ in range(5):
                        started = time.perf_counter()
                        subprocess.run(cmd, cwd=repo, env=env, check=True, capture_output=True)
                        samples[version].setdefault(name, []).append(time.perf_counter() - started)
        for name in samples["this"]:
            base = median_ms(samples["base"][name])
            this = median_ms(samples["this"][name])
            ratio = this / base
            print(f"{name:>28}: base {base:8.2f} ms   this {this:8.2f} ms   ratio {ratio:.2f}")
    finally:
        os.chdir("/")
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
