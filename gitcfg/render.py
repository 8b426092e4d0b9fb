"""Text for people and scripts: values, config diffs, log entries, tables, CSV, JSON and YAML.

Nothing here knows about the terminal: whether to colour is a flag every caller passes, so the
same function serves a pager, a pipe and a test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from gitcfg.diff import MISSING, Change

_RESET = "\x1b[0m"
GREEN = "32"
RED = "31"
YELLOW = "33"
CYAN = "36"
BOLD = "1"


def paint(text: str, style: str, color: bool) -> str:
    """``text`` in an ANSI ``style`` (e.g. ``GREEN``) when ``color``, else unchanged."""
    return f"\x1b[{style}m{text}{_RESET}" if color and text else text


def value_text(item: Any) -> str:
    """A value as it is written in a stored config file: ``32``, ``'32'``, ``[1, 2]``, ``null``."""
    from gitcfg.yamlcodec import flow_text

    return flow_text(item)


def cell_text(item: Any) -> str:
    """A value in a table cell: strings as they are (one line), absent as empty, else as YAML."""
    cls = type(item)
    if cls is str and item.isprintable():
        return str(item)
    if cls is int:
        return str(item)
    if cls is float and item == item and abs(item) != float("inf"):
        return repr(item)
    if item is MISSING:
        return ""
    return value_text(item)


def short_sha(sha: Any) -> str:
    return sha[:7] if isinstance(sha, str) else ""


def change_lines(changes: Iterable[Change], color: bool) -> list[str]:
    """One line per changed key: ``+ key: new``, ``- key: old``, ``~ key: old -> new``."""
    lines = []
    for change in changes:
        if change.kind == "added":
            lines.append(paint(f"+ {change.key}: {value_text(change.new)}", GREEN, color))
        elif change.kind == "removed":
            lines.append(paint(f"- {change.key}: {value_text(change.old)}", RED, color))
        else:
            old, new = value_text(change.old), value_text(change.new)
            lines.append(paint(f"~ {change.key}: {old} -> {new}", YELLOW, color))
    return lines


def key_summary(changes: Sequence[Change]) -> str:
    """The keys a version changed, by kind: ``changed: lr; added: foo, bar; removed: seed``."""
    parts = []
    for kind in ("changed", "added", "removed"):
        keys = [c.key for c in changes if c.kind == kind]
        if keys:
            parts.append(f"{kind}: {', '.join(keys)}")
    return "; ".join(parts) if parts else "no config change"


def commit_time(timestamp: int) -> str:
    """A commit time in the local time zone, like git's: ``2024-05-01 12:00:03 +0200``."""
    return dt.datetime.fromtimestamp(timestamp).astimezone().strftime("%Y-%m-%d %H:%M:%S %z")


def log_entry(
    commit: str,
    timestamp: int,
    subject: str,
    runs: Sequence[tuple[str | None, Sequence[Change]]],
    *,
    patch: bool,
    color: bool,
    invalid: Mapping[str | None, Sequence[str]] | None = None,
) -> list[str]:
    """One commit of ``gitcfg log``: a header line, then per run the keys it changed.

    ``runs`` pairs a run name (None: the run is named by the command already) with its changes;
    ``patch`` shows each change with its values instead of the key names alone; ``invalid``
    names, by run name, the files that are not valid YAML at this commit (a line each).
    """
    lines = [f"{paint(short_sha(commit), YELLOW, color)} {commit_time(timestamp)}  {subject}"]
    for name, changes in runs:
        indent = "    "
        if name is not None:
            lines.append(f"    {paint(name, CYAN, color)}")
            indent = "      "
        bad = (invalid or {}).get(name, ())
        if patch:
            lines.extend(indent + line for line in change_lines(changes, color))
        elif changes or not bad:
            lines.append(indent + key_summary(changes))
        lines.extend(f"{indent}{file} not valid YAML at this version" for file in bad)
    return lines


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], color: bool) -> str:
    """Aligned columns separated by two spaces, a header line first (bold when ``color``)."""
    return "".join(table_chunks(headers, rows, color))


# Between a row's cell texts while the widths are measured: cell_text never writes a control
# character (a string holding one is written quoted, escaped), so each row is one string.
_CELL_SEP = "\x1f"


def cell_texts(values: Iterable[Any]) -> list[str]:
    """Each value's ``cell_text``, the common cases inline (a call per cell was most of the
    time of a table of 100,000 runs)."""
    return [
        x
        if (t := type(x)) is str and x.isprintable()
        else str(x)
        if t is int or (t is float and x - x == 0)
        else ""
        if x is MISSING
        else cell_text(x)
        for x in values
    ]


def line_pattern(widths: Sequence[int]) -> str:
    """The format of a table line: every column but the last padded to its width."""
    return "  ".join([f"{{:<{width}}}" for width in widths[:-1]] + ["{}"] if widths else [])


def table_chunks(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], color: bool, per_chunk: int = 1000
) -> Iterator[str]:
    """``table`` in pieces of ``per_chunk`` lines. The widths need every row first: each is
    kept as one string of its cells' texts (100,000 runs of thirty columns: ~40 MB, where a
    string per cell took 700 MB)."""
    widths = [len(h) for h in headers]
    kept: list[str | list[str]] = []
    for row in rows:
        texts = cell_texts(row)
        assert len(texts) == len(widths), "a row of another width than the headers"
        widths = list(map(max, widths, map(len, texts)))
        text = _CELL_SEP.join(texts)
        kept.append(text if text.count(_CELL_SEP) == len(texts) - 1 else texts)
    line = line_pattern(widths).format
    yield paint(line(*headers).rstrip(), BOLD, color) + "\n"
    for start in range(0, len(kept), per_chunk):
        yield "".join(
            [
                line(*(row.split(_CELL_SEP) if isinstance(row, str) else row)).rstrip() + "\n"
                for row in kept[start : start + per_chunk]
            ]
        )


def _csv_cell(item: Any) -> str:
    if item is MISSING:
        return ""
    if isinstance(item, str):
        return item
    return json.dumps(item)


def _csv_cells(row: Iterable[Any]) -> list[Any]:
    """A row's cells as csv_text writes them. Strings, ints and finite floats (``x - x`` is nan
    for an infinity or nan) go to the writer as they are, which writes them as _csv_cell would
    (json.dumps writes an int or a float as its repr); tested inline, not by a call per cell,
    which was most of the time of 100,000 runs."""
    return [
        x if (t := type(x)) is str or t is int or (t is float and x - x == 0) else _csv_cell(x)
        for x in row
    ]


def _nul_row(cells: Sequence[Any]) -> str:
    """A row of ``cells`` with a NUL in one as Python 3.11's csv writer writes it (the NUL as it
    is, unquoted): 3.10's refuses a NUL (its unset escape character), so a character in no cell
    of the row is written in its place, then turned back into NUL."""
    text = "".join(cell for cell in cells if isinstance(cell, str))
    stand_in = next(chr(code) for code in itertools.count(0xE000) if chr(code) not in text)
    row = io.StringIO(newline="")
    csv.writer(row, lineterminator="\r\n").writerow(
        [cell.replace("\0", stand_in) if isinstance(cell, str) else cell for cell in cells]
    )
    return row.getvalue().replace(stand_in, "\0")


def csv_text(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """RFC 4180 CSV (CRLF line ends, so a lone CR in a value is quoted too): strings as they are,
    other values as JSON (``true``, ``null``, ``[1, 2]``, ``Infinity``)."""
    return "".join(csv_chunks(headers, rows))


def csv_chunks(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], per_chunk: int = 1000
) -> Iterator[str]:
    """``csv_text`` in pieces of ``per_chunk`` rows, so 100,000 runs are never one string."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(headers)  # keys hold no NUL
    for count, row in enumerate(rows, 1):
        cells = _csv_cells(row)
        try:
            writer.writerow(cells)
        except csv.Error:  # Python 3.10, a NUL in a cell
            buffer.write(_nul_row(cells))
        if count % per_chunk == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


# RFC 8259 JSON has no NaN or infinities (strict parsers, JavaScript's and Go's among them,
# refuse Python's NaN and Infinity), yet a diverged run's loss is one. JSON for scripts writes
# them as strings, the way protobuf's JSON mapping does: "NaN", "Infinity", "-Infinity" (which
# Python's float() reads back). null would lose them, and sort first.
_strict = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
_strict_indented = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=2).encode


def finite(item: Any) -> Any:
    """``item`` with every non-finite float in it (in mappings and lists too) as its string."""
    if isinstance(item, float):
        if item - item == 0:  # finite (nan and infinities give nan)
            return item
        return "NaN" if item != item else "Infinity" if item > 0 else "-Infinity"
    if isinstance(item, Mapping):
        return {k: finite(v) for k, v in item.items()}
    if isinstance(item, (list, tuple)):
        return [finite(v) for v in item]
    return item


def strict_json(item: Any, *, indent: bool = False) -> str:
    """``item`` as RFC 8259 JSON (see ``finite``), keys in the order given, non-ASCII kept."""
    encode = _strict_indented if indent else _strict
    try:
        return encode(item)
    except ValueError:  # a nan or an infinity somewhere (rare): written as text
        return encode(finite(item))


def strict_text(text: str) -> str:
    """A JSON text that Python's json wrote (or its like), made RFC 8259 JSON: unchanged unless
    it holds a NaN or an infinity outside its strings."""
    if "NaN" not in text and "Infinity" not in text:
        return text
    item = json.loads(text)
    try:
        _strict(item)
    except ValueError:
        return _strict(finite(item))
    return text  # the words were inside strings


def json_text(data: Any) -> str:
    """JSON for scripts: indented, keys in the order given, non-ASCII kept."""
    return strict_json(data, indent=True) + "\n"


def json_list(items: Sequence[Any]) -> str:
    """A JSON list with one item per line; see ``json_list_chunks``."""
    return "".join(json_list_chunks(items))


def json_list_chunks(items: Sequence[Any], per_chunk: int = 1000) -> Iterator[str]:
    """A JSON list with one item per line, in pieces, so 100,000 runs are never one string.

    Items are encoded one by one without indentation: only then does json use its C encoder.
    """
    if not items:
        yield "[]\n"
        return
    for start in range(0, len(items), per_chunk):
        body = ",\n".join([strict_json(item) for item in items[start : start + per_chunk]])
        end = "\n]\n" if start + per_chunk >= len(items) else ""
        yield ("[\n" if start == 0 else ",\n") + body + end


def yaml_list(items: Sequence[Mapping[str, Any]]) -> str:
    """A YAML block sequence of mappings (nested mappings in block style, lists in flow)."""
    from gitcfg.yamlcodec import dump_yaml

    if not items:
        return "[]\n"
    out = []
    for item in items:
        text = dump_yaml(dict(item)) if item else "{}\n"
        lines = text.splitlines()
        out.append("- " + lines[0])
        out.extend("  " + line for line in lines[1:])
    return "\n".join(out) + "\n"
