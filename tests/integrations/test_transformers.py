"""Hugging Face transformers: ``Trainer(..., callbacks=[GitcfgCallback(...)])``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("transformers")

import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import gitcfg
from tests.apihelpers import no_active_run  # noqa: F401
from tests.integrations.branch import runs_on_branch

pytestmark = pytest.mark.integrations


class RandomTokens(torch.utils.data.Dataset[dict[str, torch.Tensor]]):
    def __init__(self, rows: int) -> None:
        self.ids = torch.randint(0, 50, (rows, 8))
        self.labels = torch.randint(0, 2, (rows,))

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def tiny_trainer(output: Path, callback: Any, **args: Any) -> Trainer:
    config = BertConfig(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
    )
    arguments = TrainingArguments(
        output_dir=str(output),
        num_train_epochs=2,
        per_device_train_batch_size=4,
        logging_steps=2,
        eval_strategy="epoch",
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        learning_rate=1e-3,
        **args,
    )
    return Trainer(
        model=BertForSequenceClassification(config),
        args=arguments,
        train_dataset=RandomTokens(16),
        eval_dataset=RandomTokens(8),
        callbacks=[callback],
    )


def test_training_records_arguments_and_model_config(repo: Path, tmp_path: Path) -> None:
    from gitcfg.integrations.transformers import GitcfgCallback

    callback = GitcfgCallback(project="hf", tags=["bert"])
    trainer = tiny_trainer(tmp_path / "out", callback, run_name="tiny-bert")
    trainer.train()
    run = callback.run
    trainer.evaluate()  # after training: the same run
    gitcfg.finish()

    stored = runs_on_branch(repo)[f"hf/{run.id}"]
    config = stored["config"]
    assert config["learning_rate"] == 0.001
    assert config["per_device_train_batch_size"] == 4
    assert config["num_train_epochs"] == 2
    assert config["num_hidden_layers"] == 2  # the model's config beside the arguments
    assert config["hidden_size"] == 16
    assert config["hub_token"] == "<HUB_TOKEN>"  # masked by transformers: not a secret
    assert stored["meta"]["name"] == "tiny-bert"
    assert stored["meta"]["tags"] == ["bert"]
    summary = stored["summary"]
    assert isinstance(summary["loss"], float)  # training logs
    assert isinstance(summary["train_runtime"], float)  # the end-of-training log
    assert summary["epoch"] == 2.0
    final = trainer.state.log_history[-1]  # evaluate()'s metrics, the last thing logged
    assert summary["eval_loss"] == final["eval_loss"]
    history = list(gitcfg.Api().run(f"hf/{run.id}").scan_history())
    assert [row["_step"] for row in history if "loss" in row] == [2, 4, 6, 8]


def test_one_run_per_training_and_the_users_run_is_joined(repo: Path, tmp_path: Path) -> None:
    from gitcfg.integrations.transformers import GitcfgCallback

    callback = GitcfgCallback(project="hf")
    trainer = tiny_trainer(tmp_path / "out", callback)
    trainer.train()
    first = callback.run
    trainer.train()
    second = callback.run
    assert first.finished and first.id != second.id  # a training is a run
    second.finish()

    mine = gitcfg.init(project="mine", config={"dataset": "random"})
    joined = GitcfgCallback(project="ignored")
    tiny_trainer(tmp_path / "out2", joined).train()
    assert joined.run is mine and not mine.finished
    mine.finish()

    runs = runs_on_branch(repo)
    assert set(runs) == {f"hf/{first.id}", f"hf/{second.id}", f"mine/{mine.id}"}
    assert runs[f"mine/{mine.id}"]["config"]["dataset"] == "random"
    assert runs[f"mine/{mine.id}"]["config"]["hidden_size"] == 16
    assert "train_runtime" in runs[f"mine/{mine.id}"]["summary"]
