"""Start times sort by the instant they name, whatever the UTC offset they were written with."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gitcfg.starttime import start_order

_INSTANTS = st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1)).map(
    lambda when: when.replace(tzinfo=dt.timezone.utc)
)
# offsets of real zones (-12:00 to +14:00), whole hours and the odd ones (+05:30, +05:45...)
_OFFSETS = st.integers(min_value=-12 * 60, max_value=14 * 60).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
_SPECS = st.sampled_from(["milliseconds", "microseconds", "seconds"])


def _written(when: dt.datetime, zone: dt.timezone, spec: str) -> str:
    return when.astimezone(zone).isoformat(timespec=spec)


@given(
    st.lists(st.tuples(_INSTANTS, _OFFSETS, _SPECS), min_size=2, max_size=30),
)
def test_start_times_sort_by_their_instant(
    times: list[tuple[dt.datetime, dt.timezone, str]],
) -> None:
    texts = [_written(*item) for item in times]
    ordered = sorted(texts, key=start_order)
    instants = [dt.datetime.fromisoformat(text) for text in ordered]
    assert instants == sorted(instants)
    # the same instant written in another zone is the same key
    for when, zone, spec in times:
        assert start_order(_written(when, zone, spec)) == start_order(
            _written(when, dt.timezone.utc, spec)
        )


@pytest.mark.parametrize(
    ("started", "key"),
    [
        ("2026-03-29T07:53:00.000+00:00", "2026-03-29T07:53:00.000000"),
        ("2026-03-29T02:53:30.123-05:00", "2026-03-29T07:53:30.123000"),
        ("2026-01-01T00:30:00.000+01:00", "2025-12-31T23:30:00.000000"),
        ("2026-01-01T00:30:00+01:00", "2025-12-31T23:30:00.000000"),
        ("2026-01-01T00:30:00.5+01:00", "2025-12-31T23:30:00.500000"),
        ("2026-01-01T10:00:00.123+05:30", "2026-01-01T04:30:00.123000"),
        ("2026-01-01T09:00:00.5Z", "2026-01-01T09:00:00.500000"),
        ("2026-01-01 08:00:00", "2026-01-01T08:00:00.000000"),  # no offset: taken as UTC
        ("", ""),
        ("yesterday", "yesterday"),  # not a time: sorts as the text it is
    ],
)
def test_a_start_time_is_keyed_by_its_utc_time(started: str, key: str) -> None:
    assert start_order(started) == start_order(started) == key  # the second from what was kept
