"""A sweep's definition: wandb's sweep YAML, or the inline ``KEY=V1,V2 ... -- CMD`` form.

    method: grid | random | bayes
    metric: {name: val_loss, goal: minimize}
    parameters:
      lr: {distribution: log_uniform_values, min: 1.0e-4, max: 0.1}
      layers: {values: [64, 128]}
      epochs: {value: 5}
      optimizer: {parameters: {momentum: {values: [0.9, 0.99]}}}   # nested: optimizer.momentum
    program: train.py
    command: [${env}, ${interpreter}, ${program}, ${args}]
    run_cap: 20

Parameters are kept under flat dotted keys (``optimizer.momentum``), as configs are. Everything
is checked here, before a run is created: an unknown method, distribution or key is an
``SweepSpecError`` naming what to write instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from gitcfg.errors import SweepSpecError

METHODS = ("grid", "random", "bayes")
GOALS = ("minimize", "maximize")

# distribution -> the keys it takes beyond "distribution" (wandb's sweep config schema)
DISTRIBUTIONS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "categorical": ("values",),
    "categorical_w_probabilities": ("values", "probabilities"),
    "int_uniform": ("min", "max"),
    "uniform": ("min", "max"),
    "q_uniform": ("min", "max", "q"),
    "log_uniform": ("min", "max"),
    "log_uniform_values": ("min", "max"),
    "q_log_uniform": ("min", "max", "q"),
    "q_log_uniform_values": ("min", "max", "q"),
    "inv_log_uniform": ("min", "max"),
    "inv_log_uniform_values": ("min", "max"),
    "normal": ("mu", "sigma"),
    "q_normal": ("mu", "sigma", "q"),
    "log_normal": ("mu", "sigma"),
    "q_log_normal": ("mu", "sigma", "q"),
    "beta": ("a", "b"),
    "q_beta": ("a", "b", "q"),
}
_DEFAULTS = {"mu": 0.0, "sigma": 1.0, "q": 1.0, "a": 1.0, "b": 1.0}
_REQUIRED = {"value", "values", "min", "max", "probabilities"}
# top-level keys wandb's sweep files carry that mean nothing here (kept, never an error)
_IGNORED = {
    "description",
    "name",
    "project",
    "entity",
    "early_terminate",
    "controller",
    "job",
    "scheduler",
    "image_uri",
    "launch",
}
_TOP = {"method", "parameters", "program", "command", "metric", "run_cap", "seed", *_IGNORED}
DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")


# Named tuples, not dataclasses: the dataclasses module and the code it generates for each
# class cost every sweep ~5 ms of start-up, before its first run can start.
class Parameter(NamedTuple):
    """One searched key: its distribution and that distribution's arguments."""

    key: str
    distribution: str
    args: Mapping[str, Any]

    @property
    def values(self) -> list[Any]:
        """The finite values a grid walks (``SweepSpecError`` for continuous distributions)."""
        d, a = self.distribution, self.args
        if d == "constant":
            return [a["value"]]
        if d in ("categorical", "categorical_w_probabilities"):
            return list(a["values"])
        if d == "int_uniform":
            return list(range(a["min"], a["max"] + 1))
        if d == "q_uniform":
            steps = math.floor((a["max"] - a["min"]) / a["q"] + 1e-9)
            return [_round(a["min"] + i * a["q"], a["q"]) for i in range(steps + 1)]
        raise SweepSpecError(
            f"parameter {self.key!r}: method 'grid' cannot walk the continuous distribution "
            f"{d!r}; give it 'values: [...]', or use 'method: random' or 'bayes'"
        )


class SweepSpec(NamedTuple):
    """A checked sweep definition. ``command`` holds wandb's macros, expanded per point."""

    method: str
    parameters: tuple[Parameter, ...]
    command: tuple[str, ...]
    program: str | None = None
    metric_name: str | None = None
    goal: str = "minimize"
    run_cap: int | None = None
    seed: int | None = None
    source: Mapping[str, Any] = {}  # the definition as given (never changed)

    def identity(self) -> str:
        """A sweep id from the definition: the same spec gives the same id on every machine,
        so shards and a re-run after a crash find each other's runs with no coordinator."""
        text = json.dumps(
            {
                "method": self.method,
                "parameters": [[p.key, p.distribution, dict(p.args)] for p in self.parameters],
                "command": list(self.command),
                "program": self.program,
                "seed": self.seed,
                "run_cap": self.run_cap,
            },
            sort_keys=True,
            default=str,
        )
        digest = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        chars = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = ""
        for _ in range(8):
            digest, rest = divmod(digest, 36)
            out += chars[rest]
        return "sw-" + out

    def check_runnable(self) -> None:
        """Refuse a spec whose command cannot be built (a sweep of programs, not of a function)."""
        if any("${program}" in part for part in self.command) and not self.program:
            raise SweepSpecError(
                "the sweep's command uses ${program} but there is no 'program'; "
                "add 'program: train.py' or give a 'command' without it"
            )


def parse_spec(data: Any, source: str = "the sweep config") -> SweepSpec:
    """Check a sweep definition (the mapping of a sweep YAML file, or ``wandb.sweep``'s dict)."""
    if not isinstance(data, Mapping):
        raise SweepSpecError(
            f"{source} is a {type(data).__name__}, not a mapping; write it as wandb's sweep "
            f"YAML (method: grid, parameters: {{lr: {{values: [0.1, 0.01]}}}})"
        )
    unknown = sorted(str(k) for k in data if k not in _TOP)
    if unknown:
        raise SweepSpecError(
            f"{source}: unknown key {unknown[0]!r}; a sweep takes "
            f"{', '.join(sorted(_TOP - _IGNORED))}"
        )
    method = data.get("method", "grid" if "method" not in data else None)
    if method not in METHODS:
        raise SweepSpecError(
            f"{source}: unknown method {method!r}; use 'grid', 'random' or 'bayes'"
        )
    raw = data.get("parameters")
    if not isinstance(raw, Mapping) or not raw:
        raise SweepSpecError(
            f"{source}: no parameters; add 'parameters:' with at least one key, "
            f"e.g. lr: {{values: [0.1, 0.01]}}"
        )
    parameters = tuple(sorted(_parameters(raw, "", source), key=lambda p: p.key))
    command = _command(data.get("command"), source)
    program = data.get("program")
    if program is not None and not isinstance(program, str):
        raise SweepSpecError(f"{source}: 'program' must be a file name, got {program!r}")
    if program is not None:
        program = program.strip()
    metric_name, goal = _metric(data.get("metric"), source)
    if method == "bayes" and metric_name is None:
        raise SweepSpecError(
            f"{source}: method 'bayes' needs a metric to optimise; add "
            f"'metric: {{name: val_loss, goal: minimize}}'"
        )
    return SweepSpec(
        method=method,
        parameters=parameters,
        command=command,
        program=program,
        metric_name=metric_name,
        goal=goal,
        run_cap=_positive_int(data.get("run_cap"), "run_cap", source),
        seed=_int(data.get("seed"), "seed", source),
        source=dict(data),
    )


def inline_spec(
    assignments: Sequence[str], command: Sequence[str], method: str = "grid"
) -> SweepSpec:
    """The inline form: ``lr=0.01,0.1 layers=64,128`` and the command after ``--``.

    Each value list is split on top-level commas and each item parsed as YAML 1.2, like
    ``gitcfg update``'s values (``name='a,b'`` quotes a comma). Values reach the command only
    through the run (``GITCFG_RUN_ID``) unless it names them with ``${args}``-style macros.
    """
    from gitcfg.override import parse_override

    parameters: dict[str, Any] = {}
    given: dict[str, str] = {}
    for arg in assignments:
        key, sep, text = arg.partition("=")
        if not sep or not key:
            raise SweepSpecError(
                f"{arg!r} is not KEY=V1,V2,... (nor a sweep file here); write e.g. "
                f"{key or 'lr'}=0.1,0.01, or give a sweep file alone: gitcfg sweep sweep.yaml"
            )
        if key in given:
            raise SweepSpecError(
                f"{key!r} is given twice ({given[key]!r} and {arg!r}); give each key once, "
                f"with all its values: {key}=V1,V2,..."
            )
        given[key] = arg
        values = [parse_override(f"{key}={item}")[1] for item in _split_top(text)]
        parameters[key] = {"values": values} if len(values) > 1 else {"value": values[0]}
    if not command:
        raise SweepSpecError(
            "no command to run; put it after '--': gitcfg sweep lr=0.1,0.01 -- python train.py"
        )
    return parse_spec(
        {"method": method, "parameters": parameters, "command": list(command)},
        "the sweep",
    )


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets and quotes: ``[1, 2],[3]`` is two values."""
    items, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return items


def _parameters(raw: Mapping[Any, Any], prefix: str, source: str) -> list[Parameter]:
    from gitcfg.errors import ConfigError
    from gitcfg.flat import check_key

    out: list[Parameter] = []
    for name, body in raw.items():
        try:
            key = check_key(f"{prefix}{name}")
        except ConfigError as exc:
            raise SweepSpecError(f"{source}: {exc}") from exc
        if not isinstance(body, Mapping):
            raise SweepSpecError(
                f"{source}: parameter {key!r} is {body!r}; write it as "
                f"{{values: [...]}}, {{value: ...}} or {{min: ..., max: ...}}"
            )
        if "parameters" in body:
            if not isinstance(body["parameters"], Mapping) or set(body) != {"parameters"}:
                raise SweepSpecError(
                    f"{source}: parameter {key!r}: nested 'parameters' must be a mapping "
                    f"and the only key beside it"
                )
            out.extend(_parameters(body["parameters"], f"{key}.", source))
            continue
        out.append(_parameter(key, body, source))
    return out


def _parameter(key: str, body: Mapping[Any, Any], source: str) -> Parameter:
    distribution = body.get("distribution")
    if distribution is None:
        distribution = _implied(key, body, source)
    if distribution not in DISTRIBUTIONS:
        raise SweepSpecError(
            f"{source}: parameter {key!r}: unknown distribution {distribution!r}; use one of "
            f"{', '.join(DISTRIBUTIONS)}"
        )
    takes = DISTRIBUTIONS[distribution]
    extra = sorted(str(k) for k in body if k != "distribution" and k not in takes)
    if extra:
        raise SweepSpecError(
            f"{source}: parameter {key!r}: distribution {distribution!r} takes "
            f"{', '.join(takes)}, not {extra[0]!r}"
        )
    args: dict[str, Any] = {}
    for name in takes:
        if name in body:
            args[name] = body[name]
        elif name in _REQUIRED:
            raise SweepSpecError(
                f"{source}: parameter {key!r}: distribution {distribution!r} needs {name!r}"
            )
        else:
            args[name] = _DEFAULTS[name]
    _check_args(key, distribution, args, source)
    return Parameter(key, distribution, args)


def _implied(key: str, body: Mapping[Any, Any], source: str) -> str:
    # wandb's rules when 'distribution' is left out
    if "values" in body:
        return "categorical"
    if "value" in body:
        return "constant"
    if "min" in body and "max" in body:
        ints = all(_is_int(body[k]) for k in ("min", "max"))
        return "int_uniform" if ints else "uniform"
    raise SweepSpecError(
        f"{source}: parameter {key!r} has neither 'values', 'value' nor 'min'/'max'; "
        f"give one of them (or a 'distribution')"
    )


def _check_args(key: str, distribution: str, args: dict[str, Any], source: str) -> None:
    where = f"{source}: parameter {key!r} ({distribution})"
    if "values" in args and (not isinstance(args["values"], list) or not args["values"]):
        raise SweepSpecError(f"{where}: 'values' must be a non-empty list")
    for name in ("min", "max", "mu", "sigma", "q", "a", "b"):
        if name in args and not _is_number(args[name]):
            raise SweepSpecError(f"{where}: {name!r} must be a number, got {args[name]!r}")
    if distribution == "int_uniform" and not (_is_int(args["min"]) and _is_int(args["max"])):
        raise SweepSpecError(f"{where}: 'min' and 'max' must be integers")
    if "min" in args and args["min"] > args["max"]:
        raise SweepSpecError(f"{where}: 'min' {args['min']} is above 'max' {args['max']}")
    if distribution.endswith("_values") and args["min"] <= 0:
        raise SweepSpecError(f"{where}: 'min' must be above 0 for a logarithmic scale")
    if "q" in args and args["q"] <= 0:
        raise SweepSpecError(f"{where}: 'q' must be above 0")
    if "sigma" in args and args["sigma"] < 0:
        raise SweepSpecError(f"{where}: 'sigma' must not be negative")
    if distribution == "categorical_w_probabilities":
        probs = args["probabilities"]
        if (
            not isinstance(probs, list)
            or len(probs) != len(args["values"])
            or not all(_is_number(p) and p >= 0 for p in probs)
            or not math.isclose(sum(probs), 1.0, abs_tol=1e-6)
        ):
            raise SweepSpecError(
                f"{where}: 'probabilities' must be one number >= 0 per value, summing to 1"
            )


def _command(raw: Any, source: str) -> tuple[str, ...]:
    if raw is None:
        return DEFAULT_COMMAND
    if isinstance(raw, str):
        raw = [raw]
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(p, (str, int, float)) for p in raw)
    ):
        raise SweepSpecError(
            f"{source}: 'command' must be a list of words, e.g. "
            f"[${{env}}, ${{interpreter}}, ${{program}}, ${{args}}]"
        )
    return tuple(str(p) for p in raw)


def _metric(raw: Any, source: str) -> tuple[str | None, str]:
    if raw is None:
        return None, "minimize"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise SweepSpecError(f"{source}: 'metric' must be {{name: KEY, goal: minimize|maximize}}")
    goal = raw.get("goal", "minimize")
    if goal not in GOALS:
        raise SweepSpecError(f"{source}: metric goal {goal!r}: use 'minimize' or 'maximize'")
    return raw["name"], goal


def _positive_int(raw: Any, name: str, source: str) -> int | None:
    if raw is None:
        return None
    if not _is_int(raw) or raw < 1:
        raise SweepSpecError(f"{source}: {name!r} must be a whole number >= 1, got {raw!r}")
    return int(raw)


def _int(raw: Any, name: str, source: str) -> int | None:
    if raw is None:
        return None
    if not _is_int(raw):
        raise SweepSpecError(f"{source}: {name!r} must be a whole number, got {raw!r}")
    return int(raw)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _round(value: float, q: float) -> float | int:
    # keep q_uniform's grid exact where q is whole (0, 5, 10 rather than 10.000000000000002)
    if float(q).is_integer() and float(value).is_integer():
        return round(value)
    return round(value, 12)
