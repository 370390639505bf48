"""Time on the standard library: UTC datetimes, RFC 3339 text and epoch seconds.

One rule everywhere: a naive datetime means UTC, never local time.

>>> from datetime import datetime
>>> format_rfc3339(datetime(2026, 1, 5, 10, 0, 0, 123456))
'2026-01-05T10:00:00.123Z'
>>> parse_rfc3339("2026-01-05T12:00:00+02:00") == utc(datetime(2026, 1, 5, 10))
True
"""

from __future__ import annotations

from datetime import UTC, datetime

from agentinsight.exceptions import InvalidTimeError

__all__ = ["format_rfc3339", "from_epoch", "now", "parse_rfc3339", "rfc3339_from_ns", "to_epoch",
           "utc"]


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken as UTC.

    >>> from datetime import datetime, timedelta, timezone
    >>> utc(datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))).isoformat()
    '2026-01-01T10:00:00+00:00'
    >>> utc(datetime(2026, 1, 1, 12)).isoformat()
    '2026-01-01T12:00:00+00:00'
    """
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def from_epoch(seconds: float) -> datetime:
    """An aware UTC datetime from epoch seconds.

    >>> from_epoch(86400).isoformat()
    '1970-01-02T00:00:00+00:00'
    """
    return datetime.fromtimestamp(seconds, UTC)


def to_epoch(value: datetime) -> float:
    """Epoch seconds of ``value`` (naive means UTC).

    >>> to_epoch(datetime(1970, 1, 2))
    86400.0
    """
    return utc(value).timestamp()


def format_rfc3339(value: datetime | float, *, digits: int = 3) -> str:
    """RFC 3339 text in UTC with a ``Z`` and ``digits`` (0-6) fractional digits; ``value`` is a
    datetime (naive means UTC; a ``pandas.Timestamp`` works too) or epoch seconds.

    >>> format_rfc3339(0.5), format_rfc3339(0, digits=0)
    ('1970-01-01T00:00:00.500Z', '1970-01-01T00:00:00Z')
    """
    stamp = from_epoch(value) if isinstance(value, int | float) else utc(value)
    text = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    if digits > 0:
        text += f".{stamp.microsecond:06d}"[: digits + 1]
    return text + "Z"


def rfc3339_from_ns(ns: int) -> str:
    """RFC 3339 text in UTC with all nine fractional digits of epoch nanoseconds ``ns``.

    >>> rfc3339_from_ns(1_767_225_600_000_000_001)
    '2026-01-01T00:00:00.000000001Z'
    """
    seconds, rest = divmod(int(ns), 1_000_000_000)
    return f"{format_rfc3339(from_epoch(seconds), digits=0)[:-1]}.{rest:09d}Z"


def parse_rfc3339(text: str) -> datetime:
    """An aware UTC datetime from RFC 3339 / ISO 8601 text (``Z`` or an offset; none means UTC).

    >>> parse_rfc3339("2026-01-05T10:00:00.5Z").isoformat()
    '2026-01-05T10:00:00.500000+00:00'
    >>> parse_rfc3339("yesterday")
    Traceback (most recent call last):
    agentinsight.exceptions.InvalidTimeError: not an RFC 3339 time: 'yesterday'
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except (ValueError, AttributeError):
        raise InvalidTimeError(f"not an RFC 3339 time: {text!r}") from None
    return utc(value)
