"""The simulation/test seam: an optional clock that replaces real time inside emit."""

from __future__ import annotations

import time
from collections.abc import Callable

#: The installed clock (epoch nanoseconds) or ``None`` for real time.
clock: Callable[[], int] | None = None


def use_clock(fn: Callable[[], int] | None) -> None:
    """Take time from ``fn`` (a callable returning epoch nanoseconds), or real time with ``None``.

    This is the simulation and test seam: span start/end times, the durations observed in
    histograms and log timestamps all come from ``fn`` while it is installed. A simulator advances
    its virtual clock inside the blocks:

    >>> from agentinsight import emit
    >>> now = [1_700_000_000 * 10**9]
    >>> emit.use_clock(lambda: now[0])
    >>> with emit.tool_call("web_search"):
    ...     now[0] += 800_000_000  # the tool "takes" 0.8 s
    >>> emit.use_clock(None)
    """
    global clock
    if fn is not None and not callable(fn):
        from agentinsight.exceptions import ConfigurationError

        raise ConfigurationError(
            f"use_clock() takes a callable returning epoch nanoseconds, or None; got {fn!r}"
        )
    clock = fn


def now_ns() -> int:
    """Epoch nanoseconds from the installed clock, or real time."""
    return clock() if clock is not None else time.time_ns()
