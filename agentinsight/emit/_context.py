"""The context variable that carries the open blocks (and so the current agent) into nested
blocks, threads and tasks.

Each open block is a :class:`Frame` linked to the one it opened inside. Blocks are meant to close
innermost first; one that closes out of order is only marked closed, and the innermost block,
when it closes, restores the context from before the outermost of the closed ones, so nothing
stale (an ended span, a finished agent) stays current.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any


class Frame:
    """One open block: the agent it runs for, the frame it opened inside and the OpenTelemetry
    context that was current before it."""

    __slots__ = ("agent", "closed", "otel_before", "outer")

    def __init__(self, agent: str, outer: Frame | None, otel_before: Any) -> None:
        self.agent = agent
        self.outer = outer
        self.otel_before = otel_before
        self.closed = False


#: The innermost open block's frame (``None`` outside any block).
open_frame: ContextVar[Frame | None] = ContextVar("agentinsight_open_frame", default=None)


def current_agent() -> str:
    """Name of the innermost ``agent_run`` ("" outside any run)."""
    frame = open_frame.get()
    return "" if frame is None else frame.agent
