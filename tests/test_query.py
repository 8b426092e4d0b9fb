"""Questions asked of run rows: filter, what differs, sort, group, columns."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitcfg import query
from gitcfg.diff import MISSING
from gitcfg.errors import UnknownColumnError
from gitcfg.override import parse_condition


def row(run_id: str, **config: Any) -> dict[str, Any]:
    return {
        "project": "p",
        "id": run_id,
        "created": "2024-01-01T00:00:00+00:00",
        "code_commit": "c" * 40,
        "dirty": False,
        "config": config,
        "summary": {},
    }


ROWS = [row("a", lr=0.1, bs=32, flag=True), row("b", lr=1, bs=32), row("c", lr="x", bs=32.0)]


def test_where_ands_typed_conditions() -> None:
    conditions = [parse_condition("lr<=1"), parse_condition("bs=32")]
    assert [r["id"] for r in query.where(ROWS, conditions)] == ["a", "b"]
    assert [r["id"] for r in query.where(ROWS, [parse_condition("flag!=true")])] == ["b", "c"]


def test_differing_keys_tell_types_and_absence_apart() -> None:
    # 32 and 32.0 differ in type; flag is absent from two runs
    assert query.differing_keys(ROWS) == ["bs", "flag", "lr"]
    assert query.differing_keys(ROWS[:2]) == ["flag", "lr"]
    assert query.differing_keys([row("a", x=float("nan")), row("b", x=float("nan"))]) == []
    assert query.differing_keys(ROWS[:1]) == ["bs", "flag", "lr"]  # one run: all of it
    assert query.differing_keys([]) == []


def test_sort_puts_numbers_then_strings_and_missing_last() -> None:
    assert [r["id"] for r in query.sort_rows(ROWS, "lr")] == ["a", "b", "c"]
    assert [r["id"] for r in query.sort_rows(ROWS, "lr", descending=True)] == ["c", "b", "a"]
    assert [r["id"] for r in query.sort_rows(ROWS, "flag", descending=True)] == ["a", "b", "c"]


def test_group_counts_by_value_and_type() -> None:
    assert query.group_counts(ROWS, "bs") == [(32, 2), (32.0, 1)]
    assert query.group_counts(ROWS, "flag") == [(True, 1), (MISSING, 2)]
    assert query.group_counts(ROWS, "project") == [("p", 3)]


def test_columns_are_fields_or_config_keys() -> None:
    query.check_columns(ROWS, ["id", "dirty", "flag"])
    with pytest.raises(UnknownColumnError) as info:
        query.check_columns(ROWS, ["id", "nope"])
    assert str(info.value) == (
        "no column 'nope' in the runs listed; available: project, id, created, code_commit, "
        "dirty, name, group, job_type, tags, notes, bs, flag, lr"
    )
    assert query.table_cells(ROWS[1:2], ["id", "flag", "lr"]) == [["b", MISSING, 1]]


values = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(), st.booleans(), st.none())


@given(st.lists(st.dictionaries(st.sampled_from("abc"), values), min_size=2, max_size=5))
def test_a_key_differs_exactly_when_two_runs_disagree(configs: list[dict[str, Any]]) -> None:
    rows = [row(str(i), **config) for i, config in enumerate(configs)]
    differ = set(query.differing_keys(rows))
    for key in query.config_keys(rows):
        seen = {(type(c.get(key, MISSING)), repr(c.get(key, MISSING))) for c in configs}
        assert (key in differ) == (len(seen) > 1)


def test_an_unknown_column_among_runs_with_no_keys_says_so() -> None:
    from gitcfg.errors import UnknownColumnError

    assert str(UnknownColumnError("acc", [])).endswith("they have none to choose from yet")
    assert str(UnknownColumnError("acc", ["loss"])).endswith("available: loss")


def test_meta_columns_read_the_rows_meta_and_never_a_config_key() -> None:
    rows = [
        {**row("a", **{"meta:x": 1}), "meta": {"exit_status": 3, "x": 2}},
        {**row("b"), "meta": {"exit_status": 0}},
        {**row("c"), "meta": {}},
    ]
    assert query.table_cells(rows, ["meta:exit_status", "meta:x", "config:meta:x"]) == [
        [3, 2, 1],
        [0, MISSING, MISSING],
        [MISSING, MISSING, MISSING],
    ]
    failed = query.where(rows, [parse_condition("meta:exit_status>0")])
    assert [r["id"] for r in failed] == ["a"]
    ordered = query.sort_rows(rows, "meta:exit_status", descending=True)
    assert [r["id"] for r in ordered] == ["a", "b", "c"]  # absent last either way
    # the config key meta:x is named so that it cannot be read as a meta column
    assert query.config_column("meta:x") == "config:meta:x"
    assert query.default_columns(rows, only_differing=False)[-1] == "config:meta:x"
    assert query.split_namespace("meta:a.b") == ("meta", "a.b")
    assert query.meta_keys(["id", "meta:b", "summary:meta:c", "meta:a", "meta:b"]) == ["b", "a"]


def test_unknown_meta_columns_name_the_meta_keys_there_are() -> None:
    rows = [{**row("a", lr=1), "meta": {"exit_status": 3, "duration": 1.5}}]
    query.check_columns(rows, ["meta:duration", "lr"])
    with pytest.raises(UnknownColumnError) as info:
        query.check_columns(rows, ["meta:durration"])
    assert info.value.available == ["meta:duration", "meta:exit_status"]


@pytest.mark.parametrize("column", ["meta:", "summary:", "config:", "meta:a..b"])
def test_a_namespace_needs_a_well_formed_key(column: str) -> None:
    from gitcfg.errors import InputError

    assert query.column_problem(column) is not None
    with pytest.raises(InputError, match="is not a column name"):
        query.check_column_name(column, "--columns")
    with pytest.raises(InputError):
        parse_condition(f"{column}=1")
    assert query.column_problem("meta:exit_status") is None


@pytest.mark.parametrize(
    ("numbers", "expected"),
    [
        ([0.56, 0.58], 0.57),  # float arithmetic: 0.5700000000000001
        ([0.1, 0.2], 0.15),  # 0.15000000000000002
        ([0.3, 0.6], 0.45),  # 0.44999999999999996
        ([0.1, 0.2, 0.4], 0.2333333333333334),  # 0.23333333333333336: one digit less
        ([1, 2], 1.5),
        ([1e300, 3e300], 2e300),
        ([2.5], 2.5),
        ([1 / 3], 1 / 3),  # a value's own digits are all kept
        ([float("inf"), 1.0], float("inf")),
    ],
)
def test_group_means_carry_no_digit_of_float_rounding(
    numbers: list[float], expected: float
) -> None:
    assert query.mean(numbers) == expected
    rows = [{"id": str(i), "config": {"g": 1}, "summary": {"m": n}} for i, n in enumerate(numbers)]
    (group,) = query.group_stats(rows, "g", ["m"])
    assert group.metrics["m"] == (expected, min(numbers), max(numbers))


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=20))
def test_a_group_mean_is_the_computed_one_within_its_rounding(numbers: list[float]) -> None:
    import math

    exact = math.fsum(numbers) / len(numbers)
    assert abs(query.mean(numbers) - exact) <= 2 * math.ulp(max(abs(n) for n in numbers))
