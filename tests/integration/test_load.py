"""Simulated history loaded into real Prometheus (promtool backfill), VictoriaMetrics (import
API) and Jaeger (OTLP/HTTP), then read back through their query APIs."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from agentinsight.exceptions import (
    ConfigurationError,
    ParseError,
    SourceConnectionError,
    StackError,
)
from agentinsight.simulate import simulate
from agentinsight.stack import free_port
from agentinsight.stack.load import backfill_prometheus, import_victoriametrics, load_jaeger_otlp

pytestmark = pytest.mark.integration


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory):
    """A simulated Monday of the six-agent fleet, incidents included."""
    return simulate(tmp_path_factory.mktemp("history"), days=1.0, start="2026-11-02T00:00:00Z",
                    seed=11)


def _by_labels(result: list[dict], keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"].get(k, "") for k in keys): float(r["value"][1]) for r in result}


def _truth_rows(history, series: str, keys: tuple[str, ...]) -> dict[tuple[str, ...], float]:
    return {tuple(r["labels"][k] for k in keys): float(r["value"])
            for r in history.truth["totals"]["series"][series]}


def _assert_server_holds_the_truth(query, history) -> None:
    end = _ts(history.truth["end"])
    runs = _by_labels(query("agent_execution_total", end), ("agent", "status"))
    assert runs == _truth_rows(history, "agent_execution_total", ("agent", "status"))
    # the same totals the way an analyst asks for them: increase over the whole day, per agent
    per_agent = _by_labels(query("sum by (agent) (agent_execution_total)", end), ("agent",))
    expected: dict[tuple[str, ...], float] = defaultdict(float)
    for agent, counts in history.truth["totals"]["runs"].items():
        expected[(agent,)] = float(sum(counts.values()))
    assert per_agent == expected
    tokens = _by_labels(query("sum by (model, token_type) (llm_tokens_used_total)", end),
                        ("model", "token_type"))
    want = {(m, t): float(v) for m, types in history.truth["totals"]["tokens"].items()
            for t, v in types.items()}
    assert {k: v for k, v in tokens.items() if v} == {k: v for k, v in want.items() if v}
    tools = _by_labels(query("sum by (tool, status) (tool_usage_total)", end), ("tool", "status"))
    assert tools == {(t, s): float(n) for t, c in history.truth["totals"]["tool_calls"].items()
                     for s, n in c.items()}
    # the incidents show in PromQL: the error burst agent's error ratio over the incident
    burst = next(i for i in history.truth["incidents"] if i["kind"] == "error_burst")
    agent = burst["labels"]["agent"]
    t1, window = _ts(burst["end"]), int(_ts(burst["end"]) - _ts(burst["start"]))
    ratio = query(f'sum(increase(agent_execution_total{{agent="{agent}",status="error"}}'
                  f'[{window}s])) / sum(increase(agent_execution_total{{agent="{agent}"}}'
                  f'[{window}s]))', t1)
    assert float(ratio[0]["value"][1]) > 0.3


def test_promtool_backfill_gives_prometheus_the_exact_history(history, tmp_path: Path,
                                                              prometheus_factory,
                                                              require_program) -> None:
    require_program("promtool")
    data_dir = backfill_prometheus(history.metrics_path, tmp_path / "tsdb")
    assert any(p.is_dir() and len(p.name) == 26 for p in data_dir.iterdir())  # TSDB blocks
    prom = prometheus_factory(data_dir=data_dir)
    _assert_server_holds_the_truth(prom.query, history)
    start = _ts(history.truth["start"])
    first = prom.query("count(agent_execution_total)", start + 3600)
    assert float(first[0]["value"][1]) >= 6


def test_victoriametrics_import_gives_the_exact_history(history, victoriametrics) -> None:
    sent = import_victoriametrics(history.metrics_path, victoriametrics.url,
                                  batch_bytes=8 << 20)
    with open(history.metrics_path, encoding="utf-8") as fh:
        lines = sum(1 for line in fh if not line.startswith("#"))
    assert sent == lines

    def query(expr: str, at: float) -> list[dict]:
        body = victoriametrics.api("/api/v1/query", query=expr, time=at)
        return body["data"]["result"]

    _assert_server_holds_the_truth(query, history)


def _eventually(fetch, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fetch()
        except StackError as exc:
            if "404" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def test_spans_loaded_over_otlp_come_back_from_jaeger(tmp_path: Path, jaeger,
                                                      unique_name: str) -> None:
    result = simulate(tmp_path, days=0.03, start="2026-11-02T10:00:00Z", seed=5,
                      service=unique_name)
    by_trace: dict[str, dict[str, str]] = defaultdict(dict)
    with open(result.spans_path, encoding="utf-8") as fh:
        for line in fh:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        by_trace[s["traceId"]][s["spanId"]] = s.get("parentSpanId", "")
    sent = load_jaeger_otlp(result.spans_path, jaeger.otlp_http_url, batch_bytes=256 << 10)
    assert sent == sum(len(v) for v in by_trace.values())

    trace_id = max(by_trace, key=lambda t: len(by_trace[t]))
    body = _eventually(lambda: jaeger.api(f"/api/v3/traces/{trace_id}"))  # Jaeger batches writes
    got = {}
    for rs in body["result"]["resourceSpans"]:
        service = {a["key"]: a["value"] for a in rs["resource"]["attributes"]}["service.name"]
        assert service == {"stringValue": unique_name}
        for ss in rs["scopeSpans"]:
            for s in ss["spans"]:
                got[s["spanId"]] = s.get("parentSpanId", "")
    assert got == by_trace[trace_id]

    start = result.truth["start"].replace("Z", ".000000000Z")
    found = _eventually(lambda: jaeger.api("/api/v3/traces", **{
        "query.service_name": unique_name, "query.start_time_min": start,
        "query.start_time_max": result.truth["end"].replace("Z", ".000000000Z"),
        "query.num_traces": 5}))
    traces = {s["traceId"] for rs in found["result"]["resourceSpans"]
              for ss in rs["scopeSpans"] for s in ss["spans"]}
    assert len(traces) == 5 and traces <= set(by_trace)


def test_a_corrupt_span_line_is_named_by_file_and_line(tmp_path: Path, jaeger) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text('{"resourceSpans": []}\n{"resourceSpans": [\n')
    with pytest.raises(ParseError) as info:
        load_jaeger_otlp(path, jaeger.otlp_http_url)
    assert info.value.line == 2 and str(path) in str(info.value)


def test_unreachable_servers_and_bad_files_are_reported_clearly(tmp_path: Path) -> None:
    om = tmp_path / "m.om"
    om.write_text("# TYPE up gauge\nup 1 1793613900\n")
    with pytest.raises(ParseError, match="# EOF"):
        backfill_prometheus(om, tmp_path / "tsdb")
    om.write_text("# TYPE up gauge\nup 1 1793613900\n# EOF\n")
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(SourceConnectionError, match=url):
        import_victoriametrics(om, url)
    spans = tmp_path / "s.jsonl"
    spans.write_text('{"resourceSpans": [{"resource": {}, "scopeSpans": []}]}\n')
    with pytest.raises(SourceConnectionError, match=url):
        load_jaeger_otlp(spans, url)
    with pytest.raises(ConfigurationError, match="no such file"):
        import_victoriametrics(tmp_path / f"{uuid.uuid4().hex}.om", url)
