"""``gitcfg run`` and ``gitcfg sweep`` against running the same commands without gitcfg.

Run: python bench/bench_sweep.py [--repeat 21] [--points 100]

1. ``gitcfg run -- true`` against ``true``: medians of whole processes, interleaved; the figure
   is the difference (target <= 100 ms).
2. A sweep of ``--points`` points of a trivial Python script with ``-j 2`` against the same
   commands through ``xargs -P 2`` (each ``python tiny.py --x=N``), in turns; the figure is the
   ratio of the medians (target <= 1.3). Each sweep gets a fresh repository, so every point runs.
"""

from __future__ import annotations

import argparse
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
    return time.perf_counter() - start


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
    plain: list[float] = []
    swept: list[float] = []
    for turn in range(repeat + 1):
        base = make_repo(root / f"xargs{turn}")
        (base / "tiny.py").write_text(TINY)
        repo = make_repo(root / f"sweep{turn}")
        (repo / "tiny.py").write_text(TINY)
        sweep = [GITCFG, "sweep", f"x={values}", "-j", "2", "--"]
        sweep += [sys.executable, "tiny.py", "${args}"]
        a = timed(xargs, base, stdin=lines)
        b = timed(sweep, repo, quiet=True)
        if turn:  # the first turn warms caches
            plain.append(a)
            swept.append(b)
    p, s = statistics.median(plain), statistics.median(swept)
    print(f"{points} commands, xargs -P 2:     median {p * 1000:8.0f} ms")
    print(f"gitcfg sweep ({points} points, -j 2): median {s * 1000:8.0f} ms")
    print(f"ratio:                           {s / p:8.2f}   (target <= 1.3)")
    print(f"per point:                       {(s - p) / points * 1000:8.1f} ms more")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--points", type=int, default=100)
    parser.add_argument("--sweep-repeat", type=int, default=5)
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
