"""``@emit.agent`` and ``@emit.tool``: the block factories as decorators, sync and async."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

from agentinsight.emit._blocks import AgentRun, ToolCall

F = TypeVar("F", bound=Callable[..., Any])


def _wrap(func: Callable[..., Any], make: Callable[[], Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
            with make():
                return await func(*args, **kwargs)

        return async_wrapper

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with make():
            return func(*args, **kwargs)

    return wrapper


@overload
def agent(name: F, task_type: str | None = None) -> F: ...
@overload
def agent(name: str | None = None, task_type: str | None = None) -> Callable[[F], F]: ...


def agent(name: Any = None, task_type: str | None = None) -> Any:
    """Run every call of the decorated function (sync or async) inside ``emit.agent_run``.

    The agent name defaults to the function's name; ``@emit.agent`` works without parentheses.

    >>> from agentinsight import emit
    >>> @emit.agent("planner")
    ... def plan(goal):
    ...     return f"plan for {goal}"
    >>> plan("tea")
    'plan for tea'
    """
    if callable(name):
        func = name
        return _wrap(func, lambda: AgentRun(func.__name__, task_type))

    def decorate(func: F) -> F:
        agent_name = name or func.__name__
        return _wrap(func, lambda: AgentRun(agent_name, task_type))  # type: ignore[return-value]

    return decorate


@overload
def tool(name: F) -> F: ...
@overload
def tool(name: str | None = None) -> Callable[[F], F]: ...


def tool(name: Any = None) -> Any:
    """Run every call of the decorated function (sync or async) inside ``emit.tool_call``.

    >>> from agentinsight import emit
    >>> @emit.tool("web_search")
    ... async def search(query):
    ...     return [query]
    """
    if callable(name):
        func = name
        return _wrap(func, lambda: ToolCall(func.__name__))

    def decorate(func: F) -> F:
        tool_name = name or func.__name__
        return _wrap(func, lambda: ToolCall(tool_name))  # type: ignore[return-value]

    return decorate
