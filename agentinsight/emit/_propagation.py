"""W3C trace context across process boundaries: ``inject`` and ``extract``."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from agentinsight.emit import _errors

_propagator = TraceContextTextMapPropagator()


def inject(carrier: MutableMapping[str, str] | None = None) -> MutableMapping[str, str]:
    """Add ``traceparent`` (and ``tracestate``) of the current span to ``carrier``; returns it.

    >>> from agentinsight import emit
    >>> with emit.agent_run("planner"):
    ...     headers = emit.inject({})  # pass these to the next agent or service
    """
    carrier = {} if carrier is None else carrier
    try:
        _propagator.inject(carrier)
    except Exception as exc:
        _errors.internal_error("inject", exc)
    return carrier


class RemoteContext:
    """The trace context received from a caller; use it as a ``with`` block so the runs
    inside become children of the caller's span."""

    def __init__(self, context: otel_context.Context) -> None:
        self.context = context
        self._tokens: list[Any] = []

    def __enter__(self) -> RemoteContext:
        self._tokens.append(otel_context.attach(self.context))
        return self

    def __exit__(self, *exc: object) -> None:
        otel_context.detach(self._tokens.pop())


def extract(headers: Mapping[str, str]) -> RemoteContext:
    """Read W3C trace context from incoming ``headers`` (case-insensitive names).

    >>> from agentinsight import emit
    >>> headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    >>> with emit.extract(headers):
    ...     with emit.agent_run("worker") as run:
    ...         pass
    """
    try:
        lowered = {str(k).lower(): v for k, v in headers.items()}
        ctx = _propagator.extract(lowered)
    except Exception as exc:
        _errors.internal_error("extract", exc)
        ctx = otel_context.get_current()
    return RemoteContext(ctx)
