"""Many writers at once, and writers killed mid-write: nothing lost, nothing half-written."""

from __future__ import annotations

import itertools
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gitcfg.store import ConfigStore
from tests.conftest import assert_fsck_clean, git

WRITER = """
import os, sys, time
from gitcfg.store import ConfigStore
start, worker, count = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
store = ConfigStore.open()
while time.time() < start:
    time.sleep(0.001)
for i in range(count):
    store.create("sweep", {"worker": worker, "i": i, "lr": 0.1 * i, "tags": ["a", "b"]},
                 run_id=f"w{worker:02d}i{i:03d}")
"""

UPDATER = """
import sys
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
worker, count = int(sys.argv[1]), int(sys.argv[2])
store = ConfigStore.open()
for i in range(count):
    store.update(RunRef("sweep", "shared"), {f"w{worker}.step": i})
"""


@pytest.mark.slow
def test_sixteen_processes_record_four_hundred_runs(repo: Path) -> None:
    start = time.time() + 1.5
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(start), str(w), "25"], cwd=repo)
        for w in range(16)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0] * 16

    runs = ConfigStore.open().runs()
    assert len(runs) == 400
    assert {r.ref.id for r in runs} == {f"w{w:02d}i{i:03d}" for w in range(16) for i in range(25)}
    assert all(r.config["worker"] == int(r.ref.id[1:3]) for r in runs)
    assert git(repo, "rev-list", "--count", "gitcfg").strip() == "400"
    # the reflog tells the branch's moves in order: each entry starts where the last one ended
    moves = [
        line.split()[:2] for line in (repo / ".git/logs/refs/heads/gitcfg").read_text().splitlines()
    ]
    assert len(moves) == 400
    assert all(old == new for (_, new), (old, _) in itertools.pairwise(moves))
    assert moves[-1][1] == git(repo, "rev-parse", "gitcfg").strip()
    assert_fsck_clean(repo)


@pytest.mark.slow
def test_concurrent_updates_of_one_run_keep_every_key(repo: Path) -> None:
    store = ConfigStore.open()
    store.create("sweep", {"base": 1}, run_id="shared")
    procs = [
        subprocess.Popen([sys.executable, "-c", UPDATER, str(w), "10"], cwd=repo) for w in range(8)
    ]
    assert [p.wait(timeout=240) for p in procs] == [0] * 8
    config = ConfigStore.open().read(store.resolve("shared").ref).config
    assert config == {"base": 1, **{f"w{w}.step": 9 for w in range(8)}}
    assert git(repo, "rev-list", "--count", "gitcfg").strip() == str(1 + 8 * 10)


@pytest.mark.slow
def test_writers_killed_at_random_moments_leave_a_consistent_branch(repo: Path) -> None:
    rng = random.Random(1234)
    ConfigStore.open().create("sweep", {"seed": 0}, run_id="seed")
    for round_ in range(6):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    WRITER.replace('f"w{worker', f'f"r{round_}w{{worker'),
                    "0",
                    str(w),
                    "1000",
                ],
                cwd=repo,
            )
            for w in range(4)
        ]
        time.sleep(rng.uniform(0.3, 0.9))
        for p in procs:
            time.sleep(rng.uniform(0, 0.05))
            p.send_signal(signal.SIGKILL)
        for p in procs:
            p.wait()

    assert_fsck_clean(repo)
    store = ConfigStore.open()
    runs = store.runs()
    assert len(runs) > 1
    for record in runs:  # every run on the branch is whole: both files, parsed
        assert record.meta["gitcfg"]
        assert record.ref.id == "seed" or set(record.config) == {"worker", "i", "lr", "tags"}
    # Writers can carry on at once: no lock was left behind that blocks them.
    started = time.monotonic()
    store.create("sweep", {"after": True}, run_id="after")
    # (A writer killed between creating and renaming the ref lock costs one 2 s stale-lock wait.)
    assert time.monotonic() - started < 15
