"""HTTP plumbing shared by the server sources: retries, and errors that say what went wrong.

Retries (with exponential backoff) only happen for reads, which are all these sources do, and
only on connection errors, HTTP 429 and HTTP 5xx; a read timeout is reported at once, never
retried (the server is already struggling). Every error is a :class:`SourceError` subclass whose
message names the URL, the query and the server's own words.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import requests
from urllib3.util.retry import Retry

from agentinsight.exceptions import (
    QueryError,
    ServerError,
    SourceConnectionError,
    SourceError,
    SourceTimeoutError,
)

__all__ = ["ServerWarning", "get", "interactive", "make_retry", "mount_retries"]

RETRY_STATUSES = (429, 500, 502, 503, 504)


class ServerWarning(UserWarning):
    """A warning the server attached to an otherwise successful answer."""


def make_retry(retries: int, backoff: float = 0.5) -> Retry:
    """Retry reads on connection errors, 429 and 5xx; never on read timeouts."""
    return Retry(
        total=retries, connect=retries, read=False, status=retries, other=0,
        backoff_factor=backoff, status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET", "POST"}),  # every request here is a read
        raise_on_status=False, respect_retry_after_header=True,
    )


def mount_retries(session: requests.Session, url: str, retries: int) -> None:
    adapter = requests.adapters.HTTPAdapter(max_retries=make_retry(retries), pool_maxsize=16)
    session.mount(url, adapter)


def _server_message(response: requests.Response) -> str:
    """The server's own explanation: Prometheus' ``error``, Jaeger's ``error.message`` or
    ``errors[].msg``, else the body's start."""
    text = response.text
    try:
        body = json.loads(text)
    except ValueError:
        return text.strip()[:500]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        if isinstance(body.get("errors"), list) and body["errors"]:
            return "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e)
                             for e in body["errors"])
    return text.strip()[:500]


def _error_type(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("errorType") if isinstance(body, dict) else None


def get(session: requests.Session, url: str, *, params: Any = None, query: str | None = None,
        timeout: float | None = None, headers: Mapping[str, str] | None = None,
        auth: Any = None, ok: tuple[int, ...] = (200,)) -> requests.Response:
    """GET ``url``; return the response when its status is in ``ok``, else raise the
    :class:`SourceError` subclass that fits."""
    try:
        response = session.get(url, params=params, timeout=timeout, headers=headers, auth=auth)
    except requests.exceptions.ConnectTimeout as exc:
        raise SourceConnectionError(f"could not connect within {timeout} s ({_reason(exc)})",
                                    url=url, query=query) from None
    except requests.exceptions.Timeout:
        raise SourceTimeoutError(f"no answer within {timeout} s", url=url, query=query) from None
    except requests.exceptions.ConnectionError as exc:
        if "Read timed out" in str(exc):
            raise SourceTimeoutError(f"no answer within {timeout} s", url=url,
                                     query=query) from None
        raise SourceConnectionError(f"cannot reach the server ({_reason(exc)})", url=url,
                                    query=query) from None
    except requests.exceptions.RequestException as exc:
        raise SourceError(f"request failed ({_reason(exc)})", url=url, query=query) from None
    status = response.status_code
    if status in ok:
        return response
    message = _server_message(response)

    def error(cls: type[SourceError], text: str) -> SourceError:
        return cls(text, url=url, query=query, server_message=message, status_code=status)

    if _error_type(response) == "timeout" or status == 504:
        raise error(SourceTimeoutError, "the server gave up on the query (timeout)")
    if status in (400, 422):
        raise error(QueryError, "the server rejected the query")
    if status >= 500:
        raise error(ServerError, "the server failed")
    if status in (401, 403):
        raise error(SourceError, "not authorised (check headers= / auth=)")
    raise error(ServerError, "unexpected answer")


def _reason(exc: BaseException) -> str:
    """The innermost cause, without urllib3's object reprs."""
    text = str(exc)
    for marker in ("Caused by ", "NewConnectionError("):
        if marker in text:
            text = text.split(marker, 1)[1]
    return text.strip("()'\" ")[:300]


def interactive() -> bool:
    """Whether a person is watching: a terminal on stderr, or a Jupyter kernel."""
    if "ipykernel" in sys.modules:
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def warn_server(messages: list[str], url: str, query: str | None) -> None:
    for message in messages:
        where = f" for query {query!r}" if query else ""
        warnings.warn(f"{url}{where}: {message}", ServerWarning, stacklevel=3)
