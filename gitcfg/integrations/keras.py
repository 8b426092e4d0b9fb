"""Keras 3: ``model.fit(x, y, callbacks=[GitcfgCallback(project="mnist")])`` records the run.

At the start of ``fit`` the optimizer's config (``optimizer.*``, with its class), the loss, the
number of epochs, the steps per epoch and the batch size become the run's config; each epoch's
logs (loss, metrics, validation metrics) go to the summary and local history, one step per
epoch. Works with every Keras backend (torch, JAX, TensorFlow).
"""

from __future__ import annotations

import inspect
import math
import struct
from typing import Any

import keras

from gitcfg.integrations.plain import plain_params, qualified_name
from gitcfg.integrations.session import RunSession

__all__ = ["GitcfgCallback", "fit_config"]


class GitcfgCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Records ``model.fit`` as a gitcfg run; takes ``gitcfg.init``'s keywords (``project``,
    ``name``, ``group``, ``tags``, ``config``, ...)."""

    def __init__(self, **init_kwargs: Any) -> None:
        super().__init__()
        self._session = RunSession(init_kwargs)

    @property
    def run(self) -> Any:
        """The run being recorded (None before ``fit``)."""
        return self._session.live

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._session.ensure(fit_config(self.model, self.params))

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._session.log({**(logs or {}), "epoch": epoch}, epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._session.persist()


def fit_config(model: Any, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a ``fit`` call records: optimizer, loss, epochs, steps per epoch, batch size."""
    config: dict[str, Any] = {}
    params = params or {}
    for name in ("epochs", "steps"):
        if params.get(name) is not None:
            config["steps_per_epoch" if name == "steps" else name] = params[name]
    batch_size = _fit_batch_size(model)
    if batch_size is not None:
        config["batch_size"] = batch_size
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        config["optimizer"] = {
            "class": type(optimizer).__name__,
            **{
                key: _float32_decimal(value)
                for key, value in plain_params(
                    optimizer.get_config(), what="optimizer setting"
                ).items()
            },
        }
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        config["loss"] = loss
    elif loss is not None:
        config["loss"] = getattr(loss, "name", None) or qualified_name(type(loss))
    return config


def _float32_decimal(value: Any) -> Any:
    """``0.001`` for a learning rate Keras keeps as float32 (``0.0010000000474974513``): the
    shortest decimal that is the same float32; other values are returned as they are."""
    if type(value) is not float or not math.isfinite(value):
        return value
    single = struct.pack("<f", value)
    if struct.unpack("<f", single)[0] != value:
        return value  # not a float32 value: a double the user gave
    for digits in range(1, 10):
        shorter = float(f"{value:.{digits}g}")
        if struct.pack("<f", shorter) == single:
            return shorter
    return value


def _fit_batch_size(model: Any) -> int | None:
    """The batch size ``fit`` was called with (Keras tells callbacks only the steps).

    Read from the data adapter of the ``fit`` call that runs this callback, whose public
    ``batch_size`` says the size or None when the data (a dataset, a generator) decides it.
    """
    frame = inspect.currentframe()
    try:
        while frame is not None:
            local = frame.f_locals
            if frame.f_code.co_name == "fit" and local.get("self") is model:
                adapter = getattr(local.get("epoch_iterator"), "data_adapter", None)
                size = getattr(adapter, "batch_size", None)
                return size if isinstance(size, int) else None
            frame = frame.f_back
        return None
    finally:
        del frame  # no reference cycle through the frames
