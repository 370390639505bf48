"""The exception tree. Every error the toolkit raises on purpose derives from one root.

Each subclass also inherits the builtin that a caller would naturally catch, so
``except ValueError`` or ``except ConnectionError`` keeps working::

    AgentInsightError
    ├── ConfigurationError        (ValueError)    bad argument or setting, caught at set-up time
    ├── InvalidTimeError          (ValueError)    unparseable time, or start > end
    ├── SchemaError               (ValueError)    a frame lacks a column or has the wrong dtype
    ├── SourceError                               talking to a server or reading a file went wrong
    │   ├── SourceConnectionError (ConnectionError) server unreachable / connection refused
    │   ├── SourceTimeoutError    (TimeoutError)  server did not answer in time
    │   ├── QueryError            (ValueError)    the server rejected the query (HTTP 400/422)
    │   ├── ServerError                           the server failed (HTTP 5xx, unexpected body)
    │   └── ParseError            (ValueError)    a corrupt line or document in a file
    ├── StackError                (RuntimeError)  a local server could not be started
    ├── ReportError               (RuntimeError)  a report notebook failed or could not run
    └── AlertError                                pushing alerts failed

Source errors carry ``url``, ``query`` and ``server_message`` attributes where known, and their
message names all three.
"""

from __future__ import annotations

__all__ = [
    "AgentInsightError",
    "AlertError",
    "ConfigurationError",
    "InvalidTimeError",
    "ParseError",
    "QueryError",
    "ReportError",
    "SchemaError",
    "ServerError",
    "SourceConnectionError",
    "SourceError",
    "SourceTimeoutError",
    "StackError",
]


class AgentInsightError(Exception):
    """Root of every error agentinsight raises on purpose."""


class ConfigurationError(AgentInsightError, ValueError):
    """A bad argument or setting, reported when it is given rather than on first use."""


class InvalidTimeError(AgentInsightError, ValueError):
    """A time that cannot be parsed, or a range whose start is after its end."""


class SchemaError(AgentInsightError, ValueError):
    """A frame that does not have the columns or dtypes its contract requires."""


class SourceError(AgentInsightError):
    """Reading from a server or a file failed.

    ``url``, ``query`` and ``server_message`` hold what is known about the failing request.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        query: str | None = None,
        server_message: str | None = None,
        status_code: int | None = None,
    ) -> None:
        self.url = url
        self.query = query
        self.server_message = server_message
        self.status_code = status_code
        parts = [message]
        if url:
            parts.append(f"url: {url}")
        if query:
            parts.append(f"query: {query}")
        if status_code is not None:
            parts.append(f"HTTP {status_code}")
        if server_message:
            parts.append(f"server said: {server_message}")
        super().__init__(" | ".join(parts))


class SourceConnectionError(SourceError, ConnectionError):
    """The server could not be reached."""


class SourceTimeoutError(SourceError, TimeoutError):
    """The server did not answer within the timeout."""


class QueryError(SourceError, ValueError):
    """The server rejected the query as invalid (HTTP 400 or 422)."""


class ServerError(SourceError):
    """The server failed while answering (HTTP 5xx or a body that is not what the API promises)."""


class ParseError(SourceError, ValueError):
    """A line or document in a file could not be parsed; ``path`` and ``line`` say where."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if path and line is not None else (path or "")
        super().__init__(f"{where}: {message}" if where else message)


class StackError(AgentInsightError, RuntimeError):
    """A local server (Prometheus, Alertmanager, VictoriaMetrics, Jaeger) could not be started."""


class ReportError(AgentInsightError, RuntimeError):
    """A report could not be run, or its notebook failed."""


class AlertError(AgentInsightError):
    """Alerts could not be pushed or rendered."""
