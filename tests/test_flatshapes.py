"""Files translated a shape at a time: the same JSON text as each file read alone, or left to
flatjson's other paths, never a file taken for plain that is not."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg import flatshapes
from gitcfg.flatjson import encode, fast_json, fast_json_many
from gitcfg.yamlcodec import dump_config, load_config
from tests.test_flatjson import _tokens

_keys = st.sampled_from(["a", "b", "a.b", "a.b.c", "lr", "z", "x-y", "/p", "'q k'", "1", "true"])


def _translated(texts: list[str]) -> tuple[list[str | None], list[int]]:
    found: list[str | None] = [None] * len(texts)
    left = flatshapes.translate(texts, list(range(len(texts))), found)
    return found, left


def assert_made_or_left(texts: list[str], found: list[str | None], left: list[int]) -> None:
    """Every file made has fast_json's text, the others are left; the batch answers as each
    file alone."""
    for index, text in enumerate(texts):
        if index in left:
            assert found[index] is None
        else:
            assert found[index] == fast_json(text), text
    assert fast_json_many(texts) == [fast_json(text) for text in texts]


def _check(texts: list[str]) -> list[int]:
    """``assert_made_or_left`` for a shape at a time; the files left, returned."""
    found, left = _translated(texts)
    assert_made_or_left(texts, found, left)
    return left


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_files_of_a_few_shapes_read_as_each_file_alone(data: st.DataObject) -> None:
    # a store's files: the same keys, each key's value one of a few tokens, hand-written ones
    # among them (quoting, comments, words YAML resolves, numbers JSON writes otherwise...)
    keys = data.draw(st.lists(_keys, min_size=1, max_size=4))
    pools = [data.draw(st.lists(_tokens, min_size=1, max_size=3)) for _ in keys]
    count = data.draw(st.integers(flatshapes.MIN_FILES, 60))
    texts = []
    for i in range(count):
        lines = [
            f"{k}: {data.draw(st.sampled_from(p))}\n" for k, p in zip(keys, pools, strict=True)
        ]
        texts.append("".join(lines) + f"zz: {i}.5\n")  # a line of its own: config files
    _check(texts)


def test_what_dump_config_writes_is_json_dumps_of_the_loader_byte_for_byte() -> None:
    odd = ["it's", "a: b", "entraîné", "'x'"]  # what only the loader reads

    def config(i: int) -> dict[str, Any]:
        return {
            "lr": [1e-05, 0.001, 1e-300, 0.5, 1e16 * i][i % 5],
            "model": ["resnet", "a.b/c", "_x"][i % 3],  # words
            "note": odd[i // 30 % 4] if i % 30 == 29 else ["no", "12:30", "a b", ""][i % 4],
            "layers": [[64, "relu", None], [1, 2], [], [True, 0.5, float("inf")]][i % 4],
            "nan": [float("nan"), -0.0, -float("inf"), 0, True, None][i % 6],
            "empty": {} if i % 2 else [],
            "seed": -i,
        }

    texts = [dump_config(config(i)) for i in range(140)]
    left = _check(texts)
    # the files left are those the loader reads: ('' inside quotes, ': ', non-ASCII)
    assert left == [i for i, text in enumerate(texts) if fast_json(text) is None] != []
    for text, answer in zip(texts, fast_json_many(texts), strict=True):
        if answer is not None:
            assert answer == encode(load_config(text, "f"))


def test_a_key_holding_numbers_and_nulls_widens_its_shape() -> None:
    texts = [dump_config({"a": i + 0.5, "b": None if i % 3 else i, "c": "x"}) for i in range(64)]
    assert _check(texts) == []
    assert json.loads(_translated(texts)[0][1] or "") == {"a": 1.5, "b": None, "c": "x"}


def test_files_of_many_shapes_are_left_to_flatjson_at_once() -> None:
    # few of them share their keys: a substitution would fit too few to pay for itself
    texts = [dump_config({f"k{i % 9}": i, f"j{i % 5}": "x", "lr": 0.5}) for i in range(200)]
    assert _check(texts) == list(range(200))


def test_files_of_more_shapes_than_a_batch_tries_are_read_all_the_same() -> None:
    # each key a word in some files and a number in others: shapes by the dozen
    texts = [
        dump_config({k: (f"w{i}" if (i >> n) & 1 else i) for n, k in enumerate("abcdef")})
        for i in range(200)
    ]
    left = _check(texts)
    assert left  # past the rounds a batch runs, flatjson reads them
    assert all(answer is not None for answer in fast_json_many(texts))


def test_a_text_that_would_read_as_plain_once_joined_is_left_alone() -> None:
    plain = [f"a: x{i}\nb: {i}\n" for i in range(40)]
    odd = [
        "a: x, 'b: 1\n",  # a quote and ': ' inside a value
        'a: x\nb: "1"\n',  # a double quote
        "a: x\nb: 1\n# note\n",
        "a: x\nb: 1\n\nb: 2\n",
        "b: 1\na: x\n",  # another shape: fine
        "a: x\nb: 01\n",
        "a: x\nb: -0\n",
        "a: true\nb: 1\n",
        "a: True\nb: 1\n",
    ]
    texts = plain[:20] + odd + plain[20:]
    left = _check(texts)
    assert {texts[i] for i in left} >= set(odd) - {"b: 1\na: x\n", "a: true\nb: 1\n"}


def test_a_value_most_files_share_is_matched_as_it_is_and_the_others_all_the_same() -> None:
    # meta files: the same host in the first files read, another in some later, a start time
    # each: a first substitution takes the host as written, a second the others
    def meta(i: int) -> str:
        host = "vm2" if i >= 30 and i % 5 == 3 else "vm"
        return dump_config({"host": host, "started": f"2026-01-01T00:00:{i:02d}", "dirty": i > 90})

    texts = [meta(i) for i in range(100)]
    assert _check(texts) == []
    assert json.loads(fast_json_many(texts)[98] or "") == {
        "dirty": True,
        "host": "vm2",
        "started": "2026-01-01T00:00:98",
    }
