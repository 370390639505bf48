"""The context variables that carry the current agent into nested blocks, threads and tasks."""

from __future__ import annotations

from contextvars import ContextVar

#: Name of the innermost ``agent_run`` ("" outside any run).
current_agent: ContextVar[str] = ContextVar("agentinsight_current_agent", default="")
