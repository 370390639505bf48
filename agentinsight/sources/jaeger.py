"""JaegerSource: traces from Jaeger's query APIs into the spans frame.

api_v3 first (``/api/v3/traces``, ``/api/v3/services``, ``/api/v3/operations``; OTLP JSON parsed by
:mod:`agentinsight.sources.otlp`), falling back to the v1 JSON API (``/api/traces``,
``/api/services``, ``/api/services/{service}/operations``) when the server has no api_v3.

Completeness: a search returns at most ``page_traces`` traces (Jaeger's search depth counts
traces, not spans) and has no cursor. When a time window comes back full, it is cut in two and
each half fetched, recursively, until every window holds fewer traces than asked; spans are then
de-duplicated by ``(trace_id, span_id)``, so each span of each matching trace appears once.

A trace matches when one of its spans (in ``service``, named ``operation``, lasting at least
``min_duration``, carrying every ``attributes`` key/value) starts inside ``[start, end]``; the
whole trace is returned, as in Jaeger's UI. Jaeger 1.76's HTTP api_v3 ignores attribute filters,
so with api_v3 they are applied here, with the same rule; the v1 API filters by ``tags``.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from agentinsight._http import Client, Response, redact_url
from agentinsight._time import rfc3339_from_ns
from agentinsight.exceptions import ConfigurationError, ServerError, SourceError
from agentinsight.frames import empty_spans_frame
from agentinsight.sources import _http
from agentinsight.sources._time import parse_duration, time_range
from agentinsight.sources.otlp import (
    GENAI_ATTRIBUTES,
    SERVICE_ATTRIBUTE,
    TOKEN_ATTRIBUTES,
    SpanColumns,
    parse_otlp_text,
)

__all__ = ["JaegerSource", "spans_from_v1"]

_V1_KINDS = {"internal", "server", "client", "producer", "consumer"}
_V1_DROP = {"span.kind", "otel.status_code", "otel.status_description", "error",
            "otel.scope.name", "otel.scope.version", "internal.span.format"}


class JaegerSource:
    """Query a Jaeger server (v2, or v1 with the query service) into spans frames.

    ``api``: ``"auto"`` (api_v3, else v1), ``"v3"`` or ``"v1"``. ``page_traces``: traces asked
    per search request (at most the server's in-memory ``max_traces``). ``timeout`` is per
    request, in seconds; ``retries`` apply to connection errors, 429 and 5xx.

    ``url`` is the server's URL as shown in errors and ``repr``: a password in it appears as
    ``***`` (requests still send it).

    >>> jaeger = JaegerSource("http://localhost:16686")
    >>> jaeger.api  # doctest: +SKIP
    'v3'
    """

    def __init__(self, url: str, timeout: float = 30, *, api: str = "auto",
                 page_traces: int = 1000, retries: int = 3,
                 headers: Mapping[str, str] | None = None, auth: Any = None,
                 verify: bool | str = True) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            shown = redact_url(url) if isinstance(url, str) else url
            raise ConfigurationError(f"JaegerSource: url must start with http:// or https://, "
                                     f"got {shown!r}")
        if api not in ("auto", "v3", "v1"):
            raise ConfigurationError(f"JaegerSource: api must be 'auto', 'v3' or 'v1', got {api!r}")
        if page_traces < 1:
            raise ConfigurationError(f"JaegerSource: page_traces must be >= 1, got {page_traces}")
        self._url = url.rstrip("/")  # requests go here (credentials included)
        self.url = redact_url(self._url)  # what is shown and stored: the password as ***
        self.timeout = timeout
        self.page_traces = page_traces
        self._api = None if api == "auto" else api
        self._client = Client(headers=headers, auth=auth, verify=verify, timeout=timeout,
                              retries=retries)
        self.requests = 0

    def __repr__(self) -> str:
        return f"JaegerSource({self.url!r})"

    @property
    def api(self) -> str:
        """The API in use: ``"v3"`` or ``"v1"`` (probed once when ``api="auto"``)."""
        if self._api is None:
            response = self._get("/api/v3/services", ok=(200, 404))
            self._api = "v3" if response.status_code == 200 else "v1"
        return self._api

    def _get(self, path: str, params: Any = None, query: str | None = None,
             ok: tuple[int, ...] = (200,)) -> Response:
        self.requests += 1
        return _http.get(self._client, f"{self._url}{path}", params=params, query=query,
                         timeout=self.timeout, ok=ok)

    def _json(self, response: Response, query: str | None) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ServerError("the answer is not JSON", url=response.url, query=query,
                              server_message=response.text[:300]) from None

    # --- listing -----------------------------------------------------------------------------

    def services(self) -> list[str]:
        """Sorted service names the server knows.

        >>> jaeger.services()  # doctest: +SKIP
        ['support-bot']
        """
        if self.api == "v3":
            body = self._json(self._get("/api/v3/services"), None)
            return sorted(body.get("services") or [])
        body = self._json(self._get("/api/services"), None)
        return sorted(body.get("data") or [])

    def operations(self, service: str) -> list[str]:
        """Sorted operation (span) names of a service.

        >>> jaeger.operations("support-bot")  # doctest: +SKIP
        """
        if self.api == "v3":
            body = self._json(self._get("/api/v3/operations", {"service": service}), service)
            return sorted({op["name"] for op in body.get("operations") or []})
        body = self._json(self._get(f"/api/services/{quote(service, safe='')}/operations"),
                          service)
        return sorted(set(body.get("data") or []))

    # --- traces ------------------------------------------------------------------------------

    def trace(self, trace_id: str) -> pd.DataFrame:
        """Every span of one trace (an empty frame when the server does not have it).

        >>> jaeger.trace("0af7651916cd43dd8448eb211c80319c")  # doctest: +SKIP
        """
        trace_id = str(trace_id).lower()
        if self.api == "v3":
            response = self._get(f"/api/v3/traces/{trace_id}", query=trace_id, ok=(200, 404))
            if response.status_code == 404:
                return empty_spans_frame()
            return parse_otlp_text(response.content, where=response.url)
        response = self._get(f"/api/traces/{trace_id}", query=trace_id, ok=(200, 404))
        if response.status_code == 404:
            return empty_spans_frame()
        return spans_from_v1(self._json(response, trace_id))

    def traces(self, service: str, start: Any = "now-1d", end: Any = "now",
               operation: str | None = None, attributes: Mapping[str, Any] | None = None,
               min_duration: Any = None, limit: int | None = None) -> pd.DataFrame:
        """Every span of every trace matching the search (see the module doc), each once.

        ``limit`` keeps only the most recent ``limit`` traces. ``min_duration`` is seconds or a
        string like ``"1.5s"``.

        >>> jaeger.traces("support-bot", start="now-1d",  # doctest: +SKIP
        ...               attributes={"gen_ai.agent.name": "planner"})
        """
        if not service:
            raise ConfigurationError("JaegerSource.traces: a service name is required")
        begin, finish = time_range(start, end)
        attrs = {str(k): _attr_text(v) for k, v in (attributes or {}).items()}
        search = _Search(service, operation, attrs,
                         parse_duration(min_duration, what="min_duration")
                         if min_duration is not None else None)
        frames: list[pd.DataFrame] = []
        seen: set[str] = set()
        # Newest windows first, so that ``limit`` keeps the most recent traces.
        pending = [(begin.value, finish.value)]
        while pending:
            lo, hi = pending.pop()
            answer = self._search(search, lo, hi)
            # A full answer is cut in two before parsing it: its halves are fetched anyway.
            if answer.traces >= self.page_traces:
                # The halves share their boundary instant (no gap whatever the API's time
                # resolution; de-duplication removes what both return).
                resolution = 1 if self.api == "v3" else 1000
                if hi - lo >= 2 * resolution:
                    mid = lo + (hi - lo) // 2
                    pending += [(lo, mid), (mid, hi)]
                    continue
                warnings.warn(f"{self.url}: more than {self.page_traces} traces start within "
                              f"one microsecond; some may be missing (raise page_traces)",
                              stacklevel=2)
            frame = answer.frame()
            if attrs and self.api == "v3":
                frame = _filter_attributes(frame, search, lo, hi)
            frames.append(frame)
            seen.update(frame["trace_id"].unique())
            if limit is not None and len(seen) >= limit:
                break
        if not frames:
            return empty_spans_frame()
        spans = pd.concat([f for f in frames if len(f)] or [empty_spans_frame()],
                          ignore_index=True)
        spans = spans.drop_duplicates(["trace_id", "span_id"], ignore_index=True)
        if limit is not None and spans["trace_id"].nunique() > limit:
            first = spans.groupby("trace_id")["start"].min().sort_values(ascending=False)
            spans = spans[spans["trace_id"].isin(first.index[:limit])].reset_index(drop=True)
        return spans

    def _search(self, search: _Search, lo: int, hi: int) -> _Answer:
        """One search request for traces with a matching span starting in [lo, hi] (ns)."""
        if self.api == "v3":
            params = {"query.service_name": search.service,
                      "query.start_time_min": rfc3339_from_ns(lo),
                      "query.start_time_max": rfc3339_from_ns(hi),
                      "query.num_traces": str(self.page_traces)}
            if search.operation:
                params["query.operation_name"] = search.operation
            if search.min_duration is not None:
                params["query.duration_min"] = f"{int(search.min_duration * 1e9)}ns"
            response = self._get("/api/v3/traces", params, search.describe(), ok=(200, 404))
            if response.status_code == 404:
                return _Answer(0, empty_spans_frame)
            content, where = response.content, response.url
            return _Answer(_count_ids(content, b"traceId"),
                           lambda: parse_otlp_text(content, where=where))
        params = {"service": search.service, "start": str(lo // 1000),
                  "end": str(-(-hi // 1000)), "limit": str(self.page_traces)}
        if search.operation:
            params["operation"] = search.operation
        if search.min_duration is not None:
            params["minDuration"] = f"{int(search.min_duration * 1e6)}us"
        if search.attributes:
            params["tags"] = json.dumps(search.attributes)
        response = self._get("/api/traces", params, search.describe())
        content = response.content
        if b'"errors":null' not in content and b'"errors"' in content:
            body = self._json(response, search.describe())
            if body.get("errors"):
                raise ServerError("the search failed", url=response.url,
                                  query=search.describe(),
                                  server_message=json.dumps(body["errors"])[:300])
        return _Answer(_count_ids(content, b"traceID"),
                       lambda: spans_from_v1(self._json(response, search.describe())))


class _Answer:
    """A search answer: how many traces it holds (counted without parsing) and its frame."""

    def __init__(self, traces: int, parse: Callable[[], pd.DataFrame]) -> None:
        self.traces = traces
        self.frame = parse


def _count_ids(content: bytes, key: bytes) -> int:
    """Distinct trace ids in a raw answer (a regex scan, far cheaper than parsing it)."""
    return len(set(re.findall(b'"' + key + rb'"\s*:\s*"([^"]*)"', content)))


class _Search:
    def __init__(self, service: str, operation: str | None, attributes: dict[str, str],
                 min_duration: float | None) -> None:
        self.service = service
        self.operation = operation
        self.attributes = attributes
        self.min_duration = min_duration

    def describe(self) -> str:
        parts = [f"service={self.service}"]
        if self.operation:
            parts.append(f"operation={self.operation}")
        parts += [f"{k}={v}" for k, v in self.attributes.items()]
        if self.min_duration is not None:
            parts.append(f"min_duration={self.min_duration}s")
        return " ".join(parts)


def _attr_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filter_attributes(frame: pd.DataFrame, search: _Search, lo: int, hi: int) -> pd.DataFrame:
    """Keep the traces with one span that meets the whole search, attributes included."""
    if not len(frame):
        return frame
    start_ns = frame["start"].astype("int64").to_numpy()
    ok = (frame["service"] == search.service).to_numpy() & (start_ns >= lo) & (start_ns <= hi)
    if search.operation:
        ok &= (frame["name"] == search.operation).to_numpy()
    if search.min_duration is not None:
        ok &= frame["duration_ms"].to_numpy() >= search.min_duration * 1000
    columns = {**GENAI_ATTRIBUTES, **TOKEN_ATTRIBUTES, SERVICE_ATTRIBUTE: "service"}
    for key, wanted in search.attributes.items():
        values = frame["attributes"].map(lambda a, k=key: _attr_or_none(a.get(k)))
        if key in columns:  # read into a column, unless another alias won it
            values = values.where(values.notna(), frame[columns[key]].map(_attr_or_none))
        ok &= (values == wanted).to_numpy()
    keep = frame.loc[ok, "trace_id"].unique()
    return frame[frame["trace_id"].isin(keep)].reset_index(drop=True)


def _attr_or_none(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return _attr_text(value)


def _v1_id(value: str, width: int) -> str:
    value = (value or "").lower()
    return value.rjust(width, "0") if value else ""


def spans_from_v1(body: Mapping[str, Any]) -> pd.DataFrame:
    """The spans frame of a Jaeger v1 JSON answer (``{"data": [trace, ...]}``).

    The first ``CHILD_OF`` reference within the span's own trace gives the parent (Jaeger's
    rule; a reference into another trace is not a parent), microseconds become nanoseconds, and the
    ``span.kind``, ``otel.status_code`` / ``error`` and ``otel.status_description`` tags fill
    ``kind``, ``status`` and ``status_message``.

    >>> spans_from_v1({"data": []}).shape[0]
    0
    """
    cols = SpanColumns()
    try:
        for trace in body.get("data") or []:
            processes = trace.get("processes") or {}
            for span in trace.get("spans") or []:
                tags = {t["key"]: _v1_value(t) for t in span.get("tags") or []}
                trace_id = _v1_id(span["traceID"], 32)
                parent = ""
                for ref in span.get("references") or []:
                    # Jaeger's own rule: the first CHILD_OF within the same trace; a reference
                    # into another trace is a link, not a parent
                    if (ref.get("refType") == "CHILD_OF"
                            and _v1_id(ref.get("traceID") or span["traceID"], 32) == trace_id):
                        parent = _v1_id(ref.get("spanID"), 16)
                        break
                code = str(tags.get("otel.status_code", "")).lower()
                status = code if code in ("ok", "error") else (
                    "error" if tags.get("error") in (True, "true") else "unset")
                kind = str(tags.get("span.kind", "internal")).lower()
                start_ns = int(span["startTime"]) * 1000
                message = str(tags.get("otel.status_description", ""))
                attrs = {k: v for k, v in tags.items() if k not in _V1_DROP}
                service = (processes.get(span.get("processID")) or {}).get("serviceName")
                cols.add_span(trace_id, _v1_id(span["spanID"], 16), parent,
                              service, span.get("operationName", ""),
                              kind if kind in _V1_KINDS else "unspecified", start_ns,
                              start_ns + int(span.get("duration", 0)) * 1000, status, message,
                              attrs)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SourceError(f"not a Jaeger v1 traces answer ({exc!r})") from None
    return cols.frame()


def _v1_value(tag: Mapping[str, Any]) -> Any:
    value, kind = tag.get("value"), str(tag.get("type", "string")).lower()
    if value is None:
        return None
    if kind == "int64":
        return int(value)
    if kind == "float64":
        return float(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    return value
