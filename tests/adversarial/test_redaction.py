"""A password in a URL (``http://user:s3cret@host``) is never printed, stored or served.

It is shown as ``user:***`` in errors, ``repr``, ``Fleet.describe()`` (the line report.html
starts with), warnings, params.json and the executed notebook, emit's ``/health`` and logs, and
the alert spool — while requests still send it.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import socket
import threading
import time
import urllib.request
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import prometheus_client
import pytest

from agentinsight import alerts, emit
from agentinsight._http import Client, redact_url
from agentinsight.exceptions import AlertError, SourceError
from agentinsight.reports import run_report
from agentinsight.sources import JaegerSource, PrometheusSource, connect

SECRET = "s3cret"
NOTEBOOKS = Path(__file__).parent.parent / "data" / "notebooks"


def _with_password(url: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://user:{SECRET}@{rest}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: connections to it are refused


class _Server:
    """A loopback HTTP server answering every GET with one fixed status and body, and
    recording the Authorization header each request carried."""

    def __init__(self, status: int, body: dict[str, Any] | str) -> None:
        self.authorization: list[str | None] = []
        payload = (body if isinstance(body, str) else json.dumps(body)).encode()
        seen = self.authorization

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                seen.append(self.headers.get("Authorization"))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def serve() -> Iterator[Any]:
    servers: list[_Server] = []

    def start(status: int, body: dict[str, Any] | str) -> _Server:
        servers.append(_Server(status, body))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _clean(*texts: object) -> None:
    for text in texts:
        assert SECRET not in str(text), text


def test_redact_url_keeps_the_user_and_hides_the_password():
    assert redact_url("http://user:s3cret@host/x") == "http://user:***@host/x"
    assert redact_url("http://host:9090/x") == "http://host:9090/x"
    assert redact_url("see https://a:b@c:1/d and http://e:f@g/") == (
        "see https://a:***@c:1/d and http://e:***@g/")


@pytest.mark.parametrize("status, body", [
    (500, {"status": "error", "error": "boom"}),
    (422, {"status": "error", "errorType": "bad_data", "error": "too many samples"}),
    (401, "unauthorised"),
    (504, "gateway timeout"),
])
def test_http_errors_name_the_url_without_its_password(serve, status, body):
    server = serve(status, body)
    with pytest.raises(SourceError) as info:
        Client(retries=0).get(_with_password(server.url) + "/api/v1/query", query="up")
    _clean(str(info.value), repr(info.value), info.value.url)
    assert "user:***@127.0.0.1" in str(info.value)
    # the password still went to the server, as basic auth
    assert server.authorization == [
        "Basic " + base64.b64encode(f"user:{SECRET}".encode()).decode()]


def test_connection_errors_name_the_url_without_its_password():
    url = _with_password(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(SourceError) as info:
        Client(retries=0).get(url + "/api/v1/query")
    _clean(str(info.value), info.value.url)
    with pytest.raises(SourceError) as info:
        Client(retries=0).get(f"ftp://user:{SECRET}@127.0.0.1/x")
    _clean(str(info.value))


def test_sources_repr_errors_and_warnings_hide_the_password(serve):
    answer = {"status": "success", "data": {"resultType": "vector", "result": []},
              "warnings": ["the query hit a partial result"]}
    server = serve(200, answer)
    prom = PrometheusSource(_with_password(server.url), scrape_interval="15s", retries=0)
    jaeger = JaegerSource(_with_password(server.url), retries=0)
    _clean(repr(prom), prom.url, repr(jaeger), jaeger.url)
    assert prom.url == f"http://user:***@{server.url[7:]}"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = prom.instant("up")
    assert caught, "the server's warning is passed on"
    _clean(*(str(w.message) for w in caught), frame.attrs)
    assert server.authorization[-1] is not None  # the credentials were still sent

    not_json = serve(200, "<html>a login page</html>")
    with pytest.raises(SourceError) as info:
        PrometheusSource(_with_password(not_json.url), scrape_interval="15s",
                         retries=0).instant("up")
    _clean(str(info.value))
    with pytest.raises(SourceError) as info:
        JaegerSource(_with_password(not_json.url), retries=0, api="v1").services()
    _clean(str(info.value))


def test_fleet_describe_and_repr_hide_the_password():
    fleet = connect(prometheus_url=f"http://admin:{SECRET}@prometheus:9090",
                    jaeger_url=f"https://admin:{SECRET}@jaeger:16686")
    _clean(fleet.describe(), repr(fleet))
    assert fleet.describe() == ("metrics from http://admin:***@prometheus:9090; spans from "
                                "https://admin:***@jaeger:16686")


def test_report_params_notebook_and_html_hide_the_password(tmp_path):
    url = f"http://admin:{SECRET}@prometheus:9090"
    run = run_report("chart", {"title": url}, out=tmp_path / "reports", notebooks=NOTEBOOKS,
                     now=dt.datetime(2026, 11, 27, 6, 15, tzinfo=dt.UTC))
    params = json.loads((run.folder / "params.json").read_text())
    assert params["given"]["title"] == "http://admin:***@prometheus:9090"
    for path in run.folder.rglob("*"):
        if path.is_file():
            _clean(path.read_text(encoding="utf-8", errors="replace"))
    _clean(repr(run), run.params)


def test_emit_health_and_warnings_hide_the_endpoint_password(caplog):
    endpoint = _with_password(f"http://127.0.0.1:{_free_port()}")
    emit.configure("redaction", registry=prometheus_client.CollectorRegistry(),
                   otlp_endpoint=endpoint, export_timeout=0.5, schedule_delay_ms=50)
    server = emit.serve(port=0)
    try:
        with caplog.at_level(logging.INFO, "agentinsight.emit"):
            with emit.agent_run("planner"):
                pass
            emit.flush(5)
            deadline = time.monotonic() + 10
            while True:
                with urllib.request.urlopen(f"{server.url}/health", timeout=5) as response:
                    health = response.read().decode()
                if json.loads(health)["exporter"].get("failed") or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        assert json.loads(health)["exporter"]["failed"] >= 1, health
        assert "user:***@127.0.0.1" in health
        _clean(health, *(r.getMessage() for r in caplog.records))
    finally:
        server.close()
        emit.configure("redaction", registry=prometheus_client.CollectorRegistry(),
                       traces_exporter="none")


FINDING = {"detector": "errors", "series": {"agent": "coder"}, "start": "2026-11-27T10:00:00Z",
           "end": None, "severity": "critical", "summary": "coder fails",
           "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"]}


def test_undeliverable_alerts_never_write_the_password(tmp_path):
    url = _with_password(f"http://127.0.0.1:{_free_port()}")
    jaeger = f"http://viewer:{SECRET}@jaeger:16686"
    result = alerts.push([FINDING], url, spool_dir=tmp_path, retries=0, jaeger_url=jaeger,
                         report_url=f"https://web:{SECRET}@reports/x.html")
    assert result.spooled
    _clean(str(result), result.spool_reason, result._repr_html_())
    spool = [p.read_text() for p in tmp_path.iterdir() if p.is_file()]
    assert spool and "user:***@127.0.0.1" in "".join(spool)
    _clean(*spool)
    with pytest.raises(AlertError) as info:
        alerts.push([FINDING], url, retries=0)
    _clean(str(info.value))
    with pytest.raises(AlertError) as info:
        alerts.post_webhook({"alerts": []}, url)
    _clean(str(info.value))
    _clean(json.dumps(alerts.webhook_payload([FINDING], jaeger_url=jaeger,
                                             report_url=f"https://web:{SECRET}@reports/x")))


@pytest.mark.integration
def test_spooled_alerts_replay_to_a_real_alertmanager_without_the_password(tmp_path,
                                                                          alertmanager,
                                                                          monkeypatch):
    url = _with_password(alertmanager.url)
    alertmanager.stop()  # Alertmanager is down: the alert waits in the spool
    result = alerts.push([FINDING], url, spool_dir=tmp_path, retries=0,
                         jaeger_url=f"http://viewer:{SECRET}@jaeger:16686")
    assert len(result.spooled) == 1
    _clean(*(p.read_text() for p in tmp_path.iterdir() if p.is_file()))
    # back on the same port: the spooled alert, keyed by the URL without its password, is sent
    monkeypatch.setattr(alertmanager, "_allocate_ports", lambda: None)
    alertmanager.start()
    replay = alerts.push([], url, spool_dir=tmp_path, retries=2)
    assert replay.ok and len(replay.replayed) == 1
    assert not (tmp_path / alerts.SPOOL_FILE).exists()
    shown = alertmanager.api("/api/v2/alerts")
    assert [a["labels"]["agent"] for a in shown] == ["coder"]
    assert "viewer:***@jaeger" in json.dumps(shown)
    _clean(json.dumps(shown))
