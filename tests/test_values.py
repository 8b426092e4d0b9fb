from __future__ import annotations

import datetime
import enum
import pathlib
from typing import Any

import numpy as np
import pytest

from gitcfg.errors import ConfigError, UnsupportedValueError
from gitcfg.values import coerce_mapping, coerce_value


class Color(enum.Enum):
    RED = "red"
    NESTED = (1, 2)


class Size(enum.IntEnum):
    SMALL = 1


class Name(str, enum.Enum):
    ADAM = "adam"


class Tag(str):
    pass


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (3, 3),
        (0.5, 0.5),
        ("x", "x"),
        ((1, 2), [1, 2]),
        ([1, (2, 3)], [1, [2, 3]]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        (Color.RED, "red"),
        (Color.NESTED, [1, 2]),
        (Size.SMALL, 1),
        (Name.ADAM, "adam"),
        (pathlib.PurePosixPath("/data/x"), "/data/x"),
        (datetime.date(2024, 1, 2), "2024-01-02"),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (datetime.time(3, 4), "03:04:00"),
        ({"a": {"b": (1,)}, 2: "x"}, {"a": {"b": [1]}, "2": "x"}),
        ({"a.b": 1}, {"a.b": 1}),  # dotted keys are paths: flatten's job
    ],
)
def test_coerce_value(value: Any, expected: Any) -> None:
    result = coerce_value("k", value)
    assert result == expected
    assert type(result) is type(expected)


def test_bool_stays_bool_and_subclasses_become_plain() -> None:
    assert coerce_value("k", True) is True
    assert type(coerce_value("k", Size.SMALL)) is int
    assert type(coerce_value("k", Name.ADAM)) is str
    assert type(coerce_value("k", Tag("t"))) is str
    assert coerce_value("k", [False])[0] is False


def test_unsortable_set_becomes_list() -> None:
    result = coerce_value("k", {1, "a"})
    assert sorted(map(str, result)) == ["1", "a"]


def test_numpy_values() -> None:
    assert coerce_value("k", np.float32(0.5)) == 0.5
    assert type(coerce_value("k", np.float64(0.1))) is float
    assert type(coerce_value("k", np.int64(7))) is int
    assert coerce_value("k", np.bool_(True)) is True
    assert type(coerce_value("k", np.str_("s"))) is str
    assert coerce_value("k", np.arange(4).reshape(2, 2)) == [[0, 1], [2, 3]]
    assert coerce_value("k", np.array([1.5])) == [1.5]
    assert coerce_value("k", {"a": np.array([True])}) == {"a": [True]}
    assert coerce_value("k", np.array(["a", "b"])) == ["a", "b"]


def test_numpy_object_array_is_checked_element_by_element() -> None:
    with pytest.raises(UnsupportedValueError) as info:
        coerce_value("w", np.array([1, object()], dtype=object))
    assert info.value.key == "w[1]"


class Tensor:
    """Stands in for ``torch.Tensor`` (torch is not installed for the default suite; the real
    one is in tests/integrations/test_torch.py): a ``torch`` value with ``tolist()``."""

    __module__ = "torch"

    def __init__(self, data: Any) -> None:
        self.data = data

    def tolist(self) -> Any:
        if self.data is None:
            raise NotImplementedError("Cannot copy out of meta tensor; no data!")
        return self.data


class TorchSize(tuple):  # type: ignore[type-arg]  # torch.Size: a tuple, no tolist
    __module__ = "torch"


class Dtype:  # torch.float32 and the like: no tolist, no plain value
    __module__ = "torch"


def test_torch_tensors_become_plain_values_without_importing_torch() -> None:
    assert coerce_value("t0", Tensor(3.5)) == 3.5  # torch.tensor(3.5).tolist()
    assert coerce_value("k", Tensor([[1, 2], [3, 4]])) == [[1, 2], [3, 4]]
    assert coerce_value("k", {"a": [Tensor(True)]}) == {"a": [True]}
    assert coerce_value("k", TorchSize((2, 3))) == [2, 3]
    with pytest.raises(UnsupportedValueError) as info:
        coerce_value("m", {"w": Tensor(None)})  # a tensor on the meta device has no data
    assert info.value.key == "m.w" and info.value.type_name == "torch.Tensor"
    with pytest.raises(UnsupportedValueError, match=r"torch\.Dtype"):
        coerce_value("d", Dtype())
    with pytest.raises(UnsupportedValueError):  # tolist() giving a torch value again
        coerce_value("k", Tensor(Tensor(1)))


def test_unsupported_value_names_full_key() -> None:
    with pytest.raises(UnsupportedValueError) as info:
        coerce_value("model", {"layers": [1, 2, object()]})
    assert info.value.key == "model.layers[2]"
    assert "'model.layers[2]'" in str(info.value)
    assert "builtins.object" in str(info.value)


@pytest.mark.parametrize("value", [b"bytes", 1 + 2j, object(), print, datetime.timedelta(1)])
def test_unsupported_values(value: Any) -> None:
    with pytest.raises(UnsupportedValueError) as info:
        coerce_value("k", value)
    assert isinstance(info.value, TypeError)


def test_bad_nested_key() -> None:
    with pytest.raises(ConfigError, match=r"in 'model'.*empty"):
        coerce_value("model", {"": 1})
    with pytest.raises(ConfigError, match="is a tuple"):
        coerce_value("model", {(1, 2): 1})


def test_coerce_mapping() -> None:
    assert coerce_mapping({"a": (1,), 2: np.int8(3)}) == {"a": [1], "2": 3}
    with pytest.raises(ConfigError):
        coerce_mapping({"a..b": 1})
