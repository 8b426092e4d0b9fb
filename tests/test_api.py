"""gitcfg.Api: read, filter and edit past runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import gitcfg
from gitcfg.store import ConfigStore
from tests.apihelpers import config_text, no_active_run, subjects  # noqa: F401
from tests.conftest import git


@pytest.fixture
def three_runs(repo: Path) -> ConfigStore:
    store = ConfigStore.open()
    store.create("mnist", {"lr": 0.1, "model": "resnet", "epochs": 10}, run_id="aaaa1111")
    store.create("mnist", {"lr": 0.01, "model": "vit", "epochs": 5}, run_id="bbbb2222")
    store.create("cifar", {"lr": 0.001, "model": "resnet"}, run_id="cccc3333")
    return store


def test_wandb_api_example_edits_a_past_run(repo: Path, three_runs: ConfigStore) -> None:
    run = gitcfg.Api().run("mnist/aaaa1111")
    run.config["foo"] = 32
    commit = run.update()
    assert commit == git(repo, "rev-parse", "gitcfg").strip()
    assert config_text(repo, "mnist", "aaaa1111") == "epochs: 10\nfoo: 32\nlr: 0.1\nmodel: resnet\n"
    assert subjects(repo)[0] == "update mnist/aaaa1111: foo"
    assert run.update() is None  # nothing new: no commit
    assert len(subjects(repo)) == 4


def test_run_by_id_prefix_and_attributes(three_runs: ConfigStore) -> None:
    api = gitcfg.Api()
    run = api.run("bbbb")
    assert (run.id, run.project, run.path) == ("bbbb2222", "mnist", "mnist/bbbb2222")
    assert run.config.model == "vit" and run.config["lr"] == 0.01
    assert run.git_path == three_runs.path(run.ref)
    assert run.code.code_commit == git(three_runs.repo.cwd, "rev-parse", "HEAD").strip()
    assert run.code.branch == "main" and run.code.dirty is False
    assert run.meta["python"] and run.created
    with pytest.raises(gitcfg.RunNotFoundError):
        api.run("zzzz")


def test_api_config_has_no_value_lock_and_tracks_unsets(
    repo: Path, three_runs: ConfigStore
) -> None:
    run = gitcfg.Api().run("cccc3333")
    run.config.lr = 0.5
    del run.config.model
    run.config.update({"sched": {"warmup": 100}})
    run.update(message="retune")
    assert config_text(repo, "cifar", "cccc3333") == "lr: 0.5\nsched.warmup: 100\n"
    assert subjects(repo)[0] == "retune"


def test_concurrent_edits_other_keys_kept_same_key_conflicts(
    repo: Path, three_runs: ConfigStore
) -> None:
    mine = gitcfg.Api().run("aaaa1111")
    theirs = ConfigStore.open()  # a second store object, as another process would have
    theirs.update(three_runs.resolve("aaaa1111").ref, {"epochs": 20}, message="theirs")
    mine.config.lr = 0.2
    mine.update()
    assert config_text(repo, "mnist", "aaaa1111") == "epochs: 20\nlr: 0.2\nmodel: resnet\n"
    stale = gitcfg.Api().run("aaaa1111")
    theirs.update(stale.ref, {"lr": 0.3})
    stale.config.lr = 0.4
    tip = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(gitcfg.ConcurrentUpdateError) as info:
        stale.update()
    assert info.value.keys == ["lr"]
    assert git(repo, "rev-parse", "gitcfg") == tip


def test_history_newest_first(repo: Path, three_runs: ConfigStore) -> None:
    run = gitcfg.Api().run("aaaa1111")
    run.config.lr = 0.2
    run.update(message="second")
    history = run.history()
    assert [v.message.splitlines()[0] for v in history] == [
        "second",
        "create mnist/aaaa1111 (3 keys)",
    ]
    assert history[0].config["lr"] == 0.2 and history[1].config["lr"] == 0.1
    assert history[0].commit == git(repo, "rev-parse", "gitcfg").strip()
    assert history[0].time >= history[1].time


def test_runs_with_filters(three_runs: ConfigStore) -> None:
    api = gitcfg.Api()

    def ids(**kwargs: object) -> list[str]:
        return sorted(r.id for r in api.runs(**kwargs))  # type: ignore[arg-type]

    assert ids() == ["aaaa1111", "bbbb2222", "cccc3333"]
    assert ids(project="mnist") == ["aaaa1111", "bbbb2222"]
    assert ids(filters={"model": "resnet"}) == ["aaaa1111", "cccc3333"]
    assert ids(filters=["lr>0.005"]) == ["aaaa1111", "bbbb2222"]
    assert ids(filters="epochs<=5") == ["bbbb2222"]
    assert ids(filters=["model=resnet", {"epochs": 10}]) == ["aaaa1111"]
    assert ids(filters=["epochs!=10"]) == ["bbbb2222", "cccc3333"]  # missing meets only !=
    with pytest.raises(gitcfg.InputError):
        api.runs(filters=["lr"])


def test_runs_takes_wandb_entity_project_path(three_runs: ConfigStore) -> None:
    api = gitcfg.Api()
    assert [r.id for r in api.runs("my-entity/mnist")] == ["aaaa1111", "bbbb2222"]
    assert [r.id for r in api.runs("my-entity/cifar", filters={"model": "resnet"})] == ["cccc3333"]
    assert api.run("my-entity/mnist/aaaa1111").id == "aaaa1111"
    with pytest.raises(gitcfg.InputError, match=r"takes a project or entity/project.*Api\(\)\.run"):
        api.runs("my-entity/mnist/aaaa1111")
    with pytest.raises(gitcfg.InputError, match="project name"):
        api.runs("my-entity/")


def test_runs_filter_tags_as_wandb(repo: Path) -> None:
    store = ConfigStore.open()
    for run_id, tags in (("both", ["t1", "t2"]), ("one", ["t1"]), ("two", ["t2"]), ("none", [])):
        store.create("p", {"tags": "a config key"}, run_id=run_id, meta={"tags": tags})
    api = gitcfg.Api()

    def ids(filters: object) -> list[str]:
        return sorted(r.id for r in api.runs("p", filters=filters))  # type: ignore[arg-type]

    assert ids({"tags": "t1"}) == ["both", "one"]  # runs that have the tag
    assert ids({"tags": {"$in": ["t2", "t9"]}}) == ["both", "two"]  # any of them
    assert ids({"tags": ["t1"]}) == ["one"]  # a list: exactly those tags
    assert ids("tags=t1") == ["both", "one"]
    assert ids("tags!=t1") == ["none", "two"]
    assert len(api.runs("p", filters="config:tags=a config key")) == 4
    with pytest.raises(gitcfg.InputError, match=r"only \{'\$in': \[...\]\}"):
        api.runs(filters={"tags": {"$nin": ["t1"]}})


def test_run_from_init_is_readable_through_api(repo: Path) -> None:
    run = gitcfg.init(config={"a": 1}, project="p", name="first", tags=["x"])
    gitcfg.config.b = 2
    run.finish()
    stored = gitcfg.Api().run(run.path)
    assert stored.config.flat() == {"a": 1, "b": 2}
    assert (stored.name, stored.tags) == ("first", ["x"])
    assert stored.code == run.code


def test_api_persist_is_update(repo: Path, three_runs: ConfigStore) -> None:
    run = gitcfg.Api().run("aaaa1111")
    run.config.seed = 1
    run.config.persist()
    assert subjects(repo)[0] == "update mnist/aaaa1111: seed"


# -- wandb's public API, as scripts written for it use it --------------------------------------


def summary_text(repo: Path, project: str, run_id: str) -> str:
    from gitcfg.layout import RunRef

    return git(repo, "show", f"gitcfg:{RunRef(project, run_id).summary_path}")


def test_summary_update_commits_the_summary_at_once(repo: Path, three_runs: ConfigStore) -> None:
    # docs.wandb.ai's "log summary" recipe: set a key, then summary.update() writes it
    run = gitcfg.Api().run("mnist/aaaa1111")
    run.summary["key"] = 123
    run.config["lr"] = 0.5  # the config waits for run.update(), as in wandb
    run.summary.update()
    assert subjects(repo)[0] == "update mnist/aaaa1111: summary:key"
    assert gitcfg.Api().run("mnist/aaaa1111").summary["key"] == 123
    assert "lr: 0.1" in config_text(repo, "mnist", "aaaa1111")
    run.summary.update({"acc": 0.9})  # with values: the same, without run.update()
    assert summary_text(repo, "mnist", "aaaa1111") == "acc: 0.9\nkey: 123\n"
    assert len(subjects(repo)) == 5
    run.summary.update()  # nothing new: no commit
    assert len(subjects(repo)) == 5
    assert run.update() is not None and "lr: 0.5" in config_text(repo, "mnist", "aaaa1111")


def test_summary_update_with_a_bad_value_commits_nothing(
    repo: Path, three_runs: ConfigStore
) -> None:
    run = gitcfg.Api().run("mnist/aaaa1111")
    tip = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(gitcfg.ConfigError, match=r"cannot store 'model'.*object"):
        run.summary.update({"acc": 0.9, "model": object()})
    with pytest.raises(gitcfg.ConfigError, match="cannot store 'model'"):
        run.summary["model"] = object()
    assert "acc" not in run.summary  # all or nothing
    assert git(repo, "rev-parse", "gitcfg") == tip
