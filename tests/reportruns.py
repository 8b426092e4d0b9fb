"""A small sweep (learning rate, batch size, optimizer) in a real store, for the report tests."""

from __future__ import annotations

import math
from typing import Any

from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore

HOSTILE = "<script>alert(1)</script>"


def accuracy(lr: float, batch_size: int, optimizer: str) -> float:
    """A made-up but smooth response: best at lr=0.01, adam a little better, bs 64 a little."""
    score = 0.97 - 0.04 * (math.log10(lr) + 2) ** 2 + (0.01 if optimizer == "adam" else 0.0)
    return round(score + (0.004 if batch_size == 64 else 0.0), 4)


def sweep_configs() -> list[dict[str, Any]]:
    configs = []
    for lr in (1e-4, 1e-3, 1e-2, 1e-1):
        for batch_size in (32, 64):
            for optimizer in ("adam", "sgd"):
                configs.append(
                    {"lr": lr, "batch_size": batch_size, "optimizer": optimizer, "epochs": 3}
                )
    return configs


def record_sweep(store: ConfigStore, hostile: bool = True) -> list[RunRef]:
    """16 runs with results; the first has a config value that is an HTML script tag.

    The best accuracy, 0.984, is run10's: lr=0.01, batch_size=64, optimizer=adam.
    """
    refs = []
    for i, config in enumerate(sweep_configs()):
        config = {**config, "note": HOSTILE if hostile and i == 0 else "plain"}
        score = accuracy(config["lr"], config["batch_size"], config["optimizer"])
        results = {"accuracy": score, "loss": round(1 - score, 4), "samples": "60k"}
        ref, _ = store.create("mnist", config, run_id=f"run{i:02d}", summary=results)
        refs.append(ref)
    return refs
