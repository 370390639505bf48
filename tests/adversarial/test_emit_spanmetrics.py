"""Hostile spans from other instrumentations: the span processor never raises into the agent,
never counts garbage as tokens and keeps its memory bounded."""

from __future__ import annotations

import prometheus_client
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from agentinsight import emit

SCOPE = "opentelemetry.instrumentation.openai_v2"
BASE = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o"}


@pytest.fixture()
def app():
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                   label_value_length=64)
    provider = TracerProvider()
    processor = emit.GenAIMetricsProcessor(max_tracked=100)
    provider.add_span_processor(processor)
    yield provider, processor
    provider.shutdown()


def _input_tokens() -> float:
    total = 0.0
    for metric in emit.get_registry().collect():
        for s in metric.samples:
            if s.name == "llm_tokens_used_total" and s.labels["token_type"] == "input":
                total += s.value
    return total


@pytest.mark.parametrize("count", ["abc", "", "nan", "1e400", "-5", -5, True, [1, 2], 1.5e300])
def test_garbage_token_counts_are_not_counted_and_nothing_raises(app, count):
    provider, _ = app
    with provider.get_tracer(SCOPE).start_as_current_span(
            "chat gpt-4o", kind=SpanKind.CLIENT, attributes=BASE) as span:
        span.set_attribute("gen_ai.usage.input_tokens", count)
        span.set_attribute("gen_ai.usage.output_tokens", 3)
    assert _input_tokens() == 0


def test_a_huge_model_name_is_cut_to_the_label_bound(app):
    provider, _ = app
    attrs = dict(BASE, **{"gen_ai.request.model": "m" * 100_000})
    with provider.get_tracer(SCOPE).start_as_current_span("chat", attributes=attrs) as span:
        span.set_attributes({"gen_ai.usage.input_tokens": 5, "gen_ai.usage.output_tokens": 1})
    models = {s.labels["model"] for m in emit.get_registry().collect() for s in m.samples
              if s.name == "llm_tokens_used_total"}
    assert models and all(len(m) <= 64 for m in models)


def test_response_ids_and_unended_spans_are_remembered_within_a_bound(app):
    provider, processor = app
    tracer = provider.get_tracer(SCOPE)
    for i in range(1000):
        with tracer.start_as_current_span("chat gpt-4o", attributes=BASE) as span:
            span.set_attributes({"gen_ai.response.id": f"chatcmpl-{i}",
                                 "gen_ai.usage.input_tokens": 1,
                                 "gen_ai.usage.output_tokens": 1})
        tracer.start_span("chat gpt-4o", attributes=BASE)  # never ended
    assert _input_tokens() == 1000
    assert len(processor._seen) <= 100 and len(processor._open) <= 100
    assert len(processor._inner) <= 100
