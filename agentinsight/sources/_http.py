"""What the server sources add to the shared HTTP client (:mod:`agentinsight._http`): the
warnings a server attaches to a good answer, and whether a person is watching a long pull.

Retries (with exponential backoff) happen on connection errors, HTTP 429 and HTTP 5xx; a read
timeout is reported at once, never retried (the server is already struggling). Every error is a
:class:`~agentinsight.exceptions.SourceError` subclass whose message names the URL, the query
and the server's own words.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

from agentinsight._http import Client, Response

__all__ = ["ServerWarning", "get", "interactive", "warn_server"]


class ServerWarning(UserWarning):
    """A warning the server attached to an otherwise successful answer."""


def get(client: Client, url: str, *, params: Any = None, query: str | None = None,
        timeout: float | None = None, ok: tuple[int, ...] = (200,)) -> Response:
    """GET ``url``; return the response when its status is in ``ok``, else raise the
    :class:`~agentinsight.exceptions.SourceError` subclass that fits."""
    return client.get(url, params=params, query=query, timeout=timeout, ok=ok)


def interactive() -> bool:
    """Whether a person is watching: a terminal on stderr, or a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def warn_server(messages: list[str], url: str, query: str | None) -> None:
    for message in messages:
        where = f" for query {query!r}" if query else ""
        warnings.warn(f"{url}{where}: {message}", ServerWarning, stacklevel=3)
