"""Config defaults loaded by ``gitcfg.init`` before the config it is given, as wandb does.

Lowest precedence first:

1. ``config-defaults.yaml`` in the working directory (wandb's ``{key: {desc, value}}`` form or
   plain ``key: value``);
2. the files named by ``GITCFG_CONFIG_PATHS`` (comma-separated; when it is unset or empty,
   wandb's ``WANDB_CONFIG_PATHS``), then by ``--configs a,b`` (or
   ``--configs=a,b``) in ``sys.argv``; a later file beats an earlier one. ``--configs`` is left in
   ``sys.argv`` for the script's own parser, which must accept (or ignore) it;
3. ``init(config=...)``, then later updates.

A later layer replaces what an earlier one says about the same key, also a whole group
(``model: resnet`` over ``model: {depth: 50}``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULTS_FILE = "config-defaults.yaml"
PATHS_VARIABLE = "GITCFG_CONFIG_PATHS"
WANDB_PATHS_VARIABLE = "WANDB_CONFIG_PATHS"  # honoured when ours is not set, as wandb reads it
ARGV_OPTION = "--configs"


def config_paths(
    argv: Sequence[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The defaults files to load, lowest precedence first; ``config-defaults.yaml`` if present."""
    import sys

    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    base = Path.cwd() if cwd is None else Path(cwd)
    paths: list[Path] = []
    defaults = base / DEFAULTS_FILE
    if defaults.is_file():
        paths.append(defaults)
    # as every GITCFG_/WANDB_ pair: an empty value counts as unset (liverun's _setting)
    named = _split(environ.get(PATHS_VARIABLE) or environ.get(WANDB_PATHS_VARIABLE, ""))
    args = list(argv[1:])
    for i, arg in enumerate(args):
        if arg == ARGV_OPTION and i + 1 < len(args):
            named += _split(args[i + 1])
        elif arg.startswith(ARGV_OPTION + "="):
            named += _split(arg[len(ARGV_OPTION) + 1 :])
    # a named file that does not exist is an error (load_yaml_file says so), never skipped
    paths += [base / name for name in named]
    return paths


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def load_layers(paths: Sequence[Path]) -> list[Mapping[Any, Any]]:
    """Each file read as a config mapping (errors are ``YamlError`` naming the file)."""
    from gitcfg.sources import load_yaml_config

    return [load_yaml_config(path) for path in paths]


def overlay(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """Flat ``top`` over flat ``base``: a key of ``top`` replaces the same key, the group under
    it, or the value above it in ``base``."""
    if not base:
        return dict(top)
    out = dict(base)
    for key in top:
        if "." in key:
            parts = key.split(".")
            for i in range(1, len(parts)):
                out.pop(".".join(parts[:i]), None)
    top_keys = set(top)
    prefixes = {key + "." for key in top_keys}
    for key in list(out):
        if key not in top_keys and any(key.startswith(p) for p in prefixes):
            del out[key]
    out.update(top)
    return out
