"""Frames built with plain pandas 3 calls pass validation, converted to the contract; frames
pulled separately combine with ``frames.concat``."""

from __future__ import annotations

import pandas as pd
import pytest

from agentinsight.analysis import cost
from agentinsight.exceptions import SchemaError
from agentinsight.frames import (
    SPANS_COLUMNS,
    UTC_NS,
    concat,
    empty_spans_frame,
    metrics_frame,
    validate_findings_frame,
    validate_metrics_frame,
    validate_spans_frame,
)


def _spans_by_hand(start):
    """A one-call spans frame as a user types it: plain lists, ints, pandas' own times."""
    return pd.DataFrame({
        "trace_id": ["t1"], "span_id": ["s1"], "parent_span_id": [""], "service": ["bot"],
        "name": ["chat gpt-4o"], "kind": ["client"], "start": start,
        "end": start + pd.Timedelta(seconds=2), "duration_ms": [2000], "status": ["ok"],
        "status_message": [""], "agent": ["a"], "operation": ["chat"], "provider": ["openai"],
        "model": ["gpt-4o"], "tool": [None], "input_tokens": [1_000_000], "output_tokens": [0],
        "cache_read_tokens": [None], "cache_write_tokens": [None], "reasoning_tokens": [None],
        "attributes": [{}]})


@pytest.mark.parametrize("start", [
    pd.to_datetime(["2026-01-01T10:00:00Z"]),  # pandas 3: datetime64[us, UTC]
    pd.to_datetime(["2026-01-01T11:00:00+01:00"], utc=True).as_unit("s"),
    pd.to_datetime(["2026-01-01T10:00:00"]).tz_localize("UTC").as_unit("ms"),
    pd.DatetimeIndex([pd.Timestamp("2026-01-01 05:00", tz="America/New_York")]),
    pd.Index([pd.Timestamp.now(tz="UTC").replace(year=2026, month=1, day=1, hour=10, minute=0,
                                                 second=0, microsecond=0, nanosecond=0)]),
], ids=["to_datetime-us", "seconds", "milliseconds", "new-york", "timestamp-now"])
def test_a_spans_frame_built_with_plain_pandas_is_accepted_and_priced(start):
    frame = _spans_by_hand(start)
    checked = validate_spans_frame(frame)
    assert str(checked["start"].dtype) == UTC_NS and str(checked["end"].dtype) == UTC_NS
    assert checked["start"].iloc[0] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert checked["duration_ms"].dtype == "float64" and checked["input_tokens"].dtype == "float64"
    priced = cost.price_spans(frame)  # the analysis takes it as it is
    assert priced["cost_usd"].iloc[0] == pytest.approx(2.5)


def test_naive_times_are_refused_with_the_way_to_fix_them():
    frame = _spans_by_hand(pd.to_datetime(["2026-01-01T10:00:00"]))
    with pytest.raises(SchemaError, match=r"'start' holds datetimes without a time zone.*"
                                          r"tz_localize\('UTC'\)"):
        validate_spans_frame(frame)
    objects = _spans_by_hand(pd.Index([pd.Timestamp("2026-01-01")], dtype=object))
    with pytest.raises(SchemaError, match="'start'.*without a time zone"):
        validate_spans_frame(objects)


def test_a_metrics_frame_built_with_plain_pandas_is_accepted():
    frame = pd.DataFrame({"timestamp": pd.to_datetime(["2026-01-01T00:00Z", "2026-01-01T00:01Z"]),
                          "metric": "agent_active", "value": [1, 2], "agent": ["a", "b"]})
    checked = validate_metrics_frame(frame)
    assert checked.dtypes.astype(str).tolist() == [UTC_NS, "category", "float64", "category"]
    assert checked["value"].tolist() == [1.0, 2.0]
    with pytest.raises(SchemaError, match="'value' must be float64"):
        validate_metrics_frame(frame.assign(value=["1", "2"]))


def test_pd_concat_of_two_pulled_metrics_frames_validates_and_frames_concat_keeps_the_contract():
    a = metrics_frame([0.0, 15.0], "llm_tokens_used_total", [1.0, 2.0],
                      {"agent": ["planner", "planner"], "token_type": ["input", "input"]})
    b = metrics_frame([15.0, 30.0], "llm_tokens_used_total", [2.0, 3.0],
                      {"agent": ["planner", "coder"], "token_type": ["input", "output"]})
    plain = pd.concat([a, b], ignore_index=True)  # categories differ: pandas makes strings
    assert not isinstance(plain["agent"].dtype, pd.CategoricalDtype)
    assert isinstance(validate_metrics_frame(plain)["agent"].dtype, pd.CategoricalDtype)
    both = concat([a, b])
    assert both["value"].tolist() == [1.0, 2.0, 3.0]  # the overlapping point once
    assert both["agent"].cat.categories.tolist() == ["coder", "planner"]
    assert validate_metrics_frame(both) is both
    # a label only one frame has is missing in the other's rows
    c = metrics_frame([45.0], "llm_tokens_used_total", [4.0], {"agent": ["a"], "model": ["m"]})
    assert concat([a, c])["model"].isna().tolist() == [True, True, False]


def test_frames_concat_combines_spans_and_findings_once_each():
    one = _spans_by_hand(pd.to_datetime(["2026-01-01T10:00:00Z"]))
    two = one.assign(span_id=["s2"], start=pd.to_datetime(["2026-01-01T10:00:01Z"]).as_unit("ms"),
                     end=pd.to_datetime(["2026-01-01T10:00:02Z"]).as_unit("ms"))
    spans = concat([one, two, one, empty_spans_frame()])
    assert spans["span_id"].tolist() == ["s1", "s2"] and list(spans.columns) == list(SPANS_COLUMNS)
    assert str(spans["start"].dtype) == UTC_NS
    findings = pd.DataFrame({"fingerprint": ["f1"], "detector": ["d"], "series": [{}],
                             "start": pd.to_datetime(["2026-01-01T00:00Z"]),
                             "end": pd.to_datetime(["2026-01-01T01:00Z"]), "score": [1],
                             "severity": ["critical"], "observed": [2], "expected": [1],
                             "summary": ["s"], "trace_ids": [[]]})
    assert len(concat([findings, findings])) == 1
    assert validate_findings_frame(findings)["score"].dtype == "float64"
    with pytest.raises(SchemaError, match="different kinds"):
        concat([one, findings])
    with pytest.raises(SchemaError, match="no frames"):
        concat([])
