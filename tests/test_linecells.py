"""Cells read from the lines of plain files are the cells the table writes from their values:
the type letter of each value and ``render.cell_text``'s text, for files gitcfg writes and for
files written by hand in the plain form (floats and lists gitcfg would write otherwise)."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg import linecells, tablecells
from gitcfg.blobcache import FILE_NAME
from gitcfg.flatjson import fast_json
from gitcfg.render import cell_text
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import dump_config
from tests.conftest import git
from tests.listinghelpers import expected_table, rows_from_git

_SEP = "\x1e"
_SCALARS = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.1, 1e-05, 1e16, 1e-300, 123456789.5, -0.0, 0.30000000000000004]),
    st.booleans(),
    st.none(),
    st.text("abcxyz 019.-_/:,'\"#", max_size=6),
    st.sampled_from(["true", "null", "1", "1.0", "", "yes", "a b", "x: y", ".inf", "-1e5"]),
)
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3), st.just({}))
_KEY = st.from_regex(r"[a-z_][a-z0-9_]{0,5}(\.[a-z0-9]{1,3})?", fullmatch=True)


def _expected(config: dict[str, Any]) -> tuple[str, str, str]:
    """What the table shows of a config, from its values as the listing decodes them."""
    decoded = json.loads(fast_json(dump_config(config)) or "null")
    letters = "".join(tablecells._LETTERS[type(v)] for v in decoded.values())
    cells = "".join(cell_text(v) + _SEP for v in decoded.values())
    return "".join(k + _SEP for k in decoded), letters, cells


@settings(max_examples=400)
@given(st.lists(st.dictionaries(_KEY, _VALUES, max_size=6), min_size=1, max_size=5))
def test_cells_from_lines_are_the_cells_of_the_decoded_values(
    configs: list[dict[str, Any]],
) -> None:
    plain = [c for c in configs if fast_json(dump_config(c)) is not None]
    found = linecells.files_cells([dump_config(c) for c in plain], _SEP)
    assert found.files(0, len(plain), _SEP) == [_expected(c) for c in plain]


# floats in the plain form as a hand might write them: trailing zeros, too many digits,
# exponents where repr writes none (and none where it writes one), one-digit exponents
_FLOAT_TEXT = st.from_regex(
    r"-?(0|[1-9][0-9]{0,18})\.[0-9]{1,19}(e[-+][0-9]{1,3})?", fullmatch=True
)


@settings(max_examples=1000)
@given(st.lists(_FLOAT_TEXT, min_size=1, max_size=4))
def test_hand_written_floats_and_lists_show_as_their_values(texts: list[str]) -> None:
    body = "".join(f"k{i}: {t}\n" for i, t in enumerate(texts)) + f"list: [{', '.join(texts)}]\n"
    assert fast_json(body) is not None
    values = [float(t) for t in texts]
    found = linecells.files_cells([body, "{}\n", ""], _SEP).files(0, 3, _SEP)
    assert found[0] is not None
    cells = found[0][2].split(_SEP)[:-1]
    assert cells == [*map(cell_text, values), cell_text(values)]
    assert found[0][1] == "f" * len(texts) + "l"
    assert found[1:] == [("", "", "")] * 2


def test_the_kinds_of_plain_values() -> None:
    body = (
        "a: 'x y'\nb: 1.0e-05\nc: [1.0e-05, 'q', true]\nd: true\ne: null\nf: -.inf\ng: {}\n"
        "h: 0.10\ni: 0.30000000000000004\nj: 0.10000000000000001\nk: 1.50e-05\nl: 0.00001\n"
        "m: 1.0e+999\nn: word\no: '1'\np: -12\nq: .nan\n"
    )
    found = linecells.files_cells([body], "|")
    assert found.files(0, 1, "|") == [
        (
            "a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p|q|",
            "sflbnfdffffffssif",
            "x y|1e-05|[1.0e-05, q, true]|true|null|-.inf|{}|0.1|0.30000000000000004|0.1|1.5e-05"
            "|1e-05|.inf|word|1|-12|.nan|",
        )
    ]
    assert math.isinf(float(json.loads(fast_json("m: 1.0e+999\n") or "")["m"]))


def _runs(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "gitcfg", "runs", *args], cwd=cwd, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_hand_edited_store_shows_one_table_whatever_the_cache_holds(
    repo: Path, tmp_path: Path
) -> None:
    store = ConfigStore.open()
    for i in range(6):
        store.create("p", {"lr": 0.1, "betas": [0.5, "a"], "x": 1e-05, "i": i}, run_id=f"r{i}")
    # two runs' files rewritten by hand, still in the plain form, with the same values
    edit = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(edit), "gitcfg")
    for path in git(edit, "ls-files", "*config.yaml").split()[:2]:
        text = (edit / path).read_text()
        text = text.replace("lr: 0.1\n", "lr: 0.10\n").replace("[0.5, a]", "[0.50, 'a']")
        (edit / path).write_text(text.replace("1.0e-05", "1.00e-5"))
    git(edit, "commit", "-q", "-am", "hand edit")
    git(repo, "worktree", "remove", str(edit))
    expected = expected_table(rows_from_git(store))
    # the values are the same: only i differs
    assert expected.splitlines()[0].split()[-1] == "i"
    cache = repo / ".git" / "gitcfg"
    cold = _runs(repo)  # cells from the files' lines
    assert cold == expected == _runs(repo)  # and from the cached cells
    _runs(repo, "--format", "json")  # the listing's rows cached
    with sqlite3.connect(cache / FILE_NAME) as db:
        db.execute("DELETE FROM subtrees WHERE blob LIKE ?", ("%" + tablecells._SUFFIX,))
    assert _runs(repo, "--sort", "created") == expected  # from the listing's cached rows
    assert _runs(repo) == expected


def test_a_meta_mapping_holding_a_config_key_makes_a_cold_table_too(
    repo: Path, tmp_path: Path
) -> None:
    # the row's head is cut where its config member starts; such a mapping makes a cut that
    # is no JSON text, and that run's cells are made from its decoded row
    store = ConfigStore.open()
    for i in range(3):
        store.create("p", {"i": i}, run_id=f"r{i}")
    edit = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(edit), "gitcfg")
    path = git(edit, "ls-files", "*meta.yaml").split()[0]
    with open(edit / path, "a") as meta:
        meta.write("tags: [{a: 1, config: 2}]\n")
    git(edit, "commit", "-q", "-am", "hand edit")
    git(repo, "worktree", "remove", str(edit))
    out = _runs(repo)
    assert out == expected_table(rows_from_git(store)) == _runs(repo)
    assert "tags" in out.splitlines()[0].split()


def _value_texts(values: list[Any]) -> list[str]:
    """Each value as a plain file writes it, on a line of its own (those it would not write
    in the plain form left out)."""
    lines = [dump_config({"k": value}) for value in values]
    return [line[3:-1] for line in lines if fast_json(line) is not None]


_ONE_KIND = st.one_of(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=6),
    st.lists(st.integers(-(10**20), 10**20), min_size=1, max_size=6),
    st.lists(st.text("abcxyz 019.-_/:,'\"#", max_size=6), min_size=1, max_size=6),
    st.lists(st.lists(_SCALARS, max_size=3), min_size=1, max_size=6),
    st.lists(_VALUES, min_size=1, max_size=6),  # of several kinds
)


@settings(max_examples=400)
@given(_ONE_KIND)
def test_a_column_of_values_has_the_cells_of_its_values_one_by_one(values: list[Any]) -> None:
    texts = _value_texts(values)
    decoded = [json.loads(fast_json(f"k: {text}\n") or "")["k"] for text in texts]
    letters = "".join(tablecells._LETTERS[type(value)] for value in decoded)
    expected = (letters, [cell_text(value) for value in decoded])
    # at once when they are of one kind; with a file's end among them, one by one
    assert linecells.cells_of(texts) == expected
    both = linecells.cells_of([*texts, "\0"])
    assert both == (letters + "\0", [*expected[1], "\0"])
    # a value every file shares (a key set the same in every run), as each alone
    for text, letter, cell in zip(texts, letters, expected[1], strict=True):
        assert linecells.cells_of([text] * 3) == (letter * 3, [cell] * 3)


@settings(max_examples=300)
@given(st.lists(_FLOAT_TEXT, min_size=1, max_size=4))
def test_a_column_of_hand_written_floats_shows_their_values(texts: list[str]) -> None:
    cells = [cell_text(float(text)) for text in texts]
    assert linecells.cells_of(texts) == ("f" * len(texts), cells)
    assert linecells.cells_of([*texts, "1"]) == ("f" * len(texts) + "i", [*cells, "1"])


def test_files_whose_keys_fast_json_refuses_have_no_cells() -> None:
    # in the plain form line by line, but a key repeated or a dotted key under another's
    # value: the loader decides what they are (it refuses them), never the lines
    bodies = ["a: 1\nb: 2\n", "a: 1\na: 2\n", "a: 1\na.b: 2\n", "{}\n", "a.b: 1\na.c: 2\n"]
    found = linecells.files_cells(bodies, _SEP).files(0, len(bodies), _SEP)
    assert [one is None for one in found] == [False, True, True, False, False]
    assert [fast_json(body) is None for body in bodies] == [False, True, True, False, False]


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(_KEY, _VALUES, max_size=4),
    st.lists(st.dictionaries(_KEY, _VALUES, max_size=2), min_size=32, max_size=40),
)
def test_files_sharing_lines_have_the_cells_of_each_file_alone(
    shared: dict[str, Any], own: list[dict[str, Any]]
) -> None:
    # a store built through the API: configs the same but their seed; beside each, a summary
    # or none (its keys shared with no file, or a file without keys)
    configs = [{**shared, **mine, "seed": i} for i, mine in enumerate(own)]
    plain = [c for c in configs if fast_json(dump_config(c)) is not None]
    bodies = [text for c in plain for text in (dump_config(c), ["", "{}\n", "s: 1\n"][len(c) % 3])]
    found = linecells.files_cells(bodies, _SEP).files(0, len(bodies), _SEP)
    assert found == [linecells.files_cells([body], _SEP).files(0, 1, _SEP)[0] for body in bodies]


def test_files_sharing_a_key_with_their_own_lines_have_no_cells() -> None:
    bodies = [f"a: 1\nb: 2\nc: {i}\nz: 3\n" for i in range(40)]
    bodies[3] = "a: 1\nb: 2\nb.c: 1\nz: 3\n"  # a dotted key under a shared key's value
    bodies[5] = "a: 1\nb: 2\nz: 5\nz: 3\n"  # a shared key repeated
    found = linecells.files_cells(bodies, _SEP).files(0, len(bodies), _SEP)
    assert [i for i, one in enumerate(found) if one is None] == [3, 5]
    assert [i for i, body in enumerate(bodies) if fast_json(body) is None] == [3, 5]
