"""The public block factories and gauge setters."""

from __future__ import annotations

from agentinsight.emit import _errors, _runtime
from agentinsight.emit._blocks import AgentRun, LLMCall, MemoryOperation, Task, ToolCall


def agent_run(name: str, task_type: str | None = None, *, remote: bool = False,
              server_address: str | None = None) -> AgentRun:
    """Instrument one agent run: span ``invoke_agent {name}``, ``agent_execution_total``,
    ``agent_execution_duration_seconds`` and ``agent_active``.

    LLM and tool calls inside the block carry ``agent=name`` and are child spans, across threads
    started with ``contextvars.copy_context()`` and across asyncio tasks. With ``task_type`` the
    run is also counted as a task (``task_total`` / ``task_duration_seconds``); do not wrap it in
    ``emit.task()`` of the same type as well. An exception inside marks ``status="error"`` and the
    span ERROR with ``error.type``, then propagates unchanged.

    The span is INTERNAL (an agent running in this process); ``remote=True`` marks a call to an
    agent running elsewhere: a CLIENT span, with ``server.address`` when given.

    >>> from agentinsight import emit
    >>> with emit.agent_run("planner", task_type="research") as run:
    ...     pass
    >>> run.status
    'success'
    """
    return AgentRun(name, task_type, remote, server_address)


def llm_call(model: str, provider: str | None = None, *, operation: str = "chat",
             agent: str | None = None) -> LLMCall:
    """Instrument one LLM request: span ``chat {model}`` (GenAI conventions), token counters
    and the duration histograms.

    ``model`` may carry a provider prefix (``"openai/gpt-4o"``), which becomes the provider;
    date suffixes are kept. Without a provider, well-known model families name it, else
    ``unknown``. Use ``call.record_usage(...)`` or ``call.record_response(response)``; tokens
    are counted when the block ends (or at once if recorded after it ended). The ``model`` label
    is the (normalised) request model; the response model goes on the span. ``agent`` defaults
    to the enclosing ``agent_run`` ("" outside any run).

    >>> from agentinsight import emit
    >>> with emit.llm_call(model="openai/gpt-4o") as call:
    ...     call.record_usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)
    >>> call.provider, call.model, call.usage.input_tokens
    ('openai', 'gpt-4o', 1200)
    """
    return LLMCall(model, provider, operation, agent)


def tool_call(name: str, *, agent: str | None = None) -> ToolCall:
    """Instrument one tool call: span ``execute_tool {name}``, ``tool_usage_total`` and
    ``tool_execution_duration_seconds``. ``agent`` defaults to the enclosing ``agent_run``
    ("" outside any run).

    >>> from agentinsight import emit
    >>> with emit.tool_call("web_search") as call:
    ...     pass
    >>> call.status
    'success'
    """
    return ToolCall(name, agent)


def task(task_type: str) -> Task:
    """Instrument one task: ``task_total`` and ``task_duration_seconds`` (span ``task {type}``).

    >>> from agentinsight import emit
    >>> with emit.task("summarise"):
    ...     pass
    """
    return Task(task_type)


def memory_operation(operation: str) -> MemoryOperation:
    """Instrument one agent-memory operation: the ``memory_operation_duration_seconds`` Summary.

    >>> from agentinsight import emit
    >>> with emit.memory_operation("vector_search"):
    ...     pass
    """
    return MemoryOperation(operation)


def _set_gauge(family_name: str, key: tuple, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _errors.warn_once(
            f"gauge:{family_name}",
            "agentinsight.emit: %s got %r, not a number; the value is dropped", family_name, value,
        )
        return
    try:
        child = getattr(_runtime.get(), family_name).child(key)
        if child is not None:
            child.set(value)
    except Exception as exc:
        _errors.internal_error(family_name, exc)


def set_queue_size(queue: str, size: float) -> None:
    """Set ``task_queue_size{queue}``.

    >>> from agentinsight import emit
    >>> emit.set_queue_size("default", 12)
    """
    _set_gauge("queue_size", (queue,), size)


def set_db_connections(database: str, state: str, count: float) -> None:
    """Set ``database_connections{database, state}``.

    >>> from agentinsight import emit
    >>> emit.set_db_connections("postgres", "active", 7)
    """
    _set_gauge("db_connections", (database, state), count)
