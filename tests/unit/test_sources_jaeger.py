"""Jaeger's v1 JSON maps onto the same spans frame as OTLP (no server needed here)."""

from __future__ import annotations

import pytest

from agentinsight._time import rfc3339_from_ns as _rfc3339
from agentinsight.exceptions import ConfigurationError, SourceError
from agentinsight.frames import validate_spans_frame
from agentinsight.sources import JaegerSource
from agentinsight.sources.jaeger import spans_from_v1

V1 = {"data": [{
    "traceID": "0af7651916cd43dd8448eb211c80319c",
    "spans": [
        {"traceID": "0af7651916cd43dd8448eb211c80319c", "spanID": "b7ad6b7169203331",
         "operationName": "invoke_agent planner", "references": [],
         "startTime": 1764000000000000, "duration": 2500000, "processID": "p1",
         "tags": [{"key": "gen_ai.agent.name", "type": "string", "value": "planner"},
                  {"key": "span.kind", "type": "string", "value": "internal"},
                  {"key": "otel.status_code", "type": "string", "value": "OK"},
                  {"key": "otel.scope.name", "type": "string", "value": "agentinsight"}]},
        {"traceID": "0af7651916cd43dd8448eb211c80319c", "spanID": "00f067aa0ba902b7",
         "operationName": "chat gpt-4o",
         "references": [{"refType": "CHILD_OF", "traceID": "0af7651916cd43dd8448eb211c80319c",
                         "spanID": "b7ad6b7169203331"}],
         "startTime": 1764000000500000, "duration": 1200000, "processID": "p1",
         "tags": [{"key": "gen_ai.request.model", "type": "string", "value": "gpt-4o"},
                  {"key": "gen_ai.usage.input_tokens", "type": "int64", "value": 1200},
                  {"key": "span.kind", "type": "string", "value": "client"},
                  {"key": "error", "type": "bool", "value": True},
                  {"key": "otel.status_description", "type": "string", "value": "boom"},
                  {"key": "temperature", "type": "float64", "value": 0.2}]},
    ],
    "processes": {"p1": {"serviceName": "support-bot", "tags": []}},
}]}


def test_v1_json_maps_onto_the_spans_frame():
    frame = validate_spans_frame(spans_from_v1(V1))
    root, child = frame.iloc[0], frame.iloc[1]
    assert root["parent_span_id"] == "" and child["parent_span_id"] == "b7ad6b7169203331"
    assert (root["kind"], child["kind"]) == ("internal", "client")
    assert (root["status"], child["status"], child["status_message"]) == ("ok", "error", "boom")
    assert root["service"] == "support-bot" and root["agent"] == "planner"
    assert child["model"] == "gpt-4o" and child["input_tokens"] == 1200.0
    assert root["duration_ms"] == 2500.0
    assert (child["start"] - root["start"]).total_seconds() == 0.5
    assert root["attributes"] == {} and child["attributes"] == {"temperature": 0.2}


def test_a_broken_v1_answer_is_a_source_error():
    with pytest.raises(SourceError, match="Jaeger v1"):
        spans_from_v1({"data": [{"spans": [{"spanID": "1"}]}]})


def test_rfc3339_keeps_nanoseconds():
    assert _rfc3339(1_764_000_000_123_456_789) == "2025-11-24T16:00:00.123456789Z"


def test_bad_arguments_fail_early():
    with pytest.raises(ConfigurationError, match="api must be"):
        JaegerSource("http://localhost:16686", api="v2")
    with pytest.raises(ConfigurationError, match="http"):
        JaegerSource("localhost:16686")
    with pytest.raises(ConfigurationError, match="service name"):
        JaegerSource("http://127.0.0.1:9", api="v3").traces("")


def _v1_span(span_id, refs, trace_id="0af7651916cd43dd8448eb211c80319c"):
    return {"traceID": trace_id, "spanID": span_id, "operationName": "step",
            "references": refs, "startTime": 1764000000000000, "duration": 10,
            "processID": "p1", "tags": [], "logs": [], "warnings": None, "flags": 1}


def test_v1_parent_is_the_first_child_of_within_the_same_trace():
    here, elsewhere = "0af7651916cd43dd8448eb211c80319c", "4bf92f3577b34da6a3ce929d0e0e4736"
    body = {"data": [{"traceID": here, "processes": {"p1": {"serviceName": "bot", "tags": []}},
                      "warnings": None, "spans": [
        _v1_span("b7ad6b7169203331", []),
        # the first reference points into another trace (a batch job that spans traces): Jaeger
        # itself takes the first CHILD_OF of the span's own trace as the parent
        _v1_span("00f067aa0ba902b7", [
            {"refType": "CHILD_OF", "traceID": elsewhere, "spanID": "1111111111111111"},
            {"refType": "CHILD_OF", "traceID": here, "spanID": "b7ad6b7169203331"}]),
        # only a reference into another trace: a root of this trace, not an orphan
        _v1_span("2222222222222222", [
            {"refType": "CHILD_OF", "traceID": elsewhere, "spanID": "1111111111111111"}]),
        # FOLLOWS_FROM is not a parent either
        _v1_span("3333333333333333", [
            {"refType": "FOLLOWS_FROM", "traceID": here, "spanID": "b7ad6b7169203331"}]),
    ]}]}
    parents = spans_from_v1(body).set_index("span_id")["parent_span_id"].to_dict()
    assert parents == {"b7ad6b7169203331": "", "00f067aa0ba902b7": "b7ad6b7169203331",
                       "2222222222222222": "", "3333333333333333": ""}


def test_v1_tags_of_older_conventions_fill_the_genai_columns():
    body = {"data": [{"traceID": "0af7651916cd43dd8448eb211c80319c",
                      "processes": {"p1": {"serviceName": "bot"}}, "spans": [
        {**_v1_span("b7ad6b7169203331", []), "tags": [
            {"key": "gen_ai.system", "type": "string", "value": "openai"},
            {"key": "llm.request.type", "type": "string", "value": "chat"},
            {"key": "gen_ai.request.model", "type": "string", "value": "gpt-4o"},
            {"key": "gen_ai.usage.prompt_tokens", "type": "int64", "value": 120},
            {"key": "gen_ai.usage.completion_tokens", "type": "int64", "value": 30}]}]}]}
    row = spans_from_v1(body).iloc[0]
    assert (row["provider"], row["operation"], row["model"]) == ("openai", "chat", "gpt-4o")
    assert (row["input_tokens"], row["output_tokens"]) == (120.0, 30.0)
