"""Files made JSON from the lines they do not all share: the same JSON text as each file read
alone, or handed back to flatjson's other paths, never a file taken for plain that is not."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gitcfg import flatcommon
from gitcfg.flatjson import fast_json, fast_json_many, plain_lines
from tests.test_flatjson import _line_keys, _tokens
from tests.test_flatshapes import assert_made_or_left


def _check(texts: list[str]) -> list[int]:
    """Every file made has fast_json's text, the others are handed back; the batch answers as
    each file alone. The files handed back, returned."""
    found: list[str | None] = [None] * len(texts)
    left = flatcommon.translate(
        texts,
        list(range(len(texts))),
        found,
        lambda own: fast_json_many(own, shared=False),
        fast_json,
    )
    assert_made_or_left(texts, found, left)
    # the plain form line by line, judged from the shared lines once: as each file alone
    assert plain_lines(texts) == [plain_lines([text], shared=False)[0] for text in texts]
    return left


def _configs(own: list[str], before: str = "", after: str = "") -> list[str]:
    return [before + line + after for line in own]


_BEFORE = "batch: 64\nlayers: [64, 32]\nlr: 0.001\nmodel: resnet\nname: 'run one'\n"
_AFTER = "warmup: 10\nzeta: null\n"


def test_files_differing_in_one_line_read_as_each_file_alone() -> None:
    # a store built through the API: every config the same but its seed
    texts = _configs([f"seed: {i * 7919}\n" for i in range(40)], _BEFORE, _AFTER)
    assert _check(texts) == []


def test_files_differing_in_their_last_or_first_line_read_as_each_file_alone() -> None:
    assert _check(_configs([f"zz: {i}.5\n" for i in range(40)], _BEFORE + _AFTER)) == []
    assert _check(_configs([f"aa: 'x{i}'\n" for i in range(40)], after=_BEFORE)) == []


def test_a_line_not_in_the_plain_form_among_the_own_lines_is_handed_back() -> None:
    own = [f"seed: {i}\n" for i in range(40)]
    own[3] = "seed: 0x1F\n"  # YAML reads an int, not the text
    own[5] = "{}\n"  # no key at all: no member, and not an empty file either
    own[7] = "seed: 1  # a comment\n"
    texts = _configs(own, _BEFORE, _AFTER)
    assert _check(texts) == [3, 5, 7]
    assert [i for i, plain in enumerate(plain_lines(texts)) if not plain] == [3, 5, 7]


def test_a_shared_line_not_in_the_plain_form_leaves_every_file_out() -> None:
    texts = _configs([f"seed: {i}\n" for i in range(40)], _BEFORE, "zeta: yes\n")
    assert _check(texts) == list(range(40))
    assert not any(plain_lines(texts))


def test_keys_sound_alone_but_not_with_the_shared_ones_are_handed_back() -> None:
    own = [f"seed: {i}\n" for i in range(40)]
    own[2] = "lr: 2\n"  # the key of a shared line again
    own[4] = "model.depth: 50\n"  # a branch of a shared leaf
    assert _check(_configs(own, _BEFORE, _AFTER)) == [2, 4]


def test_files_sharing_too_little_are_all_handed_back() -> None:
    texts = [f"a: {i}\nb: {i}\nc: {i}\nz: 1\n" for i in range(40)]
    assert _check(texts) == list(range(40))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_files_around_shared_lines_read_as_each_file_alone(data: st.DataObject) -> None:
    # shared lines and own lines of any keys and tokens, hand-written ones among them
    def lines(most: int) -> str:
        drawn = data.draw(st.lists(st.tuples(_line_keys, _tokens), max_size=most))
        return "".join(f"{key}: {token}\n" for key, token in drawn)

    before, after = lines(4), lines(3)
    own = [lines(2) + f"zz{i % 3}: {i}\n" for i in range(data.draw(st.integers(32, 48)))]
    _check(_configs(own, before, after))
