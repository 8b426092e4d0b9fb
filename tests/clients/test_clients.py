"""Real scripts written for wandb run with only ``import wandb`` -> ``import gitcfg as wandb``.

Each script is vendored beside this file (source, commit and license in its header), copied
into a fresh git repository, committed and run as a real subprocess with its own command-line
options shrunk to seconds on a CPU (or tiny data the test writes). Then the recorded config and
summary are read back from the store branch. Scripts that need torch are marked ``clients``.
"""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gitcfg
from gitcfg.store import ConfigStore, RunRecord
from tests.conftest import git, make_repo

HERE = Path(__file__).parent


def setup_repo(tmp_path: Path, client: str, *files: str) -> Path:
    """A repository holding the vendored ``files`` of ``client`` at its top level, committed."""
    repo = make_repo(tmp_path / client)
    for name in files:
        shutil.copy(HERE / client / name, repo / name)
    git(repo, "add", *files)
    git(repo, "commit", "-q", "-m", f"{client} scripts")
    return repo


def run(repo: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # the scripts start "python" themselves (wandb's train.py runs eval.py)
        "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONWARNINGS": "default",
    }
    proc = subprocess.run(
        [sys.executable, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def recorded(repo: Path) -> list[RunRecord]:
    git(repo, "fsck", "--strict")
    return ConfigStore.open(repo).runs()


def test_wandb_shared_mode_train_and_eval_scripts(tmp_path: Path) -> None:
    # wandb/wandb tests/assets/scripts: train.py logs and starts eval.py, which attaches to
    # the same run by id (settings=wandb.Settings(mode="shared")) and logs its own metrics.
    pytest.importorskip("tqdm")
    repo = setup_repo(tmp_path, "wandb_sdk", "train.py", "eval.py")
    proc = run(repo, "train.py", "--project", "igena", "--sleep", "0", "--num_steps", "8")
    (record,) = recorded(repo)  # one run: eval.py attached to train.py's
    assert proc.stdout.startswith(f"run_id: {record.ref.id}\n")
    assert record.ref.project == "igena" and record.config == {}
    summary = record.summary
    assert summary["train_step"] == 7 and summary["eval_step"] == 1
    assert 0.9 < summary["loss"] < 1.05  # exp(-7/100) + noise/20
    assert 0.13 < summary["eval_accuracy"] < 0.2  # log(2)/5 + noise/20
    subjects = git(repo, "log", "--format=%s", "gitcfg").splitlines()
    assert subjects[-1] == f"create igena/{record.ref.id} (0 keys)"
    assert len(subjects) == 4  # create, two eval flushes, train's final flush


@pytest.mark.parametrize("start_method", ["spawn", "forkserver", "fork"])
def test_wandb_run_shared_with_a_child_process(tmp_path: Path, start_method: str) -> None:
    # wandb/wandb tests/system_tests/test_functional/multiprocessing/share_child_base.py: the
    # run object is passed to a multiprocessing child (pickled, or copied by fork), which sets
    # config.c2 and logs s1; wandb's own test (test_mp.py) expects both in the one run.
    repo = setup_repo(tmp_path, "wandb_sdk", "share_child_base.py")
    run(repo, "share_child_base.py", "--start-method", start_method)
    (record,) = recorded(repo)
    assert record.config == {"c1": 11, "c2": 22}
    assert record.summary == {"s1": 21}  # the child logged last
    history = list(gitcfg.Api(repo=str(repo)).run(str(record.ref)).scan_history())
    assert [(row["_step"], row["s1"]) for row in history] == [(0, 11), (1, 21)]
    assert record.meta.get("exit_status") is None  # the child did not finish the run


def test_wandb_benchmark_script_in_parallel_processes(tmp_path: Path) -> None:
    # wandb/wandb tools/bench/bench.py: forked processes, each `with wandb.init() as run`,
    # logging floats, ints and strings (kept) and wandb.Table / wandb.Image (skipped).
    repo = setup_repo(tmp_path, "wandb_sdk", "bench.py", "_load_profiles.py", "_timing.py")
    proc = run(
        repo,
        "bench.py",
        *("--num_sequential", "2", "--num_parallel", "2", "--num_history", "5"),
        *("--history_floats", "2", "--history_ints", "1", "--history_strings", "1"),
        *("--history_tables", "1", "--history_images", "1", "--mode", "offline"),
    )
    records = recorded(repo)
    assert len(records) == 4
    # run (n, m) logs f_i = n + m + e + i; its last step is e = 4
    assert sorted(r.summary["f_0"] for r in records) == [4.0, 5.0, 6.0, 7.0]
    for r in records:
        first = r.summary["f_0"]
        assert r.summary == {"f_0": first, "f_1": first + 1, "n_0": int(first), "s_0": str(int(first))}
        assert r.config == {} and r.ref.project == repo.name
    assert "wandb's Table has no effect here" in proc.stderr
    assert "'t_0' is of type Table" in proc.stderr and "'i_0' is of type Image" in proc.stderr
    assert (repo / "bench.csv").read_text().count("time_load") == 1


TINY_GPT = [
    *("--dataset=tiny", "--device=cpu", "--compile=False", "--dtype=float32"),
    *("--wandb_log=True", "--wandb_project=nano", "--wandb_run_name=tiny-gpt"),
    *("--n_layer=1", "--n_head=2", "--n_embd=16", "--block_size=16", "--batch_size=4"),
    *("--max_iters=4", "--eval_interval=2", "--eval_iters=2", "--log_interval=1"),
    *("--lr_decay_iters=4", "--warmup_iters=1", "--gradient_accumulation_steps=1"),
    *("--out_dir=out", "--always_save_checkpoint=False"),
]


@pytest.mark.clients
def test_nanogpt_train(tmp_path: Path) -> None:
    # karpathy/nanoGPT train.py: config from its globals and configurator.py, wandb.log of
    # train/val loss at each evaluation; the data is a tiny random token file.
    pytest.importorskip("torch")
    repo = setup_repo(tmp_path, "nanogpt", "train.py", "model.py", "configurator.py")
    data = repo / "data" / "tiny"
    data.mkdir(parents=True)
    tokens = np.random.default_rng(0).integers(0, 32, size=4000, dtype=np.uint16)
    tokens.tofile(data / "train.bin")
    tokens[:1000].tofile(data / "val.bin")
    (data / "meta.pkl").write_bytes(pickle.dumps({"vocab_size": 32}))
    run(repo, "train.py", *TINY_GPT)
    (record,) = recorded(repo)
    assert record.ref.project == "nano" and record.meta["name"] == "tiny-gpt"
    config = record.config
    assert (config["n_layer"], config["n_embd"], config["dataset"], config["max_iters"]) == (
        1,
        16,
        "tiny",
        4,
    )
    assert config["learning_rate"] == 6e-4 and config["compile"] is False
    summary = record.summary
    assert set(summary) == {"iter", "train/loss", "val/loss", "lr", "mfu"}
    assert summary["iter"] == 4  # evaluations at 0, 2 and 4
    assert 2.0 < summary["val/loss"] < 5.0  # about ln(32) for random tokens


TINY_LLAMA = [
    *("--vocab_source=custom", "--vocab_size=32", "--device=cpu", "--compile=False"),
    *("--dtype=float32", "--wandb_log=True", "--wandb_project=llamac", "--wandb_run_name=tiny"),
    *("--batch_size=4", "--max_seq_len=16", "--dim=16", "--n_layers=1", "--n_heads=2"),
    *("--n_kv_heads=2", "--multiple_of=8", "--gradient_accumulation_steps=1", "--max_iters=4"),
    *("--eval_interval=2", "--eval_iters=2", "--warmup_iters=1", "--out_dir=out"),
]


@pytest.mark.clients
def test_llama2c_train(tmp_path: Path) -> None:
    # karpathy/llama2.c train.py: like nanoGPT, but wandb.log(..., step=iter_num), so each
    # evaluation is a named step; its data is pretokenized shards, written here tiny and random.
    for module in ("torch", "sentencepiece", "requests", "tqdm"):
        pytest.importorskip(module)
    files = ("train.py", "model.py", "tinystories.py", "tokenizer.py", "export.py")
    repo = setup_repo(tmp_path, "llama2c", *files, "configurator.py")
    shards = repo / "data" / "tok32"
    shards.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for shard in range(2):  # shard 0 is the validation split
        rng.integers(0, 32, size=3000, dtype=np.uint16).tofile(shards / f"data{shard:02d}.bin")
    run(repo, "train.py", *TINY_LLAMA)
    (record,) = recorded(repo)
    assert record.ref.project == "llamac" and record.meta["name"] == "tiny"
    config = record.config
    assert (config["dim"], config["vocab_size"], config["vocab_source"]) == (16, 32, "custom")
    assert config["max_iters"] == 4 and config["dtype"] == "float32"
    summary = record.summary
    assert set(summary) == {"iter", "tokens", "loss/train", "loss/val", "lr", "mfu"}
    assert summary["iter"] == 4 and summary["tokens"] == 4 * 4 * 16
    rows = list(gitcfg.Api(repo).run(f"llamac/{record.ref.id}").scan_history())
    assert [row["_step"] for row in rows] == [0, 2, 4]  # the steps the script named


@pytest.mark.clients
def test_cleanrl_ppo(tmp_path: Path) -> None:
    # vwxyzjn/cleanrl ppo.py: tyro dataclass args, wandb.init(entity=..., sync_tensorboard=True,
    # monitor_gym=True, save_code=True, config=vars(args)). Its metrics go to TensorBoard (which
    # wandb syncs and gitcfg does not), so the run has a config and no summary.
    for module in ("torch", "gymnasium", "tyro", "tensorboard"):
        pytest.importorskip(module)
    repo = setup_repo(tmp_path, "cleanrl", "ppo.py")
    run(
        repo,
        "ppo.py",
        *("--track", "--wandb-project-name", "rl", "--no-cuda"),
        *("--total-timesteps", "256", "--num-envs", "2", "--num-steps", "64"),
    )
    (record,) = recorded(repo)
    assert record.ref.project == "rl"
    config = record.config
    assert (config["env_id"], config["total_timesteps"], config["batch_size"]) == (
        "CartPole-v1",
        256,
        128,
    )
    assert config["exp_name"] == "ppo" and config["wandb_entity"] is None
    assert config["learning_rate"] == 2.5e-4 and config["num_iterations"] == 2
    assert record.meta["name"].startswith("CartPole-v1__ppo__1__")
    assert record.summary == {}
