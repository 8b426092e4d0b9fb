"""Streaming listings: the same answers as before, a page at a time, memory bounded."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import gitcfg
from gitcfg.layout import RunRef
from gitcfg.listing import CACHE_LEVELS
from gitcfg.provenance import capture
from gitcfg.render import json_list_chunks
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import dump_config
from tests.conftest import git, make_repo
from tests.listinghelpers import count_forks, expected_table, rows_from_git

GITCFG = [sys.executable, "-m", "gitcfg"]


def _row(record: object) -> dict[str, object]:
    from gitcfg.query import run_row

    return run_row(record)  # type: ignore[arg-type]


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GITCFG, *args], cwd=cwd, capture_output=True, text=True)


def _varied_store() -> ConfigStore:
    store = ConfigStore.open()
    values: list[object] = [0.1, float("inf"), float("nan"), "ünï", "no", None, [1, [2, 3]], True]
    for i, item in enumerate(values):
        store.create(f"p{i % 2}", {"lr": 0.01 * i, "x": item, "big": 10**20 + i}, run_id=f"r{i}")
    store.create("p0", {"same": 1}, run_id="twin-a")  # two runs sharing one config blob
    store.create("p1", {"same": 1}, run_id="twin-b")
    return store


def test_json_listing_is_byte_for_byte_the_rows_json(repo: Path) -> None:
    store = _varied_store()
    expected = "".join(json_list_chunks([_row(r) for r in store.runs()]))
    cold = _cli(repo, "runs", "--format", "json")
    warm = _cli(repo, "runs", "--format", "json")
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout == expected
    assert warm.stdout == expected  # from the cache, pasted unparsed
    ids = [row["id"] for row in json.loads(expected.replace("NaN", "null"))]
    assert ids == ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "twin-a", "twin-b"]
    assert _cli(repo, "runs", "--format", "json", "--project", "p1").stdout.count('"id"') == 5


def test_filtered_sorted_and_other_formats_stream_the_same_rows(repo: Path) -> None:
    store = _varied_store()
    rows = [_row(r) for r in store.runs()]
    where = _cli(repo, "runs", "--format", "json", "--where", "lr>0.03")
    assert [r["id"] for r in json.loads(where.stdout.replace("NaN", "null"))] == [
        r["id"]
        for r in rows
        if isinstance(r["config"].get("lr"), float) and r["config"]["lr"] > 0.03
    ]
    by_lr = _cli(repo, "runs", "--format", "csv", "--sort", "-lr", "--columns", "id,lr")
    assert by_lr.stdout.splitlines()[:3] == ["id,lr", "r7,0.07", "r6,0.06"]
    assert by_lr.stdout.splitlines()[-2:] == ["twin-a,", "twin-b,"]  # no lr: last either way
    table = _cli(repo, "runs")
    assert table.stdout.splitlines()[0].split() == [
        "id", "project", "created", "code_commit", "big", "lr", "same", "x",
    ]  # fmt: skip
    assert _cli(repo, "runs", "--format", "yaml").stdout.count("\n- ") == len(rows) - 1
    absent = _cli(repo, "runs", "--sort", "nope")  # an empty column keeps the order
    assert absent.returncode == 0 and absent.stdout == table.stdout and "nope" in absent.stderr


def test_api_runs_is_lazy_and_pages(repo: Path) -> None:
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    for i in range(25):
        store.create("p", {"i": i, "even": i % 2 == 0}, run_id=f"r{i:02d}", provenance=prov)
    api = gitcfg.Api()
    runs = api.runs(per_page=4)
    assert not isinstance(runs, list)
    assert len(runs) == 25
    assert [r.id for r in runs] == [f"r{i:02d}" for i in range(25)]
    assert runs[7].config["i"] == 7
    assert [r.id for r in runs[-2:]] == ["r23", "r24"]
    evens = api.runs(filters={"even": True}, per_page=3)
    assert len(evens) == 13
    assert [r.config["i"] for r in evens][:3] == [0, 2, 4]
    # iterating only the first runs reads only the first pages
    first = next(iter(api.runs(per_page=2)))
    assert first.id == "r00" and first.meta["code_commit"] == prov.code_commit
    with pytest.raises(IndexError):
        runs[25]


def _fast_store(repo: Path, count: int, starts: int = 0) -> None:
    """``count`` runs in one commit through git fast-import, the files as create writes them
    (``starts``: that many start times, each of several runs, if not 0)."""
    prov = capture(ConfigStore.open().code_repo)
    meta = dump_config(prov.as_dict()).encode()
    started = next(line for line in meta.split(b"\n") if line.startswith(b"started: "))
    parts = [b"commit refs/heads/gitcfg\ncommitter t <t@example.com> 0 +0000\ndata 4\nruns\n"]
    for i in range(count):
        ref = RunRef("big", f"run{i:06d}")
        config = {f"param_{k:02d}": k * 0.5 + i for k in range(16)}
        config.update({"model": "resnet", "dataset": f"ds-{i % 7}", "seed": i, "text": "x" * 40})
        text = dump_config(config).encode()
        parts.append(
            b"M 100644 inline %s\ndata %d\n%s\n" % (ref.config_path.encode(), len(text), text)
        )
        # each run its own start time, quoted as create writes it
        at = i % starts if starts else i
        stamped = meta.replace(started, b"started: '2026-01-01T00:00:00.%06d+00:00'" % at)
        parts.append(
            b"M 100644 inline %s\ndata %d\n%s\n" % (ref.meta_path.encode(), len(stamped), stamped)
        )
    subprocess.run(
        ["git", "fast-import", "--quiet"], input=b"".join(parts) + b"\n", cwd=repo, check=True
    )


_MEASURE = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
"""
_API = """
import resource, gitcfg
count = sum(1 for run in gitcfg.Api().runs() if run.config["seed"] >= 0)
print(count, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def _peak_mb(cwd: Path, *args: str) -> int:
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], cwd=cwd, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return int(proc.stdout)


def _listing_peaks(repo: Path, count: int) -> dict[str, int]:
    """Peak RSS (MB) of listing a store of ``count`` runs: cold and warm, and Api().runs()."""
    _fast_store(repo, count)
    gitcfg_bin = shutil.which("gitcfg") or str(Path(sys.executable).parent / "gitcfg")
    cold = _peak_mb(repo, gitcfg_bin, "runs", "--format", "json")
    warm = _peak_mb(repo, gitcfg_bin, "runs", "--format", "json")
    api = subprocess.run([sys.executable, "-c", _API], cwd=repo, capture_output=True, text=True)
    assert api.returncode == 0, api.stderr
    listed, api_mb = map(int, api.stdout.split())
    assert listed == count
    out = subprocess.run(
        [gitcfg_bin, "runs", "--format", "json"], cwd=repo, capture_output=True, check=True
    ).stdout
    assert out.count(b'"project": "big"') == count
    return {"cold": cold, "warm": warm, "api": api_mb}


@pytest.mark.slow
def test_listing_memory_grows_by_the_rows_kept_not_by_parsed_runs(
    repo: Path, tmp_path: Path
) -> None:
    small_repo = tmp_path / "small"
    shutil.copytree(repo, small_repo)
    small = _listing_peaks(small_repo, 5_000)
    big = _listing_peaks(repo, 20_000)
    per_run = {k: (big[k] - small[k]) * 1024 / 15_000 for k in big}
    print(f"\npeak RSS MB at 5,000 runs {small}, at 20,000 {big}; KB per run {per_run}")
    # A run is kept as its row's JSON text (~0.9 KB here) and, for Api().runs(), its meta
    # text; parsed configs are decoded a page at a time. Holding 20,000 parsed runs as dicts
    # (as before) cost ~4 KB a run. The limits leave room for the allocator's moods.
    assert per_run["warm"] < 2.5, per_run
    assert per_run["cold"] < 4, per_run
    assert per_run["api"] < 4, per_run
    assert big["warm"] < 150, big
    assert git(repo, "fsck", "--strict") == ""


def test_rss_helper_is_not_fooled(tmp_path: Path) -> None:
    # The measuring helper reports the child's peak, not the parent's: 200 MB held by a child.
    held = _peak_mb(
        tmp_path,
        sys.executable,
        "-c",
        "x = bytearray(200 << 20); x[::4096] = b'1' * len(x[::4096])",
    )
    assert held >= 200
    assert os.path.exists(tmp_path)


# -- gitcfg runs over the stream answers as the whole rows do ----------------------------------


def _mixed_store() -> ConfigStore:
    store = ConfigStore.open()
    prov = capture(store.code_repo)
    models = ["resnet", "vit", None, "resnet"]
    for i in range(40):
        config: dict[str, object] = {"lr": 10.0 ** -(i % 4), "seed": i, "layers": [i % 3, 8]}
        if models[i % 4] is not None:
            config["model"] = models[i % 4]
        if i % 5 == 0:
            config["extra"] = {"depth": i % 2, "note": "ünï"}
        meta = {"group": f"g{i % 3}", "name": f"run-{i}"} if i % 2 else {}
        summary = {"acc": i / 40, "loss": float("nan") if i == 7 else 1 - i / 40} if i % 3 else {}
        store.create(
            f"p{i % 2}", config, run_id=f"r{i:03d}", provenance=prov, meta=meta, summary=summary
        )
    store.update(RunRef("p1", "r001"), {"lr": 0.5})  # a later version of one run
    return store


_OPTIONS: list[list[str]] = [
    [],
    ["--where", "lr<0.5"],
    ["--where", "model=resnet", "--where", "summary:acc>0.2"],
    ["--sort", "-summary:loss"],
    ["--sort", "model"],
    ["--project", "p1", "--sort", "name"],
    ["--where", "group!=g1", "--sort", "-seed"],
]


@pytest.mark.parametrize("options", _OPTIONS, ids=[" ".join(o) or "all" for o in _OPTIONS])
def test_runs_answers_as_the_query_of_the_whole_rows(repo: Path, options: list[str]) -> None:
    from gitcfg import query
    from gitcfg.override import parse_condition
    from gitcfg.render import csv_text

    store = _mixed_store()
    rows = rows_from_git(store)
    project = options[options.index("--project") + 1] if "--project" in options else None
    rows = [r for r in rows if project is None or r["project"] == project]
    conditions = [parse_condition(options[i + 1]) for i, o in enumerate(options) if o == "--where"]
    rows = query.where(rows, conditions)
    if "--sort" in options:
        key = options[options.index("--sort") + 1]
        rows = query.sort_rows(rows, key.lstrip("-"), descending=key.startswith("-"))
    for _ in range(2):  # cold, then from the cache
        out = _cli(repo, "runs", "--format", "json", *options)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "".join(json_list_chunks(rows))
        csv_out = _cli(repo, "runs", "--format", "csv", *options).stdout
        names = query.default_columns(rows, only_differing=False)
        assert csv_out == csv_text(names, query.table_cells(rows, names)).replace("\r\n", "\n")
        table = _cli(repo, "runs", *options).stdout
        assert table == expected_table(rows)
        assert [line.split()[0] for line in table.splitlines()[1:]] == [r["id"] for r in rows]
        picked = _cli(
            repo, "runs", "--format", "csv", "--columns", "id,model,summary:acc", *options
        )
        picked_names = ["id", "model", "summary:acc"]
        expected = csv_text(picked_names, query.table_cells(rows, picked_names))
        assert picked.stdout == expected.replace("\r\n", "\n")


@pytest.mark.parametrize("column", ["model", "group", "project", "extra.depth"])
def test_group_by_answers_as_the_query_of_the_whole_rows(repo: Path, column: str) -> None:
    from gitcfg import query

    store = _mixed_store()
    rows = rows_from_git(store)
    metrics = query.numeric_summary_keys(rows)
    expected = []
    for group in query.group_stats(rows, column, metrics):
        item: dict[str, object] = {} if group.value is query.MISSING else {column: group.value}
        item["runs"] = group.runs
        item["summary"] = {
            k: dict(zip(("mean", "min", "max"), f, strict=True)) for k, f in group.metrics.items()
        }
        expected.append(item)
    out = _cli(repo, "runs", "--group-by", column, "--format", "json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(json.dumps(expected))
    only = _cli(repo, "runs", "--group-by", column, "--columns", "summary:acc", "--format", "csv")
    assert (
        only.stdout.splitlines()[0]
        == f"{column},runs,mean(summary:acc),min(summary:acc),max(summary:acc)"
    )


def test_a_column_no_run_has_is_empty_and_named_on_stderr(repo: Path) -> None:
    _mixed_store()
    plain = _cli(repo, "runs", "--columns", "id,lr").stdout
    assert _cli(repo, "runs", "--sort", "nope", "--columns", "id,lr").stdout == plain
    out = _cli(repo, "runs", "--columns", "id,nope", "--format", "csv")
    assert out.returncode == 0 and out.stdout.splitlines()[:2] == ["id,nope", "r000,"]
    for args in (["--sort", "-nope"], ["--columns", "id,nope"], ["--group-by", "nope"]):
        out = _cli(repo, "runs", *args)
        assert out.returncode == 0 and out.stdout, out.stderr
        assert out.stderr.startswith("gitcfg: no run listed has column 'nope', so it is empty")
        assert "summary:acc" in out.stderr and out.stderr.count("\n") == 1, out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--columns", "id,lr"],
        ["--columns", "id,lr", "--format", "csv"],
        ["--sort", "lr"],
        ["--sort", "-summary:acc", "--columns", "summary:acc"],
        ["--group-by", "model"],
        ["--group-by", "model", "--format", "json"],
        ["--format", "json"],
        ["--format", "csv"],
        [],
    ],
)
def test_columns_and_sort_over_no_runs_print_what_the_plain_form_prints(
    repo: Path, args: list[str]
) -> None:
    _mixed_store()
    out = _cli(repo, "runs", "--where", "lr=0.7", *args)
    assert out.returncode == 0, out.stderr
    if "json" in args:
        assert (out.stdout, out.stderr) == ("[]\n", "")
    elif "csv" in args:  # the header alone
        assert out.stdout.count("\n") == 1 and out.stderr == ""
    else:
        assert (out.stdout, out.stderr) == ("", "no runs match --where lr=0.7\n")
    # a repository whose store has no run at all yet
    empty = make_repo(repo.parent / "empty")
    out = _cli(empty, "runs", "--columns", "id,lr", "--sort", "summary:acc")
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "no runs\n")
    out = _cli(repo, "runs", "--where", "model=nothing")
    assert out.returncode == 0 and out.stderr == "no runs match --where model=nothing\n"
    out = _cli(empty, "runs", "--where", "model=nothing")  # no run at all: none to match
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "no runs\n")


def _tagged_store() -> ConfigStore:
    store = ConfigStore.open()
    tags: list[list[str] | None] = [["t1", "t2"], ["t1"], ["t2"], None, [], ["2024"]]
    for i, run_tags in enumerate(tags):
        meta = {"tags": run_tags} if run_tags is not None else {}
        store.create("p", {"seed": i}, run_id=f"r{i}", meta=meta)
    return store


_TAG_MATCHES = {
    "tags=t1": ["r0", "r1"],  # membership, as wandb's filters={"tags": "t1"}
    "tags!=t1": ["r2", "r3", "r4", "r5"],  # untagged runs do not hold t1 either
    "tags=[t1, t2]": ["r0"],  # a list is the whole list
    "tags=2024": ["r5"],  # tags are strings: 2024 is the tag "2024"
}


def _tag_ids(repo: Path, condition: str, form: list[str]) -> list[str]:
    out = _cli(repo, "runs", "--where", condition, *form)
    assert out.returncode == 0, out.stderr
    if "json" in form:
        return [r["id"] for r in json.loads(out.stdout)]
    return [line.split(",")[0].split()[0] for line in out.stdout.splitlines()[1:]]


def test_where_tags_matches_membership_cold_and_warm(repo: Path) -> None:
    from gitcfg.blobcache import FILE_NAME

    _tagged_store()
    # the table from the cached cells (rows met a batch of subtrees at a time), and the rows
    # met at once (json; csv and the sorted table take that path too)
    forms = [[], ["--format", "json"], ["--format", "csv", "--columns", "id,tags"]]
    for condition, expected in _TAG_MATCHES.items():
        for form in forms if condition == "tags=t1" else forms[:2]:
            for cache in (repo / ".git" / "gitcfg").glob(FILE_NAME + "*"):
                cache.unlink()
            cold = _tag_ids(repo, condition, form)
            assert (cold, _tag_ids(repo, condition, form)) == (expected, expected), form
    assert _tag_ids(repo, "tags=t1", ["--sort", "-seed"]) == ["r1", "r0"]


# -- the subtree cache ----------------------------------------------------------------------


def _subtree_keys(repo: Path) -> set[str]:
    import sqlite3

    from gitcfg.blobcache import FILE_NAME

    with sqlite3.connect(repo / ".git" / "gitcfg" / FILE_NAME) as db:
        return {key for (key,) in db.execute("SELECT blob FROM subtrees")}


def test_a_new_run_rereads_only_its_own_subtree(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(60):
        store.create("p", {"i": i}, run_id=f"r{i:03d}")
    before = _cli(repo, "runs", "--format", "json").stdout
    cached = _subtree_keys(repo)
    ref, _ = store.create("p", {"i": 60}, run_id="fresh")
    after = _cli(repo, "runs", "--format", "json")
    assert json.loads(after.stdout)[:-1] == json.loads(before)
    assert json.loads(after.stdout)[-1]["id"] == "fresh"
    added = _subtree_keys(repo) - cached
    subtree = "/".join(ref.segments[: CACHE_LEVELS + 1])
    # one subtree changed: its rows and its meta files, under its new tree id
    assert len(added) == 2 and all(k.startswith(subtree + ":") for k in added), added


def test_no_cache_at_all_changes_no_answer(repo: Path) -> None:
    _varied_store()
    truth = _cli(repo, "runs", "--format", "json").stdout
    cache_dir = repo / ".git" / "gitcfg"
    shutil.rmtree(cache_dir)
    cache_dir.write_text("not a directory: the cache cannot be opened\n")
    try:
        assert _cli(repo, "runs", "--format", "json").stdout == truth
        assert [r.ref.id for r in ConfigStore.open().runs()][:2] == ["r0", "r1"]
    finally:
        cache_dir.unlink()


def test_many_cold_listings_at_once_agree(repo: Path) -> None:
    store = ConfigStore.open()
    for i in range(120):
        store.create(f"p{i % 3}", {"i": i, "name": f"x{i}"}, run_id=f"r{i:03d}")
    truth = "".join(json_list_chunks(rows_from_git(store)))
    procs = [
        subprocess.Popen([*GITCFG, "runs", "--format", "json"], cwd=repo, stdout=subprocess.PIPE)
        for _ in range(6)
    ]
    outs = [proc.communicate(timeout=120)[0].decode() for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    assert outs == [truth] * 6
    assert _cli(repo, "runs", "--format", "json").stdout == truth  # whatever they cached


def test_a_damaged_file_is_named_and_never_cached(repo: Path) -> None:
    store = ConfigStore.open()
    ref, _ = store.create("p", {"lr": 0.1}, run_id="good")
    bad = RunRef("p", "bad")
    store.create("p", {"lr": 0.2}, run_id=bad.id)
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], input=b"lr: [1,\n", cwd=repo,
        capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip
    tree_spec = subprocess.run(
        ["git", "ls-tree", "-r", "gitcfg"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.replace(
        next(line.split()[2] for line in git(repo, "ls-tree", "-r", "gitcfg").splitlines()
             if line.endswith(bad.config_path)), blob
    )  # fmt: skip
    _commit_tree(repo, tree_spec)
    for _ in range(2):
        out = _cli(repo, "runs", "--format", "json")
        assert out.returncode == 1 and out.stdout == ""
        assert f"gitcfg:{bad.config_path} is not valid" in out.stderr, out.stderr
    assert ref.id == "good"


def _commit_tree(repo: Path, ls_tree_text: str) -> None:
    """Point the store branch at a commit of the tree listed (``git ls-tree -r`` lines)."""
    env = {**os.environ, "GIT_INDEX_FILE": str(repo / ".git" / "tmp-index")}
    subprocess.run(["git", "update-index", "--index-info"], input=ls_tree_text, text=True,
                   cwd=repo, env=env, check=True)  # fmt: skip
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    parent = git(repo, "rev-parse", "gitcfg").strip()
    commit = git(repo, "commit-tree", tree, "-p", parent, "-m", "hand edit").strip()
    git(repo, "update-ref", "refs/heads/gitcfg", commit)
    os.unlink(env["GIT_INDEX_FILE"])


# -- a cold listing of many subtrees, split with a forked copy -------------------------------


def _drop_cache(repo: Path) -> None:
    for path in (repo / ".git" / "gitcfg").glob("blobcache*"):
        path.unlink()


def test_runs_started_at_once_are_listed_by_project_and_id(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitcfg import forkread

    _fast_store(repo, 2_500, starts=700)  # enough subtrees to split; runs started at once

    def listed() -> list[tuple[str, str, str]]:
        with ConfigStore.open().listing(None) as listing:
            return [(row.order, row.project, row.id) for row in listing.rows]

    found = []
    for fork in (False, True):  # cold in one process, then in two halves
        _drop_cache(repo)
        monkeypatch.setattr(forkread, "can_fork", lambda fork=fork: fork)
        found.append(listed())
    found.append(listed())  # warm
    assert found[0] == found[1] == found[2] == sorted(found[0])
    assert len({order for order, _, _ in found[0]}) == 700
    assert [run_id for _, _, run_id in found[0][:3]] == ["run000000", "run000700", "run001400"]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_listing_split_with_a_forked_copy_answers_as_one_process(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gitcfg import forkread

    _fast_store(repo, 2_500)  # ~1,900 subtrees: enough to split
    forks = count_forks(monkeypatch)

    def listed(*, fork: bool) -> list[Any]:
        _drop_cache(repo)
        monkeypatch.setattr(forkread, "can_fork", lambda: fork)
        with ConfigStore.open().listing(None) as listing:
            return listing.rows

    alone = listed(fork=False)
    assert forks == []
    split = listed(fork=True)
    assert len(forks) == 1
    assert split == alone and len(split) == 2_500
    # both halves were cached: a warm listing reads no file, and answers the same
    cached = {key.partition(":")[0] for key in _subtree_keys(repo)}
    assert {"/".join(r.ref.segments[: CACHE_LEVELS + 1]) for r in split} <= cached
    with ConfigStore.open().listing(None) as listing:
        assert listing.rows == alone
    out = _cli(repo, "runs", "--format", "json")
    assert json.loads(out.stdout) == [row.row() for row in alone]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_damaged_file_in_the_forked_half_is_still_named(repo: Path) -> None:
    _fast_store(repo, 2_500)
    lines = git(repo, "ls-tree", "-r", "gitcfg").splitlines()
    # the last subtree in shard order is in the copy's half
    victim = max(lines, key=lambda line: line.split("\t")[1]).split("\t")[1]
    victim = victim.rsplit("/", 1)[0] + "/config.yaml"
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"], input=b"lr: [1,\n", cwd=repo,
        capture_output=True, check=True,
    ).stdout.decode().strip()  # fmt: skip
    _commit_tree(
        repo,
        "\n".join(
            f"{line.split()[0]} blob {blob}\t{victim}" if line.endswith("\t" + victim) else line
            for line in lines
        )
        + "\n",
    )
    out = _cli(repo, "runs", "--format", "json")
    assert out.returncode == 1 and out.stdout == ""
    assert f"gitcfg:{victim} is not valid" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_listing_that_cannot_fork_reads_everything_itself(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from gitcfg import forkread

    _fast_store(repo, 1_500)  # ~1,250 subtrees: enough to split
    with ConfigStore.open().listing(None) as listing:
        truth = listing.rows
    _drop_cache(repo)

    def no_fork() -> int:  # as fork fails at a process limit
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(forkread, "can_fork", lambda: True)
    monkeypatch.setattr(forkread.os, "fork", no_fork)
    open_before = len(os.listdir("/proc/self/fd"))
    with ConfigStore.open().listing(None) as listing:
        assert listing.rows == truth
    assert len(os.listdir("/proc/self/fd")) <= open_before  # the pipe was closed


@pytest.mark.parametrize(
    "meta",
    [
        "started: '2026-01-01T00:00:00+00:00'\nuser: me\n",
        "started: '2026-01-01T00:00:00.123-05:00'\nuser: me\n",
        "dirty: true\nname: a\nstarted: null\ntags: [x, z]\n",
        "code_commit: abc\ndirty: null\ngroup: g\njob_type: train\nnotes: note\n",
        "host: vm\nname: 'my run'\nstarted: '2026-01-02T00:00:00+00:00'\ntags: []\n",
        "started: 5\n",  # not a start time the fast path takes
        "dirty: 1\n",
    ],
)
def test_a_rows_head_from_meta_text_is_the_head_of_the_parsed_meta(meta: str) -> None:
    from gitcfg.flatjson import fast_json
    from gitcfg.listing import _fast_head, _head

    text = fast_json(meta)
    assert text is not None
    parsed = json.loads(text)
    tails: dict[str, str | None] = {}
    for _ in range(2):  # made, then from what the first call kept
        fast = _fast_head(text, tails)
        if fast is not None:
            assert fast == _head(parsed)
    assert (fast is None) == (meta in ("started: 5\n", "dirty: 1\n"))


_STARTED = "started: '2026-01-01T00:00:00+00:00'\n"


@pytest.mark.parametrize(
    ("meta", "lined"),
    [
        (f"code_commit: abc\ndirty: false\nhost: vm\n{_STARTED}user: me\n", True),
        (f"{_STARTED}user: me\n", True),  # the start time first
        ("host: vm\nstarted: '2026-01-01T00:00:00.123-05:00'\n", True),  # ordered in UTC
        ("host: vm\nuser: me\n", True),  # none
        ("host: vm\nstarted: null\n", True),
        (_STARTED, True),  # nothing else
        ("dirty: true\nname: 'a b'\nstarted: ''\ntags: [x, z]\n", True),
        ("host: vm\nstarted: 5\n", False),  # not a start time the lines tell
        ("host: vm\nstarted: now\n", False),  # a word
        ("host: vm\nstarted: '2026'", False),  # no line end
        (f"host: vm\n{_STARTED}{_STARTED}", False),  # twice: the loader refuses it
        (f"{_STARTED}started.x: 1\n", False),  # a key under the start time
        (f"host: vm  # a comment\n{_STARTED}", False),  # not in the plain form
        (f"host: 'ünï'\n{_STARTED}", False),
        (f"dirty: 1\n{_STARTED}", False),
        (f"notes: |\n  started: 'x'\n{_STARTED}", False),
        ("started: '2026-01-01T00:00:00+00:00' # x\n", False),
    ],
)
def test_a_heads_from_meta_lines_is_the_head_of_the_parsed_meta(meta: str, lined: bool) -> None:
    from gitcfg.errors import YamlError
    from gitcfg.flatjson import fast_json, to_json
    from gitcfg.listing import _fast_head, _head, _line_heads

    try:
        text = to_json(meta, "meta.yaml")
    except YamlError:
        text = None
    # alone, and among others (a chunk's meta files are read together)
    for batch in ([meta], [meta, *[f"host: vm\n{_STARTED}"] * 3]):
        heads = _line_heads(batch)
        assert (heads[0] is not None) == lined and None not in heads[1:]
        if heads[0] is not None:
            # only files fast_json takes: the lines never decide what the loader would
            assert fast_json(meta) is not None and text is not None
            assert heads[0] == (_fast_head(text, {}) or _head(json.loads(text)))
