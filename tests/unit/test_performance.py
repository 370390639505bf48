"""Performance analysis: Prometheus-exact percentiles, SLO burn, significance-tested regressions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis.performance import (
    breakdown,
    bucket_increments,
    compare_periods,
    error_ratios,
    histogram_quantile,
    latency_percentiles,
    performance_summary,
    queue_wait,
    queue_wait_estimate,
    slowest_traces,
    throughput,
    week_over_week,
)
from agentinsight.analysis.slo import (
    burn_rates,
    counter_slo_events,
    slo_attainment,
    slo_events,
)
from agentinsight.exceptions import ConfigurationError, InvalidTimeError, SchemaError
from agentinsight.frames import (
    SPANS_COLUMNS,
    TOKEN_COLUMNS,
    empty_spans_frame,
    metrics_frame,
    validate_metrics_frame,
)

T0 = pd.Timestamp("2026-11-16T00:00:00Z")
LE = ["0.1", "0.5", "1", "+Inf"]


def _span(trace, sid, parent, start_ms, dur_ms, **extra):
    row = {c: None for c in SPANS_COLUMNS}
    start = T0 + pd.Timedelta(milliseconds=start_ms)
    row.update(trace_id=trace, span_id=sid, parent_span_id=parent, service="svc", name=sid,
               kind="internal", status="ok", status_message="", start=start,
               end=start + pd.Timedelta(milliseconds=dur_ms), attributes={})
    row.update(extra)
    return row


def _frame(rows):
    frame = pd.DataFrame(rows, columns=list(SPANS_COLUMNS))
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame["duration_ms"] = (frame["end"] - frame["start"]).dt.total_seconds() * 1e3
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame


def _runs(durations, start_ms=0.0, gap_ms=60_000.0, agent="planner", errors=(), prefix="t"):
    """One agent run per duration: root invoke_agent span + a chat call + a tool call."""
    rows = []
    for i, d in enumerate(durations):
        t, s = f"{prefix}{i}", start_ms + i * gap_ms
        rows += [
            _span(t, "r", "", s, d, operation="invoke_agent", agent=agent,
                  status="error" if i in errors else "ok"),
            _span(t, "c", "r", s + 1, d * 0.6, operation="chat", model="gpt-4o",
                  input_tokens=100.0, output_tokens=10.0),
            _span(t, "k", "r", s + 1 + d * 0.6, d * 0.3, operation="execute_tool", tool="search"),
        ]
    return rows


# --- histogram_quantile --------------------------------------------------------------------------


def _buckets(counts, ts=0.0, labels=None):
    labels = {"le": LE, **(labels or {})}
    return metrics_frame([ts] * len(LE), "lat_seconds_bucket", counts, labels)


@pytest.mark.parametrize(("q", "expected"), [
    (0.05, 0.05),          # rank 5 in the first bucket (0, 0.1]: 0 + 0.1 * 5/10
    (0.5, 0.42),           # rank 50 in (0.1, 0.5] holding 50: 0.1 + 0.4 * (50-10)/50
    (0.85, 0.5 + 0.5 * 25 / 30),
    (0.95, 1.0),           # rank 95 falls in +Inf: Prometheus returns the last finite bound
])
def test_histogram_quantile_matches_prometheus_interpolation(q, expected):
    out = histogram_quantile(_buckets([10, 60, 90, 100]), q)
    assert out["value"].tolist() == [pytest.approx(expected)]
    assert out["metric"].tolist() == [f"lat_seconds:p{q * 100:g}"]
    validate_metrics_frame(out)


def test_histogram_quantile_sums_by_labels_like_sum_by_le():
    frame = pd.concat([_buckets([10, 60, 90, 100], labels={"agent": ["a"] * 4}),
                       _buckets([0, 0, 50, 100], labels={"agent": ["b"] * 4})],
                      ignore_index=True)
    per_agent = histogram_quantile(frame, 0.5, by=["agent"]).set_index("agent")["value"]
    assert per_agent.to_dict() == pytest.approx({"a": 0.42, "b": 1.0})
    # Together: counts 10, 60, 140, 200; rank 100 in (0.5, 1] holding 80 → 0.5 + 0.5 * 40/80.
    overall = histogram_quantile(frame, 0.5, by=[])
    assert overall["value"].tolist() == [pytest.approx(0.75)]


def test_histogram_quantile_from_raw_counters_with_a_reset():
    # Three scrapes of cumulative counters; the process restarted before the third.
    frame = pd.concat([_buckets([5, 5, 5, 5], 0.0), _buckets([15, 65, 95, 105], 60.0),
                       _buckets([0, 0, 0, 0], 120.0)], ignore_index=True)
    # Increase: (10, 60, 90, 100) then (0, 0, 0, 0) after the reset.
    total = histogram_quantile(frame, 0.5, window="all")
    assert total["value"].tolist() == [pytest.approx(0.42)]
    assert total["timestamp"].tolist() == [pd.Timestamp(120, unit="s", tz="UTC")]
    rolling = histogram_quantile(frame, 0.5, window="1min")
    assert rolling["value"].tolist()[0] == pytest.approx(0.42)
    assert np.isnan(rolling["value"].tolist()[1])  # no observations in that minute: NaN


def test_histogram_quantile_bad_input():
    assert histogram_quantile(_buckets([0, 0, 0, 0]), 0.9)["value"].isna().all()
    no_inf = metrics_frame([0.0] * 2, "x_bucket", [1, 2], {"le": ["1", "2"]})
    assert histogram_quantile(no_inf, 0.5)["value"].isna().all()
    with pytest.raises(ConfigurationError, match="q must be"):
        histogram_quantile(_buckets([1, 2, 3, 4]), 95)
    with pytest.raises(SchemaError, match="'le'"):
        histogram_quantile(metrics_frame([0.0], "x", [1.0]), 0.5)
    with pytest.raises(SchemaError, match="agent"):
        histogram_quantile(_buckets([1, 2, 3, 4]), 0.5, by=["agent"])
    assert histogram_quantile(_buckets([1, 2, 3, 4]).iloc[:0], 0.5).empty


def test_bucket_increments_handles_counter_resets():
    f = metrics_frame([0.0, 15.0, 30.0, 45.0], "x_total", [5, 8, 2, 6])
    assert bucket_increments(f)["value"].tolist() == [3.0, 2.0, 4.0]


# --- spans ---------------------------------------------------------------------------------------


def test_latency_throughput_and_errors_from_spans():
    spans = _frame(_runs([100.0] * 8 + [1000.0, 2000.0], errors={0, 1}))
    lat = latency_percentiles(spans, operation="invoke_agent", by=["agent"])
    assert lat.loc[0, "count"] == 10 and lat.loc[0, "p50_ms"] == pytest.approx(100.0)
    assert lat.loc[0, "max_ms"] == pytest.approx(2000.0)
    by_op = latency_percentiles(spans).set_index("operation")
    assert set(by_op.index) == {"invoke_agent", "chat", "execute_tool"}
    err = error_ratios(spans, by=["agent"], operation="invoke_agent")
    assert err.loc[0, "error_ratio"] == pytest.approx(0.2)
    tp = throughput(spans, freq="5min")
    assert tp["count"].tolist() == [5, 5] and tp["per_second"].iloc[0] == pytest.approx(5 / 300)


def test_tool_and_model_breakdowns():
    spans = _frame(_runs([100.0, 200.0, 300.0]))
    tools = breakdown(spans, "tool")
    assert tools.loc[0, "tool"] == "search" and tools.loc[0, "calls"] == 3
    assert tools.loc[0, "agents"] == 1  # inherited from the agent run
    models = breakdown(spans, "model")
    assert models.loc[0, "model"] == "gpt-4o" and models.loc[0, "input_tokens"] == 300.0
    assert models.loc[0, "total_ms"] == pytest.approx(360.0)
    with pytest.raises(ConfigurationError, match="by must be"):
        breakdown(spans, "agent")


def test_queue_wait_from_producer_consumer_spans():
    rows = [
        _span("q", "p", "", 0, 10, kind="producer",
              attributes={"messaging.destination.name": "tasks"}),
        _span("q", "c", "p", 260, 50, kind="consumer"),
        _span("q2", "p", "", 0, 10, kind="producer",
              attributes={"messaging.destination.name": "tasks"}),
        _span("q2", "c", "p", 60, 5, kind="consumer",
              attributes={"messaging.destination.name": "tasks"}),
    ]
    out = queue_wait(_frame(rows))
    waits = out.set_index("queue")
    assert waits["messages"].to_dict() == {"c": 1, "tasks": 1}
    assert waits.loc["tasks", "max_ms"] == pytest.approx(50.0)
    assert waits.loc["c", "max_ms"] == pytest.approx(250.0)


def test_queue_wait_estimate_by_littles_law():
    minutes = np.arange(0, 121, 1.0) * 60  # two hours of one-minute scrapes
    size = np.where(minutes >= 3600, 30.0, 0.0)  # a backlog of 30 tasks in the second hour
    done = np.arange(len(minutes)) * 6.0  # 6 tasks a minute: 0.1 per second
    metrics = pd.concat([
        metrics_frame(minutes, "task_queue_size", size, {"queue": "default"}),
        metrics_frame(minutes, "task_total", done, {"task_type": "review"}),
    ], ignore_index=True)
    out = queue_wait_estimate(metrics)
    assert out["queue_size"].tolist()[:2] == [0.0, 30.0]
    assert out["tasks_per_second"].iloc[1] == pytest.approx(0.1)
    assert out["wait_s"].iloc[1] == pytest.approx(300.0)  # 30 waiting / 0.1 per s = 5 minutes


def test_slowest_traces_name_what_they_waited_on():
    out = slowest_traces(_frame(_runs([100.0, 5000.0, 300.0])), n=2)
    assert out["trace_id"].tolist() == ["t1", "t2"]
    assert out.loc[0, "critical_component"] == "model: gpt-4o"
    assert out.loc[0, "critical_ms"] == pytest.approx(3000.0)


# --- SLOs ----------------------------------------------------------------------------------------


def test_slo_attainment_and_error_budget():
    durations = [100.0] * 92 + [5000.0] * 5 + [100.0] * 3
    spans = _frame(_runs(durations, errors={97, 98, 99}))
    out = slo_attainment(spans, 0.95, latency_ms=1000.0)
    assert out.loc[0, "total"] == 100 and out.loc[0, "good"] == 92
    assert not out.loc[0, "met"]
    assert out.loc[0, "budget_remaining"] == pytest.approx(1 - 0.08 / 0.05)
    with pytest.raises(ConfigurationError, match="objective"):
        slo_attainment(spans, 99)


def _crafted_events():
    # 10 h of 200 requests a minute at 0.5 % errors (burn 0.5), with a 30-minute total outage
    # from minute 300 to 329.
    idx = pd.date_range(T0, periods=600, freq="1min")
    bad = np.ones(600)
    bad[300:330] = 200
    return pd.DataFrame({"total": 200.0, "bad": bad}, index=idx)


def test_fast_burn_page_fires_during_the_outage_and_stops_soon_after():
    burns = burn_rates(_crafted_events(), 0.99)
    page = burns[burns["long_window"] == "1h"].reset_index(drop=True)
    firing = np.flatnonzero(page["firing"].to_numpy())
    # The 1 h window crosses 14.4 (14.4 % errors) on the 9th outage minute; the 5 min window
    # clears four minutes after the outage, so the page resolves then despite the 1 h window.
    assert firing[0] == 308 and firing[-1] == 333
    assert page.loc[299, "long_burn"] == pytest.approx(0.5)
    assert page.loc[350, "long_burn"] > 14.4  # still far over 14.4 twenty minutes later...
    assert not page.loc[350, "firing"]  # ...but not paging: the short window says it is over
    ticket = burns[burns["long_window"] == "3D"]
    assert ticket["firing"].iloc[:300].sum() == 0


def test_slo_events_from_spans_and_counters_feed_burn_rates():
    spans = _frame(_runs([100.0] * 10, gap_ms=60_000, errors={3}))
    events = slo_events(spans, freq="1min")
    assert events["total"].sum() == 10 and events["bad"].sum() == 1
    counters = metrics_frame(
        [0.0, 60.0, 120.0] * 2, "agent_execution_total", [0, 100, 200, 0, 1, 50],
        {"status": ["success"] * 3 + ["error"] * 3, "agent": ["a"] * 6})
    ev = counter_slo_events(counters)
    assert ev["total"].tolist() == [101.0, 149.0] and ev["bad"].tolist() == [1.0, 49.0]
    assert burn_rates(ev, 0.99)["short_burn"].iloc[1] == pytest.approx(50 / 250 / 0.01)
    with pytest.raises(SchemaError, match="bad"):
        burn_rates(ev.drop(columns="bad"), 0.99)


# --- period over period --------------------------------------------------------------------------


def _weeks(current_scale, n=150, seed=7):
    rng = np.random.default_rng(seed)
    base = rng.lognormal(np.log(800), 0.5, n)
    cur = rng.lognormal(np.log(800), 0.5, n) * current_scale
    week = 7 * 86_400_000
    gap = week / n
    rows = _runs(base, gap_ms=gap, prefix="b") + _runs(cur, start_ms=week, gap_ms=gap,
                                                       prefix="c")
    return _frame(rows)


def test_shifted_latency_is_called_worse_and_same_distribution_is_not():
    end = T0 + pd.Timedelta(days=14)
    worse = week_over_week(_weeks(1.5), end=end)
    assert worse.loc[0, "verdict"] == "worse"
    assert worse.loc[0, "p_value"] < 0.001 and worse.loc[0, "effect_size"] > 0.3
    assert worse.loc[0, "p95_change"] > 0.2
    same = week_over_week(_weeks(1.0), end=end)
    assert same.loc[0, "verdict"] == "no significant change"
    assert same.loc[0, "p_value"] > 0.05
    better = week_over_week(_weeks(0.6), end=end)
    assert better.loc[0, "verdict"] == "better"


def test_compare_periods_small_samples_and_bad_windows():
    spans = _weeks(3.0, n=10)
    week = pd.Timedelta(days=7)
    out = compare_periods(spans, (T0 + week, T0 + 2 * week), (T0, T0 + week))
    assert out.loc[0, "verdict"] == "insufficient data"
    with pytest.raises(InvalidTimeError, match="current"):
        compare_periods(spans, (T0 + week, T0), (T0, T0 + week))
    with pytest.raises(InvalidTimeError, match="baseline"):
        compare_periods(spans, (T0, T0 + week), ("not a time", T0))


def test_compare_periods_per_group_only_flags_the_changed_group():
    a, b = _weeks(1.6, seed=1), _weeks(1.0, seed=2)
    b = b.assign(trace_id="x" + b["trace_id"], agent=b["agent"].where(b["agent"].isna(), "coder"))
    spans = pd.concat([a, b], ignore_index=True)
    week = pd.Timedelta(days=7)
    out = compare_periods(spans, (T0 + week, T0 + 2 * week), (T0, T0 + week), by=["agent"],
                          operation="invoke_agent").set_index("agent")
    assert out.loc["planner", "verdict"] == "worse"
    assert out.loc["coder", "verdict"] == "no significant change"


# --- headline table ------------------------------------------------------------------------------


def test_performance_summary_headline_table_with_metrics():
    spans = _frame(_runs([100.0] * 9 + [1000.0], errors={9}))
    hist = pd.concat([_buckets([0, 0, 0, 0], 0.0, {"agent": ["planner"] * 4}),
                      _buckets([10, 60, 90, 100], 600.0, {"agent": ["planner"] * 4})],
                     ignore_index=True)
    hist["metric"] = pd.Categorical(["agent_execution_duration_seconds_bucket"] * len(hist))
    counters = metrics_frame([0.0, 600.0] * 2, "agent_execution_total", [0, 90, 0, 10],
                             {"agent": ["planner"] * 4, "status": ["success"] * 2 + ["error"] * 2})
    metrics = pd.concat([hist, counters], ignore_index=True)
    out = performance_summary(spans, metrics, objective=0.95, latency_ms=500.0).set_index("agent")
    assert list(out.index) == ["planner", "(all traces)"]
    row = out.loc["planner"]
    assert row["runs"] == 10 and row["error_ratio"] == pytest.approx(0.1)
    assert row["llm_calls_per_run"] == 1 and row["tokens_per_run"] == 110
    assert row["slo_attainment"] == pytest.approx(0.9) and not row["slo_met"]
    assert row["critical_component"] == "model: gpt-4o"
    assert row["p95_ms_histogram"] == pytest.approx(1000.0)
    assert row["runs_counter"] == 100 and row["error_ratio_counter"] == pytest.approx(0.1)


def test_nested_agents_get_their_own_row_and_critical_component():
    rows = []
    for i in range(5):
        t, s = f"n{i}", i * 60_000.0
        rows += [
            _span(t, "task", "", s, 1000.0),  # a root that is not an agent run
            _span(t, "plan", "task", s, 990.0, operation="invoke_agent", agent="planner"),
            _span(t, "c1", "plan", s + 1, 200.0, operation="chat", model="gpt-4o"),
            _span(t, "sub", "plan", s + 300, 600.0, operation="invoke_agent", agent="coder"),
            _span(t, "c2", "sub", s + 301, 590.0, operation="chat", model="claude"),
        ]
    out = performance_summary(_frame(rows)).set_index("agent")
    assert list(out.index) == ["coder", "planner", "(all traces)"]
    assert out.loc["coder", "runs"] == 5 and out.loc["coder", "p50_ms"] == pytest.approx(600.0)
    assert out.loc["coder", "critical_component"] == "model: claude"
    assert out.loc["planner", "llm_calls_per_run"] == 1  # its own call, not coder's
    assert out.loc["(all traces)", "p50_ms"] == pytest.approx(1000.0)


def test_empty_inputs_give_empty_tables():
    empty = empty_spans_frame()
    assert performance_summary(empty).empty
    assert latency_percentiles(empty).empty and error_ratios(empty).empty
    assert throughput(empty).empty and slowest_traces(empty).empty
    assert breakdown(empty, "tool").empty and queue_wait(empty).empty
    assert slo_attainment(empty, 0.99).empty
    with pytest.raises(SchemaError, match="duration_ms"):
        latency_percentiles(empty.drop(columns="duration_ms"))
