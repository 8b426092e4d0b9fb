"""torch values in a config, as wandb scripts set them: tensors become plain numbers and lists."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

import torch

import gitcfg
from tests.apihelpers import no_active_run  # noqa: F401
from tests.integrations.branch import only_run

pytestmark = pytest.mark.integrations


def test_tensors_in_the_config_are_stored_as_plain_values(repo: Path) -> None:
    run = gitcfg.init(project="t18")
    gitcfg.config.t0 = torch.tensor(3.5)  # a scalar tensor: the QA report's case
    gitcfg.config.update(
        {
            "steps": torch.tensor(7),
            "mask": torch.tensor([True, False]),
            "grid": torch.arange(4).reshape(2, 2),
            "scale": torch.nn.Parameter(torch.tensor(0.25)),  # requires grad
            "shape": torch.Size([2, 3]),
        }
    )
    run.finish()

    _, stored = only_run(repo)
    assert stored["config"] == {
        "t0": 3.5,
        "steps": 7,
        "mask": [True, False],
        "grid": [[0, 1], [2, 3]],
        "scale": 0.25,
        "shape": [2, 3],
    }


def test_a_dtype_is_refused_with_its_key(repo: Path) -> None:
    gitcfg.init(project="t18")
    with pytest.raises(gitcfg.ConfigError, match=r"'dtype'.*torch\.dtype"):
        gitcfg.config.dtype = torch.float32
