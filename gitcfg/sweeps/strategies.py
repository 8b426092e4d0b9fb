"""The points of a sweep: every combination (grid) or seeded random draws.

Both are deterministic functions of the spec and a point's index, so any machine computes the
same point ``i`` without talking to the others: that is what lets ``--shard I/N`` split a sweep
with no coordinator, and a re-run skip the points already recorded. (``bayes`` depends on the
results so far; it lives in ``gitcfg.sweeps.bayes``.)
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from typing import Any

from gitcfg.errors import SweepSpecError
from gitcfg.sweeps.spec import Parameter, SweepSpec

Point = dict[str, Any]


def grid_size(spec: SweepSpec) -> int:
    """How many points the grid of ``spec`` has."""
    return math.prod(len(p.values) for p in spec.parameters)


def grid_points(spec: SweepSpec) -> Iterator[tuple[int, Point]]:
    """Every combination of the parameters' values, in a fixed order (keys sorted, values as
    written), numbered from 0."""
    keys = [p.key for p in spec.parameters]
    for index, values in enumerate(itertools.product(*(p.values for p in spec.parameters))):
        yield index, dict(zip(keys, values, strict=True))


def random_point(spec: SweepSpec, index: int, seed: int | str) -> Point:
    """Point ``index`` of a random sweep: each parameter drawn from its distribution by a
    generator seeded with ``seed`` and ``index`` alone (so it is the same on every machine)."""
    rng = random.Random(f"{seed}/{index}")
    return {p.key: sample(p, rng) for p in spec.parameters}


def random_points(spec: SweepSpec, count: int, seed: int | str) -> Iterator[tuple[int, Point]]:
    """Points 0 to ``count - 1`` of a random sweep."""
    for index in range(count):
        yield index, random_point(spec, index, seed)


def points(spec: SweepSpec, count: int | None, seed: int | str) -> Iterator[tuple[int, Point]]:
    """The points of a grid or random sweep; ``count`` caps a grid and sizes a random one."""
    if spec.method == "grid":
        cap = count if count is not None else spec.run_cap
        return itertools.islice(grid_points(spec), cap)
    if spec.method == "random":
        total = count if count is not None else spec.run_cap
        if total is None:
            raise SweepSpecError(
                "method 'random' needs a number of runs; give --count N (or 'run_cap: N' in the "
                "sweep file)"
            )
        return random_points(spec, total, seed)
    raise SweepSpecError(f"method {spec.method!r} has no fixed points")


def sample(parameter: Parameter, rng: random.Random) -> Any:
    """One draw of ``parameter`` (wandb's meaning of each distribution)."""
    d, a = parameter.distribution, parameter.args
    if d == "constant":
        return a["value"]
    if d == "categorical":
        return rng.choice(a["values"])
    if d == "categorical_w_probabilities":
        return rng.choices(a["values"], weights=a["probabilities"])[0]
    if d == "int_uniform":
        return rng.randint(a["min"], a["max"])
    if d == "uniform":
        return rng.uniform(a["min"], a["max"])
    if d == "q_uniform":
        return _quantize(rng.uniform(a["min"], a["max"]), a["q"])
    if d == "log_uniform":  # min and max are natural logs of the bounds
        return math.exp(rng.uniform(a["min"], a["max"]))
    if d == "log_uniform_values":
        return math.exp(rng.uniform(math.log(a["min"]), math.log(a["max"])))
    if d == "q_log_uniform":
        return _quantize(math.exp(rng.uniform(a["min"], a["max"])), a["q"])
    if d == "q_log_uniform_values":
        return _quantize(math.exp(rng.uniform(math.log(a["min"]), math.log(a["max"]))), a["q"])
    if d == "inv_log_uniform":
        return 1.0 / math.exp(rng.uniform(a["min"], a["max"]))
    if d == "inv_log_uniform_values":
        return 1.0 / math.exp(rng.uniform(math.log(a["min"]), math.log(a["max"])))
    if d == "normal":
        return rng.gauss(a["mu"], a["sigma"])
    if d == "q_normal":
        return _quantize(rng.gauss(a["mu"], a["sigma"]), a["q"])
    if d == "log_normal":
        return rng.lognormvariate(a["mu"], a["sigma"])
    if d == "q_log_normal":
        return _quantize(rng.lognormvariate(a["mu"], a["sigma"]), a["q"])
    if d == "beta":
        return rng.betavariate(a["a"], a["b"])
    if d == "q_beta":
        return _quantize(rng.betavariate(a["a"], a["b"]), a["q"])
    raise SweepSpecError(f"parameter {parameter.key!r}: unknown distribution {d!r}")


def _quantize(value: float, q: float) -> float | int:
    out = round(value / q) * q
    # an integer step gives integers (batch sizes), as wandb's quantized draws do
    return int(out) if float(q).is_integer() else round(out, 12)


def in_shard(index: int, shard: tuple[int, int] | None) -> bool:
    """Whether point ``index`` belongs to shard ``(i, n)``: every n-th point from i."""
    return shard is None or index % shard[1] == shard[0]
