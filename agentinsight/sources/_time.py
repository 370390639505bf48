"""Times and durations as every source accepts them.

A *time* is any of:

- a timezone-aware ``datetime`` or ``pandas.Timestamp`` (converted to UTC);
- a naive ``datetime`` / ``Timestamp``, taken as **UTC** (never as local time);
- an ISO-8601 string (``"2026-11-27T10:00:00Z"``, ``"2026-11-27 10:00"``: naive means UTC);
- an epoch number in seconds (``1764237600`` or ``1764237600.5``, also as a string);
- ``"now"``, or ``"now"`` plus/minus a duration: ``"now-7d"``, ``"now-1h30m"``, ``"now+5m"``.

A *duration* is a number of seconds, a ``timedelta``, or a Prometheus-style string made of
``<number><unit>`` parts with units ``ms s m h d w y`` (``"5m"``, ``"1h30m"``, ``"500ms"``).

Every time is returned as a ``pandas.Timestamp`` in UTC; every duration as float seconds.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import pandas as pd

from agentinsight.exceptions import InvalidTimeError
from agentinsight.frames import utc_timestamp

__all__ = ["TimeLike", "format_duration", "parse_duration", "parse_time", "time_range"]

TimeLike = dt.datetime | pd.Timestamp | str | int | float

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0,
          "y": 365 * 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_RELATIVE = re.compile(r"^now\s*(?:([+-])\s*(.+))?$")
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?$")
_TIME_FORMS = ("a datetime, an ISO-8601 string, epoch seconds, 'now' or 'now-7d'-style "
               "relative time")


def parse_duration(value: Any, *, what: str = "duration") -> float:
    """A duration in seconds, from seconds, a timedelta or a string like ``"1h30m"``.

    >>> parse_duration("1h30m"), parse_duration("500ms"), parse_duration(90)
    (5400.0, 0.5, 90.0)
    """
    if isinstance(value, dt.timedelta | pd.Timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if _NUMBER.match(text):
            seconds = float(text)
        else:
            pos, seconds = 0, 0.0
            for match in _DURATION_PART.finditer(text):
                if match.start() != pos:
                    break
                seconds += float(match.group(1)) * _UNITS[match.group(2)]
                pos = match.end()
            if pos != len(text) or not text:
                raise InvalidTimeError(
                    f"{what}: cannot parse {value!r}; expected seconds or a string like "
                    f"'30s', '5m', '1h30m', '7d' (units ms s m h d w y)"
                )
    else:
        raise InvalidTimeError(f"{what}: expected seconds, a timedelta or a string like '5m', "
                               f"got {type(value).__name__} {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidTimeError(f"{what}: must be a finite, non-negative duration, got {value!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """A PromQL duration string for a number of seconds (whole milliseconds).

    >>> format_duration(300), format_duration(5400), format_duration(0.25)
    ('5m', '90m', '250ms')
    """
    ms = int(round(seconds * 1000))
    if ms <= 0:
        raise InvalidTimeError(f"duration must be positive, got {seconds!r} s")
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def parse_time(value: Any, *, now: pd.Timestamp | None = None, what: str = "time") -> pd.Timestamp:
    """A UTC ``pandas.Timestamp`` from any accepted time form (naive means UTC).

    ``now`` fixes the reference instant for relative times (default: the current time).

    >>> parse_time("2026-01-01T12:00:00+02:00")
    Timestamp('2026-01-01 10:00:00+0000', tz='UTC')
    >>> parse_time("now-1d", now=parse_time(86400 * 2))
    Timestamp('1970-01-02 00:00:00+0000', tz='UTC')
    """
    if isinstance(value, bool) or value is None:
        raise InvalidTimeError(f"{what}: expected {_TIME_FORMS}, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise InvalidTimeError(f"{what}: epoch seconds must be finite, got {value!r}")
        return pd.Timestamp(round(value * 1e9), unit="ns", tz="UTC")
    if isinstance(value, dt.datetime):  # pandas.Timestamp is a datetime too
        return utc_timestamp(value)
    if isinstance(value, dt.date):
        return pd.Timestamp(value).tz_localize("UTC")
    if not isinstance(value, str):
        raise InvalidTimeError(f"{what}: expected {_TIME_FORMS}, got {type(value).__name__}")
    text = value.strip()
    rel = _RELATIVE.match(text.lower())
    if rel:
        base = now if now is not None else pd.Timestamp.now(tz="UTC")
        if rel.group(1) is None:
            return base
        offset = pd.Timedelta(seconds=parse_duration(rel.group(2).strip(), what=what))
        return base - offset if rel.group(1) == "-" else base + offset
    if _NUMBER.match(text):
        return parse_time(float(text), what=what)
    try:
        stamp = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidTimeError(f"{what}: cannot parse {value!r} ({exc}); expected {_TIME_FORMS}"
                               ) from None
    if pd.isna(stamp):
        raise InvalidTimeError(f"{what}: cannot parse {value!r}; expected {_TIME_FORMS}")
    return utc_timestamp(stamp)


def time_range(start: Any, end: Any, *, now: pd.Timestamp | None = None
               ) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Parse ``start`` and ``end`` against one ``now``; raise if start is after end.

    >>> s, e = time_range("now-1h", "now")
    >>> (e - s).total_seconds()
    3600.0
    """
    now = now if now is not None else pd.Timestamp.now(tz="UTC")
    begin = parse_time(start, now=now, what="start")
    finish = parse_time(end, now=now, what="end")
    if begin > finish:
        raise InvalidTimeError(f"start ({begin.isoformat()}) is after end ({finish.isoformat()})")
    return begin, finish
