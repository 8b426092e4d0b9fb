"""Where a config comes from: turn what ``init(config=...)`` and ``update`` accept into a mapping.

Accepted: a mapping, an argparse Namespace, absl ``flags.FLAGS`` (also ``tf.compat.v1.flags``),
a dataclass instance, a pydantic model (v2 or v1), an OmegaConf DictConfig, a scikit-learn
estimator (``gitcfg.estimators``), any object with public attributes, or the path of a YAML
file. Optional libraries are recognised by the module their classes come from, never imported
here, so ``import gitcfg`` stays cheap.
"""

from __future__ import annotations

import os
import types
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from gitcfg.errors import ConfigError, UsageError, YamlError
from gitcfg.estimators import estimator_params, is_estimator

# Keys of a wandb config file that hold wandb's bookkeeping, not the user's config.
WANDB_META_KEYS = frozenset(("wandb_version", "_wandb"))


def to_mapping(source: Any) -> Mapping[Any, Any]:
    """The top-level keys and values of ``source``; a ``ConfigError`` for what is not a config."""
    if source is None:
        return {}
    if _from_module(source, "omegaconf."):
        return _omegaconf(source)
    if isinstance(source, Mapping):
        return source
    if isinstance(source, (str, os.PathLike)):
        return load_yaml_config(source)
    if _from_module(source, "absl.flags."):
        return _absl_flags(source)
    if _from_module(source, "pydantic."):
        return _pydantic(source)
    if hasattr(type(source), "__dataclass_fields__"):  # dataclasses.is_dataclass(an instance)
        import dataclasses  # the caller's dataclass has loaded it already

        return dataclasses.asdict(source)
    if is_estimator(source):
        return estimator_params(source)
    if isinstance(source, (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)):
        raise _unknown(source)
    attributes = getattr(source, "__dict__", None)
    if isinstance(attributes, dict):  # argparse.Namespace and plain objects
        return {k: v for k, v in attributes.items() if not str(k).startswith("_")}
    raise _unknown(source)


def _unknown(source: Any) -> ConfigError:
    kind = f"{type(source).__module__}.{type(source).__qualname__}"
    return ConfigError(
        f"cannot read a config from a {kind.removeprefix('builtins.')}; pass a dict, an argparse "
        f"Namespace, absl FLAGS, a dataclass, a pydantic model, an OmegaConf DictConfig, a "
        f"scikit-learn estimator, an object with attributes, or the path of a YAML file"
    )


def _from_module(source: Any, prefix: str) -> bool:
    # A user's pydantic model is defined in the user's module: look along the class hierarchy.
    return any(cls.__module__.startswith(prefix) for cls in type(source).__mro__)


def _omegaconf(source: Any) -> Mapping[Any, Any]:
    from omegaconf import OmegaConf  # the user has it: they passed one of its objects

    container = OmegaConf.to_container(source, resolve=True)
    if not isinstance(container, dict):
        raise ConfigError(
            f"an OmegaConf {type(source).__name__} is not a mapping of keys to values; "
            f"pass a DictConfig"
        )
    return container


def _absl_flags(source: Any) -> Mapping[Any, Any]:
    if not hasattr(source, "flag_values_dict"):
        raise _unknown(source)
    # flag_values_dict() reads defaults when the flags are not parsed yet, values once they are.
    values: dict[str, Any] = source.flag_values_dict()
    # absl's own flags (logging verbosity, --helpfull, ...) are not the experiment's config.
    own = {
        name
        for module, flags in source.flags_by_module_dict().items()
        if module.startswith("absl.")
        for flag in flags
        for name in (flag.name, flag.short_name)  # '-v' for --verbosity, '-?' for --help
    }
    return {name: value for name, value in values.items() if name not in own}


def _pydantic(source: Any) -> Mapping[Any, Any]:
    dump = getattr(source, "model_dump", None)  # pydantic v2
    if dump is None:
        dump = getattr(source, "dict", None)  # pydantic v1 (also pydantic.v1 under v2)
    if dump is None or isinstance(source, type):
        raise _unknown(source)
    data = dump()
    if not isinstance(data, dict):
        raise _unknown(source)
    return data


def load_yaml_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A YAML config file as a mapping; wandb's ``{key: {desc, value}}`` entries are unwrapped."""
    from gitcfg.yamlcodec import load_yaml_mapping  # PyYAML is loaded only when a file is read

    return unwrap_wandb(load_yaml_mapping(path), os.fspath(path))


def unwrap_wandb(data: Mapping[Any, Any], source: str) -> dict[str, Any]:
    """Accept wandb's config file form: ``lr: {desc: ..., value: 0.1}`` is ``lr: 0.1``.

    ``wandb_version`` and ``_wandb`` are dropped. An entry that has ``desc`` but no ``value``
    is refused: its value would be the description.
    """
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key in WANDB_META_KEYS:
            continue
        if isinstance(value, dict) and value and set(value) <= {"desc", "value"}:
            if "value" not in value:
                raise YamlError(
                    source,
                    f"entry {key!r} has a 'desc' but no 'value'; add 'value: ...' under it",
                )
            value = value["value"]
        out[key] = value
    return out


def select_keys(
    mapping: Mapping[Any, Any],
    include: Collection[str] | None,
    exclude: Collection[str] | None,
) -> Mapping[Any, Any]:
    """Keep only the top-level keys in ``include``, or drop those in ``exclude`` (not both)."""
    if include is not None and exclude is not None:
        raise UsageError(
            "give config_include_keys or config_exclude_keys, not both; "
            "the one left out is implied by the other"
        )
    if include is not None:
        wanted = _names(include)
        return {k: v for k, v in mapping.items() if k in wanted}
    if exclude is not None:
        unwanted = _names(exclude)
        return {k: v for k, v in mapping.items() if k not in unwanted}
    return mapping


def _names(keys: Iterable[str]) -> set[str]:
    if isinstance(keys, str):  # a single name, not its characters
        return {keys}
    return set(keys)
