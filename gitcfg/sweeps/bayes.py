"""``method: bayes``: optuna's TPE sampler (the optional extra ``gitcfg[sweep]``).

optuna keeps no database here: each time a sweep starts, the study is rebuilt in memory from the
sweep's successful runs (their config values and the summary value of the sweep metric), so the
runs on the branch are the whole state, shared by ``git push``/``pull`` like any run. A point
run again (it failed or was cut off) is asked with the values its earlier run had.
"""

from __future__ import annotations

import hashlib
import math
from typing import TYPE_CHECKING, Any

from gitcfg.errors import SweepError, SweepSpecError
from gitcfg.sweeps.spec import Parameter, SweepSpec

if TYPE_CHECKING:
    from gitcfg.sweeps.plan import Recorded
    from gitcfg.sweeps.strategies import Point

SEARCHABLE = (
    "constant",
    "categorical",
    "int_uniform",
    "uniform",
    "q_uniform",
    "log_uniform",
    "log_uniform_values",
)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise SweepError(
            "method 'bayes' uses optuna, which is not installed; "
            "pip install 'gitcfg[sweep]' (or pip install optuna)"
        ) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def check_searchable(spec: SweepSpec) -> None:
    """Refuse, before any run, a parameter the bayes search cannot express."""
    for p in spec.parameters:
        if p.distribution not in SEARCHABLE:
            raise SweepSpecError(
                f"parameter {p.key!r}: method 'bayes' searches {', '.join(SEARCHABLE)}, not "
                f"{p.distribution!r}; change its distribution or use method 'random'"
            )
        if p.distribution == "categorical":
            for value in p.args["values"]:
                if value is not None and not isinstance(value, (bool, int, float, str)):
                    raise SweepSpecError(
                        f"parameter {p.key!r}: method 'bayes' takes values that are numbers, "
                        f"strings, booleans or null, not {value!r}"
                    )


def _distribution(optuna: Any, p: Parameter) -> Any:
    d, a = p.distribution, p.args
    dists = optuna.distributions
    if d == "categorical":
        return dists.CategoricalDistribution(list(a["values"]))
    if d == "int_uniform":
        return dists.IntDistribution(a["min"], a["max"])
    if d == "uniform":
        return dists.FloatDistribution(a["min"], a["max"])
    if d == "q_uniform":
        if all(float(a[k]).is_integer() for k in ("min", "max", "q")):
            return dists.IntDistribution(int(a["min"]), int(a["max"]), step=int(a["q"]))
        return dists.FloatDistribution(a["min"], a["max"], step=a["q"])
    if d == "log_uniform":  # bounds are natural logs
        return dists.FloatDistribution(math.exp(a["min"]), math.exp(a["max"]), log=True)
    return dists.FloatDistribution(a["min"], a["max"], log=True)  # log_uniform_values


class BayesSearch:
    """An optuna study over ``spec``'s parameters, primed with the sweep's recorded results."""

    def __init__(self, spec: SweepSpec, seed: int | str, recorded: list[Recorded]) -> None:
        from gitcfg.sweeps.plan import metric_of

        check_searchable(spec)
        optuna = _optuna()
        self.spec = spec
        self._optuna = optuna
        number = int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:4], "big")
        self.study = optuna.create_study(
            direction="maximize" if spec.goal == "maximize" else "minimize",
            sampler=optuna.samplers.TPESampler(seed=number),
        )
        self.constants = {
            p.key: p.args["value"] for p in spec.parameters if p.distribution == "constant"
        }
        self.space = {
            p.key: _distribution(optuna, p) for p in spec.parameters if p.distribution != "constant"
        }
        self._trials: dict[int, Any] = {}
        self.primed = 0
        for run in recorded:
            if not run.succeeded:  # a failed or cut-off run's metric is not the point's result
                continue
            value = metric_of(run.record, spec.metric_name)
            params = {k: run.record.config.get(k) for k in self.space}
            if value is None or not math.isfinite(value) or None in params.values():
                continue
            try:
                trial = optuna.trial.create_trial(
                    params=params, distributions=self.space, value=value
                )
            except ValueError:  # a value outside today's space (the spec was edited)
                continue
            self.study.add_trial(trial)
            self.primed += 1

    def ask(self, index: int, values: Point | None = None) -> Point:
        """The values for point ``index``: ``values`` (a point run again keeps the values it
        had), else chosen from what the study knows so far."""
        params = {k: v for k, v in (values or {}).items() if k in self.space}
        if len(params) == len(self.space) and self._fits(params):
            self.study.enqueue_trial(params)  # the next ask gets exactly these
        trial = self.study.ask(self.space)
        self._trials[index] = trial
        point = {**self.constants, **trial.params}
        return {p.key: point[p.key] for p in self.spec.parameters}

    def _fits(self, params: Point) -> bool:
        """Whether ``params`` lie in today's space (optuna checks a trial it is given)."""
        try:
            self._optuna.trial.create_trial(params=params, distributions=self.space, value=0.0)
        except ValueError:
            return False
        return True

    def tell(self, index: int, metric: float | None) -> None:
        """Point ``index`` reached ``metric`` (None: failed, or logged no metric)."""
        trial = self._trials.pop(index, None)
        if trial is None:
            return
        if metric is None or not math.isfinite(metric):
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, metric)
