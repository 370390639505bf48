"""A batching span processor that never slows the agent down and says what it dropped.

Finished spans go into a bounded queue; a worker thread exports them in batches. When the queue
is full, new spans are dropped and counted (``block_when_full=False``, for network exporters) or
the producer waits for room (``block_when_full=True``, for local files, where dropping would
silently lose a simulator's data). A failing exporter logs one warning per outage and an info
line when it recovers; its own per-attempt log lines are silenced on the worker thread.

A process forked after the processor was made (gunicorn and celery workers, ``multiprocessing``
with the fork start method) inherits the queue and locks but not the worker thread. The child
re-creates them, as OpenTelemetry's own batch processor does, so its spans are exported by its own
worker; spans queued in the parent before the fork stay the parent's to export, not written twice.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentinsight._http import redact_url
from agentinsight.emit import _errors

_THREAD_NAME = "agentinsight-span-export"
_MESSAGE_LIMIT = 2000  # an error body quoted by the exporter can be long
_QUIET_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http._common",
    "opentelemetry.exporter.otlp.common.http",
    "urllib3.connectionpool",
)


#: The processor whose worker is the current thread, so the exporter's words reach its state.
_worker = threading.local()


class _WorkerThreadFilter(logging.Filter):
    """Drops exporter log records made on our worker thread: the processor reports once, quoting
    the exporter's own message (a refused connection, an HTTP status) as soon as it is logged."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not (record.threadName or "").startswith(_THREAD_NAME):
            return True
        processor = getattr(_worker, "processor", None)
        if processor is not None and record.levelno >= logging.WARNING:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record must not break export
                message = str(record.msg)
            processor._exporter_said(message)
        return False


_filter = _WorkerThreadFilter()
for _name in _QUIET_LOGGERS:
    logging.getLogger(_name).addFilter(_filter)


class BatchProcessor(SpanProcessor):
    """Bounded queue + worker thread; see the module docstring."""

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        description: str,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_ms: int = 5000,
        block_when_full: bool = False,
        exporter_in_child: Callable[[], SpanExporter] | None = None,
    ) -> None:
        self.exporter = exporter
        # A connection or open file shared with the parent must not be used by both processes:
        # given this, a forked child exports through a fresh exporter of its own.
        self.exporter_in_child = exporter_in_child
        self._inherited: list[SpanExporter] = []
        self.description = description
        self.max_queue_size = max_queue_size
        self.batch_size = min(max_export_batch_size, max_queue_size)
        self.delay_s = schedule_delay_ms / 1000.0
        self.block_when_full = block_when_full
        self.queue: collections.deque[ReadableSpan] = collections.deque()
        self.dropped = 0
        self.exported = 0
        self.failed = 0
        self.failing = False
        self.last_error = ""
        self._attempt_error = ""
        self._stopping = False
        self._start_worker()
        if hasattr(os, "register_at_fork"):
            reinit = weakref.WeakMethod(self._after_fork_in_child)

            def after_in_child() -> None:
                method = reinit()
                if method is not None:
                    method()

            os.register_at_fork(after_in_child=after_in_child)

    def _start_worker(self) -> None:
        self._wake = threading.Event()
        self._room = threading.Condition()
        self._idle = threading.Condition()
        self._flush_requests = 0
        self._flushed = 0
        # One key for "failing" and "dropping": an outage produces one warning, not two.
        self._warn_key = f"export-trouble:{id(self)}:{os.getpid()}"
        self._worker = threading.Thread(target=self._run, name=_THREAD_NAME, daemon=True)
        self._worker.start()

    def _after_fork_in_child(self) -> None:
        """Runs in a forked child: its own worker, locks and (empty) queue; see the docstring."""
        if self._stopping:
            return
        try:
            # The parent's queued spans are the parent's to export.
            self.queue = collections.deque()
            self.dropped = self.exported = self.failed = 0
            self.failing = False
            self.last_error = ""
            if self.exporter_in_child is not None:
                # Kept, not shut down: closing it could flush or close what the parent still uses.
                self._inherited.append(self.exporter)
                self.exporter = self.exporter_in_child()
            self._start_worker()
        except Exception as exc:  # the child must start even if its telemetry cannot
            self._stopping = True
            _errors.internal_error("re-creating span export in a forked process", exc)

    # -- producer side (the agent's threads) ------------------------------------------------
    def on_start(self, span: Any, parent_context: Any = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        if self._stopping or not span.context.trace_flags.sampled:
            return
        queue = self.queue
        if len(queue) >= self.max_queue_size:
            if not self.block_when_full:
                self.dropped += 1
                _errors.warn_once(
                    self._warn_key,
                    "agentinsight.emit: span export queue (%d spans) is full; spans are dropped "
                    "and counted until %s catches up", self.max_queue_size, self.description,
                )
                return
            with self._room:
                while len(queue) >= self.max_queue_size and not self._stopping:
                    self._wake.set()
                    self._room.wait(0.05)
        queue.append(span)
        if len(queue) >= self.batch_size:
            self._wake.set()

    # -- worker side -------------------------------------------------------------------------
    def _run(self) -> None:
        _worker.processor = self
        while True:
            self._wake.wait(self.delay_s)
            self._wake.clear()
            with self._idle:
                target = self._flush_requests
            self._drain()
            with self._idle:
                self._flushed = max(self._flushed, target)
                self._idle.notify_all()
            if self._stopping:
                return

    def _drain(self) -> None:
        queue = self.queue
        while queue:
            batch: list[ReadableSpan] = []
            while queue and len(batch) < self.batch_size:
                batch.append(queue.popleft())
            if self.block_when_full:
                with self._room:
                    self._room.notify_all()
            self._export(batch)

    def _exporter_said(self, message: str) -> None:
        """The exporter logged a failed attempt: report it now, not when its retries run out."""
        # The first message names the cause ("Connection refused"); the last says how it ended.
        first = self._attempt_error.split(" … ", 1)[0]
        said = message if not first or first == message else f"{first} … {message}"
        self._attempt_error = said[:_MESSAGE_LIMIT]
        self._failed_attempt(self._attempt_error)

    def _failed_attempt(self, error: str) -> None:
        self.failing = True
        self.last_error = error
        _errors.warn_once(
            self._warn_key,
            "agentinsight.emit: span export to %s failed (%s); the agent carries on, spans are "
            "queued up to the queue limit (beyond it dropped and counted) and export resumes when "
            "the endpoint is back",
            self.description, redact_url(error),
        )

    def _export(self, batch: list[ReadableSpan]) -> None:
        self._attempt_error = ""
        try:
            result = self.exporter.export(batch)
            error = "" if result is SpanExportResult.SUCCESS else (
                self._attempt_error or "the exporter reported failure")
        except Exception as exc:  # never let the worker thread die
            error = f"{type(exc).__name__}: {exc}"
        if not error:
            self.exported += len(batch)
            if self.failing:
                self.failing = False
                _errors.forget(self._warn_key)
                _errors.logger.info("agentinsight.emit: span export to %s resumed",
                                    self.description)
            return
        self.failed += len(batch)
        self._failed_attempt(error)

    # -- control -----------------------------------------------------------------------------
    def force_flush(self, timeout_millis: int = 30000) -> bool:
        if not self._worker.is_alive():
            return not self.queue
        deadline = time.monotonic() + timeout_millis / 1000.0
        with self._idle:
            self._flush_requests += 1
            wanted = self._flush_requests
            self._wake.set()
            while self._flushed < wanted:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def shutdown(self, timeout_millis: int = 10000) -> None:
        if self._stopping:
            return
        deadline = time.monotonic() + timeout_millis / 1000.0
        self.force_flush(timeout_millis)
        self._stopping = True
        self._wake.set()
        with self._room:
            self._room.notify_all()
        self._worker.join(timeout=max(0.05, deadline - time.monotonic()))
        try:
            self.exporter.shutdown()
        except Exception as exc:
            _errors.internal_error("span exporter shutdown", exc)

    def state(self) -> dict[str, Any]:
        """What /health reports about the exporter."""
        return {
            "exporter": self.description,
            "state": "failing" if self.failing else "ok",
            "queued": len(self.queue),
            "exported": self.exported,
            "failed": self.failed,
            "dropped": self.dropped,
            "last_error": self.last_error,
        }
