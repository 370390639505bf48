"""A virtual-time scheduler for the simulated fleet.

Each simulated activity (a task, the arrival stream, ...) is a coroutine that awaits
``sleep(seconds)``; the scheduler jumps the virtual clock straight to the next wake-up, so a week
of fleet time runs as fast as the code in between. Every coroutine runs in its own copy of the
``contextvars`` context (as asyncio tasks do), so ``emit``'s nesting of spans and agent labels
stays correct while many tasks interleave. Plain callbacks (the scraper) can be scheduled too;
at equal times, coroutines run before callbacks, so a scrape at ``t`` sees everything that
finished at or before ``t``.

Nothing here touches the real clock or an event loop: the run is fully deterministic.
"""

from __future__ import annotations

import contextvars
import heapq
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["Scheduler", "sleep", "sleep_ns"]

_NS = 1_000_000_000


class _Sleep:
    __slots__ = ("ns",)

    def __init__(self, ns: int) -> None:
        self.ns = ns

    def __await__(self) -> Generator[_Sleep, None, None]:
        yield self


def sleep(seconds: float) -> _Sleep:
    """Awaitable that suspends the calling coroutine for ``seconds`` of virtual time."""
    return _Sleep(max(0, int(seconds * _NS)))


def sleep_ns(ns: int) -> _Sleep:
    """Awaitable that suspends the calling coroutine for ``ns`` virtual nanoseconds."""
    return _Sleep(max(0, ns))


class Scheduler:
    """Runs coroutines and callbacks in virtual time (nanoseconds since the epoch)."""

    def __init__(self, start_ns: int) -> None:
        self.now_ns = start_ns
        self._heap: list[tuple[int, int, int, Any, Any]] = []
        self._seq = 0
        self._base = contextvars.copy_context()
        self.running = 0

    def clock(self) -> int:
        """The virtual time in epoch nanoseconds (the clock handed to ``emit.use_clock``)."""
        return self.now_ns

    def spawn(self, coro: Coroutine[Any, Any, Any], at_ns: int | None = None) -> None:
        """Start ``coro`` at ``at_ns`` (default: now) in a fresh copy of the base context."""
        self._seq += 1
        self.running += 1
        when = self.now_ns if at_ns is None else at_ns
        heapq.heappush(self._heap, (when, 0, self._seq, self._base.copy(), coro))

    def call_at(self, at_ns: int, fn: Callable[[], Any]) -> None:
        """Call ``fn()`` at ``at_ns``, after the coroutines due at the same instant."""
        self._seq += 1
        heapq.heappush(self._heap, (at_ns, 1, self._seq, None, fn))

    def run(self) -> None:
        """Run until nothing is left to do."""
        heap = self._heap
        pop, push = heapq.heappop, heapq.heappush
        sleep_type = _Sleep
        while heap:
            when, prio, _, ctx, item = pop(heap)
            self.now_ns = when
            if prio:
                item()
                continue
            try:
                req = ctx.run(item.send, None)
            except StopIteration:
                self.running -= 1
                continue
            if type(req) is not sleep_type:  # pragma: no cover - a programming error
                raise RuntimeError(f"simulated coroutine awaited {req!r}; only sleep() is allowed")
            self._seq += 1
            push(heap, (when + req.ns, 0, self._seq, ctx, item))
