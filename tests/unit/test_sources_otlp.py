"""The one OTLP JSON parser: files, api_v3 answers, both JSON flavours, corrupt lines."""

from __future__ import annotations

import base64
import json
import math

import pandas as pd
import pytest

from agentinsight.exceptions import ParseError
from agentinsight.frames import SPANS_COLUMNS, validate_spans_frame
from agentinsight.sources import parse_otlp_text, read_otlp_jsonl, spans_from_otlp

TRACE = "0af7651916cd43dd8448eb211c80319c"
ROOT = "b7ad6b7169203331"
CHILD = "00f067aa0ba902b7"


def _kv(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _doc(*, b64=False, numbers=False, enum_names=False, service="support-bot"):
    def ident(hex_id):
        return base64.b64encode(bytes.fromhex(hex_id)).decode() if b64 else hex_id

    def int64(n):
        return n if numbers else str(n)

    root = {
        "traceId": ident(TRACE), "spanId": ident(ROOT), "parentSpanId": "",
        "name": "invoke_agent planner", "kind": "SPAN_KIND_INTERNAL" if enum_names else 1,
        "startTimeUnixNano": int64(1_764_000_000_000_000_000),
        "endTimeUnixNano": int64(1_764_000_002_500_000_000),
        "attributes": [_kv("gen_ai.agent.name", "planner"),
                       _kv("gen_ai.operation.name", "invoke_agent"), _kv("session.id", "s-1")],
        "status": {"code": "STATUS_CODE_OK" if enum_names else 1},
    }
    child = {
        "traceId": ident(TRACE), "spanId": ident(CHILD), "parentSpanId": ident(ROOT),
        "name": "chat gpt-4o", "kind": "SPAN_KIND_CLIENT" if enum_names else 3,
        "startTimeUnixNano": int64(1_764_000_000_500_000_000),
        "endTimeUnixNano": int64(1_764_000_001_700_000_000),
        "attributes": [
            _kv("gen_ai.operation.name", "chat"), _kv("gen_ai.provider.name", "openai"),
            _kv("gen_ai.response.model", "gpt-4o-2024-08-06"),
            _kv("gen_ai.usage.input_tokens", 1200), _kv("gen_ai.usage.output_tokens", 300),
            _kv("gen_ai.usage.cache_read.input_tokens", 1000),
            _kv("gen_ai.usage.cache_creation.input_tokens", 0),
            _kv("gen_ai.usage.reasoning.output_tokens", 120),
            _kv("server.address", "api.openai.com"), _kv("retry", True), _kv("temp", 0.2),
        ],
        "status": {"code": "STATUS_CODE_ERROR" if enum_names else 2, "message": "rate limited"},
    }
    return {"resourceSpans": [{
        "resource": {"attributes": [_kv("service.name", service)]},
        "scopeSpans": [{"scope": {"name": "agentinsight"}, "spans": [root, child]}],
    }]}


def _check(frame):
    validate_spans_frame(frame)
    assert list(frame.columns) == list(SPANS_COLUMNS)
    root, child = frame.iloc[0], frame.iloc[1]
    assert (root["trace_id"], root["span_id"], root["parent_span_id"]) == (TRACE, ROOT, "")
    assert (child["trace_id"], child["span_id"], child["parent_span_id"]) == (TRACE, CHILD, ROOT)
    assert (root["kind"], child["kind"]) == ("internal", "client")
    assert (root["status"], child["status"], child["status_message"]) == (
        "ok", "error", "rate limited")
    assert root["service"] == "support-bot" and root["agent"] == "planner"
    assert root["duration_ms"] == 2500.0 and child["duration_ms"] == 1200.0
    assert root["start"] == pd.Timestamp("2025-11-24T16:00:00Z")
    # request.model absent: the model column falls back to the response model
    assert (child["operation"], child["provider"], child["model"]) == (
        "chat", "openai", "gpt-4o-2024-08-06")
    assert [child[c] for c in ("input_tokens", "output_tokens", "cache_read_tokens",
                               "cache_write_tokens", "reasoning_tokens")] == [
        1200.0, 300.0, 1000.0, 0.0, 120.0]
    assert math.isnan(root["input_tokens"])
    # promoted attributes leave the dict; the rest stay, typed
    assert root["attributes"] == {"session.id": "s-1"}
    assert child["attributes"]["server.address"] == "api.openai.com"
    assert child["attributes"]["retry"] is True and child["attributes"]["temp"] == 0.2
    assert "gen_ai.usage.input_tokens" not in child["attributes"]


@pytest.mark.parametrize("flavour", [
    {}, {"b64": True}, {"numbers": True}, {"enum_names": True},
    {"b64": True, "numbers": True, "enum_names": True},
])
def test_both_otlp_json_flavours_give_the_same_frame(flavour):
    _check(spans_from_otlp([_doc(**flavour)]))


def test_jsonl_file(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(_doc()) + "\n\n" + json.dumps(_doc(service="other")) + "\n")
    frame = read_otlp_jsonl(path)
    assert len(frame) == 4
    _check(frame.iloc[:2].reset_index(drop=True))
    assert frame["service"].tolist()[2:] == ["other", "other"]


def test_api_v3_answer_and_streamed_documents():
    one = json.dumps({"result": _doc()})
    _check(parse_otlp_text(one))
    two = parse_otlp_text(one + "\n" + json.dumps({"result": _doc(service="b")}))
    assert len(two) == 4 and two["service"].tolist() == ["support-bot"] * 2 + ["b"] * 2


def test_empty_inputs_give_empty_frames(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text("")
    for frame in (read_otlp_jsonl(path), parse_otlp_text(""), spans_from_otlp([])):
        validate_spans_frame(frame)
        assert len(frame) == 0


def test_a_corrupt_line_names_file_and_line(tmp_path):
    path = tmp_path / "spans.jsonl"
    good = json.dumps(_doc())
    path.write_text("\n".join([good, good, '{"resourceSpans": [{"scopeSp', good]) + "\n")
    with pytest.raises(ParseError) as info:
        read_otlp_jsonl(path)
    assert info.value.line == 3 and info.value.path == str(path)
    assert f"{path}:3" in str(info.value)


def test_skip_reads_past_corrupt_lines_and_warns_with_their_numbers(tmp_path):
    path = tmp_path / "spans.jsonl"
    good = json.dumps(_doc())
    # line 2: not JSON; line 4: JSON but a span without an id (half-parsed, must not leak)
    bad_span = _doc()
    del bad_span["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"]
    path.write_text("\n".join([good, "garbage", good, json.dumps(bad_span), good]) + "\n")
    with pytest.warns(UserWarning, match=r"skipped 2 corrupt line\(s\): 2, 4"):
        frame = read_otlp_jsonl(path, errors="skip")
    validate_spans_frame(frame)
    assert len(frame) == 6


def test_bad_ids_are_reported():
    doc = _doc()
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] = "not-an-id!"
    with pytest.raises(ParseError, match="neither 32-digit hex nor base64"):
        parse_otlp_text(json.dumps(doc))


def test_errors_argument_is_checked(tmp_path):
    with pytest.raises(ValueError, match="errors must be"):
        read_otlp_jsonl(tmp_path / "x.jsonl", errors="ignore")
