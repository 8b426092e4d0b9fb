"""Reading is bounded and unreadable values are refused before they are stored (SPEC §4).

A hand-edited or pulled config may hold a "billion laughs" of aliases or nesting deeper than
any config needs; a value may hold lone surrogates that UTF-8 cannot store. Each is one clear
error, quickly, never minutes of work, a MemoryError or a RecursionError.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import gitcfg
from gitcfg.diff import MISSING
from gitcfg.errors import ConfigError, YamlError
from gitcfg.store import ConfigStore
from gitcfg.yamlcodec import MAX_ALIAS_VALUES, load_config, parse_value
from tests.apihelpers import no_active_run  # noqa: F401 (autouse fixture)
from tests.conftest import git

# Nine levels of nine aliases: 387,420,489 values from a few hundred bytes.
LAUGHS = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


def nested(levels: int) -> str:
    return "".join("  " * i + "k:\n" for i in range(levels)) + "  " * levels + "v: 1\n"


def cli(cwd: Path, *args: str | bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gitcfg", *args], cwd=cwd, capture_output=True, timeout=60
    )


def edit_stored_config(repo: Path, tmp_path: Path, text: str) -> None:
    """Replace run p/r1's config.yaml on the store branch by hand, as a user or a pull would."""
    edit = tmp_path / "edit"
    git(repo, "worktree", "add", "-q", str(edit), "gitcfg")
    path = git(edit, "ls-files", "*config.yaml").strip()
    (edit / path).write_text(text)
    git(edit, "commit", "-q", "-am", "hand edit")
    git(repo, "worktree", "remove", str(edit))


def assert_one_line_error(result: subprocess.CompletedProcess[bytes], *needles: str) -> None:
    """Exit 1 and one ``Error:`` line holding each of ``needles``."""
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("Error: ") and err.count("\n") == 1, err
    for needle in needles:
        assert needle in err


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (LAUGHS, "billion laughs"),
        (nested(150), "more than 100 levels"),
        (nested(1000), "nesting depth"),  # libyaml's own limit, said in one line too
        ("a: &a [1, *a]\n", "refers to a mapping or list that holds it"),
    ],
    ids=["billion-laughs", "nested-150", "nested-1000", "self-alias"],
)
def test_show_runs_and_log_refuse_an_unbounded_stored_config(
    repo: Path, tmp_path: Path, text: str, needle: str
) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    edit_stored_config(repo, tmp_path, text)
    for args in (["show", "r1"], ["runs"], ["log", "-p", "r1"]):
        result = cli(repo, *args)
        assert_one_line_error(result, needle)
        assert b"Traceback" not in result.stderr


def test_a_few_aliases_and_merge_keys_still_read(repo: Path, tmp_path: Path) -> None:
    ConfigStore.open().create("p", {"lr": 0.1}, run_id="r1")
    edit_stored_config(
        repo,
        tmp_path,
        "base: &base {lr: 0.1, layers: &l [64, 64]}\nfine: {<<: *base, lr: 0.2}\nsame: *l\n",
    )
    result = cli(repo, "show", "r1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert b'"fine.layers": [\n    64,\n    64\n  ]' in result.stdout


def test_the_codec_refuses_laughs_from_files_and_values() -> None:
    with pytest.raises(YamlError, match="billion laughs"):
        load_config(LAUGHS, "x.yaml")
    flow = "{" + ", ".join(line.replace(": ", ": ", 1) for line in LAUGHS.splitlines()) + "}"
    with pytest.raises(YamlError, match="billion laughs"):
        parse_value(flow)
    # Just under the limit is fine: 9 aliases of a list of MAX_ALIAS_VALUES // 10 values.
    items = ", ".join(["1"] * (MAX_ALIAS_VALUES // 10))
    ok = f"a: &a [{items}]\nb: [{', '.join(['*a'] * 9)}]\n"
    assert len(load_config(ok, "ok.yaml")["b"]) == 9


def test_init_refuses_a_yaml_file_of_laughs(repo: Path, tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(LAUGHS)
    with pytest.raises(YamlError, match="billion laughs"):
        gitcfg.init(config=str(bomb), project="p", id="r1")
    assert git(repo, "branch", "--list", "gitcfg") == ""


def test_init_and_update_refuse_a_lone_surrogate_naming_the_key(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"'data\.path'.*lone surrogate"):
        gitcfg.init(config={"data": {"path": "data_\udcff"}}, project="p", id="r1")
    assert git(repo, "branch", "--list", "gitcfg") == ""  # nothing stored

    run = gitcfg.init(config={"lr": 0.1}, project="p", id="r1")
    with pytest.raises(ConfigError, match=r"'files\[1\]'.*lone surrogate"):
        gitcfg.config.update({"files": ["ok", "bad_\udcff"]})
    run.finish()
    api_run = gitcfg.Api().run("p/r1")
    with pytest.raises(ConfigError, match="lone surrogate"):
        api_run.config["name"] = "x\ud800"
    assert ConfigStore.open().read(api_run.ref).config == {"lr": 0.1}

    # From the command line: a non-UTF-8 byte in an argument arrives as a lone surrogate.
    before = git(repo, "rev-parse", "gitcfg")
    # The YAML reader of KEY=VALUE already refuses it: a usage error naming the argument.
    result = cli(repo, "update", "r1", b"name='data_\xff'")
    err = result.stderr.decode()
    assert result.returncode == 2 and err.count("\n") == 1, err
    assert err.startswith("Error: \"name='data_\\udcff'\"") and "Traceback" not in err
    assert git(repo, "rev-parse", "gitcfg") == before
    # A fresh clone reads every run.
    clone = repo.parent / "clone"
    git(repo.parent, "clone", "-q", str(repo), str(clone))
    git(clone, "fetch", "-q", "origin", "gitcfg:gitcfg")
    listed = cli(clone, "runs", "--format", "json")
    assert listed.returncode == 0 and b'"r1"' in listed.stdout


def test_deep_or_cyclic_values_are_a_config_error_not_a_recursion_error(repo: Path) -> None:
    deep: dict[str, object] = {"v": 1}
    for _ in range(1000):
        deep = {"k": deep}
    with pytest.raises(ConfigError, match="more than 100 levels"):
        gitcfg.init(config={"model": deep}, project="p", id="r1")
    loop: list[object] = []
    loop.append(loop)
    with pytest.raises(ConfigError, match="more than 100 levels"):
        gitcfg.init(config={"loop": loop}, project="p", id="r1")
    assert git(repo, "branch", "--list", "gitcfg") == ""


def test_non_utf8_command_line_is_kept_readable_in_meta(repo: Path) -> None:
    script = repo / "train.py"
    script.write_text(
        "import gitcfg\ngitcfg.init(config={'lr': 1}, project='p', id='r1').finish()\n"
    )
    git(repo, "commit", "-qam", "train")
    proc = subprocess.run(
        [sys.executable, "train.py", b"--out=\xffdir"], cwd=repo, capture_output=True
    )
    assert proc.returncode == 0, proc.stderr
    meta = ConfigStore.open().runs()[0].meta
    assert meta["command"] == "train.py '--out=\ufffddir'"
    assert os.fsencode("\udcff") == b"\xff"  # what argv held: a lone surrogate


def hand_commit(repo: Path, tmp_path: Path, path: str, text: str | None, message: str) -> None:
    """Write (None: delete) ``path`` on the store branch by hand, in a commit of its own."""
    edit = tmp_path / "hand"
    git(repo, "worktree", "add", "-q", str(edit), "gitcfg")
    if text is None:
        git(edit, "rm", "-rq", path)
    else:
        (edit / path).write_text(text)
        git(edit, "add", path)
    git(edit, "commit", "-qm", message)
    git(repo, "worktree", "remove", str(edit))


def ok(result: subprocess.CompletedProcess[bytes]) -> str:
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr
    return result.stdout.decode()


def versions_by_subject(entries: str) -> dict[str, list[str]]:
    """``gitcfg log`` output as {subject: the lines below it}."""
    found: dict[str, list[str]] = {}
    lines: list[str] = []
    for line in entries.splitlines():
        if not line.startswith(" "):
            lines = found.setdefault(line.split("  ", 1)[1], [])
        else:
            lines.append(line.strip())
    return found


def test_an_invalid_config_fixed_later_does_not_stop_log_or_report(
    repo: Path, tmp_path: Path
) -> None:
    store = ConfigStore.open()
    r1, _ = store.create("p", {"lr": 0.1}, run_id="r1")
    store.create("p", {"lr": 0.5}, run_id="r2")
    store.update(r1, {"lr": 0.2}, message="lr 0.2")
    hand_commit(repo, tmp_path, r1.config_path, "lr: [0.3\n", "broken by hand")
    hand_commit(repo, tmp_path, r1.config_path, "lr: 0.3\nbs: 4\n", "fixed by hand")

    own = versions_by_subject(ok(cli(repo, "log", "-p", "r1")))
    assert own["broken by hand"] == ["config.yaml not valid YAML at this version"]
    assert own["fixed by hand"] == ["+ bs: 4", "~ lr: 0.2 -> 0.3"]  # with the last good one
    assert own["lr 0.2"] == ["~ lr: 0.1 -> 0.2"]
    short = versions_by_subject(ok(cli(repo, "log", "r1")))
    assert short["broken by hand"] == ["config.yaml not valid YAML at this version"]
    assert short["fixed by hand"] == ["changed: lr; added: bs"]
    every = versions_by_subject(ok(cli(repo, "log")))
    assert every["broken by hand"] == ["p/r1", "config.yaml not valid YAML at this version"]
    assert every["fixed by hand"] == ["p/r1", "changed: lr; added: bs"]
    assert ok(cli(repo, "log", "r1~1")).startswith(ok(cli(repo, "log", "r1")).split("\n", 3)[2])

    # Only what must be shown is refused: the unreadable version itself.
    assert_one_line_error(cli(repo, "show", "r1~1"), "config.yaml is not valid YAML")
    assert ok(cli(repo, "show", "r1~2")) == "lr: 0.2\n"
    assert ok(cli(repo, "path", "r1~1")).endswith(f":{r1.config_path}\n")

    for where in ((), ("--where", "lr=0.5")):
        ok(cli(repo, "report", "-o", str(tmp_path / "x.html"), *where))
        assert (tmp_path / "x.html").is_file()
    from gitcfg.report.histories import run_histories

    history = run_histories(ConfigStore.open())[r1.config_path].versions
    assert [(v.subject, v.invalid) for v in history] == [
        ("fixed by hand", False),
        ("broken by hand", True),
        ("lr 0.2", False),
        (history[-1].subject, False),
    ]
    assert [(c.key, c.old, c.new) for c in history[0].changes] == [
        ("bs", MISSING, 4),
        ("lr", 0.2, 0.3),
    ]


def test_a_run_deleted_after_an_invalid_config_does_not_stop_log_or_report(
    repo: Path, tmp_path: Path
) -> None:
    store = ConfigStore.open()
    r1, _ = store.create("p", {"lr": 0.1}, run_id="r1")
    store.create("p", {"lr": 0.5}, run_id="r2")
    store.update_summary(r1, {"acc": 0.9})
    hand_commit(repo, tmp_path, r1.summary_path, "acc: {0.9\n", "summary broken by hand")
    hand_commit(repo, tmp_path, r1.config_path, "lr: [0.3\n", "config broken by hand")
    hand_commit(repo, tmp_path, r1.directory, None, "deleted by hand")

    every = versions_by_subject(ok(cli(repo, "log", "-p")))
    assert every["summary broken by hand"] == [
        "p/r1",
        "summary.yaml not valid YAML at this version",
    ]
    assert every["config broken by hand"] == ["p/r1", "config.yaml not valid YAML at this version"]
    assert every["deleted by hand"] == ["p/r1", "- lr: 0.1", "- summary:acc: 0.9"]  # last readable
    ok(cli(repo, "report", "-o", str(tmp_path / "x.html"), "--where", "lr=0.5"))
    assert b"config.yaml not valid YAML" in (tmp_path / "x.html").read_bytes()

    # The run as it is now is still refused when a command must show it.
    r3, _ = store.create("p", {"lr": 0.7}, run_id="r3")
    hand_commit(repo, tmp_path, r3.config_path, "lr: [0.3\n", "r3 broken by hand")
    for args in (["log", "r3"], ["show", "r3"]):
        assert_one_line_error(cli(repo, *args), f"{r3.config_path} is not valid")
