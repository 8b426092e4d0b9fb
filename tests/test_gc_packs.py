"""gitcfg's automatic gc keeps a store's packs few, as git maintenance's geometric repack does:
every object lookup (git's and gitcfg's) searches the packs one by one."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from gitcfg.git import GitRepo
from gitcfg.store import ConfigStore
from tests.conftest import git, run_writers, wait_for_gitcfg_gc


def packs(repo: Path) -> list[str]:
    return sorted(p.name for p in (repo / ".git" / "objects" / "pack").glob("*.pack"))


def small_packs(repo: Path, count: int) -> None:
    """``count`` packs of one commit each, as gc --auto leaves one per batch of loose objects."""
    for i in range(count):
        (repo / f"f{i}.txt").write_text(f"{i}\n" * (i + 1))
        git(repo, "add", f"f{i}.txt")
        git(repo, "commit", "-q", "-m", f"f{i}")
        git(repo, "repack", "-q", "-d")  # a new pack of the loose objects


def past_gc_auto(repo: Path) -> None:
    """Loose objects past git's sample threshold with gc.auto=256 (more than one in objects/17),
    reachable (tagged), so that git's gc --auto packs them."""
    store = GitRepo.discover(repo)
    rng = random.Random(17)
    made = 0
    while made < 3:
        data = b"%d\n" % rng.getrandbits(64)
        if store.algo.hexdigest(b"blob %d\0" % len(data) + data).startswith("17"):
            git(repo, "tag", f"t{made}", store.write_blob(data))
            made += 1


def packs_then_past_gc_auto(repo: Path, *settings: tuple[str, str]) -> list[str]:
    """Six small packs and loose objects past gc.auto, under ``settings`` (git config names
    and values) and gc.autoDetach=false; the packs before the loose objects, returned."""
    for name, value in (("gc.autoDetach", "false"), *settings):
        git(repo, "config", name, value)
    small_packs(repo, 6)
    before = packs(repo)
    past_gc_auto(repo)
    return before


@pytest.mark.parametrize("detach", ["false", "true"])
def test_gitcfgs_gc_joins_the_small_packs(repo: Path, detach: str) -> None:
    git(repo, "config", "gc.auto", "256")
    git(repo, "config", "gc.autoDetach", detach)
    small_packs(repo, 6)
    past_gc_auto(repo)
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    wait_for_gitcfg_gc(repo)
    # gc --auto alone would leave 7 packs (it joins them only past gc.autoPackLimit, 50)
    assert len(packs(repo)) <= 2
    assert not list((repo / ".git" / "objects" / "17").glob("*"))
    assert [r.ref.id for r in ConfigStore.open().runs()] == ["r1"]


def test_no_packs_are_joined_with_gc_autopacklimit_0(repo: Path) -> None:
    # the user wants no automatic joining
    before = packs_then_past_gc_auto(repo, ("gc.auto", "256"), ("gc.autoPackLimit", "0"))
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    after = packs(repo)
    assert set(before) < set(after) and len(after) == 7  # gc's one new pack of loose objects


def test_no_gc_and_no_repack_with_gc_auto_0(repo: Path) -> None:
    before = packs_then_past_gc_auto(repo, ("gc.auto", "0"))
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    assert packs(repo) == before


def test_a_cruft_pack_of_unreachable_objects_is_kept_as_it_is(repo: Path) -> None:
    git(repo, "config", "gc.auto", "256")
    git(repo, "config", "gc.autoDetach", "false")
    git(repo, "switch", "-q", "-c", "gone")
    small_packs(repo, 2)
    git(repo, "switch", "-q", "main")
    git(repo, "branch", "-q", "-D", "gone")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--cruft", "--prune=1.week.ago")  # the branch's objects, unreachable
    cruft = [p.with_suffix(".pack").name for p in (repo / ".git/objects/pack").glob("*.mtimes")]
    assert len(cruft) == 1
    small_packs(repo, 4)
    past_gc_auto(repo)
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    assert cruft[0] in packs(repo)
    assert len(packs(repo)) <= 3


@pytest.mark.slow
def test_many_runs_with_auto_gc_keep_few_packs_and_every_run(repo: Path) -> None:
    git(repo, "config", "gc.auto", "256")  # a gc about every 50 runs here
    git(repo, "config", "gc.autoDetach", "false")  # each gc done before the next run
    store = ConfigStore.open()
    most, seen = 0, set(packs(repo))
    for i in range(600):
        store.create("p", {"i": i, "lr": i / 10}, run_id=f"r{i:03d}")
        now = packs(repo)
        most, seen = max(most, len(now)), seen | set(now)
    # each gc writes a pack of the loose objects (gc --auto alone keeps them all, up to 50):
    # the geometric repack joins them as they come, a few at most
    assert len(seen) >= 8
    assert 1 <= most <= 5
    runs = ConfigStore.open().runs()
    assert {r.ref.id: r.config for r in runs} == {
        f"r{i:03d}": {"i": i, "lr": i / 10} for i in range(600)
    }


def test_a_store_keeps_writing_and_reading_while_its_packs_are_replaced(repo: Path) -> None:
    store = ConfigStore.open()
    refs = [store.create("p", {"i": i}, run_id=f"r{i:02d}")[0] for i in range(30)]
    git(repo, "gc", "-q")
    assert store.read(refs[0]).config == {"i": 0}  # read from the pack gc made
    for turn in range(3):
        refs += [
            store.create("p", {"i": i}, run_id=f"r{i:02d}")[0]
            for i in range(30 + 10 * turn, 40 + 10 * turn)
        ]
        git(repo, "repack", "-q", "-a", "-d", "-f")  # every pack replaced by a new one
        assert [store.read(ref).config["i"] for ref in refs] == list(range(len(refs)))
    assert len(store.runs()) == 60


WRITER = """
import sys
from gitcfg.store import ConfigStore
worker, count = int(sys.argv[1]), int(sys.argv[2])
store = ConfigStore.open()
for i in range(count):
    store.create("p", {"worker": worker, "i": i}, run_id=f"w{worker}i{i}")
"""

READER = """
import os
from gitcfg.store import ConfigStore
seen = 0
while not os.path.exists("stop"):
    store = ConfigStore.open()  # a new listing each time: it reads what the packs hold now
    runs = store.runs()
    assert all(r.config["worker"] == int(r.ref.id[1]) for r in runs)
    seen = max(seen, len(runs))
print(seen)
"""


@pytest.mark.slow
def test_writers_and_a_reader_while_gitcfgs_gcs_join_packs_beside_them(repo: Path) -> None:
    git(repo, "config", "gc.auto", "256")  # a gc about every 50 runs, detached (git's default)
    small_packs(repo, 6)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    try:
        results = run_writers(repo, WRITER, 4, 80)
    finally:
        (repo / "stop").touch()
        out, _ = reader.communicate(timeout=120)
    assert [code for code, _ in results] == [0] * 4, [err for _, err in results]
    assert reader.returncode == 0 and int(out) > 0
    wait_for_gitcfg_gc(repo)
    runs = ConfigStore.open().runs()
    assert {r.ref.id for r in runs} == {f"w{w}i{i}" for w in range(4) for i in range(80)}
    assert len(packs(repo)) <= 4  # 6 packs before, and ~6 gcs each adding one


def test_no_repack_beside_a_gc_of_gits_own(repo: Path) -> None:
    before = packs_then_past_gc_auto(repo, ("gc.auto", "256"))
    # a live git gc of this host holds gc.pid: git's gc --auto leaves the repository to it
    (repo / ".git" / "gc.pid").write_text(f"{os.getpid()} {socket.gethostname()}")
    ConfigStore.open().create("p", {"a": 1}, run_id="r1")
    assert packs(repo) == before
    (repo / ".git" / "gc.pid").unlink()
