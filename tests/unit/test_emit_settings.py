"""Settings: argument > OTEL_* / AGENTINSIGHT_* environment > default; bad values are errors."""

from __future__ import annotations

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.emit import _runtime
from agentinsight.emit._settings import resolve
from agentinsight.exceptions import ConfigurationError


def test_defaults_without_environment():
    values = resolve({}, environ={})
    assert values["service_name"] == "unknown_service"
    assert values["traces_exporter"] == "none"
    assert values["metrics_namespace"] == "" and values["label_value_limit"] == 1000


def test_environment_is_honoured_and_arguments_win():
    env = {"OTEL_SERVICE_NAME": "from-env",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
           "OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25",
           "AGENTINSIGHT_LABEL_VALUE_LIMIT": "50"}
    from_env = resolve({}, environ=env)
    assert from_env["service_name"] == "from-env"
    assert from_env["traces_exporter"] == "otlp"  # default once an endpoint is set
    assert from_env["otlp_endpoint"] == "http://collector:4318/v1/traces"
    assert (from_env["sampler"], from_env["sampler_arg"]) == ("traceidratio", 0.25)
    assert from_env["label_value_limit"] == 50
    argued = resolve({"service_name": "from-arg", "traces_exporter": "none", "sample_ratio": 0.5,
                      "label_value_limit": 7}, environ=env)
    assert argued["service_name"] == "from-arg"
    assert argued["traces_exporter"] == "none"
    assert (argued["sampler"], argued["sampler_arg"]) == ("parentbased_traceidratio", 0.5)
    assert argued["label_value_limit"] == 7


def test_signal_specific_endpoint_is_used_as_is():
    env = {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://jaeger:4318/custom/traces",
           "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:4318"}
    assert resolve({}, environ=env)["otlp_endpoint"] == "http://jaeger:4318/custom/traces"


def test_configure_reads_service_name_from_the_environment(monkeypatch):
    monkeypatch.setenv("OTEL_SERVICE_NAME", "env-bot")
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    assert _runtime.get().provider.resource.attributes["service.name"] == "env-bot"
    emit.configure("arg-bot", registry=prometheus_client.CollectorRegistry(),
                   traces_exporter="none")
    assert _runtime.get().provider.resource.attributes["service.name"] == "arg-bot"


@pytest.mark.parametrize(("arguments", "message"), [
    ({"traces_exporter": "zipkin"}, "unknown traces exporter"),
    ({"otlp_endpoint": "localhost:4318"}, "malformed OTLP/HTTP endpoint"),
    ({"otlp_endpoint": "http://host:99999"}, "bad port"),
    ({"sample_ratio": 1.5}, r"\[0, 1\]"),
    ({"label_value_limit": 0}, "positive integer"),
    ({"metrics_namespace": "9lives"}, "namespace"),
])
def test_bad_arguments_are_configuration_errors(arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        emit.configure(registry=prometheus_client.CollectorRegistry(), **arguments)


def test_bad_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "jaeger-thrift")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER"):
        emit.configure(registry=prometheus_client.CollectorRegistry())


def test_otel_sdk_disabled_keeps_metrics_and_makes_no_spans(monkeypatch):
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    sink = InMemorySpanExporter()
    registry = prometheus_client.CollectorRegistry()
    emit.configure(registry=registry, span_exporter=sink)
    with emit.agent_run("planner") as run:
        pass
    emit.flush()
    assert run.trace_id == "" and sink.get_finished_spans() == ()
    assert registry.get_sample_value(
        "agent_execution_total", {"agent": "planner", "status": "success"}) == 1
