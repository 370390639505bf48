"""HTTP server middleware: ``api_request_duration_seconds{method,route,status_code}`` and a
SERVER span per request, continuing the caller's W3C trace context.

``ASGIMiddleware(app)`` wraps any ASGI 3 application (Starlette, FastAPI, ...);
``WSGIMiddleware(app)`` any WSGI one (Flask, Django, ...). The route label is the framework's
route template when it exposes one (``scope["route"].path``), else ``route_for(scope_or_environ)``
if given, else the raw path — bounded by the label cardinality guard either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentinsight import semconv as A
from agentinsight.emit import _clock, _errors, _runtime
from agentinsight.emit._blocks import error_type

_propagator = TraceContextTextMapPropagator()


class _Request:
    """One request's span and timer (shared by both middlewares)."""

    __slots__ = ("end_done", "method", "path", "rt", "span", "start_ns", "t0", "token")

    def __init__(self, method: str, path: str, headers: dict[str, str]) -> None:
        self.method, self.path, self.end_done = method, path, False
        self.span = None
        try:
            rt = self.rt = _runtime.get()
            clock = _clock.clock
            self.start_ns = clock() if clock is not None else None
            self.t0 = time.perf_counter()
            parent = _propagator.extract(headers) if "traceparent" in headers else None
            self.span = rt.tracer.start_span(
                method, context=parent, kind=SpanKind.SERVER, start_time=self.start_ns,
                attributes={A.HTTP_REQUEST_METHOD: method, A.URL_PATH: path},
            )
            self.token = otel_context.attach(trace.set_span_in_context(self.span))
        except Exception as exc:
            _errors.internal_error("starting a request span", exc)

    def finish(self, route: str, status: int, exc: BaseException | None = None) -> None:
        if self.end_done or self.span is None:
            return
        self.end_done = True
        try:
            clock = _clock.clock
            start_ns = self.start_ns
            if clock is not None and start_ns is not None:
                now = clock()
                end: int | None = now
                duration = (now - start_ns) / 1e9
            else:
                end, duration = None, time.perf_counter() - self.t0
            span = self.span
            span.update_name(f"{self.method} {route}")
            span.set_attribute(A.HTTP_ROUTE, route)
            span.set_attribute(A.HTTP_RESPONSE_STATUS_CODE, status)
            if exc is not None:
                span.set_attribute(A.ERROR_TYPE, error_type(type(exc)))
                span.set_status(Status(StatusCode.ERROR, str(exc)[:512]))
            elif status >= 500:
                span.set_attribute(A.ERROR_TYPE, str(status))
                span.set_status(Status(StatusCode.ERROR))
            ctx = span.get_span_context()
            span.end(end)
            otel_context.detach(self.token)
            exemplar = {"trace_id": format(ctx.trace_id, "032x")} if ctx.trace_flags & 1 else None
            child = self.rt.api_duration.child((self.method, route, str(status)))
            if child is not None:
                child.observe(duration, exemplar)
        except Exception as internal:
            _errors.internal_error("finishing a request span", internal)


class ASGIMiddleware:
    """Time every HTTP request of an ASGI app.

    >>> from agentinsight import emit
    >>> async def app(scope, receive, send): ...
    >>> app = emit.ASGIMiddleware(app)
    """

    def __init__(self, app: Any, route_for: Callable[[dict], str] | None = None) -> None:
        self.app = app
        self.route_for = route_for

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers") or ()}
        request = _Request(scope.get("method", "GET"), scope.get("path", "/"), headers)
        status = [500]

        async def send_status(message: dict) -> None:
            if message.get("type") == "http.response.start":
                status[0] = int(message.get("status", 500))
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            request.finish(self._route(scope), 500, exc)
            raise
        request.finish(self._route(scope), status[0])

    def _route(self, scope: dict) -> str:
        route = scope.get("route")
        path = getattr(route, "path", None) or getattr(route, "path_format", None)
        if isinstance(path, str):
            return path
        if self.route_for is not None:
            try:
                return str(self.route_for(scope))
            except Exception as exc:
                _errors.internal_error("route_for", exc)
        return scope.get("path", "/")


class _Body:
    """The WSGI response iterable; the request ends when the server closes it."""

    def __init__(self, inner: Iterable[bytes], done: Callable[[BaseException | None], None]):
        self._inner = inner
        self._iter = iter(inner)
        self._done = done

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        try:
            return next(self._iter)
        except StopIteration:
            raise
        except BaseException as exc:
            self._done(exc)
            raise

    def close(self) -> None:
        try:
            close = getattr(self._inner, "close", None)
            if close is not None:
                close()
        finally:
            self._done(None)


class WSGIMiddleware:
    """Time every HTTP request of a WSGI app.

    >>> from agentinsight import emit
    >>> def app(environ, start_response):
    ...     start_response("200 OK", [("Content-Type", "text/plain")])
    ...     return [b"ok"]
    >>> app = emit.WSGIMiddleware(app)
    """

    def __init__(self, app: Any, route_for: Callable[[dict], str] | None = None) -> None:
        self.app = app
        self.route_for = route_for

    def __call__(self, environ: dict, start_response: Any) -> Iterable[bytes]:
        headers = {}
        if "HTTP_TRACEPARENT" in environ:
            headers["traceparent"] = environ["HTTP_TRACEPARENT"]
            if "HTTP_TRACESTATE" in environ:
                headers["tracestate"] = environ["HTTP_TRACESTATE"]
        path = environ.get("PATH_INFO") or "/"
        request = _Request(environ.get("REQUEST_METHOD", "GET"), path, headers)
        status = [500]

        def start_status(status_line: str, response_headers: Any, exc_info: Any = None) -> Any:
            try:
                status[0] = int(status_line.split(" ", 1)[0])
            except ValueError:
                status[0] = 500
            return start_response(status_line, response_headers, exc_info)

        route = self._route(environ)
        try:
            body = self.app(environ, start_status)
        except BaseException as exc:
            request.finish(route, 500, exc)
            raise
        return _Body(body, lambda exc: request.finish(route, 500 if exc else status[0], exc))

    def _route(self, environ: dict) -> str:
        if self.route_for is not None:
            try:
                return str(self.route_for(environ))
            except Exception as exc:
                _errors.internal_error("route_for", exc)
        return environ.get("PATH_INFO") or "/"
