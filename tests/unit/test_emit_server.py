"""emit.serve(): /metrics (text and OpenMetrics with exemplars), /health, port handling."""

from __future__ import annotations

import json
import socket
import urllib.request

import prometheus_client
import pytest

from agentinsight import __version__, emit
from agentinsight.exceptions import ConfigurationError


@pytest.fixture()
def server():
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    srv = emit.serve(port=0)
    yield srv
    srv.close()


def _get(url: str, accept: str | None = None) -> tuple[str, str]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.headers["Content-Type"], response.read().decode()


def test_metrics_text_format(server):
    with emit.agent_run("planner"):
        pass
    content_type, body = _get(f"{server.url}/metrics")
    assert content_type.startswith("text/plain")
    assert 'agent_execution_total{agent="planner",status="success"} 1.0' in body
    assert "trace_id" not in body


def test_metrics_openmetrics_carries_exemplars(server):
    with emit.agent_run("planner") as run:
        pass
    accept = "application/openmetrics-text; version=1.0.0"
    content_type, body = _get(f"{server.url}/metrics", accept)
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
    bucket_lines = [line for line in body.splitlines()
                    if line.startswith("agent_execution_duration_seconds_bucket") and "#" in line]
    assert bucket_lines and f'trace_id="{run.trace_id}"' in bucket_lines[0]


def test_health_reports_status_uptime_version_and_exporter(server):
    content_type, body = _get(f"{server.url}/health")
    health = json.loads(body)
    assert content_type == "application/json"
    assert health["status"] == "ok"
    assert health["version"] == __version__
    assert health["uptime_seconds"] >= 0
    assert "exporter" in health


def test_port_in_use_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"port {port} .* already in use"):
            emit.serve(port=port)


def test_close_frees_the_port():
    srv = emit.serve(port=0)
    port = srv.port
    srv.close()
    again = emit.serve(port=port)
    assert again.port == port
    again.close()


def test_multiprocess_mode_sums_worker_processes(tmp_path, monkeypatch):
    import subprocess
    import sys

    worker = (
        "from agentinsight import emit\n"
        "for _ in range(3):\n"
        "    with emit.agent_run('planner'):\n"
        "        with emit.llm_call('gpt-4o', 'openai') as call:\n"
        "            call.record_usage(input_tokens=100, output_tokens=10)\n"
    )
    env = {**__import__("os").environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("PYTEST_CURRENT_TEST", None)
    for _ in range(2):
        subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    srv = emit.serve(port=0)
    try:
        _, body = _get(f"{srv.url}/metrics")
    finally:
        srv.close()
    assert 'agent_execution_total{agent="planner",status="success"} 6.0' in body
    assert ('llm_tokens_used_total{agent="planner",model="gpt-4o",provider="openai",'
            'token_type="input"} 600.0') in body
