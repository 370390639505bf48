"""The standard-library time helpers: UTC, RFC 3339 text, epoch seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pandas as pd
import pytest

from agentinsight._time import (
    format_rfc3339,
    from_epoch,
    parse_rfc3339,
    rfc3339_from_ns,
    to_epoch,
    utc,
)
from agentinsight.exceptions import InvalidTimeError


def test_naive_means_utc_and_offsets_are_converted() -> None:
    assert utc(datetime(2026, 3, 1, 9)) == datetime(2026, 3, 1, 9, tzinfo=UTC)
    east = datetime(2026, 3, 1, 9, tzinfo=timezone(timedelta(hours=5)))
    assert utc(east) == datetime(2026, 3, 1, 4, tzinfo=UTC) and utc(east).tzinfo is UTC
    assert to_epoch(datetime(1970, 1, 1, 0, 1)) == 60.0
    assert from_epoch(60) == datetime(1970, 1, 1, 0, 1, tzinfo=UTC)


def test_rfc3339_round_trip_and_the_forms_servers_send() -> None:
    stamp = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
    assert format_rfc3339(stamp) == "2026-03-01T09:30:15.250Z"
    assert format_rfc3339(stamp, digits=6) == "2026-03-01T09:30:15.250000Z"
    assert parse_rfc3339(format_rfc3339(stamp)) == stamp
    assert parse_rfc3339("2026-03-01T10:30:15.25+01:00") == stamp
    assert parse_rfc3339("2026-03-01t09:30:15.25z") == stamp
    assert format_rfc3339(pd.Timestamp("2026-03-01 10:30:15.25", tz="Europe/Berlin")) == \
        "2026-03-01T09:30:15.250Z"
    assert rfc3339_from_ns(1_772_357_415_250_000_007) == "2026-03-01T09:30:15.250000007Z"


@pytest.mark.parametrize("text", ["", "yesterday", "2026-13-01T00:00:00Z"])
def test_bad_text_is_an_invalid_time(text: str) -> None:
    with pytest.raises(InvalidTimeError, match="RFC 3339"):
        parse_rfc3339(text)
