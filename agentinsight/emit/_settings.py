"""emit's settings, declared once: name, environment variables, default, meaning.

Precedence is fixed: an argument to ``configure()`` wins over the environment, which wins over
the default. Standard ``OTEL_*`` variables are honoured as the OpenTelemetry SDK reads them; our
own settings use ``AGENTINSIGHT_*``. The machinery (a :class:`Setting`, the value parsers, the
precedence) is the package's one settings mechanism in :mod:`agentinsight._settings`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from agentinsight._settings import (
    Setting,
    flag,
    path,
    positive_float,
    positive_int,
    ratio,
    resolve_table,
    text,
    where,
)
from agentinsight.exceptions import ConfigurationError

_TRACES_PATH = "/v1/traces"
_NAMESPACE_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
EXPORTERS = ("otlp", "console", "none", "file:PATH")
SAMPLERS = (
    "always_on", "always_off", "traceidratio",
    "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
)


def _endpoint(raw: Any, name: str, source: str) -> str:
    value = text(raw, name, source)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"{name}={raw!r} ({where(source)}): malformed OTLP/HTTP endpoint; expected "
            "http(s)://host:port, for example http://127.0.0.1:4318"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} ({where(source)}): bad port") from None
    # A signal-specific variable is the full URL; a base endpoint gets /v1/traces appended.
    if source == "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT" or parts.path.endswith(_TRACES_PATH):
        return value
    return value.rstrip("/") + _TRACES_PATH


def _exporter(raw: Any, name: str, source: str) -> str:
    value = text(raw, name, source)
    lowered = value.lower()
    if lowered in ("otlp", "console", "none"):
        return lowered
    if lowered.startswith("file:") and len(value) > 5:
        return "file:" + value[5:]
    raise ConfigurationError(
        f"{name}={raw!r} ({where(source)}): unknown traces exporter; expected one of "
        + ", ".join(EXPORTERS)
    )


def _sampler(raw: Any, name: str, source: str) -> str:
    value = text(raw, name, source).lower()
    if value not in SAMPLERS:
        raise ConfigurationError(
            f"{name}={raw!r} ({where(source)}): unknown sampler; expected one of "
            + ", ".join(SAMPLERS)
        )
    return value


def _namespace(raw: Any, name: str, source: str) -> str:
    if raw == "":
        return ""
    if not isinstance(raw, str) or not _NAMESPACE_RE.match(raw):
        raise ConfigurationError(
            f"{name}={raw!r} ({where(source)}): a metric namespace is letters, digits and _ "
            "and does not start with a digit"
        )
    return raw


SETTINGS: tuple[Setting, ...] = (
    Setting("service_name", ("OTEL_SERVICE_NAME",), "unknown_service", text,
            "service.name of the trace resource."),
    Setting("otlp_endpoint",
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"), None, _endpoint,
            "OTLP/HTTP endpoint; a base URL gets /v1/traces appended, the traces variable is used "
            "as is."),
    Setting("traces_exporter", ("OTEL_TRACES_EXPORTER",), None, _exporter,
            "otlp, console, none or file:PATH (OTLP JSON lines); default otlp when an endpoint "
            "is set, else none."),
    Setting("sample_ratio", (), None, ratio,
            "Share of new traces sampled (parent-based); overrides OTEL_TRACES_SAMPLER."),
    Setting("sampler", ("OTEL_TRACES_SAMPLER",), "parentbased_always_on", _sampler,
            "Sampler name as the OpenTelemetry SDK spells it."),
    Setting("sampler_arg", ("OTEL_TRACES_SAMPLER_ARG",), 1.0, ratio,
            "Ratio for the traceidratio samplers."),
    Setting("metrics_namespace", ("AGENTINSIGHT_METRICS_NAMESPACE",), "", _namespace,
            "Prefix of every metric name (acme -> acme_agent_execution_total)."),
    Setting("label_value_limit", ("AGENTINSIGHT_LABEL_VALUE_LIMIT",), 1000, positive_int,
            "Distinct values kept per label; later new values are recorded as 'other'."),
    Setting("label_value_length", ("AGENTINSIGHT_LABEL_VALUE_LENGTH",), 256, positive_int,
            "Longest label value kept whole; a longer one is cut to this many characters, the "
            "last one '…'."),
    Setting("log_dir", ("AGENTINSIGHT_LOG_DIR",), None, path,
            "Directory for daily-rotated JSON log files (plus an error-only file)."),
    Setting("export_timeout", ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"),
            10.0, positive_float,
            "Seconds one OTLP export may take, retries included (as opentelemetry-python reads "
            "these variables)."),
    Setting("max_queue_size", ("OTEL_BSP_MAX_QUEUE_SIZE",), 2048, positive_int,
            "Finished spans buffered for export; beyond it spans are dropped and counted."),
    Setting("schedule_delay_ms", ("OTEL_BSP_SCHEDULE_DELAY",), 5000, positive_int,
            "Milliseconds between two exports of buffered spans."),
    Setting("sdk_disabled", ("OTEL_SDK_DISABLED",), False, flag,
            "true: make no spans at all (metrics and logs keep working)."),
    Setting("max_export_batch_size", ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE",), 512, positive_int,
            "Spans per export request."),
    Setting("cost", ("AGENTINSIGHT_COST",), False, flag,
            "true: price recorded usage with genai-prices at the call's time into "
            "llm_cost_usd_total (unknown models into llm_unpriced_tokens_total)."),
    Setting("strict", ("AGENTINSIGHT_STRICT",), None, flag,
            "true: a failure inside telemetry re-raises (for test suites); unset: only while "
            "pytest runs a test (PYTEST_CURRENT_TEST is set); false: never."),
)


def resolve(
    arguments: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Every setting's value: argument (not ``None``) > environment > default, validated."""
    values = resolve_table(SETTINGS, arguments, environ, what="emit")
    if values["traces_exporter"] is None:
        values["traces_exporter"] = "otlp" if values["otlp_endpoint"] else "none"
    if values["traces_exporter"] == "otlp" and not values["otlp_endpoint"]:
        values["otlp_endpoint"] = "http://localhost:4318" + _TRACES_PATH
    if values["sample_ratio"] is not None:
        values["sampler"] = "parentbased_traceidratio"
        values["sampler_arg"] = values["sample_ratio"]
    return values
