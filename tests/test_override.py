from __future__ import annotations

from typing import Any

import pytest

from gitcfg.errors import InputError
from gitcfg.flat import MISSING
from gitcfg.override import Condition, parse_condition, parse_override


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("lr=1e-3", ("lr", 1e-3)),
        ("batch_size=32", ("batch_size", 32)),
        ("name='32'", ("name", "32")),
        ("flag=no", ("flag", "no")),
        ("flag=true", ("flag", True)),
        ("x=null", ("x", None)),
        ("x=", ("x", "")),
        ("layers=[64, 32]", ("layers", [64, 32])),
        ("model.opt={beta: 0.9}", ("model.opt", {"beta": 0.9})),
        ("expr=a=b", ("expr", "a=b")),
        ("tag=#1", ("tag", "#1")),
    ],
)
def test_parse_override(arg: str, expected: tuple[str, Any]) -> None:
    assert parse_override(arg) == expected


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("foo", "expected KEY=VALUE, got 'foo'"),
        ("=1", "empty"),
        ("a..b=1", "empty part"),
        ("x=[1", "quote the value"),
        ("x=!!python/object/apply:os.system [ls]", "never constructs"),
    ],
)
def test_parse_override_errors(arg: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_override(arg)
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("lr=0.1", Condition("lr", "=", 0.1)),
        ("lr!=0.1", Condition("lr", "!=", 0.1)),
        ("lr>=0.1", Condition("lr", ">=", 0.1)),
        ("lr<=1", Condition("lr", "<=", 1)),
        ("lr>1", Condition("lr", ">", 1)),
        ("lr<1", Condition("lr", "<", 1)),
        ("name=a>b", Condition("name", "=", "a>b")),
        ("model.name!=resnet", Condition("model.name", "!=", "resnet")),
        ("x>=", Condition("x", ">=", "")),
        ("x='>1'", Condition("x", "=", ">1")),  # a value that starts with one, quoted
        ("tok=<HUB_TOKEN>", Condition("tok", "=", "<HUB_TOKEN>")),
        ("note!=<b>x</b>", Condition("note", "!=", "<b>x</b>")),
    ],
)
def test_parse_condition(arg: str, expected: Condition) -> None:
    assert parse_condition(arg) == expected


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("lr", "expected KEY=VALUE"),
        (">=1", "no key"),
        ("a..b=1", "empty"),
        ("lr>>1", "'lr>>1' has two operators"),
        ("lr==1", "'lr==1' has two operators"),
        ("lr=>1", "'lr=>1' has two operators"),
        ("lr<>1", "'lr<>1' has two operators"),
        ("lr>=<1", "'lr>=<1' has two operators"),
        ("lr!= =1", "'lr!= =1' has two operators"),
        ("lr!=<0.5", "'lr!=<0.5' has two operators"),
        ("lr>!1", "'lr>!1' has two operators"),
    ],
)
def test_parse_condition_errors(arg: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_condition(arg)


CONFIG = {"lr": 0.1, "epochs": 10, "name": "resnet", "flag": True, "layers": [1, 2]}


@pytest.mark.parametrize(
    ("arg", "matches"),
    [
        ("lr=0.1", True),
        ("epochs=10.0", True),  # numbers compare across int and float
        ("epochs>9.5", True),
        ("epochs>=10", True),
        ("epochs<10", False),
        ("epochs<=10", True),
        ("name=resnet", True),
        ("name>abc", True),  # strings order as strings
        ("name>1", False),  # a string and a number: no order, no error
        ("epochs>abc", False),
        ("flag=true", True),
        ("flag=1", False),  # a bool is not a number here
        ("flag>0", False),
        ("layers=[1, 2]", True),
        ("layers>[1]", True),
        ("missing=1", False),
        ("missing>1", False),
        ("missing!=1", True),
        ("name!=resnet", False),
        ("name!=vgg", True),
        ("epochs!=10.0", False),
    ],
)
def test_condition_matches(arg: str, matches: bool) -> None:
    assert parse_condition(arg).matches(CONFIG) is matches


def test_condition_incomparable_values_never_raise() -> None:
    assert Condition("d", ">", {"a": 1}).matches({"d": {"a": 0}}) is False
    assert Condition("n", "=", float("nan")).matches({"n": float("nan")}) is True


@pytest.mark.parametrize(
    ("arg", "tags", "met"),
    [
        ("tags=t1", ["t1", "t2"], True),  # membership, as wandb's filters={"tags": "t1"}
        ("tags=t3", ["t1", "t2"], False),
        ("tags!=t1", ["t1", "t2"], False),
        ("tags!=t3", ["t1", "t2"], True),
        ("tags=t1", MISSING, False),  # a run without tags holds none
        ("tags!=t1", MISSING, True),
        ("tags=t1", [], False),
        ("tags=[t1, t2]", ["t1", "t2"], True),  # a list is the whole list, as before
        ("tags=[t1]", ["t1", "t2"], False),
        ("tags!=[t1]", ["t1", "t2"], True),
        ("tags=2024", ["2024"], True),  # tags are strings: the value is the text written
        ("tags=true", ["true"], True),
        ("tags='2024'", ["2024"], True),
        ("tags=null", MISSING, False),
        ("config:tags=t1", MISSING, False),  # a config key named tags is a config key
    ],
)
def test_tags_condition_asks_for_membership(arg: str, tags: Any, met: bool) -> None:
    assert parse_condition(arg).test(tags) is met


def test_a_tags_condition_equals_the_plain_condition() -> None:
    assert parse_condition("tags=x") == Condition("tags", "=", "x")


def test_config_key_conditions_keep_list_equality() -> None:
    assert parse_condition("config:tags=[a]").test(["a"]) is True
    assert parse_condition("layers=1").test([1, 2]) is False  # no membership but for tags
