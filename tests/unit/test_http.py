"""The one HTTP client, against a real HTTP server on loopback (no mocks)."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from agentinsight._http import Client
from agentinsight.exceptions import (
    QueryError,
    ServerError,
    SourceConnectionError,
    SourceError,
    SourceTimeoutError,
)

Route = Callable[[BaseHTTPRequestHandler, bytes], tuple[int, dict[str, str], bytes]]


class _Server:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.connections: set[tuple[str, int]] = set()
        self.hits: dict[str, int] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                server.connections.add(self.client_address)
                path = urlsplit(self.path).path
                server.hits[path] = server.hits.get(path, 0) + 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, content = server.routes[path](self, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def _json(status: int, doc: Any, **headers: str) -> Route:
    return lambda handler, body: (status, {"Content-Type": "application/json", **headers},
                                  json.dumps(doc).encode())


def test_get_sends_params_and_reuses_one_connection(server: _Server) -> None:
    def echo(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        query = parse_qs(urlsplit(handler.path).query)
        return 200, {"Content-Type": "application/json"}, json.dumps(query).encode()

    server.routes["/api"] = echo
    with Client() as client:
        for _ in range(5):
            answer = client.get(f"{server.url}/api", params=[("match[]", "a b"), ("match[]", "c"),
                                                            ("skip", None)])
            assert answer.json() == {"match[]": ["a b", "c"]}
    assert len(server.connections) == 1


def test_threads_share_a_pool_without_mixing_answers(server: _Server) -> None:
    def echo(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, urlsplit(handler.path).query.encode()

    server.routes["/echo"] = echo
    client = Client(pool_size=4)
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.get(f"{server.url}/echo", params={"i": i}).text,
                                range(200)))
    assert answers == [f"i={i}" for i in range(200)]
    assert len(server.connections) <= 8
    client.close()


def test_a_rejected_query_carries_status_url_query_and_the_servers_words(server: _Server) -> None:
    server.routes["/api/v1/query"] = _json(
        400, {"status": "error", "errorType": "bad_data", "error": "parse error at char 5"})
    client = Client(retries=3, backoff=0)
    with pytest.raises(QueryError) as info:
        client.get(f"{server.url}/api/v1/query", params={"query": "sum("}, query="sum(")
    error = info.value
    assert isinstance(error, ValueError) and error.status_code == 400
    assert error.url == f"{server.url}/api/v1/query" and error.query == "sum("
    assert error.server_message == "parse error at char 5"
    assert "parse error at char 5" in str(error) and "query: sum(" in str(error)
    assert server.hits["/api/v1/query"] == 1  # a bad query is not asked again


def test_5xx_is_retried_with_backoff_then_reported(server: _Server) -> None:
    server.routes["/down"] = _json(503, {"error": {"message": "overloaded"}})
    client = Client(retries=2, backoff=0.05)
    with pytest.raises(ServerError) as info:
        client.get(f"{server.url}/down")
    assert info.value.status_code == 503 and info.value.server_message == "overloaded"
    assert server.hits["/down"] == 3


def test_a_retry_that_succeeds_returns_the_answer_and_honours_retry_after(
        server: _Server) -> None:
    answers = iter([(429, {"Retry-After": "1"}, b"slow down"), (200, {}, b"ok")])
    server.routes["/busy"] = lambda handler, body: next(answers)
    began = time.monotonic()
    assert Client(retries=1, backoff=0).get(f"{server.url}/busy").text == "ok"
    assert time.monotonic() - began >= 0.9


def test_unauthorised_and_unexpected_statuses(server: _Server) -> None:
    server.routes["/secret"] = _json(401, {"message": "who are you"})
    server.routes["/gone"] = lambda handler, body: (404, {}, b"404 page not found")
    client = Client(retries=0)
    with pytest.raises(SourceError, match="not authorised") as info:
        client.get(f"{server.url}/secret")
    assert info.value.server_message == "who are you"
    with pytest.raises(ServerError, match="HTTP 404"):
        client.get(f"{server.url}/gone")
    assert client.get(f"{server.url}/gone", ok=None).status_code == 404


def test_prometheus_timeouts_are_timeout_errors(server: _Server) -> None:
    server.routes["/slow"] = _json(503, {"status": "error", "errorType": "timeout",
                                         "error": "query timed out"})
    with pytest.raises(SourceTimeoutError, match="query timed out"):
        Client(retries=0).get(f"{server.url}/slow")


def test_an_unreachable_server_is_a_connection_error_naming_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/api"
    with pytest.raises(SourceConnectionError) as info:
        Client(retries=0).get(url, query="up", what="load")
    assert isinstance(info.value, ConnectionError)
    assert str(info.value).startswith("load: cannot reach the server")
    assert info.value.url == url and "query: up" in str(info.value)


def test_a_silent_server_times_out_once_unless_timeouts_are_retried() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel accepts, nobody answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    try:
        began = time.monotonic()
        with pytest.raises(SourceTimeoutError) as info:
            Client(timeout=0.3, retries=3, backoff=0).get(url)
        assert time.monotonic() - began < 0.9 and isinstance(info.value, TimeoutError)
        began = time.monotonic()
        with pytest.raises(SourceTimeoutError):
            Client(timeout=0.3, retries=2, backoff=0, retry_timeouts=True).get(url)
        assert time.monotonic() - began >= 0.85
    finally:
        listener.close()


def test_gzip_bodies_are_decoded(server: _Server) -> None:
    server.routes["/gz"] = lambda handler, body: (
        200, {"Content-Encoding": "gzip"}, gzip.compress(b'{"status":"success"}'))
    assert Client().get(f"{server.url}/gz").json() == {"status": "success"}


def test_post_json_and_a_stale_keep_alive_connection(server: _Server) -> None:
    received: list[Any] = []

    def take(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        received.append((handler.headers["Content-Type"], json.loads(body)))
        return 200, {}, b""

    server.routes["/api/v2/alerts"] = take
    client = Client(retries=0)
    client.post(f"{server.url}/api/v2/alerts", json=[{"labels": {"a": "1"}}])
    # the server drops idle keep-alive connections; the client notices and connects again
    server.close()
    fresh = _Server()
    fresh.routes["/api/v2/alerts"] = take
    port = int(fresh.url.rsplit(":", 1)[1])
    client.post(f"http://127.0.0.1:{port}/api/v2/alerts", json={"n": 2})
    fresh.close()
    assert received == [("application/json", [{"labels": {"a": "1"}}]),
                        ("application/json", {"n": 2})]


def test_idle_connection_closed_by_the_server_is_replaced(server: _Server) -> None:
    server.routes["/x"] = lambda handler, body: (200, {}, b"x")
    client = Client(retries=0)
    assert client.get(f"{server.url}/x").text == "x"
    for connection in client._idle[("http", "127.0.0.1", int(server.url.rsplit(":", 1)[1]))]:
        assert connection.sock is not None
        connection.sock.shutdown(socket.SHUT_RDWR)  # as if the server had hung up meanwhile
    assert client.get(f"{server.url}/x").text == "x"


def test_basic_auth_and_headers_are_sent(server: _Server) -> None:
    def who(handler: BaseHTTPRequestHandler, body: bytes) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, f"{handler.headers['Authorization']}|{handler.headers['X-Org']}".encode()

    server.routes["/who"] = who
    client = Client(auth=("ann", "pw"), headers={"X-Org": "7"})
    assert client.get(f"{server.url}/who").text == "Basic YW5uOnB3|7"

    def bearer(request: Any) -> Any:
        request.headers["Authorization"] = "Bearer t0k"
        return request

    assert Client(auth=bearer).get(f"{server.url}/who").text.startswith("Bearer t0k|")


def test_redirects_are_followed(server: _Server) -> None:
    server.routes["/old"] = lambda handler, body: (302, {"Location": "/new?x=1"}, b"")
    server.routes["/new"] = lambda handler, body: (200, {}, urlsplit(handler.path).query.encode())
    answer = Client().get(f"{server.url}/old")
    assert answer.text == "x=1" and answer.url == f"{server.url}/new?x=1"
