"""The sweep definition, its points and command lines (no git here: pure functions)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from gitcfg.errors import SweepSpecError
from gitcfg.sweeps.command import build_command
from gitcfg.sweeps.plan import parse_shard
from gitcfg.sweeps.spec import DISTRIBUTIONS, inline_spec, parse_spec
from gitcfg.sweeps.strategies import grid_points, grid_size, in_shard, points, random_points
from gitcfg.yamlcodec import load_yaml_file

WANDB = Path(__file__).parent / "data" / "wandb_sweeps"


def test_wandb_sweep_files_parse() -> None:
    grid = parse_spec(load_yaml_file(WANDB / "sweep-grid.yaml"))
    assert grid.method == "grid" and grid.program == "train.py"
    assert (grid.metric_name, grid.goal) == ("loss_metric", "minimize")
    assert grid_size(grid) == 27
    first = next(grid_points(grid))[1]
    assert first == {
        "base": 10,
        "direction": -1,
        "epochs": 5,
        "increment": 0.1,
        "sleep": 0.5,
        "variance": 5,
    }
    nested = parse_spec(load_yaml_file(WANDB / "sweep-nested-cli.yaml"))
    assert [p.key for p in nested.parameters] == [
        "batch_size",
        "optimizer.lr",
        "optimizer.nadam.beta",
    ]
    assert grid_size(nested) == 8
    bayes = parse_spec(load_yaml_file(WANDB / "sweep-bayes.yaml"))
    assert bayes.method == "bayes"


def test_inline_form_splits_values_and_parses_them_as_yaml() -> None:
    spec = inline_spec(
        ["lr=0.01,0.1", "layers=[64, 64],[128]", "name='a,b'", "opt=adam"], ["python", "t.py"]
    )
    assert [(p.key, p.values) for p in spec.parameters] == [
        ("layers", [[64, 64], [128]]),
        ("lr", [0.01, 0.1]),
        ("name", ["a,b"]),
        ("opt", ["adam"]),
    ]
    assert [point for _, point in grid_points(spec)][-1] == {
        "layers": [128],
        "lr": 0.1,
        "name": "a,b",
        "opt": "adam",
    }
    assert (
        spec.identity()
        == inline_spec(
            ["opt=adam", "name='a,b'", "lr=0.01,0.1", "layers=[64, 64],[128]"], ["python", "t.py"]
        ).identity()
    ), "the same sweep has the same id whatever the order of its keys"
    assert spec.identity() != inline_spec(["lr=0.01,0.2"], ["python", "t.py"]).identity()


def test_random_points_are_seeded_per_index_and_inside_their_distributions() -> None:
    spec = parse_spec(
        {
            "method": "random",
            "parameters": {
                "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-1},
                "e": {"distribution": "log_uniform", "min": -3, "max": 0},
                "bs": {"distribution": "q_uniform", "min": 16, "max": 128, "q": 16},
                "n": {"min": 1, "max": 4},
                "drop": {"min": 0.0, "max": 0.5},
                "w": {"distribution": "normal", "mu": 10, "sigma": 0.1},
                "opt": {"values": ["adam", "sgd"]},
                "p": {
                    "distribution": "categorical_w_probabilities",
                    "values": ["x", "y"],
                    "probabilities": [1.0, 0.0],
                },
                "epochs": {"value": 3},
            },
        }
    )
    drawn = [p for _, p in random_points(spec, 200, seed=7)]
    assert drawn == [p for _, p in random_points(spec, 200, seed=7)]
    assert drawn != [p for _, p in random_points(spec, 200, seed=8)]
    # point i does not depend on how many points are drawn (shards and resume rely on it)
    assert [p for _, p in random_points(spec, 5, seed=7)] == drawn[:5]
    for p in drawn:
        assert 1e-4 <= p["lr"] <= 1e-1 and math.exp(-3) <= p["e"] <= 1
        assert p["bs"] in range(16, 129, 16) and isinstance(p["bs"], int)
        assert p["n"] in (1, 2, 3, 4) and 0 <= p["drop"] <= 0.5
        assert 9 < p["w"] < 11 and p["opt"] in ("adam", "sgd")
        assert p["p"] == "x" and p["epochs"] == 3
    assert {p["n"] for p in drawn} == {1, 2, 3, 4}
    # log scale: about half the draws below the geometric middle 10**-2.5
    below = sum(p["lr"] < 10**-2.5 for p in drawn)
    assert 60 < below < 140


def test_grid_walks_discrete_distributions_and_refuses_continuous_ones() -> None:
    spec = parse_spec(
        {
            "parameters": {
                "n": {"distribution": "int_uniform", "min": 1, "max": 3},
                "q": {"distribution": "q_uniform", "min": 0, "max": 10, "q": 5},
            }
        }
    )
    assert grid_size(spec) == 9
    assert [p for _, p in grid_points(spec)][:3] == [
        {"n": 1, "q": 0},
        {"n": 1, "q": 5},
        {"n": 1, "q": 10},
    ]
    continuous = parse_spec({"parameters": {"lr": {"min": 0.1, "max": 0.5}}})
    with pytest.raises(SweepSpecError, match="'grid' cannot walk the continuous"):
        list(points(continuous, None, 0))
    randomly = parse_spec({"method": "random", "parameters": {"lr": {"min": 0.1, "max": 0.5}}})
    with pytest.raises(SweepSpecError, match="--count"):
        points(randomly, None, 0)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "hill", "parameters": {"a": {"value": 1}}}, "unknown method 'hill'"),
        (
            {"parameters": {"a": {"distribution": "zipf", "min": 1, "max": 2}}},
            "unknown distribution 'zipf'",
        ),
        ({"parameters": {"a": {"min": 2, "max": 1}}}, "'min' 2 is above 'max' 1"),
        ({"parameters": {"a": 3}}, "write it as"),
        ({"parameters": {}}, "no parameters"),
        ({"parameters": {"a": {"values": []}}}, "non-empty list"),
        (
            {"parameters": {"a": {"distribution": "log_uniform_values", "min": 0, "max": 1}}},
            "above 0",
        ),
        ({"parameters": {"a": {"value": 1, "max": 3}}}, "takes value, not 'max'"),
        ({"parameters": {"a": {"value": 1}}, "metric": {"name": "x", "goal": "up"}}, "goal"),
        ({"method": "bayes", "parameters": {"a": {"value": 1}}}, "needs a metric"),
        ({"parameters": {"a": {"value": 1}}, "paramaters": {}}, "unknown key 'paramaters'"),
        (["not", "a", "mapping"], "not a mapping"),
    ],
)
def test_bad_definitions_say_what_to_write(data: object, message: str) -> None:
    with pytest.raises(SweepSpecError, match=message) as caught:
        parse_spec(data)
    assert caught.value.exit_code == 2 and "\n" not in str(caught.value)


def test_every_distribution_wandb_documents_is_known() -> None:
    for name in (
        "constant",
        "categorical",
        "int_uniform",
        "uniform",
        "q_uniform",
        "log_uniform",
        "log_uniform_values",
        "q_log_uniform",
        "q_log_uniform_values",
        "inv_log_uniform",
        "inv_log_uniform_values",
        "normal",
        "q_normal",
        "log_normal",
        "q_log_normal",
        "beta",
        "q_beta",
    ):
        assert name in DISTRIBUTIONS


def test_command_macros_expand_as_wandb_documents() -> None:
    point = {"lr": 0.01, "flag": True, "off": False, "layers": [64, 128], "opt.name": "adam"}
    template = [
        "${env}",
        "${interpreter}",
        "${program}",
        "${args}",
        "--",
        "${args_no_hyphens}",
        "--",
        "${args_no_boolean_flags}",
        "${args_json}",
        "${args_json_file}",
        "--project=${project}",
    ]
    argv, json_file = build_command(template, point, program="train.py", project="p")
    assert json_file is not None
    try:
        assert json.loads(Path(json_file).read_text()) == point
    finally:
        Path(json_file).unlink()
    assert argv[0] == "/usr/bin/env" and argv[1].endswith(("python", "python3", "python3.11"))
    assert argv[2:] == [
        "train.py",
        "--lr=0.01",
        "--flag=True",
        "--off=False",
        "--layers=[64, 128]",
        "--opt.name=adam",
        "--",
        "lr=0.01",
        "flag=True",
        "off=False",
        "layers=[64, 128]",
        "opt.name=adam",
        "--",
        "--lr=0.01",
        "--flag",
        "--layers=[64, 128]",
        "--opt.name=adam",
        json.dumps(point),
        json_file,
        "--project=p",
    ]


def test_shards_split_points_every_nth() -> None:
    assert parse_shard("1/3") == (1, 3)
    assert [i for i in range(10) if in_shard(i, (1, 3))] == [1, 4, 7]
    for bad in ("3/3", "-1/2", "1", "a/b", "0/0"):
        with pytest.raises(SweepSpecError, match="I/N"):
            parse_shard(bad)
