"""Command-line ``KEY=VALUE`` overrides and ``--where`` conditions."""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from gitcfg.errors import ConfigError, InputError, YamlError
from gitcfg.flat import MISSING, check_key
from gitcfg.yamlcodec import parse_value

# The column of a run's tags (``gitcfg.query.META_FIELDS``): a list, matched by membership.
TAGS = "tags"


def parse_override(arg: str) -> tuple[str, Any]:
    """Split ``KEY=VALUE`` on the first ``=``; the value is parsed as YAML 1.2 (``parse_value``).

    Raises ``InputError`` for a missing ``=``, an invalid key or a value that is not YAML.
    """
    key, sep, text = arg.partition("=")
    if not sep:
        raise InputError(
            f"expected KEY=VALUE, got {arg!r}; quote the value for the shell if it has spaces "
            f"(lr=0.1, name='my run')"
        )
    return _key(key, arg), _value(text, arg)


def _key(key: str, arg: str) -> str:
    try:
        return check_key(key)
    except ConfigError as exc:
        raise InputError(str(exc)) from exc


def _value(text: str, arg: str) -> Any:
    try:
        return parse_value(text)
    except YamlError as exc:
        shown = arg if len(arg) <= 80 else arg[:60] + "..."  # one line, even for a huge value
        raise InputError(
            f"{shown!r}: {exc.problem}; quote the value to store it as a string"
        ) from exc


def _compare(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if (_is_number(left) and _is_number(right)) or type(left) is type(right):
            try:
                return bool(op(left, right))
            except TypeError:  # e.g. two dicts
                return False
        return False

    return compare


def _is_number(value: Any) -> bool:
    # bool is an int to Python, but true > 0 is not a question a user asks
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _equal(left: Any, right: Any) -> bool:
    if _is_number(left) and _is_number(right):
        if isinstance(left, float) and isinstance(right, float) and math.isnan(left):
            return math.isnan(right)
        return bool(left == right)
    # 1 == True in Python; a config value true is not the number 1
    return type(left) is type(right) and bool(left == right)


# longest first, so ">=" is not read as ">" with a value starting "="
_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "!=": lambda left, right: not _equal(left, right),
    ">=": _compare(operator.ge),
    "<=": _compare(operator.le),
    "=": _equal,
    ">": _compare(operator.gt),
    "<": _compare(operator.lt),
}


def compare(op: str, left: Any, right: Any) -> bool:
    """Whether ``left op right`` holds (``op`` one of = != > >= < <=), as ``--where`` compares:
    ints and floats as numbers; bools and every other type only with their own type."""
    return _OPERATORS[op](left, right)


class Condition(NamedTuple):
    """One ``--where`` condition: ``key op value``, with ``op`` one of = != > >= < <=."""

    key: str
    op: str
    value: Any

    def matches(self, config: Mapping[str, Any]) -> bool:
        """Whether a flat config meets the condition.

        A missing key meets only ``!=``. Ordering values of different types (a string and a
        number) is False, never an error; ints and floats compare as numbers, bools are not.
        """
        return self.test(config.get(self.key, MISSING))

    def test(self, item: Any) -> bool:
        """Whether one value meets the condition; ``MISSING`` (absent) meets only ``!=``."""
        if item is MISSING:
            return self.op == "!="
        return _OPERATORS[self.op](item, self.value)


class TagCondition(Condition):
    """A condition on the run's tags, a list: ``tags=X`` holds when X is one of them and
    ``tags!=X`` when it is not (as wandb's ``filters={"tags": X}``); a list value
    (``tags=[a, b]``) compares the whole list, as any other condition.

    A class of its own, so that a condition on any other column costs what it always did."""

    __slots__ = ()

    def test(self, item: Any) -> bool:
        if isinstance(self.value, list) or not isinstance(item, list):
            return super().test(item)
        found = any(_equal(tag, self.value) for tag in item)
        return found if self.op == "=" else not found


def tag_condition(op: str, value: Any, text: str | None = None) -> TagCondition:
    """The ``TagCondition`` ``tags<op>value``. Tags are strings, so a scalar that YAML read as
    another type (``2024``, ``true``) is the ``text`` it was written as, when given."""
    if text is not None and value is not None and not isinstance(value, (str, list, dict)):
        value = text.strip()
    return TagCondition(TAGS, op, value)


def parse_condition(arg: str) -> Condition:
    """Parse ``KEY<op>VALUE`` for ``--where``; the value is parsed like ``parse_override``'s."""
    # the operator is the first one in the text; at that place, the longest one that fits
    first = min(
        ((arg.find(op), -len(op), op) for op in _OPERATORS if op in arg),
        default=None,
    )
    if first is None:
        raise InputError(
            f"expected KEY=VALUE, KEY!=VALUE, KEY>VALUE, KEY>=VALUE, KEY<VALUE or KEY<=VALUE, "
            f"got {arg!r}"
        )
    index, _, op = first
    key = arg[:index]
    if not key:
        raise InputError(f"no key before {op!r} in {arg!r}; write it as KEY{op}VALUE")
    text = arg[index + len(op) :]
    if _second_operator(op, text.lstrip()):
        raise InputError(
            f"{arg!r} has two operators; write one of KEY=VALUE, KEY!=VALUE, KEY>VALUE, "
            f"KEY>=VALUE, KEY<VALUE, KEY<=VALUE (quote a value that starts with one: "
            f"{key}{op}'{text.lstrip()}')"
        )
    parsed = Condition(_column(key, arg), op, _value(text, arg))
    if parsed.key == TAGS and op in ("=", "!="):
        return tag_condition(op, parsed.value, text)
    return parsed


def _column(key: str, arg: str) -> str:
    """``key`` checked as a column name: ``meta:`` alone, say, would silently match no run."""
    from gitcfg.query import column_problem

    problem = column_problem(_key(key, arg))
    if problem is not None:
        raise InputError(f"{arg!r}: {problem}")
    return key


def _second_operator(op: str, text: str) -> bool:
    """Whether the value after ``op`` starts with another operator by mistake (``lr>>1``,
    ``lr==1``, ``lr=>1``), so that the condition would only compare with a string such as
    ``">1"`` and silently match nothing. A value such as ``<HUB_TOKEN>`` or ``<b>x</b>`` after
    ``=``/``!=`` is a real value; after ``>``/``<`` an operator character never is."""
    first = text[:1]
    if first == "=" or (first in ("<", ">", "!") and op not in ("=", "!=")):
        return True
    if first not in ("<", ">"):
        return False
    try:  # lr=>1, lr!=<0.5: an operator the other way round, before a number
        return _is_number(parse_value(text.lstrip("<>=!")))
    except YamlError:
        return False
