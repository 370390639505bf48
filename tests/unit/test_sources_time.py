"""Times and durations as users type them into every source."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from agentinsight.exceptions import AgentInsightError, InvalidTimeError
from agentinsight.sources import format_duration, parse_duration, parse_time, time_range

NOW = pd.Timestamp("2026-11-27T12:00:00Z")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-27T10:00:00Z", "2026-11-27T10:00:00Z"),
        ("2026-11-27T12:00:00+02:00", "2026-11-27T10:00:00Z"),
        ("2026-11-27 10:00", "2026-11-27T10:00:00Z"),  # naive ISO is UTC
        (dt.datetime(2026, 11, 27, 10, 0), "2026-11-27T10:00:00Z"),  # naive datetime is UTC
        (dt.datetime(2026, 11, 27, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))),
         "2026-11-27T10:00:00Z"),
        (pd.Timestamp("2026-11-27T05:00:00", tz="US/Eastern"), "2026-11-27T10:00:00Z"),
        (1_795_773_600, "2026-11-27T10:00:00Z"),
        ("1795773600.5", "2026-11-27T10:00:00.5Z"),
        ("now", "2026-11-27T12:00:00Z"),
        ("now-2h", "2026-11-27T10:00:00Z"),
        ("now - 1h30m", "2026-11-27T10:30:00Z"),
        ("now+1d", "2026-11-28T12:00:00Z"),
        ("NOW-7d", "2026-11-20T12:00:00Z"),
    ],
)
def test_every_time_form_becomes_the_same_utc_instant(value, expected):
    got = parse_time(value, now=NOW)
    assert got == pd.Timestamp(expected)
    assert str(got.tz) == "UTC"


@pytest.mark.parametrize("value", ["yesterday", "now-7x", "2026-13-45", "", None, True,
                                   float("nan"), [2026]])
def test_a_bad_time_names_itself_and_the_accepted_forms(value):
    with pytest.raises(InvalidTimeError) as info:
        parse_time(value, what="start")
    message = str(info.value)
    assert message.startswith("start:")
    assert isinstance(info.value, ValueError) and isinstance(info.value, AgentInsightError)


def test_start_after_end_is_an_error_not_an_empty_result():
    with pytest.raises(InvalidTimeError, match="after end"):
        time_range("now", "now-1h")
    begin, end = time_range("now-1h", "now", now=NOW)
    assert end - begin == pd.Timedelta(hours=1)


def test_relative_start_and_end_share_one_now():
    begin, end = time_range("now-5m", "now")
    assert (end - begin).total_seconds() == 300.0


@pytest.mark.parametrize(("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("500ms", 0.5),
                                                ("2w", 1_209_600), ("90", 90),
                                                (dt.timedelta(minutes=2), 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5 minutes", "m5", "-5m", "1h-5m", ""])
def test_bad_durations_are_refused(text):
    with pytest.raises(InvalidTimeError, match="window"):
        parse_duration(text, what="window")


def test_durations_print_as_promql():
    assert [format_duration(s) for s in (60, 300, 3600, 86400, 90, 0.25)] == [
        "1m", "5m", "1h", "1d", "90s", "250ms"]
