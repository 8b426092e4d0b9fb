"""Keras 3 (torch backend, no TensorFlow): ``fit(..., callbacks=[GitcfgCallback(...)])``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is imported
keras = pytest.importorskip("keras")

import numpy as np  # noqa: E402

import gitcfg  # noqa: E402
from tests.apihelpers import no_active_run  # noqa: E402, F401
from tests.integrations.branch import only_run  # noqa: E402

pytestmark = pytest.mark.integrations


def tiny_model() -> Any:
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="mse", metrics=["mae"])
    return model


def test_fit_records_hyperparameters(repo: Path) -> None:
    from gitcfg.integrations.keras import GitcfgCallback

    assert keras.backend.backend() == "torch"
    x = np.random.rand(64, 4).astype("float32")
    y = np.random.rand(64, 1).astype("float32")
    callback = GitcfgCallback(project="ks", config={"dataset": "random"})
    tiny_model().fit(
        x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[callback]
    )
    run = callback.run
    gitcfg.finish()

    path, stored = only_run(repo)
    assert path == f"ks/{run.id}"
    config = stored["config"]
    assert config["epochs"] == 3
    assert config["batch_size"] == 16
    assert config["steps_per_epoch"] == 3  # 48 training rows after the validation split
    assert config["optimizer.class"] == "Adam"
    assert config["optimizer.learning_rate"] == 0.001  # not float32's 0.0010000000474974513
    assert config["optimizer.beta_1"] == 0.9
    assert config["loss"] == "mse"
    assert config["dataset"] == "random"
    summary = stored["summary"]
    assert summary["epoch"] == 2
    for key in ("loss", "mae", "val_loss", "val_mae"):
        assert isinstance(summary[key], float), key
    history = list(gitcfg.Api().run(path).scan_history())
    assert [(row["_step"], row["epoch"]) for row in history] == [(0, 0), (1, 1), (2, 2)]
    assert history[-1]["val_loss"] == summary["val_loss"]
