"""FileSource: OpenMetrics and OTLP files answer like a Prometheus and a Jaeger would."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from agentinsight.exceptions import ParseError, QueryError, SourceError
from agentinsight.frames import validate_metrics_frame, validate_spans_frame
from agentinsight.sources import FileSource

T0 = 1_793_577_600  # 2026-11-02T00:00:00Z


def _write_history(directory, minutes=60):
    """Two agents' counters (one reset), a histogram and token counters, every 60 s."""
    rng = np.random.default_rng(3)
    lines = ["# HELP agent_execution Agent runs.", "# TYPE agent_execution counter"]
    totals = {}
    for agent in ("planner", "coder"):
        for status in ("success", "error"):
            values = np.cumsum(rng.poisson(4 if status == "success" else 1, minutes + 1))
            totals[(agent, status)] = int(values[-1])
            for i, v in enumerate(values):
                lines.append(f'agent_execution_total{{agent="{agent}",status="{status}"}} '
                             f"{v} {T0 + 60 * i}")
    lines.append("# TYPE agent_execution_duration_seconds histogram")
    for agent, scale in (("planner", 1.0), ("coder", 4.0)):
        counts = np.zeros(4)
        for i in range(minutes + 1):
            obs = rng.exponential(scale, 5)
            counts += [(obs <= le).sum() for le in (1.0, 2.5, 10.0, np.inf)]
            for le, c in zip(("1.0", "2.5", "10.0", "+Inf"), counts, strict=True):
                # an exemplar on some lines must not disturb the sample
                ex = ' # {trace_id="0af7651916cd43dd8448eb211c80319c"} 0.7 ' + str(T0) \
                    if le == "2.5" and i % 7 == 0 else ""
                lines.append(f'agent_execution_duration_seconds_bucket{{agent="{agent}",'
                             f'le="{le}"}} {c:g} {T0 + 60 * i}{ex}')
    lines.append("# TYPE llm_tokens_used counter")
    for model in ("gpt-4o", "claude-sonnet-4-5"):
        for token_type in ("input", "output"):
            values = np.cumsum(rng.poisson(500, minutes + 1))
            for i, v in enumerate(values):
                lines.append(f'llm_tokens_used_total{{agent="planner",model="{model}",'
                             f'provider="x",token_type="{token_type}"}} {v} {T0 + 60 * i}')
    lines.append("# EOF")
    (directory / "metrics.om").write_text("\n".join(lines) + "\n")
    return totals


@pytest.fixture
def history(tmp_path):
    totals = _write_history(tmp_path)
    return FileSource(tmp_path), totals


def test_range_returns_the_samples_with_their_labels(history):
    files, totals = history
    frame = files.range('agent_execution_total{agent="planner"}', T0, T0 + 3600, step="60s")
    validate_metrics_frame(frame)
    assert set(frame["status"]) == {"success", "error"} and set(frame["agent"]) == {"planner"}
    last = frame[frame["timestamp"] == pd.Timestamp(T0 + 3600, unit="s", tz="UTC")]
    assert {r.status: r.value for r in last.itertuples()} == {
        "success": totals[("planner", "success")], "error": totals[("planner", "error")]}
    assert frame["metric"].astype(str).unique().tolist() == ["agent_execution_total"]


def test_range_defaults_to_the_whole_file_at_the_scrape_interval(history):
    files, _ = history
    frame = files.range("agent_execution_total")
    assert files.scrape_interval == 60.0
    assert frame["timestamp"].nunique() == 61 and len(frame) == 4 * 61


def test_range_refuses_promql_and_says_what_to_use(history):
    files, _ = history
    with pytest.raises(QueryError, match="use the helpers"):
        files.range("sum(rate(agent_execution_total[5m]))")


def test_helpers_return_frames_named_after_the_result_with_by_labels(history):
    files, _ = history
    start, end = T0 + 600 + 30, T0 + 3000 + 30
    rate = files.rate("agent_execution_total", by=["agent"], start=start, end=end)
    ratio = files.error_ratio(by="agent", start=start, end=end)
    tokens = files.token_usage(by=["model"], start=start, end=end)
    p = files.latency_quantiles(q=[0.5, 0.9], by=["agent"], start=start, end=end)
    for frame, name, by in ((rate, ["agent_execution_total:rate"], ["agent"]),
                            (ratio, ["agent_execution_total:error_ratio"], ["agent"]),
                            (tokens, ["llm_tokens_used_total:increase"], ["model"]),
                            (p, ["agent_execution_duration_seconds:p50",
                                 "agent_execution_duration_seconds:p90"], ["agent"])):
        validate_metrics_frame(frame)
        assert list(frame.columns) == ["timestamp", "metric", "value", *by]
        assert list(frame["metric"].cat.categories) == name
        assert len(frame) > 0
    assert ratio["value"].between(0, 1).all() and (ratio["value"] > 0).any()
    # the slower agent has the higher median, and p90 >= p50 everywhere
    median = p[p["metric"] == "agent_execution_duration_seconds:p50"]
    by_agent = median.groupby("agent", observed=True)["value"].mean()
    assert by_agent["coder"] > by_agent["planner"]
    wide = p.pivot_table(index=["timestamp", "agent"], columns="metric", values="value",
                         observed=True)
    assert (wide.iloc[:, 1] >= wide.iloc[:, 0]).all()


def test_token_usage_points_sum_to_the_total(history):
    files, _ = history
    frame = files.range("llm_tokens_used_total", T0 + 3600, T0 + 3600)
    true_total = frame.groupby("model", observed=True)["value"].sum()
    # ten-minute steps tiling the hour after the first sample
    usage = files.token_usage(by=["model"], start=T0 + 600, end=T0 + 3600)
    for _, group in usage.groupby("model", observed=True):
        assert group["timestamp"].diff().dropna().eq(pd.Timedelta("10min")).all()
    got = usage.groupby("model", observed=True)["value"].sum()
    first = files.range("llm_tokens_used_total", T0, T0).groupby("model", observed=True)["value"]
    for model in true_total.index:
        assert got[model] == pytest.approx(true_total[model] - first.sum()[model], rel=0.02)


def test_empty_selection_gives_an_empty_frame(history):
    files, _ = history
    frame = files.rate("no_such_metric_total", by=["agent"])
    validate_metrics_frame(frame)
    assert len(frame) == 0 and "agent" in frame.columns


def test_label_values_and_series(history):
    files, _ = history
    assert files.label_values("agent") == ["coder", "planner"]
    assert "llm_tokens_used_total" in files.label_values("__name__")
    assert len(files.series('agent_execution_total{status="error"}')) == 2


def test_a_malformed_metrics_line_is_reported_with_its_number(tmp_path):
    (tmp_path / "metrics.om").write_text(
        "# TYPE up gauge\nup 1 60\nup{job=\"a\"} one 120\n# EOF\n")
    with pytest.raises(ParseError) as info:
        FileSource(tmp_path).range("up")
    assert info.value.line == 3 and "not a number" in str(info.value)
    (tmp_path / "metrics.om").write_text("# TYPE up gauge\nup{job=\"a b\"} 1\n# EOF\n")
    with pytest.raises(ParseError, match="without a timestamp") as info:
        FileSource(tmp_path).range("up")
    assert info.value.line == 2


def test_missing_directory_and_files_are_clear_errors(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        FileSource(tmp_path / "nope").range("up")
    with pytest.raises(SourceError, match="spans file"):
        FileSource(tmp_path).spans()
    with pytest.raises(SourceError, match="no ground truth"):
        FileSource(tmp_path).truth()


def test_spans_truth_and_services(tmp_path):
    doc = {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "bot"}}]},
        "scopeSpans": [{"spans": [
            {"traceId": f"{i:032x}", "spanId": f"{i:016x}", "name": "invoke_agent planner",
             "kind": 1, "startTimeUnixNano": str((T0 + 60 * i) * 10**9),
             "endTimeUnixNano": str((T0 + 60 * i + 1) * 10**9)} for i in range(1, 6)]}]}]}
    (tmp_path / "spans.jsonl").write_text(json.dumps(doc) + "\n")
    (tmp_path / "truth.json").write_text(json.dumps({"scrape_interval_s": 15}))
    files = FileSource(tmp_path)
    spans = files.spans(start=T0 + 120, end=T0 + 240)
    validate_spans_frame(spans)
    assert len(spans) == 3
    assert files.services() == ["bot"]
    assert files.truth()["scrape_interval_s"] == 15 and files.scrape_interval == 15.0
    with pytest.raises(ValueError, match="after end"):
        files.spans(start=T0 + 240, end=T0 + 120)


def test_odd_but_valid_lines_are_read(tmp_path):
    (tmp_path / "metrics.om").write_text(
        "# HELP up\n"  # three words: not a sample
        "# TYPE up gauge\n"
        'up{job="a b",path="C:\\\\x \\"q\\""} 1 60\n'  # spaces and escapes inside labels
        'up{job="c"} NaN 60\n'
        'up{job="c"} +Inf 120 # {trace_id="0af7651916cd43dd8448eb211c80319c"} 1 119.5\n'
        "# EOF\n")
    frame = FileSource(tmp_path).range("up", 60, 120, step="60s")
    got = {(r.job, r.timestamp.value // 10**9): r.value for r in frame.itertuples()}
    assert got[("a b", 60)] == 1.0 and got[("c", 120)] == np.inf and np.isnan(got[("c", 60)])
    assert FileSource(tmp_path).label_values("path") == ['C:\\x "q"']
