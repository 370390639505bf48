"""Metrics from anyone's GenAI spans: an OpenTelemetry span processor.

An agent already instrumented with the official OpenTelemetry GenAI instrumentations,
OpenLLMetry (old and new attribute names), OpenInference or openlit gets the catalogue's LLM
metrics by adding one processor to its tracer provider::

    trace.get_tracer_provider().add_span_processor(emit.GenAIMetricsProcessor())

Each finished model-call span (read through :func:`agentinsight.semconv.call_usage`) counts once
into ``llm_tokens_used_total``, ``llm_request_duration_seconds`` and the two GenAI histograms of
the registry emit records into (and ``llm_cost_usd_total`` when cost is on). A call is counted
once however many instrumentations saw it:

* spans emit itself made (instrumentation scope ``agentinsight.emit``) are skipped: its own
  ``llm_call`` blocks already counted them;
* a model-call span that ends inside another model-call span that is still open is the same call
  seen by two instrumentations (one wrapping the other): its usage is handed to the enclosing
  span, which counts once with the more detailed of the two, filling what it lacks from the other
  (and the other way round when the inner span outlives the outer, as a stream read later does);
* a span whose provider and ``gen_ai.response.id`` were already counted (two instrumentations
  side by side, in one trace or two) is skipped.

Nothing here raises into the agent: a failure is logged once and the span is left uncounted.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from agentinsight import semconv
from agentinsight.emit import _errors, _runtime
from agentinsight.emit._context import current_agent
from agentinsight.emit._usage import TokenUsage, normalise_model

_TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")


def _detail(usage: semconv.CallUsage) -> int:
    return sum(1 for count in usage.tokens if count)


def _merge(outer: semconv.CallUsage | None, inner: semconv.CallUsage) -> semconv.CallUsage:
    """One call from two spans of it: the more detailed one (the outer on a tie), with the
    token counts it lacks taken from the other."""
    if outer is None:
        return inner
    base, other = (outer, inner) if _detail(outer) >= _detail(inner) else (inner, outer)
    tokens = tuple(mine or theirs for mine, theirs in zip(base.tokens, other.tokens, strict=True))
    return base._replace(
        tokens=tokens,  # type: ignore[arg-type]
        provider=base.provider or other.provider,
        agent=base.agent or other.agent,
        response_id=base.response_id or other.response_id,
    )


class GenAIMetricsProcessor(SpanProcessor):
    """Turns finished GenAI model-call spans from any instrumentation into catalogue metrics.

    ``skip_scopes`` names instrumentation scopes whose spans are never counted (emit's own by
    default); ``max_tracked`` bounds the response ids remembered for de-duplication and the
    open model-call spans tracked for nesting.

    >>> from opentelemetry.sdk.trace import TracerProvider
    >>> from agentinsight import emit
    >>> provider = TracerProvider()
    >>> provider.add_span_processor(emit.GenAIMetricsProcessor())
    """

    def __init__(self, *, skip_scopes: Iterable[str] = (_runtime.SCOPE,),
                 max_tracked: int = 65536) -> None:
        self._skip = frozenset(skip_scopes)
        self._max = max_tracked
        self._lock = threading.Lock()
        # open model-call span id -> usage handed to it by spans nested inside (or None)
        self._open: OrderedDict[int, semconv.CallUsage | None] = OrderedDict()
        # open model-call span id -> the model-call span last started inside it
        self._inner: dict[int, int] = {}
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._models: dict[tuple[str, str], tuple[str, str]] = {}

    def _skipped(self, span: Any) -> bool:
        scope = span.instrumentation_scope
        return scope is not None and scope.name in self._skip

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        try:
            attrs = span.attributes
            if not attrs or self._skipped(span) or semconv.call_operation(attrs) is None:
                return
            span_id = span.context.span_id
            parent = span.parent
            with self._lock:
                self._open[span_id] = None
                if parent is not None and parent.span_id in self._open:
                    self._inner[parent.span_id] = span_id
                if len(self._open) > self._max:  # spans that never end must not pile up
                    gone, _ = self._open.popitem(last=False)
                    self._inner.pop(gone, None)
        except Exception as exc:
            _errors.internal_error("GenAI span metrics (span start)", exc)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            self._end(span)
        except Exception as exc:
            _errors.internal_error("GenAI span metrics (span end)", exc)

    def _end(self, span: ReadableSpan) -> None:
        if self._skipped(span):
            return
        # one copy into a plain dict: the SDK's attribute mapping is slow to look up in
        attrs = dict(span.attributes or ())
        usage = semconv.call_usage(attrs)
        context = span.context
        parent = span.parent
        with self._lock:
            span_id = context.span_id if context is not None else 0
            nested = self._open.pop(span_id, None)
            inner = self._inner.pop(span_id, None)
            if nested is not None:
                usage = _merge(usage, nested)
            if usage is None:
                return
            if parent is not None and parent.span_id in self._open:
                # The enclosing model-call span is the same call: it counts, with this detail.
                self._open[parent.span_id] = _merge(self._open[parent.span_id], usage)
                return
            if inner is not None and inner in self._open:
                # The same call seen by an instrumentation inside this one, still open (a
                # stream read after the outer span ended): that span counts, with this detail.
                held = self._open[inner]
                self._open[inner] = usage if held is None else _merge(usage, held)
                return
            if usage.response_id is not None:
                key = (usage.provider, usage.response_id)
                if key in self._seen:
                    return
                self._seen[key] = None
                if len(self._seen) > self._max:
                    self._seen.popitem(last=False)
        self._count(span, usage, attrs)

    def _count(self, span: ReadableSpan, usage: semconv.CallUsage, attrs: Any) -> None:
        rt = _runtime.get()
        key = (usage.model, usage.provider)
        found = self._models.get(key)
        if found is None:
            found = normalise_model(usage.model, usage.provider or None)
            if len(self._models) > 4096:
                self._models.clear()
            self._models[key] = found
        model, provider = found
        agent = usage.agent or current_agent()
        operation = usage.operation
        start, end = span.start_time or 0, span.end_time or 0
        duration = max(end - start, 0) / 1e9
        failed = span.status is not None and span.status.status_code is StatusCode.ERROR
        status = "error" if failed else "success"
        error_type = str(attrs.get(semconv.ERROR_TYPE) or ("_OTHER" if failed else ""))
        exemplar = None
        context = span.context
        if context is not None and context.trace_flags & 1:
            exemplar = {"trace_id": format(context.trace_id, "032x")}
        tokens = usage.tokens
        if any(tokens):
            for token_type, count in zip(_TOKEN_TYPES, tokens, strict=True):
                if count or token_type in ("input", "output"):
                    child = rt.tokens.child((agent, provider, model, token_type))
                    if child is not None:
                        child.inc(count)
            for token_type, count in (("input", tokens[0]), ("output", tokens[1])):
                child = rt.genai_tokens.child((operation, provider, model, token_type))
                if child is not None:
                    child.observe(count)
            if rt.pricer is not None:
                rt.pricer.record(agent, provider, model, TokenUsage(*tokens), start)
        child = rt.llm_duration.child((provider, model, status))
        if child is not None:
            child.observe(duration, exemplar)
        child = rt.genai_duration.child((operation, provider, model, error_type))
        if child is not None:
            child.observe(duration, exemplar)

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
