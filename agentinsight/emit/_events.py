"""Completion events for ``emit.subscribe``: the seed system's event listeners."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentinsight.emit._usage import TokenUsage

_log = logging.getLogger("agentinsight.emit")


@dataclass(frozen=True)
class Event:
    """One finished block: an agent run, tool call, LLM call, task or memory operation."""

    kind: str  # "agent" | "tool" | "llm" | "task" | "memory"
    name: str
    status: str  # "success" | "error"
    duration_s: float
    attributes: dict[str, Any] = field(default_factory=dict)
    trace_id: str = ""
    span_id: str = ""
    usage: TokenUsage | None = None
    error_type: str | None = None


subscribers: list[Callable[[Event], Any]] = []
_failed: set[int] = set()
_lock = threading.Lock()


def subscribe(callback: Callable[[Event], Any]) -> Callable[[], None]:
    """Call ``callback(event)`` after every agent/tool/llm/task/memory block; returns an
    unsubscribe function. A callback that raises is logged once and never reaches the agent.

    >>> from agentinsight import emit
    >>> seen = []
    >>> unsubscribe = emit.subscribe(seen.append)
    >>> with emit.tool_call("web_search"):
    ...     pass
    >>> seen[-1].kind, seen[-1].name, seen[-1].status
    ('tool', 'web_search', 'success')
    >>> unsubscribe()
    """
    if not callable(callback):
        from agentinsight.exceptions import ConfigurationError

        raise ConfigurationError(f"subscribe() takes a callable; got {callback!r}")
    with _lock:
        subscribers.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in subscribers:
                subscribers.remove(callback)

    return unsubscribe


def publish(event: Event) -> None:
    """Hand ``event`` to every subscriber, containing their failures."""
    for callback in list(subscribers):
        try:
            callback(event)
        except Exception:
            if id(callback) not in _failed:
                _failed.add(id(callback))
                _log.exception(
                    "agentinsight.emit: subscriber %r raised; the agent is not affected (further "
                    "failures of this subscriber are not logged)", callback,
                )
