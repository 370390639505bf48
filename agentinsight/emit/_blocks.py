"""The instrumented blocks: agent runs, LLM calls, tool calls, tasks, memory operations, and
the two gauges.

Each block is a plain class with ``__enter__``/``__exit__`` (cheaper than a generator context
manager). Telemetry work is wrapped by the never-raise rule; the agent's own exception marks the
block ``status="error"`` and propagates unchanged.
"""

from __future__ import annotations

import time
from typing import Any, Self

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from agentinsight import semconv as A
from agentinsight.emit import _clock, _errors, _events, _runtime
from agentinsight.emit._context import current_agent
from agentinsight.emit._usage import TokenUsage, normalise_model

_perf = time.perf_counter
_time_ns = time.time_ns
_set_span_in_context = trace.set_span_in_context
_attach = otel_context.attach
_detach = otel_context.detach
_current_span = trace.get_current_span
_INVALID_SPAN = trace.INVALID_SPAN
_error_types: dict[type, str] = {}
_models: dict[tuple[str, str | None], tuple[str, str]] = {}


def error_type(exc_type: type) -> str:
    """``error.type`` of an exception class: its qualified name (module-less for builtins)."""
    found = _error_types.get(exc_type)
    if found is None:
        module = getattr(exc_type, "__module__", "")
        name = exc_type.__qualname__
        found = name if module in ("builtins", "", None) else f"{module}.{name}"
        _error_types[exc_type] = found
    return found


def _exemplar(span: Any) -> dict[str, str] | None:
    ctx = span.get_span_context()
    if ctx.trace_flags & 1:
        return {"trace_id": format(ctx.trace_id, "032x")}
    return None


class _Block:
    """Shared machinery: span, context, clock, error status, events."""

    __slots__ = ("_end_ns", "_live", "_rt", "_span", "_start_ns", "_t0", "_token", "duration_s",
                 "error_type", "status")
    _kind = "block"
    error_type: str | None
    _start_ns: int | None
    _span: Any
    _token: Any
    _span_kind = SpanKind.INTERNAL

    def _span_name(self) -> str:
        raise NotImplementedError

    def _span_attributes(self) -> dict[str, Any]:
        raise NotImplementedError

    def _enter_extra(self, rt: _runtime.Runtime) -> None:
        return None

    def _exit_extra(self) -> None:
        return None

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        raise NotImplementedError

    def _event(self) -> _events.Event:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._live = False
        self._token = None
        self.status = "success"
        self.error_type = None
        self.duration_s = 0.0
        try:
            rt = self._rt = _runtime.get()
            clock = _clock.clock
            start: int | None
            if clock is not None:
                start = self._start_ns = clock()
            else:
                start = self._start_ns = None
                self._t0 = _perf()
            if rt.roots_unsampled and not _current_span().get_span_context().is_valid:
                self._span, self._token = _INVALID_SPAN, None
            else:
                span = self._span = rt.tracer.start_span(
                    self._span_name(), kind=self._span_kind,
                    attributes=self._span_attributes(), start_time=start,
                )
                self._token = _attach(_set_span_in_context(span))
            self._enter_extra(rt)
            self._live = True
        except Exception as exc:
            if self._token is not None:  # leave the caller's context as it was
                _detach(self._token)
            _errors.internal_error(f"entering {self._kind} block", exc)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: Any) -> None:
        if not self._live:
            return None
        self._live = False
        try:
            self._close(exc_type, exc)
        except Exception as internal:
            _errors.internal_error(f"closing {self._kind} block", internal)
        return None

    def _close(self, exc_type: Any, exc: Any) -> None:
        clock = _clock.clock
        if clock is not None:
            end = clock()
            start = self._start_ns
            self.duration_s = (end - start) / 1e9 if start is not None else 0.0
        else:
            end = None
            self.duration_s = _perf() - self._t0
        span = self._span
        try:
            if exc_type is not None:
                self.status = "error"
                self.error_type = error_type(exc_type)
                span.set_attribute(A.ERROR_TYPE, self.error_type)
                span.set_status(Status(StatusCode.ERROR, f"{self.error_type}: {exc}"[:512]))
                if exc is not None:
                    span.record_exception(exc, timestamp=end)
            self._finish_span(span)
            span.end(end)
        finally:
            if self._token is not None:
                _detach(self._token)
            self._exit_extra()
        self._record(self._rt, _exemplar(span))
        if _events.subscribers:
            _events.publish(self._event())

    def _finish_span(self, span: Any) -> None:
        return None

    def _ids(self) -> tuple[str, str]:
        ctx = self._span.get_span_context()
        if not ctx.is_valid:
            return "", ""
        return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")

    # -- public helpers ------------------------------------------------------------------------
    @property
    def span(self) -> trace.Span:
        """The OpenTelemetry span of this block (a no-op span before ``__enter__``)."""
        return getattr(self, "_span", trace.INVALID_SPAN)

    @property
    def trace_id(self) -> str:
        """The trace id as 32 hex digits ("" when no trace is recorded)."""
        return self._ids()[0] if hasattr(self, "_span") else ""

    def set_attribute(self, key: str, value: Any) -> None:
        """Add an attribute to this block's span."""
        try:
            self.span.set_attribute(key, value)
        except Exception as exc:
            _errors.internal_error("set_attribute", exc)


class AgentRun(_Block):
    """``with emit.agent_run("planner") as run:`` — see :func:`agent_run`."""

    __slots__ = ("_active", "_agent_token", "name", "task_type")
    _kind = "agent"

    def __init__(self, name: str, task_type: str | None = None) -> None:
        self.name = name
        self.task_type = task_type

    def _span_name(self) -> str:
        return A.agent_span_name(self.name)

    def _span_attributes(self) -> dict[str, Any]:
        attrs: dict[str, Any] = {A.GEN_AI_OPERATION_NAME: A.Operation.INVOKE_AGENT.value,
                                 A.GEN_AI_AGENT_NAME: self.name}
        if self.task_type is not None:
            attrs[A.TASK_TYPE] = self.task_type
        return attrs

    def _enter_extra(self, rt: _runtime.Runtime) -> None:
        active = self._active = rt.agent_active.child((self.name,))
        if active is not None:
            active.inc()
        self._agent_token = current_agent.set(self.name)

    def _exit_extra(self) -> None:
        current_agent.reset(self._agent_token)
        if self._active is not None:
            self._active.dec()

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        key = (self.name, self.status)
        child = rt.agent_total.child(key)
        if child is not None:
            child.inc()
            rt.agent_duration.child(key).observe(self.duration_s, exemplar)
        if self.task_type is not None:
            key = (self.task_type, self.status)
            child = rt.task_total.child(key)
            if child is not None:
                child.inc()
                rt.task_duration.child(key).observe(self.duration_s, exemplar)

    def _event(self) -> _events.Event:
        trace_id, span_id = self._ids()
        attrs = {"agent": self.name}
        if self.task_type is not None:
            attrs["task_type"] = self.task_type
        return _events.Event("agent", self.name, self.status, self.duration_s, attrs, trace_id,
                             span_id, None, self.error_type)


class ToolCall(_Block):
    """``with emit.tool_call("web_search"):`` — see :func:`tool_call`."""

    __slots__ = ("agent", "name")
    _kind = "tool"

    def __init__(self, name: str, agent: str | None = None) -> None:
        self.name = name
        self.agent = agent

    def _span_name(self) -> str:
        return A.tool_span_name(self.name)

    def _span_attributes(self) -> dict[str, Any]:
        return {A.GEN_AI_OPERATION_NAME: A.Operation.EXECUTE_TOOL.value,
                A.GEN_AI_TOOL_NAME: self.name}

    def _enter_extra(self, rt: _runtime.Runtime) -> None:
        if self.agent is None:
            self.agent = current_agent.get()

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        child = rt.tool_total.child((self.agent, self.name, self.status))
        if child is not None:
            child.inc()
        child = rt.tool_duration.child((self.name, self.status))
        if child is not None:
            child.observe(self.duration_s, exemplar)

    def _event(self) -> _events.Event:
        trace_id, span_id = self._ids()
        return _events.Event("tool", self.name, self.status, self.duration_s,
                             {"agent": self.agent, "tool": self.name}, trace_id, span_id, None,
                             self.error_type)


_USAGE_FIELDS = A.TOKEN_FIELDS


class LLMCall(_Block):
    """``with emit.llm_call(model="gpt-4o") as call:`` — see :func:`llm_call`."""

    __slots__ = ("agent", "model", "operation", "provider", "response_model", "usage")
    _kind = "llm"
    _span_kind = SpanKind.CLIENT

    def __init__(self, model: str, provider: str | None = None, operation: str = "chat",
                 agent: str | None = None) -> None:
        key = (model, provider)
        found = _models.get(key)
        if found is None:
            found = normalise_model(model, provider) if isinstance(model, str) else (model, "")
            if len(_models) > 4096:
                _models.clear()
            _models[key] = found
        self.model, self.provider = found
        self.operation = operation
        self.agent = agent
        self.response_model: str | None = None
        self.usage: TokenUsage | None = None

    def _span_name(self) -> str:
        return A.llm_span_name(self.operation, self.model)

    def _span_attributes(self) -> dict[str, Any]:
        return {A.GEN_AI_OPERATION_NAME: self.operation, A.GEN_AI_PROVIDER_NAME: self.provider,
                A.GEN_AI_REQUEST_MODEL: self.model}

    def _enter_extra(self, rt: _runtime.Runtime) -> None:
        if self.agent is None:
            self.agent = current_agent.get()

    def record_usage(self, input_tokens: int = 0, output_tokens: int = 0,
                     cache_read_tokens: int = 0, cache_write_tokens: int = 0,
                     reasoning_tokens: int = 0, response_model: str | None = None) -> None:
        """Record the call's tokens (GenAI semantics: input counts cache reads and writes).

        Called several times, the counts add up. Negative or non-integer counts are logged and
        the whole record is dropped.
        """
        counts: tuple[int, ...] = (input_tokens, output_tokens, cache_read_tokens,
                                   cache_write_tokens, reasoning_tokens)
        for name, value in zip(_USAGE_FIELDS, counts, strict=True):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                _errors.warn_once(
                    f"usage:{name}",
                    "agentinsight.emit: record_usage(%s=%r): token counts must be non-negative "
                    "integers; this usage record is dropped", name, value,
                )
                return
        try:
            if response_model is not None:
                self.response_model = response_model
            previous = self.usage
            if previous is not None:
                counts = tuple(a + b for a, b in zip(counts, (
                    previous.input_tokens, previous.output_tokens, previous.cache_read_tokens,
                    previous.cache_write_tokens, previous.reasoning_tokens), strict=True))
            self.usage = TokenUsage(*counts)
            if getattr(self, "_rt", None) is not None and not self._live:
                # The block already closed: count these tokens on their own now.
                self._record_tokens(self._rt, TokenUsage(input_tokens, output_tokens,
                                                         cache_read_tokens, cache_write_tokens,
                                                         reasoning_tokens))
        except Exception as exc:
            _errors.internal_error("record_usage", exc)

    def record_response(self, response: Any) -> None:
        """Record usage and response model from an OpenAI or Anthropic response (or its usage).

        Anthropic counts input without cache reads/writes and OpenAI with them; both are
        recorded with the GenAI meaning (input includes cache).
        """
        from agentinsight.emit._usage import usage_from_response

        try:
            usage, model = usage_from_response(response)
        except TypeError as exc:
            _errors.warn_once(f"response:{type(response).__name__}",
                              "agentinsight.emit: %s; usage not recorded", exc)
            return
        self.record_usage(usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
                          usage.cache_write_tokens, usage.reasoning_tokens,
                          model if isinstance(model, str) else None)

    def _finish_span(self, span: Any) -> None:
        if self.response_model is not None:
            span.set_attribute(A.GEN_AI_RESPONSE_MODEL, self.response_model)
        usage = self.usage
        if usage is not None:
            span.set_attribute(A.GEN_AI_USAGE_INPUT_TOKENS, usage.input_tokens)
            span.set_attribute(A.GEN_AI_USAGE_OUTPUT_TOKENS, usage.output_tokens)
            if usage.cache_read_tokens:
                span.set_attribute(A.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, usage.cache_read_tokens)
            if usage.cache_write_tokens:
                span.set_attribute(A.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                                   usage.cache_write_tokens)
            if usage.reasoning_tokens:
                span.set_attribute(A.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, usage.reasoning_tokens)

    def _record_tokens(self, rt: _runtime.Runtime, usage: TokenUsage) -> None:
        agent, provider, model = self.agent or "", self.provider, self.model
        tokens = rt.tokens
        for token_type, count in (("input", usage.input_tokens), ("output", usage.output_tokens),
                                  ("cache_read", usage.cache_read_tokens),
                                  ("cache_write", usage.cache_write_tokens),
                                  ("reasoning", usage.reasoning_tokens)):
            if count or token_type in ("input", "output"):
                child = tokens.child((agent, provider, model, token_type))
                if child is None:
                    return
                child.inc(count)
        if rt.pricer is not None:
            # Priced at the call's start, as analysis.cost prices a span.
            start = self._start_ns
            if start is None:
                start = _time_ns() - int(self.duration_s * 1e9)
            rt.pricer.record(agent, provider, model, usage, start)
        op = self.operation
        child = rt.genai_tokens.child((op, provider, model, "input"))
        if child is not None:
            child.observe(usage.input_tokens)
            rt.genai_tokens.child((op, provider, model, "output")).observe(usage.output_tokens)

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        if self.usage is not None:
            self._record_tokens(rt, self.usage)
        child = rt.llm_duration.child((self.provider, self.model, self.status))
        if child is not None:
            child.observe(self.duration_s, exemplar)
        child = rt.genai_duration.child((self.operation, self.provider, self.model,
                                         self.error_type or ""))
        if child is not None:
            child.observe(self.duration_s, exemplar)

    def _event(self) -> _events.Event:
        trace_id, span_id = self._ids()
        attrs = {"agent": self.agent, "provider": self.provider, "model": self.model,
                 "operation": self.operation}
        if self.response_model is not None:
            attrs["response_model"] = self.response_model
        return _events.Event("llm", self.model, self.status, self.duration_s, attrs, trace_id,
                             span_id, self.usage, self.error_type)


class Task(_Block):
    """``with emit.task("summarise"):`` — see :func:`task`."""

    __slots__ = ("task_type",)
    _kind = "task"

    def __init__(self, task_type: str) -> None:
        self.task_type = task_type

    def _span_name(self) -> str:
        return f"{A.Operation.TASK.value} {self.task_type}"

    def _span_attributes(self) -> dict[str, Any]:
        return {A.TASK_TYPE: self.task_type}

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        key = (self.task_type, self.status)
        child = rt.task_total.child(key)
        if child is not None:
            child.inc()
            rt.task_duration.child(key).observe(self.duration_s, exemplar)

    def _event(self) -> _events.Event:
        trace_id, span_id = self._ids()
        return _events.Event("task", self.task_type, self.status, self.duration_s,
                             {"task_type": self.task_type, "agent": current_agent.get()},
                             trace_id, span_id, None, self.error_type)


class MemoryOperation(_Block):
    """``with emit.memory_operation("vector_search"):`` — see :func:`memory_operation`."""

    __slots__ = ("operation",)
    _kind = "memory"

    def __init__(self, operation: str) -> None:
        self.operation = operation

    def _span_name(self) -> str:
        return f"{A.Operation.MEMORY.value} {self.operation}"

    def _span_attributes(self) -> dict[str, Any]:
        return {A.MEMORY_OPERATION: self.operation}

    def _record(self, rt: _runtime.Runtime, exemplar: dict[str, str] | None) -> None:
        child = rt.memory_duration.child((self.operation,))
        if child is not None:
            child.observe(self.duration_s)

    def _event(self) -> _events.Event:
        trace_id, span_id = self._ids()
        return _events.Event("memory", self.operation, self.status, self.duration_s,
                             {"operation": self.operation, "agent": current_agent.get()},
                             trace_id, span_id, None, self.error_type)
