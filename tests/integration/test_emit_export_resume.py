"""Span export resumes when a real Jaeger comes back at the same address after an outage."""

from __future__ import annotations

import logging
import os
import time

import pytest

from agentinsight import emit
from tests.unit.test_emit_faults import (
    _configure,
    _health,
    _step,
    server,  # noqa: F401 - the fixture, shared
)


def _jaeger_class():
    try:
        from agentinsight.stack import Jaeger
    except ImportError as exc:  # pragma: no cover - the stack module is part of the package
        pytest.fail(f"agentinsight.stack is missing: {exc}")

    class PinnedJaeger(Jaeger):
        """Keeps its ports across a restart, like a collector coming back at the same address."""

        def _allocate_ports(self) -> None:
            if not all(self.ports.values()):
                super()._allocate_ports()

    return PinnedJaeger


@pytest.mark.integration
def test_export_resumes_when_the_endpoint_is_back(server, caplog):  # noqa: F811
    from agentinsight.exceptions import StackError

    jaeger = _jaeger_class()()
    try:
        jaeger.start()
    except StackError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"Jaeger not available: {exc}")
    try:
        jaeger.stop()  # the endpoint goes away ...
        _configure(jaeger.otlp_http_url, timeout=0.5)
        with caplog.at_level(logging.INFO, "agentinsight.emit"):
            for _ in range(10):
                _step()
            emit.flush(timeout_s=3)
            assert _health(server)["exporter"]["state"] == "failing"
            jaeger.start()  # ... and comes back at the same address
            for _ in range(10):
                _step()
            assert emit.flush(timeout_s=10)
        health = _health(server)
        assert health["status"] == "ok" and health["exporter"]["state"] == "ok"
        assert health["exporter"]["exported"] >= 30
        assert any("resumed" in r.getMessage() for r in caplog.records)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            services = jaeger.api("/api/v3/services").get("services", [])
            if "fault-test" in services:
                break
            time.sleep(0.2)
        assert "fault-test" in services
    finally:
        jaeger.stop()
