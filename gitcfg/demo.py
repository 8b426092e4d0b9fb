"""A real demo: a training script records two runs in a fresh git repository, then we look.

Run: ``python -m gitcfg.demo [DIRECTORY]`` (default: a new temporary directory, kept).
Every step is a real process: the script is run twice with different flags, then plain git and
the ``gitcfg`` command show the history, compare the runs and amend the first one.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TRAIN_PY = '''\
"""A stand-in training script: argparse flags + config-defaults.yaml + a nested dict; its loss
is a result (gitcfg.log), kept as the run's summary beside its config."""
import argparse
import math

import gitcfg

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)
parser.add_argument("--batch-size", type=int, default=32)
parser.add_argument("--optimizer", default="adam")
args = parser.parse_args()

run = gitcfg.init(project="mnist", config=args)       # commits the run at once
gitcfg.config.update({"model": {"layers": [128, 64], "dropout": 0.1}})
gitcfg.define_metric("loss", summary="min")
for epoch in range(gitcfg.config.epochs):             # epochs comes from config-defaults.yaml
    # a stand-in for training: best near lr=0.01, adam a little ahead of sgd
    # read the settings from the config, as in a wandb sweep: a sweep's values are there
    lr, optimizer = gitcfg.config.lr, gitcfg.config.optimizer
    fit = 1 - 0.12 * (math.log10(lr) + 2) ** 2 - (0.04 if optimizer == "sgd" else 0)
    accuracy = max(0.1, fit) * (1 - 0.4 ** (epoch + 2))
    gitcfg.log({"accuracy": round(accuracy, 4), "loss": round(1 - accuracy, 4)})
print(f"recorded run {run.path}")                      # results committed at exit
'''

DEFAULTS_YAML = """\
epochs:
  desc: Number of passes over the training data
  value: 3
dataset: mnist-v1
"""


def _echo(title: str) -> None:
    print(f"\n\033[1m== {title}\033[0m" if sys.stdout.isatty() else f"\n== {title}", flush=True)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    print("$ " + shlex.join(cmd), flush=True)
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    output = proc.stdout + proc.stderr
    print(textwrap.indent(output.rstrip("\n"), "  ") if output.strip() else "", flush=True)
    if proc.returncode != 0:
        raise SystemExit(f"demo step failed (exit {proc.returncode}): {shlex.join(cmd)}")
    return proc.stdout


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    where = Path(args[0]) if args else Path(tempfile.mkdtemp(prefix="gitcfg-demo-"))
    where.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_PAGER": "cat", "PAGER": "cat", "NO_COLOR": "1"}
    env.setdefault("GIT_AUTHOR_NAME", "Demo User")
    env.setdefault("GIT_AUTHOR_EMAIL", "demo@example.com")
    env.setdefault("GIT_COMMITTER_NAME", env["GIT_AUTHOR_NAME"])
    env.setdefault("GIT_COMMITTER_EMAIL", env["GIT_AUTHOR_EMAIL"])
    gitcfg_cmd = [sys.executable, "-m", "gitcfg"]

    _echo(f"A project repository in {where}")
    _run(["git", "init", "-q", "-b", "main"], where, env)
    (where / "train.py").write_text(TRAIN_PY)
    (where / "config-defaults.yaml").write_text(DEFAULTS_YAML)
    _run(["git", "add", "train.py", "config-defaults.yaml"], where, env)
    _run(["git", "commit", "-q", "-m", "training script"], where, env)

    _echo("Two training runs with different flags (each one commits its config)")
    first = _run([sys.executable, "train.py", "--lr", "0.01"], where, env).split()[-1]
    second = _run([sys.executable, "train.py", "--lr", "0.1", "--batch-size", "64"], where, env)
    second = second.split()[-1]

    _echo("The audit trail is plain git: the gitcfg branch holds config commits only")
    _run(["git", "log", "--format=%h %s", "gitcfg"], where, env)
    _echo("The runs: config and summary (results) keys that differ")
    _run([*gitcfg_cmd, "runs"], where, env)
    _run(
        [*gitcfg_cmd, "runs", "--sort", "summary:loss.min", "--columns", "id,lr,summary:loss.min"],
        where,
        env,
    )
    _echo("The per-step history stays local (never pushed); the summary is on the branch")
    _run([*gitcfg_cmd, "history", first], where, env)
    _run([*gitcfg_cmd, "show", first, "--summary"], where, env)
    _echo("Compare the two runs with plain git diff")
    path_a = _run([*gitcfg_cmd, "path", first], where, env).strip()
    path_b = _run([*gitcfg_cmd, "path", second], where, env).strip()
    _run(["git", "diff", path_a, path_b], where, env)

    _echo("Amend the first run: another commit, so the history keeps both versions")
    amend = ["update", first, "dataset=mnist-v2", "-m", "dataset id was wrong"]
    _run([*gitcfg_cmd, *amend], where, env)
    _run([*gitcfg_cmd, "log", first, "-p"], where, env)
    _run([*gitcfg_cmd, "show", first, "--nested"], where, env)
    _echo("A sweep: four learning rates, two optimizers, one recorded run each, two at a time")
    sweep = ["sweep", "lr=0.001,0.003,0.03,0.3", "optimizer=adam,sgd", "--project", "mnist"]
    sweep += ["-j", "2"]
    _run([*gitcfg_cmd, *sweep, "--", sys.executable, "train.py"], where, env)
    _echo("Your code branch and work tree were never touched")
    _run(["git", "status", "--short", "--branch"], where, env)
    _report(where, env, gitcfg_cmd)
    print(f"\nThe demo repository is kept at {where}; try 'cd {where} && gitcfg runs'.")


def _report(where: Path, env: dict[str, str], gitcfg_cmd: list[str]) -> None:
    """End with the HTML report of every run, when the report extra is installed."""
    _echo("One HTML page to see how the settings affect the result")
    if not all(importlib.util.find_spec(name) for name in ("jinja2", "plotly")):
        print("The report needs the report extra: pip install 'gitcfg[report]', then")
        print(f"  cd {where} && gitcfg report --open")
        return
    _run([*gitcfg_cmd, "report", "-o", "gitcfg-report.html"], where, env)
    print(f"Open {where / 'gitcfg-report.html'} in a browser (or: gitcfg report --open).")


if __name__ == "__main__":
    main()
