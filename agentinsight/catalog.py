"""The metric catalogue: every metric agentinsight emits, declared once.

``emit`` builds its prometheus_client objects from this table; PromQL helpers, Grafana dashboards
and alert rules are written against it, and tests check that they name nothing else.

Names are the names Prometheus shows, unit suffix and ``_total`` included. An optional namespace
prefix (``emit.configure(metrics_namespace="acme")`` → ``acme_agent_execution_total``) is applied
by ``emit``; the catalogue itself holds the bare names.

Token semantics follow the OpenTelemetry GenAI conventions: ``token_type="input"`` counts *all*
input tokens, cache reads and writes included; ``cache_read`` and ``cache_write`` are parts of
``input``; ``reasoning`` is part of ``output``. Summing every ``token_type`` therefore counts
cached and reasoning tokens twice: sum ``token_type=~"input|output"`` for totals.

Stdlib only: this module is imported on the agent's hot path.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentinsight import semconv

__all__ = [
    "AGENT_DURATION_BUCKETS",
    "COST_TOKEN_TYPES",
    "GENAI_DURATION_BUCKETS",
    "GENAI_TOKEN_BUCKETS",
    "METRICS",
    "MetricSpec",
    "STATUS_VALUES",
    "TOKEN_TYPES",
    "by_name",
    "metric_names",
    "series_names",
]

#: ``status`` label values.
STATUS_VALUES = ("success", "error")
#: ``token_type`` label values of ``llm_tokens_used_total``.
TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")
#: ``token_type`` label values of ``llm_cost_usd_total``: the part billed at each rate.
COST_TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning", "request")

#: Bucket boundaries the OpenTelemetry GenAI semantic conventions advise for
#: ``gen_ai.client.token.usage``.
GENAI_TOKEN_BUCKETS = (
    1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
)
#: ... and for ``gen_ai.client.operation.duration`` (seconds).
GENAI_DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)
#: Agent runs and tasks take seconds to minutes.
AGENT_DURATION_BUCKETS = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0,
)
TOOL_DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
LLM_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0)
API_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its Prometheus name, kind, label names, buckets and help text."""

    name: str
    kind: str  # "counter" | "gauge" | "histogram" | "summary"
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()

    @property
    def base_name(self) -> str:
        """The name given to prometheus_client (which appends ``_total`` to counters itself)."""
        if self.kind == "counter" and self.name.endswith("_total"):
            return self.name[: -len("_total")]
        return self.name

    @property
    def series(self) -> tuple[str, ...]:
        """Every series name this metric exposes (``_bucket``/``_sum``/``_count`` included)."""
        if self.kind == "histogram":
            return (f"{self.name}_bucket", f"{self.name}_sum", f"{self.name}_count")
        if self.kind == "summary":
            return (self.name, f"{self.name}_sum", f"{self.name}_count")
        return (self.name,)


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "agent_execution_duration_seconds", "histogram", ("agent", "status"),
        "Wall-clock duration of one agent run.", AGENT_DURATION_BUCKETS,
    ),
    MetricSpec(
        "agent_execution_total", "counter", ("agent", "status"),
        "Agent runs completed, by outcome.",
    ),
    MetricSpec("agent_active", "gauge", ("agent",), "Agent runs in progress."),
    MetricSpec(
        "tool_usage_total", "counter", ("agent", "tool", "status"),
        "Tool calls completed, by calling agent and outcome.",
    ),
    MetricSpec(
        "tool_execution_duration_seconds", "histogram", ("tool", "status"),
        "Duration of one tool call.", TOOL_DURATION_BUCKETS,
    ),
    MetricSpec("task_total", "counter", ("task_type", "status"), "Tasks completed, by outcome."),
    MetricSpec(
        "task_duration_seconds", "histogram", ("task_type", "status"),
        "Duration of one task.", AGENT_DURATION_BUCKETS,
    ),
    MetricSpec("task_queue_size", "gauge", ("queue",), "Tasks waiting in a queue."),
    MetricSpec(
        "api_request_duration_seconds", "histogram", ("method", "route", "status_code"),
        "Duration of one HTTP request served by the agent's API.", API_DURATION_BUCKETS,
    ),
    MetricSpec(
        "llm_tokens_used_total", "counter", ("agent", "provider", "model", "token_type"),
        "LLM tokens used. token_type=input counts all input tokens (cache reads and writes "
        "included); cache_read and cache_write are parts of input, reasoning is part of output: "
        "sum only input and output for totals.",
    ),
    MetricSpec(
        "llm_cost_usd_total", "counter", ("agent", "provider", "model", "token_type"),
        "LLM spend in USD, priced with genai-prices at the rate in force when the call was made "
        "(opt-in: emit.configure(cost=True) or AGENTINSIGHT_COST=1). Each token_type is the part "
        "billed at its own rate (input is the uncached input; request is a per-request fee): sum "
        "every token_type for the total.",
    ),
    MetricSpec(
        "llm_unpriced_tokens_total", "counter", ("agent", "provider", "model", "token_type"),
        "LLM tokens the cost counter could not price (model or token type without a price), "
        "counted here instead of as $0; token_type as in llm_tokens_used_total.",
    ),
    MetricSpec(
        "llm_request_duration_seconds", "histogram", ("provider", "model", "status"),
        "Duration of one LLM request.", LLM_DURATION_BUCKETS,
    ),
    MetricSpec(
        "database_connections", "gauge", ("database", "state"),
        "Database connections, by state (active, idle, ...).",
    ),
    MetricSpec(
        "memory_operation_duration_seconds", "summary", ("operation",),
        "Duration of one agent-memory operation (vector search, store, ...).",
    ),
    MetricSpec(
        "gen_ai_client_token_usage", "histogram",
        ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model",
         "gen_ai_token_type"),
        f"OpenTelemetry GenAI {semconv.GEN_AI_CLIENT_TOKEN_USAGE}: tokens per operation "
        "(gen_ai_token_type input or output).",
        GENAI_TOKEN_BUCKETS,
    ),
    MetricSpec(
        "gen_ai_client_operation_duration_seconds", "histogram",
        ("gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"),
        f"OpenTelemetry GenAI {semconv.GEN_AI_CLIENT_OPERATION_DURATION}.",
        GENAI_DURATION_BUCKETS,
    ),
)

_BY_NAME = {m.name: m for m in METRICS}


def by_name(name: str) -> MetricSpec:
    """The spec of a catalogue metric, by its Prometheus name.

    >>> by_name("agent_execution_total").labels
    ('agent', 'status')
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"{name!r} is not in the agentinsight metric catalogue") from None


def metric_names() -> tuple[str, ...]:
    """Every catalogue metric name."""
    return tuple(_BY_NAME)


def series_names(namespace: str = "") -> frozenset[str]:
    """Every series name Prometheus can hold for the catalogue (with an optional namespace)."""
    prefix = f"{namespace}_" if namespace else ""
    return frozenset(prefix + s for m in METRICS for s in m.series)
