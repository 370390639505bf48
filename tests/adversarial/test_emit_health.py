"""``/health`` tells the truth as soon as span export fails, in the exporter's own words.

The OTLP exporter retries a refused connection for its whole timeout before it gives up; until
then an operator looking at ``/health`` must already see "degraded" and why, not "ok" while spans
pile up and are dropped.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import prometheus_client
import pytest

from agentinsight import emit


def _refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connections to it are refused


def _health(server: emit.MetricsServer) -> dict:
    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture()
def server():
    with emit.serve(port=0) as server:
        yield server
    emit.shutdown(timeout_s=0.5)  # stops the retrying exporter instead of waiting it out
    emit.configure(traces_exporter="none", registry=prometheus_client.CollectorRegistry())


def test_health_is_degraded_with_the_exporters_message_on_the_first_failed_attempt(server):
    port = _refusing_port()
    # a long export timeout: the exporter keeps retrying well past the end of this test
    emit.configure("health-test", registry=prometheus_client.CollectorRegistry(),
                   otlp_endpoint=f"http://127.0.0.1:{port}", export_timeout=30,
                   schedule_delay_ms=50)
    assert _health(server)["status"] == "ok"
    with emit.tool_call("web_search"):
        pass
    emit.flush(timeout_s=0.2)  # starts the export; it does not finish while retrying

    deadline = time.monotonic() + 3
    health = _health(server)
    while health["status"] != "degraded" and time.monotonic() < deadline:
        time.sleep(0.05)
        health = _health(server)

    assert health["status"] == "degraded", health
    assert health["exporter"]["state"] == "failing"
    message = health["exporter"]["last_error"]
    assert "refused" in message.lower(), message
    assert str(port) in message
