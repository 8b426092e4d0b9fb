"""The default ``gitcfg runs`` table made from cached cell lines answers as the query of the
whole rows does: the same columns (only what differs), the same cells, the same widths."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg import listing as listing_module
from gitcfg import query, tablecells
from gitcfg.blobcache import FILE_NAME
from gitcfg.cli.commands import cli
from gitcfg.layout import RunRef
from gitcfg.store import ConfigStore
from tests.listinghelpers import count_forks, expected_table, rows_from_git

GITCFG = [sys.executable, "-m", "gitcfg"]


def _from_texts(rows: list[dict[str, Any]], order: list[int] | None = None, per: int = 2) -> str:
    """The table as the cached texts make it, a subtree text per ``per`` runs."""
    made = [tablecells.run_cells(row, f"t{i:05d}") for i, row in enumerate(rows)]
    runs = tablecells.Runs()
    for start in range(0, len(made), per):
        cells = made[start : start + per]
        assert all(one is not None for one in cells)
        assert runs.add_text(tablecells.subtree_text(cells))  # type: ignore[arg-type]
    runs.measure(order)
    return "".join(runs.chunks(order, False, per_chunk=2))


def _sorted(mapping: dict[str, int]) -> dict[str, int]:
    return dict(sorted(mapping.items()))


# values a config or summary key may hold, with the look-alikes that must stay apart: the
# string '1' and the int 1, 1 and 1.0 and true, null and 'null', '' and absent
_VALUES = st.one_of(
    st.sampled_from([1, 1.0, True, "1", "true", None, "null", "", "a\x01b", 'a"\\x01"b']),
    st.integers(-3, 3),
    st.floats(allow_nan=True).filter(lambda x: not (x == 0 and str(x) == "-0.0")),
    st.text(max_size=4),
    st.lists(st.one_of(st.integers(0, 2), st.floats(0, 1), st.text(max_size=2)), max_size=2),
    # mappings in a list, their keys in order (gitcfg writes them so; see the test below)
    st.lists(st.dictionaries(st.sampled_from("ab"), st.integers(0, 1)).map(_sorted), max_size=2),
)
# config keys, some named like a field or a namespace (shown as config:KEY)
_KEYS = st.sampled_from(["lr", "a.b", "created", "name", "summary:x", "z"])


@st.composite
def _rows(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(1, 7))
    rows = []
    for i in range(count):
        meta = {
            name: draw(st.one_of(st.none(), st.sampled_from(["x", "y", ["t1"]])))
            for name in query.META_FIELDS
        }
        rows.append(
            {
                "project": draw(st.sampled_from(["p", "q"])),
                "id": f"r{i}",
                "created": draw(st.sampled_from([None, "2026-01-01T10:00:00.123456+00:00"])),
                "code_commit": draw(st.sampled_from([None, "0123456789abcdef" * 2 + "01234567"])),
                "dirty": draw(st.booleans()),
                **meta,
                "config": draw(st.dictionaries(_KEYS, _VALUES, max_size=4)),
                "summary": draw(st.dictionaries(st.sampled_from(["loss", "acc"]), _VALUES)),
            }
        )
    return rows


@settings(max_examples=300)
@given(_rows())
def test_texts_make_the_table_the_whole_rows_make(rows: list[dict[str, Any]]) -> None:
    for per in (1, 2, 3):
        assert _from_texts(rows, per=per) == expected_table(rows)
        # some of the runs, in another order (--where, --sort)
        picked = list(range(len(rows)))[::-2]
        assert _from_texts(rows, picked, per=per) == expected_table([rows[i] for i in picked])


def test_many_runs_are_measured_in_chunks_alike() -> None:
    # past a chunk, in two key sets: a column that differs only in the second chunk, or only
    # between the key sets, is found
    rows = []
    for i in range(4500):
        config = {"same": 1, "late": 2 if i == 4400 else 1, "split": 1 if i % 2 else 1.0}
        if i % 2:
            config["odd"] = "x"
        rows.append({"project": "p", "id": f"r{i:05d}", "created": None, "code_commit": None,
                     "dirty": False, "name": None, "group": None, "job_type": None, "tags": None,
                     "notes": None, "config": config, "summary": {}})  # fmt: skip
    assert _from_texts(rows) == expected_table(rows)
    assert _from_texts(rows).splitlines()[0].split()[-3:] == ["late", "odd", "split"]


def test_negative_zero_counts_as_a_different_value_as_it_prints_differently() -> None:
    rows = [
        {"project": "p", "id": f"r{i}", "created": None, "code_commit": None, "dirty": False,
         "name": None, "group": None, "job_type": None, "tags": None, "notes": None,
         "config": {"x": x, "y": 1}, "summary": {}}
        for i, x in enumerate([0.0, -0.0])
    ]  # fmt: skip
    lines = _from_texts(rows).splitlines()
    assert [line.split()[-1] for line in lines] == ["x", "0.0", "-0.0"]


# -- through the command, with the cache -----------------------------------------------------


def _cli(cwd: Path, *args: str) -> str:
    out = subprocess.run([*GITCFG, *args], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def _cells_keys(repo: Path) -> dict[str, str]:
    with sqlite3.connect(repo / ".git" / "gitcfg" / FILE_NAME) as db:
        rows = db.execute(
            "SELECT blob, value FROM subtrees WHERE blob LIKE ?", ("%" + tablecells._SUFFIX,)
        )
        return dict(rows)


def _picked(repo: Path, *options: str) -> str:
    """The same table through ``--columns`` (rows decoded, cells made one at a time)."""
    header = _cli(repo, "runs", *options).splitlines()[0]
    return _cli(repo, "runs", "--columns", ",".join(header.split()), *options)


def test_the_cached_lines_answer_as_the_decoded_rows(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(30):
        config: dict[str, Any] = {"lr": 0.1 * (i % 3), "seed": i, "model": "m", "n": "32"}
        summary = {"loss": 1 / (i + 1)} if i % 4 else {}
        store.create(f"p{i % 2}", config, run_id=f"r{i:02d}", summary=summary,
                     meta={"group": "g"} if i == 5 else {})  # fmt: skip
    first = _cli(repo, "runs")
    assert _cells_keys(repo), "the first table caches its lines"
    assert _cli(repo, "runs") == first == _picked(repo)
    assert first.splitlines()[0].split() == [
        "id", "project", "created", "code_commit", "group", "lr", "seed", "summary:loss",
    ]  # fmt: skip
    for options in (["--where", "lr>0"], ["--sort", "-seed"], ["--project", "p1"]):
        assert _cli(repo, "runs", *options) == _picked(repo, *options)
    # a run changed: its subtree has a new tree id, so its old lines are never read
    store.update(RunRef("p0", "r00"), {"model": 7})
    changed = _cli(repo, "runs")
    assert "model" in changed.splitlines()[0].split() and changed == _picked(repo)


def test_a_damaged_or_foreign_cache_entry_changes_no_answer(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(12):
        store.create("p", {"lr": i % 2, "x": "same"}, run_id=f"r{i:02d}")
    truth = _cli(repo, "runs")
    cached = _cells_keys(repo)
    with sqlite3.connect(repo / ".git" / "gitcfg" / FILE_NAME) as db:
        for key, value in cached.items():
            # a flipped character (the digest no longer matches), then a text of the wrong shape
            db.execute("UPDATE subtrees SET value = ? WHERE blob = ?", (value[:-1] + "9", key))
    assert _cli(repo, "runs") == truth
    assert _cli(repo, "runs") == truth


def test_a_key_holding_a_separator_makes_no_texts() -> None:
    # gitcfg refuses such keys (in files it reads, too); were one to reach a row, the table
    # would be made from the decoded rows instead
    row = {"project": "p", "id": "r1", "created": None, "code_commit": None, "dirty": False,
           "name": None, "group": None, "job_type": None, "tags": None, "notes": None,
           "config": {"a\x1eb": 1}, "summary": {}}  # fmt: skip
    assert tablecells.run_cells(row, "") is None
    assert tablecells.run_cells({**row, "config": {}, "summary": {"a\x1db": 1}}, "") is None
    assert tablecells.run_cells({**row, "config": {"ab": 1}}, "t\x01") is None
    assert tablecells.run_cells({**row, "config": {"ab": 1}}, "") is not None
    runs = tablecells.Runs()
    odd = ["x", "\x1f", "lr\x1d\x1f", "lr\x1d\x1fonly three\x1ftexts\x1ffor a run"]
    one = tablecells.run_cells({**row, "config": {"ab": 1}}, "")
    assert one is not None
    good = tablecells.subtree_text([one])
    odd += [good.replace("\x1e", "", 1), good[:-2], good + "\x1f"]
    assert not any(runs.add_text(text) for text in odd) and not runs.cells
    assert runs.add_text(good) and len(runs.cells) == 1
    assert tablecells.run_cells({**row, "config": {"ab": 1}, "id": "r\x1f1"}, "") is None


def test_subtrees_made_in_batches_and_read_back_answer_alike(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more subtrees than a batch: the texts are made (from the files' lines, then from the
    # listing's cached rows a batch at a time), then all read back from the cache
    monkeypatch.setattr(listing_module, "_FORK_SUBTREES", 3)
    store = ConfigStore.open()
    for i in range(40):
        summary = {"loss": 1 / (i + 1)} if i % 3 else {}
        store.create(f"p{i % 2}", {"lr": 0.1 * (i % 4), "seed": i}, run_id=f"r{i:02d}",
                     summary=summary)  # fmt: skip
    rows = rows_from_git(store)
    expected = expected_table(rows)
    picked = [r for r in rows if r["config"]["lr"] > 0.15]

    def every_run() -> None:
        with store.listing(None, meta=False) as listing:
            assert "".join(tablecells.table(listing, None, False) or ()) == expected

    for turn in range(3):  # made from the files' lines; cached; made from the cached rows
        if turn < 2:
            every_run()
        with store.listing(None, meta=False) as listing:
            kept = [
                tablecells.sort_key(row.order, row.project, row.id)
                for row in listing.rows
                if json.loads(row.text)["config"]["lr"] > 0.15
            ]
            assert "".join(tablecells.table(listing, kept, False) or ()) == expected_table(picked)
        every_run()
        # the command finds the runs meeting --where a batch of subtrees at a time too
        out = CliRunner().invoke(cli, ["runs", "--where", "lr>0.15"], catch_exceptions=False)
        assert out.exit_code == 0 and out.stdout == expected_table(picked)
        if turn == 1:
            with sqlite3.connect(repo / ".git" / "gitcfg" / FILE_NAME) as db:
                db.execute("DELETE FROM subtrees WHERE blob LIKE ?", ("%" + tablecells._SUFFIX,))


def test_mappings_whose_keys_are_out_of_order_are_shown_the_long_way(repo: Path) -> None:
    # {a, b} and {b, a} are the same value but print differently: such runs make no cells,
    # and the table is made from the decoded rows, hiding the column as it should
    store = ConfigStore.open()
    store.create("p", {"layers": [{"a": 1, "b": 2}], "lr": 1}, run_id="r1")
    store.create("p", {"layers": [{"b": 2, "a": 1}], "lr": 2}, run_id="r2")
    rows = rows_from_git(store)
    assert tablecells.run_cells(rows[1], "") is None
    out = _cli(repo, "runs")
    assert out == expected_table(rows) and out.splitlines()[0].split()[-1] == "lr"
    assert not any("\x01r2" in text for text in _cells_keys(repo).values())


def _row(run_id: str, config: dict[str, Any], **fields: Any) -> dict[str, Any]:
    meta = {name: None for name in query.META_FIELDS}
    base = {"project": "p", "id": run_id, "created": None, "code_commit": None, "dirty": False}
    return {**base, **meta, **fields, "config": config, "summary": {}}


def test_cells_all_runs_of_a_subtree_share_are_kept_once_in_its_figures() -> None:
    rows = [_row(f"r{i}", {"a": "{x} 5%s", "lr": i, "z": "same"}, group="g") for i in range(3)]
    made = [tablecells.run_cells(row, "t") for row in rows]
    text = tablecells.subtree_text(made)  # type: ignore[arg-type]
    header, figures, *flat = text.split("\x1f")
    assert header == "a\x1elr\x1ez\x1d"
    firsts = figures.split("\x1d")[1].split("\x1e")
    # id and lr differ; the project, the empty start time, the group, a and z do not
    assert firsts[:3] == ["", "=p", "=null"] and firsts[-3:] == ["s{x} 5%s", "", "ssame"]
    assert flat[3::4] == ["r0\x1e0\x1e", "r1\x1e1\x1e", "r2\x1e2\x1e"]
    # ... and written into every line (a brace, a per cent sign as they are), as the whole
    # rows make it
    assert _from_texts(rows, per=3) == expected_table(rows)
    assert _from_texts(rows, [2, 0], per=3) == expected_table([rows[2], rows[0]])


def test_a_line_ends_as_the_table_strips_it() -> None:
    # the last column shown differs: a run lacking it has its line end at the column before
    rows = [_row("r0", {"a": 1, "b": "x"}), _row("r1", {"a": 2}), _row("r2", {"a": 2, "b": "y "})]
    rows += [_row("r3", {"a": 1, "b": ""}), _row("r4", {"a": 3, "c": 1})]
    for per in (1, 2, 5):
        assert _from_texts(rows, per=per) == expected_table(rows)
    assert not any(line.endswith(" ") for line in _from_texts(rows, per=5).splitlines())


def test_a_text_of_another_form_is_refused() -> None:
    runs = tablecells.Runs()
    made = [tablecells.run_cells(_row(f"r{i}", {"a": 1, "lr": i}), "t") for i in range(2)]
    good = tablecells.subtree_text(made)  # type: ignore[arg-type]
    header, figures, *flat = good.split("\x1f")
    widths, firsts = figures.split("\x1d")
    cells = firsts.split("\x1e")
    fields, keys = cells[: len(tablecells._FIELDS)], cells[len(tablecells._FIELDS) :]

    def text(header: str = header, firsts: list[str] = cells, flat: list[str] = flat) -> str:
        return "\x1f".join([header, widths + "\x1d" + "\x1e".join(firsts), *flat])

    assert text() == good
    # the form before (#table1): figures of the keys only, every cell of a run kept
    old = [*flat[:3], "r0\x1ep\x1enull\x1enull\x1e\x1e\x1e\x1e\x1e\x1e1\x1e0\x1e"]
    odd = [text(firsts=keys), text(flat=old)]
    odd.append(text(header="lr\x1ea\x1d"))  # keys out of order: cells put in the wrong column
    odd.append(text(firsts=[*fields[:1], "p", *fields[2:], *keys]))  # a field without its mark
    odd.append(text(firsts=[*fields, "x1", *keys[1:]]))  # a letter no value has
    odd.append(text(firsts=["=r0", *fields[1:], *keys]))  # a run holding a cell too many
    assert not any(runs.add_text(one) for one in odd) and not runs.cells
    assert runs.add_text(good) and len(runs.cells) == 2


# -- a cold table made from the files' lines alone (no listing row) ---------------------------


def _edit_branch(repo: Path, tmp_path: Path, edit: Any) -> None:
    """Rewrite files of the store branch by hand: ``edit(path, text)`` gives a file's new
    text, or None to leave it."""
    from tests.conftest import git

    work = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(work), "gitcfg")
    for path in git(work, "ls-files").split():
        text = (work / path).read_text()
        new = edit(path, text)
        if new is not None and new != text:
            (work / path).write_text(new)
    git(work, "commit", "-q", "-am", "hand edit")
    git(repo, "worktree", "remove", str(work))


def _mixed_store(repo: Path, tmp_path: Path) -> ConfigStore:
    """Runs whose files are in the plain form, and others: non-ASCII, nested lists, comments,
    hand-written floats, a meta file with its start time first; some without a summary."""
    store = ConfigStore.open()
    for i in range(40):
        config: dict[str, Any] = {
            "lr": 0.1 * (i % 3),
            "seed": i,
            "tag": "ünï" if i % 5 == 0 else "x",
        }
        config["layers"] = [[1, 2], 3] if i % 7 == 0 else [1, 2]
        summary = {"loss": 1 / (i + 1)} if i % 3 else {}
        meta = {"group": "g"} if i == 4 else {}
        store.create(f"p{i % 2}", config, run_id=f"r{i:02d}", summary=summary, meta=meta)

    def edit(path: str, text: str) -> str | None:
        if path.endswith("r01/config.yaml"):
            return text + "# tuned by hand\n"
        if path.endswith("r02/config.yaml"):
            return text.replace("seed: 2\n", "seed: 2\nwd: 0.10\n")
        if path.endswith("r03/meta.yaml"):
            return "# started by hand\n" + text
        if path.endswith("r05/meta.yaml"):
            started = next(line for line in text.splitlines(True) if line.startswith("started"))
            return started + text.replace(started, "")
        return None

    _edit_branch(repo, tmp_path, edit)
    return store


def _invoke(*args: str) -> str:
    out = CliRunner().invoke(cli, ["runs", *args], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return out.stdout


def _drop_cache(repo: Path) -> None:
    for path in (repo / ".git" / "gitcfg").glob("blobcache*"):
        path.unlink()


def _cached_kinds(repo: Path) -> set[str]:
    """What the cache holds of subtrees: '' (listing rows), '#meta', the table's suffix."""
    with sqlite3.connect(repo / ".git" / "gitcfg" / FILE_NAME) as db:
        keys = [key for (key,) in db.execute("SELECT blob FROM subtrees")]
    return {"#" + key.partition("#")[2] if "#" in key else "" for key in keys}


@pytest.mark.parametrize("fork", [False, True])
def test_a_cold_table_of_plain_and_other_files_answers_as_every_route(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fork: bool
) -> None:
    from gitcfg import forkread

    store = _mixed_store(repo, tmp_path)
    monkeypatch.setattr(listing_module, "_FORK_SUBTREES", 3)
    monkeypatch.setattr(forkread, "can_fork", lambda: fork)
    forks = count_forks(monkeypatch)
    rows = rows_from_git(store)
    truth = expected_table(rows)
    assert {"tag", "wd"} <= set(truth.splitlines()[0].split())
    _drop_cache(repo)
    assert _invoke() == truth  # cold: from the files' lines (the others' JSON)
    assert len(forks) == fork
    # only the table's texts were cached: a listing of rows reads the files again
    assert _cached_kinds(repo) == {tablecells._SUFFIX}
    assert _invoke() == truth  # warm
    options = [
        ["--format", "json"], ["--where", "seed>3"], ["--sort", "-seed"], ["--project", "p1"],
        ["--columns", "id,lr,tag,summary:loss"], ["--group-by", "lr"], ["--format", "csv"],
    ]  # fmt: skip
    for args in options:
        _drop_cache(repo)
        fresh = _invoke(*args)
        _drop_cache(repo)
        _invoke()
        assert _invoke(*args) == fresh, args  # after a cold table, as on a cold cache
        assert _invoke() == truth  # and the table after it
    assert json.loads(_invoke("--format", "json")) == rows


def test_a_cold_table_without_a_cache_answers_alike(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the forked copy's texts go through the cache: without one, its half is read again
    from gitcfg import forkread

    store = _mixed_store(repo, tmp_path)
    monkeypatch.setattr(listing_module, "_FORK_SUBTREES", 3)
    monkeypatch.setattr(forkread, "can_fork", lambda: True)
    truth = expected_table(rows_from_git(store))
    cache_dir = repo / ".git" / "gitcfg"
    shutil.rmtree(cache_dir)
    cache_dir.write_text("not a directory: the cache cannot be opened\n")
    try:
        assert _invoke() == truth
    finally:
        cache_dir.unlink()


@pytest.mark.parametrize("fork", [False, True])
@pytest.mark.parametrize(
    ("text", "problem"),
    [("lr: [1,\n", "is not valid"), ("lr: 1\nlr: 2\n", "is not valid")],
)
def test_a_damaged_file_stops_a_cold_table_and_is_named(
    repo: Path, monkeypatch: pytest.MonkeyPatch, fork: bool, text: str, problem: str
) -> None:
    # the second in the plain form line by line, but a key repeated: the loader's to judge
    from gitcfg import forkread

    store = ConfigStore.open()
    for i in range(12):
        store.create(f"p{i % 2}", {"lr": i}, run_id=f"r{i:02d}")
    tmp_path = repo.parent
    _edit_branch(
        repo, tmp_path, lambda path, old: text if path.endswith("r07/config.yaml") else None
    )
    monkeypatch.setattr(listing_module, "_FORK_SUBTREES", 3)
    monkeypatch.setattr(forkread, "can_fork", lambda: fork)
    _drop_cache(repo)
    for _ in range(2):
        out = CliRunner().invoke(cli, ["runs"])
        assert out.exit_code == 1 and out.stdout == ""
        assert f"{RunRef('p1', 'r07').config_path} {problem}" in out.output
        assert "Traceback" not in out.output


# start times of other kinds than a plain string, as a hand-written meta.yaml may hold
_ODD_STARTS = [None, "", 5, ["x"], "2026-01-01T10:00:00", "2026-01-01T05:00:00.1-05:00"]
_ODD_STARTS += ["a\u2028b", 'q"t\\', "t\x01"]


@settings(max_examples=300)
@given(_rows(), st.sampled_from(_ODD_STARTS), st.integers(0, 7), st.booleans())
def test_texts_of_runs_read_from_git_make_the_table_the_rows_make(
    rows: list[dict[str, Any]], start: Any, split: int, lined: bool
) -> None:
    from gitcfg.flatjson import encode, fast_json
    from gitcfg.listing import ReadRun, _head
    from gitcfg.starttime import start_order
    from gitcfg.yamlcodec import dump_config

    rows[0]["created"] = start
    runs = []
    for row in rows:
        fixed = {name: row[name] for name in ("code_commit", "dirty", *query.META_FIELDS)}
        head = _head({"started": row["created"], **fixed})
        files = [dump_config(row["config"]), dump_config(row["summary"])]
        if lined and None not in map(fast_json, files):  # in the plain form: its lines
            runs.append(ReadRun(row["project"], row["id"], head, *files, True))
        else:
            config, summary = encode(row["config"]), encode(row["summary"])
            runs.append(ReadRun(row["project"], row["id"], head, config, summary, False))
    texts = tablecells.subtree_texts([runs[:split], runs[split:]])
    if None in texts:  # a text holding a separator: the table is made from the rows
        assert any(tablecells.run_cells(row, "") is None for row in rows) or "\x01" in str(start)
        return
    table = tablecells.Runs()
    assert all(table.add_text(text) for text in texts if text is not None)
    table.measure()
    listed = sorted(
        rows, key=lambda r: (start_order(str(r["created"] or "")), r["project"], r["id"])
    )
    assert "".join(table.chunks(None, False)) == expected_table(listed)
