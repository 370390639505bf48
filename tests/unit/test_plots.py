"""Figure builders: what each figure shows, one template, stable colours, empty input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from agentinsight.exceptions import SchemaError
from agentinsight.frames import (
    SPANS_COLUMNS,
    TOKEN_COLUMNS,
    empty_findings_frame,
    empty_metrics_frame,
    empty_spans_frame,
    finding_fingerprint,
    metrics_frame,
)
from agentinsight.plots import (
    SEVERITY_COLOURS,
    TEMPLATE,
    colour_for,
    cost_area,
    findings_timeline,
    latency_heatmap,
    timeseries,
    token_sankey,
    trace_waterfall,
)

T0 = pd.Timestamp("2026-11-20T00:00:00Z")


def _findings(rows):
    frame = pd.DataFrame([{
        "fingerprint": finding_fingerprint(r["detector"], r["series"], r["start"]),
        "trace_ids": [], "expected": 1.0, "score": 0.9, "summary": "latency spike", **r,
    } for r in rows])
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    for col in ("score", "observed", "expected"):
        frame[col] = frame[col].astype("float64")
    return frame[list(empty_findings_frame().columns)]


def _series():
    values = np.ones(60)
    values[40] = 9.0
    ts = (T0 + pd.to_timedelta(np.arange(60), unit="min")).astype("datetime64[ns, UTC]")
    a = metrics_frame(ts, "latency_p95", values, {"agent": "planner"})
    b = metrics_frame(ts, "latency_p95", values * 2, {"agent": "coder"})
    return pd.concat([a, b], ignore_index=True)


def _no_data(fig):
    return [a.text for a in fig.layout.annotations] == ["no data"]


def test_timeseries_marks_the_anomaly_on_its_series_with_a_band():
    spike = T0 + pd.Timedelta(minutes=40)
    findings = _findings([{"detector": "seasonal", "series": {"__name__": "latency_p95",
                           "agent": "planner"}, "start": spike, "end": spike,
                           "severity": "critical", "observed": 9.0}])
    fig = timeseries(_series(), findings)
    lines = [t for t in fig.data if t.mode == "lines" and t.showlegend is not False]
    assert sorted(t.name for t in lines) == ["coder", "planner"]  # what tells them apart
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(bands) == 2  # one expected band per series
    marks = [t for t in fig.data if t.mode == "markers"]
    assert [t.name for t in marks] == ["anomaly (critical)", "expected (finding)"]
    assert list(marks[1].y) == [1.0]  # what the detector expected there
    assert list(marks[0].y) == [9.0]  # on planner's spike, not coder's 18
    assert marks[0].marker.color == SEVERITY_COLOURS["critical"]
    assert "latency spike" in marks[0].hovertext[0]
    # The band is causal: at the spike it still expects ~1, so the spike sits outside it.
    upper = next(t for t in fig.data if t.name == "planner upper")
    assert upper.y[40] < 9.0


def test_timeseries_ignores_findings_about_other_series():
    spike = T0 + pd.Timedelta(minutes=40)
    findings = _findings([
        {"detector": "seasonal", "series": {"__name__": "error_ratio", "agent": "planner"},
         "start": spike, "end": spike, "severity": "warning", "observed": 0.5},
        {"detector": "latency_outlier", "series": {"operation": "POST /v1/tasks"},
         "start": spike, "end": spike, "severity": "critical", "observed": 40.0},
    ])
    fig = timeseries(_series(), findings)
    assert not [t for t in fig.data if t.mode == "markers"]
    assert not fig.layout.shapes


def test_a_trace_finding_about_an_agent_is_marked_on_that_agents_line():
    # A runaway run of planner (a trace finding: it names the agent, not a metric) at 00:40.
    spike = T0 + pd.Timedelta(minutes=40)
    findings = _findings([{"detector": "runaway_run", "series": {"agent": "planner"},
                           "start": spike, "end": spike, "severity": "critical",
                           "observed": 40.0}])
    marks = [t for t in timeseries(_series(), findings).data if t.mode == "markers"]
    assert [t.name for t in marks] == ["anomaly (critical)"]
    assert list(marks[0].y) == [9.0]  # on planner's line, not at the run's 40 LLM calls


def test_finding_markers_sit_on_the_line_between_its_points():
    # An hourly line and a finding from a finer (30 min) series half-way between two points:
    # the marker is drawn where the line is, not at the finer series' observed value.
    ts = (T0 + pd.to_timedelta([0, 1, 2], unit="h")).astype("datetime64[ns, UTC]")
    hourly = metrics_frame(ts, "tool_execution_duration_seconds:p95", [2.0, 4.0, 2.0],
                           {"tool": "web_search"})
    at = T0 + pd.Timedelta(minutes=30)
    findings = _findings([{"detector": "extreme",
                           "series": {"__name__": "tool_execution_duration_seconds:p95",
                                      "tool": "web_search"},
                           "start": at, "end": at, "severity": "warning", "observed": 30.0}])
    marks = [t for t in timeseries(hourly, findings).data if t.name == "anomaly (warning)"]
    assert list(marks[0].y) == [3.0]


def test_y_axis_names_the_quantity_and_its_unit():
    ts = (T0 + pd.to_timedelta(np.arange(20), unit="min")).astype("datetime64[ns, UTC]")
    slow = metrics_frame(ts, "agent_execution_duration_seconds:p95", np.full(20, 42.0),
                         {"agent": "coder"})
    fast = metrics_frame(ts, "tool_execution_duration_seconds:p95", np.full(20, 0.042),
                         {"tool": "kb_search"})
    errors = metrics_frame(ts, "agent_execution_total:error_ratio", np.full(20, 0.1),
                           {"agent": "coder"})
    tokens = metrics_frame(ts, "llm_tokens_used_total:increase", np.full(20, 5e5),
                           {"agent": "coder", "model": "gpt-4o", "token_type": "input"})
    assert timeseries(slow).layout.yaxis.title.text == "agent execution duration, p95 (s)"
    fig = timeseries(fast)
    assert fig.layout.yaxis.title.text == "tool execution duration, p95 (ms)"
    assert fig.data[0].y[0] == pytest.approx(42.0)  # drawn in ms
    fig = timeseries(errors)
    assert fig.layout.yaxis.title.text == "agent execution, error ratio (%)"
    assert fig.layout.yaxis.tickformat == ".0%"
    fig = timeseries(tokens)
    assert fig.layout.yaxis.title.text == "LLM tokens used, increase (tokens per step)"
    assert fig.data[0].name == "LLM tokens used, increase"  # not its PromQL name


def test_a_few_points_are_drawn_as_points_and_the_chart_says_so():
    # A live agent's first minutes: one hourly point per agent.
    one = pd.concat([metrics_frame([T0], "agent_execution_total:error_ratio", [0.0],
                                   {"agent": a}) for a in ("coder", "planner")],
                    ignore_index=True)
    fig = timeseries(one, title="agent error ratio")
    assert all("markers" in t.mode for t in fig.data)
    assert "1 point in time" in fig.layout.title.subtitle.text
    low, high = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert high - low >= pd.Timedelta(minutes=10)  # not an axis a millisecond wide


def test_timeseries_draws_band_columns_and_rejects_a_missing_band():
    frame = _series().assign(lower=0.5, upper=1.5)
    fig = timeseries(frame)
    assert sum(1 for t in fig.data if t.fill == "tonexty") == 2
    assert set(fig.data[1].y) == {0.5}
    with pytest.raises(SchemaError, match="lower"):
        timeseries(_series(), band="columns")


def test_latency_heatmap_shows_per_bucket_increases():
    le = ["0.1", "0.5", "+Inf"]
    frame = pd.concat([
        metrics_frame([0.0] * 3, "d_bucket", [0, 0, 0], {"le": le}),
        metrics_frame([60.0] * 3, "d_bucket", [4, 9, 10], {"le": le}),
        metrics_frame([120.0] * 3, "d_bucket", [4, 9, 30], {"le": le}),
    ], ignore_index=True)
    fig = latency_heatmap(frame)
    heat = fig.data[0]
    assert isinstance(heat, go.Heatmap)
    assert list(heat.y) == ["≤ 0.1", "(0.1, 0.5]", "> 0.5"]
    assert np.asarray(heat.z).tolist() == [[4.0, 0.0], [5.0, 0.0], [1.0, 20.0]]
    assert _no_data(latency_heatmap(empty_metrics_frame(["le"])))


def test_cost_area_stacks_models_and_names_unpriced_ones():
    table = pd.DataFrame({
        "day": ["2026-11-01", "2026-11-01", "2026-11-02", "2026-11-02", "2026-11-02"],
        "model": ["gpt-4o", "claude", "gpt-4o", "claude", "mystery-1"],
        "cost_usd": [3.0, 1.0, 4.0, 2.0, np.nan],
    })
    fig = cost_area(table)
    assert [t.name for t in fig.data] == ["gpt-4o", "claude"]  # biggest first (bottom)
    assert all(t.stackgroup == "cost" for t in fig.data)
    assert list(fig.data[0].y) == [3.0, 4.0]
    assert fig.data[0].line.color == colour_for("gpt-4o")
    assert "mystery-1" in fig.layout.title.subtitle.text
    one_day = cost_area(table[table["day"] == "2026-11-01"])
    assert [type(t).__name__ for t in one_day.data] == ["Bar", "Bar"]  # an area needs two days
    assert one_day.layout.barmode == "stack"
    low, high = (pd.Timestamp(x) for x in one_day.layout.xaxis.range)
    assert high - low == pd.Timedelta(days=2)  # a day either side, not a millisecond wide
    with pytest.raises(SchemaError, match="cost_usd"):
        cost_area(table.drop(columns="cost_usd"))
    assert _no_data(cost_area(table.iloc[:0]))


def _span(trace, sid, parent, start_ms, end_ms, **extra):
    row = {c: None for c in SPANS_COLUMNS}
    row.update(trace_id=trace, span_id=sid, parent_span_id=parent, service="svc", name=sid,
               kind="internal", status="ok", status_message="", attributes={},
               start=T0 + pd.Timedelta(milliseconds=start_ms),
               end=T0 + pd.Timedelta(milliseconds=end_ms))
    row.update(extra)
    return row


def _spans():
    rows = [
        _span("t", "run", "", 0, 100, operation="invoke_agent", agent="planner",
              input_tokens=300.0, output_tokens=30.0),
        _span("t", "chat1", "run", 5, 40, operation="chat", model="gpt-4o",
              input_tokens=100.0, output_tokens=10.0),
        _span("t", "tool", "run", 5, 80, operation="execute_tool", tool="search",
              status="error"),
        _span("t", "chat2", "tool", 10, 70, operation="chat", model="claude",
              input_tokens=200.0, output_tokens=20.0),
        _span("u", "short", "", 0, 10),
    ]
    frame = pd.DataFrame(rows, columns=list(SPANS_COLUMNS))
    for col in ("start", "end"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[ns, UTC]")
    frame["duration_ms"] = (frame["end"] - frame["start"]).dt.total_seconds() * 1e3
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame


def test_token_sankey_attributes_llm_calls_to_their_agent_once():
    fig = token_sankey(_spans())
    sankey = fig.data[0]
    assert list(sankey.node.label) == ["planner", "claude", "gpt-4o"]
    assert sorted(sankey.link.value) == [110.0, 220.0]  # the agent span's sum is not added
    assert sankey.node.color[2] == colour_for("gpt-4o")
    assert _no_data(token_sankey(empty_spans_frame()))


def test_trace_waterfall_highlights_the_critical_path():
    fig = trace_waterfall(_spans())  # the longest trace is picked
    spans, path = fig.data
    assert fig.layout.title.text == "Trace t"
    assert len(spans.y) == 4 and spans.name == "span"
    assert list(fig.layout.yaxis.ticktext) == ["run", "· chat1", "· tool", "· · chat2"]
    assert path.name == "critical path" and sum(path.x) == pytest.approx(100.0)
    # run → tool → chat2 → tool → run: chat1 finished earlier and is not on the path.
    assert sorted(set(path.y)) == [0, 2, 3]
    assert spans.marker.line.color[2] != "rgba(0,0,0,0)"  # the failed tool is outlined
    assert _no_data(trace_waterfall(empty_spans_frame()))


def test_findings_timeline_one_row_per_series_coloured_by_severity():
    findings = _findings([
        {"detector": "seasonal", "series": {"__name__": "x", "agent": "a"}, "start": T0,
         "end": T0 + pd.Timedelta(minutes=30), "severity": "warning", "observed": 5.0},
        {"detector": "level_shift", "series": {"__name__": "x", "agent": "b"},
         "start": T0 + pd.Timedelta(hours=1), "end": T0 + pd.Timedelta(hours=2),
         "severity": "critical", "observed": 7.0},
    ])
    fig = findings_timeline(findings)
    assert [t.name for t in fig.data] == ["warning", "critical"]
    assert fig.data[1].line.color == SEVERITY_COLOURS["critical"]
    assert [v for v in fig.data[0].y if v] == ["x · agent=a"] * 2
    assert _no_data(findings_timeline(empty_findings_frame()))


def test_one_template_and_figures_render_to_html():
    assert TEMPLATE in pio.templates
    assert pio.templates.default != TEMPLATE  # the user's global default is left alone
    figs = [timeseries(_series()), trace_waterfall(_spans()), token_sankey(_spans()),
            timeseries(empty_metrics_frame())]
    for fig in figs:
        assert fig.layout.template.layout.font.family.startswith("Inter")
        assert "<div" in fig.to_html(include_plotlyjs=False, full_html=False)


def test_names_whose_hash_collides_still_get_different_colours():
    # Both hash to the same palette slot; in a figure with both, the later name moves on.
    assert colour_for("reviewer") == colour_for("claude-3-5-haiku")
    table = pd.DataFrame({"day": ["2026-11-01"] * 2, "model": ["claude-3-5-haiku",
                          "reviewer"], "cost_usd": [1.0, 2.0]})
    colours = {t.name: t.marker.color for t in cost_area(table).data}
    assert colours["claude-3-5-haiku"] != colours["reviewer"]
    again = {t.name: t.marker.color for t in cost_area(table.iloc[::-1]).data}
    assert again == colours  # and both keep their colour in the next figure


def test_a_model_has_the_same_colour_whatever_was_drawn_before():
    # The daily report draws agents and tools before its cost chart; the cost report does
    # not. The model's colour must not depend on that history.
    table = pd.DataFrame({"day": ["2026-11-01"] * 2, "model": ["gpt-4o", "o3-mini"],
                          "cost_usd": [1.0, 2.0]})
    first = {t.name: t.marker.color for t in cost_area(table).data}
    timeseries(pd.concat([metrics_frame([T0], "up", [1.0], {"agent": a}) for a in
                          ("coder", "planner", "researcher", "reviewer", "summariser")],
                         ignore_index=True))
    token_sankey(_spans())
    assert {t.name: t.marker.color for t in cost_area(table).data} == first
    assert first["gpt-4o"] == colour_for("gpt-4o")


def test_empty_metrics_give_no_data_figure():
    assert _no_data(timeseries(empty_metrics_frame(), empty_findings_frame()))


def test_partial_days_at_the_edges_of_the_period_are_marked_not_read_as_a_drop():
    # A period from noon to noon three days later: the first and last days are half days.
    table = pd.DataFrame({"day": ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"],
                          "model": ["gpt-4o"] * 4, "cost_usd": [5.0, 10.0, 10.0, 5.0]})
    fig = cost_area(table, period=("2026-11-01T12:00Z", "2026-11-04T12:00Z"))
    bar = fig.data[0]
    assert list(bar.marker.pattern.shape) == ["/", "", "", "/"]
    assert list(bar.marker.opacity) == [0.45, 1.0, 1.0, 0.45]
    assert "2026-11-01: 12 of 24 h" in fig.layout.title.subtitle.text
    assert "not a drop in cost" in fig.layout.title.subtitle.text
    whole = cost_area(table, period=("2026-11-01T00:00Z", "2026-11-05T00:00Z"))
    assert whole.layout.title.subtitle.text is None
