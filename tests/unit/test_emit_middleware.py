"""ASGI and WSGI middleware: api_request_duration_seconds and a server span per request."""

from __future__ import annotations

import wsgiref.util

import prometheus_client
import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agentinsight import emit
from agentinsight.emit import _runtime

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture()
def finished():
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    sink = InMemorySpanExporter()
    _runtime.get().provider.add_span_processor(SimpleSpanProcessor(sink))
    return sink.get_finished_spans


def count(**labels: str) -> float | None:
    return emit.get_registry().get_sample_value("api_request_duration_seconds_count", labels)


class _Route:
    path = "/items/{item_id}"


async def _asgi_app(scope, receive, send):
    if scope["path"] == "/boom":
        raise RuntimeError("handler bug")
    scope["route"] = _Route()  # what Starlette/FastAPI set once routing matched
    with emit.agent_run("api-agent"):
        pass
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _drive(app, path, headers=()):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers)}
    await app(scope, receive, send)
    return sent


async def test_asgi_records_route_template_status_and_server_span(finished):
    app = emit.ASGIMiddleware(_asgi_app)
    sent = await _drive(app, "/items/42", [(b"traceparent", PARENT.encode())])
    assert sent[0]["status"] == 201
    assert count(method="POST", route="/items/{item_id}", status_code="201") == 1
    spans = {s.name: s for s in finished()}
    server = spans["POST /items/{item_id}"]
    assert server.kind.name == "SERVER"
    assert format(server.context.trace_id, "032x") == PARENT.split("-")[1]
    assert server.attributes["http.response.status_code"] == 201
    assert spans["invoke_agent api-agent"].parent.span_id == server.context.span_id


async def test_asgi_handler_exception_is_a_500_and_propagates(finished):
    app = emit.ASGIMiddleware(_asgi_app)
    with pytest.raises(RuntimeError, match="handler bug"):
        await _drive(app, "/boom")
    assert count(method="POST", route="/boom", status_code="500") == 1
    assert finished()[0].status.status_code.name == "ERROR"


def test_wsgi_records_requests(finished):
    def app(environ, start_response):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"nope"]

    wrapped = emit.WSGIMiddleware(app, route_for=lambda environ: "/users/:id")
    environ: dict = {"PATH_INFO": "/users/7", "REQUEST_METHOD": "GET",
                     "HTTP_TRACEPARENT": PARENT}
    wsgiref.util.setup_testing_defaults(environ)
    body = wrapped(environ, lambda status, headers, exc_info=None: None)
    assert b"".join(body) == b"nope"
    body.close()
    assert count(method="GET", route="/users/:id", status_code="404") == 1
    span = finished()[0]
    assert span.name == "GET /users/:id"
    assert format(span.parent.span_id, "016x") == PARENT.split("-")[2]
