"""Config: wandb.config semantics over flat dotted keys (no repository needed for most)."""

from __future__ import annotations

import copy
import datetime
import enum
import json
import pathlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import gitcfg
from gitcfg import (
    Config,
    ConfigError,
    ConfigKeyError,
    KeyCollisionError,
    ReadOnlyValueError,
    SecretKeyError,
    UnsupportedValueError,
    ValueChangeError,
)
from tests.apihelpers import no_active_run  # noqa: F401
from tests.conftest import git


def locked(values: Any = None) -> Config:
    config = Config(allow_val_change=False)
    if values is not None:
        config.update(values)
    return config


def test_attribute_and_item_access_name_the_same_value() -> None:
    config = locked({"epochs": 4})
    config.batch_size = 32
    config["lr"] = 1e-3
    assert config.epochs == config["epochs"] == 4
    assert config["batch_size"] == config.batch_size == 32
    assert config.get("lr") == 1e-3
    assert config.get("missing", "default") == "default"


def test_dotted_nested_and_attribute_paths_name_the_same_value() -> None:
    config = locked()
    config.update({"model": {"lr": 0.1}})
    assert config["model.lr"] == config["model"]["lr"] == config.model.lr == 0.1
    config["opt.beta"] = 0.9
    assert config.opt.beta == 0.9
    config.model.depth = 50  # writes through the view
    assert config.flat() == {"model.lr": 0.1, "opt.beta": 0.9, "model.depth": 50}
    assert config.as_dict() == {"model": {"lr": 0.1, "depth": 50}, "opt": {"beta": 0.9}}
    assert "model.lr" in config and "model" in config and "model.nope" not in config
    assert 3 not in config


def test_keys_items_iteration_are_top_level_with_nested_values() -> None:
    config = locked({"a": 1, "model": {"lr": 0.1, "depth": 2}, "b": [1, 2]})
    assert list(config) == ["a", "model", "b"]
    assert list(config.keys()) == ["a", "model", "b"]
    assert len(config) == 3
    items = dict(config.items())
    assert items["model"] == {"lr": 0.1, "depth": 2}
    assert list(config.values())[2] == [1, 2]
    assert json.dumps(config.as_dict()) == (
        '{"a": 1, "model": {"lr": 0.1, "depth": 2}, "b": [1, 2]}'
    )


def test_value_change_is_refused_with_old_and_new_value() -> None:
    config = locked({"lr": 0.1})
    config.lr = 0.1  # the same value again is fine
    with pytest.raises(ValueChangeError) as info:
        config.lr = 0.2
    assert "0.1" in str(info.value) and "0.2" in str(info.value)
    assert "allow_val_change=True" in str(info.value)
    assert isinstance(info.value, ConfigError)
    config.update({"lr": 0.2}, allow_val_change=True)
    assert config.lr == 0.2


def test_value_change_checks_types_exactly() -> None:
    config = locked({"n": 1})
    with pytest.raises(ValueChangeError):
        config.n = True  # 1 == True in Python, not in a config
    with pytest.raises(ValueChangeError):
        config.n = 1.0


def test_update_is_all_or_nothing() -> None:
    config = locked({"lr": 0.1})
    with pytest.raises(ValueChangeError):
        config.update({"new": 1, "lr": 0.5})
    with pytest.raises(UnsupportedValueError):
        config.update({"other": 2, "bad": object()})
    with pytest.raises(KeyCollisionError):
        config.update({"x": 1, "lr.sub": 2})
    assert config.flat() == {"lr": 0.1}


def test_collisions_between_values_and_groups() -> None:
    config = locked({"a": 1, "m": {"x": 1}})
    with pytest.raises(KeyCollisionError) as info:
        config["a.b"] = 2
    assert "'a'" in str(info.value)
    with pytest.raises(KeyCollisionError):
        config.m = 5
    with pytest.raises(KeyCollisionError):
        Config({"c": 1, "c.d": 2})
    # an empty group takes its first key
    config.empty = {}
    assert config.empty == {}
    config.empty.k = 1
    assert config.flat()["empty.k"] == 1 and "empty" not in config.flat()


def test_leading_and_trailing_dashes_of_top_level_keys_are_stripped() -> None:
    config = locked({"--learning-rate": 0.1, "model": {"--x-": 1}})
    assert config.flat() == {"learning-rate": 0.1, "model.--x-": 1}


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        (np.float32(0.5), 0.5),
        (np.int64(3), 3),
        (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]]),
        ((1, 2), [1, 2]),
        ({3, 1, 2}, [1, 2, 3]),
        (pathlib.Path("/data/x"), "/data/x"),
        (datetime.date(2024, 5, 1), "2024-05-01"),
    ],
)
def test_values_are_coerced(value: Any, stored: Any) -> None:
    config = locked({"v": value})
    assert config.flat() == {"v": stored}
    assert type(config.flat()["v"]) is type(stored)


def test_enum_values_are_stored_as_their_value() -> None:
    class Color(enum.Enum):
        RED = "red"

    assert locked({"c": Color.RED}).c == "red"


def test_unsupported_value_names_key_and_type() -> None:
    class Model:
        pass

    config = locked()
    with pytest.raises(UnsupportedValueError) as info:
        config.model = {"net": Model()}
    assert "'model.net'" in str(info.value) and "Model" in str(info.value)
    assert isinstance(info.value, TypeError)


def test_secret_looking_keys_are_refused_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    config = locked()
    with pytest.raises(SecretKeyError) as info:
        config.wandb_api_key = "abc"
    assert "GITCFG_ALLOW_SECRETS=1" in str(info.value)
    with pytest.raises(SecretKeyError):
        config.update({"db": {"password": "x"}})
    monkeypatch.setenv("GITCFG_ALLOW_SECRETS", "1")
    config.hf_token = "x"
    assert config.hf_token == "x"


def test_missing_key_is_a_key_error_and_an_attribute_error() -> None:
    config = locked({"a": 1})
    with pytest.raises(ConfigKeyError) as info:
        config["x"]
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "no config key 'x'; list the keys with config.keys()"
    with pytest.raises(AttributeError):
        config.x  # noqa: B018
    assert getattr(config, "x", None) is None
    assert not hasattr(config, "x")


def test_delete_item_attribute_and_group() -> None:
    config = locked({"a": 1, "b": 2, "m": {"x": 1, "y": 2}})
    del config["a"]
    del config.b
    del config.m.x  # a removal through a group changes that group object only
    assert config.flat() == {"m.x": 1, "m.y": 2}
    del config["m.x"]  # a nested key is removed from the config at the top
    assert config.flat() == {"m.y": 2}
    del config["m"]
    assert config.flat() == {}
    with pytest.raises(ConfigKeyError):
        del config["nope"]
    with pytest.raises(AttributeError):
        del config.nope


def test_setdefaults_fills_only_missing_keys() -> None:
    config = locked({"lr": 0.1, "model": {"depth": 50}})
    config.setdefaults({"lr": 0.5, "epochs": 3, "model": {"depth": 18, "width": 2}})
    assert config.flat() == {"lr": 0.1, "model.depth": 50, "epochs": 3, "model.width": 2}


def test_nested_group_is_a_live_view_that_writes_through() -> None:
    config = locked()
    config.update({"params": {"dropout": 0.2}})
    params = config["params"]
    params["momentum"] = 0.9  # wandb loses this (its issue #9844); here it is recorded
    config["params.wd"] = 1e-4
    assert dict(params) == {"dropout": 0.2, "momentum": 0.9, "wd": 1e-4}
    assert config.flat() == {"params.dropout": 0.2, "params.momentum": 0.9, "params.wd": 1e-4}
    with pytest.raises(ValueChangeError):
        params["dropout"] = 0.5  # the value lock holds through the view too
    assert params.as_dict() == {"dropout": 0.2, "momentum": 0.9, "wd": 1e-4}
    assert {**params} == params.as_dict()


def test_lists_read_from_a_config_refuse_in_place_changes() -> None:
    config = locked({"layers": [64, 32], "blocks": [{"k": 1}]})
    layers = config.layers
    assert layers == [64, 32] and isinstance(layers, list)
    for change in (
        lambda: layers.append(1),
        lambda: layers.__setitem__(0, 1),
        lambda: layers.pop(),
        lambda: layers.sort(),
        lambda: config.blocks[0].__setitem__("k", 2),
    ):
        with pytest.raises(ReadOnlyValueError) as info:
            change()
        assert "assign a new value" in str(info.value)
    mine = copy.deepcopy(layers)
    mine.append(16)  # a copy is an ordinary list
    assert type(mine) is list and config.layers == [64, 32]
    config.update({"layers": [*config.layers, 16]}, allow_val_change=True)
    assert config.layers == [64, 32, 16]
    assert json.dumps(config.layers) == "[64, 32, 16]"


def test_persist_without_a_run_is_a_usage_error() -> None:
    with pytest.raises(gitcfg.UsageError):
        Config({"a": 1}).persist()


def test_config_changes_reach_the_branch_as_one_commit(repo: Path) -> None:
    run = gitcfg.init(config={"epochs": 4}, project="p", id="run1")
    gitcfg.config.params = {"dropout": 0.2}
    gitcfg.config["params"]["momentum"] = 0.9
    gitcfg.config.model = {"depth": 18}
    del gitcfg.config.epochs
    run.finish()
    assert git(repo, "show", run.git_path) == "model.depth: 18\nparams.dropout: 0.2\n" + (
        "params.momentum: 0.9\n"
    )
    subjects = git(repo, "log", "--format=%s", "gitcfg").splitlines()
    assert subjects == [
        "update p/run1: epochs, model.depth, params.dropout, params.momentum",
        "create p/run1 (1 key)",
    ]


def test_a_value_becomes_a_group_in_one_commit(repo: Path) -> None:
    run = gitcfg.init(config={"model": "resnet"}, project="p", id="run1")
    del gitcfg.config.model
    gitcfg.config.model = {"depth": 18}
    run.finish()
    assert git(repo, "show", run.git_path) == "model.depth: 18\n"
    assert len(git(repo, "log", "--format=%s", "gitcfg").splitlines()) == 2


def test_what_leaves_the_config_is_plain_data() -> None:
    # torch.save({"config": dict(wandb.config)}), worker processes, json/yaml dumps
    import pickle

    import yaml

    config = locked({"lr": 0.1, "model": {"layers": [64, 32], "act": {"name": "relu"}}})
    plain = {"lr": 0.1, "model": {"layers": [64, 32], "act": {"name": "relu"}}}
    for copied in (
        dict(config),
        config.copy(),
        config.as_dict(),
        copy.deepcopy(config),
        copy.copy(config),
        pickle.loads(pickle.dumps(config)),
        pickle.loads(pickle.dumps(dict(config))),
    ):
        assert copied == plain
        assert type(copied) is dict and type(copied["model"]) is dict
        assert type(copied["model"]["layers"]) is list
        assert yaml.safe_load(yaml.safe_dump(copied)) == plain
    assert json.loads(json.dumps(config)) == plain
    mine = dict(config)
    mine["model"]["layers"].append(16)  # a copy: the config does not change
    assert config.model.layers == [64, 32]
    # the config stays live: a change through a group is recorded and seen by the next copy
    config["model"]["act"]["activation"] = "gelu"
    config.update({"dropout": 0.5})
    del config["lr"]
    act = {"name": "relu", "activation": "gelu"}
    assert dict(config) == {"model": {"layers": [64, 32], "act": act}, "dropout": 0.5}
    assert config.get("model.act.activation") == "gelu" and config.get("nope", 3) == 3
    assert config.pop("dropout") == 0.5 and "dropout" not in dict(config)
    assert len(config) == 1 and list(config) == ["model"]


def test_recording_runs_leaves_the_scripts_random_numbers_alone(repo: Path) -> None:
    # A seeded training script must draw the same numbers with gitcfg as without it.
    import random

    random.seed(1234)
    expected = [random.random() for _ in range(3)]
    random.seed(1234)
    for i in range(3):
        run = gitcfg.init(config={"seed": 1234, "lr": i / 10}, project="seeded")
        run.config.update({"layers": [i, i + 1]})
        run.log({"loss": 1 / (i + 1)})
        run.finish()
    assert [random.random() for _ in range(3)] == expected
    assert len(gitcfg.Api().runs("seeded")) == 3


# -- groups: plain dicts where assignments are recorded and removals stay local ----------------


def test_factory_pattern_pop_keeps_the_recorded_key(repo: Path) -> None:
    from click.testing import CliRunner

    from gitcfg.cli.commands import cli

    run = gitcfg.init(config={"optimizer": {"name": "adam", "lr": 0.1}}, project="p", id="run1")
    opt = gitcfg.config.optimizer
    name = opt.pop("name")  # then Optimizer[name](**opt)
    assert name == "adam" and opt == {"lr": 0.1} and dict(**opt) == {"lr": 0.1}
    gitcfg.config.model = {"depth": 2}
    gitcfg.config.model.setdefault("width", 64)  # a default for the caller, not recorded
    gitcfg.finish()
    assert (
        git(repo, "show", run.git_path)
        == "model.depth: 2\noptimizer.lr: 0.1\noptimizer.name: adam\n"
    )
    assert gitcfg.Api().run("p/run1").config.flat() == {
        "model.depth": 2,
        "optimizer.lr": 0.1,
        "optimizer.name": "adam",
    }
    assert [r.id for r in gitcfg.Api().runs("p", filters={"optimizer.name": "adam"})] == ["run1"]
    shown = CliRunner().invoke(cli, ["show", "p/run1"], prog_name="gitcfg")
    assert shown.exit_code == 0 and "optimizer.name: adam" in shown.output
    subjects = git(repo, "log", "--format=%s", "gitcfg").splitlines()
    assert subjects[0] == "update p/run1: model.depth"


@pytest.mark.parametrize(
    "remove",
    [
        lambda g: g.pop("name"),
        lambda g: g.pop("name", None),
        lambda g: g.popitem(),
        lambda g: g.clear(),
        lambda g: g.__delitem__("name"),
        lambda g: delattr(g, "name"),
    ],
    ids=["pop", "pop-default", "popitem", "clear", "del-item", "delattr"],
)
def test_removals_through_a_group_change_only_that_object(remove: Any) -> None:
    config = locked({"opt": {"lr": 0.1, "name": "adam"}})
    group = config.opt
    remove(group)
    assert "name" not in group and "name" not in list(group)
    assert config.flat() == {"opt.lr": 0.1, "opt.name": "adam"}
    assert config.opt == {"lr": 0.1, "name": "adam"}  # the next read is the config's again
    assert not config._pending()[1]  # nothing to unset at the next commit


def test_a_group_follows_the_config_less_its_own_removals() -> None:
    config = Config({"opt": {"lr": 0.1, "name": "adam", "wd": 0.0}})
    group = config.opt
    assert group.pop("name") == "adam"
    config["opt.lr"] = 0.2  # changed elsewhere: the held group sees it
    config.update({"opt": {"momentum": 0.9}})
    assert group == {"lr": 0.2, "wd": 0.0, "momentum": 0.9}
    assert json.loads(json.dumps(group)) == group
    group.name = "sgd"  # assigning a removed key: recorded, and the group shows it again
    assert group["name"] == "sgd" and config.flat()["opt.name"] == "sgd"
    assert group.setdefault("width", 64) == 64 and group.width == 64
    assert "opt.width" not in config
    config["opt.width"] = 32  # once the config has the key, its value wins
    assert group.width == 32
    del config["opt"]  # the group is gone from the config: the held object is empty
    assert group == {}


def test_assignments_through_a_group_are_checked_and_recorded() -> None:
    config = locked({"opt": {"lr": 0.1, "name": "adam", "sched": {"k": 1}}})
    group = config.opt
    group.pop("name")
    with pytest.raises(ValueChangeError):
        group["name"] = "sgd"  # the value lock holds for a locally removed key too
    group["name"] = "adam"
    group.update({"wd": 0.1}, momentum=0.9)
    group |= {"beta": 0.5}
    group.sched.warmup = 10
    group["sched"]["decay"] = 0.5
    assert config.flat() == {
        "opt.lr": 0.1,
        "opt.name": "adam",
        "opt.sched.k": 1,
        "opt.wd": 0.1,
        "opt.momentum": 0.9,
        "opt.beta": 0.5,
        "opt.sched.warmup": 10,
        "opt.sched.decay": 0.5,
    }
    assert group["sched"] == {"k": 1, "warmup": 10, "decay": 0.5}
    assert group["sched.k"] == 1 and "sched.k" in group and group.get("sched.nope") is None


def test_a_group_is_plain_data_for_the_tools_that_read_dicts() -> None:
    import pickle

    import yaml

    config = locked({"opt": {"lr": 0.1, "betas": [0.9, 0.99], "sched": {"k": 1}}})
    plain = {"lr": 0.1, "betas": [0.9, 0.99], "sched": {"k": 1}}
    group = config.opt
    assert isinstance(group, dict) and group == plain and plain == group
    assert repr(group) == repr(plain) and str(group) == str(plain)
    assert json.dumps(group) == json.dumps(plain)
    assert {**group} == plain and dict(**group) == plain
    for copied in (
        dict(group),
        group.copy(),
        group.as_dict(),
        copy.copy(group),
        copy.deepcopy(group),
        pickle.loads(pickle.dumps(group)),
        copy.deepcopy({"opt": group})["opt"],
    ):
        assert copied == plain and type(copied) is dict and type(copied["sched"]) is dict
        assert type(copied["betas"]) is list and repr(copied) == repr(plain)
    # pyyaml's safe_dump wants an exact dict: dump a copy (see the README)
    assert yaml.safe_load(yaml.safe_dump(group.copy())) == plain
    assert yaml.safe_load(yaml.safe_dump(dict(config))) == {"opt": plain}
    mine = group.copy()
    mine["sched"]["k"] = 2
    mine["betas"].append(0.5)
    assert config.opt == plain  # a copy is the caller's own
    assert isinstance(group.betas, gitcfg.runconfig.FrozenList)  # lists stay read-only
    with pytest.raises(ReadOnlyValueError):
        group.betas.append(0.5)
    # `dict(config)` copies shallowly: changing its nested dicts reaches no group
    dict(config)["opt"]["lr"] = 5
    assert config.opt.lr == 0.1


def _group_ops() -> Any:
    from hypothesis import strategies as st

    keys = st.sampled_from(["a", "b", "c", "d"])
    return st.lists(
        st.one_of(
            st.tuples(st.just("pop"), keys),
            st.tuples(st.just("popitem"), st.none()),
            st.tuples(st.just("del"), keys),
            st.tuples(st.just("setdefault"), keys),
            st.tuples(st.just("clear"), st.none()),
        ),
        max_size=6,
    )


def _apply_local(target: dict[str, Any], op: str, key: str | None) -> Any:
    """Apply one dict operation; what it returns, or the type of error it raised."""
    try:
        if op == "pop":
            return target.pop(key)  # type: ignore[arg-type]
        if op == "popitem":
            return target.popitem()
        if op == "del":
            del target[key]  # type: ignore[arg-type]
            return None
        if op == "setdefault":
            return target.setdefault(key, 7)  # type: ignore[arg-type]
        target.clear()
        return None
    except KeyError:
        return KeyError


def test_a_group_reads_like_the_dict_it_copies() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=3))
    values = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3),
            st.dictionaries(st.sampled_from(["x", "y"]), inner, min_size=1, max_size=2),
        ),
        max_leaves=6,
    )
    groups = st.dictionaries(st.sampled_from(["a", "b", "c"]), values, min_size=1, max_size=3)

    @settings(max_examples=150, deadline=None)
    @given(groups, _group_ops())
    def check(plain: dict[str, Any], ops: list[tuple[str, str | None]]) -> None:
        config = Config({"g": plain})
        group, expected = config.g, copy.deepcopy(plain)
        for op, key in ops:
            assert _apply_local(group, op, key) == _apply_local(expected, op, key)
        assert group == expected and len(group) == len(expected) and bool(group) == bool(expected)
        assert list(group) == list(expected) and list(reversed(group)) == list(reversed(expected))
        assert list(group.items()) == list(expected.items())
        assert list(group.values()) == list(expected.values())
        assert repr(group) == repr(expected) and json.dumps(group) == json.dumps(expected)
        for key in ("a", "b", "c", "d"):
            assert (key in group) == (key in expected)
            assert group.get(key) == expected.get(key)
            assert group.get(key, "none") == expected.get(key, "none")
        assert config.flat() == Config({"g": plain}).flat()  # nothing reached the config

    check()


def test_groups_read_and_dropped_are_not_kept() -> None:
    config = Config({"m": {"x": 1}})
    for _ in range(1000):
        assert config.m.x == 1
    config["m.x"] = 2  # a change prunes the dead ones
    assert len(config._views) <= 1


def test_a_loop_over_a_held_group_that_assigns_config_values_sees_every_key() -> None:
    # each assignment refreshes the held group: in place, so the loop goes on as over a dict
    config = Config({"opt": {"a": 1, "b": 2, "c": 3}})
    group = config.opt
    group.pop("a")  # local to the group
    for key in group:
        config[f"opt.{key}"] = 0
    assert config.as_dict() == {"opt": {"a": 1, "b": 0, "c": 0}}
    assert dict(group) == {"b": 0, "c": 0}
    # a key added to the config meanwhile: the loop fails as over a changed dict
    with pytest.raises(RuntimeError, match="changed size"):
        for key in group:
            config[f"opt.new_{key}"] = 1
