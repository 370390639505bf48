"""Trace trees, critical paths and per-trace summaries on hand-built traces."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis.traces import (
    critical_path,
    critical_path_share,
    span_agents,
    trace_summary,
    trace_tree,
)
from agentinsight.exceptions import SchemaError
from agentinsight.frames import SPANS_COLUMNS, empty_spans_frame, validate_spans_frame

T0 = pd.Timestamp("2026-11-20T10:00:00Z")


def _span(trace, sid, parent, start_ms, end_ms, name=None, **extra):
    row = {c: None for c in SPANS_COLUMNS}
    row.update(trace_id=trace, span_id=sid, parent_span_id=parent, service="svc",
               name=name or sid, kind="internal", status="ok", status_message="",
               start=T0 + pd.Timedelta(milliseconds=start_ms),
               end=T0 + pd.Timedelta(milliseconds=end_ms), attributes={})
    row.update(extra)
    return row


def _frame(rows):
    frame = pd.DataFrame(rows, columns=list(SPANS_COLUMNS))
    frame["start"] = pd.to_datetime(frame["start"], utc=True).astype("datetime64[ns, UTC]")
    frame["end"] = pd.to_datetime(frame["end"], utc=True).astype("datetime64[ns, UTC]")
    frame["duration_ms"] = (frame["end"] - frame["start"]).dt.total_seconds() * 1e3
    for col in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens"):
        frame[col] = frame[col].astype("float64")
    return validate_spans_frame(frame)


def _parallel_trace(trace="t1"):
    # R [0,100]: A [5,60] and B [5,80] run in parallel, then C [85,95]; B waits on B1 [10,70].
    return [
        _span(trace, "R", "", 0, 100),
        _span(trace, "A", "R", 5, 60),
        _span(trace, "B", "R", 5, 80),
        _span(trace, "B1", "B", 10, 70),
        _span(trace, "C", "R", 85, 95),
    ]


def test_critical_path_follows_the_child_that_finished_last():
    cp = critical_path(_frame(_parallel_trace()))
    assert cp["span_id"].tolist() == ["R", "B", "B1", "B", "R", "C", "R"]
    assert cp["duration_ms"].tolist() == [5.0, 5.0, 60.0, 10.0, 5.0, 10.0, 5.0]
    assert "A" not in set(cp["span_id"])  # the parallel sibling that finished first
    assert cp["duration_ms"].sum() == 100.0  # the trace's end-to-end latency
    # Sections tile the root: each starts where the previous ended.
    assert (cp["start"].iloc[1:].to_numpy() == cp["end"].iloc[:-1].to_numpy()).all()


def test_sequential_children_touching_ends_leave_no_parent_gap():
    cp = critical_path(_frame([
        _span("t", "R", "", 0, 100), _span("t", "A", "R", 0, 50), _span("t", "B", "R", 50, 100),
    ]))
    assert cp["span_id"].tolist() == ["A", "B"]
    assert cp["duration_ms"].sum() == 100.0


def test_child_outliving_its_parent_is_clipped_and_zero_length_child_is_harmless():
    cp = critical_path(_frame([
        _span("t", "R", "", 0, 100), _span("t", "X", "R", 50, 150),
        _span("t", "Z", "R", 30, 30), _span("t", "Y", "R", 200, 300),
    ]))
    assert cp["span_id"].tolist() == ["R", "X"]
    assert cp["duration_ms"].tolist() == [50.0, 50.0]


def test_many_traces_at_once_each_sum_to_their_root_duration():
    rows = _parallel_trace("t1") + [
        _span("t2", "r", "", 0, 40), _span("t2", "x", "r", 10, 30),
        _span("t2", "orphan", "missing-parent", 0, 5),  # a partial trace's stray span
    ]
    cp = critical_path(_frame(rows))
    totals = cp.groupby("trace_id")["duration_ms"].sum().to_dict()
    assert totals == {"t1": 100.0, "t2": 40.0}
    assert critical_path(_frame(rows), trace_id="t2")["span_id"].tolist() == ["r", "x", "r"]


def test_critical_path_of_empty_frame_is_empty():
    assert critical_path(empty_spans_frame()).empty


def test_wide_and_deep_traces_are_not_quadratic():
    wide = [_span("w", "root", "", 0, 60_000)]
    wide += [_span("w", f"c{i}", "root", i, i + 1) for i in range(30_000)]  # 30k siblings
    deep = [_span("d", "d0", "", 0, 10_000)]
    deep += [_span("d", f"d{i}", f"d{i - 1}", i, 10_000 - i) for i in range(1, 3_000)]
    frame = _frame(wide + deep)
    began = time.perf_counter()
    cp = critical_path(frame)
    elapsed = time.perf_counter() - began
    assert cp.groupby("trace_id")["duration_ms"].sum().to_dict() == {"w": 60_000.0,
                                                                    "d": 10_000.0}
    assert elapsed < 10.0


def test_parent_cycle_is_reported_with_the_column():
    frame = _frame([_span("t", "a", "b", 0, 10), _span("t", "b", "a", 0, 10)])
    with pytest.raises(SchemaError, match="parent_span_id"):
        critical_path(frame)


def test_span_ending_before_it_starts_is_reported():
    with pytest.raises(SchemaError, match="'end' is before 'start'"):
        trace_summary(_frame([_span("t", "a", "", 10, 5)]))


def test_missing_column_is_named():
    with pytest.raises(SchemaError, match="parent_span_id"):
        critical_path(pd.DataFrame({"trace_id": ["t"], "span_id": ["a"]}))


def _agent_tree():
    # An agent run whose span carries the sum of its children's usage, a nested agent run,
    # two LLM calls, one tool call (which fails) and a slow tool.
    return [
        _span("t", "run", "", 0, 1000, "invoke_agent planner", agent="planner",
              operation="invoke_agent", input_tokens=300.0, output_tokens=30.0),
        _span("t", "llm1", "run", 10, 200, "chat gpt-4o", operation="chat", model="gpt-4o",
              provider="openai", input_tokens=100.0, output_tokens=10.0),
        _span("t", "tool1", "run", 200, 700, "execute_tool search", operation="execute_tool",
              tool="search", status="error"),
        _span("t", "sub", "tool1", 250, 650, "invoke_agent coder", agent="coder",
              operation="invoke_agent", input_tokens=200.0, output_tokens=20.0),
        _span("t", "llm2", "sub", 260, 640, "chat claude", operation="chat", model="claude",
              provider="anthropic", input_tokens=200.0, output_tokens=20.0),
        _span("t", "llm3", "run", 700, 990, "chat gpt-4o", operation="chat", model="gpt-4o",
              provider="openai"),
    ]


def test_trace_summary_counts_calls_and_tokens_once():
    s = trace_summary(_frame(_agent_tree()))
    assert len(s) == 1
    row = s.iloc[0]
    assert row["agent"] == "planner" and row["name"] == "invoke_agent planner"
    assert (row["llm_calls"], row["tool_calls"], row["agent_runs"]) == (3, 1, 2)
    assert row["errors"] == 1 and row["depth"] == 4 and row["models"] == 2
    # 100 + 200, not 300 + 200 + 100 + 200: parent sums are not counted again.
    assert row["input_tokens"] == 300.0 and row["output_tokens"] == 30.0
    assert row["duration_ms"] == 1000.0


def test_agent_run_summary_stops_at_nested_runs():
    s = trace_summary(_frame(_agent_tree()), per="agent_run").set_index("agent")
    assert s.loc["planner", "llm_calls"] == 2 and s.loc["planner", "tool_calls"] == 1
    assert s.loc["planner", "input_tokens"] == 100.0
    assert s.loc["coder", "llm_calls"] == 1 and s.loc["coder", "input_tokens"] == 200.0
    assert s.loc["planner", "agent_runs"] == 0


def test_negative_tokens_are_rejected_naming_the_column():
    rows = _agent_tree()
    rows[1]["output_tokens"] = -5.0
    with pytest.raises(SchemaError, match="output_tokens"):
        trace_summary(_frame(rows))


def test_critical_path_share_names_the_dominant_component():
    share = critical_path_share(_frame(_agent_tree()))
    # Path: planner 10 | gpt-4o 190 | search 50 | coder 10 | claude 380 | coder 10 | search 50
    # | gpt-4o 290 | planner 10.
    assert share["component"].tolist()[:3] == ["model: gpt-4o", "model: claude", "tool: search"]
    assert share.set_index("component")["critical_ms"].to_dict() == {
        "model: gpt-4o": 480.0, "model: claude": 380.0, "tool: search": 100.0,
        "agent: planner": 20.0, "agent: coder": 20.0}
    assert share["share"].sum() == pytest.approx(1.0)
    by_tool = critical_path_share(_frame(_agent_tree()), by="tool").set_index("tool")
    assert by_tool.loc["search", "critical_ms"] == 100.0  # its self time, not its children
    assert by_tool.loc["(other)", "critical_ms"] == 900.0


def test_span_agents_inherit_from_the_nearest_agent_run():
    frame = _frame(_agent_tree())
    assert span_agents(frame).tolist() == ["planner", "planner", "planner", "coder", "coder",
                                           "planner"]


def test_trace_tree_is_depth_first_with_depths():
    tree = trace_tree(_frame(_agent_tree()))
    assert tree["span_id"].tolist() == ["run", "llm1", "tool1", "sub", "llm2", "llm3"]
    assert tree["depth"].tolist() == [0, 1, 1, 2, 3, 1]
    assert tree["children"].tolist() == [3, 0, 1, 1, 0, 0]


def test_summary_vectorised_over_many_traces():
    rng = np.random.default_rng(1)
    rows = []
    for t in range(300):
        rows.append(_span(f"t{t}", "r", "", 0, 1000, operation="invoke_agent", agent="a"))
        for i in range(int(rng.integers(1, 6))):
            rows.append(_span(f"t{t}", f"l{i}", "r", i * 10, i * 10 + 5, operation="chat",
                              model="m", input_tokens=10.0, output_tokens=1.0))
    frame = _frame(rows)
    s = trace_summary(frame)
    assert len(s) == 300
    assert s["llm_calls"].sum() == len(frame) - 300
    assert s["input_tokens"].sum() == 10.0 * (len(frame) - 300)
