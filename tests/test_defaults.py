"""Defaults files: config-defaults.yaml, --configs, GITCFG_CONFIG_PATHS (or WANDB_CONFIG_PATHS), and
their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest

import gitcfg
from gitcfg.defaults import config_paths, overlay
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401

WANDB_DEFAULTS = """\
# sample config defaults file
epochs:
  desc: Number of epochs to train over
  value: 100
batch_size:
  desc: Size of each mini-batch
  value: 32
wandb_version: 1
_wandb:
  desc: null
  value: {cli_version: 0.16.0}
"""


def test_wandb_config_defaults_file_is_loaded(repo: Path) -> None:
    (repo / "config-defaults.yaml").write_text(WANDB_DEFAULTS)
    gitcfg.init(project="p", id="d").finish()
    assert config_text(repo, "p", "d") == "batch_size: 32\nepochs: 100\n"


def test_plain_defaults_file_and_precedence(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "config-defaults.yaml").write_text("a: 0\nb: 0\nc: 0\nd: 0\nmodel: {depth: 50}\n")
    (repo / "one.yaml").write_text("b: 1\nc: 1\nd: 1\n")
    (repo / "two.yaml").write_text("c: 2\nd: 2\nmodel: resnet\n")
    monkeypatch.setenv("GITCFG_CONFIG_PATHS", "one.yaml, two.yaml")
    gitcfg.init(config={"d": 3}, project="p", id="prec")
    assert gitcfg.config.flat() == {"a": 0, "b": 1, "c": 2, "d": 3, "model": "resnet"}
    gitcfg.config.e = 4  # later updates come last
    gitcfg.finish()
    assert config_text(repo, "p", "prec") == "a: 0\nb: 1\nc: 2\nd: 3\ne: 4\nmodel: resnet\n"


def test_configs_option_in_argv_both_spellings(repo: Path) -> None:
    (repo / "a.yaml").write_text("x: 1\nz: 1\n")
    (repo / "b.yaml").write_text("z: 2\n")
    code = """
        import sys, gitcfg
        gitcfg.init(project="p", id=sys.argv[-1])
        print(sys.argv[1:])
        """
    proc = run_script(repo, code, "--configs", "a.yaml,b.yaml", "r1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "['--configs', 'a.yaml,b.yaml', 'r1']\n"  # left for the script
    proc = run_script(repo, code, "--configs=b.yaml,a.yaml", "r2")
    assert proc.returncode == 0, proc.stderr
    assert config_text(repo, "p", "r1") == "x: 1\nz: 2\n"
    assert config_text(repo, "p", "r2") == "x: 1\nz: 1\n"


def test_config_paths_order(tmp_path: Path) -> None:
    (tmp_path / "config-defaults.yaml").write_text("a: 1\n")
    paths = config_paths(
        ["train.py", "--configs", "c.yaml", "--configs=d.yaml"],
        {"GITCFG_CONFIG_PATHS": "a.yaml,b.yaml"},
        tmp_path,
    )
    names = ["config-defaults.yaml", "a.yaml", "b.yaml", "c.yaml", "d.yaml"]
    assert [p.name for p in paths] == names


def test_wandb_config_paths_honoured_unless_gitcfg_one_is_set(tmp_path: Path) -> None:
    argv = ["train.py", "--configs", "c.yaml"]
    wandb_only = config_paths(argv, {"WANDB_CONFIG_PATHS": "w1.yaml, w2.yaml"}, tmp_path)
    assert [p.name for p in wandb_only] == ["w1.yaml", "w2.yaml", "c.yaml"]
    both = {"GITCFG_CONFIG_PATHS": "g.yaml", "WANDB_CONFIG_PATHS": "w1.yaml"}
    assert [p.name for p in config_paths(argv, both, tmp_path)] == ["g.yaml", "c.yaml"]
    empty = {"GITCFG_CONFIG_PATHS": "", "WANDB_CONFIG_PATHS": "w1.yaml"}
    assert [p.name for p in config_paths(argv, empty, tmp_path)] == ["w1.yaml", "c.yaml"]


def test_wandb_config_paths_layer_in_a_run(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (repo / "config-defaults.yaml").write_text("a: 0\nb: 0\nc: 0\n")
    (repo / "one.yaml").write_text("b: 1\nc: 1\n")
    (repo / "two.yaml").write_text("c: 2\n")
    monkeypatch.setenv("WANDB_CONFIG_PATHS", "one.yaml,two.yaml")
    gitcfg.init(config={"d": 3}, project="p", id="wandbpaths")
    gitcfg.finish()
    assert config_text(repo, "p", "wandbpaths") == "a: 0\nb: 1\nc: 2\nd: 3\n"
    monkeypatch.setenv("GITCFG_CONFIG_PATHS", "two.yaml")  # ours wins: one.yaml is not read
    gitcfg.init(project="p", id="ours")
    gitcfg.finish()
    assert config_text(repo, "p", "ours") == "a: 0\nb: 0\nc: 2\n"


def test_overlay_replaces_groups_and_values() -> None:
    base = {"m.depth": 50, "m.width": 2, "lr": 0.1}
    assert overlay(base, {"m": "resnet"}) == {"lr": 0.1, "m": "resnet"}
    assert overlay(base, {"lr.start": 1}) == {"m.depth": 50, "m.width": 2, "lr.start": 1}
    assert overlay(base, {"m.depth": 18}) == {"m.depth": 18, "m.width": 2, "lr": 0.1}


@pytest.mark.parametrize(
    ("defaults", "env", "words"),
    [
        ("x: !!python/object/apply:os.system ['true']\n", None, "tag !!python/object"),
        ("x: [1\n", None, "config-defaults.yaml: line"),
        ("epochs:\n  desc: how many\n", None, "'desc' but no 'value'"),
        ("a: 1\n", "missing.yaml", "missing.yaml: no such file"),
        ("a: 1\na.b: 2\n", None, "'a'"),
        ("password: hunter2\n", None, "looks like a credential"),
    ],
)
def test_bad_defaults_are_a_clear_error_before_any_commit(
    repo: Path, monkeypatch: pytest.MonkeyPatch, defaults: str, env: str | None, words: str
) -> None:
    (repo / "config-defaults.yaml").write_text(defaults)
    if env is not None:
        monkeypatch.setenv("GITCFG_CONFIG_PATHS", env)
    with pytest.raises(gitcfg.GitcfgError) as info:
        gitcfg.init(project="p")
    assert words in str(info.value)
    assert subjects(repo) == []


def test_missing_configs_file_in_a_script_exits_with_one_error(repo: Path) -> None:
    proc = run_script(repo, "import gitcfg\ngitcfg.init()\n", "--configs", "nope.yaml")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"gitcfg.errors.YamlError: {repo / 'nope.yaml'}: no such file; check the path"
    )
    assert subjects(repo) == []
