"""Span export faults: an OTLP endpoint that refuses or hangs never slows the agent down, memory
stays bounded (drops are counted), one warning is logged, and export resumes when it is back."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import urllib.request

import prometheus_client
import pytest

from agentinsight import emit

STEPS = 400  # 3 spans each: agent run, LLM call, tool call
QUEUE = 100


def _step() -> None:
    with emit.agent_run("planner"):
        with emit.llm_call(model="gpt-4o", provider="openai") as call:
            call.record_usage(input_tokens=100, output_tokens=20)
        with emit.tool_call("web_search"):
            pass


def _configure(endpoint: str, timeout: float) -> None:
    emit.configure("fault-test", registry=prometheus_client.CollectorRegistry(),
                   otlp_endpoint=endpoint, export_timeout=timeout, max_queue_size=QUEUE,
                   max_export_batch_size=50, schedule_delay_ms=50)


def _health(server: emit.MetricsServer) -> dict:
    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
        return json.loads(response.read())


def _refusing_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connections to it are refused


class _Silent:
    """A TCP listener that accepts connections and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                continue

    def close(self) -> None:
        self.stop.set()
        for conn in self.held:
            conn.close()
        self.sock.close()


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


@pytest.fixture()
def server():
    srv = emit.serve(port=0)
    yield srv
    srv.close()
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")


def test_refusing_endpoint(server, caplog):
    _configure(f"http://127.0.0.1:{_refusing_port()}", timeout=0.5)
    with caplog.at_level(logging.WARNING):
        started = time.perf_counter()
        for _ in range(STEPS):
            _step()
        elapsed = time.perf_counter() - started
        emit.flush(timeout_s=3)
        time.sleep(0.3)
    health = _health(server)
    assert elapsed < 1.5, f"{STEPS} steps took {elapsed:.2f}s with a refusing endpoint"
    assert health["status"] == "degraded"
    assert health["exporter"]["state"] == "failing"
    assert health["exporter"]["queued"] <= QUEUE
    assert health["exporter"]["dropped"] + health["exporter"]["failed"] + health["exporter"][
        "queued"] == 3 * STEPS
    warnings = _warnings(caplog)
    assert len(warnings) == 1, warnings
    assert "span export" in warnings[0]


def test_hanging_endpoint(server, caplog):
    silent = _Silent()
    try:
        _configure(f"http://127.0.0.1:{silent.port}", timeout=3.0)
        with caplog.at_level(logging.WARNING):
            started = time.perf_counter()
            for _ in range(STEPS):
                _step()
            elapsed = time.perf_counter() - started
            health = _health(server)
            # while the exporter waits for an answer, spans beyond the queue are dropped
            assert elapsed < 1.5, f"{STEPS} steps took {elapsed:.2f}s with a hanging endpoint"
            assert health["exporter"]["queued"] <= QUEUE
            assert health["exporter"]["dropped"] >= 3 * STEPS - QUEUE - 50
            time.sleep(3.5)  # the first export times out
        assert _health(server)["exporter"]["state"] == "failing"
        warnings = _warnings(caplog)
        assert len(warnings) == 1, warnings
    finally:
        silent.close()


def test_shutdown_with_a_hanging_endpoint_returns_within_its_timeout():
    silent = _Silent()
    try:
        _configure(f"http://127.0.0.1:{silent.port}", timeout=10.0)
        for _ in range(50):
            _step()
        started = time.perf_counter()
        emit.shutdown(timeout_s=1.0)
        assert time.perf_counter() - started < 2.5
        _step()  # metrics keep working after shutdown
        assert emit.get_registry().get_sample_value(
            "agent_execution_total", {"agent": "planner", "status": "success"}) == 51
    finally:
        silent.close()
        emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
