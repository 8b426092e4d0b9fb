from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gitcfg.errors import KeyCollisionError, UnsupportedValueError, YamlError
from gitcfg.flat import find_collision, flatten, is_valid_key
from gitcfg.yamlcodec import (
    dump_config,
    dump_yaml,
    load_config,
    load_yaml_file,
    parse_value,
    parse_value_yaml,
    update_config_text,
)

# strings that some YAML reader takes for something else, or that need escaping
TRICKY = [
    *("no", "No", "NO", "on", "On", "off", "OFF", "y", "Y", "n", "N", "yes", "Yes"),
    *("true", "True", "FALSE", "null", "Null", "NULL", "~", "=", "<<", "-", "--", "---", "..."),
    *("1e3", "1e-3", "1E3", "0o17", "0x1F", "012", "1_000", "0b101", "+1", "-1", "1.0", "1."),
    *(".5", "1:30", "190:20:30", "2024-01-01", ".inf", "-.inf", ".nan", ".NaN", "nan", "inf"),
    *("NaN", "_", "__", "_1", "/x", "a/b"),
    "",
    "2024-01-01 10:00:00",
    "- a",
    "? x",
    "a: b",
    "a #b",
    "#c",
    " lead",
    "trail ",
    "\ttab",
    "line\nbreak",
    "\r\n",
    "é",
    "日本",
    "\u2028",
    "\u2029",
    "\x85",
    "\ufeff",
    "\x00",
    "\x7f",
    "'",
    '"',
    "\\",
    "\\/",
    "{a: 1}",
    "[1]",
    "*ref",
    "&anchor",
    "!tag",
    "!!python/object:os.system",
    "%x",
    "@x",
    "`x",
    "|",
    "> x",
    ",",
    "x" * 2000,
    "\U0001f600",
]

_keys = st.one_of(st.sampled_from(TRICKY), st.text(min_size=1, max_size=12)).filter(is_valid_key)
_strings = st.one_of(st.text(), st.sampled_from(TRICKY))
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e-05, 1e300, 1e16, -1e-300, 5e-324]),
    _strings,
)
_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(_keys, c, max_size=3)),
    max_leaves=8,
)
_configs = st.dictionaries(_keys, _values, max_size=8)


def same(a: Any, b: Any) -> bool:
    """Equal in type and value; nan equals nan, -0.0 differs from 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return bool(a == b)


def ruamel_load(text: str) -> Any:
    return YAML(typ="safe").load(text)


# --------------------------------------------------------------------------------- dump_config


def test_dump_config_format() -> None:
    flat = {"opt": {"beta": 0.9}, "layers": [64, 32], "lr": 0.001, "model": "resnet50", "e": 3}
    assert dump_config(flat) == (
        "e: 3\nlayers: [64, 32]\nlr: 0.001\nmodel: resnet50\nopt: {beta: 0.9}\n"
    )
    assert dump_config({}) == "{}\n"


@pytest.mark.parametrize("text", TRICKY)
def test_dump_config_tricky_strings_read_back_in_both_yamls(text: str) -> None:
    flat = {"s": text, "l": [text, {"k": text}]}
    if is_valid_key(text):
        flat[text] = text
    dumped = dump_config(flat)
    assert dumped.count("\n") == len(flat)  # one line per key
    assert same(yaml.safe_load(dumped), flat)
    assert same(ruamel_load(dumped), flat)
    assert same(load_config(dumped, "f"), flatten(flat))


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (math.inf, ".inf"),
        (-math.inf, "-.inf"),
        (math.nan, ".nan"),
        (1e-05, "1.0e-05"),
        (1e300, "1.0e+300"),
        (-0.0, "-0.0"),
        (1.0, "1.0"),
        (2**70, "1180591620717411303424"),
        (-5, "-5"),
        (True, "true"),
        (None, "null"),
        ("no", "'no'"),
        ("it's", "'it''s'"),
        ("é\n", '"é\\n"'),
        ("\u2028", '"\\u2028"'),
    ],
)
def test_dump_config_scalars(value: Any, written: str) -> None:
    assert dump_config({"v": value}) == f"v: {written}\n"
    assert same(yaml.safe_load(dump_config({"v": value}))["v"], value)
    assert same(ruamel_load(dump_config({"v": value}))["v"], value)


def test_dump_config_quotes_keys() -> None:
    dumped = dump_config({"no": 1, "1e3": 2, "a b": 3})
    assert dumped == "'1e3': 2\n'a b': 3\n'no': 1\n"


def test_dump_config_refuses_unsupported_values() -> None:
    with pytest.raises(UnsupportedValueError) as info:
        dump_config({"a": 1, "b": [object()]})
    assert info.value.key == "b"


def test_dump_config_is_fast() -> None:
    import time

    flat = {f"key_{i}": v for i, v in enumerate([1e-3, 32, "adam", True, None, [64, 32]] * 5)}
    start = time.perf_counter()
    for _ in range(200):
        dump_config(flat)
    assert (time.perf_counter() - start) / 200 < 0.0005


@settings(max_examples=300, deadline=None)
@given(_configs)
def test_dump_config_reads_back_identically_in_both_yamls(flat: dict[str, Any]) -> None:
    dumped = dump_config(flat)
    assert dumped.endswith("\n")
    assert dumped.count("\n") == max(len(flat), 1)
    assert same(yaml.safe_load(dumped) or {}, flat)
    assert same(ruamel_load(dumped) or {}, flat)


_flat_values = st.one_of(_scalars, st.lists(_values, max_size=3), st.just({}))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _flat_values, max_size=8).filter(lambda d: not find_collision(d)))
def test_load_config_reads_dump_config(flat: dict[str, Any]) -> None:
    dumped = dump_config(flat)
    assert same(load_config(dumped, "f"), flat)
    # the fast reader of stored files and PyYAML agree
    assert same(load_config(dumped, "f"), flatten(yaml.safe_load(dumped) or {}))


# --------------------------------------------------------------------------------- load_config


def test_load_config_hand_edited() -> None:
    text = (
        "# a comment\n"
        "zeta: 1\n"
        "model:\n"
        "  lr: 1e-3  # YAML 1.2 float\n"
        "  opt: {beta: 0.9}\n"
        "day: 2024-01-01\n"
        "at: 2024-01-01 10:00:00\n"
        "1: a\n"
        "true: b\n"
        "empty: {}\n"
    )
    assert load_config(text, "f") == {
        "zeta": 1,
        "model.lr": 0.001,
        "model.opt.beta": 0.9,
        "day": "2024-01-01",
        "at": "2024-01-01T10:00:00",
        "1": "a",
        "true": "b",
        "empty": {},
    }


@pytest.mark.parametrize("text", ["", "{}\n", "# only a comment\n", "---\n"])
def test_load_config_empty(text: str) -> None:
    assert load_config(text, "f") == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!python/object/apply:os.system [ls]\n", "line 1: the tag !!python/object/apply"),
        ("a: 1\nb: !!python/name:os.system\n", "line 2: .*never constructs"),
        ("a: !custom 1\n", "tag !custom is refused"),
        ("- 1\n- 2\n", "top level is a list"),
        ("just text\n", "top level is a str"),
        ("a: 1\nb: [1\n", "line 3"),
        ("a: 1\n  b: 2\n", "line 2"),
        ("a: 1\na: 2\n", "line 2: .*duplicate key 'a'"),
        ("a: 1\na.b: 2\n", "'a' is a value and 'a.b'"),
        ("a..b: 1\n", "empty part"),
        ("a: !!binary aGk=\n", "binary"),
        ("[a]: 1\n", "keys must be strings"),
    ],
)
def test_load_config_errors(text: str, message: str) -> None:
    with pytest.raises(YamlError, match=message) as info:
        load_config(text, "runs/x/config.yaml")
    assert str(info.value).startswith("runs/x/config.yaml: ")
    assert "\n" not in str(info.value)


# --------------------------------------------------------------------------- update_config_text

HAND = """\
# Experiment config, edited by hand
model:
  lr: 0.001  # tuned
  layers: [64, 32]
dataset: mnist   # the usual
epochs: 10
"""


def test_update_canonical_file_is_rewritten() -> None:
    text = dump_config({"a": 1, "c": 3})
    result = update_config_text(text, {"b": "no", "a": 2}, ["c"])
    assert result == dump_config({"a": 2, "b": "no"})


def test_update_changes_nested_value_in_place() -> None:
    result = update_config_text(HAND, {"model.lr": 0.01}, [])
    # ruamel.yaml keeps the comment in its column
    assert result == HAND.replace("lr: 0.001  # tuned", "lr: 0.01   # tuned")


def test_update_adds_new_keys_at_end_of_unsorted_file_portably() -> None:
    result = update_config_text(HAND, {"flag": "no", "eps": 1e-05, "tags": ["on", None]}, [])
    assert result == HAND + "flag: 'no'\neps: 1.0e-05\ntags: ['on', null]\n"
    assert yaml.safe_load(result)["flag"] == "no"
    assert yaml.safe_load(result)["eps"] == 1e-05


def test_update_adds_new_key_in_sorted_position() -> None:
    text = "# header\na: 1  # first\nc: 3\n"
    result = update_config_text(text, {"b": 2}, [])
    assert result == "# header\na: 1  # first\nb: 2\nc: 3\n"


def test_update_unset_last_nested_key_removes_mapping() -> None:
    result = update_config_text(HAND, {}, ["model.lr", "model.layers"])
    assert result == (
        "# Experiment config, edited by hand\ndataset: mnist   # the usual\nepochs: 10\n"
    )


def test_update_unset_branch_and_missing_key() -> None:
    result = update_config_text(HAND, {}, ["model", "missing"])
    assert load_config(result, "f") == {"dataset": "mnist", "epochs": 10}
    assert "# the usual" in result


def test_update_keeps_four_space_indentation() -> None:
    text = "# c\nmodel:\n    lr: 1\n    depth: 2\n"
    assert update_config_text(text, {"model.depth": 3}, []) == text.replace("2", "3")


def test_update_collision_is_refused() -> None:
    with pytest.raises(KeyCollisionError):
        update_config_text(HAND, {"epochs.x": 1}, [])
    with pytest.raises(KeyCollisionError):
        update_config_text(HAND, {"model": 1}, [])
    # replacing a branch by a value works when the branch is unset in the same change
    result = update_config_text(HAND, {"model": 1}, ["model"])
    assert load_config(result, "f") == {"model": 1, "dataset": "mnist", "epochs": 10}


def test_update_set_nested_mapping_value() -> None:
    result = update_config_text(HAND, {"opt": {"beta": 0.9, "eps": []}}, [])
    assert load_config(result, "f")["opt.beta"] == 0.9
    assert load_config(result, "f")["opt.eps"] == []


_hand_keys = st.sampled_from(["model.lr", "model.layers", "dataset", "epochs", "new", "x.y"])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_hand_keys, _flat_values, max_size=3), st.sets(_hand_keys, max_size=2))
def test_update_config_text_keeps_comments_and_reads_back(
    changes: dict[str, Any], unset: set[str]
) -> None:
    expected = load_config(HAND, "f")
    for key in unset:
        expected.pop(key, None)
    expected.update(changes)
    if find_collision(expected):
        return
    result = update_config_text(HAND, changes, unset)
    assert same(load_config(result, "f"), expected)
    assert same(ruamel_load(result) and flatten(ruamel_load(result)), expected or None)
    assert result.startswith("# Experiment config, edited by hand\n")
    if "dataset" not in unset and "dataset" not in changes:
        assert "dataset: mnist   # the usual\n" in result
    if "model.lr" not in unset and "model.lr" not in changes:
        assert "  lr: 0.001  # tuned\n" in result
    # keys keep their order: the ones still there come first, as before
    order = [k for k in ("model", "dataset", "epochs") if f"\n{k}:" in "\n" + result]
    positions = [result.index(f"{k}:") for k in order]
    assert positions == sorted(positions)


# --------------------------------------------------------------------------------- parse_value


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("32", 32),
        ("1e-3", 1e-3),
        ("1.5", 1.5),
        ("-2", -2),
        ("true", True),
        ("null", None),
        ("~", None),
        ("[1, 2]", [1, 2]),
        ("{a: 1, b: [x]}", {"a": 1, "b": ["x"]}),
        ("'32'", "32"),
        ('"x y"', "x y"),
        ("no", "no"),
        ("yes", "yes"),
        ("on", "on"),
        ("", ""),
        ("  ", "  "),
        ("#1", "#1"),
        ("adam", "adam"),
        ("hello world", "hello world"),
        ("2024-01-01", "2024-01-01"),
        ("0o17", 15),
        ("{1: a}", {"1": "a"}),
        ("[2024-01-01]", ["2024-01-01"]),
    ],
)
def test_parse_value(text: str, expected: Any) -> None:
    value = parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


_SCALAR_LIKE = st.one_of(
    st.from_regex(r"[-+]?[0-9]{1,6}(\.[0-9]{0,4})?([eE][-+]?[0-9]{1,3})?", fullmatch=True),
    st.from_regex(r"[A-Za-z][A-Za-z0-9_.\-/:~]{0,10}", fullmatch=True),
    st.sampled_from(["true", "True", "TRUE", "tRue", "NULL", "Null", "nUll", "yes", "On", "y",
                     ".inf", "nan", "0x1F", "0o17", "012", "-0", "+1", "1_000", "1.", ".5"]),
    st.text(alphabet="01eE.-+_abxyz/:", max_size=8),
)  # fmt: skip


@given(_SCALAR_LIKE)
@settings(max_examples=1500, deadline=None)
def test_parse_value_fast_path_reads_as_yaml_does(text: str) -> None:
    """The fast path for plain scalars gives exactly ruamel.yaml's value and type."""
    try:
        expected = parse_value_yaml(text)
    except YamlError:
        with pytest.raises(YamlError):
            parse_value(text)
        return
    value = parse_value(text)
    assert type(value) is type(expected)
    assert value == expected or (value != value and expected != expected)  # nan


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("!!python/object/apply:os.system [ls]", "never constructs"),
        ("!!binary aGk=", "binary"),
        ("[1, 2", "line 1"),
        ("a: b: c", "line 1"),
        ("-_", "malformed number"),
        ("[._]", "malformed number"),
    ],
)
def test_parse_value_errors(text: str, message: str) -> None:
    with pytest.raises(YamlError, match=message):
        parse_value(text)


# ------------------------------------------------------------------------ files and dump_yaml


def test_load_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  lr: 1e-3\nday: 2024-01-01\n", encoding="utf-8")
    assert load_yaml_file(path) == {"model": {"lr": 0.001}, "day": "2024-01-01"}
    with pytest.raises(YamlError, match="no such file; check the path"):
        load_yaml_file(tmp_path / "missing.yaml")
    path.write_text("a: 1\nb: [\n", encoding="utf-8")
    with pytest.raises(YamlError, match="line 3"):
        load_yaml_file(path)
    path.write_text("a: !!python/object:os.system x\n", encoding="utf-8")
    with pytest.raises(YamlError, match="never constructs"):
        load_yaml_file(path)


def test_dump_yaml() -> None:
    nested = {"model": {"lr": 0.001, "opt": {"b": "no"}}, "e": {}, "l": [1, "on"]}
    dumped = dump_yaml(nested)
    assert dumped == "model:\n  lr: 0.001\n  opt:\n    b: 'no'\ne: {}\nl: [1, 'on']\n"
    assert yaml.safe_load(dumped) == nested
    assert ruamel_load(dumped) == nested
    assert dump_yaml({}) == "{}\n"


def test_hot_path_does_not_import_ruamel() -> None:
    code = (
        "import sys; from gitcfg import yamlcodec as y;"
        "y.load_config(y.dump_config({'a': [1, 'no']}), 'f'); y.load_config('# c\\nb: 1\\n', 'f');"
        "y.dump_yaml({'a': {'b': 1}});"
        "assert not [m for m in sys.modules if m.startswith('ruamel')], 'ruamel imported'"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1]
    )


def test_a_number_python_will_not_read_is_a_clear_error_not_a_traceback() -> None:
    # Python reads an int of at most 4,300 digits; a hand-written file or a value may hold more
    digits = "9" * 4301
    with pytest.raises(YamlError, match="more digits than 4,300"):
        load_config(f"a: {digits}\n", "config.yaml")
    with pytest.raises(YamlError, match="more digits than 4,300"):
        parse_value(digits)
    assert parse_value(f"'{digits}'") == digits  # quoted, it is a string
    assert load_config(f"a: '{digits}'\n", "config.yaml") == {"a": digits}
