"""Spans emit writes under the default GenAI conventions and under
``OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental``."""

from __future__ import annotations

import prometheus_client
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind

from agentinsight import emit, semconv
from tests.span_sink import CollectSpans

# The attribute registry of the latest GenAI conventions (semantic-conventions-genai), for the
# attributes emit writes on model-call and agent spans.
LATEST_REGISTRY = {
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.response.id", "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.agent.name", "error.type", "server.address",
}


def _emit_one_of_each(monkeypatch, opt_in: str | None) -> dict[str, ReadableSpan]:
    if opt_in is None:
        monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    else:
        monkeypatch.setenv("OTEL_SEMCONV_STABILITY_OPT_IN", opt_in)
    sink = CollectSpans()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink)
    with emit.agent_run("planner"):
        with emit.llm_call(model="claude-sonnet-4-5", provider="anthropic") as call:
            call.record_usage(input_tokens=2861, output_tokens=121, cache_read_tokens=2048,
                              cache_write_tokens=512, reasoning_tokens=40,
                              response_model="claude-sonnet-4-5-20250929",
                              response_id="msg_01")
        with emit.agent_run("billing", remote=True, server_address="agents.internal"):
            pass
    emit.flush()
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    return {s.name: s for s in sink.spans}


def test_default_mode_writes_current_names_and_the_deprecated_provider_beside(monkeypatch):
    spans = _emit_one_of_each(monkeypatch, None)
    chat = spans["chat claude-sonnet-4-5"].attributes
    assert chat["gen_ai.provider.name"] == "anthropic"
    assert chat["gen_ai.system"] == "anthropic"  # what 1.36-era readers look for
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 2048
    assert chat["gen_ai.usage.cache_creation.input_tokens"] == 512
    assert chat["gen_ai.usage.reasoning.output_tokens"] == 40
    assert chat["gen_ai.response.id"] == "msg_01"
    assert spans["chat claude-sonnet-4-5"].kind is SpanKind.CLIENT


@pytest.mark.parametrize("opt_in", ["gen_ai_latest_experimental",
                                    "http, GEN_AI_LATEST_EXPERIMENTAL"])
def test_latest_mode_writes_only_names_of_the_latest_registry(monkeypatch, opt_in):
    spans = _emit_one_of_each(monkeypatch, opt_in)
    chat = spans["chat claude-sonnet-4-5"]
    assert "gen_ai.system" not in chat.attributes
    assert set(chat.attributes) <= LATEST_REGISTRY, set(chat.attributes) - LATEST_REGISTRY
    assert chat.attributes["gen_ai.provider.name"] == "anthropic"
    assert chat.attributes["gen_ai.usage.cache_creation.input_tokens"] == 512
    for name in ("invoke_agent planner", "invoke_agent billing"):
        assert set(spans[name].attributes) <= LATEST_REGISTRY


def test_invoke_agent_is_internal_in_process_and_client_for_a_remote_agent(monkeypatch):
    for opt_in in (None, "gen_ai_latest_experimental"):
        spans = _emit_one_of_each(monkeypatch, opt_in)
        local, remote = spans["invoke_agent planner"], spans["invoke_agent billing"]
        assert local.kind is SpanKind.INTERNAL
        assert remote.kind is SpanKind.CLIENT
        assert remote.attributes["server.address"] == "agents.internal"
        assert remote.attributes["gen_ai.operation.name"] == "invoke_agent"
        assert remote.parent.span_id == local.context.span_id


def test_record_response_puts_the_response_id_on_the_span(monkeypatch):
    monkeypatch.delenv("OTEL_SEMCONV_STABILITY_OPT_IN", raising=False)
    sink = CollectSpans()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink)
    response = {"id": "chatcmpl-42", "model": "gpt-4o-2024-08-06",
                "usage": {"prompt_tokens": 10, "completion_tokens": 2}}
    with emit.llm_call(model="gpt-4o") as call:
        call.record_response(response)
    emit.flush()
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    (span,) = sink.spans
    assert span.attributes["gen_ai.response.id"] == "chatcmpl-42"
    assert span.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"


def test_the_opt_in_is_read_as_the_opentelemetry_list():
    assert semconv.wants_latest_genai("gen_ai_latest_experimental")
    assert semconv.wants_latest_genai(" database , gen_ai_latest_experimental ")
    assert not semconv.wants_latest_genai("gen_ai_latest")
    assert not semconv.wants_latest_genai("")
