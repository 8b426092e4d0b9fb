"""Text for people and scripts: values, diffs, tables, CSV and YAML."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import yaml
from hypothesis import given
from hypothesis import strategies as st

from gitcfg import render
from gitcfg.diff import MISSING, Change


def test_values_are_written_as_in_a_stored_file() -> None:
    assert [render.value_text(v) for v in (32, "32", 1e-3, None, True, "no", [1, "a"])] == [
        "32", "'32'", "0.001", "null", "true", "'no'", "[1, a]"
    ]  # fmt: skip
    assert render.cell_text("no") == "no" and render.cell_text(MISSING) == ""
    assert render.cell_text("two\nlines") == '"two\\nlines"'


def test_change_lines_and_colour_as_a_flag() -> None:
    changes = [Change("a", MISSING, 1), Change("b", 2, MISSING), Change("c", "u", "v")]
    assert render.change_lines(changes, color=False) == ["+ a: 1", "- b: 2", "~ c: u -> v"]
    assert render.change_lines(changes[:1], color=True) == ["\x1b[32m+ a: 1\x1b[0m"]
    assert render.key_summary(changes) == "changed: c; added: a; removed: b"
    assert render.key_summary([]) == "no config change"


def test_table_aligns_and_trims() -> None:
    text = render.table(["id", "lr", "x"], [["a", 0.1, MISSING], ["bbb", MISSING, "y"]], False)
    assert text == "id   lr   x\na    0.1\nbbb       y\n"


cells = st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none())


@given(st.lists(st.lists(cells, min_size=2, max_size=2), max_size=5))
def test_csv_reads_back_cell_by_cell(rows: list[list[Any]]) -> None:
    text = render.csv_text(["a", "b"], rows)
    # Python 3.10's reader refuses a NUL: one stands in for it that no cell holds
    stand_in = next(chr(code) for code in range(0xE000, 0xF900) if chr(code) not in text)
    read = [
        [cell.replace(stand_in, "\0") for cell in line]
        for line in csv.reader(io.StringIO(text.replace("\0", stand_in), newline=""))
    ]
    assert read[0] == ["a", "b"]
    assert len(read) == len(rows) + 1
    for written, back in zip(rows, read[1:], strict=True):
        for value, cell in zip(written, back, strict=True):
            if isinstance(value, str):
                assert cell == value
            else:
                assert json.loads(cell) == value


def test_csv_writes_a_nul_as_it_is_on_every_python() -> None:
    rows = [["", "\0"], ['\0"', "\r\0"], ["a\0b", 1], ["\0,", None]]
    expected = 'a,b\r\n,\0\r\n"\0""","\r\0"\r\na\0b,1\r\n"\0,",null\r\n'
    assert render.csv_text(["a", "b"], rows) == expected
    assert "".join(render.csv_chunks(["a", "b"], rows, per_chunk=3)) == expected


def test_yaml_list_reads_back() -> None:
    items = [{"id": "a", "config": {"lr": 0.1, "xs": [1, 2], "s": "no"}}, {"id": "b", "config": {}}]
    assert yaml.safe_load(render.yaml_list(items)) == items
    assert render.yaml_list([]) == "[]\n"


def test_json_list_is_one_item_per_line_and_valid_json() -> None:
    items = [{"id": "a", "config": {"lr": 0.1, "name": "ü"}}, {"id": "b", "config": {}}]
    text = render.json_list(items)
    assert json.loads(text) == items
    assert text.splitlines()[1] == '{"id": "a", "config": {"lr": 0.1, "name": "ü"}},'
    assert render.json_list([]) == "[]\n"


any_cells = st.one_of(
    st.text(),
    st.integers(),
    st.floats(),  # nan and both infinities too
    st.booleans(),
    st.none(),
    st.just(MISSING),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
)


@given(st.lists(st.lists(any_cells, min_size=3, max_size=3), max_size=7))
def test_csv_cells_are_strings_as_they_are_and_other_values_as_json(rows: list[list[Any]]) -> None:
    # Python 3.10's writer refuses a NUL: one stands in for it that no cell holds (3.11 writes
    # a NUL as any other character)
    text = "".join(x for row in rows for x in row if isinstance(x, str))
    stand_in = next(chr(code) for code in range(0xE000, 0xF900) if chr(code) not in text)

    def cell(x: Any) -> str:
        if x is MISSING:
            return ""
        return x.replace("\0", stand_in) if isinstance(x, str) else json.dumps(x)

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["a", "b", "c"])
    for row in rows:
        writer.writerow([cell(x) for x in row])
    expected = buffer.getvalue().replace(stand_in, "\0")
    assert render.csv_text(["a", "b", "c"], rows) == expected
    assert "".join(render.csv_chunks(["a", "b", "c"], rows, per_chunk=2)) == expected


@given(st.lists(st.lists(any_cells, min_size=3, max_size=3), max_size=7))
def test_table_in_pieces_aligns_every_cell(rows: list[list[Any]]) -> None:
    # what a table is: the headers, then each cell's text, left-aligned to its column's
    # widest, two spaces apart, trailing spaces trimmed
    headers = ["id", "a", "c"]
    texts = [headers, *([render.cell_text(item) for item in row] for row in rows)]
    widths = [max(len(row[i]) for row in texts) for i in range(3)]
    expected = "".join(
        "  ".join(row[i].ljust(widths[i]) if i < 2 else row[i] for i in range(3)).rstrip() + "\n"
        for row in texts
    )
    assert "".join(render.table_chunks(headers, rows, False, per_chunk=2)) == expected
