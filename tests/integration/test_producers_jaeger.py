"""Real producers' spans through a real Jaeger: sent over OTLP/HTTP, pulled with JaegerSource.

The captured files of ``tests/data/producers/`` (see ``tests/unit/test_producers.py``) are sent
to the session's Jaeger under a service name of their own; what JaegerSource pulls back through
api_v3 and v1 must count the same LLM and tool calls, hold the same tokens and cost the same as
the file, and carry none of Jaeger's internal ``@jaeger@`` attributes.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest

from agentinsight.analysis import cost
from agentinsight.analysis.traces import trace_summary
from agentinsight.frames import TOKEN_COLUMNS, validate_spans_frame
from agentinsight.sources import JaegerSource
from agentinsight.sources.otlp import read_otlp_jsonl
from agentinsight.stack.load import load_jaeger_otlp
from tests.unit.test_producers import DATA, EXPECTED, expected_bills

pytestmark = pytest.mark.integration

#: One producer per naming family: current GenAI names, OpenLLMetry 0.40's, OpenInference's.
PRODUCERS = ("openllmetry-openai", "openllmetry-0.40-openai", "openinference-openai")


#: A capture sent without its root span: Jaeger warns of the missing parent.
OPEN_TRACE = "openllmetry-openai open"


def _params() -> list[object]:
    return [pytest.param(producer, api, id=f"{producer}-{api}")
            for producer in PRODUCERS for api in ("v3", "v1")]


def _renamed(source: Path, target: Path, service: str, *, drop_root: bool = False) -> None:
    """The capture with its ``service.name`` replaced, so the shared Jaeger keeps it apart
    (``drop_root``: without its root span, as a trace still open when it is read, and under
    trace ids of its own)."""
    lines, trace_ids = [], {}
    for line in source.read_text(encoding="utf-8").splitlines():
        doc = json.loads(line)
        spans = [s for rs in doc["resourceSpans"] for ss in rs["scopeSpans"]
                 for s in ss["spans"]]
        if drop_root and all(not s.get("parentSpanId") for s in spans):
            continue
        if drop_root:
            for span in spans:
                span["traceId"] = trace_ids.setdefault(span["traceId"], uuid.uuid4().hex)
        for rs in doc["resourceSpans"]:
            for kv in rs["resource"]["attributes"]:
                if kv["key"] == "service.name":
                    kv["value"] = {"stringValue": service}
        lines.append(json.dumps(doc))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def loaded(jaeger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every producer's capture in the session Jaeger: producer → its service name there."""
    services = {}
    folder = tmp_path_factory.mktemp("producers")
    source = JaegerSource(jaeger.query_url)
    for n, producer in enumerate([*PRODUCERS, OPEN_TRACE]):
        service = f"producer-{n}-{time.time_ns()}"
        path = folder / f"{producer}.jsonl"
        _renamed(DATA / f"{producer.removesuffix(' open')}.jsonl", path, service,
                 drop_root=producer == OPEN_TRACE)
        assert load_jaeger_otlp(path, jaeger.otlp_http_url) == len(read_otlp_jsonl(path))
        services[producer] = service
    # the OTLP receiver batches: wait until every capture is queryable in full
    for producer, service in services.items():
        want = len(read_otlp_jsonl(folder / f"{producer}.jsonl"))
        for _ in range(200):
            if len(_pull(source, service)) == want:
                break
            time.sleep(0.1)
    return services


def _pull(source: JaegerSource, service: str) -> pd.DataFrame:
    return source.traces(service, start="now-30d", end="now+1d")


@pytest.mark.parametrize(("producer", "api"), _params())
def test_producer_spans_pulled_from_jaeger_count_and_cost_as_the_file(
        jaeger, loaded: dict[str, str], producer: str, api: str) -> None:
    got = _pull(JaegerSource(jaeger.query_url, api=api), loaded[producer])
    want = read_otlp_jsonl(DATA / f"{producer}.jsonl")
    validate_spans_frame(got)
    assert sorted(got["span_id"]) == sorted(want["span_id"])
    assert not [k for attrs in got["attributes"] for k in attrs if k.startswith("@jaeger@")]

    summary = trace_summary(got)
    assert (int(summary["llm_calls"].sum()), int(summary["tool_calls"].sum())) == (
        EXPECTED[producer]["llm_calls"], EXPECTED[producer]["tool_calls"])
    priced = cost.price_spans(got)
    billed = priced[priced["billable"].astype(bool)]
    tokens = {f: int(billed[f].fillna(0).sum()) for f in TOKEN_COLUMNS}
    bills = expected_bills(producer, want["start"].min().floor("us").to_pydatetime())
    assert tokens in [t for t, _ in bills]
    assert billed["priced"].all(), billed["unpriced_reason"].tolist()
    total = float(billed["cost_usd"].sum())
    assert any(abs(total - c) <= 0.01 * c for _, c in bills), (total, bills)


@pytest.mark.parametrize("api", ["v3", "v1"])
def test_jaeger_warnings_stay_out_of_the_attributes(jaeger, loaded: dict[str, str],
                                                    api: str) -> None:
    got = _pull(JaegerSource(jaeger.query_url, api=api), loaded[OPEN_TRACE])
    want = read_otlp_jsonl(DATA / "openllmetry-openai.jsonl")
    assert len(got) == len(want) - 1  # all but the root
    assert trace_summary(got)["llm_calls"].sum() == EXPECTED["openllmetry-openai"]["llm_calls"]
    assert [k for attrs in got["attributes"] for k in attrs if k.startswith("@jaeger@")] == []
