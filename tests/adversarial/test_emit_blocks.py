"""Agent code that misbehaves around emit's blocks still gets its spans, counters and a clean
context; a scraper that hangs up mid-answer leaves no trace in the agent's stderr."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import prometheus_client
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentinsight import emit
from agentinsight.emit import _errors


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ is broken too")


@pytest.fixture()
def setup():
    _errors._warned.clear()
    registry = prometheus_client.CollectorRegistry()
    exporter = InMemorySpanExporter()
    emit.configure("blocks-test", registry=registry, span_exporter=exporter)
    yield registry, exporter
    emit.configure(traces_exporter="none", registry=prometheus_client.CollectorRegistry())


def _value(registry, sample: str, **labels: str) -> float | None:
    return registry.get_sample_value(sample, labels)


def test_an_exception_whose_str_raises_keeps_its_span_and_counter(setup) -> None:
    registry, exporter = setup
    # the agent's own exception propagates unchanged
    with pytest.raises(Unprintable), emit.agent_run("planner"):
        raise Unprintable()
    emit.flush()
    assert _value(registry, "agent_execution_total", agent="planner", status="error") == 1.0
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.attributes["error.type"].endswith("Unprintable")
    assert "str() failed" in span.status.description
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"].endswith("Unprintable")


def test_blocks_exited_out_of_order_leave_no_stale_agent_or_span(setup) -> None:
    registry, exporter = setup
    outer, inner = emit.agent_run("outer"), emit.agent_run("inner")
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)
    # the inner run is still open: work done now is still the inner agent's
    with emit.tool_call("search") as call:
        assert call.agent == "inner"
    inner.__exit__(None, None, None)

    assert not trace.get_current_span().get_span_context().is_valid
    with emit.tool_call("after") as call:
        pass
    assert call.agent == ""
    assert _value(registry, "tool_usage_total", agent="", tool="after", status="success") == 1.0
    emit.flush()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert spans["execute_tool after"].parent is None  # a root, not a child of an ended run
    assert _value(registry, "agent_active", agent="outer") == 0.0
    assert _value(registry, "agent_active", agent="inner") == 0.0


def test_three_blocks_one_exited_early_restore_the_outer_one(setup) -> None:
    a, b, c = emit.agent_run("a"), emit.agent_run("b"), emit.agent_run("c")
    a.__enter__()
    b.__enter__()
    c.__enter__()
    b.__exit__(None, None, None)
    c.__exit__(None, None, None)
    with emit.tool_call("t") as call:
        pass
    assert call.agent == "a"
    assert trace.get_current_span() is a.span
    a.__exit__(None, None, None)
    assert not trace.get_current_span().get_span_context().is_valid


SCRAPED_AND_DROPPED = textwrap.dedent("""
    import socket, struct, sys, urllib.request
    import prometheus_client
    from agentinsight import emit

    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                   label_value_limit=100_000, metric_series_limit=100_000)
    for i in range(2_000):  # a /metrics answer of a few MB, read through a small window
        with emit.tool_call(f"tool-{i}"):
            pass
    server = emit.serve(port=0)
    for _ in range(3):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /metrics HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
        sock.recv(1000)
        # hang up with a reset, as a scraper killed mid-answer does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    with urllib.request.urlopen(server.url + "/health", timeout=10) as r:
        print(r.status)
    server.close()
""")


def test_a_scraper_hanging_up_mid_answer_prints_nothing_in_the_agents_stderr() -> None:
    done = subprocess.run([sys.executable, "-c", SCRAPED_AND_DROPPED], capture_output=True,
                          text=True, timeout=300, env={"PATH": "", **_pythonpath()})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "200"  # still serving
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
    assert done.stderr == ""


def _pythonpath() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")}


