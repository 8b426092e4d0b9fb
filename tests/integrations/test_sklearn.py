"""scikit-learn: an estimator's parameters recorded with one line, pipelines by step name."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("sklearn")

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import gitcfg
from gitcfg.integrations.sklearn import record
from tests.apihelpers import no_active_run  # noqa: F401
from tests.conftest import git
from tests.integrations.branch import only_run, runs_on_branch

pytestmark = pytest.mark.integrations


def test_record_flattens_a_pipeline_by_step_name(repo: Path) -> None:
    pipe = make_pipeline(StandardScaler(with_mean=False), SVC(C=10.0, kernel="linear"))
    run = record(pipe, project="iris", tags=["svm"])
    pipe.fit(np.random.rand(20, 3), np.arange(20) % 2)  # recording leaves it usable
    run.finish()

    path, stored = only_run(repo)
    assert path == f"iris/{run.id}"
    config = stored["config"]
    assert config["class"] == "Pipeline"
    assert config["svc.C"] == 10.0
    assert config["svc.kernel"] == "linear"
    assert config["svc.class"] == "SVC"
    assert config["standardscaler.with_mean"] is False
    assert config["steps"] == [["standardscaler", "StandardScaler"], ["svc", "SVC"]]
    assert stored["meta"]["tags"] == ["svm"]


def test_nested_search_and_column_transformer(repo: Path) -> None:
    columns = ColumnTransformer([("num", StandardScaler(), [0, 1]), ("rest", "passthrough", [2])])
    search = GridSearchCV(
        Pipeline([("prep", columns), ("clf", LogisticRegression(C=0.5))]),
        {"clf__C": [0.1, 1.0]},
        cv=3,
    )
    with gitcfg.init(config=search, project="grid") as run:
        pass
    config = runs_on_branch(repo)[f"grid/{run.id}"]["config"]
    assert config["estimator.clf.C"] == 0.5
    assert config["estimator.prep.num.with_std"] is True
    assert config["estimator.prep.rest"] == "passthrough"
    assert config["estimator.prep.transformers"] == [
        ["num", "StandardScaler", [0, 1]],
        ["rest", "passthrough", [2]],
    ]
    assert config["param_grid.clf__C"] == [0.1, 1.0]
    assert config["cv"] == 3


def test_record_into_the_users_run_and_unstorable_params_warn(repo: Path) -> None:
    run = gitcfg.init(project="mix", config={"dataset": "iris"})
    with pytest.warns(UserWarning, match="random_state"):
        same = record(LogisticRegression(random_state=np.random.RandomState(0)))
    assert same is run and not run.finished  # the user's run: joined, not finished
    run.finish()
    config = only_run(repo)[1]["config"]
    assert config["dataset"] == "iris"
    assert config["class"] == "LogisticRegression"
    assert "random_state" not in config


def test_record_refuses_what_is_not_an_estimator(repo: Path) -> None:
    with pytest.raises(gitcfg.ConfigError, match="scikit-learn estimator"):
        record({"C": 1.0})  # type: ignore[arg-type]
    assert git(repo, "for-each-ref", "refs/heads/gitcfg") == ""  # nothing recorded


def test_a_misspelt_init_keyword_fails_at_once(repo: Path) -> None:
    with pytest.raises(TypeError, match="'projet'"):
        record(LogisticRegression(), projet="iris")
    assert git(repo, "for-each-ref", "refs/heads/gitcfg") == ""
