"""emit survives ``fork``: a worker forked after ``configure()`` exports its own spans.

gunicorn, celery and ``multiprocessing`` with the fork start method copy the configured process
without its threads. Spans ended in such a child must still reach the exporter, and a child that
ends more spans than the queue holds must not wait for ever for a worker that is not there.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import prometheus_client
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from agentinsight import emit

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
    reason="needs the fork start method",
)

CHILDREN = 3
SPANS_PER_CHILD = 3000  # more than the default queue of 2,048 spans


def _child(index: int) -> None:
    for _ in range(SPANS_PER_CHILD):
        with emit.tool_call(f"child-{index}"):
            pass
    # the exit code says whether flush() finished: 0 = every span written
    sys.exit(0 if emit.flush(timeout_s=30) else 3)


def _span_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    counts[span["name"]] = counts.get(span["name"], 0) + 1
    return counts


def _fork_children_and_wait() -> None:
    """Fork the children, give them a minute together, and fail on any that hung or failed."""
    ctx = multiprocessing.get_context("fork")
    children = [ctx.Process(target=_child, args=(i,)) for i in range(CHILDREN)]
    for child in children:
        child.start()
    deadline = time.monotonic() + 60
    for child in children:
        child.join(timeout=max(0.1, deadline - time.monotonic()))
    hung = [c.pid for c in children if c.is_alive()]
    for child in children:
        if child.is_alive():
            child.kill()
            child.join()
    assert not hung, f"forked children {hung} hung exporting their spans"
    assert [c.exitcode for c in children] == [0] * CHILDREN, "emit.flush() failed in a child"


def test_forked_children_write_all_their_spans_to_the_file_and_none_hangs(tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    emit.configure("forking-agent", traces_exporter=f"file:{path}",
                   registry=prometheus_client.CollectorRegistry())
    try:
        with emit.tool_call("parent-before-fork"):
            pass
        _fork_children_and_wait()
        assert emit.flush()
        counts = _span_counts(path)
        for i in range(CHILDREN):
            assert counts.get(f"execute_tool child-{i}") == SPANS_PER_CHILD
        # the parent's span is written once, not once more by every child
        assert counts.get("execute_tool parent-before-fork") == 1
    finally:
        emit.configure(traces_exporter="none", registry=prometheus_client.CollectorRegistry())


class _Receiver(ThreadingHTTPServer):
    """A small OTLP/HTTP (protobuf) trace receiver on loopback that counts spans by name."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        with self.server.lock:
            for resource in request.resource_spans:
                for scope in resource.scope_spans:
                    for span in scope.spans:
                        self.server.counts[span.name] = self.server.counts.get(span.name, 0) + 1
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return None


def test_forked_children_deliver_all_their_spans_over_otlp() -> None:
    receiver = _Receiver()
    emit.configure("forking-agent", otlp_endpoint=receiver.endpoint, export_timeout=5,
                   registry=prometheus_client.CollectorRegistry())
    try:
        with emit.tool_call("parent-before-fork"):
            pass
        assert emit.flush()  # the parent's pooled connection is open when the children fork
        _fork_children_and_wait()
        with receiver.lock:
            counts = dict(receiver.counts)
        for i in range(CHILDREN):
            assert counts.get(f"execute_tool child-{i}") == SPANS_PER_CHILD
        assert counts.get("execute_tool parent-before-fork") == 1
    finally:
        emit.configure(traces_exporter="none", registry=prometheus_client.CollectorRegistry())
        receiver.shutdown()
        receiver.server_close()
