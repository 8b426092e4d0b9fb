"""The command line of one sweep point, from wandb's command macros.

``${env}`` is ``/usr/bin/env``; ``${interpreter}`` the Python running gitcfg; ``${program}`` the
sweep's program; ``${args}`` one ``--key=value`` word per parameter; ``${args_no_hyphens}``
``key=value`` (Hydra style); ``${args_no_boolean_flags}`` as ``${args}`` but a true boolean is a
bare ``--key`` and a false one is left out; ``${args_json}`` one word holding the point as JSON;
``${args_json_file}`` the path of a file holding it; ``${project}`` the project. Nested parameters
are dotted keys (``--optimizer.lr=0.01``). Values are written as Python writes them (``0.01``,
``True``, ``adam``), lists and mappings as JSON.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

ENV = "/usr/bin/env"


def value_text(value: Any) -> str:
    """A value as one command-line word."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def build_command(
    template: Sequence[str],
    point: Mapping[str, Any],
    *,
    program: str | None = None,
    project: str | None = None,
) -> tuple[list[str], str | None]:
    """Expand ``template`` for ``point``; returns the argv and the path of a JSON file made for
    ``${args_json_file}`` (the caller removes it when the child is done), or None."""
    args = [f"--{k}={value_text(v)}" for k, v in point.items()]
    json_file: str | None = None
    argv: list[str] = []
    for word in template:
        if word == "${env}":
            if os.path.exists(ENV):
                argv.append(ENV)
        elif word == "${interpreter}":
            argv.append(sys.executable or "python3")
        elif word == "${args}":
            argv.extend(args)
        elif word == "${args_no_hyphens}":
            argv.extend(f"{k}={value_text(v)}" for k, v in point.items())
        elif word == "${args_no_boolean_flags}":
            for k, v in point.items():
                if v is True:
                    argv.append(f"--{k}")
                elif v is not False:
                    argv.append(f"--{k}={value_text(v)}")
        elif word == "${args_json}":
            argv.append(json.dumps(dict(point)))
        elif word == "${args_json_file}":
            if json_file is None:
                fd, json_file = tempfile.mkstemp(prefix="gitcfg-args-", suffix=".json")
                with os.fdopen(fd, "w") as handle:
                    json.dump(dict(point), handle)
            argv.append(json_file)
        else:
            argv.append(
                word.replace("${program}", program or "").replace("${project}", project or "")
            )
    return [word for word in argv if word != ""], json_file
