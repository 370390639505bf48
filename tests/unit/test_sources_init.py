"""The public face of agentinsight.sources."""

from __future__ import annotations

import pytest

import agentinsight.sources as sources
from agentinsight.exceptions import ConfigurationError


def test_public_names_are_curated_and_sorted():
    assert sources.__all__ == sorted(sources.__all__)
    for name in ("FileSource", "JaegerSource", "PrometheusSource", "parse_time"):
        assert name in sources.__all__
    for name in sources.__all__:
        assert getattr(sources, name) is not None
    assert not any(name.startswith("_") for name in sources.__all__)


def test_connect_and_the_protocol_are_public():
    for name in ("ExemplarSource", "Fleet", "MetricsSource", "connect"):
        assert name in sources.__all__
    assert sources.connect.__doc__ and ">>>" in sources.connect.__doc__
    assert sources.Fleet.__doc__ and ">>>" in sources.Fleet.__doc__


def test_connect_reads_files_or_servers_and_servers_win(tmp_path):
    files = sources.connect(tmp_path)
    assert isinstance(files.metrics, sources.FileSource) and files.traces is None
    servers = sources.connect(tmp_path, "http://prom:9090", "http://jaeger:16686",
                              services="planner", timeout=5)
    assert isinstance(servers.metrics, sources.PrometheusSource)
    assert servers.metrics.timeout == 5
    assert isinstance(servers.traces, sources.JaegerSource)
    assert servers.services == ["planner"]
    assert servers.describe() == "metrics from http://prom:9090; spans from http://jaeger:16686"


def test_connect_without_a_metrics_source_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="source_dir"):
        sources.connect()
    with pytest.raises(ConfigurationError, match="jaeger_url needs prometheus_url"):
        sources.connect(jaeger_url="http://jaeger:16686")


def test_fleet_spans_come_from_the_files_when_there_is_no_jaeger(tmp_path):
    fleet = sources.connect(tmp_path)
    (tmp_path / "spans.jsonl").write_text("")
    assert len(fleet.spans()) == 0
    assert fleet.span_services() == []
