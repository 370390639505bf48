"""``emit.serve()``: ``/metrics`` (Prometheus text, or OpenMetrics with exemplars) and
``/health``."""

from __future__ import annotations

import errno
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from agentinsight import __version__
from agentinsight._http import redact_url
from agentinsight.emit import _runtime
from agentinsight.exceptions import ConfigurationError


def _registry() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return _runtime.get().registry


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            body = encoder(_registry())
            self._send(200, content_type, body)
        elif path == "/health":
            runtime = _runtime.get()
            # The exporter's messages may quote its endpoint: never serve a password in it.
            exporter = {k: redact_url(v) if isinstance(v, str) else v
                        for k, v in runtime.exporter_state().items()}
            body = json.dumps({
                "status": "degraded" if exporter.get("state") == "failing" else "ok",
                "uptime_seconds": round(time.monotonic() - self.server.started, 3),
                "version": __version__,
                "service_name": runtime.settings.get("service_name"),
                "exporter": exporter,
            }).encode()
            self._send(200, "application/json", body)
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /health\n")

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet access log
        return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    started: float

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A scraper that hangs up mid-answer (a timeout, a restart) is routine: the default
        # handler would print a traceback into the agent's stderr for each one.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class MetricsServer:
    """A running ``/metrics`` + ``/health`` server; ``port``, ``url`` and ``close()``."""

    def __init__(self, httpd: _HTTPServer, addr: str) -> None:
        self._httpd = httpd
        self.addr = addr
        self.port: int = httpd.server_address[1]
        self.url = f"http://{addr if ':' not in addr else f'[{addr}]'}:{self.port}"
        self._thread = threading.Thread(
            target=httpd.serve_forever, args=(0.1,), name=f"agentinsight-metrics-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving and free the port."""
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<MetricsServer {self.url}>"


def serve(port: int = 9464, addr: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics`` and ``/health`` from a background thread; ``port=0`` picks a free port.

    ``/metrics`` answers OpenMetrics (with exemplars carrying trace ids) when the scraper's
    ``Accept`` header asks for it, else the Prometheus text format. ``/health`` answers JSON with
    ``status``, ``uptime_seconds``, ``version`` and the span exporter's state. A port already in
    use raises :class:`~agentinsight.exceptions.ConfigurationError`.

    >>> from agentinsight import emit
    >>> server = emit.serve(port=0)
    >>> server.port > 0
    True
    >>> server.close()
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigurationError(f"serve(port={port!r}): expected an integer in 0..65535")
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir and not os.path.isdir(multiproc_dir):
        raise ConfigurationError(
            f"serve(): PROMETHEUS_MULTIPROC_DIR={multiproc_dir!r} is not a directory; create it "
            "(empty) before the worker processes start"
        )
    try:
        if ":" in addr:
            import socket

            class _V6(_HTTPServer):
                address_family = socket.AF_INET6

            httpd: _HTTPServer = _V6((addr, port), _Handler)
        else:
            httpd = _HTTPServer((addr, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"serve(): port {port} on {addr} is already in use; choose another port, or "
                "port=0 for a free one"
            ) from exc
        raise ConfigurationError(f"serve(): cannot listen on {addr}:{port}: {exc}") from exc
    httpd.started = time.monotonic()
    return MetricsServer(httpd, addr)
