"""One reading of every GenAI convention in use, the same through every reader.

Each family's spans are built as that instrumentation names its attributes (older GenAI names and
OpenLLMetry <= 0.40, OpenInference, the anthropic SDK, openlit), then read as an OTLP JSON-lines
file, as a Jaeger api_v3 answer and as a Jaeger v1 answer: the columns must come out the same.
"""

from __future__ import annotations

import json
import math

import pytest

from agentinsight import semconv
from agentinsight.frames import validate_spans_frame
from agentinsight.sources import parse_otlp_text, read_otlp_jsonl
from agentinsight.sources.jaeger import spans_from_v1

TRACE = "0af7651916cd43dd8448eb211c80319c"


def _any(value):
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _v1_tag(key, value):
    kind = ("bool" if isinstance(value, bool) else "int64" if isinstance(value, int)
            else "float64" if isinstance(value, float) else "string")
    return {"key": key, "type": kind, "value": value}


def _otlp(spans):
    return {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "bot"}}]}, "scopeSpans": [{"spans": [
            {"traceId": TRACE, "spanId": f"{i + 1:016x}", "name": name, "kind": 1,
             "startTimeUnixNano": "1764000000000000000", "endTimeUnixNano": "1764000001000000000",
             "attributes": [{"key": k, "value": _any(v)} for k, v in attrs.items()]}
            for i, (name, attrs) in enumerate(spans)]}]}]}


def _read_file(spans, tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(_otlp(spans)) + "\n")
    return read_otlp_jsonl(path)


def _read_api_v3(spans, tmp_path):
    return parse_otlp_text(json.dumps({"result": _otlp(spans)}))


def _read_v1(spans, tmp_path):
    return spans_from_v1({"data": [{"traceID": TRACE, "processes": {"p1": {"serviceName": "bot"}},
                                    "spans": [
        {"traceID": TRACE, "spanID": f"{i + 1:016x}", "operationName": name, "references": [],
         "startTime": 1764000000000000, "duration": 1000000, "processID": "p1",
         "tags": [_v1_tag(k, v) for k, v in attrs.items()]}
        for i, (name, attrs) in enumerate(spans)]}]})


READERS = pytest.mark.parametrize("read", [_read_file, _read_api_v3, _read_v1],
                                  ids=["otlp-file", "jaeger-api-v3", "jaeger-v1"])
COLUMNS = ["agent", "operation", "provider", "model", "tool", "input_tokens", "output_tokens",
           "cache_read_tokens", "cache_write_tokens", "reasoning_tokens"]


def _rows(frame):
    validate_spans_frame(frame)
    return [[None if isinstance(v, float) and math.isnan(v) else v for v in row]
            for row in frame[COLUMNS].itertuples(index=False, name=None)]


@READERS
def test_openllmetry_040_names_are_read(read, tmp_path):
    spans = [("openai.chat", {
        "gen_ai.system": "OpenAI", "llm.request.type": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.prompt_tokens": 1200, "gen_ai.usage.completion_tokens": 300,
        "gen_ai.usage.cache_read_input_tokens": 1000, "llm.usage.total_tokens": 1500}),
        ("anthropic.chat", {
            "gen_ai.system": "Anthropic", "llm.request.type": "completion",
            "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.prompt_tokens": 10,
            "gen_ai.usage.completion_tokens": 5, "gen_ai.usage.cache_creation_input_tokens": 4}),
        ("openai.embeddings", {"gen_ai.system": "OpenAI", "llm.request.type": "embedding",
                               "gen_ai.request.model": "text-embedding-3-small",
                               "gen_ai.usage.prompt_tokens": 8})]
    frame = read(spans, tmp_path)
    assert _rows(frame) == [
        [None, "chat", "OpenAI", "gpt-4o", None, 1200, 300, 1000, None, None],
        [None, "text_completion", "Anthropic", "claude-sonnet-4-5", None, 10, 5, None, 4, None],
        [None, "embeddings", "OpenAI", "text-embedding-3-small", None, 8, None, None, None, None],
    ]
    # the total is not a column: it stays readable in the attributes
    assert frame["attributes"].iloc[0]["llm.usage.total_tokens"] == 1500
    # where a newer name is present too, it wins; the losing spelling stays as written
    both = [("chat", {"gen_ai.system": "openai", "llm.request.type": "chat",
                      "gen_ai.provider.name": "azure.ai.openai", "gen_ai.request.model": "gpt-4o",
                      "gen_ai.usage.prompt_tokens": 1, "gen_ai.usage.input_tokens": 2})]
    frame = read(both, tmp_path)
    assert (frame["provider"].iloc[0], frame["input_tokens"].iloc[0]) == ("azure.ai.openai", 2.0)
    assert frame["attributes"].iloc[0] == {"gen_ai.system": "openai", "llm.request.type": "chat",
                                          "gen_ai.usage.prompt_tokens": 1}


@READERS
def test_openinference_names_are_read(read, tmp_path):
    spans = [
        ("Agent run", {"openinference.span.kind": "AGENT", "agent.name": "planner"}),
        ("ChatCompletion", {
            "openinference.span.kind": "LLM", "llm.model_name": "gpt-4o", "llm.provider": "openai",
            "llm.system": "openai", "llm.token_count.prompt": 1200,
            "llm.token_count.completion": 300, "llm.token_count.prompt_details.cache_read": 1000,
            "llm.token_count.prompt_details.cache_write": 20,
            "llm.token_count.completion_details.reasoning": 100, "llm.token_count.total": 1500}),
        ("web_search", {"openinference.span.kind": "TOOL", "tool.name": "web_search"}),
        ("handoff", {"openinference.span.kind": "CHAIN"}),
        ("embed", {"openinference.span.kind": "EMBEDDING", "llm.system": "openai",
                   "embedding.model_name": "text-embedding-3-small", "llm.token_count.prompt": 8}),
    ]
    assert _rows(read(spans, tmp_path)) == [
        ["planner", "invoke_agent", None, None, None, None, None, None, None, None],
        [None, "chat", "openai", "gpt-4o", None, 1200, 300, 1000, 20, 100],
        [None, "execute_tool", None, None, "web_search", None, None, None, None, None],
        [None, semconv.Operation.INVOKE_WORKFLOW.value, None, None, None] + [None] * 5,
        [None, "embeddings", "openai", "text-embedding-3-small", None, 8] + [None] * 4,
    ]


@READERS
@pytest.mark.parametrize("key", ["gen_ai.usage.reasoning_tokens",
                                 "gen_ai.usage.details.reasoning_tokens",
                                 "llm.token_count.completion_details.reasoning"])
def test_every_reasoning_spelling_fills_the_reasoning_column(read, key, tmp_path):
    spans = [("chat o3", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "o3",
                          "gen_ai.usage.output_tokens": 50, key: 40})]
    frame = read(spans, tmp_path)
    assert frame["reasoning_tokens"].tolist() == [40.0]
    assert key not in frame["attributes"].iloc[0]


@READERS
def test_anthropic_sdk_cache_writes_are_cache_writes(read, tmp_path):
    spans = [("chat claude", {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.usage.input_tokens": 3000,
        "gen_ai.usage.output_tokens": 100, "gen_ai.usage.cache_read.input_tokens": 1000,
        "gen_ai.usage.cache_write.input_tokens": 1500})]
    row = read(spans, tmp_path).iloc[0]
    assert (row["cache_read_tokens"], row["cache_write_tokens"]) == (1000.0, 1500.0)


@READERS
def test_a_tool_name_on_a_chat_span_is_not_a_tool_call(read, tmp_path):
    # openlit names the tool a model may call on the chat span itself
    spans = [("chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
                              "gen_ai.request.model": "gpt-4o", "gen_ai.tool.name": "get_weather",
                              "gen_ai.usage.input_tokens": 10}),
             ("execute_tool get_weather", {"gen_ai.operation.name": "execute_tool",
                                           "gen_ai.tool.name": "get_weather"}),
             # pydantic-ai's older tool spans name the tool but no operation
             ("running tool", {"gen_ai.tool.name": "get_time"})]
    frame = read(spans, tmp_path)
    assert frame["tool"].tolist() == [None, "get_weather", "get_time"]
    assert frame["operation"].tolist() == ["chat", "execute_tool", "execute_tool"]
    assert frame["attributes"].iloc[0]["gen_ai.tool.name"] == "get_weather"


def test_openllmetry_agent_and_tool_spans_are_named_by_their_entity():
    attrs = {"traceloop.span.kind": "agent", "traceloop.entity.name": "planner"}
    assert semconv.promote(attrs)[0][:2] == ["planner", "invoke_agent"]
    attrs = {"traceloop.span.kind": "tool", "traceloop.entity.name": "search"}
    assert semconv.promote(attrs)[0] == [None, "execute_tool", None, None, "search"]


def test_jaeger_internal_attributes_are_dropped_from_api_v3_answers():
    doc = _otlp([("chat", {"gen_ai.operation.name": "chat", "retry": 1,
                           "@jaeger@warnings": "clock skew adjusted", "@jaeger@other": "x"})])
    assert parse_otlp_text(json.dumps({"result": doc}))["attributes"].iloc[0] == {"retry": 1}


@READERS
def test_calls_are_counted_whoever_recorded_them(read, tmp_path):
    from agentinsight.analysis.traces import trace_summary

    openinference = [("Agent", {"openinference.span.kind": "AGENT", "agent.name": "planner"}),
                     ("ChatCompletion", {"openinference.span.kind": "LLM",
                                         "llm.model_name": "gpt-4o", "llm.token_count.prompt": 10,
                                         "llm.token_count.completion": 2}),
                     ("get_weather", {"openinference.span.kind": "TOOL",
                                      "tool.name": "get_weather"})]
    openlit = [("chat gpt-4o", {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                                "gen_ai.tool.name": "get_weather",
                                "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2}),
               ("execute_tool get_weather", {"gen_ai.operation.name": "execute_tool",
                                             "gen_ai.tool.name": "get_weather"})]
    for spans in (openinference, openlit):
        row = trace_summary(read(spans, tmp_path)).iloc[0]
        assert (row["llm_calls"], row["tool_calls"], row["input_tokens"]) == (1, 1, 10.0)
