"""gitcfg.init / finish / run / config: the wandb.init workflow, in real repositories."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

import gitcfg
from gitcfg import liverun, stores
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401
from tests.conftest import git, make_repo


def test_init_commits_create_at_once(repo: Path) -> None:
    run = gitcfg.init(config={"epochs": 4, "batch_size": 32}, project="mnist", id="abc")
    assert subjects(repo) == ["create mnist/abc (2 keys)"]
    assert config_text(repo, "mnist", "abc") == "batch_size: 32\nepochs: 4\n"
    assert gitcfg.run is run and gitcfg.config is run.config
    assert (run.id, run.project, run.path) == ("abc", "mnist", "mnist/abc")
    assert run.git_path == "gitcfg:mnist/" + "/".join(run.ref.shards) + "/abc/config.yaml"
    run.finish()
    assert subjects(repo) == ["create mnist/abc (2 keys)"]  # nothing changed: no commit
    assert gitcfg.run is None


def test_new_ids_are_eight_base36_characters(repo: Path) -> None:
    run = gitcfg.init()
    assert len(run.id) == 8 and run.id.isalnum() and run.id.lower() == run.id


def test_wandb_config_page_examples(repo: Path) -> None:
    # wandb.init(config={"epochs": 4, "batch_size": 32}) and the reads that follow
    gitcfg.init(config={"epochs": 4, "batch_size": 32}, id="ex1", project="p")
    assert gitcfg.config.epochs == 4
    assert gitcfg.config["batch_size"] == 32
    gitcfg.config.update({"lr": 0.1, "channels": 16})
    parser = argparse.ArgumentParser()
    parser.add_argument("-b", "--batch-size", type=int, default=32)  # same value: fine
    parser.add_argument("--gpu", action="store_true")
    gitcfg.config.update(parser.parse_args(["--gpu"]))
    gitcfg.config.update({"params": {"dropout": 0.2}})
    assert gitcfg.config["params"]["dropout"] == 0.2
    gitcfg.finish()
    assert config_text(repo, "p", "ex1") == (
        "batch_size: 32\nchannels: 16\nepochs: 4\ngpu: true\nlr: 0.1\nparams.dropout: 0.2\n"
    )


def test_config_exclude_and_include_keys(repo: Path) -> None:
    cfg = {"epochs": 4, "batch_size": 32, "data_dir": "/tmp/x"}
    gitcfg.init(config=cfg, project="p", id="ex", config_exclude_keys=["data_dir"]).finish()
    assert config_text(repo, "p", "ex") == "batch_size: 32\nepochs: 4\n"
    gitcfg.init(config=cfg, project="p", id="in", config_include_keys=["epochs"]).finish()
    assert config_text(repo, "p", "in") == "epochs: 4\n"
    with pytest.raises(gitcfg.UsageError, match="not both"):
        gitcfg.init(config=cfg, config_include_keys=["a"], config_exclude_keys=["b"])
    assert len(subjects(repo)) == 2


def test_context_manager_finishes(repo: Path) -> None:
    with gitcfg.init(config={"a": 1}, project="p", id="cm") as run:
        run.config.b = 2
    assert gitcfg.run is None and run.finished
    assert config_text(repo, "p", "cm") == "a: 1\nb: 2\n"
    with pytest.raises(gitcfg.UsageError, match="finished"):
        run.config.c = 3


def test_context_manager_commits_on_error_and_keeps_the_error(repo: Path) -> None:
    with pytest.raises(RuntimeError, match="boom"), gitcfg.init(project="p", id="e") as run:
        run.config.step = 7
        raise RuntimeError("boom")
    assert config_text(repo, "p", "e") == "step: 7\n"


def test_config_before_init_says_to_call_init(repo: Path) -> None:
    assert gitcfg.run is None
    for use in (
        lambda: gitcfg.config.epochs,
        lambda: gitcfg.config["epochs"],
        lambda: gitcfg.config.update({"a": 1}),
        lambda: gitcfg.config.__setitem__("a", 1),
        lambda: "a" in gitcfg.config,
    ):
        with pytest.raises(gitcfg.UsageError) as info:
            use()
        assert "call gitcfg.init() first" in str(info.value)
    gitcfg.init(project="p")
    gitcfg.finish()
    with pytest.raises(gitcfg.UsageError):
        gitcfg.config.x  # noqa: B018


def test_name_notes_tags_go_to_meta(repo: Path) -> None:
    run = gitcfg.init(project="p", id="m", name="baseline", notes="first try", tags=["a", "b"])
    meta = git(repo, "show", f"gitcfg:{run.ref.meta_path}")
    assert "name: baseline\n" in meta and "tags: [a, b]\n" in meta
    assert "notes: 'first try'\n" in meta
    assert (run.name, run.notes, run.tags) == ("baseline", "first try", ("a", "b"))


def test_allow_val_change_on_init(repo: Path) -> None:
    gitcfg.init(config={"lr": 0.1}, project="p", id="v", allow_val_change=True)
    gitcfg.config.lr = 0.2
    gitcfg.finish()
    assert config_text(repo, "p", "v") == "lr: 0.2\n"


def test_second_init_with_reinit_finishes_the_first(repo: Path) -> None:
    first = gitcfg.init(project="p", id="one")
    gitcfg.config.a = 1
    second = gitcfg.init(project="p", id="two", reinit="finish_previous")
    assert first.finished and gitcfg.run is second
    assert config_text(repo, "p", "one") == "a: 1\n"
    third = gitcfg.init(project="p", id="three", reinit=True)  # wandb's older spelling
    assert second.finished and gitcfg.run is third


def test_existing_id_is_refused(repo: Path) -> None:
    gitcfg.init(project="p", id="same").finish()
    with pytest.raises(gitcfg.RunExistsError):
        gitcfg.init(project="p", id="same")
    assert len(subjects(repo)) == 1


def test_project_defaults(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert gitcfg.init().project == "project"  # the repository's directory name
    gitcfg.finish()
    monkeypatch.setenv("GITCFG_PROJECT", "fromenv")
    assert gitcfg.init().project == "fromenv"


def test_store_from_subdirectory_worktree_and_repo_argument(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "src").mkdir()
    monkeypatch.chdir(repo / "src")
    assert gitcfg.init(id="sub").project == "project"
    gitcfg.finish()
    git(repo, "worktree", "add", "-q", str(tmp_path / "wt"), "-b", "feature")
    monkeypatch.chdir(tmp_path / "wt")
    run = gitcfg.init(id="wt")
    assert run.project == "project"  # linked worktrees share the main repository's name
    gitcfg.finish()
    assert run.meta["branch"] == "feature"
    other = make_repo(tmp_path / "other")
    monkeypatch.chdir(tmp_path)
    gitcfg.init(repo=other, project="p", id="r").finish()
    monkeypatch.setenv("GITCFG_REPO", str(other))
    gitcfg.init(project="p", id="env").finish()
    assert subjects(other) == ["create p/env (0 keys)", "create p/r (0 keys)"]
    assert len(subjects(repo)) == 2


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(gitcfg.RepositoryError) as info:
        gitcfg.init(config={"a": 1})
    assert "GITCFG_REPO" in str(info.value) and "git init" in str(info.value)
    assert "\n" not in str(info.value)


def test_one_store_per_repository(repo: Path) -> None:
    gitcfg.init(project="p")
    first = liverun.active_run()
    gitcfg.init(project="p")
    second = liverun.active_run()
    assert first is not None and second is not None and first.store is second.store
    stores.forget_stores()


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"config": 3}, gitcfg.ConfigError, "cannot read a config from a int"),
        ({"config": [1, 2]}, gitcfg.ConfigError, "from a list"),
        ({"config": {"m": object()}}, gitcfg.UnsupportedValueError, "'m'"),
        ({"config": {"a": 1, "a.b": 2}}, gitcfg.KeyCollisionError, "'a'"),
        ({"config": {"api_key": "x"}}, gitcfg.SecretKeyError, "GITCFG_ALLOW_SECRETS"),
        ({"config": "missing.yaml"}, gitcfg.YamlError, "no such file"),
        ({"id": "bad/id"}, gitcfg.InvalidNameError, "invalid run id"),
        ({"tags": "one"}, gitcfg.UsageError, "list of tags"),
    ],
)
def test_bad_input_is_a_clear_error_and_no_commit(
    repo: Path, kwargs: dict[str, object], error: type[Exception], words: str
) -> None:
    gitcfg.init(project="p", id="first").finish()
    with pytest.raises(error) as info:
        gitcfg.init(project="p", **kwargs)  # type: ignore[arg-type]
    assert words in str(info.value)
    assert subjects(repo) == ["create p/first (0 keys)"]


def test_errors_after_init_change_nothing(repo: Path) -> None:
    run = gitcfg.init(config={"lr": 0.1}, project="p", id="x")
    for bad in ({"lr": 0.2}, {"lr.x": 1}, {"token": "s"}, {"v": object()}):
        with pytest.raises(gitcfg.ConfigError):
            gitcfg.config.update(bad)
    run.finish()
    assert subjects(repo) == ["create p/x (1 key)"]


def test_init_from_a_yaml_path(repo: Path) -> None:
    (repo / "config.yaml").write_text("lr: 0.01\nmodel:\n  depth: 50\n")
    gitcfg.init(config="config.yaml", project="p", id="y").finish()
    assert config_text(repo, "p", "y") == "lr: 0.01\nmodel.depth: 50\n"


def test_a_script_records_its_run(repo: Path) -> None:
    proc = run_script(
        repo,
        """
        import gitcfg
        gitcfg.init(config={"epochs": 4}, project="s", id="s1")
        gitcfg.config.lr = 0.1
        print(gitcfg.run.path)
        """,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "s/s1\n", "")
    assert subjects(repo) == ["update s/s1: lr", "create s/s1 (1 key)"]
