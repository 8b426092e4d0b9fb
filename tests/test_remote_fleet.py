"""Many machines, one remote: 32 clones autopushing at once to a git daemon lose no run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitcfg.remote import _PUSH_ATTEMPTS
from tests.conftest import git
from tests.test_remote import git_daemon

MACHINES = 32
RUNS = 20

# One machine: records RUNS runs, each pushed by autopush; reports every push it made.
WORKER = """
import json, sys, time
import gitcfg
from gitcfg import remote

pushes = []
plain_push = remote.push

def observed_push(*args, **kwargs):
    started = time.perf_counter()
    try:
        result = plain_push(*args, **kwargs)
    except Exception as exc:
        pushes.append({"seconds": time.perf_counter() - started, "error": str(exc)})
        raise
    pushes.append({"seconds": time.perf_counter() - started, "attempts": result.attempts})
    return result

remote.push = observed_push  # push_soft, which autopush calls, looks it up here
name, runs = sys.argv[1], int(sys.argv[2])
for i in range(runs):
    gitcfg.init(config={"machine": name, "i": i}, project="fleet", id=f"{name}-{i:02d}").finish()
print(json.dumps(pushes))
"""


@pytest.fixture
def daemon_url(tmp_path: Path) -> Iterator[str]:
    """A bare remote with a code branch, served read-write by git daemon on 127.0.0.1."""
    served = tmp_path / "served"
    served.mkdir()
    bare = served / "remote.git"
    git(served, "init", "-q", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "-b", "main", str(seed))
    (seed / "train.py").write_text("print('train')\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "code")
    git(seed, "push", "-q", str(bare), "main")
    with git_daemon(served, max_connections=2 * MACHINES) as base:
        yield f"{base}/remote.git"


@pytest.mark.scale
@pytest.mark.slow
def test_32_machines_autopushing_at_once_lose_no_run(tmp_path: Path, daemon_url: str) -> None:
    machines = []
    for i in range(MACHINES):
        path = tmp_path / f"m{i:02d}"
        git(tmp_path, "clone", "-q", daemon_url, str(path))
        git(path, "config", "gitcfg.autopush", "origin")
        machines.append(path)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    started = time.monotonic()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, m.name, str(RUNS)],
            cwd=m,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for m in machines
    ]
    pushes = []
    warnings = []
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        assert proc.returncode == 0, err.decode()
        pushes += json.loads(out)
        warnings += [line for line in err.decode().splitlines() if "warning" in line]
    took = time.monotonic() - started

    bare = tmp_path / "served" / "remote.git"
    listing = git(bare, "ls-tree", "-r", "--name-only", "gitcfg").split()
    arrived = {path.split("/")[-2] for path in listing if path.endswith("config.yaml")}
    wanted = {f"m{i:02d}-{j:02d}" for i in range(MACHINES) for j in range(RUNS)}
    failed = [p for p in pushes if "error" in p]
    attempts = [p["attempts"] for p in pushes if "attempts" in p]
    slowest = max(p["seconds"] for p in pushes)
    print(
        f"\n{MACHINES} machines x {RUNS} runs in {took:.0f} s: {len(pushes)} pushes, "
        f"{sum(attempts) - len(attempts)} retries (most for one push: {max(attempts)}), "
        f"{len(failed)} gave up and left the run to the next push, slowest push "
        f"{slowest:.1f} s, load average {os.getloadavg()[0]:.1f}"
    )
    assert arrived == wanted  # every run of every machine is on the remote: none lost
    assert len(pushes) == MACHINES * RUNS
    assert max(attempts) <= _PUSH_ATTEMPTS  # every push is bounded
    assert len(warnings) == len(failed)  # a push that gave up said so, and the run stayed
    for path in (bare, machines[0]):
        fsck = subprocess.run(
            ["git", "fsck", "--strict", "--no-dangling"], cwd=path, capture_output=True, text=True
        )
        assert fsck.returncode == 0 and fsck.stdout == "", fsck.stdout + fsck.stderr
