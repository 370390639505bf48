"""The opt-in cost counter: llm_cost_usd_total priced at the call's time, unpriced tokens apart."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.analysis.cost import price_spans
from agentinsight.exceptions import ConfigurationError
from agentinsight.formats.otlp_json import encode_traces_data
from agentinsight.sources import spans_from_otlp
from tests.span_sink import CollectSpans


class _Clock:
    def __init__(self) -> None:
        self.now = 0

    def at(self, when: str) -> None:
        self.now = int(datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp() * 1e9)

    def __call__(self) -> int:
        self.now += 1_000_000  # each reading 1 ms later
        return self.now


@pytest.fixture()
def priced():
    sink = CollectSpans()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink, cost=True)
    clock = _Clock()
    emit.use_clock(clock)
    yield clock, sink
    emit.use_clock(None)
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")


def _samples(name: str) -> dict[tuple[str, str, str], float]:
    out: dict[tuple[str, str, str], float] = {}
    for metric in emit.get_registry().collect():
        for s in metric.samples:
            if s.name == name:
                key = (s.labels["model"], s.labels["token_type"], s.labels["agent"])
                out[key] = out.get(key, 0.0) + s.value
    return out


# (time, provider, model, input, output, cache_read, cache_write, reasoning)
CALLS = [
    ("2026-03-01T10:00:00", "openai", "gpt-4o", 1_200_000, 300_000, 1_000_000, 0, 0),
    ("2026-03-01T10:05:00", "anthropic", "claude-sonnet-4-5", 900_000, 80_000, 300_000, 200_000,
     0),
    # over the 200k-token tier: the whole request at the higher rate
    ("2026-03-01T11:00:00", "anthropic", "claude-sonnet-4-5", 250_000, 10_000, 0, 0, 0),
    ("2026-03-01T12:00:00", "gcp.gemini", "gemini-2.5-pro", 300_000, 50_000, 0, 0, 20_000),
    # o3's price changed on 2025-06-10: one call before, one after
    ("2025-06-01T09:00:00", "openai", "o3", 1_000_000, 500_000, 0, 0, 400_000),
    ("2025-06-20T09:00:00", "openai", "o3", 1_000_000, 500_000, 0, 0, 400_000),
    # DeepSeek's off-peak window (16:30-00:30 UTC) and peak hours
    ("2025-09-01T03:00:00", "deepseek", "deepseek-chat", 2_000_000, 400_000, 500_000, 0, 0),
    ("2025-09-01T17:00:00", "deepseek", "deepseek-chat", 2_000_000, 400_000, 500_000, 0, 0),
    ("2025-09-02T03:00:00", "deepseek", "deepseek-chat", 2_000_000, 400_000, 500_000, 0, 0),
]


def _run(clock: _Clock, calls=CALLS, agent: str = "planner") -> None:
    for when, provider, model, inp, out, cr, cw, rs in calls:
        clock.at(when)
        with emit.agent_run(agent), emit.llm_call(model=model, provider=provider) as call:
            call.record_usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cr,
                              cache_write_tokens=cw, reasoning_tokens=rs)


def test_counter_equals_price_spans_on_the_same_calls_to_the_cent(priced):
    clock, sink = priced
    _run(clock)
    emit.flush()
    frame = price_spans(spans_from_otlp([encode_traces_data(sink.spans)]))
    expected = frame[frame["billable"]].groupby("model", observed=True)["cost_usd"].sum()
    counted: dict[str, float] = {}
    for (model, _, _), usd in _samples("llm_cost_usd_total").items():
        counted[model] = counted.get(model, 0.0) + usd
    assert set(counted) == set(expected.index)
    for model, usd in expected.items():
        assert counted[model] == pytest.approx(usd, abs=0.005), model
    assert sum(counted.values()) == pytest.approx(expected.sum(), abs=0.005)
    assert expected.sum() > 10  # large enough that "to the cent" means something


def test_each_call_is_priced_at_the_rate_in_force_when_it_was_made(priced):
    clock, _ = priced
    _run(clock, [CALLS[4]], agent="before")
    _run(clock, [CALLS[5]], agent="after")
    _run(clock, [CALLS[6]], agent="peak")
    _run(clock, [CALLS[7]], agent="off-peak")
    cost = _samples("llm_cost_usd_total")

    def total(agent: str) -> float:
        return sum(v for (_, _, a), v in cost.items() if a == agent)

    assert total("after") < total("before") / 2  # o3's price cut
    assert total("off-peak") < total("peak")


def test_the_parts_add_up_and_cached_tokens_cost_less(priced):
    clock, _ = priced
    _run(clock, [("2026-03-01T10:00:00", "openai", "gpt-4o", 1_000_000, 0, 1_000_000, 0, 0)],
         agent="cached")
    _run(clock, [("2026-03-01T10:00:00", "openai", "gpt-4o", 1_000_000, 0, 0, 0, 0)],
         agent="plain")
    cost = _samples("llm_cost_usd_total")
    assert cost[("gpt-4o", "cache_read", "cached")] == pytest.approx(1.25)
    assert ("gpt-4o", "input", "cached") not in cost  # nothing left at the full rate
    assert cost[("gpt-4o", "input", "plain")] == pytest.approx(2.5)


def test_unknown_model_counts_unpriced_tokens_not_zero_dollars(priced):
    clock, _ = priced
    _run(clock, [("2026-03-01T10:00:00", "acme", "llm-9000", 1000, 200, 0, 0, 0)])
    assert not any(k[0] == "llm-9000" for k in _samples("llm_cost_usd_total"))
    unpriced = _samples("llm_unpriced_tokens_total")
    assert unpriced[("llm-9000", "input", "planner")] == 1000
    assert unpriced[("llm-9000", "output", "planner")] == 200


def test_cost_is_off_by_default_and_on_with_the_environment(monkeypatch):
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    with emit.llm_call(model="gpt-4o", provider="openai") as call:
        call.record_usage(input_tokens=1000, output_tokens=10)
    assert _samples("llm_cost_usd_total") == {}
    monkeypatch.setenv("AGENTINSIGHT_COST", "1")
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    with emit.llm_call(model="gpt-4o", provider="openai") as call:
        call.record_usage(input_tokens=1000, output_tokens=10)
    assert sum(_samples("llm_cost_usd_total").values()) > 0
    monkeypatch.setenv("AGENTINSIGHT_COST", "maybe")
    with pytest.raises(ConfigurationError, match="AGENTINSIGHT_COST"):
        emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                   cost=False)


def test_recording_usage_with_cost_off_does_not_import_genai_prices():
    code = (
        "import sys\n"
        "import prometheus_client\n"
        "from agentinsight import emit\n"
        "emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter='none')\n"
        "with emit.llm_call(model='gpt-4o', provider='openai') as call:\n"
        "    call.record_usage(input_tokens=10, output_tokens=2)\n"
        "print('genai_prices' in sys.modules)\n"
    )
    env_free = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env_free)
    assert out.stdout.strip() == "False"
