"""A run used from other processes: forked children, pickled runs, multiprocessing pools.

As with wandb, a child process that gets the run (a fork's copy, or the run pickled to a spawn
or forkserver child) records into it: its logged rows reach the history once each, numbered on
after the rows already there, its values the summary, its config changes the config. It never
writes its parent's rows or changes again, and never finishes the parent's run.
"""

from __future__ import annotations

import ast
import copy
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

import gitcfg
from tests.apihelpers import no_active_run, run_script, subjects  # noqa: F401

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")

METHODS = ["fork", "spawn", "forkserver"]


def stored(repo: Path, path: str = "p/run") -> gitcfg.api.Run:
    return gitcfg.Api(repo=str(repo)).run(path)


def history(repo: Path, path: str = "p/run") -> list[dict[str, Any]]:
    """The history rows without their timestamps."""
    rows = stored(repo, path).scan_history()
    return [{k: v for k, v in row.items() if k != "_timestamp"} for row in rows]


def script(repo: Path, code: str) -> None:
    proc = run_script(repo, code, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr


def test_a_forked_child_that_logs_adds_its_row_once_and_its_value_to_the_summary(
    repo: Path,
) -> None:
    # the QA repro: the child used to append its copy of the parent's unwritten rows, and its
    # own value never reached the summary
    script(
        repo,
        """
        import os, time, gitcfg
        run = gitcfg.init(project="p", id="run")
        for s in range(3): gitcfg.log({"parent": s})
        if os.fork() == 0:
            time.sleep(1.2); gitcfg.log({"child": 1}); os._exit(0)
        os.wait(); gitcfg.log({"parent": 99}); run.finish()
        """,
    )
    assert history(repo) == [
        {"_step": 0, "parent": 0},
        {"_step": 1, "parent": 1},
        {"_step": 2, "parent": 2},
        {"_step": 3, "child": 1},
        {"_step": 4, "parent": 99},
    ]
    assert stored(repo).summary.flat() == {"child": 1, "parent": 99}
    assert subjects(repo) == [
        "update p/run: summary:child, summary:parent",
        "create p/run (0 keys)",
    ]


def test_a_forked_child_commits_only_its_own_changes_and_never_finishes_the_run(
    repo: Path,
) -> None:
    script(
        repo,
        """
        import os, sys, gitcfg
        run = gitcfg.init(project="p", id="run", config={"a": 1})
        gitcfg.config.b = 2  # the parent's, not committed yet
        gitcfg.log({"loss": 0.5})
        if os.fork() == 0:
            gitcfg.config.c = 3
            run.summary["best"] = 0.4
            sys.exit(3)  # a failing child: not the run's status
        _, status = os.wait()
        assert os.waitstatus_to_exitcode(status) == 3
        gitcfg.config.d = 4
        """,
    )
    record = stored(repo)
    assert record.config.as_dict() == {"a": 1, "b": 2, "c": 3, "d": 4}
    assert record.summary.flat() == {"best": 0.4, "loss": 0.5}
    assert "exit_status" not in record.meta
    assert subjects(repo) == [
        "update p/run: b, d, summary:loss",
        "update p/run: summary:best",  # a child's changes are committed as it makes them
        "update p/run: c",
        "create p/run (1 key)",
    ]
    assert history(repo) == [{"_step": 0, "loss": 0.5}]


POOL = """
import functools, multiprocessing as mp, sys, gitcfg

def work(x):  # a forked worker logs through gitcfg.log, as the parent's code does
    gitcfg.log({"x": x, f"k{x}": x})
    return x

def work_with(run, x):  # the run passed to the worker (pickled unless forked)
    run.log({"x": x, f"k{x}": x})
    run.config[f"c{x}"] = x
    return run.step

if __name__ == "__main__":
    method = sys.argv[1]
    run = gitcfg.init(project="p", id="run", config={"a": 1})
    gitcfg.log({"parent": 0})
    with mp.get_context(method).Pool(2) as pool:
        if method == "fork":
            print(pool.map(work, range(4), chunksize=1))
        print(pool.map(functools.partial(work_with, run), range(4), chunksize=1))
    gitcfg.log({"parent": 1})
"""


@pytest.mark.parametrize("method", METHODS)
def test_pool_workers_that_log_record_into_the_run(repo: Path, method: str) -> None:
    proc = run_script(repo, POOL, method, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # run.step after each worker's log: after its own row, which no other row shares
    steps = ast.literal_eval(proc.stdout.splitlines()[-1])
    assert len(set(steps)) == 4 and min(steps) >= 2
    rows = history(repo)
    # every row once, steps in the order rows reached the history, none shared
    assert [row["_step"] for row in rows] == list(range(len(rows)))
    logged = [row["x"] for row in rows if "x" in row]
    assert sorted(logged) == ([0, 0, 1, 1, 2, 2, 3, 3] if method == "fork" else [0, 1, 2, 3])
    assert rows[0] == {"_step": 0, "parent": 0} and rows[-1]["parent"] == 1
    record = stored(repo)
    assert record.config.as_dict() == {"a": 1, "c0": 0, "c1": 1, "c2": 2, "c3": 3}
    summary = record.summary.flat()
    assert {k: summary[k] for k in ("k0", "k1", "k2", "k3", "parent")} == {
        "k0": 0,
        "k1": 1,
        "k2": 2,
        "k3": 3,
        "parent": 1,
    }
    last_x = [row["x"] for row in rows if "x" in row][-1]
    assert summary["x"] == last_x  # the value of the latest step
    assert "exit_status" not in record.meta


def test_workers_that_do_not_log_commit_nothing_and_leave_the_run_to_its_process(
    repo: Path,
) -> None:
    # DataLoader workers: forked while the parent logs, never touching the run
    script(
        repo,
        """
        import multiprocessing as mp, gitcfg

        def load(x):
            return x * x

        if __name__ == "__main__":
            run = gitcfg.init(project="p", id="run", config={"a": 1})
            for epoch in range(3):
                for s in range(4): gitcfg.log({"loss": epoch + s / 10})
                with mp.get_context("fork").Pool(2) as pool:
                    assert pool.map(load, range(8)) == [x * x for x in range(8)]
                p = mp.get_context("fork").Process(target=load, args=(3,))
                p.start(); p.join()
            assert not run.finished and gitcfg.run is run
            gitcfg.log({"loss": 9.0})
        """,
    )
    rows = history(repo)
    assert [row["_step"] for row in rows] == list(range(13))
    assert rows[-1]["loss"] == 9.0
    assert subjects(repo) == ["update p/run: summary:loss", "create p/run (1 key)"]


@pytest.mark.parametrize("method", METHODS)
def test_a_run_passed_to_a_process_is_shared_with_it(repo: Path, method: str) -> None:
    # as wandb's share_child_base.py, and the child's gitcfg.run is the run it was given
    script(
        repo,
        f"""
        import multiprocessing as mp, gitcfg

        def child(run):
            assert gitcfg.run is run and run.config.c1 == 11  # committed at the hand-over
            run.config.c2 = 22
            gitcfg.log({{"s1": 21}})
            assert run.step == 2 and run.summary["s1"] == 21

        if __name__ == "__main__":
            mp.set_start_method("{method}", force=True)
            with gitcfg.init(project="p", id="run") as run:
                run.config.c1 = 11
                run.log({{"s1": 11}})
                p = mp.Process(target=child, kwargs=dict(run=run))
                p.start(); p.join()
                assert p.exitcode == 0
        """,
    )
    record = stored(repo)
    assert record.config.as_dict() == {"c1": 11, "c2": 22}
    assert record.summary.flat() == {"s1": 21}
    assert history(repo) == [{"_step": 0, "s1": 11}, {"_step": 1, "s1": 21}]


def test_a_pickled_run_opened_by_another_program_records_into_the_run(repo: Path) -> None:
    run = gitcfg.init(project="p", id="run", config={"a": 1})
    run.log({"loss": 1.0})
    pickled = repo.parent / "run.pickle"
    pickled.write_bytes(pickle.dumps(run))
    script(
        repo,
        f"""
        import pickle, gitcfg
        run = pickle.loads(open({str(pickled)!r}, "rb").read())
        assert gitcfg.run is run and run.id == "run" and run.config.a == 1
        gitcfg.config.b = 2
        gitcfg.log({{"loss": 0.5}})
        run.finish()  # ends this handle, not the run
        """,
    )
    assert not run.finished
    run.log({"loss": 0.25})
    run.finish()
    assert history(repo) == [
        {"_step": 0, "loss": 1.0},
        {"_step": 1, "loss": 0.5},
        {"_step": 2, "loss": 0.25},
    ]
    record = stored(repo)
    assert record.config.as_dict() == {"a": 1, "b": 2}
    assert record.summary.flat() == {"loss": 0.25}


def test_a_run_copied_or_pickled_in_its_own_process_is_the_same_run(repo: Path) -> None:
    run = gitcfg.init(project="p", id="run", config={"a": 1})
    run.log({"loss": 0.5, "val": {"acc": 0.9}})
    assert copy.deepcopy(run) is run and copy.copy(run) is run
    assert pickle.loads(pickle.dumps(run)) is run
    disabled = gitcfg.init(mode="disabled", reinit="create_new", config={"b": 2})
    assert pickle.loads(pickle.dumps(disabled)) is disabled
    run.finish()
    assert subjects(repo) == ["update p/run: summary:loss, summary:val.acc", "create p/run (1 key)"]


def test_processes_logging_at_once_lose_no_row_and_share_no_step(repo: Path) -> None:
    script(
        repo,
        """
        import multiprocessing as mp, gitcfg

        def log_rows(run, worker):
            for i in range(50):
                run.log({f"w{worker}": i})

        if __name__ == "__main__":
            run = gitcfg.init(project="p", id="run")
            ctx = mp.get_context("spawn")
            workers = [ctx.Process(target=log_rows, args=(run, w)) for w in range(3)]
            for w in workers:
                w.start()
            for i in range(50):
                run.log({"parent": i})
            for w in workers:
                w.join()
                assert w.exitcode == 0
        """,
    )
    rows = history(repo)
    assert [row["_step"] for row in rows] == list(range(200))
    for key in ("parent", "w0", "w1", "w2"):
        assert [row[key] for row in rows if key in row] == list(range(50))
    assert stored(repo).summary.flat() == {"parent": 49, "w0": 49, "w1": 49, "w2": 49}
