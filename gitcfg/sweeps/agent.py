"""``gitcfg.sweep(config)`` and ``gitcfg.agent(sweep_id, function, count)``: wandb's in-process
sweeps. Each call of ``function`` is one run created with the point's values; the
``gitcfg.init()``/``wandb.init()`` inside it attaches to that run, so ``gitcfg.config`` holds the
point's values over the function's own defaults.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from gitcfg.errors import SweepError
from gitcfg.sweeps.spec import SweepSpec, parse_spec

# sweep id -> (spec, project) of the sweeps defined in this process
_SWEEPS: dict[str, tuple[SweepSpec, str | None]] = {}


def sweep(
    sweep: Mapping[str, Any],
    entity: str | None = None,
    project: str | None = None,
    prior_runs: Any = None,
) -> str:
    """Define a sweep from wandb's sweep config (a dict); returns its id, also the runs' group.

    The id is computed from the definition, so running the same script again continues the
    same sweep (points that already have a successful run are skipped). ``entity`` and
    ``prior_runs`` are accepted for wandb's signature and have no effect.
    """
    spec = parse_spec(sweep)
    sweep_id = spec.identity()
    named = project or sweep.get("project")
    _SWEEPS[sweep_id] = (spec, named if isinstance(named, str) else None)
    sys.stderr.write(f"gitcfg: sweep {sweep_id} ({spec.method}); runs carry group {sweep_id}\n")
    return sweep_id


def agent(
    sweep_id: str,
    function: Callable[[], Any] | None = None,
    entity: str | None = None,
    project: str | None = None,
    count: int | None = None,
) -> None:
    """Run ``function`` once per point of sweep ``sweep_id`` (``count`` times at most), each
    call a run of the sweep. An exception in ``function`` is printed, recorded as
    ``exit_status: 1`` in the run's meta.yaml (so is ``run.finish(exit_code=N)``: N), and the
    next point runs, as wandb's agent does;
    the next ``agent`` call of the same sweep (the script run again) runs that point again.
    """
    from gitcfg import liverun
    from gitcfg.stores import open_store
    from gitcfg.sweeps.child import ChildRun, default_project
    from gitcfg.sweeps.plan import done_points, make_plan, recorded_runs

    if sweep_id not in _SWEEPS:
        raise SweepError(
            f"no sweep {sweep_id!r} in this process; create it first with "
            f"sweep_id = gitcfg.sweep(config), then gitcfg.agent(sweep_id, function)"
        )
    if function is None:
        raise SweepError("agent() runs a function in this process; pass function=train")
    spec, named = _SWEEPS[sweep_id]
    store = open_store()
    project = project or named or default_project(store)
    total = None
    if count is not None and spec.method != "grid":
        # ``count`` more runs: the points not done yet (failed ones first), then new ones
        total = len(done_points(recorded_runs(store, project, sweep_id))) + count
    plan = make_plan(store, spec, project, sweep_id=sweep_id, count=total, limit=count)
    for index, point in plan:
        meta = {"group": sweep_id, "sweep_id": sweep_id, "sweep_point": index}
        child = ChildRun.create(store, list(sys.argv), point, project=project, meta=meta)
        saved = {k: os.environ.get(k) for k in child.env({})}
        os.environ.update(child.env({}))
        status = 0
        try:
            function()
        except Exception:
            status = 1
            traceback.print_exc()
            sys.stderr.write(f"gitcfg: run {child.ref} of sweep {sweep_id} failed\n")
        finally:
            for run in liverun.open_runs():
                if run.ref == child.ref:
                    run.finish(exit_code=status)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        # The run leaves its status to us (its parent), so the run records one status: the
        # function's own run.finish(exit_code=N) counts when the function raised nothing.
        ended = liverun.parent_status(child.ref)
        if status == 0 and ended is not None:
            status = ended
        child.finish(status)
        plan.done(index, _metric(store, child, spec) if status == 0 else None)


def _metric(store: Any, child: Any, spec: SweepSpec) -> float | None:
    from gitcfg.sweeps.plan import metric_of

    return metric_of(store.read(child.ref), spec.metric_name)
