"""A real Prometheus scrapes the instrumented agent program; its HTTP API shows the exact workload.

The workload is described in ``agent_program.py``: 5 planner runs, 2 failing in ``web_search``;
the expected numbers below are written out by hand from that description.
"""

from __future__ import annotations

import time

import pytest

from agentinsight.stack import Prometheus
from tests.integration.agent_program import launched

pytestmark = pytest.mark.integration

SERIES_LABELS_IGNORED = {"__name__", "job", "instance"}


def _by(result: list[dict], *labels: str) -> dict[tuple[str, ...], float]:
    return {tuple(r["metric"].get(k, "") for k in labels): float(r["value"][1]) for r in result}


def _labelsets(result: list[dict]) -> list[dict[str, str]]:
    return sorted(
        ({k: v for k, v in r["metric"].items() if k not in SERIES_LABELS_IGNORED}
         for r in result),
        key=lambda d: sorted(d.items()),
    )


@pytest.fixture(scope="module")
def scraped(jaeger, require_program):
    """Run the agent program once, scraped every second by a real Prometheus."""
    require_program("prometheus")
    service = f"emit-prometheus-{time.time_ns()}"
    started = time.time()
    env = {"OTEL_SERVICE_NAME": service, "OTEL_EXPORTER_OTLP_ENDPOINT": jaeger.otlp_http_url}
    with launched(env) as agent:
        prom = Prometheus(scrape_targets=[f"127.0.0.1:{agent.port}"], scrape_interval="1s")
        prom.start()
        try:
            runs = agent.runs()
            prom.wait_for_scrapes(2, timeout=30)  # the second one began after the workload
            yield prom, runs, started, service
        finally:
            prom.stop()


def test_agent_runs_are_counted_by_status(scraped):
    prom, runs, _, _ = scraped
    assert [r["status"] for r in runs] == ["success", "error", "success", "error", "success"]
    result = prom.query("agent_execution_total")
    assert _by(result, "agent", "status") == {("planner", "success"): 3, ("planner", "error"): 2}
    counts = prom.query("agent_execution_duration_seconds_count")
    assert _by(counts, "agent", "status") == {("planner", "success"): 3, ("planner", "error"): 2}
    tasks = prom.query("task_total")
    assert _by(tasks, "task_type", "status") == {("research", "success"): 3,
                                                 ("research", "error"): 2}


def test_tokens_are_counted_per_token_type_with_exact_label_sets(scraped):
    prom, _, _, _ = scraped
    result = prom.query("llm_tokens_used_total")
    assert _labelsets(result) == _labelsets([
        {"metric": {"agent": "planner", "provider": "openai", "model": "gpt-4o",
                    "token_type": t}} for t in
        ("input", "output", "cache_read", "cache_write", "reasoning")
    ])
    assert _by(result, "token_type") == {
        ("input",): 1000 + 1100 + 1200 + 1300 + 1400,  # input includes the cache tokens
        ("output",): 200 + 250 + 300 + 350 + 400,
        ("cache_read",): 800 * 3,
        ("cache_write",): 100,
        ("reasoning",): 64,
    }
    usage_sum = prom.query("gen_ai_client_token_usage_sum")
    assert _by(usage_sum, "gen_ai_operation_name", "gen_ai_request_model",
               "gen_ai_token_type") == {("chat", "gpt-4o", "input"): 6000,
                                        ("chat", "gpt-4o", "output"): 1500}
    usage_count = prom.query("gen_ai_client_token_usage_count")
    assert {v for v in _by(usage_count, "gen_ai_token_type").values()} == {5}


def test_tool_usage_is_counted_per_tool_and_status(scraped):
    prom, _, _, _ = scraped
    result = prom.query("tool_usage_total")
    assert _by(result, "agent", "tool", "status") == {
        ("planner", "web_search", "success"): 3,
        ("planner", "web_search", "error"): 2,
        ("planner", "calculator", "success"): 2,
    }
    durations = prom.query("tool_execution_duration_seconds_count")
    assert _by(durations, "tool", "status") == {
        ("web_search", "success"): 3, ("web_search", "error"): 2, ("calculator", "success"): 2,
    }
    # each web_search sleeps 10 ms: the sum of 5 observations cannot be less than 50 ms
    web_sum = prom.query('sum(tool_execution_duration_seconds_sum{tool="web_search"})')
    assert float(web_sum[0]["value"][1]) >= 0.05


def test_llm_calls_are_timed_and_none_is_in_flight(scraped):
    prom, _, _, _ = scraped
    calls = prom.query("llm_request_duration_seconds_count")
    assert _by(calls, "provider", "model", "status") == {("openai", "gpt-4o", "success"): 5}
    genai = prom.query("gen_ai_client_operation_duration_seconds_count")
    assert sum(_by(genai, "gen_ai_request_model").values()) == 5
    active = prom.query("agent_active")
    assert _by(active, "agent") == {("planner",): 0}


def test_exemplars_carry_the_trace_ids_of_the_runs_and_those_traces_are_in_jaeger(
    scraped, jaeger
):
    prom, runs, started, _ = scraped
    found = prom.api("/api/v1/query_exemplars", query="agent_execution_duration_seconds_bucket",
                     start=started - 60, end=time.time() + 60)["data"]
    by_status: dict[str, set[str]] = {}
    for series in found:
        for exemplar in series["exemplars"]:
            by_status.setdefault(series["seriesLabels"]["status"], set()).add(
                exemplar["labels"]["trace_id"])
    run_ids = {status: {r["trace_id"] for r in runs if r["status"] == status}
               for status in ("success", "error")}
    assert set(by_status) == {"success", "error"}, found
    assert by_status["success"] <= run_ids["success"]
    assert by_status["error"] <= run_ids["error"]
    for trace_id in by_status["success"] | by_status["error"]:
        trace = jaeger.api(f"/api/v3/traces/{trace_id}")
        names = {s["name"] for rs in trace["result"]["resourceSpans"]
                 for ss in rs["scopeSpans"] for s in ss["spans"]}
        assert "invoke_agent planner" in names
