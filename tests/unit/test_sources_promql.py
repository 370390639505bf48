"""Prometheus semantics in numpy: values a Prometheus user would get from the same samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agentinsight.exceptions import QueryError
from agentinsight.sources import _promql


def _series(*samples):
    """One series per argument: a list of (t_seconds, value)."""
    labels = pd.DataFrame({"__name__": ["c"] * len(samples),
                           "agent": [f"a{i}" for i in range(len(samples))]})
    codes = np.concatenate([[i] * len(s) for i, s in enumerate(samples)]).astype("int64")
    t = np.array([int(ts * 1000) for s in samples for ts, _ in s], dtype="int64")
    v = np.array([val for s in samples for _, val in s], dtype=float)
    return _promql.SeriesSet.from_samples(labels, codes, t, v)


def test_increase_extrapolates_like_prometheus():
    # samples every 15 s rising 10 per sample; the 60 s window at t=100 holds t=45..90:
    # raw increase 30 over 45 s, extrapolated 5 s back to the window start and 10 s forward
    # to its end (both gaps under 1.1 sample intervals) -> 30 * 60/45
    s = _series([(t, t / 1.5) for t in range(0, 200, 15)])
    values, present = _promql.increase(s, np.array([100_000]), 60_000)
    assert present.all()
    assert values[0, 0] == pytest.approx(40.0)


def test_rate_is_increase_per_second_and_needs_two_samples():
    s = _series([(0, 0.0), (60, 60.0), (120, 120.0)])
    values, present = _promql.increase(s, np.array([60_000, 150_000, 400_000]), 100_000,
                                       per_second=True)
    assert present.tolist() == [[True, True, False]]
    # at 60: counter started at 0 at t=0, so no extrapolation before it: 60 / 100 s
    # at 150: 60 over 60 s, extrapolated 10 s back and 30 s forward: 100 / 100 s
    assert values[0, :2].tolist() == pytest.approx([0.6, 1.0])


def test_a_counter_reset_is_not_a_negative_increase():
    s = _series([(0, 100.0), (15, 110.0), (30, 5.0), (45, 15.0)])
    values, _ = _promql.increase(s, np.array([45_000]), 60_000)
    # 100 -> 110 (+10), reset to 5 (+5), -> 15 (+10): 25 over 45 s, then extrapolated
    assert values[0, 0] > 25


def test_left_open_and_closed_windows_differ_only_on_a_sample_edge():
    values = [0, 5, 7, 20, 21, 40, 41, 60, 90, 91]
    s = _series([(i * 60, float(v)) for i, v in enumerate(values)])
    open_, _ = _promql.increase(s, np.array([300_000]), 120_000)
    closed, _ = _promql.increase(s, np.array([300_000]), 120_000, closed=True)
    assert open_[0, 0] != closed[0, 0]  # t=180 is in [180, 300] but not in (180, 300]
    open_, _ = _promql.increase(s, np.array([330_000]), 120_000)
    closed, _ = _promql.increase(s, np.array([330_000]), 120_000, closed=True)
    assert open_[0, 0] == closed[0, 0]


def test_instant_selector_uses_a_five_minute_lookback():
    s = _series([(0, 1.0), (60, 2.0)])
    values, present = _promql.instant_select(s, np.array([-1_000, 30_000, 360_000, 361_000]))
    assert present.tolist() == [[False, True, False, False]]
    assert values[0, 1] == 1.0
    _, present = _promql.instant_select(s, np.array([360_000]), closed=True)
    assert present.tolist() == [[True]]


def test_sum_by_adds_present_series_only():
    s = _series([(0, 1.0), (60, 2.0)], [(60, 10.0)])
    values, present = _promql.instant_select(s, np.array([0, 60_000]))
    groups, summed, any_present = _promql.sum_by(s.labels, values, present, [])
    assert summed.tolist() == [[1.0, 12.0]] and any_present.all()
    groups, summed, _ = _promql.sum_by(s.labels, values, present, ["agent"])
    assert groups["agent"].tolist() == ["a0", "a1"]


@pytest.mark.parametrize(("q", "expected"), [
    (0.5, 1.0), (0.75, 1.5), (0.25, 0.5), (0.99, 1.98), (1.0, 2.0),
])
def test_histogram_quantile_interpolates_inside_the_bucket(q, expected):
    bounds = np.array([1.0, 2.0, 4.0, np.inf])
    counts = np.array([10.0, 20.0, 20.0, 20.0])
    assert float(_promql.histogram_quantile(q, bounds, counts)) == pytest.approx(expected)


def test_histogram_quantile_edges():
    bounds = np.array([np.inf, 1.0, 2.0])  # any order
    assert float(_promql.histogram_quantile(0.9, bounds, np.array([30.0, 10.0, 20.0]))) == 2.0
    assert np.isnan(_promql.histogram_quantile(0.5, bounds, np.array([0.0, 0.0, 0.0])))
    assert np.isnan(_promql.histogram_quantile(0.5, np.array([1.0, 2.0]), np.array([1., 2.])))
    assert _promql.histogram_quantile(1.5, bounds, np.array([3.0, 1.0, 2.0])) == np.inf
    assert _promql.histogram_quantile(-1, bounds, np.array([3.0, 1.0, 2.0])) == -np.inf
    # non-monotonic counts (a bucket read mid-scrape) are made monotonic, as Prometheus does
    assert float(_promql.histogram_quantile(0.5, np.array([1.0, 2.0, np.inf]),
                                            np.array([10.0, 8.0, 20.0]))) == pytest.approx(1.0)


def test_selectors_and_what_is_refused():
    name, matchers = _promql.parse_selector('x_total{a="b", c=~"d|e", f!="", g!~"h.*"}')
    assert name == "x_total" and [m.op for m in matchers] == ["=", "=~", "!=", "!~"]
    name, matchers = _promql.parse_selector('{__name__="x", a="b"}')
    assert name == "x" and len(matchers) == 1
    for promql in ("rate(x[5m])", "sum(x)", "x[5m]", "x + y", 'x{a="b"'):
        with pytest.raises(QueryError, match="not PromQL functions or operators") as info:
            _promql.parse_selector(promql)
        assert info.value.query == promql


def test_regex_matchers_are_anchored():
    s = _series([(0, 1.0)], [(0, 1.0)], [(0, 1.0)])
    s.labels.loc[:, "agent"] = ["planner", "planner2", "coder"]
    _, matchers = _promql.parse_selector('c{agent=~"planner|coder"}')
    assert s.select("c", matchers).labels["agent"].tolist() == ["planner", "coder"]
