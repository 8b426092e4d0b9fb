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
    with sqlite3.connect(cache / FILE_NAME) as db:
        db.execute("DELETE FROM subtrees WHERE blob LIKE ?", ("%" + tablecells._SUFFIX,))
    assert _runs(repo) == expected  # from the listing's cached rows


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
