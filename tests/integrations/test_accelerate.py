"""accelerate: a hand-written training loop records through ``Accelerator(log_with=...)``."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("accelerate")

import torch
from accelerate import Accelerator
from torch import nn

from tests.apihelpers import no_active_run  # noqa: F401
from tests.integrations.branch import only_run

pytestmark = pytest.mark.integrations


def test_accelerate_loop_records_config_and_results(repo: Path) -> None:
    from gitcfg.integrations.accelerate import GitcfgTracker

    tracker = GitcfgTracker(project="acc", group="loops")
    accelerator = Accelerator(cpu=True, log_with=tracker)
    accelerator.init_trackers("ignored", config={"lr": 0.01, "optim": {"name": "sgd"}})
    model = nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model, optimizer = accelerator.prepare(model, optimizer)
    for step in range(5):
        loss = nn.functional.mse_loss(model(torch.randn(8, 4)), torch.randn(8, 1))
        accelerator.backward(loss)
        optimizer.step()
        optimizer.zero_grad()
        accelerator.log({"loss": loss.item()}, step=step)
    run = accelerator.get_tracker("gitcfg", unwrap=True)
    accelerator.end_training()

    path, stored = only_run(repo)
    assert path == f"acc/{run.id}" and run.finished
    assert stored["config"] == {"lr": 0.01, "optim.name": "sgd"}
    assert stored["meta"]["group"] == "loops"
    assert stored["summary"]["loss"] == pytest.approx(loss.item())
