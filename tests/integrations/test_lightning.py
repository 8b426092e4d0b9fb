"""Lightning: ``Trainer(logger=GitcfgLogger(...))`` records hyperparameters and metrics."""

from __future__ import annotations

import dataclasses
import importlib
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lightning")
pytest.importorskip("pytorch_lightning")

import torch
from omegaconf import OmegaConf
from torch import nn

import gitcfg
from tests.apihelpers import no_active_run  # noqa: F401
from tests.integrations.branch import only_run, runs_on_branch

pytestmark = pytest.mark.integrations


@dataclasses.dataclass
class Schedule:
    warmup: int = 2
    decay: float = 0.5


OPTIM = Namespace(name="sgd", momentum=0.9)
SCHEDULE = Schedule()
LOSS = nn.MSELoss()


def tiny_module(package: str, **hparams: Any) -> Any:
    """A one-layer regression module of ``package`` (lightning.pytorch or pytorch_lightning)."""
    base = importlib.import_module(package).LightningModule

    class Tiny(base):  # type: ignore[misc, valid-type]
        def __init__(
            self,
            lr: float = 0.05,
            optim: Namespace = OPTIM,
            schedule: Schedule = SCHEDULE,
            data: Any = None,
            loss: nn.Module = LOSS,
        ) -> None:
            super().__init__()
            self.save_hyperparameters()
            self.layer = nn.Linear(4, 1)

        def training_step(self, batch: Any, index: int) -> torch.Tensor:
            x, y = batch
            loss = nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss)
            return loss

        def test_step(self, batch: Any, index: int) -> None:
            x, y = batch
            self.log("test_loss", nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    return Tiny(**hparams)


def loader() -> torch.utils.data.DataLoader[Any]:
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    return torch.utils.data.DataLoader(data, batch_size=8)


def trainer(package: str, logger: Any, epochs: int = 2) -> Any:
    return importlib.import_module(package).Trainer(
        max_epochs=epochs,
        logger=logger,
        accelerator="cpu",
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's advice on tiny data loaders
def test_fit_test_fit_records_one_run(repo: Path) -> None:
    from gitcfg.integrations.lightning import GitcfgLogger

    logger = GitcfgLogger(project="lit", name="tiny", tags=["cpu"], config={"dataset": "rand"})
    data = OmegaConf.create({"path": "/data", "size": "${schedule_len}", "schedule_len": 7})
    first = trainer("lightning.pytorch", logger)
    with pytest.warns(UserWarning, match="'loss' is a torch.nn.modules.loss.MSELoss"):
        first.fit(tiny_module("lightning.pytorch", data=data), loader())
    first.test(tiny_module("lightning.pytorch", data=data), loader())  # after finalize()
    run_id = first.logger.version
    trainer("lightning.pytorch", logger, epochs=1).fit(
        tiny_module("lightning.pytorch", lr=0.01, data=data), loader()
    )
    assert logger.version == run_id
    assert logger.experiment is gitcfg.run  # the logger's run is the active run
    gitcfg.finish()

    path, stored = only_run(repo)
    assert path == f"lit/{run_id}"
    config = stored["config"]
    assert config["dataset"] == "rand"
    assert config["lr"] == 0.01  # the second fit's value
    assert config["optim.momentum"] == 0.9 and config["optim.name"] == "sgd"
    assert config["schedule.warmup"] == 2 and config["schedule.decay"] == 0.5
    assert config["data.size"] == 7  # OmegaConf, resolved
    assert "loss" not in config  # a module: warned about, not stored
    assert stored["meta"]["name"] == "tiny" and stored["meta"]["tags"] == ["cpu"]
    summary = stored["summary"]
    assert isinstance(summary["train_loss"], float)
    assert isinstance(summary["test_loss"], float)
    assert summary["epoch"] == 0  # the second fit's single epoch
    history = list(gitcfg.Api().run(path).scan_history())
    train = [row for row in history if "train_loss" in row]
    # 2 epochs x 4 batches, then 1 x 4 more: no row of the second fit dropped as "in the past"
    assert len(train) == 12
    steps = [row["_step"] for row in history]
    assert steps == sorted(set(steps))
    assert [row["_step"] for row in train[:8]] == list(range(8))  # Lightning's own steps
    assert any("test_loss" in row for row in history)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_joins_the_users_run_and_leaves_it_open(repo: Path) -> None:
    from gitcfg.integrations.pytorch_lightning import GitcfgLogger

    run = gitcfg.init(project="mine", config={"seed": 3})
    logger = GitcfgLogger(project="ignored")
    trainer("pytorch_lightning", logger, epochs=1).fit(tiny_module("pytorch_lightning"), loader())
    assert logger.version == run.id
    assert not run.finished  # not the logger's run to finish
    run.config.notes_after = "fit"
    run.finish()

    stored = runs_on_branch(repo)[f"mine/{run.id}"]
    config = stored["config"]
    assert config["seed"] == 3 and config["lr"] == 0.05 and config["notes_after"] == "fit"
    assert isinstance(stored["summary"]["train_loss"], float)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_second_logger_gets_a_run_of_its_own(repo: Path) -> None:
    from gitcfg.integrations.lightning import GitcfgLogger

    one, two = GitcfgLogger(project="lit"), GitcfgLogger(project="lit")
    trainer("lightning.pytorch", one, epochs=1).fit(tiny_module("lightning.pytorch"), loader())
    trainer("lightning.pytorch", two, epochs=1).fit(
        tiny_module("lightning.pytorch", lr=0.2), loader()
    )
    trainer("lightning.pytorch", one, epochs=1).test(tiny_module("lightning.pytorch"), loader())
    gitcfg.finish()

    runs = runs_on_branch(repo)
    assert set(runs) == {f"lit/{one.version}", f"lit/{two.version}"}
    assert runs[f"lit/{one.version}"]["config"]["lr"] == 0.05
    assert runs[f"lit/{two.version}"]["config"]["lr"] == 0.2
    assert "test_loss" in runs[f"lit/{one.version}"]["summary"]  # continued, not lost
    assert "test_loss" not in runs[f"lit/{two.version}"]["summary"]


DDP_SCRIPT = """
import sys
import torch
import lightning.pytorch as pl
from torch import nn

from gitcfg.integrations.lightning import GitcfgLogger


class Tiny(pl.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(4, 1)

    def training_step(self, batch, index):
        x, y = batch
        loss = nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, sync_dist=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


if __name__ == "__main__":
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", devices=2, strategy="ddp",
        logger=GitcfgLogger(project="ddp"), enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1,
    )
    trainer.fit(Tiny(), torch.utils.data.DataLoader(data, batch_size=4))
    print(f"RANK {trainer.global_rank} VERSION {trainer.logger.version}", flush=True)
"""


def test_ddp_only_rank_zero_records(repo: Path) -> None:
    script = repo.parent / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=repo,
        env={**os.environ, "PL_DISABLE_FORK": "1", "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    printed = dict(
        line.split()[1:4:2] for line in proc.stdout.splitlines() if line.startswith("RANK")
    )
    assert printed.keys() == {"0", "1"}, proc.stdout
    assert printed["1"] == "None"  # rank 1 has no run

    path, stored = only_run(repo)  # one run for two processes
    assert path == f"ddp/{printed['0']}"
    assert stored["config"] == {"lr": 0.05}
    assert isinstance(stored["summary"]["train_loss"], float)
