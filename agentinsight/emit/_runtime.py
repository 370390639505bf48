"""The configuration in force: registry, metric families, tracer and span exporter.

``configure()`` builds a new runtime and swaps it in; the previous one is flushed and shut down.
Until ``configure()`` is called a default runtime records metrics in prometheus_client's default
registry and hands spans to OpenTelemetry's global tracer (a no-op unless the application
installed a provider of its own).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from typing import Any

import prometheus_client
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace import sampling as _sampling
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import CollectorRegistry

from agentinsight import __version__
from agentinsight._http import redact_url
from agentinsight.emit import _errors, _logging, _settings
from agentinsight.emit._batch import BatchProcessor
from agentinsight.emit._metrics import Metrics, metrics_for
from agentinsight.exceptions import ConfigurationError

SCOPE = "agentinsight.emit"


class Runtime:
    """One configuration: what the hot path reads, resolved once."""

    def __init__(
        self,
        settings: dict[str, Any],
        registry: CollectorRegistry,
        tracer: trace.Tracer,
        provider: TracerProvider | None = None,
        processor: BatchProcessor | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.tracer = tracer
        self.provider = provider
        self.processor = processor
        self.started = time.monotonic()
        self.closed = False
        # Metrics-only mode: new root spans are never sampled, so none are made at all (a
        # sampled parent from another service still gets its child spans).
        self.roots_unsampled = provider is not None and (
            settings["sampler"].endswith("always_off")
            or (settings["sampler"].endswith("traceidratio") and settings["sampler_arg"] == 0)
        )
        m: Metrics = metrics_for(
            registry, settings["metrics_namespace"], settings["label_value_limit"],
            settings["label_value_length"],
        )
        self.metrics = m
        self.agent_total = m["agent_execution_total"]
        self.agent_duration = m["agent_execution_duration_seconds"]
        self.agent_active = m["agent_active"]
        self.tool_total = m["tool_usage_total"]
        self.tool_duration = m["tool_execution_duration_seconds"]
        self.task_total = m["task_total"]
        self.task_duration = m["task_duration_seconds"]
        self.queue_size = m["task_queue_size"]
        self.api_duration = m["api_request_duration_seconds"]
        self.tokens = m["llm_tokens_used_total"]
        self.llm_duration = m["llm_request_duration_seconds"]
        self.db_connections = m["database_connections"]
        self.memory_duration = m["memory_operation_duration_seconds"]
        self.genai_tokens = m["gen_ai_client_token_usage"]
        self.genai_duration = m["gen_ai_client_operation_duration_seconds"]
        self.pricer: Any = None
        if settings.get("cost"):
            # genai-prices is imported only when pricing is on.
            from agentinsight.emit._pricing import Pricer

            self.pricer = Pricer(m["llm_cost_usd_total"], m["llm_unpriced_tokens_total"])

    def exporter_state(self) -> dict[str, Any]:
        if self.processor is not None:
            return self.processor.state()
        exporter = self.settings.get("traces_exporter") if self.provider else "global"
        return {"exporter": exporter, "state": "ok" if not self.closed else "shut down"}

    def close(self, timeout_millis: int = 10000) -> None:
        if self.closed:
            return
        self.closed = True
        if self.provider is not None:
            try:
                # One bounded wait in all: a hanging endpoint must not hold up exit twice.
                if self.processor is not None:
                    self.processor.shutdown(timeout_millis)
                self.provider.shutdown()
            except Exception as exc:
                _errors.internal_error("shutting down the tracer provider", exc)
        self.tracer = trace.NoOpTracer()


_current: Runtime | None = None
_lock = threading.RLock()


def get() -> Runtime:
    """The runtime in force, creating the default one on first use."""
    runtime = _current
    if runtime is not None:
        return runtime
    return _default()


def _default() -> Runtime:
    global _current
    with _lock:
        if _current is None:
            try:
                settings = _settings.resolve({})
            except ConfigurationError as exc:  # a bad env var must not break `import`-time calls
                _errors.warn_once("default-settings", "agentinsight.emit: %s; using defaults", exc)
                settings = _settings.resolve({}, environ={})
            _current = Runtime(
                settings, prometheus_client.REGISTRY, trace.get_tracer(SCOPE, __version__)
            )
        return _current


def _sampler(settings: dict[str, Any]) -> _sampling.Sampler:
    name, ratio = settings["sampler"], settings["sampler_arg"]
    root: _sampling.Sampler
    if name.endswith("always_on"):
        root = _sampling.ALWAYS_ON
    elif name.endswith("always_off"):
        root = _sampling.ALWAYS_OFF
    else:
        root = _sampling.TraceIdRatioBased(ratio)
    return _sampling.ParentBased(root) if name.startswith("parentbased_") else root


def _processor(settings: dict[str, Any], span_exporter: Any = None) -> BatchProcessor | None:
    kind = settings["traces_exporter"]
    batching = {
        "max_queue_size": settings["max_queue_size"],
        "max_export_batch_size": settings["max_export_batch_size"],
        "schedule_delay_ms": settings["schedule_delay_ms"],
    }
    if span_exporter is not None:
        if not callable(getattr(span_exporter, "export", None)):
            raise ConfigurationError(
                f"span_exporter={span_exporter!r}: expected an OpenTelemetry SpanExporter"
            )
        return BatchProcessor(span_exporter, description=type(span_exporter).__name__,
                              **batching)
    if kind == "none":
        return None
    if kind == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return BatchProcessor(ConsoleSpanExporter(), description="the console", **batching)
    if kind.startswith("file:"):
        from agentinsight.emit._file_exporter import FileSpanExporter

        path = kind[5:]
        try:
            exporter = FileSpanExporter(path)
        except OSError as exc:
            raise ConfigurationError(
                f"traces_exporter={kind!r}: cannot open {path!r} for appending: {exc}"
            ) from exc
        batching["schedule_delay_ms"] = min(batching["schedule_delay_ms"], 1000)
        return BatchProcessor(
            exporter, description=f"file {path}", block_when_full=True,
            exporter_in_child=lambda: FileSpanExporter(path), **batching,
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings["otlp_endpoint"]

    def otlp_exporter() -> SpanExporter:
        return OTLPSpanExporter(endpoint=endpoint, timeout=settings["export_timeout"])

    return BatchProcessor(
        otlp_exporter(),
        description=f"OTLP endpoint {redact_url(endpoint)}",  # shown in /health and warnings
        exporter_in_child=otlp_exporter,  # the parent's pooled connections stay the parent's
        **batching,
    )


def configure(
    service_name: str | None = None,
    *,
    otlp_endpoint: str | None = None,
    traces_exporter: str | None = None,
    sample_ratio: float | None = None,
    metrics_namespace: str | None = None,
    label_value_limit: int | None = None,
    label_value_length: int | None = None,
    log_dir: str | os.PathLike[str] | None = None,
    registry: CollectorRegistry | None = None,
    export_timeout: float | None = None,
    max_queue_size: int | None = None,
    schedule_delay_ms: int | None = None,
    max_export_batch_size: int | None = None,
    span_exporter: SpanExporter | None = None,
    cost: bool | None = None,
) -> None:
    """Set up emit; every argument is optional and may come from the environment instead.

    Precedence is argument > environment (``OTEL_SERVICE_NAME``,
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``,
    ``OTEL_TRACES_EXPORTER``, ``OTEL_TRACES_SAMPLER`` (+ ``_ARG``), ``OTEL_EXPORTER_OTLP_TIMEOUT``,
    ``OTEL_BSP_*``, ``AGENTINSIGHT_METRICS_NAMESPACE``, ``AGENTINSIGHT_LABEL_VALUE_LIMIT``,
    ``AGENTINSIGHT_LABEL_VALUE_LENGTH``, ``AGENTINSIGHT_LOG_DIR``, ``AGENTINSIGHT_COST``,
    ``AGENTINSIGHT_STRICT``) >
    default; the table is
    ``agentinsight.emit._settings.SETTINGS``. Defaults: ``metrics_namespace=""``,
    ``label_value_limit=1000``, ``label_value_length=256`` (longer values end in ``…``), traces
    exporter ``otlp`` when an endpoint is set, else ``none``.
    ``span_exporter`` takes any OpenTelemetry ``SpanExporter`` object instead (batched the same
    way), e.g. ``InMemorySpanExporter`` in tests. With ``traces_exporter="none"`` spans are still
    made (trace ids for logs, exemplars and ``inject``) but go nowhere; add ``sample_ratio=0``
    for metrics only. ``cost=True`` prices every recorded usage with genai-prices at the call's
    time into ``llm_cost_usd_total`` (a model without a price goes to
    ``llm_unpriced_tokens_total``); off by default, and genai-prices is imported only when on.

    Calling it again replaces the previous configuration: the previous tracer provider is
    flushed and shut down, and metrics go to the new registry. emit keeps its own tracer provider
    and does not install it as OpenTelemetry's global one. Bad values raise
    :class:`~agentinsight.exceptions.ConfigurationError` naming the setting and where it came from.

    >>> import prometheus_client
    >>> from agentinsight import emit
    >>> emit.configure("support-bot", registry=prometheus_client.CollectorRegistry(),
    ...                traces_exporter="none")
    >>> emit.get_registry() is not prometheus_client.REGISTRY
    True
    """
    global _current
    arguments = {
        "service_name": service_name, "otlp_endpoint": otlp_endpoint,
        "traces_exporter": traces_exporter, "sample_ratio": sample_ratio,
        "metrics_namespace": metrics_namespace, "label_value_limit": label_value_limit,
        "label_value_length": label_value_length,
        "log_dir": log_dir, "export_timeout": export_timeout, "max_queue_size": max_queue_size,
        "schedule_delay_ms": schedule_delay_ms, "max_export_batch_size": max_export_batch_size,
        "cost": cost,
    }
    settings = _settings.resolve(arguments)
    if registry is not None and not isinstance(registry, CollectorRegistry):
        raise ConfigurationError(
            f"registry={registry!r}: expected a prometheus_client.CollectorRegistry"
        )
    registry = prometheus_client.REGISTRY if registry is None else registry
    metrics_for(registry, settings["metrics_namespace"], settings["label_value_limit"],
                settings["label_value_length"])
    processor = None if settings["sdk_disabled"] else _processor(settings, span_exporter)
    provider = TracerProvider(
        sampler=_sampler(settings),
        resource=Resource.create({"service.name": settings["service_name"]}),
        shutdown_on_exit=False,
    )
    if processor is not None:
        provider.add_span_processor(processor)
    tracer = trace.NoOpTracer() if settings["sdk_disabled"] else provider.get_tracer(
        SCOPE, __version__)
    runtime = Runtime(settings, registry, tracer, provider, processor)
    _logging.reconfigure(settings["log_dir"])
    with _lock:
        previous, _current = _current, runtime
    if previous is not None:
        previous.close()


def get_registry() -> CollectorRegistry:
    """The prometheus_client registry emit records into.

    >>> from agentinsight import emit
    >>> emit.get_registry()  # doctest: +ELLIPSIS
    <prometheus_client.registry.CollectorRegistry object at ...>
    """
    return get().registry


def flush(timeout_s: float = 10.0) -> bool:
    """Export every finished span now; ``True`` when done within ``timeout_s``.

    >>> from agentinsight import emit
    >>> emit.flush()
    True
    """
    runtime = get()
    if runtime.provider is None or runtime.closed:
        return True
    try:
        return bool(runtime.provider.force_flush(int(timeout_s * 1000)))
    except Exception as exc:
        _errors.internal_error("flush", exc)
        return False


def shutdown(timeout_s: float = 10.0) -> None:
    """Flush and stop span export (also run at interpreter exit); metrics keep working.

    >>> from agentinsight import emit
    >>> emit.shutdown()
    """
    runtime = _current
    if runtime is not None:
        runtime.close(int(timeout_s * 1000))
    _logging.flush()


atexit.register(shutdown)
