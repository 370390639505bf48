"""One small HTTP client for every part that talks to a server: sources, alerts, the stack.

Standard library only (``http.client``), so pushing alerts or starting a server needs no HTTP
library. A :class:`Client` keeps idle keep-alive connections in a pool that threads share
(a connection serves one request at a time), retries with exponential backoff, and maps every
failure into the :class:`~agentinsight.exceptions.SourceError` tree:

- refused connection, DNS failure, connect timeout, broken connection →
  :class:`~agentinsight.exceptions.SourceConnectionError` (a ``ConnectionError``);
- no answer within the timeout, HTTP 504, Prometheus' ``errorType: timeout`` →
  :class:`~agentinsight.exceptions.SourceTimeoutError` (a ``TimeoutError``);
- HTTP 400/422 → :class:`~agentinsight.exceptions.QueryError`; 5xx and other unexpected
  statuses → :class:`~agentinsight.exceptions.ServerError`; 401/403 → ``SourceError``.

Each error carries the URL (its password shown as ``***``, see :func:`redact_url`), the query
and the server's own message. Connection errors, HTTP 429
and 5xx are retried (honouring ``Retry-After``); a read timeout only when ``retry_timeouts`` is
set (a server that is already struggling is not asked again by default). Proxies from the
standard ``http_proxy``/``https_proxy``/``no_proxy`` variables are honoured.

>>> client = Client(timeout=5, retries=0)
>>> try:
...     client.get("http://127.0.0.1:1/api/v1/query", query="up")
... except ConnectionError as exc:
...     print(type(exc).__name__, "|", str(exc).split(" | ", 1)[1])
SourceConnectionError | url: http://127.0.0.1:1/api/v1/query | query: up
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import ssl
import threading
import time
import urllib.parse
import urllib.request
import weakref
import zlib
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentinsight.exceptions import (
    QueryError,
    ServerError,
    SourceConnectionError,
    SourceError,
    SourceTimeoutError,
)

__all__ = [
    "Client",
    "RETRY_STATUSES",
    "Response",
    "redact_url",
    "server_message",
]

#: Statuses worth asking again: too many requests, and the server failing for now.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_RETRY_AFTER = 30.0
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 5
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
          ConnectionAbortedError)
_NO_JSON = object()
# scheme://user:password@ — the password runs to the last "@" before the path, as urlsplit reads it.
_USERINFO = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^:/?#@\s]*):[^/?#\s]*@")

Params = Mapping[str, Any] | Iterable[tuple[str, Any]] | None
_Key = tuple[str, str, int]


@dataclass
class Response:
    """A complete answer: status, final URL (with the query string; a password in it shown as
    ``***``), headers and body."""

    status_code: int
    url: str
    headers: Any = field(repr=False)  # a case-insensitive mapping (http.client.HTTPMessage)
    content: bytes = field(repr=False)

    @property
    def text(self) -> str:
        """The body as text (UTF-8 unless the server names another charset)."""
        charset = "utf-8"
        kind = self.headers.get("Content-Type") or ""
        for part in kind.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.content.decode(charset, "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body decoded as JSON; ``ValueError`` when it is not JSON."""
        return json.loads(self.content)


def redact_url(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***``: for a URL, or for a
    message that quotes URLs. Use it wherever a URL is printed, stored or served.

    >>> redact_url("http://user:s3cret@prometheus:9090/api/v1/query?query=up")
    'http://user:***@prometheus:9090/api/v1/query?query=up'
    >>> redact_url("cannot reach https://admin:p@ss:w0rd@host/x; http://plain:9090 is fine")
    'cannot reach https://admin:***@host/x; http://plain:9090 is fine'
    """
    if "@" not in text:
        return text
    return _USERINFO.sub(r"\g<head>:***@", text)


def server_message(content: bytes) -> str:
    """The server's own explanation in an error body: Prometheus' ``error``, Jaeger's
    ``error.message`` or ``errors[].msg``, Alertmanager's JSON string or ``message``, else the
    body's start.

    >>> server_message(b'{"status":"error","errorType":"bad_data","error":"parse error"}')
    'parse error'
    >>> server_message(b'"maxFailures: Invalid value"'), server_message(b"  plain text ")
    ('maxFailures: Invalid value', 'plain text')
    """
    text = content.decode("utf-8", "replace").strip()
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500]
    if isinstance(body, str):
        return body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str) and error:
            return error
        if isinstance(error, dict) and "message" in error:
            return str(error["message"])
        errors = body.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(str(e.get("msg", e)) if isinstance(e, dict) else str(e)
                             for e in errors)
        if "message" in body:
            return str(body["message"])
    return text[:500]


class _AuthRequest:
    """What a requests-style auth callable is handed: it may change ``headers``."""

    def __init__(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> None:
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body


def _basic(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if isinstance(verify, str):
        import os

        if os.path.isdir(verify):
            return ssl.create_default_context(capath=verify)
        return ssl.create_default_context(cafile=verify)
    return ssl.create_default_context()


def _close_all(idle: dict[_Key, list[http.client.HTTPConnection]]) -> None:
    for connections in list(idle.values()):
        for connection in connections:
            connection.close()
    idle.clear()


class _Failure(Exception):
    """A transport failure before a complete answer arrived."""

    def __init__(self, kind: str, reason: str) -> None:
        reason = redact_url(reason)
        super().__init__(reason)
        self.kind = kind  # "connect", "connect-timeout", "timeout" or "broken"
        self.reason = reason


class Client:
    """An HTTP client with a shared keep-alive pool, retries and :class:`SourceError` mapping.

    ``headers`` go with every request. ``auth`` is ``(user, password)`` for basic auth, an
    object with ``username``/``password`` (like ``requests.auth.HTTPBasicAuth``), or a callable
    that takes a request object and sets ``headers`` on it (like a requests auth class).
    ``verify`` checks TLS certificates (``False`` to skip, or a CA bundle file or folder).
    ``timeout`` is seconds per attempt to connect and between bytes of the answer.
    ``retries`` and ``backoff``: up to ``retries`` more attempts, waiting ``backoff * 2**n`` s.
    ``pool_size`` idle connections are kept per server (0: a new connection per request).
    """

    def __init__(self, *, headers: Mapping[str, str] | None = None, auth: Any = None,
                 verify: bool | str = True, timeout: float = 30.0, retries: int = 3,
                 backoff: float = 0.5, retry_timeouts: bool = False, pool_size: int = 16) -> None:
        self.headers = dict(headers or {})
        self.auth = auth
        self.verify = verify
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self.retry_timeouts = retry_timeouts
        self.pool_size = pool_size
        self._lock = threading.Lock()
        self._idle: dict[_Key, list[http.client.HTTPConnection]] = {}
        self._context: ssl.SSLContext | None = None
        self._proxies = urllib.request.getproxies()
        self._finalizer = weakref.finalize(self, _close_all, self._idle)

    def close(self) -> None:
        """Close the idle connections (the client stays usable)."""
        with self._lock:
            _close_all(self._idle)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, **options: Any) -> Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> Response:
        """``request("POST", url, ...)``."""
        return self.request("POST", url, **options)

    def request(self, method: str, url: str, *, params: Params = None, body: bytes | None = None,
                json: Any = _NO_JSON, headers: Mapping[str, str] | None = None,
                query: str | None = None, ok: Container[int] | None = (200,),
                timeout: float | None = None, what: str = "") -> Response:
        """Send one request (retrying as configured); return the answer when its status is in
        ``ok`` (any status when ``ok`` is None), else raise the :class:`SourceError` that fits.

        ``json`` sends a value as a JSON body; ``query`` names what was asked in errors (e.g.
        the PromQL); ``what`` starts every error message (e.g. ``"load_jaeger_otlp(f.jsonl)"``).
        """
        if params:
            items = params.items() if isinstance(params, Mapping) else params
            encoded = urllib.parse.urlencode([(k, v) for k, v in items if v is not None],
                                             doseq=True)
            full = f"{url}{'&' if '?' in url else '?'}{encoded}"
        else:
            full = url
        send = dict(self.headers)
        send.setdefault("Accept-Encoding", "gzip, deflate")
        if json is not _NO_JSON:
            import json as _json

            body = _json.dumps(json, separators=(",", ":")).encode()
            send["Content-Type"] = "application/json"
        send.update(headers or {})
        send = self._authorise(method, full, send, body)
        wait = self.timeout if timeout is None else timeout
        prefix = f"{what}: " if what else ""
        shown = redact_url(url)  # errors name the URL, never its password
        attempt = 0
        while True:
            response: Response | None = None
            try:
                response = self._follow(method, full, body, send, wait)
            except _Failure as failure:
                error: SourceError = self._transport_error(failure, prefix, shown, query, wait)
                retry = failure.kind != "timeout" or self.retry_timeouts
            else:
                if ok is None or response.status_code in ok:
                    return response
                error = _status_error(response, prefix, shown, query)
                retry = response.status_code in RETRY_STATUSES
            if not retry or attempt >= self.retries:
                raise error
            attempt += 1
            time.sleep(self._delay(attempt, response))

    # --- internals -------------------------------------------------------------------------

    def _authorise(self, method: str, url: str, headers: dict[str, str],
                   body: bytes | None) -> dict[str, str]:
        auth = self.auth
        if auth is None:
            parts = urllib.parse.urlsplit(url)
            if parts.username is not None and "Authorization" not in headers:
                headers["Authorization"] = _basic(urllib.parse.unquote(parts.username),
                                                  urllib.parse.unquote(parts.password or ""))
            return headers
        if isinstance(auth, tuple | list) and len(auth) == 2:
            headers["Authorization"] = _basic(str(auth[0]), str(auth[1]))
        elif hasattr(auth, "username") and hasattr(auth, "password"):
            headers["Authorization"] = _basic(str(auth.username), str(auth.password))
        elif callable(auth):
            prepared = auth(_AuthRequest(method, url, headers, body))
            headers = dict(getattr(prepared, "headers", headers))
        else:
            raise SourceError(f"auth must be (user, password) or a callable, got {auth!r}",
                              url=redact_url(url))
        return headers

    def _follow(self, method: str, url: str, body: bytes | None, headers: dict[str, str],
                timeout: float) -> Response:
        """One attempt, following redirects as browsers do (303, and 301/302 after a POST,
        continue as GET; credentials are not sent to another host)."""
        for _ in range(_MAX_REDIRECTS):
            response = self._once(method, url, body, headers, timeout)
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            target = urllib.parse.urljoin(url, location)
            if urllib.parse.urlsplit(target).netloc != urllib.parse.urlsplit(url).netloc:
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if response.status_code == 303 or (response.status_code in (301, 302)
                                               and method == "POST"):
                method, body = "GET", None
                headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
            url = target
        return self._once(method, url, body, headers, timeout)

    def _delay(self, attempt: int, response: Response | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        if response is not None:
            after = response.headers.get("Retry-After")
            if after and after.strip().isdigit():
                delay = max(delay, min(float(after), _MAX_RETRY_AFTER))
        return delay

    def _transport_error(self, failure: _Failure, prefix: str, url: str, query: str | None,
                         wait: float) -> SourceError:
        if failure.kind == "timeout":
            return SourceTimeoutError(f"{prefix}no answer within {wait:g} s", url=url,
                                      query=query)
        if failure.kind == "connect-timeout":
            return SourceConnectionError(
                f"{prefix}could not connect within {wait:g} s ({failure.reason})",
                url=url, query=query)
        if failure.kind == "broken":
            return SourceConnectionError(f"{prefix}the connection failed ({failure.reason})",
                                         url=url, query=query)
        return SourceConnectionError(f"{prefix}cannot reach the server ({failure.reason})",
                                     url=url, query=query)

    def _connection(self, key: _Key, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle:
                connection = idle.pop()
                connection.timeout = timeout
                if connection.sock is not None:
                    connection.sock.settimeout(timeout)
                return connection, True
        scheme, host, port = key
        proxy = self._proxy(scheme, host)
        if proxy is not None:
            proxy_parts = urllib.parse.urlsplit(proxy)
            proxy_host = proxy_parts.hostname or ""
            proxy_port = proxy_parts.port or (443 if proxy_parts.scheme == "https" else 80)
            proxy_headers = ({"Proxy-Authorization": _basic(
                urllib.parse.unquote(proxy_parts.username),
                urllib.parse.unquote(proxy_parts.password or ""))}
                if proxy_parts.username else {})
            if scheme == "https":
                tunnel = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeout,
                                                     context=self._tls())
                tunnel.set_tunnel(host, port, headers=proxy_headers)
                return tunnel, False
            direct = http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout)
            direct._agentinsight_proxy_headers = proxy_headers  # type: ignore[attr-defined]
            return direct, False
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=timeout,
                                               context=self._tls()), False
        return http.client.HTTPConnection(host, port, timeout=timeout), False

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = _ssl_context(self.verify)
        return self._context

    def _proxy(self, scheme: str, host: str) -> str | None:
        proxy = self._proxies.get(scheme)
        if not proxy or urllib.request.proxy_bypass(host):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def _release(self, key: _Key, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < self.pool_size:
                idle.append(connection)
                return
        connection.close()

    def _once(self, method: str, url: str, body: bytes | None, headers: Mapping[str, str],
              timeout: float) -> Response:
        parts = urllib.parse.urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise _Failure("connect", f"not an http:// or https:// URL: {url!r}")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError as exc:
            raise _Failure("connect", str(exc)) from None
        key = (scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for fresh in (False, True):
            connection, reused = self._connection(key, timeout)
            proxy_headers = getattr(connection, "_agentinsight_proxy_headers", None)
            path = target
            send = dict(headers)
            if proxy_headers is not None:  # plain HTTP through a proxy: absolute URL
                path = urllib.parse.urlunsplit((scheme, parts.netloc.rpartition("@")[2],
                                                parts.path or "/", parts.query, ""))
                send.update(proxy_headers)
            if connection.sock is None:
                try:
                    connection.connect()
                except TimeoutError as exc:
                    connection.close()
                    raise _Failure("connect-timeout", str(exc) or "timed out") from None
                except (OSError, http.client.HTTPException) as exc:
                    connection.close()
                    raise _Failure("connect", str(exc) or type(exc).__name__) from None
            try:
                connection.request(method, path, body=body, headers=send)
                answer = connection.getresponse()
                content = answer.read()
            except TimeoutError:
                connection.close()
                raise _Failure("timeout", "timed out") from None
            except _STALE as exc:
                connection.close()
                if reused and not fresh:
                    continue  # the server closed an idle keep-alive connection: a new one
                raise _Failure("broken", str(exc) or type(exc).__name__) from None
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                raise _Failure("broken", str(exc) or type(exc).__name__) from None
            try:
                content = _decoded(content, answer.getheader("Content-Encoding"))
            except _Failure:
                connection.close()
                raise
            if answer.will_close or self.pool_size <= 0:
                connection.close()
            else:
                self._release(key, connection)
            return Response(answer.status, redact_url(url), answer.headers, content)
        raise AssertionError("unreachable")  # pragma: no cover


def _decoded(content: bytes, encoding: str | None) -> bytes:
    if not encoding or not content:
        return content
    encoding = encoding.strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(content)
            except zlib.error:
                return zlib.decompress(content, -zlib.MAX_WBITS)
    except zlib.error as exc:
        raise _Failure("broken", f"cannot decode the {encoding} body ({exc})") from None
    return content


def _status_error(response: Response, prefix: str, url: str, query: str | None) -> SourceError:
    status = response.status_code
    message = redact_url(server_message(response.content))

    def error(cls: type[SourceError], text: str) -> SourceError:
        return cls(prefix + text, url=url, query=query, server_message=message,
                   status_code=status)

    if status == 504 or _error_type(response) == "timeout":
        return error(SourceTimeoutError, "the server gave up on the query (timeout)")
    if status in (400, 422):
        return error(QueryError, "the server rejected the query" if query
                     else "the server refused the request")
    if status >= 500:
        return error(ServerError, "the server failed")
    if status in (401, 403):
        return error(SourceError, "not authorised (check headers= / auth=)")
    return error(ServerError, "unexpected answer")


def _error_type(response: Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("errorType") if isinstance(body, dict) else None

