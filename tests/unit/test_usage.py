"""The bill for other instrumentations' spans: each call once, raw counts normalised, usage that
cannot be read reported as unpriced — never $0, never an exception for the whole frame.

Spans are written as each instrumentation names its attributes and read through the OTLP JSON
reader, then priced; the expected cost is ``genai_prices.calc_price`` of the call's usage.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from genai_prices import Usage, calc_price

from agentinsight.analysis import cost
from agentinsight.sources import parse_otlp_text

WHEN = datetime(2026, 1, 1, 10, tzinfo=UTC)
START = str(int(WHEN.timestamp() * 1e9))


def _any(value):
    if isinstance(value, int):
        return {"intValue": str(value)}
    return {"stringValue": value}


def read(*spans):
    """spans: (trace, span id, parent id, name, attributes) tuples, read as one OTLP answer."""
    doc = {"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": [
        {"traceId": f"{trace:032x}", "spanId": f"{span:016x}",
         "parentSpanId": f"{parent:016x}" if parent else "", "name": name, "kind": 3,
         "startTimeUnixNano": START, "endTimeUnixNano": START,
         "attributes": [{"key": k, "value": _any(v)} for k, v in attrs.items()]}
        for trace, span, parent, name, attrs in spans]}]}]}
    return parse_otlp_text(json.dumps(doc))


def reference(model, provider, **tokens):
    return float(calc_price(Usage(**tokens), model, provider_id=provider,
                            genai_request_timestamp=WHEN).total_price)


ANTHROPIC_SDK = {  # the anthropic SDK's own tracing, current names and cache_write
    "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.id": "msg_01",
    "gen_ai.usage.input_tokens": 4500, "gen_ai.usage.output_tokens": 200,
    "gen_ai.usage.cache_read.input_tokens": 3000, "gen_ai.usage.cache_write.input_tokens": 1000}
OPENLLMETRY_040 = {  # the same call as OpenLLMetry <= 0.40 names it
    "gen_ai.system": "Anthropic", "llm.request.type": "chat",
    "gen_ai.request.model": "claude-sonnet-4-5", "gen_ai.response.id": "msg_01",
    "gen_ai.usage.prompt_tokens": 4500, "gen_ai.usage.completion_tokens": 200,
    "gen_ai.usage.cache_read_input_tokens": 3000, "llm.usage.total_tokens": 4700}
CALL = reference("claude-sonnet-4-5", "anthropic", input_tokens=4500, output_tokens=200,
                 cache_read_tokens=3000, cache_write_tokens=1000)


def total(priced):
    return float(priced.loc[priced["billable"], "cost_usd"].sum())


def test_cache_writes_are_priced_as_cache_writes():
    priced = cost.price_spans(read((1, 1, 0, "chat claude-sonnet-4-5", ANTHROPIC_SDK)))
    assert total(priced) == pytest.approx(CALL, rel=1e-9)
    assert priced["cache_write_premium_usd"].iloc[0] > 0


def test_openllmetry_040_calls_are_billed_not_zero():
    attrs = {k: v for k, v in OPENLLMETRY_040.items() if k != "gen_ai.response.id"}
    priced = cost.price_spans(read((1, 1, 0, "anthropic.chat", attrs)))
    assert priced["priced"].iloc[0]
    assert total(priced) == pytest.approx(reference(
        "claude-sonnet-4-5", "anthropic", input_tokens=4500, output_tokens=200,
        cache_read_tokens=3000), rel=1e-9)


def test_the_same_call_in_two_traces_is_billed_once_from_the_most_detailed_span():
    # the anthropic SDK's tracing and OpenLLMetry both on (their default): two traces
    priced = cost.price_spans(read((1, 1, 0, "anthropic.chat", OPENLLMETRY_040),
                                   (2, 2, 0, "chat claude-sonnet-4-5", ANTHROPIC_SDK)))
    assert priced["billable"].tolist() == [False, True]
    assert priced["duplicate_of"].tolist() == [f"{2:016x}", None]
    assert total(priced) == pytest.approx(CALL, rel=1e-9)
    table = cost.cost_table(priced, by=["model"])
    assert table["calls"].tolist() == [1]


def test_a_call_nested_in_another_instrumentation_is_billed_once_from_the_outer_span():
    # openai-v2 inside OpenLLMetry: the inner span lacks the cache count
    outer = {"gen_ai.system": "openai", "llm.request.type": "chat",
             "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 10_000,
             "gen_ai.usage.completion_tokens": 500, "gen_ai.usage.cache_read_input_tokens": 8_000}
    inner = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
             "gen_ai.request.model": "gpt-4o", "gen_ai.usage.input_tokens": 10_000,
             "gen_ai.usage.output_tokens": 500}
    agent = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a",
             "gen_ai.usage.input_tokens": 10_000, "gen_ai.usage.output_tokens": 500}
    expected = reference("gpt-4o", "openai", input_tokens=10_000, output_tokens=500,
                         cache_read_tokens=8_000)
    for ids in ({}, {"gen_ai.response.id": "chatcmpl-1"}):  # with and without a response id
        priced = cost.price_spans(read((1, 1, 0, "invoke_agent a", agent),
                                       (1, 2, 1, "openai.chat", {**outer, **ids}),
                                       (1, 3, 2, "chat gpt-4o", {**inner, **ids})))
        assert priced["billable"].tolist() == [False, True, False]
        assert total(priced) == pytest.approx(expected, rel=1e-9)
    # a model-call span over two calls is not one call seen twice: the calls are billed
    wrapper = {**inner, "gen_ai.usage.input_tokens": 200, "gen_ai.usage.output_tokens": 20}
    priced = cost.price_spans(read((1, 1, 0, "chat gpt-4o", wrapper),
                                   (1, 2, 1, "chat gpt-4o", inner),
                                   (1, 3, 1, "chat gpt-4o", inner)))
    assert priced["billable"].tolist() == [False, True, True]


def test_raw_anthropic_counts_are_normalised_with_a_warning_not_an_exception():
    # openlit passes Anthropic's own usage through: input_tokens leaves out the cache
    raw = {**ANTHROPIC_SDK, "gen_ai.usage.input_tokens": 500, "gen_ai.response.id": "msg_02"}
    # input larger than the cache parts: only the total shows the counts are raw
    raw_total = {**ANTHROPIC_SDK, "gen_ai.usage.input_tokens": 5000, "gen_ai.response.id": "m3",
                 "gen_ai.usage.cache_write.input_tokens": 0,
                 "gen_ai.usage.total_tokens": 5000 + 3000 + 200}
    fine = {**ANTHROPIC_SDK, "gen_ai.response.id": "msg_04"}
    with pytest.warns(UserWarning, match="leave out the cache tokens") as caught:
        priced = cost.price_spans(read((1, 1, 0, "chat", raw), (2, 2, 0, "chat", raw_total),
                                       (3, 3, 0, "chat", fine)))
    assert "2 with input_tokens" in str(caught[0].message)
    assert priced["priced"].all()
    assert priced["input_tokens"].tolist() == [4500.0, 8000.0, 4500.0]
    assert priced["cost_usd"].tolist() == pytest.approx([CALL, reference(
        "claude-sonnet-4-5", "anthropic", input_tokens=8000, output_tokens=200,
        cache_read_tokens=3000), CALL], rel=1e-9)


def test_gemini_raw_output_without_thoughts_is_normalised():
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "gcp.gemini",
             "gen_ai.request.model": "gemini-2.5-pro", "gen_ai.usage.input_tokens": 100,
             "gen_ai.usage.output_tokens": 50, "gen_ai.usage.reasoning.output_tokens": 400}
    with pytest.warns(UserWarning, match="leave out the reasoning"):
        priced = cost.price_spans(read((1, 1, 0, "chat", attrs)))
    assert priced["output_tokens"].tolist() == [450.0] and priced["priced"].all()


@pytest.mark.parametrize(("attrs", "named"), [
    ({"ai.usage.promptTokens": 10, "ai.usage.completionTokens": 5},
     "ai.usage.completionTokens, ai.usage.promptTokens"),
    ({"llm.usage.total_tokens": 15}, "llm.usage.total_tokens"),
])
def test_usage_the_table_cannot_read_is_unpriced_with_the_attributes_named(attrs, named):
    span = {"gen_ai.request.model": "gpt-4o", "gen_ai.request.max_tokens": 100, **attrs}
    with pytest.warns(UserWarning, match="left unpriced"):
        priced = cost.price_spans(read((1, 1, 0, "llm call", span)))
    assert priced["billable"].tolist() == [True] and not priced["priced"].iloc[0]
    assert np.isnan(priced["cost_usd"].iloc[0])
    assert priced["unpriced_reason"].iloc[0] == (
        f"token counts in attributes not read as usage: {named}")
    table = cost.cost_table(priced, by=["model"])
    assert table["unpriced_calls"].tolist() == [1] and np.isnan(table["cost_usd"].iloc[0])
