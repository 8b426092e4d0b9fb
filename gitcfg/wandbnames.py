"""wandb's names that gitcfg does not document, so that ``import gitcfg as wandb`` scripts run on.

``gitcfg.watch``, ``gitcfg.Image``, ``run.log_artifact`` ... are served by ``__getattr__`` (of
the module and of ``Run``) from the tables below, never listed in ``__all__``: names that mean
nothing in a config store are no-ops that warn once each; any other name is still an
``AttributeError``.

``IMPLEMENTED`` maps a wandb name to the ``"module:attribute"`` that really implements it (or to
a ``"module"``, for a namespace such as ``wandb.util``), loaded on first use and without a
warning (``gitcfg.sweep``/``gitcfg.agent`` are plain functions of ``gitcfg``, so they need no
entry). Add a name there, not to the no-op tables, when it does something.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from gitcfg.runsummary import user_stacklevel

# wandb name -> "module:attribute" of gitcfg's implementation
IMPLEMENTED: dict[str, str] = {
    "CommError": "gitcfg.errors:CommError",
    "Error": "gitcfg.errors:Error",
    "join": "gitcfg.liverun:finish",  # wandb's older name of finish
    "Settings": "gitcfg.wandbnames:Settings",
    "util": "gitcfg.wandbutil",  # generate_id and the others whose value scripts use
}

# media and data types: constructed with any arguments, logged as nothing (skipped with a warning)
DATA_TYPES = frozenset(
    (
        "Artifact",
        "Audio",
        "Classes",
        "Graph",
        "Histogram",
        "Html",
        "Image",
        "JoinedTable",
        "Molecule",
        "Object3D",
        "Plotly",
        "Table",
        "Video",
        "box3d",
    )
)
# functions of the wandb module and of a wandb Run that do nothing here
FUNCTIONS = frozenset(
    (
        "alert",
        "link_artifact",
        "link_model",
        "log_artifact",
        "log_code",
        "log_model",
        "login",
        "mark_preempting",
        "require",
        "restore",
        "save",
        "setup",
        "teardown",
        "unwatch",
        "use_artifact",
        "use_model",
        "watch",
        "upsert_artifact",
        "status",
        "finish_artifact",
        "display",
        "to_html",
        "plot_table",
        "log_table",
        "termlog",
        "termwarn",
        "termerror",
        "termsetup",
    )
)
# namespaces whose every attribute is a no-op (wandb.plot.line(...), wandb.AlertLevel.WARN)
NAMESPACES = frozenset(
    ("plot", "plots", "sklearn", "AlertLevel", "integration", "keras", "apis", "sdk")
)
# functions whose result a script goes on to use: they return a no-op object, not None
_RETURNS_OBJECT = frozenset(("use_artifact", "use_model", "log_artifact", "link_artifact"))

_warned: set[str] = set()


def _warn(name: str) -> None:
    if name in _warned:
        return
    _warned.add(name)
    warnings.warn(
        f"gitcfg: wandb's {name} has no effect here (gitcfg records config and results only)",
        UserWarning,
        stacklevel=user_stacklevel(),
    )


class NoOp:
    """A wandb object that does nothing: any constructor arguments, any method, any attribute."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return NoOp()

    def __call__(self, *args: Any, **kwargs: Any) -> NoOp:
        return NoOp()

    def __iter__(self) -> Any:
        return iter(())

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<gitcfg no-op {type(self).__name__}>"


class Settings:
    """``wandb.Settings(...)``: keeps its keywords for ``init(settings=...)``, which reads
    ``mode`` (``"disabled"``, ``"shared"``); the others have no effect here."""

    def __init__(self, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None

    def update(self, *args: Any, **kwargs: Any) -> None:
        for item in args:
            if isinstance(item, dict):
                self.__dict__.update(item)
        self.__dict__.update(kwargs)


def setting(settings: Any, name: str) -> Any:
    """One setting of ``init(settings=...)``: a dict, a ``Settings`` or any object."""
    if isinstance(settings, dict):
        return settings.get(name)
    return getattr(settings, name, None) if settings is not None else None


def _function(name: str) -> Any:
    def noop(*args: Any, **kwargs: Any) -> Any:
        _warn(name)
        if name == "login":
            return True
        return NoOp() if name in _RETURNS_OBJECT else None

    noop.__name__ = noop.__qualname__ = name
    noop.__doc__ = f"wandb's {name}: no effect in gitcfg."
    return noop


def _data_type(name: str) -> type[NoOp]:
    def __init__(self: NoOp, *args: Any, **kwargs: Any) -> None:
        _warn(name)

    return type(name, (NoOp,), {"__init__": __init__, "__module__": "gitcfg"})


_made: dict[str, Any] = {}


def module_attribute(name: str) -> Any:
    """The object ``gitcfg.<name>`` serves for a wandb-only name; ``AttributeError`` if none."""
    if name in IMPLEMENTED:
        module, _, attribute = IMPLEMENTED[name].partition(":")
        loaded = importlib.import_module(module)
        return getattr(loaded, attribute) if attribute else loaded
    if name in _made:
        if name in NAMESPACES:
            _warn(name)
        return _made[name]
    if name in DATA_TYPES:
        made: Any = _data_type(name)
    elif name in FUNCTIONS:
        made = _function(name)
    elif name in NAMESPACES:
        _warn(name)
        made = NoOp()
    else:
        raise AttributeError(f"module 'gitcfg' has no attribute {name!r}")
    _made[name] = made
    return made


def namespace_member(namespace: str, name: str) -> Any:
    """A name of a wandb namespace that gitcfg implements in part (``util.json_friendly``):
    a no-op that warns once."""
    _warn(f"{namespace}.{name}")
    return NoOp()


def run_noop(name: str) -> Any:
    """The no-op a ``Run`` serves for a wandb ``Run`` method (``run.watch``); else raises."""
    if name in FUNCTIONS:
        return module_attribute(name)
    raise AttributeError(f"'Run' object has no attribute {name!r}")


def setting_items(settings: Any) -> dict[str, Any]:
    """The settings given to ``init(settings=...)`` as a dict (empty for None)."""
    if settings is None:
        return {}
    if isinstance(settings, dict):
        return {str(k): v for k, v in settings.items()}
    return {k: v for k, v in vars(settings).items() if not k.startswith("_")}
