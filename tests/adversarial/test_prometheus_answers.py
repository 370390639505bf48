"""A server that says "success" but answers garbage: an error naming the URL and the query.

A real Prometheus never sends these bodies, so a tiny HTTP server on loopback plays the hostile
(or broken) server behind a proxy; it is not a stand-in for Prometheus's API semantics.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agentinsight.exceptions import ServerError, SourceError
from agentinsight.sources import PrometheusSource

POINT = [1_700_000_000, "1"]
BAD_BODIES = {
    "word": {"resultType": "matrix", "result": [{"metric": {"job": "a"},
                                                 "values": [POINT, [1_700_000_015, "lots"]]}]},
    "null": {"resultType": "matrix", "result": [{"metric": {"job": "a"},
                                                 "values": [[1_700_000_000, None]]}]},
    "short": {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": [[1]]}]},
    "not-a-list": {"resultType": "matrix", "result": [{"metric": {"job": "a"}, "values": 7}]},
    "series-is-a-string": {"resultType": "matrix", "result": ["up"]},
    "vector-word": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]},
}


class _Hostile(BaseHTTPRequestHandler):
    body: dict = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        payload = json.dumps({"status": "success", "data": self.server.body}).encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture()
def hostile() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
def test_a_success_answer_with_bad_points_names_url_and_query(hostile, case) -> None:
    hostile.body = BAD_BODIES[case]  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{hostile.server_address[1]}"
    prom = PrometheusSource(url, retries=0)
    query = 'sum by (job) (rate(up{job="a"}[5m]))'
    fetch = (lambda: prom.instant(query)) if case.startswith("vector") else (
        lambda: prom.range(query, start=1_700_000_000, end=1_700_000_600, step="15s"))
    with pytest.raises(ServerError) as info:
        fetch()
    error = info.value
    assert isinstance(error, SourceError)
    assert error.url and error.url.startswith(url + "/api/v1/query")
    assert error.query == query
    assert url in str(error) and query in str(error)


def test_a_bad_point_in_one_chunk_of_a_long_pull_is_reported_the_same_way(hostile) -> None:
    hostile.body = BAD_BODIES["word"]  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{hostile.server_address[1]}"
    prom = PrometheusSource(url, retries=0, progress=False)
    with pytest.raises(ServerError, match="not \\[time") as info:
        prom.range("up", start=0, end=15 * 30_000, step="15s")  # three chunks
    assert info.value.query == "up" and url in str(info.value)
