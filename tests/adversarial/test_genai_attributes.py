"""Hostile GenAI attributes from agents: whatever the values, reading and pricing neither crash
nor bill them as usage."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from agentinsight.analysis import cost
from agentinsight.sources import parse_otlp_text


def _span(attrs):
    values = []
    for key, value in attrs.items():
        if isinstance(value, bool):
            values.append({"key": key, "value": {"boolValue": value}})
        elif isinstance(value, int):
            values.append({"key": key, "value": {"intValue": str(value)}})
        elif isinstance(value, float):
            values.append({"key": key, "value": {"doubleValue": value}})
        elif isinstance(value, list):
            values.append({"key": key, "value": {"arrayValue": {"values": [
                {"stringValue": str(v)} for v in value]}}})
        else:
            values.append({"key": key, "value": {"stringValue": value}})
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": [{
        "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
        "name": "chat", "startTimeUnixNano": "1767261600000000000",
        "endTimeUnixNano": "1767261601000000000", "attributes": values}]}]}]}
    return parse_otlp_text(json.dumps(doc))


@pytest.mark.parametrize("count", ["lots", "inf", "nan", True, ["1", "2"], "", "-Infinity"])
def test_a_token_count_that_is_not_a_number_is_not_usage(count):
    frame = _span({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
                   "gen_ai.usage.prompt_tokens": count, "gen_ai.usage.input_tokens": count})
    assert math.isnan(frame["input_tokens"].iloc[0])
    priced = cost.price_spans(frame)  # nothing to bill: no exception, no cost
    assert not priced["billable"].any()


def test_numeric_text_is_a_count_and_odd_ids_and_providers_do_not_crash():
    frame = _span({"gen_ai.operation.name": "chat", "gen_ai.system": "12",
                   "gen_ai.request.model": "gpt-4o", "gen_ai.response.id": ["a", "b"],
                   "gen_ai.usage.input_tokens": "1000", "gen_ai.usage.output_tokens": 10,
                   "@jaeger@warnings": ["x"] * 3})
    assert frame["input_tokens"].iloc[0] == 1000.0
    assert "@jaeger@warnings" not in frame["attributes"].iloc[0]
    priced = cost.price_spans(frame)
    assert priced["billable"].iloc[0] and not priced["priced"].iloc[0]
    assert priced["unpriced_reason"].iloc[0] == "unknown provider '12'"
    # an empty response id does not make two different calls one
    frame = _span({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                   "gen_ai.request.model": "gpt-4o", "gen_ai.response.id": "",
                   "gen_ai.usage.input_tokens": "1000", "gen_ai.usage.output_tokens": 10})
    two = pd.concat([frame, frame.assign(span_id=["0000000000000002"])], ignore_index=True)
    assert cost.price_spans(two)["billable"].tolist() == [True, True]



@pytest.mark.parametrize("total", [10**400, -(10**400), float("inf"), "9" * 400],
                         ids=["huge int", "huge negative int", "inf", "long digit text"])
def test_a_total_token_count_too_large_for_a_float_does_not_stop_pricing(total):
    spans = cost.example_spans()
    expected = cost.price_spans(spans)["cost_usd"].to_numpy()
    cached = spans.index[spans["span_id"] == "b2"][0]  # a cached call: its total is read
    spans.at[cached, "attributes"] = {"gen_ai.usage.total_tokens": total}
    priced = cost.price_spans(spans)
    assert priced["cost_usd"].fillna(-1).tolist() == pd.Series(expected).fillna(-1).tolist()
