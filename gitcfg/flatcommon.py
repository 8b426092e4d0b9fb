"""Files of a batch that share their first and last lines, made JSON text from the lines between.

A store's files mostly differ in a line or two: a config recorded through the API in its seed,
every meta file in its start time. The lines all the files of a batch begin with, and those they
all end with, are made JSON once; each file's lines between go through ``gitcfg.flatjson``'s
paths alone, a few bytes a file rather than the whole file (matching a file's shared lines was
most of what converting it cost). A plain-form line's JSON member depends on that line alone,
so a file's JSON is the shared lines' members around its own.

The keys are judged as the file's: the shared keys with each distinct sequence of a file's own
keys (``plainform.sound_keys``). A file whose own lines are not in the plain form, or whose keys
are not sound, is handed back, as are all the files when they share too little.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Sequence

from gitcfg.plainform import sound_keys

# Shared lines worth the detour: at least half the shortest file.
_MIN_SHARE = 0.5
# In the plain form a line's first ': ' ends its key: this strips each line to its key.
_VALUE = re.compile(r": [^\n]*")
# Files whose shared lines are looked for first: the lines all share are at most theirs.
_SAMPLES = 16
# Files found not to end as the candidate end does, before the end is given up on.
_MAX_ENDS = 8


def shared_lines(texts: Sequence[str]) -> tuple[str, str] | None:
    """The lines all ``texts`` (ending with a newline) begin with and those they all end
    with, if they make at least ``_MIN_SHARE`` of the shortest text and leave each text a
    line of its own; else None. Files that share little are known from their first few."""
    if not texts or (len(texts) > _SAMPLES and _shared(texts[:_SAMPLES]) is None):
        return None
    return _shared(texts)


def _shared(texts: Sequence[str]) -> tuple[str, str] | None:
    shortest = min(map(len, texts))
    # the common start of the least and the greatest text is every text's
    least, greatest = min(texts), max(texts)
    start = least[: _common_start(least, greatest)]
    head = start[: start.rfind("\n") + 1]
    end = _common_end(texts)
    # the end's first line may be a part of a line: it is each text's own
    cut = end.find("\n")
    tail = end[cut + 1 :] if cut >= 0 else ""
    shared = len(head) + len(tail)
    if shared < shortest * _MIN_SHARE or shared >= shortest:
        return None
    return head, tail


def own_lines(texts: Sequence[str], head: str, tail: str) -> list[str]:
    """Each text's lines between ``head`` and ``tail`` (``shared_lines``)."""
    start, stop = len(head), len(tail)
    return [text[start:-stop] for text in texts] if stop else [text[start:] for text in texts]


def translate(
    texts: Sequence[str],
    batch: list[int],
    found: list[str | None],
    convert_many: Callable[[Sequence[str]], list[str | None]],
    convert_one: Callable[[str], str | None],
) -> list[int]:
    """Set ``found[i]`` to the JSON text of each file ``texts[i]`` of ``batch`` made from the
    lines the batch shares and its own lines' JSON (``convert_many`` of them, without this
    step; ``convert_one`` of the shared lines: ``flatjson``'s); return the files not made.
    ``batch`` files end with a newline and hold no NUL."""
    chosen = [texts[i] for i in batch]
    shared = shared_lines(chosen)
    if shared is None:
        return batch
    head, tail = shared
    head_json = convert_one(head) if head else "{}"
    tail_json = convert_one(tail) if tail else "{}"
    if head_json is None or tail_json is None:
        return batch
    own = own_lines(chosen, head, tail)
    made = convert_many(own)
    # each file's own keys, a line each; judged with the shared keys once per distinct sequence
    sequences = _VALUE.sub("", "\0".join(own)).split("\0")
    around = (head + tail).split("\n")[:-1]
    shared_keys = [line.partition(": ")[0] for line in around]
    sound = {keys: sound_keys(shared_keys + keys[:-1].split("\n")) for keys in set(sequences)}
    left = "{" + head_json[1:-1] + ", " if head else "{"
    right = ", " + tail_json[1:-1] + "}" if tail else "}"
    others: list[int] = []
    for index, json_text, keys in zip(batch, made, sequences, strict=True):
        # an own part of no member ("{}"): a line "{}" between shared ones, not the plain form
        if json_text is None or json_text == "{}" or not sound[keys]:
            others.append(index)
        else:
            found[index] = left + json_text[1:-1] + right
    return others


def _common_start(one: str, other: str) -> int:
    """The length of the start ``one`` and ``other`` share, found by halving (C compares)."""
    low, high = 0, min(len(one), len(other))
    while low < high:
        middle = (low + high + 1) // 2
        if one[:middle] == other[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def _common_end(texts: Sequence[str]) -> str:
    """The end all ``texts`` share ('' past ``_MAX_ENDS`` shorter ones): the first text's,
    cut to what the first that does not end with it shares (a C pass over them each time)."""
    end = texts[0]
    for _ in range(_MAX_ENDS):
        other = next(itertools.filterfalse(operator.methodcaller("endswith", end), texts), None)
        if other is None:
            return end
        end = end[len(end) - _common_start(end[::-1], other[::-1]) :]
    return ""
