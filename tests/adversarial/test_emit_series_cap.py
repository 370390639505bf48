"""A metric's label combinations are bounded: beyond the cap they fold into one overflow series.

The per-label cap alone lets combinations multiply: 1,000 agents each calling 200 models made
833,842 series and an 83 MB scrape. With the per-metric cap the same fleet stays a few
thousand series per metric, the scrape stays small, and the operator is told once.
"""

from __future__ import annotations

import logging

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.emit import _errors
from agentinsight.exceptions import ConfigurationError

OVERFLOW = "__overflow__"


@pytest.fixture()
def registry() -> prometheus_client.CollectorRegistry:
    _errors._warned.clear()
    return prometheus_client.CollectorRegistry()


def _series(registry: prometheus_client.CollectorRegistry, family: str,
            sample: str) -> dict[tuple, float]:
    return {tuple(sorted(s.labels.items())): s.value for m in registry.collect()
            if m.name == family for s in m.samples if s.name == sample}


def test_1000_agents_times_200_models_stay_bounded(registry, caplog) -> None:
    emit.configure(registry=registry, traces_exporter="none", sample_ratio=0)
    with caplog.at_level(logging.WARNING, "agentinsight.emit"):
        for a in range(1000):
            with emit.agent_run(f"agent-{a}"):
                for m in range(200):
                    with emit.llm_call(f"model-{m}", "openai") as call:
                        call.record_usage(input_tokens=1, output_tokens=1)
    tokens = _series(registry, "llm_tokens_used", "llm_tokens_used_total")
    # 200,000 agent×model pairs × 2 token types would be 400,000 series; the cap is 5,000 plus
    # the one overflow series
    assert len(tokens) == 5001
    overflow = tuple(sorted({"agent": OVERFLOW, "provider": OVERFLOW, "model": OVERFLOW,
                             "token_type": OVERFLOW}.items()))
    # nothing is lost: every token lands either in its own series or in the overflow one
    assert sum(tokens.values()) == 400_000
    assert tokens[overflow] == 400_000 - 5000
    scrape = prometheus_client.generate_latest(registry)
    assert len(scrape) < 10_000_000  # was 83 MB
    assert caplog.text.count("label combinations") >= 1
    assert caplog.text.count("llm_tokens_used_total has reached its limit of 5000") == 1


def test_the_cap_is_configurable_and_known_series_keep_counting(registry) -> None:
    emit.configure(registry=registry, traces_exporter="none", sample_ratio=0,
                   metric_series_limit=3)
    for _ in range(2):
        for tool in ("a", "b", "c", "d", "e"):
            with emit.tool_call(tool):
                pass
    tools = {dict(k)["tool"]: v for k, v in
             _series(registry, "tool_usage", "tool_usage_total").items()}
    assert tools == {"a": 2.0, "b": 2.0, "c": 2.0, OVERFLOW: 4.0}


def test_the_cap_comes_from_the_environment(registry, monkeypatch) -> None:
    monkeypatch.setenv("AGENTINSIGHT_METRIC_SERIES_LIMIT", "1")
    emit.configure(registry=registry, traces_exporter="none", sample_ratio=0)
    for tool in ("a", "b"):
        with emit.tool_call(tool):
            pass
    tools = {dict(k)["tool"] for k in _series(registry, "tool_usage", "tool_usage_total")}
    assert tools == {"a", OVERFLOW}


def test_a_bad_cap_is_a_configuration_error_naming_the_variable(registry, monkeypatch) -> None:
    monkeypatch.setenv("AGENTINSIGHT_METRIC_SERIES_LIMIT", "lots")
    with pytest.raises(ConfigurationError, match="AGENTINSIGHT_METRIC_SERIES_LIMIT"):
        emit.configure(registry=registry, traces_exporter="none")
