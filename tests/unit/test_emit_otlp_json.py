"""traces_exporter="file:PATH": OTLP JSON lines as the Collector's file exporter writes them."""

from __future__ import annotations

import json

import prometheus_client
import pytest

from agentinsight import emit


def _attrs(items):
    out = {}
    for item in items:
        (kind, raw), = item["value"].items()
        out[item["key"]] = int(raw) if kind == "intValue" else raw
    return out


def test_file_exporter_writes_traces_data_lines(tmp_path):
    path = tmp_path / "traces" / "spans.jsonl"
    emit.configure("support-bot", registry=prometheus_client.CollectorRegistry(),
                   traces_exporter=f"file:{path}")
    with emit.agent_run("planner"):
        with emit.llm_call(model="gpt-4o", provider="openai") as call:
            call.record_usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000,
                              reasoning_tokens=20, response_model="gpt-4o-2024-08-06")
        with pytest.raises(KeyError), emit.tool_call("web_search"):
            raise KeyError("missing")
    emit.flush()
    lines = path.read_text().splitlines()
    assert lines, "nothing written"
    spans, resources = [], []
    for line in lines:
        data = json.loads(line)
        for rs in data["resourceSpans"]:
            resources.append(_attrs(rs["resource"]["attributes"]))
            for ss in rs["scopeSpans"]:
                assert ss["scope"]["name"] == "agentinsight.emit"
                spans.extend(ss["spans"])
    assert resources[0]["service.name"] == "support-bot"
    by_name = {s["name"]: s for s in spans}
    root = by_name["invoke_agent planner"]
    chat = by_name["chat gpt-4o"]
    tool = by_name["execute_tool web_search"]
    for span in (root, chat, tool):
        assert len(span["traceId"]) == 32 and span["traceId"] == span["traceId"].lower()
        assert len(span["spanId"]) == 16
        assert int(span["traceId"], 16) and int(span["spanId"], 16)
        assert span["traceId"] == root["traceId"]
        assert isinstance(span["startTimeUnixNano"], str)
        assert int(span["endTimeUnixNano"]) >= int(span["startTimeUnixNano"])
    assert "parentSpanId" not in root
    assert chat["parentSpanId"] == tool["parentSpanId"] == root["spanId"]
    assert (root["kind"], chat["kind"], tool["kind"]) == (1, 3, 1)  # INTERNAL, CLIENT
    attrs = _attrs(chat["attributes"])
    assert attrs["gen_ai.usage.input_tokens"] == 1200
    assert attrs["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert attrs["gen_ai.usage.reasoning.output_tokens"] == 20
    assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert tool["status"]["code"] == 2
    assert _attrs(tool["attributes"])["error.type"] == "KeyError"
    assert root["status"] == {}


def test_file_exporter_appends_across_configurations(tmp_path):
    path = tmp_path / "spans.jsonl"
    for _ in range(2):
        emit.configure(registry=prometheus_client.CollectorRegistry(),
                       traces_exporter=f"file:{path}")
        with emit.task("a"):
            pass
        emit.flush()
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    assert len(path.read_text().splitlines()) == 2


def test_file_exporter_keeps_every_span_of_a_burst(tmp_path):
    path = tmp_path / "spans.jsonl"
    emit.configure(registry=prometheus_client.CollectorRegistry(),
                   traces_exporter=f"file:{path}", max_queue_size=64, max_export_batch_size=32)
    for _ in range(1000):
        with emit.tool_call("t"):
            pass
    emit.flush()
    count = sum(len(ss["spans"]) for line in path.read_text().splitlines()
                for rs in json.loads(line)["resourceSpans"] for ss in rs["scopeSpans"])
    assert count == 1000


def test_unwritable_file_path_is_a_configuration_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(emit_errors().ConfigurationError, match="cannot open"):
        emit.configure(registry=prometheus_client.CollectorRegistry(),
                       traces_exporter=f"file:{blocker}/sub/spans.jsonl")


def emit_errors():
    from agentinsight import exceptions

    return exceptions


def test_fast_text_encoding_matches_the_mapping_for_every_value_type():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Link

    from agentinsight.emit import _otlp_json, _runtime

    sink = InMemorySpanExporter()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink)
    caller = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
              "tracestate": "vendor=x"}
    with emit.extract(caller), emit.agent_run('quote "me" \u00e9') as run:
        run.set_attribute("ratio", 0.25)
        run.set_attribute("flag", True)
        run.set_attribute("tags", ["a", "b"])
        run.set_attribute("sizes", [1, 2])
        with pytest.raises(ValueError), emit.tool_call("t"):
            raise ValueError("bad \n input")
    tracer = _runtime.get().tracer
    with tracer.start_as_current_span("linked", links=[Link(run.span.get_span_context(),
                                                            {"why": "retry"})]):
        pass
    emit.flush()
    spans = sink.get_finished_spans()
    fast = json.loads(_otlp_json.traces_data_line(spans))
    assert fast == json.loads(json.dumps(_otlp_json.encode_traces_data(spans)))
    encoded = {s["name"]: s for s in fast["resourceSpans"][0]["scopeSpans"][0]["spans"]}
    root = encoded['invoke_agent quote "me" \u00e9']
    assert root["parentSpanId"] == "b7ad6b7169203331" and root["traceState"] == "vendor=x"
    assert root["flags"] & 0x300 == 0x300  # parent is remote
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["ratio"] == {"doubleValue": 0.25} and values["flag"] == {"boolValue": True}
    assert values["sizes"] == {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "2"}]}}
    assert encoded["execute_tool t"]["events"][0]["name"] == "exception"
    assert encoded["linked"]["links"][0]["spanId"] == root["spanId"]
