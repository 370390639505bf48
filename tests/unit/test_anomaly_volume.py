"""detect_traffic_drop: outages found at once, quiet hours and weekends left alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis.anomaly import detect_traffic_drop
from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import metrics_frame

MONDAY = pd.Timestamp("2026-11-02T00:00:00Z").timestamp()
STEP = 300.0


def _fleet(days: int, rng: np.random.Generator, weekend_share: float = 0.3) -> tuple:
    t = MONDAY + np.arange(0, days * 86400, STEP)
    stamps = pd.to_datetime(t, unit="s", utc=True)
    hour = stamps.hour + stamps.minute / 60
    daily = 0.02 + 0.08 * np.exp(-((hour - 14) ** 2) / 18)  # runs/s, busy afternoons
    level = np.where(stamps.day_of_week >= 5, weekend_share, 1.0) * daily
    counts = rng.poisson(level * 1800)  # 30-minute windows
    return t, stamps, counts / 1800


def test_an_outage_is_found_once_with_its_window():
    t, stamps, rate = _fleet(7, np.random.default_rng(1))
    outage = (stamps >= "2026-11-05T10:00Z") & (stamps < "2026-11-05T12:00Z")
    rate = np.where(outage, rate * 0.08, rate)
    found = detect_traffic_drop(metrics_frame(t, "agent_execution_total:rate", rate))
    assert len(found) == 1
    finding = found.iloc[0]
    assert finding["detector"] == "traffic_drop" and finding["severity"] == "critical"
    began = finding["start"]
    assert pd.Timestamp("2026-11-05T09:55Z") <= began <= pd.Timestamp("2026-11-05T10:30Z")
    assert finding["end"] >= pd.Timestamp("2026-11-05T11:30Z")
    assert finding["observed"] < 0.25 * finding["expected"]
    assert "traffic fell to" in finding["summary"]


def test_weekends_and_normal_weeks_are_not_drops():
    for seed in range(3):
        t, _, rate = _fleet(14, np.random.default_rng(seed))
        found = detect_traffic_drop(metrics_frame(t, "agent_execution_total:rate", rate))
        assert found.empty, found["summary"].tolist()


def test_low_volume_series_are_never_flagged():
    t, _, rate = _fleet(7, np.random.default_rng(4))
    rate = rate / 50  # a handful of runs per half hour: a fall to zero proves nothing
    rate[-30:] = 0.0
    assert detect_traffic_drop(metrics_frame(t, "runs:rate", rate)).empty


def test_series_are_judged_separately_and_bad_parameters_are_refused():
    t, stamps, rate = _fleet(5, np.random.default_rng(5))
    dropped = np.where(stamps >= "2026-11-06T09:00Z", rate * 0.05, rate)
    frame = pd.concat([
        metrics_frame(t, "runs:rate", rate, {"agent": "planner"}),
        metrics_frame(t, "runs:rate", dropped, {"agent": "coder"}),
    ], ignore_index=True)
    frame["agent"] = frame["agent"].astype("category")
    found = detect_traffic_drop(frame)
    assert [s["agent"] for s in found["series"]] == ["coder"]
    with pytest.raises(ConfigurationError, match="fraction"):
        detect_traffic_drop(frame, fraction=2)
    assert detect_traffic_drop(frame.iloc[:0]).empty


def _window(t: np.ndarray, rate: np.ndarray, start: str, days: int) -> tuple:
    keep = (t >= pd.Timestamp(start).timestamp()) & (
        t < pd.Timestamp(start).timestamp() + days * 86400)
    return t[keep], rate[keep]


def test_a_drop_on_the_second_day_is_judged_against_the_first():
    # a fresh deployment: Monday is the only earlier day when Tuesday's outage comes
    t, stamps, rate = _fleet(2, np.random.default_rng(6))
    outage = (stamps >= "2026-11-03T10:00Z") & (stamps < "2026-11-03T12:00Z")
    found = detect_traffic_drop(metrics_frame(t, "runs:rate", np.where(outage, rate * 0.1, rate)))
    assert len(found) == 1
    assert pd.Timestamp("2026-11-03T09:55Z") <= found.iloc[0]["start"] <= pd.Timestamp(
        "2026-11-03T10:30Z")
    assert detect_traffic_drop(metrics_frame(t, "runs:rate", rate)).empty


@pytest.mark.parametrize("seed", [7, 8])
def test_the_first_day_of_its_kind_is_judged_against_the_other_kind_at_todays_level(seed):
    # a history that starts on Saturday: the first Monday has only weekend days before it,
    # and a history that starts on Friday: its Saturday has only a weekday before it
    t, stamps, rate = _fleet(14, np.random.default_rng(seed))
    for start, outage_at in (("2026-11-07T00:00Z", "2026-11-09T10:00Z"),
                             ("2026-11-06T00:00Z", "2026-11-07T11:00Z")):
        tw, rw = _window(t, rate, start, 4)
        assert detect_traffic_drop(metrics_frame(tw, "runs:rate", rw)).empty  # normal days
        at = pd.Timestamp(outage_at).timestamp()
        dropped = np.where((tw >= at) & (tw < at + 7200), rw * 0.08, rw)
        found = detect_traffic_drop(metrics_frame(tw, "runs:rate", dropped))
        assert len(found) == 1, (start, found["summary"].tolist())
        assert abs(found.iloc[0]["start"].timestamp() - at) <= 1800


@pytest.mark.parametrize("seed", [7, 8])
def test_a_drop_before_any_day_has_that_time_is_judged_against_todays_own_hours(seed):
    # a history that starts on Sunday at 09:00: Monday 08:40 has no earlier day at that time
    # of day at all, so only Monday's own night tells what is usual (a fleet busy enough at
    # night, about two runs a minute, for a fall below its quietest hour to be certain)
    t, stamps, rate = _fleet(14, np.random.default_rng(seed))
    tw, rw = _window(t, 2 * rate, "2026-11-08T09:00Z", 2)
    assert detect_traffic_drop(metrics_frame(tw, "runs:rate", rw)).empty  # normal days
    at = pd.Timestamp("2026-11-09T08:40Z").timestamp()
    dropped = np.where((tw >= at) & (tw < at + 7200), rw * 0.08, rw)
    found = detect_traffic_drop(metrics_frame(tw, "runs:rate", dropped))
    assert len(found) == 1, found["summary"].tolist()
    assert abs(found.iloc[0]["start"].timestamp() - at) <= 1800


def test_the_first_minutes_of_a_first_weekend_day_do_not_set_its_scale():
    # a history from Thursday 22:00: the first Saturday has only weekdays before it, and its
    # 30-minute rates until 00:30 still hold Friday evening's runs; scaled by them, a weekend
    # night at 15 % of a weekday's read as a drop to about 15 % at 00:30
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2026-11-05T22:00Z").timestamp()
    t = start + np.arange(0, 50 * 3600, STEP)  # to Saturday midnight
    stamps = pd.to_datetime(t, unit="s", utc=True)
    hour = stamps.hour + stamps.minute / 60
    daily = 0.02 + 0.08 * np.exp(-((hour - 14) ** 2) / 18)
    level = 3 * np.where(stamps.day_of_week >= 5, 0.15, 1.0) * daily  # a busy fleet
    counts = rng.poisson(level * STEP)
    rate = pd.Series(counts).rolling(6, min_periods=1).sum().to_numpy() / 1800  # 30 minutes
    assert detect_traffic_drop(metrics_frame(t, "runs:rate", rate)).empty
    # an outage on that Saturday is still found
    at = pd.Timestamp("2026-11-07T11:00Z").timestamp()
    found = detect_traffic_drop(metrics_frame(t, "runs:rate", np.where(
        (t >= at) & (t < at + 7200), rate * 0.05, rate)))
    assert len(found) == 1 and abs(found.iloc[0]["start"].timestamp() - at) <= 1800


def test_runs_that_arrive_in_bunches_need_a_deeper_lull_to_be_a_drop():
    # 36 runs usual at night in 30 minutes, 6 seen: certain for runs arriving one by one
    # (Poisson p ~ 1e-9), but 12 tasks of three runs falling to two happens (p ~ 5e-4)
    t, stamps, rate = _fleet(4, np.random.default_rng(4))
    lull = (stamps >= "2026-11-04T01:00Z") & (stamps < "2026-11-04T01:15Z")
    rate = np.where(lull, 6 / 1800, rate)
    frame = metrics_frame(t, "runs:rate", rate)
    assert len(detect_traffic_drop(frame)) == 1
    assert detect_traffic_drop(frame, dispersion=3.0).empty
    # a daytime outage is certain either way
    outage = (stamps >= "2026-11-05T12:00Z") & (stamps < "2026-11-05T14:00Z")
    found = detect_traffic_drop(metrics_frame(t, "runs:rate", np.where(outage, rate * 0.08,
                                                                       rate)), dispersion=3.0)
    assert found["start"].tolist() == [pd.Timestamp("2026-11-05T12:00Z")]
    with pytest.raises(ConfigurationError, match="dispersion"):
        detect_traffic_drop(frame, dispersion=0.5)


def test_runs_bunching_is_the_variance_over_the_mean_of_runs_per_trace():
    from agentinsight.reports.notebook import runs_bunching
    from agentinsight.semconv import AGENT_OPERATIONS

    agent = sorted(AGENT_OPERATIONS)[0]
    # one trace of one run, one of three: (1 + 9) / 4
    spans = pd.DataFrame({"trace_id": ["a", "b", "b", "b", "b"],
                          "operation": [agent] * 4 + ["chat"]})
    assert runs_bunching(spans) == 2.5
    assert runs_bunching(spans.iloc[:1]) == 1.0
    assert runs_bunching(spans.iloc[0:0]) == 1.0
