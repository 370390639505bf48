"""Label values from agents are bounded in length: a huge value is cut, marked and warned about.

An agent that puts an error message, a prompt or a document into a label (a tool named after its
input, a model string read from a response) must not make every scrape carry it whole.
"""

from __future__ import annotations

import logging

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.emit import _errors

HUGE = "x" * 100_000


@pytest.fixture()
def registry() -> prometheus_client.CollectorRegistry:
    _errors._warned.clear()
    return prometheus_client.CollectorRegistry()


def _tools(registry: prometheus_client.CollectorRegistry) -> dict[str, float]:
    return {s.labels["tool"]: s.value for m in registry.collect() if m.name == "tool_usage"
            for s in m.samples if s.name == "tool_usage_total"}


def test_a_100k_character_label_value_is_cut_to_256_with_a_marker(registry, caplog) -> None:
    emit.configure(registry=registry, traces_exporter="none")
    with caplog.at_level(logging.WARNING, "agentinsight.emit"):
        for _ in range(3):
            with emit.tool_call(HUGE):
                pass
    tools = _tools(registry)
    assert tools == {"x" * 255 + "…": 3.0}
    # the scrape carries the cut value, not 100,000 characters per sample line
    assert len(prometheus_client.generate_latest(registry)) < 50_000
    assert caplog.text.count("truncated") == 1
    assert "100000 characters" in caplog.text


def test_values_up_to_the_bound_are_kept_whole_and_long_ones_sharing_a_prefix_merge(
        registry) -> None:
    emit.configure(registry=registry, traces_exporter="none", label_value_length=8)
    for name in ("12345678", "123456789", "1234567890", "short"):
        with emit.tool_call(name):
            pass
    assert _tools(registry) == {"12345678": 1.0, "1234567…": 2.0, "short": 1.0}


def test_the_bound_comes_from_the_environment(registry, monkeypatch) -> None:
    monkeypatch.setenv("AGENTINSIGHT_LABEL_VALUE_LENGTH", "16")
    emit.configure(registry=registry, traces_exporter="none")
    with emit.llm_call("gpt-4o-" + HUGE, "openai") as call:
        call.record_usage(input_tokens=10, output_tokens=5)
    models = {s.labels["model"] for m in registry.collect() if m.name == "llm_tokens_used"
              for s in m.samples}
    assert models == {"gpt-4o-" + "x" * 8 + "…"}
