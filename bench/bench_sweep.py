"""``gitcfg run`` and ``gitcfg sweep`` against running the same commands without gitcfg.

Run: python bench/bench_sweep.py [--repeat 21] [--points 100]

1. ``gitcfg run -- true`` against ``true``: medians of whole processes, interleaved; the figure
   is the difference (target <= 100 ms).
2. A sweep of ``--points`` points of a trivial Python script with ``-j 2`` against the same
   commands through ``xargs -P 2`` (each ``python tiny.py --x=N``), in turns; the figure is the
   ratio of the medians (target <= 1.3). Each sweep gets a fresh repository, so every point runs.
   CPU is the processes' user + system time: the machine has 2 cores and the programs keep both
   busy, so every millisecond of the sweep's own CPU is taken from them.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, file_creation_ms, make_repo, work_dir

ENV.pop("PYTHONDONTWRITEBYTECODE", None)
BIN = Path(sys.executable).parent
GITCFG = str(BIN / "gitcfg") if (BIN / "gitcfg").exists() else shutil.which("gitcfg") or "gitcfg"
TRUE = shutil.which("true") or "/bin/true"

TINY = """\
import json, os, sys
x = float(sys.argv[1].split("=")[1])
path = os.environ.get("GITCFG_SUMMARY_FILE")
if path:
    with open(path, "w") as out:
        json.dump({"loss": x * x}, out)
"""


def timed(argv: list[str], cwd: Path, stdin: str | None = None, quiet: bool = False) -> float:
    return timed_cpu(argv, cwd, stdin, quiet)[0]


def timed_cpu(
    argv: list[str], cwd: Path, stdin: str | None = None, quiet: bool = False
) -> tuple[float, float]:
    """Wall time and CPU time (user + system, of the process and all it started), in seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        argv,
        cwd=cwd,
        env=ENV,
        input=stdin,
        text=True,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if quiet else None,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu


def bench_run(root: Path, repeat: int) -> None:
    repo = make_repo(root / "run")
    timed([GITCFG, "run", "--", TRUE], repo)  # .pyc files and the store branch exist
    plain: list[float] = []
    recorded: list[float] = []
    python: list[float] = []
    for _ in range(repeat):
        plain.append(timed([TRUE], repo))
        recorded.append(timed([GITCFG, "run", "--", TRUE], repo))
        python.append(timed([sys.executable, "-c", "pass"], repo))
    p, r = statistics.median(plain) * 1000, statistics.median(recorded) * 1000
    print(f"python -c pass:       median {statistics.median(python) * 1000:7.1f} ms (machine load)")
    print(f"true directly:        median {p:7.1f} ms")
    print(f"gitcfg run -- true:   median {r:7.1f} ms")
    print(f"overhead:             {r - p:7.1f} ms   (target <= 100 ms)")


def bench_sweep(root: Path, points: int, repeat: int) -> None:
    values = ",".join(str(i) for i in range(points))
    lines = "".join(f"--x={i}\n" for i in range(points))
    xargs = ["xargs", "-P", "2", "-n", "1", sys.executable, "tiny.py"]
    plain: list[tuple[float, float]] = []
    swept: list[tuple[float, float]] = []
    for turn in range(repeat + 1):
        base = make_repo(root / f"xargs{turn}")
        (base / "tiny.py").write_text(TINY)
        repo = make_repo(root / f"sweep{turn}")
        (repo / "tiny.py").write_text(TINY)
        sweep = [GITCFG, "sweep", f"x={values}", "-j", "2", "--"]
        sweep += [sys.executable, "tiny.py", "${args}"]
        # in turns, each first every other time: a slow phase of the disk or the machine
        # falls on both
        if turn % 2:
            b = timed_cpu(sweep, repo, quiet=True)
            a = timed_cpu(xargs, base, stdin=lines)
        else:
            a = timed_cpu(xargs, base, stdin=lines)
            b = timed_cpu(sweep, repo, quiet=True)
        if turn:  # the first turn warms caches
            plain.append(a)
            swept.append(b)
    p, s = statistics.median(w for w, _ in plain), statistics.median(w for w, _ in swept)
    pc, sc = statistics.median(c for _, c in plain), statistics.median(c for _, c in swept)
    turns = sorted(b[0] / a[0] for a, b in zip(plain, swept, strict=True))
    rows = [
        (f"{points} commands, xargs -P 2:", f"median {p * 1e3:.0f} ms, CPU {pc * 1e3:.0f} ms"),
        (
            f"gitcfg sweep ({points} points, -j 2):",
            f"median {s * 1e3:.0f} ms, CPU {sc * 1e3:.0f} ms",
        ),
        ("ratio:", f"{s / p:.2f}   (target <= 1.3)"),
        ("ratio of each turn:", " ".join(f"{r:.2f}" for r in turns)),
    ]
    for label, value in rows:
        print(f"{label:34s} {value}")
    print(f"{'per point:':34s} {(s - p) / points * 1000:.1f} ms more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--sweep-repeat", type=int, default=9)
    args = parser.parse_args()
    root = work_dir("bench-sweep-")
    # a sweep writes ~12 files per point, xargs none: what a new file costs here is printed
    print(f"a new file in {root.parent}: median {file_creation_ms([root]):.3f} ms")
    try:
        bench_run(root, args.repeat)
        bench_sweep(root, args.points, args.sweep_repeat)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
