"""JSON-lines logs carrying the trace context, for files that Loki (or anything) ingests.

``get_logger(name)`` returns a plain stdlib logger with one emit handler attached. The handler
writes to stderr, or — when ``configure(log_dir=...)`` is set — to ``<log_dir>/agentinsight.log``
(rotated at UTC midnight) plus ``<log_dir>/agentinsight.error.log`` holding only errors.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import logging.handlers
import os
import sys
import threading
from typing import Any

from opentelemetry import trace

from agentinsight.emit import _clock, _context

# Attributes every LogRecord has; anything else on a record is an "extra" field.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp, level, message, logger, trace ids, agent, extras."""

    def format(self, record: logging.LogRecord) -> str:
        clock = _clock.clock
        ns = clock() if clock is not None else int(record.created * 1e9)
        stamp = _dt.datetime.fromtimestamp(ns / 1e9, tz=_dt.UTC)
        out: dict[str, object] = {
            "timestamp": stamp.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        agent = _context.current_agent()
        if agent:
            out["agent"] = agent
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _Dispatch(logging.Handler):
    """The one handler attached to every emit logger; forwards to the configured outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[logging.Handler] = []

    def emit(self, record: logging.LogRecord) -> None:
        for handler in self.outputs:
            if record.levelno >= handler.level:
                handler.handle(record)


_dispatch = _Dispatch()
_lock = threading.Lock()
_log_dir: object = ...  # sentinel: not configured yet


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test capture, redirection)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        return None


def _stderr_outputs() -> list[logging.Handler]:
    handler = _Stderr()
    handler.setFormatter(JsonFormatter())
    return [handler]


def reconfigure(log_dir: str | None) -> None:
    """Point every emit logger at stderr (``None``) or at rotated files in ``log_dir``."""
    global _log_dir
    with _lock:
        if log_dir == _log_dir:
            return
        old = _dispatch.outputs
        if log_dir is None:
            outputs = _stderr_outputs()
        else:
            os.makedirs(log_dir, exist_ok=True)
            formatter = JsonFormatter()
            main = logging.handlers.TimedRotatingFileHandler(
                os.path.join(log_dir, "agentinsight.log"), when="midnight", utc=True,
                encoding="utf-8", delay=True,
            )
            errors = logging.handlers.TimedRotatingFileHandler(
                os.path.join(log_dir, "agentinsight.error.log"), when="midnight", utc=True,
                encoding="utf-8", delay=True,
            )
            errors.setLevel(logging.ERROR)
            for handler in (main, errors):
                handler.setFormatter(formatter)
            outputs = [main, errors]
        _dispatch.outputs = outputs
        _log_dir = log_dir
        for previous in old:
            if not isinstance(previous, logging.StreamHandler) or isinstance(
                previous, logging.FileHandler
            ):
                previous.close()


def flush() -> None:
    """Flush every output."""
    for handler in list(_dispatch.outputs):
        with contextlib.suppress(OSError, ValueError):  # stream closed by the host at exit
            handler.flush()


def get_logger(name: str, level: int = logging.INFO) -> logging.Logger:
    """A stdlib logger writing JSON lines with ``trace_id``, ``span_id`` and ``agent``.

    Extra fields (``logger.info("done", extra={"rows": 3})``) become JSON fields. Set
    ``configure(log_dir=...)`` for daily-rotated files plus a separate error file.

    >>> from agentinsight import emit
    >>> log = emit.get_logger("support-bot")
    >>> with emit.agent_run("planner"):
    ...     log.info("planning", extra={"step": 1})  # {"message": "planning", "agent": ...}
    """
    logger = logging.getLogger(name)
    with _lock:
        if _log_dir is ...:
            _dispatch.outputs = _stderr_outputs()
            globals()["_log_dir"] = None
        if _dispatch not in logger.handlers:
            logger.addHandler(_dispatch)
            logger.propagate = False
            if logger.level == logging.NOTSET:
                logger.setLevel(level)
    return logger
