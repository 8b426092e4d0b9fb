"""Hugging Face transformers: ``Trainer(..., callbacks=[GitcfgCallback(project="glue")])``.

At the start of training the ``TrainingArguments`` (``to_dict()``, whose masked values such as
``hub_token: <HUB_TOKEN>`` are not secrets) and the model's config become the run's config,
side by side at the top level as wandb records them (a training argument wins a name clash);
every ``Trainer.log`` (loss, learning rate, eval metrics, the final ``train_runtime``...) goes to
the summary and local history at the global step, so the final eval metrics end up in the
summary. One run per training: a second ``train()`` with the same callback starts a new run,
and ``evaluate()`` after training records into the training's run. Only the main process
records (``state.is_world_process_zero``), so ``accelerate launch`` and ``torchrun`` scripts
record one run.
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from gitcfg.integrations.plain import plain_params
from gitcfg.integrations.session import RunSession

__all__ = ["GitcfgCallback", "training_config"]


class GitcfgCallback(TrainerCallback):
    """Records a Trainer's training as a gitcfg run; takes ``gitcfg.init``'s keywords
    (``project``, ``name``, ``group``, ``tags``, ``config``, ...)."""

    def __init__(self, **init_kwargs: Any) -> None:
        self._session = RunSession(init_kwargs)
        self._trained = False

    @property
    def run(self) -> Any:
        """The run being recorded (None before training or off the main process)."""
        return self._session.live

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        model: Any = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero:
            return
        if self._trained:
            self._session.new_run()  # one run per training
        self._trained = True
        if args.run_name and args.run_name != args.output_dir:
            self._session.init_kwargs.setdefault("name", args.run_name)
        self._session.ensure(training_config(args, model))

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        self._session.log(logs, state.global_step)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if state.is_world_process_zero:
            self._session.persist()


def training_config(args: TrainingArguments, model: Any = None) -> dict[str, Any]:
    """The config a training records: the model's config with the training arguments over it."""
    combined: dict[str, Any] = {}
    model_config = getattr(model, "config", None)
    if model_config is not None:
        combined.update(model_config if isinstance(model_config, dict) else model_config.to_dict())
    combined.update(args.to_dict())  # type: ignore[no-untyped-call]
    return plain_params(combined, what="training setting")
