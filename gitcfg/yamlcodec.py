"""The YAML codec: the one module that imports PyYAML and ruamel.yaml.

Stored config files are written by ``dump_config``, an emitter of its own: one ``key: value``
line per key, keys sorted, collections in flow style, and every string that a YAML 1.1 (PyYAML)
or 1.2 (ruamel.yaml) reader could take for something else quoted, so both read back the same
values. Files are read with PyYAML's C loader (fast); ruamel.yaml is imported only to edit a
hand-written file in place (keeping its comments) and to parse command-line values as YAML 1.2.
"""

from __future__ import annotations

import functools
import io
import math
import os
import re
import sys
from bisect import bisect
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from gitcfg.errors import ConfigError, KeyCollisionError, UnsupportedValueError, YamlError
from gitcfg.flat import (
    MAX_DEPTH,
    MAX_KEY_LENGTH,
    check_key,
    find_collision,
    flatten,
    is_valid_key,
)

# ---------------------------------------------------------------------------------------------
# Writing

# A string is written plain only when it starts with a letter, "_" or "/" and holds nothing but
# [A-Za-z0-9_./-]: no YAML 1.1 or 1.2 number, date, null or indicator starts that way; the few
# words both schemas resolve (yes, no, on, off, y, n, true, false, null) are checked apart.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_RESOLVED_WORDS = frozenset(("yes", "no", "on", "off", "y", "n", "true", "false", "null"))
# Printable ASCII reads back unchanged in single quotes ('' for ').
_SINGLE_QUOTABLE = re.compile(r"[ -~]*")
# Everything else goes in double quotes; these characters are escaped there: quote, backslash,
# controls, line breaks (\x85, \u2028, \u2029), BOM, surrogates, non-characters.
_RAW_IN_DOUBLE = (
    " !#-\\[\\]-~\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff"
)


@functools.cache
def _double_escape() -> re.Pattern[str]:
    # compiled on first use: the wide character class costs ~4 ms, too much for import time
    return re.compile(f"[^{_RAW_IN_DOUBLE}]")


@functools.cache
def _double_quoted() -> re.Pattern[str]:
    return re.compile(f'"([{_RAW_IN_DOUBLE}]*)"')


_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
# PyYAML cannot read an implicit key longer than 1024 characters.
_MAX_KEY_TEXT = 1024


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    escaped = _ESCAPES.get(char)
    if escaped is not None:
        return escaped
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _str(text: str) -> str:
    if _PLAIN.fullmatch(text) and text.lower() not in _RESOLVED_WORDS:
        return text
    if _SINGLE_QUOTABLE.fullmatch(text):
        return "'" + text.replace("'", "''") + "'"
    return '"' + _double_escape().sub(_escape, text) + '"'


def _float(number: float) -> str:
    if number != number:
        return ".nan"
    if math.isinf(number):
        return ".inf" if number > 0 else "-.inf"
    text = repr(number)
    if "." not in text:  # YAML 1.1 floats need a dot: 1e-05 -> 1.0e-05
        text = text.replace("e", ".0e") if "e" in text else text + ".0"
    return text


class _Unsupported(Exception):
    """A value _flow cannot write; dump_config finds its key and raises the real error."""


def _key(key: Any) -> str:
    if type(key) is not str:
        raise _Unsupported(key)
    text = _KEY_TEXTS.get(key)
    if text is not None:
        return text
    text = _str(key)
    if len(text) > _MAX_KEY_TEXT:
        raise ConfigError(f"config key {key[:40]!r}... is too long; use a shorter key")
    _remember_key(key, text)
    return text


# Keys as written, by key: the same keys come back in file after file (every run's meta.yaml,
# a sweep's configs), and quoting one takes a regex match or two.
_KEY_TEXTS: dict[str, str] = {}
_KEYS_REMEMBERED = 4096


def _remember_key(key: str, text: str) -> None:
    global _KEY_TEXTS
    if len(_KEY_TEXTS) >= _KEYS_REMEMBERED:
        _KEY_TEXTS = {}  # a new dict, not a clear(): another thread may be reading it
    _KEY_TEXTS[key] = text


def _flow(value: Any) -> str:
    """One value in YAML flow style, on one line."""
    cls = type(value)
    if cls is str:
        return _str(value)
    if cls is bool:
        return "true" if value else "false"
    if cls is int:
        return str(value)
    if cls is float:
        return _float(value)
    if value is None:
        return "null"
    if cls is list or cls is tuple:
        return "[" + ", ".join([_flow(item) for item in value]) + "]"
    if cls is dict:
        return "{" + ", ".join([f"{_key(k)}: {_flow(v)}" for k, v in value.items()]) + "}"
    # subclasses (e.g. ruamel.yaml's ScalarFloat) take the slow way
    if isinstance(value, str):
        return _str(str.__str__(value))
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, (list, tuple)):
        return _flow(list(value))
    if isinstance(value, Mapping):
        return _flow(dict(value))
    raise _Unsupported(value)


def _unsupported(flat: Mapping[str, Any], exc: _Unsupported) -> UnsupportedValueError:
    for key, value in flat.items():
        try:
            _key(key)
            _flow(value)
        except _Unsupported as inner:
            return UnsupportedValueError(str(key), inner.args[0])
    return UnsupportedValueError("?", exc.args[0])


def flow_text(value: Any) -> str:
    """One value as ``dump_config`` writes it after its key: ``32``, ``'32'``, ``[1, 2]``."""
    try:
        return _flow(value)
    except _Unsupported as exc:
        raise _unsupported({"value": value}, exc) from None


def dump_config(flat: Mapping[str, Any]) -> str:
    """Write a flat config as the stored file: sorted ``key: value`` lines, flow collections.

    Every value reads back identically with PyYAML (YAML 1.1) and ruamel.yaml (YAML 1.2).
    An empty config is ``{}``.
    """
    if not flat:
        return "{}\n"
    try:
        return "".join([f"{_key(key)}: {_flow(flat[key])}\n" for key in sorted(flat)])
    except _Unsupported as exc:
        raise _unsupported(flat, exc) from None


def dump_yaml(obj: Any) -> str:
    """Write nested data as human YAML: mappings in block style, lists in flow style."""
    if isinstance(obj, Mapping) and obj:
        lines: list[str] = []
        try:
            _block(obj, "", lines)
        except _Unsupported as exc:
            raise UnsupportedValueError("?", exc.args[0]) from None
        return "".join(lines)
    try:
        return _flow(obj) + "\n"
    except _Unsupported as exc:
        raise UnsupportedValueError("?", exc.args[0]) from None


def _block(mapping: Mapping[Any, Any], indent: str, lines: list[str]) -> None:
    for key, value in mapping.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{indent}{_key(key)}:\n")
            _block(value, indent + "  ", lines)
        else:
            lines.append(f"{indent}{_key(key)}: {_flow(value)}\n")


# ---------------------------------------------------------------------------------------------
# Reading (PyYAML, C parser when available)

_TAG = "tag:yaml.org,2002:"
# keys of these tags are taken as written: `1: a` and `true: x` give the keys "1" and "true"
_SCALAR_KEY_TAGS = frozenset(
    _TAG + name for name in ("str", "int", "float", "bool", "null", "timestamp", "value")
)


@functools.cache
def _loader() -> Any:
    """PyYAML's safe loader (libyaml's when built with it), made to give only JSON-like values
    with string keys. Built on first use: PyYAML costs ~15 ms to import, and recording a run
    that reads no YAML should not pay it."""
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, Node, ScalarNode

    try:
        from yaml import CSafeLoader as SafeLoader
    except ImportError:  # PyYAML built without libyaml
        from yaml import SafeLoader  # type: ignore[assignment]

    class Loader(SafeLoader):
        def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, Any]:
            own = sum(1 for key_node, _ in node.value if key_node.tag != _TAG + "merge")
            self.flatten_mapping(node)  # resolves "<<" merge keys, which come first
            merged = len(node.value) - own
            mapping: dict[Hashable, Any] = {}
            seen: set[str] = set()
            for index, (key_node, value_node) in enumerate(node.value):
                if not isinstance(key_node, ScalarNode):
                    raise ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        "found a list or mapping used as a key; keys must be strings",
                        key_node.start_mark,
                    )
                if key_node.tag in _SCALAR_KEY_TAGS:
                    key = key_node.value
                else:  # an explicit tag: construct it, so unsafe tags are refused
                    constructed = self.construct_object(key_node)
                    key = constructed if isinstance(constructed, str) else key_node.value
                if index >= merged:  # merged keys may be overridden, a key written twice not
                    if key in seen:
                        raise ConstructorError(
                            "while constructing a mapping",
                            node.start_mark,
                            f"found duplicate key {key!r}",
                            key_node.start_mark,
                        )
                    seen.add(key)
                mapping[key] = self.construct_object(value_node, deep=deep)
            return mapping

    def _construct_timestamp(loader: Loader, node: Node) -> str:
        # dates stay strings, so every value is JSON-representable
        assert isinstance(node, ScalarNode)
        return str(loader.construct_yaml_timestamp(node).isoformat())

    def _refuse_binary(loader: Loader, node: Node) -> Any:
        raise ConstructorError(
            None, None, "binary values (!!binary) are not supported", node.start_mark
        )

    def _construct_set(loader: Loader, node: Node) -> list[Any]:
        assert isinstance(node, MappingNode)
        return list(loader.construct_mapping(node))

    Loader.add_constructor(_TAG + "timestamp", _construct_timestamp)
    Loader.add_constructor(_TAG + "binary", _refuse_binary)
    Loader.add_constructor(_TAG + "set", _construct_set)
    # YAML 1.2 floats without a dot (1e-3): a string under YAML 1.1, but never what a user means.
    # dump_config quotes such strings, so no stored value changes meaning.
    Loader.add_implicit_resolver(
        _TAG + "float", re.compile(r"^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$"), list("-+0123456789")
    )

    return Loader


_UNKNOWN_TAG = re.compile(r"could not determine a constructor for the tag '([^']*)'")


def _yaml_error(source: str, exc: Exception) -> YamlError:
    """One line saying what is wrong with the YAML, and where."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f"line {mark.line + 1}: " if mark is not None else ""
    problem = str(getattr(exc, "problem", None) or "")
    unknown = _UNKNOWN_TAG.search(problem)
    if unknown:
        tag = unknown.group(1).replace(_TAG, "!!")
        return YamlError(
            source,
            f"{where}the tag {tag} is refused: gitcfg never constructs objects from YAML tags; "
            f"write a plain value instead",
        )
    if not problem:
        problem = " ".join(str(exc).split())
    context = getattr(exc, "context", None)
    detail = f"{context}, {problem}" if context else problem
    return YamlError(source, f"{where}{detail}; fix the YAML")


# How many values aliases may add by repeating what an anchor holds. Parsers build an alias as
# a reference to the one object, but flattening, writing and comparing expand it: nine levels
# of nine aliases each (a "billion laughs") are 387 million values from a 1 KB file.
MAX_ALIAS_VALUES = 100_000


def _load(text: str | bytes, source: str) -> Any:
    import yaml

    try:
        data = yaml.load(text, Loader=_loader())
    except yaml.YAMLError as exc:
        raise _yaml_error(source, exc) from exc
    except RecursionError:  # the pure-Python parser, without libyaml's own depth limit
        raise YamlError(source, f"nesting is too deep; use at most {MAX_DEPTH} levels") from None
    except ValueError:  # an int of more digits than Python reads (4,300)
        raise YamlError(source, "a number has more digits than 4,300; quote it") from None
    check_shape(data, source)
    return data


def check_shape(data: Any, source: str) -> None:
    """Raise ``YamlError`` for data read from YAML that no config should have: nesting deeper
    than ``MAX_DEPTH``, aliases that refer to themselves, or aliases that expand to more than
    ``MAX_ALIAS_VALUES`` repeated values. Each object is visited once, so this is linear in
    the size of the file, not of its expansion.
    """
    # id(container) -> (values it expands to, its height); a second visit is an alias.
    seen: dict[int, tuple[int, int]] = {}
    open_ids: set[int] = set()
    repeated = 0

    def visit(node: Any, depth: int) -> tuple[int, int]:
        nonlocal repeated
        if isinstance(node, dict):
            children: Iterable[Any] = node.values()
        elif isinstance(node, list):
            children = node
        else:
            return 1, 0
        ident = id(node)
        if ident in open_ids:
            raise YamlError(source, "an alias refers to a mapping or list that holds it")
        known = seen.get(ident)
        if known is not None:
            repeated += known[0]
            if repeated > MAX_ALIAS_VALUES:
                raise YamlError(
                    source,
                    f"aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} repeated values "
                    f"(a 'billion laughs'); write the values out or use fewer aliases",
                )
        else:
            if depth >= MAX_DEPTH:
                raise YamlError(
                    source, f"values nest more than {MAX_DEPTH} levels deep; flatten the file"
                )
            open_ids.add(ident)
            size, height = 1, 0
            for child in children:
                child_size, child_height = visit(child, depth + 1)
                size += child_size
                height = max(height, child_height + 1)
            open_ids.discard(ident)
            seen[ident] = known = (size, height)
        if depth + known[1] > MAX_DEPTH:
            raise YamlError(
                source, f"values nest more than {MAX_DEPTH} levels deep; flatten the file"
            )
        return known

    visit(data, 0)


def _as_mapping(data: Any, source: str) -> dict[Any, Any]:
    """The top level of a config file: a mapping (empty file: empty), else YamlError."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        kind = "list" if isinstance(data, list) else type(data).__name__
        raise YamlError(
            source,
            f"the top level is a {kind}, not a mapping of keys to values; "
            f"write one 'key: value' per line",
        )
    return data


def _to_flat(data: Any, source: str) -> dict[str, Any]:
    data = _as_mapping(data, source)
    try:
        return flatten(data)
    except ConfigError as exc:
        raise YamlError(source, str(exc)) from exc


# A fast reader for files as dump_config writes them (most stored files): one regex per line
# instead of PyYAML's per-node Python. Anything it is not sure of (comments, nesting, escapes,
# quoted or nested collection items, duplicates, collisions) sends the file to PyYAML, and the
# tests check both readers agree.
_FAST_KEY = re.compile(r"[A-Za-z_/][A-Za-z0-9_/-]*(?:\.[A-Za-z0-9_/-]+)*")
_FAST_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FAST_FLOAT = re.compile(r"-?[0-9]+\.[0-9]+(?:e[-+][0-9]+)?")
_FAST_SINGLE = re.compile(r"'((?:[ -&(-~]|'')*)'")
_FAST_WORDS: dict[str, Any] = {
    "null": None,
    "true": True,
    "false": False,
    ".inf": math.inf,
    "-.inf": -math.inf,
    ".nan": math.nan,
}
_MISS = object()


def _fast_scalar(text: str) -> Any:
    first = text[:1]
    if first == "'":
        single = _FAST_SINGLE.fullmatch(text)
        return single.group(1).replace("''", "'") if single else _MISS
    if first == '"':
        double = _double_quoted().fullmatch(text)
        return double.group(1) if double else _MISS
    if _PLAIN.fullmatch(text):
        return text if text.lower() not in _RESOLVED_WORDS else _FAST_WORDS.get(text, _MISS)
    if _FAST_INT.fullmatch(text):
        try:
            return int(text)
        except ValueError:  # more digits than Python reads (4,300): the loader says so
            return _MISS
    if _FAST_FLOAT.fullmatch(text):
        return float(text)
    return _FAST_WORDS.get(text, _MISS)


def _fast_value(text: str) -> Any:
    if text[:1] != "[":
        return {} if text == "{}" else _fast_scalar(text)
    if text == "[]":
        return []
    inner = text[1:-1]
    if text[-1] != "]" or any(c in inner for c in "[]{}'\""):
        return _MISS
    items = [_fast_scalar(item) for item in inner.split(", ")]
    return _MISS if _MISS in items else items


def _fast_load(text: str) -> dict[str, Any] | None:
    """The config in ``text`` if it is in dump_config's plain form, else None."""
    if text == "{}\n":
        return {}
    lines = text.split("\n")
    if lines.pop() != "":
        return None
    out: dict[str, Any] = {}
    dotted = False
    for line in lines:
        key, sep, value_text = line.partition(": ")
        if not sep or not value_text:
            return None
        if key[:1] == "'":
            quoted = _FAST_SINGLE.fullmatch(key)
            if not quoted:
                return None
            key = quoted.group(1).replace("''", "'")
            if not is_valid_key(key):
                return None
        elif len(key) > MAX_KEY_LENGTH or not _FAST_KEY.fullmatch(key):
            return None
        if key in out:
            return None
        value = _fast_value(value_text)
        if value is _MISS:
            return None
        out[key] = value
        dotted = dotted or "." in key
    if dotted and find_collision(out) is not None:
        return None
    return out


def load_config(text: str, source: str) -> dict[str, Any]:
    """Read a config file (stored or hand-edited) as a flat dict; ``source`` names it in errors.

    Nested mappings are flattened to dotted keys, dates become ISO strings, non-string keys
    are taken as written. Malformed YAML, unsafe tags and a top level that is not a mapping
    raise ``YamlError``.
    """
    fast = _fast_load(text)
    if fast is not None:
        return fast
    return _to_flat(_load(text, source), source)


def load_yaml_mapping(path: str | os.PathLike[str]) -> dict[Any, Any]:
    """Read a YAML config file whose top level must be a mapping (nested, safe)."""
    return _as_mapping(load_yaml_file(path), os.fspath(path))


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file as nested data (safe, dates as strings); errors are ``YamlError``."""
    source = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        raise YamlError(source, "no such file; check the path") from None
    except OSError as exc:
        raise YamlError(source, f"cannot read it ({exc.strerror}); check the path") from exc
    return _load(data, source)


# ---------------------------------------------------------------------------------------------
# Editing a file in place, and parsing command-line values (ruamel.yaml, imported lazily)


def update_config_text(
    text: str,
    set_values: Mapping[str, Any],
    unset: Iterable[str],
    *,
    current: Mapping[str, Any] | None = None,
) -> str:
    """Return config file ``text`` with ``set_values`` set and ``unset`` keys removed.

    Keys are flat dotted keys. Unsetting a key also removes the keys nested under it; unsetting
    a missing key does nothing; a key both set and unset is set. A file as ``dump_config``
    writes it is simply rewritten. A hand-edited file is edited with ruamel.yaml round-trip,
    keeping comments, key order and the formatting of untouched lines: a key is changed where
    it is (flat or nested), a new key is added as a flat top-level key (in sorted position if
    the top-level keys are sorted, else at the end), and an emptied nested mapping is removed.
    Raises ``KeyCollisionError`` if the result would have a key that is a leaf and a branch.
    ``current`` is ``load_config(text)`` when the caller has it already.
    """
    source = "config"
    if current is None:
        current = load_config(text, source)
    changes = flatten(set_values)
    new = dict(current)
    removed: list[str] = []
    for raw in unset:
        key = check_key(raw)
        for existing in [k for k in new if k == key or k.startswith(key + ".")]:
            del new[existing]
            if existing not in changes:
                removed.append(existing)
    new.update(changes)
    collision = find_collision(new)
    if collision is not None:
        raise KeyCollisionError(*collision)
    if dump_config(current) == text:
        return dump_config(new)  # the file is as gitcfg writes it: nothing to keep
    expected = dump_config(new)
    try:
        result = _round_trip_edit(text, changes, removed)
        if dump_config(load_config(result, source)) == expected:
            return result
    except (YamlError, ConfigError):
        pass
    except Exception as exc:  # ruamel.yaml's own errors
        if type(exc).__module__.split(".")[0] != "ruamel":
            raise
    # the edit would not read back as intended (e.g. YAML 1.1-only syntax such as 012 that
    # ruamel rewrites): correctness beats keeping comments
    return expected


def _round_trip_edit(text: str, changes: Mapping[str, Any], removed: Iterable[str]) -> str:
    from ruamel.yaml import YAML
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.util import load_yaml_guess_indent

    rt = YAML(typ="rt")
    rt.Representer = _rt_representer()
    rt.preserve_quotes = True
    rt.width = sys.maxsize  # never wrap a line
    doc, indent, block_seq_indent = load_yaml_guess_indent(text, yaml=rt)
    mapping_indent = indent or 2
    offset = block_seq_indent or 0
    rt.indent(mapping=mapping_indent, sequence=max(mapping_indent, offset + 2), offset=offset)
    if not isinstance(doc, CommentedMap):
        doc = CommentedMap()
    if doc.fa.flow_style():
        doc.fa.set_block_style()

    for key in removed:
        path = _locate(doc, key)
        if path is None:
            continue
        container, name = path[-1]
        del container[name]
        for container, name in reversed(path[:-1]):  # drop mappings the delete emptied
            if container[name]:
                break
            del container[name]

    for key, value in changes.items():
        path = _locate(doc, key)
        if path is not None:
            container, name = path[-1]
            container[name] = _rt_value(value)
            continue
        names = [str(k) for k in doc]
        if names == sorted(names):
            doc.insert(bisect(names, key), _rt_str(key), _rt_value(value))
        else:
            doc[_rt_str(key)] = _rt_value(value)

    out = io.StringIO()
    rt.dump(doc, out)
    return out.getvalue()


def _locate(mapping: Any, key: str) -> list[tuple[Any, str]] | None:
    """The (mapping, name) steps to ``key`` in a ruamel document, flat or nested by hand."""
    if key in mapping:
        return [(mapping, key)]
    parts = key.split(".")
    for i in range(1, len(parts)):
        head = ".".join(parts[:i])
        child = mapping.get(head)
        if isinstance(child, dict) and child:
            rest = _locate(child, ".".join(parts[i:]))
            if rest is not None:
                return [(mapping, head), *rest]
    return None


def _rt_str(text: str) -> Any:
    """A string ruamel.yaml writes with the quoting dump_config would use."""
    from ruamel.yaml.scalarstring import DoubleQuotedScalarString, SingleQuotedScalarString

    written = _str(text)
    if written[0] == "'":
        return SingleQuotedScalarString(text)
    if written[0] == '"':
        return DoubleQuotedScalarString(text)
    return text


def _rt_value(value: Any) -> Any:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, str):
        return _rt_str(value)
    if isinstance(value, (list, tuple)):
        seq = CommentedSeq([_rt_value(item) for item in value])
        seq.fa.set_flow_style()
        return seq
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[_rt_str(key)] = _rt_value(item)
        mapping.fa.set_flow_style()
        return mapping
    _flow(value)  # refuses what dump_config would refuse
    return value


_representer: Any = None


def _rt_representer() -> Any:
    """ruamel.yaml's round-trip representer, writing new floats as dump_config does."""
    global _representer
    if _representer is None:
        from ruamel.yaml.representer import RoundTripRepresenter

        class Representer(RoundTripRepresenter):
            pass

        def represent_float(representer: Any, number: float) -> Any:
            return representer.represent_scalar(_TAG + "float", _float(number))

        Representer.add_representer(float, represent_float)
        _representer = Representer
    return _representer


_NULL_WORDS = frozenset(("null", "Null", "NULL", "~"))


def parse_value(text: str) -> Any:
    """Parse a command-line value as YAML 1.2: ``32``, ``1e-3``, ``true``, ``null``, ``[1, 2]``.

    Quote a value to keep it a string (``'32'``); ``no`` and dates are strings already. An empty
    or blank value, or one YAML reads as nothing but a comment (``#1``), is the string as
    given: write ``null`` for None. Malformed YAML and tags such as ``!!python/object`` raise
    ``YamlError``.
    """
    fast = _FAST_ARG.fullmatch(text)
    if fast is not None:
        return _fast_arg(fast)
    return parse_value_yaml(text)  # blank text too: it is returned as it is


def parse_value_yaml(text: str) -> Any:
    """``parse_value`` through ruamel.yaml alone, without the fast path for plain scalars."""
    if not text.strip():
        return text
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    loader = YAML(typ="safe", pure=True)
    loader.Constructor = _safe_constructor()
    try:
        value = loader.load(text)
    except YAMLError as exc:
        raise _yaml_error(f"value {text!r}", exc) from exc
    except (ValueError, OverflowError):  # ruamel resolves "-_" or "._" as a number, then fails
        raise YamlError(f"value {text[:40]!r}", "it reads as a malformed number") from None
    except RecursionError:
        raise YamlError(
            f"value {text[:40]!r}", f"nesting is too deep; use at most {MAX_DEPTH} levels"
        ) from None
    check_shape(value, f"value {text[:40]!r}")
    if value is None and text.strip() not in _NULL_WORDS:
        return text
    return _plain(value)


# The values a sweep or ``--set`` gives most (32, 0.001, 1e-3, true, adam), read without
# starting a YAML parser; anything else goes to ruamel. A differential test holds the two equal.
_FAST_ARG = re.compile(
    r"(?P<int>0|-?[1-9][0-9]*)"
    r"|(?P<float>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+(?:[eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+))"
    r"|(?P<word>[A-Za-z][A-Za-z0-9_]*(?:[-./][A-Za-z0-9_]+)*)"
)
_ARG_WORDS: dict[str, Any] = {
    **{word: True for word in ("true", "True", "TRUE")},
    **{word: False for word in ("false", "False", "FALSE")},
    **{word: None for word in ("null", "Null", "NULL")},
}


def _fast_arg(match: re.Match[str]) -> Any:
    text = match.group()
    if match.group("int") is not None:
        try:
            return int(text)
        except ValueError:  # more digits than Python reads (4,300)
            raise YamlError(f"value {text[:40]!r}...", "it has more digits than 4,300") from None
    if match.group("float") is not None:
        return float(text)
    return _ARG_WORDS.get(text, text)


def _plain(value: Any) -> Any:
    """Nested data with string keys and lists only (as ruamel's safe loader may give sets)."""
    if isinstance(value, dict):
        return {_key_text(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(item) for item in value]
    return value


def _key_text(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bool) or key is None:
        return _flow(key)
    return str(key)


_constructor: Any = None


def _safe_constructor() -> Any:
    """ruamel.yaml's safe constructor, keeping dates as strings and refusing binary."""
    global _constructor
    if _constructor is None:
        from ruamel.yaml.constructor import ConstructorError as RuamelConstructorError
        from ruamel.yaml.constructor import SafeConstructor

        class Constructor(SafeConstructor):
            pass

        def construct_timestamp(constructor: Any, node: Any) -> str:
            return str(node.value)

        def refuse_binary(constructor: Any, node: Any) -> Any:
            raise RuamelConstructorError(
                None, None, "binary values (!!binary) are not supported", node.start_mark
            )

        Constructor.add_constructor(_TAG + "timestamp", construct_timestamp)
        Constructor.add_constructor(_TAG + "binary", refuse_binary)
        _constructor = Constructor
    return _constructor
