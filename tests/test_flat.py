from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitcfg.errors import ConfigError, DuplicateKeyError, KeyCollisionError
from gitcfg.flat import (
    MAX_KEY_LENGTH,
    check_key,
    find_collision,
    flatten,
    is_secret_key,
    normalize_top_key,
    unflatten,
)


def test_flatten_nests_with_dots() -> None:
    nested = {"model": {"lr": 1, "opt": {"beta": 0.9}}, "epochs": 3}
    assert flatten(nested) == {"model.lr": 1, "model.opt.beta": 0.9, "epochs": 3}


def test_flatten_dotted_key_is_a_path_at_any_level() -> None:
    assert flatten({"a.b": {"c": 1}, "x": {"y.z": 2}}) == {"a.b.c": 1, "x.y.z": 2}


def test_flatten_keeps_empty_mapping_and_lists_as_values() -> None:
    assert flatten({"a": {}, "b": [1, {"c": 2}]}) == {"a": {}, "b": [1, {"c": 2}]}


def test_flatten_with_prefix_and_int_keys() -> None:
    assert flatten({1: "a", "b": {2: "c"}}, prefix="p") == {"p.1": "a", "p.b.2": "c"}


def test_flatten_leaf_and_branch_collide() -> None:
    with pytest.raises(KeyCollisionError) as info:
        flatten({"a": 1, "a.b": 2})
    assert (info.value.leaf, info.value.branch) == ("a", "a.b")
    with pytest.raises(KeyCollisionError):
        flatten({"a": {}, "a.b": 2})  # an empty mapping is a value too


def test_flatten_same_key_twice() -> None:
    with pytest.raises(DuplicateKeyError) as info:
        flatten({"a.b": 1, "a": {"b": 2}})
    assert isinstance(info.value, KeyCollisionError)
    assert "given twice" in str(info.value)
    assert flatten({"a.b": 1, "a": {"b": 1}}) == {"a.b": 1}
    with pytest.raises(DuplicateKeyError):
        flatten({"a.b": 1, "a": {"b": True}})  # 1 == True, but not the same value


def test_flatten_refuses_bad_keys() -> None:
    with pytest.raises(ConfigError, match="empty part"):
        flatten({"a": {"b..c": 1}})


def test_unflatten() -> None:
    assert unflatten({"model.lr": 1, "model.opt.beta": 0.9, "e": {}, "l": [1]}) == {
        "model": {"lr": 1, "opt": {"beta": 0.9}},
        "e": {},
        "l": [1],
    }
    with pytest.raises(KeyCollisionError):
        unflatten({"a": 1, "a.b": 2})


@pytest.mark.parametrize(
    ("key", "expected"),
    [("lr", "lr"), ("model.lr", "model.lr"), (3, "3"), ("a b/c-d", "a b/c-d"), ("é", "é")],
)
def test_check_key_accepts(key: Any, expected: str) -> None:
    assert check_key(key) == expected


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("a..b", "empty part between dots"),
        (".a", "empty part"),
        ("a.", "empty part"),
        ("a\nb", "control or line-break"),
        ("a\x00", "control"),
        ("a\u2028", "line-break"),
        (1.5, "is a float"),
        (None, "is a NoneType"),
        (True, "is a bool"),
        (("a",), "is a tuple"),
        ("x" * (MAX_KEY_LENGTH + 1), "characters long"),
    ],
)
def test_check_key_refuses(key: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        check_key(key)
    assert "\n" not in str(info.value)


def test_normalize_top_key() -> None:
    assert normalize_top_key("--learning-rate") == "learning-rate"
    assert normalize_top_key("lr-") == "lr"
    assert normalize_top_key("lr") == "lr"


def test_find_collision() -> None:
    assert find_collision(["a", "b", "a_b", "ab.c"]) is None
    # "-" sorts before "." in plain string order: the check must still find a.b under a
    assert find_collision(["a", "a-b", "a!", "a.b"]) == ("a", "a.b")
    assert find_collision(["x.y", "x.y.z.w", "x.yz"]) == ("x.y", "x.y.z.w")
    assert find_collision(["a", "a", "b"]) is None  # existing and new may repeat a key
    assert find_collision([]) is None


@pytest.mark.parametrize(
    "key",
    [
        "hf_token",
        "HF_TOKEN",
        "wandb_api_key",
        "WANDB_API_KEY",
        "db_password",
        "github_token",
        "secret",
        "aws_secret_access_key",
        "openaiApiKey",
        "hfToken",
        "token",
        "auth.access-token",
        "private_key",
        "credentials",
        "db.passwd",
        "client_secret",
        "auth_token_id",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "max_tokens",
        "num_tokens",
        "tokenizer",
        "tokenizer.name",
        "token_dim",
        "maxTokens",
        "pad_token",
        "eos_token",
        "tokenizer.pad_token_id",
        "cls_token",
        "lr",
        "model.key_dim",
        "num_keys",
    ],
)
def test_not_secret_keys(key: str) -> None:
    assert not is_secret_key(key)


_segment = st.text(st.sampled_from("ab_- 1é"), min_size=1, max_size=4)
_values = st.one_of(st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2))
_nested: st.SearchStrategy[Any] = st.recursive(
    _values,
    lambda children: st.dictionaries(_segment, children, min_size=1, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(_segment, _nested, max_size=5))
def test_unflatten_inverts_flatten(nested: dict[str, Any]) -> None:
    flat = flatten(nested)
    assert all(not isinstance(v, dict) for v in flat.values())
    assert unflatten(flat) == nested
    assert flatten(unflatten(flat)) == flat


@given(st.lists(st.lists(st.sampled_from("ab-"), min_size=1, max_size=3), max_size=8))
def test_find_collision_agrees_with_brute_force(paths: list[list[str]]) -> None:
    keys = [".".join(p) for p in paths]
    found = find_collision(keys)
    brute = [(a, b) for a in keys for b in keys if b.startswith(a + ".")]
    assert (found is None) == (not brute)
    if found is not None:
        assert found in brute
