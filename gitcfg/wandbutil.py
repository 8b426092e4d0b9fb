"""``wandb.util``'s functions that scripts use, so that ``import gitcfg as wandb`` keeps them.

Served as ``gitcfg.util`` (``gitcfg.wandbnames``), not part of gitcfg's API. Each one returns
what wandb's returns: a script goes on to use the value (``wandb.init(id=generate_id(),
resume="allow")``, ``open(path, "w").write(run_id)``, ``if get_module("torch") is not None``),
so a no-op object in its place would go wrong silently. Any other name of ``wandb.util`` is
still a no-op that warns once.
"""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType
from typing import Any

from gitcfg.errors import GitcfgError
from gitcfg.names import ID_LENGTH, MAX_NAME_LENGTH, new_run_id

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def generate_id(length: int = ID_LENGTH) -> str:
    """A new random run id: ``length`` lowercase letters and digits, valid for ``init(id=)``."""
    return new_run_id(length)


def random_string(length: int = 12) -> str:
    """``length`` random lowercase letters and digits."""
    return new_run_id(length)


def make_artifact_name_safe(name: str) -> str:
    """``name`` with every character but letters, digits, ``_``, ``-`` and ``.`` made ``_``;
    a name over 128 characters keeps its first and last 63 around ``..``, as wandb's."""
    cleaned = _UNSAFE.sub("_", name)
    if len(cleaned) <= MAX_NAME_LENGTH:
        return cleaned
    return f"{cleaned[:63]}..{cleaned[-63:]}"


def get_module(name: str, required: str | None = None, lazy: bool = True) -> ModuleType | None:
    """The module ``name`` (dotted), or None when it cannot be imported; with ``required``,
    that message is raised instead (``wandb.Error``, here ``GitcfgError``). ``lazy`` has no
    effect: the module is imported at once."""
    try:
        return importlib.import_module(name)
    except Exception:  # wandb's too: a module that fails as it loads is missing as well
        if required:
            raise GitcfgError(required) from None
        return None


def get_optional_module(name: str) -> ModuleType | None:
    """The module ``name``, or None when it cannot be imported."""
    return get_module(name)


def to_forward_slash_path(path: str) -> str:
    """``path`` with Windows' separators made ``/``."""
    return path.replace("\\", "/") if os.sep == "\\" else path


def mkdir_exists_ok(path: str | os.PathLike[str]) -> None:
    """Create directory ``path`` and its parents; nothing if it exists (older wandb's)."""
    os.makedirs(path, exist_ok=True)


def __getattr__(name: str) -> Any:
    # wandb.util's other names (json_friendly, ...): no-ops that warn once, as before
    if name.startswith("__"):
        raise AttributeError(f"module 'gitcfg.util' has no attribute {name!r}")
    from gitcfg.wandbnames import namespace_member

    return namespace_member("util", name)
