"""wandb's run surface: init keywords, WANDB_* variables, run attributes, no-op names."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import gitcfg
from gitcfg.flat import is_masked, is_secret
from gitcfg.layout import RunRef
from gitcfg.stores import open_store
from tests.apihelpers import config_text, no_active_run, run_script, subjects  # noqa: F401
from tests.conftest import git


def test_every_wandb_init_keyword_is_accepted(repo: Path, tmp_path: Path) -> None:
    run = gitcfg.init(
        config={"lr": 0.1},
        entity="someone",
        project="p",
        dir=str(tmp_path / "files"),
        id="r1",
        name="baseline",
        notes="first try",
        tags=["a", "b"],
        config_exclude_keys=None,
        config_include_keys=None,
        allow_val_change=False,
        group="exp1",
        job_type="train",
        mode="online",
        force=True,
        anonymous="never",
        reinit=True,
        resume=None,
        resume_from=None,
        fork_from=None,
        save_code=True,
        tensorboard=False,
        sync_tensorboard=False,
        monitor_gym=False,
        settings={"silent": True},
        magic=True,
    )
    assert (run.id, run.name, run.project, run.group, run.job_type) == (
        "r1",
        "baseline",
        "p",
        "exp1",
        "train",
    )
    assert run.tags == ("a", "b") and run.notes == "first try" and run.entity == "someone"
    assert run.dir == str(tmp_path / "files") and Path(run.dir).is_dir()
    assert run.url == "gitcfg show p/r1" and run.sweep_id is None
    meta = open_store().read(RunRef("p", "r1")).meta
    assert {k: meta[k] for k in ("name", "notes", "tags", "group", "job_type")} == {
        "name": "baseline",
        "notes": "first try",
        "tags": ["a", "b"],
        "group": "exp1",
        "job_type": "train",
    }
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        gitcfg.init(colour="red")  # type: ignore[call-arg]


def test_tags_are_a_tuple_as_in_wandb_and_take_a_list_or_tuple(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r", tags=["a"])
    run.tags = run.tags + ("b",)  # noqa: RUF005 -- the wandb idiom under test
    run.tags += ("c",)
    assert run.tags == ("a", "b", "c")
    tip = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(gitcfg.UsageError, match=r"pass a list or tuple: tags=\['d'\]"):
        run.tags = "d"  # not split into letters
    assert run.tags == ("a", "b", "c") and git(repo, "rev-parse", "gitcfg") == tip
    run.finish()
    assert "tags: [a, b, c]\n" in git(repo, "show", f"gitcfg:{run.ref.meta_path}")


def test_api_tags_are_a_list_whose_edits_update_commits(repo: Path) -> None:
    gitcfg.init(project="p", id="r", tags=("a",)).finish()
    gitcfg.init(project="p", id="untagged").finish()
    stored = gitcfg.Api().run("p/r")
    stored.tags.append("best")  # wandb's public API idiom
    assert stored.update() is not None and stored.update() is None
    stored.tags = ("x", "y")
    stored.update()
    assert gitcfg.Api().run("p/r").tags == ["x", "y"]
    untagged = gitcfg.Api().run("p/untagged")
    assert untagged.tags == [] and untagged.update() is None  # reading them is no change
    assert subjects(repo)[:2] == ["update p/r: meta:tags", "update p/r: meta:tags"]


def test_name_notes_and_tags_are_settable_and_committed_at_the_flush(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    run.name = "renamed"
    run.notes = "it diverged"
    run.tags = ["bad"]
    run.finish()
    assert subjects(repo)[0] == "update p/r: meta:name, meta:notes, meta:tags"
    meta = gitcfg.Api().run("p/r").meta
    assert (meta["name"], meta["notes"], meta["tags"]) == ("renamed", "it diverged", ["bad"])
    out = subprocess.run(
        [sys.executable, "-m", "gitcfg", "runs", "--columns", "id,name,notes,tags"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.splitlines()[1].split(None, 2) == ["r", "renamed", "it diverged  [bad]"]


def test_wandb_variables_choose_the_run_when_no_gitcfg_one_is_set(repo: Path) -> None:
    env = {
        "WANDB_PROJECT": "wp",
        "WANDB_RUN_GROUP": "wg",
        "WANDB_JOB_TYPE": "eval",
        "WANDB_TAGS": "x, y",
        "WANDB_NOTES": "from env",
        "WANDB_NAME": "envname",
        "WANDB_RUN_ID": "wid",
        "GITCFG_RUN_GROUP": "gg",
    }
    code = (
        "import gitcfg\nr = gitcfg.init()\n"
        "print(r.path, r.group, r.job_type, r.tags, r.notes, r.name)\n"
    )
    proc = run_script(repo, code, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "wp/wid gg eval ('x', 'y') from env envname\n"
    proc = run_script(repo, code, env={"WANDB_MODE": "disabled"})
    assert proc.returncode == 0, proc.stderr
    assert subjects(repo) == ["create wp/wid (0 keys)"]  # disabled: nothing recorded


def test_disabled_mode_records_nothing_and_the_run_works(repo: Path, tmp_path: Path) -> None:
    run = gitcfg.init(config={"lr": 0.1}, project="p", mode="disabled")
    gitcfg.config.epochs = 3
    gitcfg.log({"loss": 0.5})
    run.summary["best"] = 0.4
    run.define_metric("acc", summary="max")
    assert run.disabled and gitcfg.config.lr == 0.1 and gitcfg.summary["loss"] == 0.5
    assert Path(run.dir).is_dir()
    run.finish()
    assert subjects(repo) == []
    assert not (repo / ".git" / "gitcfg" / "history").exists()
    # outside any git repository too
    outside = tmp_path / "plain"
    outside.mkdir()
    proc = run_script(
        outside,
        "import gitcfg\nr = gitcfg.init(config={'a': 1}, mode='disabled')\n"
        "gitcfg.log({'x': 1})\nprint(dict(r.config), r.summary['x'])\n",
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "{'a': 1} 1\n"


def test_empty_project_falls_back_to_the_default(repo: Path) -> None:
    # older timm: project=args.experiment, whose default is ''
    run = gitcfg.init(project="", id="r")
    assert run.project == repo.name
    run.finish()


def test_masked_secret_values_are_not_secrets(repo: Path) -> None:
    assert all(is_masked(v) for v in ("<HUB_TOKEN>", "***", "", "  ", None, True, "<PUSH_TOKEN>"))
    assert not any(is_masked(v) for v in ("hf_abc123", "<a>b", "x***", 0))
    assert is_secret("hub_token", "hf_abc") and not is_secret("hub_token", "<HUB_TOKEN>")
    # TrainingArguments.to_dict() holds hub_token: "<HUB_TOKEN>"
    run = gitcfg.init(
        config={"hub_token": "<HUB_TOKEN>", "push_to_hub_token": None, "api_key": "***"},
        project="p",
        id="r",
    )
    run.config.update({"db_password": ""})
    with pytest.raises(gitcfg.SecretKeyError):
        run.config.update({"hf_token": "hf_realvalue"})
    run.finish()
    assert config_text(repo, "p", "r") == (
        "api_key: '***'\ndb_password: ''\nhub_token: '<HUB_TOKEN>'\npush_to_hub_token: null\n"
    )
    with pytest.raises(gitcfg.SecretKeyError):
        gitcfg.init(config={"hub_token": "hf_realvalue"}, project="p")


def test_wandb_only_names_are_no_ops_that_warn_once(repo: Path) -> None:
    run = gitcfg.init(project="p", id="r")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gitcfg.watch(object(), log="all", log_freq=10)
        gitcfg.watch(object())
        image = gitcfg.Image([[0]], caption="x")
        table = gitcfg.Table(columns=["a"], data=[[1]])
        table.add_data(2)
        artifact = gitcfg.Artifact("model", type="model")
        artifact.add_file("model.pt")
        run.log_artifact(artifact)
        run.watch(object())
        assert gitcfg.login() is True
        gitcfg.save("*.pt")
        gitcfg.alert(title="t", text="x", level=gitcfg.AlertLevel.WARN)
        gitcfg.plot.line(table, "a", "b")
        used = run.use_artifact("data:latest")
        used.download()
        run.log({"image": image, "hist": gitcfg.Histogram([1, 2]), "loss": 0.5})
    names = sorted(
        {
            str(w.message).split("wandb's ")[1].split(" ")[0]
            for w in caught
            if "wandb's" in str(w.message)
        }
    )
    assert names == sorted(
        [
            "watch",
            "Image",
            "Table",
            "Artifact",
            "log_artifact",
            "login",
            "save",
            "alert",
            "AlertLevel",
            "plot",
            "use_artifact",
            "Histogram",
        ]
    )
    assert sum("wandb's watch" in str(w.message) for w in caught) == 1  # once, not per call
    assert all(Path(w.filename).name == "test_wandb_surface.py" for w in caught)
    with pytest.raises(AttributeError, match="has no attribute 'not_a_wandb_name'"):
        gitcfg.not_a_wandb_name  # noqa: B018
    with pytest.raises(AttributeError):
        run.not_a_run_method  # noqa: B018
    assert "watch" not in gitcfg.__all__ and "Image" not in gitcfg.__all__
    assert gitcfg.Error is gitcfg.GitcfgError
    run.finish()
    assert open_store().read(RunRef("p", "r")).summary == {"loss": 0.5}
    git(repo, "fsck", "--strict")


def test_wandb_error_names_are_served_and_catch_gitcfg_errors(repo: Path, tmp_path: Path) -> None:
    # gitcfg.errors is gitcfg's own module, so wandb.errors.X must be found in it: an except
    # clause naming a missing one raises AttributeError when an error reaches it
    outside = tmp_path / "plain"
    outside.mkdir()
    code = """
        import gitcfg as wandb
        try:
            wandb.init(project="p")
        except wandb.errors.CommError:
            print("no server")
        except (wandb.errors.UsageError, wandb.errors.UnsupportedError):
            print("usage")
        except wandb.errors.Error as error:
            print(type(error).__name__, error.message == str(error))
        print(wandb.CommError is wandb.errors.CommError, wandb.Error is wandb.errors.Error)
    """
    proc = run_script(outside, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "RepositoryError True\nTrue True\n"
    errors = gitcfg.errors
    assert errors.Error is gitcfg.GitcfgError and errors.UsageError is gitcfg.UsageError
    assert errors.CommError is gitcfg.RemoteError  # push/pull failing to reach a remote
    assert issubclass(errors.AuthenticationError, errors.CommError)
    assert issubclass(errors.UnsupportedError, gitcfg.UsageError)
    assert issubclass(errors.WandbCoreNotAvailableError, gitcfg.GitcfgError)
    assert not {"CommError", "Error", "AuthenticationError"} & set(gitcfg.__all__)


def test_run_config_and_summary_cannot_be_replaced_and_the_run_records_on(repo: Path) -> None:
    # wandb's run.config has no setter: the assignment fails at once and nothing is lost
    with gitcfg.init(project="p", id="r", config={"lr": 0.1}) as run:
        config, summary = run.config, run.summary
        with pytest.raises(AttributeError, match=r"run\.config\.update\(\{\.\.\.\}\)"):
            run.config = {"model": {"depth": 3}}  # type: ignore[assignment]
        with pytest.raises(AttributeError, match=r"run\.summary\[key\] = value"):
            run.summary = {"best": 0}  # type: ignore[assignment]
        assert run.config is config is gitcfg.config and run.summary is summary
        run.config.update({"model": {"depth": 3}})
        run.log({"loss": 0.5})
        run.summary["best"] = 1
    record = open_store().read(RunRef("p", "r"))
    assert record.config == {"lr": 0.1, "model.depth": 3}
    assert record.summary == {"best": 1, "loss": 0.5}
    assert "exit_status" not in record.meta  # it ended well
    assert subjects(repo) == [
        "update p/r: model.depth, summary:best, summary:loss",
        "create p/r (1 key)",
    ]


def test_wandb_util_gives_the_values_scripts_go_on_to_use(repo: Path, tmp_path: Path) -> None:
    # The usual resumable script: an id made once, kept in a file, given back on restart.
    code = """
        import os, sys
        import gitcfg as wandb
        path = os.path.join(sys.argv[1], "run_id.txt")
        if os.path.exists(path):
            run_id = open(path).read()
        else:
            run_id = wandb.util.generate_id()
            open(path, "w").write(run_id)
        run = wandb.init(project="p", id=run_id, resume="allow")
        print(run.id == run_id, run.resumed, f"ckpt/{run_id}" != "ckpt/")
        run.finish()
    """
    first = run_script(repo, code, str(tmp_path))
    again = run_script(repo, code, str(tmp_path))
    assert (first.returncode, again.returncode) == (0, 0), first.stderr + again.stderr
    assert (first.stdout, again.stdout) == ("True False True\n", "True True True\n")
    run_id = (tmp_path / "run_id.txt").read_text()
    assert re.fullmatch(r"[0-9a-z]{8}", run_id) and subjects(repo) == [
        f"create p/{run_id} (0 keys)"
    ]
    util = gitcfg.util
    ids = {util.generate_id() for _ in range(100)}
    assert len(ids) == 100 and all(re.fullmatch(r"[0-9a-z]{8}", i) for i in ids)
    assert re.fullmatch(r"[0-9a-z]{16}", util.generate_id(length=16))
    assert re.fullmatch(r"[0-9a-z]{4}", util.random_string(4))
    assert util.make_artifact_name_safe("run 1/model:v") == "run_1_model_v"
    long = util.make_artifact_name_safe("a" * 100 + "/" + "b" * 100)
    assert long == "a" * 63 + ".." + "b" * 63
    assert util.get_module("json") is json and util.get_module("no_such_module_x") is None
    with pytest.raises(gitcfg.errors.Error, match=r"^install no_such_module_x$"):
        util.get_module("no_such_module_x", required="install no_such_module_x")
    assert util.get_optional_module("no_such_module_x") is None
    assert util.to_forward_slash_path("a/b") == "a/b"
    util.mkdir_exists_ok(tmp_path / "made" / "deep")
    util.mkdir_exists_ok(tmp_path / "made" / "deep")
    assert (tmp_path / "made" / "deep").is_dir()
    with pytest.warns(UserWarning, match="wandb's util.json_friendly has no effect"):
        assert not util.json_friendly(3)  # a name without a value to give stays a no-op


def test_a_run_without_a_name_is_named_by_its_id(repo: Path, tmp_path: Path) -> None:
    # wandb names every run, so scripts build paths from the name: os.path.join(out, run.name)
    first = gitcfg.init(project="p")
    assert first.name == first.id and first.settings.run_name == first.id
    checkpoint = Path(tmp_path, first.name, "model.pt")
    first.finish()
    second = gitcfg.init(project="p", name="baseline")
    assert second.name == "baseline"
    second.name = None  # type: ignore[assignment]
    assert second.name == second.id != first.id
    second.finish()
    assert checkpoint.parent.name == first.id
    assert gitcfg.Api().run(first.path).name == first.id
    # the default is not recorded: meta.yaml and the listing show only names that were given
    assert "name" not in open_store().read(first.ref).meta
    out = subprocess.run(
        [sys.executable, "-m", "gitcfg", "runs", "--format", "json", "--columns", "id,name"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert {(r["id"], r["name"]) for r in json.loads(out)} == {
        (first.id, None),
        (second.id, None),
    }
    disabled = gitcfg.init(project="p", mode="disabled")
    assert disabled.name == disabled.id
    disabled.finish()


def test_init_makes_a_script_assigned_wandb_config_follow_the_run(repo: Path) -> None:
    # a script's own wandb.config = {...} (and wandb.run = None after a failed init) is a
    # module global, which hid the run's config for good: init rebinds them, as wandb's does
    code = """
        import gitcfg as wandb
        wandb.config = {"lr": 0.1}
        wandb.run = None
        run = wandb.init(project="p", id="a", config={"seed": 1})
        wandb.config["b"] = 2
        wandb.summary["acc"] = 0.9
        print(wandb.config is run.config, wandb.summary is run.summary, wandb.run is run)
        wandb.finish()
    """
    proc = run_script(repo, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "True True True\n"
    record = open_store().read(RunRef("p", "a"))
    assert (record.config, record.summary) == ({"b": 2, "lr": 0.1, "seed": 1}, {"acc": 0.9})


def test_assigning_wandb_config_records_its_values_as_the_old_quickstart_meant(
    repo: Path,
) -> None:
    code = """
        import gitcfg as wandb
        try:
            wandb.summary = {"acc": 0.5}  # before init: no run to hold it
        except wandb.UsageError as error:
            print(error)
        wandb.config = {"lr": 0.1, "epochs": 2}  # before init: the run's, beneath config=
        wandb.config["epochs"] = 3  # a plain dict until init
        wandb.init(project="p", id="a", config={"epochs": 4, "seed": 1})
        wandb.finish()
        # wandb's old quickstart: init, then "capture a dictionary of hyperparameters"
        run = wandb.init(project="p", id="q", config={"lr": 1.0})
        wandb.config = {"lr": 0.001, "epochs": 100, "batch_size": 128}
        print(wandb.config is run.config, wandb.config.lr, wandb.config["epochs"])
        wandb.config = wandb.config
        wandb.summary = {"acc": 0.9}
        wandb.log({"loss": 0.5})
        wandb.finish()
    """
    proc = run_script(repo, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "there is no active run; call gitcfg.init() first, then use gitcfg.summary\n"
        "True 0.001 100\n"
    )
    store = open_store()
    assert store.read(RunRef("p", "a")).config == {"epochs": 4, "lr": 0.1, "seed": 1}
    record = store.read(RunRef("p", "q"))
    assert record.config == {"batch_size": 128, "epochs": 100, "lr": 0.001}
    assert record.summary == {"acc": 0.9, "loss": 0.5}
    run = gitcfg.init(project="p", id="r")
    with pytest.raises(gitcfg.ConfigError, match="'model'"):  # checked as config.update is
        gitcfg.config = {"model": object(), "lr": 0.1}
    assert gitcfg.config is run.config and dict(run.config) == {}  # all or nothing
    run.finish()
