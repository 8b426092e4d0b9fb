"""Creation stays flat: record a run in-process at 10, 10,000 and 100,000 existing runs.

Run: python bench/bench_create.py [--sizes 10,10000,100000] [--repeat 100] [--processes 21]
                                   [--dir DIR]
     python bench/bench_create.py --build-only --dir DIR   (build the stores, measure later)

Every store is built through the API (``ConfigStore.create``, one run at a time, each with its
own start time), with git's automatic gc left to run as in real use (gitcfg starts
``git gc --auto`` itself past ``gc.auto`` loose objects); building 100,000 runs takes minutes, so
stores under ``--dir`` are kept and reused. The figure is the median of ``gitcfg.init(config=<30
keys>).finish()`` in one process; the baseline is the same figure at 10 runs, measured in the
same command, the sizes taking turns (``--rounds``, in a rotating order). Then a store in a
repository with ``--packed-refs`` packed tags against one without, in turns. Then, as a
training script records its run: ``--processes`` fresh processes per size, each timing its one
``init`` + ``finish`` (imports and the store's opening included). The machine's load average is
printed.
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

from benchlib import file_creation_ms, make_repo, median_ms, object_dirs, stamped, work_dir

import gitcfg
from gitcfg.errors import RepositoryError
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore

# 30 keys: 25 flat, one nested group of 3, a list, a string (as bench_api)
CONFIG: dict[str, object] = {f"param_{k:02d}": k * 0.5 for k in range(25)}
CONFIG.update({"model": {"depth": 50, "width": 2, "act": "relu"}, "layers": [64, 32], "opt": "sgd"})


def build(path: Path, size: int) -> Path:
    """A store of ``size`` runs made with ConfigStore.create (kept: marked by a file when done).

    Each measurement adds runs; a store under 1,000 runs is set back to the runs it was built
    with first (its branch moved back; the objects stay, as they would in a project that has
    seen runs come and go), so the baseline stays one. It is kept rather than made afresh: a
    new repository's first writes also create git's fan-out directories, and for its first
    second git must be asked whether untracked files appeared (directory times are racy then),
    costs of a brand-new repository that this figure is not about.
    """
    done = path / ".git" / "bench-built"
    built = done.read_text().split() if done.exists() else []
    if size < 1000 and len(built) == 1:  # made by an older bench, which kept no tip: anew
        shutil.rmtree(path)
        built = []
    if built:
        if size < 1000:
            back = ["git", "update-ref", "refs/heads/gitcfg", built[1]]
            subprocess.run(back, cwd=path, check=True)
        return path
    if not path.exists():
        make_repo(path)
    os.chdir(path)
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    started = time.perf_counter()
    existing = len(store.run_refs())
    locked = 0
    for i in range(existing, size):
        while True:
            try:
                store.create("bench", {**CONFIG, "seed": i}, provenance=stamped(prov, i))
                break
            except RepositoryError as exc:  # git's own gc holding the branch's lock too long
                locked += 1
                print(f"  run {i}: {exc}; retrying", flush=True)
                time.sleep(1)
        if i and i % 10_000 == 0:
            print(f"  {path.name}: {i} runs, {time.perf_counter() - started:.0f} s", flush=True)
    tip = subprocess.run(
        ["git", "rev-parse", "refs/heads/gitcfg"], cwd=path, check=True, capture_output=True
    )
    done.write_text(f"{size} {tip.stdout.decode().strip()}")
    took = time.perf_counter() - started
    print(f"built {path.name}: {size} runs in {took:.0f} s ({locked} lock errors)", flush=True)
    return path


def creation_probe(path: Path) -> tuple[float, float]:
    """The disk's part of the figure: what one new file costs in the store's object directories
    (about twenty are written per run; git's gc removes and remakes these directories) and in
    the two where each commit creates its ref lock (``refs/heads``, ``gitcfg/locks``)."""
    objects = file_creation_ms(object_dirs(path) or [path / ".git" / "objects"])
    locks = [path / ".git" / "refs" / "heads", path / ".git" / "gitcfg" / "locks"]
    return objects, file_creation_ms([d for d in locks if d.is_dir()], files=40)


def packed_refs_turns(tags: int, repeat: int) -> None:
    """A store in a repository whose ``packed-refs`` holds ``tags`` tags (a large project's,
    or gitcfg's own keep refs of many code versions once gc has packed them) against the same
    store without them, in turns: every ref a run looks up that is not a loose file is found
    in packed-refs."""
    base = work_dir("gitcfg-bench-refs-")
    paths = {}
    for name in ("plain", "tagged"):
        path = make_repo(base / name)
        os.chdir(path)
        for _ in range(20):  # the fan-out directories exist, as in a store that has runs
            gitcfg.init(config=CONFIG, project="bench").finish()
        paths[name] = path
    head = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=paths["tagged"], text=True)
    lines = "".join(f"create refs/tags/v{n} {head.strip()}\n" for n in range(tags))
    subprocess.run(
        ["git", "update-ref", "--stdin"], cwd=paths["tagged"], input=lines.encode(), check=True
    )
    subprocess.run(["git", "pack-refs", "--all", "--prune"], cwd=paths["tagged"], check=True)
    size = (paths["tagged"] / ".git" / "packed-refs").stat().st_size
    time.sleep(2.1)  # as in a project, packed-refs was written a while ago (see Refs.packed)
    samples: dict[str, list[float]] = {"plain": [], "tagged": []}
    for turn in range(10):
        for name in ("plain", "tagged") if turn % 2 else ("tagged", "plain"):
            samples[name] += measure(paths[name], max(1, repeat // 10))
    os.chdir("/")
    shutil.rmtree(base, ignore_errors=True)
    plain, tagged = median_ms(samples["plain"]), median_ms(samples["tagged"])
    print(
        f"init + finish in-process, {tags} packed tags ({size // 1024} KiB of packed-refs): "
        f"median {tagged:.2f} ms against {plain:.2f} ms without, ratio {tagged / plain:.2f}",
        flush=True,
    )


def measure(path: Path, repeat: int) -> list[float]:
    os.chdir(path)
    gitcfg.init(config=CONFIG, project="bench").finish()  # warm: modules, the store opened
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        gitcfg.init(config=CONFIG, project="bench").finish()
        samples.append(time.perf_counter() - started)
    return samples


def one_process(path: Path) -> None:
    """``--one``: record one run in this fresh process, as a training script does, and print
    how long ``init`` + ``finish`` took (gitcfg's lazy imports and the store's opening
    included, Python's start not)."""
    os.chdir(path)
    started = time.perf_counter()
    gitcfg.init(config=CONFIG, project="bench").finish()
    print(time.perf_counter() - started)


def per_process(paths: dict[int, Path], sizes: list[int], count: int) -> None:
    """The one-run-per-process figure at each size, ``count`` processes each, in turns."""
    samples: dict[int, list[float]] = {size: [] for size in sizes}
    for turn in range(count):
        for size in sizes[turn % len(sizes) :] + sizes[: turn % len(sizes)]:
            done = subprocess.run(
                [sys.executable, __file__, "--one", str(paths[size])],
                check=True,
                capture_output=True,
                text=True,
            )
            samples[size].append(float(done.stdout.split()[-1]))
    first = median_ms(samples[sizes[0]])
    for size in sizes:
        result = median_ms(samples[size])
        print(
            f"one run per process (init + finish, imports included) at {size:>6} runs: median "
            f"{result:.2f} ms, ratio to {sizes[0]} runs {result / first:.2f}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,10000,100000")
    parser.add_argument(
        "--processes", type=int, default=21, help="then this many one-run processes per size"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--dir", default=None, help="keep the stores here to measure again")
    parser.add_argument("--build-only", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=5, help="measure the sizes in turns, this many times"
    )
    parser.add_argument(
        "--as-built",
        action="store_true",
        help="measure the stores under --dir at the size they reached (an unfinished build)",
    )
    parser.add_argument(
        "--packed-refs", type=int, default=5000, help="then a store beside this many packed tags"
    )
    args = parser.parse_args()
    if args.one:
        one_process(Path(args.one))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    base = Path(args.dir) if args.dir else work_dir("gitcfg-bench-create-")
    base.mkdir(parents=True, exist_ok=True)
    print(f"stores under {base}", flush=True)
    if args.as_built:
        paths = {}
        for size in sizes:
            os.chdir(base / f"runs-{size}")
            paths[len(ConfigStore.open().run_refs())] = base / f"runs-{size}"
        sizes = sorted(paths)
    else:
        paths = {size: build(base / f"runs-{size}", size) for size in sizes}
    if args.build_only:
        return
    # The sizes take turns, so a slow phase of the disk or a gc falls on all of them alike.
    samples: dict[int, list[float]] = {size: [] for size in sizes}
    loads = []
    before = {size: creation_probe(paths[size]) for size in sizes}
    # The order turns too: the auto gc of a big store deletes thousands of loose files, and on
    # this disk (mounted with discard) file creation is slow for a while after, so whichever
    # size came next would always pay for it.
    for turn in range(args.rounds):
        for size in sizes[turn % len(sizes) :] + sizes[: turn % len(sizes)]:
            loads.append(os.getloadavg()[0])
            samples[size] += measure(paths[size], max(1, args.repeat // args.rounds))
    results = {size: median_ms(samples[size]) for size in sizes}
    after = {size: creation_probe(paths[size]) for size in sizes}
    for size in sizes:
        print(
            f"a new file in the {size}-run store, median: in its loose-object directories "
            f"{before[size][0]:.3f} ms before measuring, {after[size][0]:.3f} ms after; where its "
            f"ref locks are made {before[size][1]:.3f} ms before, {after[size][1]:.3f} ms after",
            flush=True,
        )
    for size in sizes:
        print(
            f"init(30 keys) + finish in-process at {size:>6} runs: median "
            f"{results[size]:.2f} ms (target <= 3 ms)",
            flush=True,
        )
    first, last = sizes[0], sizes[-1]
    print(f"ratio {last} : {first} runs = {results[last] / results[first]:.2f} (target <= 1.3)")
    print(f"load average {min(loads):.1f} to {max(loads):.1f} while measuring", flush=True)
    if args.packed_refs:
        packed_refs_turns(args.packed_refs, args.repeat)
    if args.processes:
        for size in sizes:
            if size < 1000:
                build(paths[size], size)  # back to its runs
        per_process(paths, sizes, args.processes)


if __name__ == "__main__":
    main()
