"""Flat dotted keys: validation, flattening nested mappings and back, collisions, secrets.

A dot in a key is a path separator, so ``{"model": {"lr": 1}}`` and ``{"model.lr": 1}`` are the
same config. The stored file holds the flat form.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from gitcfg.errors import ConfigError, DuplicateKeyError, KeyCollisionError


class _Missing:
    """Marks a key absent from a config (one side of a diff, a condition's row)."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()

# YAML refuses implicit keys longer than 1024 characters; quoting may double a key's length.
MAX_KEY_LENGTH = 500
# How deeply values may nest (mappings and lists): far beyond any real config, and far below
# Python's recursion limit, so a pathological file or object is one clear error.
MAX_DEPTH = 100

# Characters a key may not hold: they would not survive a one-line YAML key or a terminal.
_BAD = "\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff"
_BAD_CHAR = re.compile(f"[{_BAD}]")
_VALID_KEY = re.compile(f"[^.{_BAD}]+(?:\\.[^.{_BAD}]+)*")


def is_valid_key(key: str) -> bool:
    """Whether ``key`` is a valid flat key as it is (``check_key`` would return it unchanged)."""
    return len(key) <= MAX_KEY_LENGTH and _VALID_KEY.fullmatch(key) is not None


def check_key(key: Any) -> str:
    """Return ``key`` as a valid flat key, or raise ``ConfigError`` saying what is wrong.

    Ints become strings (``1`` -> ``"1"``); any other non-string type is refused. A key must not
    be empty, have an empty dotted part (``a..b``, ``.a``, ``a.``), or hold control characters.
    """
    if type(key) is str and is_valid_key(key):
        return key  # the common case, one regex match
    if isinstance(key, int) and not isinstance(key, bool):
        return check_key(str(key))
    if not isinstance(key, str):
        raise ConfigError(
            f"config key {key!r} is a {type(key).__name__}; keys must be strings, convert it first"
        )
    if not key:
        raise ConfigError("config key is empty; give every value a name")
    if _BAD_CHAR.search(key):
        raise ConfigError(
            f"config key {key!r} contains a control or line-break character; remove it"
        )
    if len(key) > MAX_KEY_LENGTH:
        raise ConfigError(
            f"config key {key[:40]!r}... is {len(key)} characters long; "
            f"use at most {MAX_KEY_LENGTH}"
        )
    raise ConfigError(
        f"config key {key!r} has an empty part between dots; a dot separates nested names, "
        f"so remove the extra dot"
    )


def normalize_top_key(key: str) -> str:
    """Strip leading and trailing ``-`` of a top-level key (``--lr`` -> ``lr``), as wandb does."""
    return key.strip("-")


def flatten(nested: Mapping[Any, Any], prefix: str = "") -> dict[str, Any]:
    """Turn nested mappings into one mapping with dotted keys.

    ``{"model": {"lr": 1}}`` -> ``{"model.lr": 1}``; a dotted key is a path at any level, an empty
    mapping stays a ``{}`` value, lists are values. ``prefix`` is put before every key.

    Raises ``KeyCollisionError`` when a key is both a value and a branch (``{"a": 1, "a.b": 2}``),
    and its subclass ``DuplicateKeyError`` when one key is given twice with different values
    (``{"a.b": 1, "a": {"b": 2}}``); given twice with the same value is fine.
    """
    out: dict[str, Any] = {}
    dotted = _flatten_into(out, nested, check_key(prefix) if prefix else "")
    if dotted:  # without any dot, no key can be a branch of another
        collision = find_collision(out)
        if collision is not None:
            raise KeyCollisionError(*collision)
    return out


def _flatten_into(out: dict[str, Any], nested: Mapping[Any, Any], prefix: str) -> bool:
    """Add the leaves of ``nested`` to ``out``; return whether any key has a dot."""
    dotted = bool(prefix)
    for raw, value in nested.items():
        key = check_key(raw)
        full = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and value:
            _flatten_into(out, value, full)
            dotted = True
            continue
        if full in out:
            old = out[full]
            if not (old is value or (type(old) is type(value) and old == value)):
                raise DuplicateKeyError(full, old, value)
            continue
        out[full] = value
        dotted = dotted or "." in key
    return dotted


def unflatten(flat: Mapping[Any, Any]) -> dict[str, Any]:
    """Turn dotted keys into nested dicts: ``{"model.lr": 1}`` -> ``{"model": {"lr": 1}}``.

    Raises ``KeyCollisionError`` as ``flatten`` does.
    """
    out: dict[str, Any] = {}
    # flatten first: it validates keys, splits dotted paths and rules out collisions
    for key, value in flatten(flat).items():
        *parents, last = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = {} if isinstance(value, Mapping) else value
    return out


def find_collision(keys: Iterable[str]) -> tuple[str, str] | None:
    """Return ``(leaf, branch)`` for a key that is a prefix path of another key, else None.

    Sorting the keys by their dotted parts puts every branch right after its leaf, so this is
    O(n log n) however many keys there are. Repeated keys are not collisions.
    """
    paths = sorted(key.split(".") for key in keys)
    for leaf, branch in itertools.pairwise(paths):
        if len(branch) > len(leaf) and branch[: len(leaf)] == leaf:
            return ".".join(leaf), ".".join(branch)
    return None


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "apikey",
    "privatekey",
    "accesskey",
    "credential",
    "authtoken",
)
# "<x>_token" keys that name a tokenizer's special token, not a credential
_SPECIAL_TOKENS = frozenset(
    (
        *("pad", "eos", "bos", "unk", "sep", "cls", "mask", "sos", "eot", "bot", "start", "end"),
        *("special", "image", "audio", "video", "decoder", "fill", "prefix", "suffix", "middle"),
    )
)


def is_secret_key(key: str) -> bool:
    """Whether a flat key looks like a credential that must not end up in git history.

    Each dotted part is split into words (``_``, ``-`` and camelCase boundaries), lowercased.
    A part is secret if its words joined contain password, passwd, secret, apikey, privatekey,
    accesskey, credential or authtoken (``db_password``, ``wandb_api_key``,
    ``aws_secret_access_key``), or if its last word ends in ``token`` (``hf_token``,
    ``githubToken``, ``token``) unless that word is ``token`` after a tokenizer special-token
    name (``pad_token``, ``eos_token``, ``cls_token``). So ``max_tokens``, ``num_tokens``,
    ``tokenizer`` and ``token_dim`` are not secret.
    """
    for part in key.split("."):
        snake = _CAMEL.sub("_", part).lower().replace("-", "_")
        squashed = snake.replace("_", "")
        if any(word in squashed for word in _SECRET_WORDS):
            return True
        words = [word for word in snake.split("_") if word]
        if words and words[-1].endswith("token"):
            special = words[-1] == "token" and len(words) > 1 and words[-2] in _SPECIAL_TOKENS
            if not special:
                return True
    return False


# A value that holds no credential: a placeholder such as "<HUB_TOKEN>" (what
# transformers' TrainingArguments.to_dict() writes), a mask such as "***", or nothing.
_MASKED = re.compile(r"\s*(?:<[^<>]*>|\*+)?\s*")


def is_masked(value: Any) -> bool:
    """Whether a value cannot be a secret: None, a bool, "", "<HUB_TOKEN>", "***"."""
    if value is None or isinstance(value, bool):
        return True
    return isinstance(value, str) and _MASKED.fullmatch(value) is not None


def secrets_allowed() -> bool:
    """The opt-in for credential-looking keys: ``GITCFG_ALLOW_SECRETS=1`` (config and results)."""
    return os.environ.get("GITCFG_ALLOW_SECRETS", "").lower() in {"1", "true", "yes"}


def is_secret(key: str, value: Any, *, result: bool = False) -> bool:
    """Whether ``key: value`` would put a credential in git history (``is_secret_key``, unless
    the value is masked or empty, ``is_masked``). A ``result`` (a summary value) that is a
    number is none: ``loss_per_token: 2.1`` is a metric, and refusing it would stop a training
    loop over nothing."""
    if result and type(value) in (int, float):
        return False
    return is_secret_key(key) and not is_masked(value)
