"""``agentinsight.emit``: metrics, traces and logs from inside an agent, in two lines.

    from agentinsight import emit
    emit.configure("support-bot", otlp_endpoint="http://127.0.0.1:4318")

    with emit.agent_run("planner", task_type="research"):        # span "invoke_agent planner"
        with emit.llm_call(model="gpt-4o", provider="openai") as call:   # span "chat gpt-4o"
            call.record_usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)
        with emit.tool_call("web_search"):                        # span "execute_tool web_search"
            ...
    server = emit.serve(port=9464)                                # /metrics and /health

Every metric comes from :mod:`agentinsight.catalog`; spans follow the OpenTelemetry GenAI
conventions (attribute names in :mod:`agentinsight.semconv`). Without ``configure()`` every call
works and records metrics in prometheus_client's default registry; spans go to OpenTelemetry's
global tracer (nowhere unless the application installed one). Telemetry never raises into agent
code: a failure is logged once and the call becomes a no-op (strict mode re-raises instead, only
while pytest runs a test or with ``AGENTINSIGHT_STRICT=true``).

An agent already instrumented by another GenAI instrumentation (openai-v2, OpenLLMetry,
OpenInference, openlit) gets the same LLM metrics from its spans with one line:
``trace.get_tracer_provider().add_span_processor(emit.GenAIMetricsProcessor())``.

``use_clock`` is the simulation/test seam: with a clock installed, span times, observed durations
and log timestamps come from it.

This package imports only the standard library, prometheus_client and opentelemetry.
"""

from __future__ import annotations

from agentinsight.emit._api import (
    agent_run,
    llm_call,
    memory_operation,
    set_db_connections,
    set_queue_size,
    task,
    tool_call,
)
from agentinsight.emit._blocks import AgentRun, LLMCall, MemoryOperation, Task, ToolCall
from agentinsight.emit._clock import use_clock
from agentinsight.emit._decorators import agent, tool
from agentinsight.emit._events import Event, subscribe
from agentinsight.emit._logging import get_logger
from agentinsight.emit._middleware import ASGIMiddleware, WSGIMiddleware
from agentinsight.emit._propagation import RemoteContext, extract, inject
from agentinsight.emit._runtime import configure, flush, get_registry, shutdown
from agentinsight.emit._server import MetricsServer, serve
from agentinsight.emit._spanmetrics import GenAIMetricsProcessor
from agentinsight.emit._usage import TokenUsage

__all__ = [
    "ASGIMiddleware",
    "AgentRun",
    "Event",
    "GenAIMetricsProcessor",
    "LLMCall",
    "MemoryOperation",
    "MetricsServer",
    "RemoteContext",
    "Task",
    "TokenUsage",
    "ToolCall",
    "WSGIMiddleware",
    "agent",
    "agent_run",
    "configure",
    "extract",
    "flush",
    "get_logger",
    "get_registry",
    "inject",
    "llm_call",
    "memory_operation",
    "serve",
    "set_db_connections",
    "set_queue_size",
    "shutdown",
    "subscribe",
    "task",
    "tool",
    "tool_call",
    "use_clock",
]
