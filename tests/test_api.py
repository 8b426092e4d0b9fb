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


def test_assigning_a_stored_runs_config_replaces_it(repo: Path, three_runs: ConfigStore) -> None:
    # wandb's public API: run.config = {...}; run.update()
    run = gitcfg.Api().run("cccc3333")
    run.config = {"lr": 0.2, "opt": {"name": "adam"}}
    run.update()
    assert config_text(repo, "cifar", "cccc3333") == "lr: 0.2\nopt.name: adam\n"
    before = git(repo, "rev-parse", "gitcfg")
    with pytest.raises(gitcfg.ConfigError):
        run.config = {"lr": object()}  # cannot be stored: the config is left as it was
    assert run.config.as_dict() == {"lr": 0.2, "opt": {"name": "adam"}}
    assert run.update() is None and git(repo, "rev-parse", "gitcfg") == before


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
    assert ids({"tags": {"$nin": ["t1"]}}) == ["none", "two"]  # MongoDB's: no tag among them
    assert ids({"tags": {"$regex": "^t[2-9]"}}) == ["both", "two"]
    with pytest.raises(gitcfg.InputError, match=r"operator '\$all'"):
        api.runs(filters={"tags": {"$all": ["t1"]}})


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


@pytest.fixture
def wandb_runs(repo: Path) -> ConfigStore:
    """Three runs with what wandb's filters name: group, job type, name, state, start time."""
    store = ConfigStore.open()
    store.create(
        "p",
        {"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "group": "a config key"},
        run_id="a1",
        meta={
            "group": "g1",
            "job_type": "train",
            "name": "alpha",
            "tags": ["best"],
            "started": "2024-01-01T10:00:00.000+02:00",
            "user": "ann",
        },
        summary={"best": 0.9, "val": {"acc": 0.5}},
    )
    store.create(
        "p",
        {"lr": 0.2, "opt": {"name": "sgd"}},
        run_id="b2",
        meta={
            "group": "g1",
            "job_type": "eval",
            "name": "beta",
            "started": "2024-03-01T00:00:00.000+00:00",
            "exit_status": 1,
        },
        summary={"best": 0.4},
    )
    store.create(
        "p",
        {"lr": 0.3},
        run_id="c3",
        meta={
            "group": "sw1",
            "name": "base-3",
            "started": "2024-06-01T00:00:00.000+00:00",
            "exit_status": 0,
            "sweep_id": "sw1",
        },
        summary={"best": 0.7},
    )
    return store


def test_runs_filters_read_wandb_queries(wandb_runs: ConfigStore) -> None:
    api = gitcfg.Api()

    def ids(filters: object) -> list[str]:
        return [r.id for r in api.runs("p", filters=filters)]  # type: ignore[arg-type]

    assert ids({"config.lr": 0.2}) == ["b2"]
    assert ids({"config.lr.value": 0.2}) == ["b2"]  # how wandb stores a config value
    assert ids({"config.opt.name": "adam"}) == ["a1"]
    assert ids({"config.opt.value.name": "adam"}) == ["a1"]
    assert ids({"config.opt": {"$eq": {"name": "sgd"}}}) == ["b2"]  # the whole group
    assert ids({"lr": 0.3}) == ["c3"]  # any other name is a config key, as before
    assert ids({"group": "g1"}) == ["a1", "b2"]  # the run's group, not the config key
    assert ids({"config.group": "a config key"}) == ["a1"]
    assert ids({"jobType": "train"}) == ["a1"]
    assert ids({"display_name": "beta"}) == ["b2"]
    assert ids({"display_name": {"$regex": "^base"}}) == ["c3"]
    assert ids({"display_name": {"$regex": "ALPHA", "$options": "i"}}) == ["a1"]
    assert ids({"name": "c3"}) == ["c3"]  # wandb's name of a run is its id
    assert ids({"state": "finished"}) == ["a1", "c3"]
    assert ids({"state": "failed"}) == ["b2"]
    assert ids({"state": {"$in": ["finished", "crashed"]}}) == ["a1", "c3"]
    assert ids({"state": {"$ne": "running"}}) == ["a1", "b2", "c3"]
    assert ids({"summary_metrics.best": {"$gt": 0.5}}) == ["a1", "c3"]
    assert ids({"summary_metrics.val.acc": {"$lte": 0.5}}) == ["a1"]
    assert ids({"$and": [{"group": "g1"}, {"summary_metrics.best": {"$gte": 0.5}}]}) == ["a1"]
    assert ids({"$or": [{"config.lr": 0.1}, {"config.lr": {"$gte": 0.3}}]}) == ["a1", "c3"]
    assert ids({"$nor": [{"group": "g1"}]}) == ["c3"]
    assert ids({"config.lr": {"$gt": 0.15, "$lt": 0.25}}) == ["b2"]
    assert ids({"config.lr": {"$not": {"$gt": 0.15}}}) == ["a1"]
    assert ids({"config.opt.name": {"$exists": False}}) == ["c3"]
    assert ids({"config.opt.name": {"$ne": "adam"}}) == ["b2", "c3"]  # absent meets $ne
    assert ids({"config.opt.name": {"$nin": ["adam", "lion"]}}) == ["b2", "c3"]
    assert ids({"config.opt.name": {"$in": ["adam", "lion"]}}) == ["a1"]
    assert ids({"job_type": None}) == ["c3"]  # null: no such field, as in MongoDB
    assert ids({"createdAt": {"$gte": "2024-02-01"}}) == ["b2", "c3"]
    assert ids({"created_at": {"$lt": "2024-01-01T09:00:00Z"}}) == ["a1"]  # 10:00+02:00
    assert ids({"sweep": "sw1"}) == ["c3"]
    assert ids([{"group": "g1"}, "lr>0.15"]) == ["b2"]  # with --where strings


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"opt": {"name": "adam"}}, r"nested dict is ambiguous.*'config\.opt\.KEY'.*\$eq"),
        ({"state": "running"}, "never reports a run as 'running'"),
        ({"state": {"$in": ["crashed", "killed"]}}, "never reports a run as 'crashed', 'killed'"),
        ({"state": "done"}, "'done' is not a run state"),
        ({"config.lr": {"$all": [0.1]}}, r"operator '\$all'"),
        ({"config.lr": {"$gt": 0.1, "x": 1}}, "mixes operators and keys"),
        ({"$where": "this.lr > 0"}, r"\$and, \$or and \$nor"),
        ({"$or": {"lr": 0.1}}, "non-empty list"),
        ({"heartbeatAt": {"$gt": "2024-01-01"}}, "no heartbeat"),
        ({"entity": "me"}, "no entity"),
        ({"createdAt": {"$gt": "last week"}}, "'last week' is not a time"),
        ({"config.lr": {"$in": 0.1}}, r"\$in takes a list"),
        ({"display_name": {"$regex": "("}}, "is not valid"),
        ({"summary_metrics": 1}, "names no key"),
        ({"config.a..b": 1}, "empty part"),
    ],
)
def test_runs_filters_gitcfg_cannot_answer_are_errors(
    wandb_runs: ConfigStore, filters: dict[str, object], message: str
) -> None:
    with pytest.raises(gitcfg.InputError, match=message):
        gitcfg.Api().runs("p", filters=filters)


def test_api_takes_wandb_arguments_and_paths(wandb_runs: ConfigStore) -> None:
    assert gitcfg.Api(timeout=19).run("p/a1").id == "a1"
    assert gitcfg.Api(api_key="not used").run("a1").id == "a1"
    api = gitcfg.Api(overrides={"project": "p", "entity": "team", "base_url": "https://x"})
    assert api.run("b2").entity == "team"  # the project from overrides
    assert [r.id for r in api.runs()] == ["a1", "b2", "c3"]
    assert gitcfg.Api({"project": "p"}).run("c3").project == "p"  # wandb's first argument
    api = gitcfg.Api()
    assert api.run("ent/p/runs/a1").id == "a1"  # the path of a run's URL
    assert api.run("ent/p/runs/a1").entity == "ent"
    assert api.run("p:b2").id == api.run("ent/p:b2").id == "b2"
    assert [r.id for r in api.runs(path="ent/p")] == ["a1", "b2", "c3"]
    assert [r.id for r in api.runs(project="p", filters={"group": "g1"})] == ["a1", "b2"]
    with pytest.raises(gitcfg.InputError, match="entity/project/runs/id"):
        api.run("a/b/c/d/e")


def test_runs_order_as_wandb(wandb_runs: ConfigStore) -> None:
    api = gitcfg.Api()

    def ids(order: str, **kwargs: object) -> list[str]:
        return [r.id for r in api.runs("p", order=order, **kwargs)]  # type: ignore[arg-type]

    assert ids("+created_at") == ids("created_at") == ["a1", "b2", "c3"]
    assert ids("-created_at") == ["c3", "b2", "a1"]
    assert ids("+summary_metrics.best") == ["b2", "c3", "a1"]
    assert ids("-summary_metrics.best") == ["a1", "c3", "b2"]
    assert ids("-config.lr") == ids("-config.lr.value") == ["c3", "b2", "a1"]
    assert ids("-config.opt.name") == ["b2", "a1", "c3"]  # runs without the key last
    assert ids("+config.opt.name") == ["a1", "b2", "c3"]
    assert ids("-created_at", filters={"group": "g1"}) == ["b2", "a1"]
    assert ids("-summary_metrics.best", filters={"group": "g1"}) == ["a1", "b2"]
    assert len(api.runs("p", order="-summary_metrics.best", filters={"group": "g1"})) == 2
    assert api.runs("p", order="-config.lr")[0].id == "c3"
    with pytest.raises(gitcfg.InputError, match="no heartbeat"):
        api.runs("p", order="-heartbeat_at")
    with pytest.raises(gitcfg.InputError, match=r"summary_metrics\.KEY"):
        api.runs("p", order="lr")


def test_stored_run_has_wandbs_attributes(wandb_runs: ConfigStore) -> None:
    api = gitcfg.Api()
    first, failed, swept = api.run("p/a1"), api.run("p/b2"), api.run("p/c3")
    assert (first.state, failed.state, swept.state) == ("finished", "failed", "finished")
    assert first.created_at == "2024-01-01T08:00:00"  # UTC, as wandb writes it
    assert first.url == "gitcfg show p/a1"
    assert first.entity == "ann" and first.user is not None  # wandb's default entity: the user
    assert (first.user.username, first.user.name, str(first.user)) == ("ann", "ann", "ann")
    assert first.display_name == "alpha"
    assert first.summary_metrics == {"best": 0.9, "val": {"acc": 0.5}}
    assert first.lastHistoryStep == -1  # no history on this machine
    metadata = first.metadata
    assert metadata["startedAt"] == "2024-01-01T08:00:00" and metadata["username"] == "ann"
    assert metadata["git"]["commit"] == metadata["code_commit"] and metadata["python"]
    assert first.sweep is None and first.sweep_name is None
    assert swept.sweep is not None and (swept.sweep.id, str(swept.sweep)) == ("sw1", "sw1")
    assert swept.sweep_name == "sw1"
    first.display_name = "renamed"
    first.update()
    assert gitcfg.Api().run("p/a1").name == "renamed"


def test_history_with_wandbs_arguments_reads_the_logged_metrics(repo: Path) -> None:
    run = gitcfg.init(config={"lr": 0.1}, project="p", id="h")
    for step in range(10):
        run.log({"loss": 1.0 / (step + 1), **({"acc": step / 10} if step % 2 else {})})
    run.finish()
    stored = gitcfg.Api().run("p/h")
    assert stored.lastHistoryStep == 9
    rows = stored.history(keys=["acc"], pandas=False)
    assert rows == [{"_step": s, "acc": s / 10} for s in (1, 3, 5, 7, 9)]  # rows with acc
    assert [r["_step"] for r in stored.history(samples=3, pandas=False)] == [0, 4, 9]
    (last,) = stored.history(samples=1, pandas=False)  # without keys: whole rows
    assert sorted(last) == ["_step", "_timestamp", "acc", "loss"] and last["_step"] == 9
    scanned = stored.scan_history(keys=["acc"], use_cache=False)  # rows that have acc, too
    assert [r["_step"] for r in scanned] == [1, 3, 5, 7, 9]
    versions = stored.history()  # no argument: gitcfg's versions, newest first, as before
    assert versions[0].summary["loss"] == 0.1 and versions[-1].config == {"lr": 0.1}
    try:
        import pandas  # noqa: F401
    except ImportError:
        with pytest.warns(UserWarning, match="pandas is not installed"):
            table = stored.history(keys=["loss"])
        assert table[0] == {"_step": 0, "loss": 1.0}
    else:
        table = stored.history(keys=["loss"])
        assert list(table.columns) == ["_step", "loss"] and len(table) == 10
    with pytest.raises(gitcfg.InputError, match="no system metrics"):
        stored.history(stream="system")
    with pytest.raises(gitcfg.InputError, match="list of key names"):
        stored.history(keys="loss")
