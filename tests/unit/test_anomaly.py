"""anomaly: score_series, detect, detect_traces and findings_html, as a user sees them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis.anomaly import (
    InsufficientDataWarning,
    detect,
    detect_traces,
    findings_html,
    score_series,
)
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import (
    FINDINGS_COLUMNS,
    empty_metrics_frame,
    empty_spans_frame,
    metrics_frame,
    validate_findings_frame,
)


def test_public_names_are_sorted_and_exist() -> None:
    from agentinsight.analysis import anomaly

    assert anomaly.__all__ == sorted(anomaly.__all__)
    assert all(hasattr(anomaly, name) for name in anomaly.__all__)


# --- score_series --------------------------------------------------------------------------------


def _noisy(n: int = 2000, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC")
    daily = 10 * np.sin(2 * np.pi * np.arange(n) / 288)
    return pd.Series(50 + daily + rng.normal(0, 1, n), index=index)


def test_score_series_flags_a_spike_and_keeps_the_index() -> None:
    s = _noisy()
    s.iloc[1500] = 200.0
    scores = score_series(s)
    assert scores.index.equals(s.index)
    assert scores.between(0, 1).all()
    assert scores.iloc[1500] > 0.99
    # no echo a day later (the daily view compares with a median of earlier days); at most a
    # new noise record or two passes 0.5 (the score is tuned to NAB's eagerness)
    assert scores.iloc[1500 + 288] < 0.1
    quiet = scores.drop(s.index[1500]).iloc[288:]
    assert (quiet >= 0.5).sum() <= 2
    assert scores.iloc[1500] > quiet.max()


def test_score_series_is_causal_and_fresh_per_call() -> None:
    s = _noisy()
    s.iloc[1500] = 200.0
    full = score_series(s)
    head = score_series(s.iloc[:1200])
    np.testing.assert_allclose(full.iloc[:1200].to_numpy(), head.to_numpy())
    np.testing.assert_allclose(score_series(s).to_numpy(), full.to_numpy())


def test_score_series_sees_a_shift_that_stays_below_an_old_spike() -> None:
    # one huge spike early on used to set the bar for the rest of the series: a later level
    # shift of 20 standard deviations stayed inside the spike's range and scored 0
    rng = np.random.default_rng(0)
    values = 10.0 + rng.normal(0.0, 0.5, 4000)
    values[300] = 1000.0
    values[3500:] += 10.0
    scores = score_series(pd.Series(values))
    assert scores.iloc[300] > 0.9
    assert scores.iloc[3500:3510].max() > 0.5
    assert scores.iloc[301:3500].max() < 0.5 and scores.iloc[3510:].max() < 0.5


def test_score_series_adds_up_a_quick_run_of_small_records() -> None:
    # three small records in 20 points: each alone stays under the 0.5 threshold (the third
    # scored 0.498 when only its own excess counted); their sum within the report-once
    # look-back crosses it, while one record of the same size still does not
    rng = np.random.default_rng(0)
    values = rng.uniform(0.0, 1.0, 600)
    values[:2] = [0.0, 1.0]
    values[[400, 410, 420]] = [1.015, 1.035, 1.06]
    scores = score_series(pd.Series(values))
    assert scores.iloc[400] < 0.5
    assert scores.iloc[420] > 0.8
    assert scores.iloc[421:].max() < 0.5


def test_score_series_bad_and_degenerate_input() -> None:
    with pytest.warns(InsufficientDataWarning):
        assert score_series(pd.Series([], dtype=float)).empty
        assert score_series(pd.Series([3.0])).tolist() == [0.0]
    assert score_series(pd.Series(np.full(500, 7.0))).max() == 0.0
    gaps = _noisy()
    gaps.iloc[100:300] = np.nan
    gaps.iloc[1700] = np.inf
    scores = score_series(gaps)
    assert not scores.isna().any()
    assert scores.iloc[100:300].max() == 0.0 and scores.iloc[1700] == 0.0
    with pytest.raises(ConfigurationError, match="expected a pandas Series"):
        score_series([1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="'latency' must hold numbers"):
        score_series(pd.Series(["a", "b"], name="latency"))
    with pytest.warns(InsufficientDataWarning, match="'short' has 5 rows"):
        assert score_series(pd.Series(np.arange(5.0), name="short")).max() == 0.0


def test_detect_says_why_a_fresh_series_has_no_findings() -> None:
    # a deployment three hours old, pulled at a 60 s step: a day is needed to learn the cycle
    frame = _frame(n=180, shift_at=None)
    with pytest.warns(InsufficientDataWarning, match="2 of 2 series have too little history"):
        found = detect(frame)
    assert found.empty
    notes = found.attrs["insufficient_data"]
    assert [n["series"]["agent"] for n in notes] == ["a", "b"]
    assert notes[0]["points"] == 180 and notes[0]["needed"] == 1441
    assert notes[0]["detectors"] == "extreme+seasonal"
    assert "24.0 h at a 1 min step" in notes[0]["summary"]
    with pytest.warns(InsufficientDataWarning, match=r"extreme\+seasonal\+level_shift need 1441"):
        assert detect(_frame(n=5, shift_at=None)).attrs["insufficient_data"][0]["points"] == 5
    with pytest.warns(InsufficientDataWarning, match="empty"):
        assert detect(empty_metrics_frame(["agent"])).attrs["insufficient_data"] == []


def test_detect_notes_nothing_when_history_suffices() -> None:
    import warnings

    # a series sampled every 10 minutes beside one sampled every minute: two days of history
    # on the minute grid are enough for both, though the sparse one has only 288 values
    frame = _frame()
    sparse = frame[(frame["agent"] == "b") & (np.arange(len(frame)) % 10 == 0)]
    frame = pd.concat([frame[frame["agent"] == "a"], sparse], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsufficientDataWarning)
        found = detect(frame)
    assert found.attrs["insufficient_data"] == []


# --- detect --------------------------------------------------------------------------------------


def _frame(n: int = 3000, shift_at: int | None = 2500, agents: tuple[str, ...] = ("a", "b")
           ) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    t = 1.7e9 + np.arange(n) * 60.0
    parts = []
    for agent in agents:
        v = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 1440) + rng.normal(0, 0.5, n)
        if shift_at is not None and agent == "a":
            v[shift_at:] += 15
        parts.append(metrics_frame(t, "agent_execution_rate", v, {"agent": [agent] * n}))
    frame = pd.concat(parts, ignore_index=True)
    frame["agent"] = frame["agent"].astype("category")
    frame["metric"] = frame["metric"].astype("category")
    return frame


def test_extreme_learns_one_day_of_time_on_a_grid_with_gaps() -> None:
    # a per-run series has steps only where enough runs finished: here 08:00-18:00 at 10 min,
    # 60 steps a day where a full day has 144; a tripling on the third morning (step 132) must
    # be judged, not left in a warm-up counted as 144 steps
    from agentinsight.analysis.anomaly import ExtremeValueDetector

    rng = np.random.default_rng(5)
    first = pd.Timestamp("2026-11-02 08:00", tz="UTC").timestamp()
    t = (first + np.arange(4)[:, None] * 86400.0 + np.arange(60)[None, :] * 600.0).ravel()
    v = 20_000 + rng.normal(0, 1_500, len(t))
    v[132:150] *= 3
    frame = metrics_frame(t, "llm_tokens_per_run", v, {"agent": ["researcher"] * len(t)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", InsufficientDataWarning)
        found = detect(frame, detectors={"extreme": ExtremeValueDetector(warmup=24, ramp=0)},
                       threshold=0.8)
    assert found.attrs["insufficient_data"] == []
    assert len(found) == 1
    assert found.iloc[0]["start"] == pd.Timestamp(t[132], unit="s", tz="UTC")


def test_detect_finds_the_shift_on_the_right_series_only() -> None:
    found = detect(_frame())
    validate_findings_frame(found)
    assert list(found.columns[: len(FINDINGS_COLUMNS)]) == list(FINDINGS_COLUMNS)
    # the shift lasts: a daily-profile detector may report it again later the same day
    assert 1 <= len(found) <= 2
    assert {f["agent"] for f in found["series"]} == {"a"}
    row = found.iloc[0]
    assert row["series"] == {"__name__": "agent_execution_rate", "agent": "a"}
    shift_time = pd.Timestamp(1.7e9 + 2500 * 60, unit="s", tz="UTC")
    assert abs(row["start"] - shift_time) <= pd.Timedelta(minutes=10)
    assert "agent_execution_rate{agent=a}" in row["summary"]
    assert row["severity"] in ("warning", "critical")
    assert row["observed"] > row["expected"]
    assert len(row["detector"].split("+")) >= 2  # detectors agreeing were merged into one


def test_detect_is_stable_and_quiet_without_incidents() -> None:
    assert detect(_frame(shift_at=None)).empty
    a, b = detect(_frame()), detect(_frame())
    assert a["fingerprint"].tolist() == b["fingerprint"].tolist()


def test_detect_links_exemplar_and_span_trace_ids() -> None:
    frame = _frame()
    when = pd.Timestamp(1.7e9 + 2501 * 60, unit="s", tz="UTC")
    exemplars = pd.DataFrame({"timestamp": [when, when], "trace_id": ["ab" * 16, "cd" * 16],
                              "metric": ["agent_execution_rate"] * 2, "agent": ["a", "b"]})
    found = detect(frame, exemplars=exemplars)
    assert found.iloc[0]["trace_ids"] == ["ab" * 16]
    spans = _spans(start=when - pd.Timedelta(seconds=30))
    found = detect(frame, spans=spans)
    assert "1" * 32 in found.iloc[0]["trace_ids"]


def test_detect_bad_input_is_named() -> None:
    with pytest.warns(InsufficientDataWarning):
        assert detect(empty_metrics_frame(["agent"])).empty
        assert detect(_frame(n=5, shift_at=None)).empty
    with pytest.raises(SchemaError, match="'value'"):
        detect(_frame().drop(columns="value"))
    with pytest.raises(ConfigurationError, match="unknown detector"):
        detect(_frame(), detectors=["nope"])
    constant = metrics_frame(np.arange(500) * 60.0, "up", np.ones(500), {"job": ["x"] * 500})
    with pytest.warns(InsufficientDataWarning, match="up{job=x}"):
        assert detect(constant).empty  # a constant series, and less than a day of it
    gappy = _frame().sample(frac=0.7, random_state=1).sort_values("timestamp")
    found = detect(gappy)  # irregular timestamps and gaps still find the shift
    assert {f["agent"] for f in found["series"]} == {"a"}


# --- traces --------------------------------------------------------------------------------------


def _span(trace: str, span: str, parent: str, name: str, start: pd.Timestamp, ms: float,
          operation: str, agent: str | None = None, status: str = "ok",
          model: str | None = None, tool: str | None = None) -> dict:
    return {
        "trace_id": trace, "span_id": span, "parent_span_id": parent, "service": "svc",
        "name": name, "kind": "internal", "start": start,
        "end": start + pd.Timedelta(milliseconds=ms), "duration_ms": float(ms),
        "status": status, "status_message": "", "agent": agent, "operation": operation,
        "provider": "openai" if model else None, "model": model, "tool": tool,
        "input_tokens": 100.0 if model else np.nan, "output_tokens": 20.0 if model else np.nan,
        "cache_read_tokens": np.nan, "cache_write_tokens": np.nan, "reasoning_tokens": np.nan,
        "attributes": {},
    }


def _spans(runs: int = 1, start: pd.Timestamp | None = None, calls: int = 3,
           slow_ms: float = 800.0, error: bool = False, tid: int = 1) -> pd.DataFrame:
    start = start or pd.Timestamp("2026-01-01", tz="UTC")
    rows = []
    for r in range(runs):
        trace = f"{tid + r:032x}" if tid != 1 or r else "1" * 32
        t0 = start + pd.Timedelta(minutes=r)
        rows.append(_span(trace, "a0", "", "invoke_agent planner", t0, 5000, "invoke_agent",
                          agent="a", status="error" if error else "ok"))
        for c in range(calls):
            rows.append(_span(trace, f"c{c}", "a0", "chat gpt-4o", t0, slow_ms, "chat",
                              model="gpt-4o", status="error" if error else "ok"))
            rows.append(_span(trace, f"t{c}", "a0", "execute_tool search", t0, 50,
                              "execute_tool", tool="search"))
    frame = pd.DataFrame(rows)
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame


def test_detect_traces_finds_runaway_run_slow_calls_and_error_burst() -> None:
    normal = _spans(runs=300, tid=1000)
    runaway = _spans(runs=1, start=pd.Timestamp("2026-01-01 06:00", tz="UTC"), calls=40,
                     tid=5000)
    slow = _spans(runs=1, start=pd.Timestamp("2026-01-01 07:00", tz="UTC"),
                  slow_ms=60_000.0, tid=6000)
    errors = _spans(runs=10, start=pd.Timestamp("2026-01-01 08:00", tz="UTC"), error=True,
                    tid=7000)
    errors["start"] = errors["start"].dt.floor("5min")
    spans = pd.concat([normal, runaway, slow, errors], ignore_index=True)
    found = detect_traces(spans)
    validate_findings_frame(found)
    kinds = {d: found[found["detector"].str.contains(d)] for d in
             ("runaway_run", "latency_outlier", "error_burst")}
    assert kinds["runaway_run"]["trace_ids"].iloc[0] == [f"{5000:032x}"]
    assert f"{6000:032x}" in kinds["latency_outlier"]["trace_ids"].iloc[0]
    assert kinds["error_burst"]["series"].iloc[0] == {"agent": "a"} or len(kinds["error_burst"])
    assert len(found) <= 6
    assert "40 LLM and 40 tool calls" in " ".join(found["summary"])


def test_an_error_burst_on_spans_with_no_agent_is_labelled_as_the_service() -> None:
    # the service's own HTTP server spans carry no agent: their burst is the service's, not
    # an agent's named "svc"
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    rows = [_span(f"{i:032x}", "s0", "", "POST /v1/tasks", t0 + pd.Timedelta(seconds=20 * i),
                  10, "http", status="error" if i >= 400 and i % 2 else "ok")
            for i in range(440)]
    frame = pd.DataFrame(rows)
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    found = detect_traces(frame, detectors=["error_burst"])
    assert len(found) >= 1
    assert all(s == {"service": "svc"} for s in found["series"]), found["series"].tolist()
    assert found["summary"].str.startswith("service=svc:").all()


def test_detect_traces_empty_and_bad_options() -> None:
    assert detect_traces(empty_spans_frame()).empty
    with pytest.raises(ConfigurationError, match="unknown detector"):
        detect_traces(empty_spans_frame(), detectors=["bogus"])
    with pytest.raises(ConfigurationError, match="not taken"):
        detect_traces(_spans(), colour="red")


def test_findings_html_shows_each_finding() -> None:
    found = detect(_frame())
    page = findings_html(found)
    assert page.count("<tr style=") == len(found)
    assert "agent=a" in page and "critical" in page or "warning" in page
    assert "0 finding(s)" in findings_html(found.iloc[:0])


def test_detect_catches_a_queue_that_backs_up_step_by_step() -> None:
    # a backlog sets a new record every minute, each by a small step: judged only against the
    # previous maximum it never looks extreme, so the climb itself is judged too
    rng = np.random.default_rng(5)
    n = 3 * 1440
    queue = rng.poisson(1.5, n).astype(float)
    start = 2 * 1440 + 600
    queue[start:start + 50] = queue[start - 1] + 2.0 * np.arange(1, 51)
    queue[start + 50:start + 100] = np.linspace(100, 0, 50)
    frame = metrics_frame(1.7e9 + np.arange(n) * 60.0, "task_queue_size", queue,
                          {"queue": ["default"] * n})
    found = detect(frame, detectors=["extreme"], threshold=0.7)
    assert len(found) == 1
    assert found.iloc[0]["start"] <= pd.Timestamp(1.7e9 + (start + 30) * 60, unit="s", tz="UTC")
    calm = frame.assign(value=rng.poisson(1.5, n).astype(float))
    assert detect(calm, detectors=["extreme"], threshold=0.7).empty


# --- detect on long frames: series scored a block at a time -------------------------------------


def _fleet(series: int = 12, n: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    t = 1.7e9 + np.arange(n) * 600.0  # 10-minute points: a day is 144 of them
    v = 20 + 5 * np.sin(2 * np.pi * np.arange(n) / 144) + rng.normal(0, 0.5, (series, n))
    v[::4, 800:] += 15  # every fourth series shifts
    v[1, 700] = 400.0  # and one spikes once
    column = np.repeat(np.arange(series), n)
    return metrics_frame(np.tile(t, series), "agent_execution_rate", v.ravel(),
                         {"agent": [f"agent-{c:02d}" for c in column]})


def test_detect_finds_the_same_in_blocks_of_series_as_all_at_once(monkeypatch) -> None:
    from agentinsight.analysis._detectors import wide

    frame = _fleet()
    whole = detect(frame)
    assert {f["agent"] for f in whole["series"]} >= {"agent-00", "agent-01", "agent-04",
                                                     "agent-08"}
    for per_block in (1, 5):  # blocks of 5, 5 and 2 series: the last one is short
        monkeypatch.setattr(wide, "BLOCK_CELLS", 1000 * per_block)
        blocked = detect(frame)
        pd.testing.assert_frame_equal(blocked, whole)
        assert blocked.attrs == whole.attrs


def test_detect_memory_stays_near_the_points_matrix(monkeypatch) -> None:
    import tracemalloc

    from agentinsight.analysis._detectors import wide

    series, n = 40, 1000
    frame = _fleet(series, n)
    matrix = series * n * 8  # the points x series float64 matrix detect scores
    monkeypatch.setattr(wide, "BLOCK_CELLS", n * 4)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        found = detect(frame)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    assert len(found)
    # one block's temporaries (a few dozen arrays of 4 series) beside the matrix, not a few
    # dozen arrays of all 40 series (about 30 matrices' worth when scored all at once)
    assert peak < 8 * matrix, f"detect peaked at {peak / matrix:.1f} x the points matrix"


def test_a_backlog_climbing_past_earlier_bursts_is_caught_early() -> None:
    # the queue has had bursts of 30 before; a backlog climbs 4 tasks a minute to 240: each
    # point beats the one before by little, but it soon leaves everything before it behind
    rng = np.random.default_rng(11)
    n = 3 * 1440
    queue = rng.poisson(1.5, n).astype(float)
    for at in (700, 1500, 2300):  # ordinary bursts that drain within the quarter hour
        queue[at:at + 15] += np.r_[np.linspace(2, 30, 8), np.linspace(24, 3, 7)]
    start = 2 * 1440 + 900
    queue[start:start + 60] = queue[start - 1] + 4.0 * np.arange(1, 61)
    queue[start + 60:start + 120] = np.linspace(240, 0, 60)
    frame = metrics_frame(1.7e9 + np.arange(n) * 60.0, "task_queue_size", queue,
                          {"queue": ["default"] * n})
    found = detect(frame, detectors=["extreme"], threshold=0.7)
    hits = found[found["end"] >= pd.Timestamp(1.7e9 + start * 60, unit="s", tz="UTC")]
    assert len(hits) == 1
    assert hits.iloc[0]["start"] <= pd.Timestamp(1.7e9 + (start + 20) * 60, unit="s", tz="UTC")
