"""Command-line figures, whole processes: --help, update at 10,000 runs, runs --format json.

Run: python bench/bench_cli.py [--runs 10000] [--big 100000] [--repeat 15]
Each figure is a median of whole ``gitcfg`` processes (the installed console script), with its
baseline measured in the same command. PYTHONDONTWRITEBYTECODE is removed from the children's
environment and every command is run once before timing, so .pyc files exist, as they do for an
installed package. The 10,000 runs are recorded with ConfigStore.create (one fixed provenance);
the 100,000-run store is written as one commit with ``git fast-import`` holding exactly the files
create would write (creating them one by one takes minutes). Peak RSS from ``/usr/bin/time -v``
(else the children's ru_maxrss).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchlib import ENV, config, drop_blob_cache, make_repo, stamped, work_dir

from gitcfg.layout import RunRef
from gitcfg.provenance import capture
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import dump_config

ENV.pop("PYTHONDONTWRITEBYTECODE", None)
BIN = Path(sys.executable).parent
GITCFG = str(BIN / "gitcfg") if (BIN / "gitcfg").exists() else shutil.which("gitcfg") or "gitcfg"


def populate(repo: Path, count: int) -> list[RunRef]:
    os.chdir(repo)
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    return [
        store.create("bench", config(i), run_id=f"run{i:06d}", provenance=stamped(prov, i))[0]
        for i in range(count)
    ]


def populate_fast(repo: Path, count: int) -> None:
    """One commit with ``count`` runs, the files byte for byte as ConfigStore.create writes."""
    os.chdir(repo)
    prov = capture(ConfigStore.open().code_repo)
    head = [
        b"commit refs/heads/gitcfg\ncommitter gitcfg <gitcfg@localhost> 0 +0000\n",
        b"data 11\nbench runs\n",
    ]
    body = []
    for i in range(count):
        ref = RunRef("bench", f"run{i:06d}")
        # every run its own meta.yaml (its own start time), as create writes it
        for path, text in (
            (ref.config_path, dump_config(config(i)).encode()),
            (ref.meta_path, dump_config(stamped(prov, i).as_dict()).encode()),
        ):
            body.append(b"M 100644 inline %s\ndata %d\n%s\n" % (path.encode(), len(text), text))
    stream = b"".join(head) + b"".join(body) + b"\n"
    subprocess.run(["git", "fast-import", "--quiet"], input=stream, cwd=repo, check=True, env=ENV)


def timed(args: list[str], cwd: Path, repeat: int, before: object = None) -> list[float]:
    warm = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True)  # warm-up, .pyc
    if warm.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}: {warm.stderr.decode()[-2000:]}")
    samples = []
    for i in range(repeat):
        if callable(before):
            before(i)
        started = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, check=True)
        samples.append(time.perf_counter() - started)
    return samples


def peak_rss_mb(args: list[str], cwd: Path) -> float:
    if Path("/usr/bin/time").exists():
        proc = subprocess.run(
            ["/usr/bin/time", "-v", *args], cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
        match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        assert match is not None
        return int(match.group(1)) / 1024
    import resource

    subprocess.run(args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, check=True)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def bench_help(cwd: Path, repeat: int) -> None:
    base = ms(timed([sys.executable, "-c", "pass"], cwd, repeat))
    help_ms = ms(timed([GITCFG, "--help"], cwd, repeat))
    sub_ms = ms(timed([GITCFG, "runs", "--help"], cwd, repeat))
    print(
        f"gitcfg --help: median {help_ms:.0f} ms (target <= 100); python -c pass {base:.0f} ms; "
        f"ratio {help_ms / base:.1f}x; gitcfg runs --help {sub_ms:.0f} ms"
    )


def bench_update(repo: Path, refs: list[RunRef], repeat: int) -> None:
    run = refs[len(refs) // 2]
    counter = iter(range(10**6))
    samples = []
    for _ in range(repeat):  # each sets a new value, so each makes a commit
        samples += timed([GITCFG, "update", str(run), f"foo={next(counter)}"], repo, 1)
    prefix = []
    for _ in range(repeat):
        prefix += timed([GITCFG, "update", run.id, f"foo={next(counter)}"], repo, 1)
    show = ms(timed([GITCFG, "show", str(run)], repo, repeat))
    git_show = ms(timed(["git", "show", f"gitcfg:{run.config_path}"], repo, repeat))
    print(
        f"gitcfg update RUN foo=N at {len(refs)} runs: median {ms(samples):.0f} ms with "
        f"project/id, {ms(prefix):.0f} ms with a bare id (target <= 250); "
        f"gitcfg show RUN {show:.0f} ms; git show BRANCH:PATH {git_show:.0f} ms"
    )


def _cold_and_warm(args: list[str], repo: Path, repeat: int) -> tuple[float, float, float, float]:
    """Medians of ``args`` with the blob cache deleted before each run and with it warm, then
    peak RSS of each (ms, ms, MB, MB)."""

    def drop_cache(_: int) -> None:
        drop_blob_cache(repo)

    cold = ms(timed(args, repo, repeat, before=drop_cache))
    subprocess.run(args, cwd=repo, env=ENV, stdout=subprocess.DEVNULL, check=True)
    warm = ms(timed(args, repo, repeat))
    drop_cache(0)
    return cold, warm, peak_rss_mb(args, repo), peak_rss_mb(args, repo)


def bench_runs(repo: Path, count: int, repeat: int, *, table_view: bool = True) -> None:
    """``gitcfg runs --format json`` and the table view (``gitcfg runs``), each with a cold
    cache (deleted before each run) and warm, beside ``git ls-tree -r`` of the branch."""
    args = [GITCFG, "runs", "--format", "json"]
    cold, warm, rss_cold, rss_warm = _cold_and_warm(args, repo, repeat)
    ls_tree = ms(timed(["git", "ls-tree", "-r", "gitcfg"], repo, repeat))
    out = subprocess.run(args, cwd=repo, env=ENV, capture_output=True, check=True).stdout
    assert out.count(b'"project"') == count
    print(
        f"gitcfg runs --format json, {count} runs: cold cache median {cold:.0f} ms, "
        f"warm {warm:.0f} ms; git ls-tree -r alone {ls_tree:.0f} ms "
        f"(cold/ls-tree {cold / ls_tree:.1f}x, warm/ls-tree {warm / ls_tree:.1f}x); "
        f"peak RSS cold {rss_cold:.0f} MB, warm {rss_warm:.0f} MB"
    )
    if not table_view:
        return
    table = [GITCFG, "runs"]
    cold, warm, rss_cold, rss_warm = _cold_and_warm(table, repo, repeat)
    lines = subprocess.run(table, cwd=repo, env=ENV, capture_output=True, check=True).stdout
    assert lines.count(b"\n") == count + 1
    print(
        f"gitcfg runs (the table), {count} runs: cold cache median {cold:.0f} ms, "
        f"warm {warm:.0f} ms (warm/ls-tree {warm / ls_tree:.1f}x); "
        f"peak RSS cold {rss_cold:.0f} MB, warm {rss_warm:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10000)
    parser.add_argument("--big", type=int, default=100000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    base = work_dir("gitcfg-bench-cli-")
    print(f"gitcfg: {GITCFG}; whole processes, PYTHONDONTWRITEBYTECODE unset, warmed up once")
    try:
        bench_help(base, args.repeat)
        repo = make_repo(base / "runs")
        started = time.perf_counter()
        refs = populate(repo, args.runs)
        took = time.perf_counter() - started
        print(f"populated {args.runs} runs with ConfigStore.create in {took:.0f} s")
        bench_runs(repo, args.runs, max(5, args.repeat // 3))
        bench_update(repo, refs, args.repeat)
        if args.big:
            big = make_repo(base / "big")
            populate_fast(big, args.big)
            bench_runs(big, args.big, 3)
    finally:
        os.chdir("/")
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
