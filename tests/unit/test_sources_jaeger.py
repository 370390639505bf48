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
