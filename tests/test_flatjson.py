"""The YAML-to-JSON translation of listings: always the full loader's answer, as JSON text."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gitcfg.errors import YamlError
from gitcfg.flat import flatten, is_valid_key
from gitcfg.flatjson import (
    encode,
    fast_json,
    fast_json_many,
    plain_lines,
    to_json,
    to_json_many,
)
from gitcfg.plainform import sound_keys
from gitcfg.yamlcodec import dump_config, load_config
from tests.test_yamlcodec import TRICKY
from tests.test_yamlcodec import same as same_value


def same(a: Any, b: Any) -> bool:
    """Equal in type and value (see test_yamlcodec), and every mapping's keys in one order."""
    return same_value(a, b) and _order(a) == _order(b)


def _order(value: Any) -> Any:
    if isinstance(value, dict):
        return [(key, _order(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_order(item) for item in value]
    return None


def loaded(text: str) -> str | YamlError:
    """What the listing must give for ``text``: json.dumps of the loader's answer, or its error."""
    try:
        return encode(load_config(text, "f"))
    except YamlError as exc:
        return exc


_keys = st.one_of(
    st.sampled_from(["a", "a.b", "a.b.c", "lr", "lr0", "b", "model.depth", "_x", "/p", "x-y"]),
    st.sampled_from(TRICKY),
    st.text(min_size=1, max_size=8),
).filter(is_valid_key)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, 1e-05, 1e300, 1e16, -1e-300, 5e-324, 0.1, 10**20 + 0.5]),
    st.text(max_size=12),
    st.sampled_from(TRICKY),
)
_values = st.one_of(_scalars, st.lists(_scalars, max_size=4), st.lists(st.lists(_scalars)))


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=10))
def test_files_dump_config_writes_are_json_dumps_of_the_loader_byte_for_byte(
    config: dict[str, Any],
) -> None:
    try:
        text = dump_config(flatten(config))
    except Exception:  # a collision or a value dump_config refuses: not a file it writes
        return
    expected = encode(load_config(text, "f"))
    assert to_json(text, "f") == expected
    fast = fast_json(text)
    assert fast is None or fast == expected


# Hand-written lines: tokens the translation knows and tokens it must not take for them.
_tokens = st.sampled_from(
    [
        *("1", "-1", "0", "-0", "007", "1.5", "0.10", "-0.0", "1.0e-05", "1e-05", "1.5e+20"),
        *("1.e3", "1.0e+16", "-1.0e-05"),
        *(".inf", "-.inf", ".nan", ".NaN", "+1", "0x1F", "1_000", "12:30", "2024-01-01"),
        *("true", "false", "null", "True", "NULL", "yes", "no", "on", "Off", "y", "n", "~"),
        *("resnet", "ds-0", "a.b", "/x/y", "_", "a b", "x#y", "x #y", "x: y", "&a", "*a", "!t"),
        *("'q'", "'it''s'", "''", "'a: b'", "'a, b'", "'[x'", "'\"'", "'\\'", '"d"', '"\\x41"'),
        *("[]", "[1, 2]", "[a, b]", "[no, 1]", "[[1]]", "[1,2]", "[ 1 ]", "{}", "{a: 1}", "[-0]"),
        *("[true, null]", "[1.0e-05, .inf]", "[x, 'y']", "é", "'é'", ""),
    ]
)
_line_keys = st.sampled_from(["a", "b", "a.b", "a.b.c", "b.a", "lr", "z", "'q k'", "1", "true"])
_lines = st.lists(st.tuples(_line_keys, _tokens), min_size=1, max_size=6)


@settings(max_examples=600, deadline=None)
@given(_lines, st.sampled_from(["\n", "  # note\n", " \n"]))
@example([("a", "1"), ("a", "2")], "\n")  # a repeated key
@example([("a", "1"), ("a.b", "2")], "\n")  # a leaf and a branch
@example([("b", "1"), ("a", "resnet")], "\n")  # unsorted, still fine
@example([("a", "no")], "\n")
@example([("a", "[1, no]")], "\n")
def test_hand_written_files_read_as_the_loader_reads_them(
    lines: list[tuple[str, str]], end: str
) -> None:
    text = "".join(f"{key}: {token}{end}" for key, token in lines)
    expected = loaded(text)
    fast = fast_json(text)
    if isinstance(expected, YamlError):
        assert fast is None
        with pytest.raises(YamlError):
            to_json(text, "f")
        return
    if fast is not None:  # the same values (a hand-written 0.10 stays 0.10 in the text)
        assert same(json.loads(fast), json.loads(expected)), (text, fast, expected)
    assert same(json.loads(to_json(text, "f")), json.loads(expected))


_files = _lines.map(lambda lines: "".join(f"{key}: {token}\n" for key, token in lines))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_files, st.just("{}\n"), st.just("a: 1")), max_size=8))
def test_a_batch_answers_as_each_file_alone(texts: list[str]) -> None:
    assert fast_json_many(texts) == [fast_json(text) for text in texts]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_files, st.just("{}\n")), min_size=1, max_size=12))
def test_files_of_their_own_lines_answer_as_each_file_alone(texts: list[str]) -> None:
    # a line of its own in each file: the batch takes the file-by-file path
    texts = [text + f"zz: {i}.5\n" for i, text in enumerate(texts)]
    assert fast_json_many(texts) == [fast_json(text) for text in texts]


def test_config_files_with_keys_the_loader_must_judge() -> None:
    # files of their own lines (a store's configs), a few with keys the loader refuses or
    # values the translation must leave to it, among plain ones with dotted keys
    def config(i: int) -> str:
        return dump_config({"a.b": i, "a.c": [i, "x"], "lr": 1e-05 * i, "name": f"n{i}"})

    texts = [config(i) for i in range(200)]
    texts[3] = "a: 1\na.b: 2\n"  # a leaf and a branch
    texts[4] = "a: 1\nb: 2\na: 3\n"  # a repeated key
    texts[5] = "b: 1\na: 2\n"  # unsorted: fine
    texts[6] = "k" * 501 + ": 1\n"  # a key longer than flat allows
    texts[7] = "a: 'x: y, z'\nb: [yes, 'no', on]\nc: .inf\nd: -.nan\ne: 1.0e-05\n"
    texts[8] = "a: " + "9" * 4301 + "\n"  # past Python's int limit
    texts[9] = "a: entraîné\n"
    texts[10] = "a: 12345678901234567890123\nb: 1.5e+300\nc: '12:30'\n"
    answers = fast_json_many(texts)
    assert answers == [fast_json(text) for text in texts]
    for text, answer in zip(texts, answers, strict=True):
        if answer is None:
            continue
        expected = loaded(text)
        assert not isinstance(expected, YamlError), text
        assert same(json.loads(answer), json.loads(expected)), (text, answer, expected)
    refused = [i for i, answer in enumerate(answers) if answer is None]
    assert refused == [3, 4, 6, 7, 8, 9]  # 10 is plain; 7 holds what only the loader reads


def test_a_few_odd_files_among_many_leave_the_others_read_as_a_batch() -> None:
    # meta files of a sweep: shared lines, and a handful whose command line needs quoting the
    # batch path does not know, a non-ASCII name, a long number, or a comment
    def meta(i: int, command: str = "python train.py") -> str:
        return dump_config({"command": f"{command} --x={i}", "host": "vm", "point": i})

    texts = [meta(i) for i in range(300)]
    texts[7] = meta(7, "python train.py --note 'it''s'")
    texts[150] = meta(150, "python entraîné.py")
    texts[151] = texts[151] + "# a note\n"
    texts[299] = "command: x\nhost: vm\npoint: " + "1" * 5000 + "\n"  # past Python's int limit
    answers = fast_json_many(texts)
    assert answers == [fast_json(text) for text in texts]
    assert all(
        answer is None or json.loads(answer) == json.loads(loaded(text))  # type: ignore[arg-type]
        for answer, text in zip(answers, texts, strict=True)
    )
    assert sum(answer is None for answer in answers) <= 4


def test_files_sharing_all_lines_but_one_or_of_many_shapes_read_as_the_loader_does() -> None:
    # configs of runs made through the API: one own line (the seed); then files sharing their
    # lines but each of its own keys, which fit no shape and are read line by line
    fixed = {"layers": [64, 32], "lr": 1e-05, "model.act": "relu", "opt": "sgd", "tag": "x"}
    fixed |= {f"param_{k:02d}": k * 0.5 for k in range(25)}
    texts = [dump_config(fixed | {"seed": i * 7919 % 100003}) for i in range(300)]
    texts += [
        dump_config({f"k{j}": j * 0.5 for j in range(40) if (i >> j % 9) & 1}) for i in range(300)
    ]
    answers = fast_json_many(texts)
    assert answers == [fast_json(text) for text in texts]
    assert None not in answers
    for text, answer in zip(texts, answers, strict=True):
        assert answer == loaded(text), text


def test_a_number_python_will_not_read_among_files_of_their_own_lines() -> None:
    # files sharing few lines take the file-by-file check; one holds a 5,000-digit number
    texts = [dump_config({f"p{k}": i * 100 + k + 0.5 for k in range(20)}) for i in range(300)]
    texts[123] = texts[123].replace("p0: ", "p0: " + "7" * 5000 + "\np00: ", 1)
    answers = fast_json_many(texts)
    assert answers == [fast_json(text) for text in texts]
    assert answers[123] is None and all(a is not None for a in answers[:123] + answers[124:])


def test_the_plain_form_is_translated_without_the_loader() -> None:
    text = dump_config(
        {
            "lr": 1e-05,
            "big": 1e16,
            "model": "resnet",
            "answer": "no",
            "path": "/data/x",
            "layers": [64, "relu", None, True, 0.5, float("inf")],
            "nan": float("nan"),
            "empty": [],
            "when": "2026-01-01T00:00:00+00:00",
            "size": -3,
        }
    )
    fast = fast_json(text)
    assert fast == encode(load_config(text, "f"))
    assert fast is not None and '"lr": 1e-05' in fast and '"nan": NaN' in fast
    assert fast_json("{}\n") == "{}"


def test_errors_name_the_file() -> None:
    with pytest.raises(YamlError, match=r"p/config\.yaml"):
        to_json_many(["a: 1\n", "a: [\n"], ["p/meta.yaml", "p/config.yaml"])


# hand-written files: refused keys, comments, non-ASCII, an empty line, and numbers the form
# takes or not by a digit (a leading zero, -0; 0, 10, 1.05e+5)
_ODD_FILES = ["", "a: 1\na: 2\n", "a: 1\na.b: 2\n", "# note\nx: 1\n", "x: 'ü'\n", "{}\n", "\n"]
_ODD_FILES += ["x: 007\n", "x: -0\n", "x: 0\n", "x: 10\n", "x: -0.0\n", "x: 1.05e+5\n", "x: 05.5\n"]


def _lines_keys(text: str) -> list[str]:
    return [line.split(": ", 1)[0] for line in text.splitlines()]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.dictionaries(_keys, _values, max_size=6), min_size=1, max_size=6),
    st.sampled_from(_ODD_FILES),
    st.integers(1, 80),
)
def test_plain_lines_takes_what_fast_json_takes_but_for_its_keys(
    configs: list[dict[str, Any]], odd: str, copies: int
) -> None:
    # many copies of a few files: their lines mostly shared, as meta files' are; or each file
    # once; a hand-written one among them
    texts = [dump_config(config) for config in configs] + [odd]
    for batch in (texts, texts * copies):
        found = plain_lines(batch)
        assert found == [plain_lines([text])[0] for text in batch]
        for text, lined in zip(batch, found, strict=True):
            taken = fast_json(text) is not None
            assert taken == (lined and (text == "{}\n" or sound_keys(_lines_keys(text))))
