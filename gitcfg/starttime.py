"""A run's start time as a key that sorts by the instant it names, whatever its time zone.

meta.yaml keeps when a run started as the local time of the machine that ran it, with its UTC
offset (``2026-03-29T02:53:00.000-05:00``, as ``provenance.now_iso`` writes it): what people
read. Runs pulled from machines in other zones, or started either side of a change to summer
time, then sort wrong as text (07:53+00:00 before 02:53-05:00, which is later), so listings
sort by this key instead: the same instant in UTC, ``2026-03-29T07:53:00.000``, as wandb orders
runs by their ``created_at`` in UTC.
"""

from __future__ import annotations

import datetime as dt
import re

# ISO 8601 with a UTC offset of whole hours (most zones), as gitcfg writes it: its minutes,
# seconds and fraction are the same in UTC, so only the hour moves, and each hour's UTC text is
# kept.
_WHOLE_HOUR_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?[+-]\d\d:00")
_HOURS_KEPT = 100_000  # the hours of some 10 years: a long-lived process stays bounded
_utc_hours: dict[str, str] = {}  # "YYYY-MM-DDTHH" + offset -> that hour in UTC


def start_order(started: str) -> str:
    """``started`` (ISO 8601) as UTC text, ``YYYY-MM-DDTHH:MM:SS.ffffff``, which sorts by the
    instant; a time without an offset is taken as UTC; '' stays ''; a text that is not a time
    is kept as it is (it sorts as text, as before). Called once a run by a cold listing, so the
    common form costs a lookup and a few slices, not a parse."""
    hour = started[:13] + started[-6:]
    known = _utc_hours.get(hour)
    if known is None:
        if not _WHOLE_HOUR_OFFSET.fullmatch(started):
            return _utc(started) if started else ""
        if len(_utc_hours) >= _HOURS_KEPT:
            _utc_hours.clear()
        known = _utc_hours[hour] = _utc(started)[:13]
    rest = started[13:-6]  # :MM:SS and the fraction, if any: to microseconds, as _utc writes
    return known + (rest.ljust(13, "0") if len(rest) > 6 else rest + ".000000")


def _utc(started: str) -> str:
    try:
        when = dt.datetime.fromisoformat(_310(started))
    except ValueError:
        return started
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="microseconds")


# A fraction of a second and what may follow it: Python 3.10 reads 3 or 6 digits only. Compiled
# on first use (re keeps it), so a command that reads no start time anew (a warm listing) never
# compiles it.
_FRACTION = r"\.([0-9]{1,6})(?=$|[+-][0-9][0-9]:?[0-9][0-9])"


def _310(started: str) -> str:
    """``started`` as Python 3.10's ``fromisoformat`` reads it too: no "Z" (+00:00 for it), a
    fraction of six digits."""
    if started[-1:] in ("Z", "z"):
        started = started[:-1] + "+00:00"
    return re.sub(_FRACTION, lambda found: "." + found[1].ljust(6, "0"), started, count=1)
