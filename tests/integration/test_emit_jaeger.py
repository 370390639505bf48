"""The instrumented agent program exports spans over OTLP/HTTP to a real Jaeger; the test reads
them back through Jaeger's ``/api/v3/traces`` and checks names, links, status and gen_ai.*.

The workload is described in ``agent_program.py``; expected values are written out by hand.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.integration.agent_program import launched

pytestmark = pytest.mark.integration

ERROR = 2  # OTLP Status.code for STATUS_CODE_ERROR
CLIENT, INTERNAL = 3, 1  # OTLP Span.kind
EXPECTED_NAMES = {
    0: ["chat gpt-4o", "execute_tool calculator", "execute_tool web_search",
        "invoke_agent planner"],
    1: ["chat gpt-4o", "execute_tool web_search", "invoke_agent planner"],
    2: ["chat gpt-4o", "execute_tool calculator", "execute_tool web_search",
        "invoke_agent planner"],
    3: ["chat gpt-4o", "execute_tool web_search", "invoke_agent planner"],
    4: ["chat gpt-4o", "execute_tool web_search", "invoke_agent planner"],
}


def _attrs(span: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for a in span.get("attributes", []):
        value = a["value"]
        if "intValue" in value:
            out[a["key"]] = int(value["intValue"])
        else:
            out[a["key"]] = next(iter(value.values()), None)
    return out


def _query_spans(jaeger, service: str, since: datetime) -> tuple[list[dict], list[dict]]:
    found = jaeger.api("/api/v3/traces", **{
        "query.service_name": service,
        "query.start_time_min": (since - timedelta(minutes=1)).isoformat(),
        "query.start_time_max": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
        "query.num_traces": 100,
    })
    resource_spans = found.get("result", {}).get("resourceSpans", [])
    spans = [s for rs in resource_spans for ss in rs["scopeSpans"] for s in ss["spans"]]
    return resource_spans, spans


@pytest.fixture(scope="module")
def exported(jaeger):
    """Run the agent program once against the session's Jaeger; return what Jaeger holds."""
    service = f"emit-jaeger-{time.time_ns()}"
    since = datetime.now(UTC)
    env = {"OTEL_SERVICE_NAME": service, "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_http_url}
    with launched(env) as agent:
        runs = agent.runs()
    deadline = time.monotonic() + 15
    while True:
        resource_spans, spans = _query_spans(jaeger, service, since)
        if len(spans) >= 17 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return service, runs, resource_spans, spans


def _trace(spans: list[dict], trace_id: str) -> list[dict]:
    return [s for s in spans if s["traceId"] == trace_id]


def test_every_run_is_one_trace_with_the_genai_span_names(exported):
    service, runs, resource_spans, spans = exported
    assert len(spans) == 17
    assert {s["traceId"] for s in spans} == {r["trace_id"] for r in runs}
    for run in runs:
        names = sorted(s["name"] for s in _trace(spans, run["trace_id"]))
        assert names == EXPECTED_NAMES[run["run"]], f"run {run['run']}"
    services = {_attrs(rs["resource"])["service.name"] for rs in resource_spans}
    assert services == {service}  # taken from OTEL_SERVICE_NAME


def test_llm_and_tool_spans_are_children_of_their_agent_run(exported):
    _, runs, _, spans = exported
    for run in runs:
        trace = _trace(spans, run["trace_id"])
        roots = [s for s in trace if not s.get("parentSpanId")]
        assert [r["name"] for r in roots] == ["invoke_agent planner"]
        root = roots[0]
        for child in trace:
            if child is root:
                continue
            assert child["parentSpanId"] == root["spanId"], child["name"]
            assert int(root["startTimeUnixNano"]) <= int(child["startTimeUnixNano"])
            assert int(child["endTimeUnixNano"]) <= int(root["endTimeUnixNano"])
        chat = next(s for s in trace if s["name"] == "chat gpt-4o")
        tool = next(s for s in trace if s["name"] == "execute_tool web_search")
        assert int(chat["endTimeUnixNano"]) <= int(tool["startTimeUnixNano"])  # in order
        assert (root["kind"], chat["kind"], tool["kind"]) == (INTERNAL, CLIENT, INTERNAL)


def test_failing_runs_are_error_with_error_type_and_the_others_are_not(exported):
    _, runs, _, spans = exported
    for run in runs:
        trace = {s["name"]: s for s in _trace(spans, run["trace_id"])}
        failed = run["status"] == "error"
        assert failed == (run["run"] in (1, 3))
        for name in ("invoke_agent planner", "execute_tool web_search"):
            span = trace[name]
            if failed:
                assert span["status"]["code"] == ERROR, name
                assert "did not answer" in span["status"]["message"]
                assert _attrs(span)["error.type"] == "TimeoutError"
                assert [e["name"] for e in span.get("events", [])] == ["exception"]
            else:
                assert span.get("status", {}).get("code", 0) != ERROR, name
                assert "error.type" not in _attrs(span)
        # the LLM call finished before the tool failed: it is not an error
        assert trace["chat gpt-4o"].get("status", {}).get("code", 0) != ERROR
        assert "error.type" not in _attrs(trace["chat gpt-4o"])


def test_chat_spans_carry_genai_attributes_and_token_usage(exported):
    _, runs, _, spans = exported
    usage = {  # from agent_program.USAGE: input (cache included), output, cache_read,
        0: (1000, 200, 800, 0, 0),  # cache_write, reasoning
        1: (1100, 250, 0, 100, 0),
        2: (1200, 300, 800, 0, 0),
        3: (1300, 350, 0, 0, 0),
        4: (1400, 400, 800, 0, 64),
    }
    for run in runs:
        chat = next(s for s in _trace(spans, run["trace_id"]) if s["name"] == "chat gpt-4o")
        attrs = _attrs(chat)
        inp, out, cache_read, cache_write, reasoning = usage[run["run"]]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "openai"
        assert attrs["gen_ai.request.model"] == "gpt-4o"
        assert attrs["gen_ai.response.model"] == "gpt-4o-2024-08-06"
        assert attrs["gen_ai.usage.input_tokens"] == inp
        assert attrs["gen_ai.usage.output_tokens"] == out
        assert attrs.get("gen_ai.usage.cache_read.input_tokens", 0) == cache_read
        assert attrs.get("gen_ai.usage.cache_creation.input_tokens", 0) == cache_write
        assert attrs.get("gen_ai.usage.reasoning.output_tokens", 0) == reasoning
        # prompt and completion text are never recorded unless enabled
        assert not [k for k in attrs if "message" in k or "prompt" in k or "completion" in k]


def test_agent_and_tool_spans_name_their_agent_and_tool(exported):
    _, runs, _, spans = exported
    for run in runs:
        trace = {s["name"]: _attrs(s) for s in _trace(spans, run["trace_id"])}
        assert trace["invoke_agent planner"]["gen_ai.agent.name"] == "planner"
        assert trace["invoke_agent planner"]["gen_ai.operation.name"] == "invoke_agent"
        assert trace["execute_tool web_search"]["gen_ai.tool.name"] == "web_search"
        assert trace["execute_tool web_search"]["gen_ai.operation.name"] == "execute_tool"
