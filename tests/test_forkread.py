"""The forked helper: every record it makes arrives once, and any failure of the copy shows."""

from __future__ import annotations

import os
import random
import signal
import time
from typing import NamedTuple

import pytest

from gitcfg import forkread
from gitcfg.forkread import Helper, Sink

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _records(start: int, count: int) -> list[tuple[str, str, str]]:
    return [(f"{i:08d}", "é" * (i % 5), "x" * (i % 3000)) for i in range(start, start + count)]


def test_every_record_arrives_in_order_through_a_pipe_many_times_its_size() -> None:
    def work(sink: Sink) -> None:  # ~75 MB in all: the pipe holds 1 MiB at a time
        for start in range(0, 50_000, 2_000):
            sink(_records(start, 2_000))

    helper = Helper(work, fields=3)
    assert helper.records() == _records(0, 50_000)


def test_the_records_come_back_sorted_whatever_order_the_copy_made_them_in() -> None:
    made = _records(0, 20_000)
    random.Random(7).shuffle(made)

    def work(sink: Sink) -> None:
        for start in range(0, len(made), 3_000):
            sink(made[start : start + 3_000])
        sink([])  # nothing this time

    assert Helper(work, fields=3).records() == sorted(made)
    # each made as it arrives by what the caller keeps (a tuple's subclass), in the same order
    kept = Helper(work, 3, _Kept._make).records()
    assert kept == sorted(made) and kept is not None and type(kept[0]) is _Kept


class _Kept(NamedTuple):
    number: str
    letters: str
    text: str


def test_a_copy_that_ends_before_it_sends_the_order_gives_nothing() -> None:
    def work(sink: Sink) -> None:
        sink(_records(0, 1_000))
        os._exit(0)  # a clean exit status, no order sent

    assert Helper(work, fields=3).records() is None


def test_a_copy_that_fails_half_way_gives_nothing() -> None:
    def work(sink: Sink) -> None:
        sink(_records(0, 1_000))
        raise RuntimeError("a corrupt file in its half")

    assert Helper(work, fields=3).records() is None


def test_a_copy_killed_by_a_signal_gives_nothing() -> None:
    def work(sink: Sink) -> None:
        sink(_records(0, 10))
        os.kill(os.getpid(), signal.SIGKILL)

    assert Helper(work, fields=3).records() is None


@pytest.mark.parametrize("separator", ["\x1f", "\x1e"])
def test_a_field_holding_a_separator_gives_nothing_rather_than_wrong_records(
    separator: str,
) -> None:
    def work(sink: Sink) -> None:
        sink([("a", "b", "c"), ("d", f"e{separator}f", "g"), ("h", "i", "j")])

    assert Helper(work, fields=3).records() is None


def test_stop_ends_a_copy_that_would_run_for_ever() -> None:
    def work(sink: Sink) -> None:
        while True:
            sink(_records(0, 100))

    helper = Helper(work, fields=3)
    time.sleep(0.2)
    started = time.monotonic()
    helper.stop()
    assert time.monotonic() - started < 10
    assert not os.path.exists(f"/proc/{helper.pid}")  # reaped: no zombie left behind


def test_no_fork_while_another_thread_runs() -> None:
    import threading

    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not forkread.can_fork()
    finally:
        release.set()
        other.join()
