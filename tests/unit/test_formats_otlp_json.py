"""OTLP JSON: emit's ``file:PATH`` exporter writes lines as the Collector's file exporter does,
and the decoder reads back what the encoder wrote, in either OTLP JSON flavour."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.formats import otlp_json


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

    from agentinsight.emit import _runtime

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
    fast = json.loads(otlp_json.traces_data_line(spans))
    assert fast == json.loads(json.dumps(otlp_json.encode_traces_data(spans)))
    encoded = {s["name"]: s for s in fast["resourceSpans"][0]["scopeSpans"][0]["spans"]}
    root = encoded['invoke_agent quote "me" \u00e9']
    assert root["parentSpanId"] == "b7ad6b7169203331" and root["traceState"] == "vendor=x"
    assert root["flags"] & 0x300 == 0x300  # parent is remote
    values = {a["key"]: a["value"] for a in root["attributes"]}
    assert values["ratio"] == {"doubleValue": 0.25} and values["flag"] == {"boolValue": True}
    assert values["sizes"] == {"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "2"}]}}
    assert encoded["execute_tool t"]["events"][0]["name"] == "exception"
    assert encoded["linked"]["links"][0]["spanId"] == root["spanId"]


@pytest.mark.parametrize("value", ["text é", True, False, 0, -7, 2**63 - 1, 0.25, b"\x00\xff",
                                   ["a", "b"], [1, 2], []])
def test_decode_reads_back_every_encoded_value(value):
    encoded = otlp_json.encode_value(value)
    assert otlp_json.decode_value(json.loads(json.dumps(encoded))) == (
        list(value) if isinstance(value, list) else value)


def test_decode_reads_kvlists_and_empty_values():
    kvlist = {"kvlistValue": {"values": [{"key": "a", "value": {"doubleValue": 1.5}},
                                         {"key": "b", "value": {"intValue": 3}}]}}
    assert otlp_json.decode_value(kvlist) == {"a": 1.5, "b": 3}
    assert otlp_json.decode_value({}) is None


def test_ids_decode_from_hex_in_either_case_and_from_base64():
    hex_id = "0af7651916cd43dd8448eb211c80319c"
    b64 = base64.b64encode(bytes.fromhex(hex_id)).decode()
    assert otlp_json.decode_id(hex_id.upper(), 32) == hex_id
    assert otlp_json.decode_id(b64, 32) == hex_id
    assert otlp_json.decode_id("", 16) == otlp_json.decode_id("0" * 16, 16) == ""
    with pytest.raises(ValueError, match="neither 16-digit hex nor base64"):
        otlp_json.decode_id("not an id!", 16)
    with pytest.raises(ValueError, match="expected 8"):
        otlp_json.decode_id(base64.b64encode(b"abc").decode(), 16)


def test_span_columns_read_what_the_encoder_wrote():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    sink = InMemorySpanExporter()
    emit.configure("bot", registry=prometheus_client.CollectorRegistry(), span_exporter=sink)
    with emit.agent_run("planner"), emit.llm_call(model="gpt-4o", provider="openai") as call:
        call.record_usage(input_tokens=12, output_tokens=3)
    emit.flush()
    spans = sink.get_finished_spans()
    cols = otlp_json.SpanColumns()
    cols.add_document(json.loads(otlp_json.traces_data_line(spans)))
    assert len(cols) == 2 and set(cols.service) == {"bot"}
    row = cols.name.index("chat gpt-4o")
    assert cols.kind[row] == "client" and cols.status[row] == "unset"
    assert cols.strings["model"][row] == "gpt-4o" and cols.strings["provider"][row] == "openai"
    assert cols.tokens["input_tokens"][row] == 12
    assert math.isnan(cols.tokens["reasoning_tokens"][row])
    assert cols.ids[2][row] == cols.ids[1][cols.name.index("invoke_agent planner")]
    cols.truncate(1)
    assert len(cols) == 1 and all(len(v) == 1 for v in cols.tokens.values())


def test_importing_the_formats_imports_nothing_heavy():
    code = ("import sys\nimport agentinsight.formats\n"
            "print(','.join(m for m in ('numpy', 'pandas', 'pyarrow', 'opentelemetry',"
            " 'prometheus_client') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
