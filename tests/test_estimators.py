"""init(config=estimator): get_params(deep=True) flattened by step name, without scikit-learn.

The contract is scikit-learn's ``get_params``; these estimators implement it by hand, so the
core suite checks the flattening where scikit-learn is not installed (tests/integrations/ runs
the real thing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import gitcfg
from gitcfg.estimators import estimator_params
from tests.apihelpers import no_active_run  # noqa: F401
from tests.conftest import git


class Scaler:
    def __init__(self, with_mean: bool = True) -> None:
        self.with_mean = with_mean

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"with_mean": self.with_mean}


class Chain:
    """Two named steps, as a Pipeline reports them."""

    def __init__(self, steps: list[tuple[str, Any]], seed: Any = 0) -> None:
        self.steps = steps
        self.seed = seed

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"steps": self.steps, "seed": self.seed}
        for name, step in self.steps:
            out[name] = step
            if deep and hasattr(step, "get_params"):
                out.update({f"{name}__{k}": v for k, v in step.get_params().items()})
        return out


def test_nested_steps_are_flattened_by_name_with_their_class() -> None:
    inner = Chain([("scale", Scaler(with_mean=False))])
    params = estimator_params(Chain([("prep", inner), ("skip", "passthrough")], seed=7))
    cls = f"{__name__}.Chain"
    assert params == {
        "class": cls,
        "seed": 7,
        "steps": [["prep", cls], ["skip", "passthrough"]],
        "skip": "passthrough",
        "prep": {
            "class": cls,
            "seed": 0,
            "steps": [["scale", f"{__name__}.Scaler"]],
            "scale": {"class": f"{__name__}.Scaler", "with_mean": False},
        },
    }


def test_init_takes_an_estimator_and_leaves_out_what_cannot_be_stored(repo: Path) -> None:
    with pytest.warns(UserWarning, match="'seed' is a builtins.object"):
        run = gitcfg.init(config=Chain([("scale", Scaler())], seed=object()), project="est")
    run.finish()
    text = git(repo, "show", f"{run.git_path}")
    assert "scale.with_mean: true" in text
    assert "steps: [[scale, tests.test_estimators.Scaler]]" in text
    assert "seed" not in text
