"""PrometheusSource: the Prometheus HTTP API (Prometheus, VictoriaMetrics, Thanos, Mimir) into
metrics frames.

Requests go through the package's one HTTP client (headers, auth, TLS, retries, a keep-alive
pool shared by the concurrent chunk pulls) so the server's own error text and warnings reach the
user, and answers are converted with vectorised numpy code (:mod:`agentinsight.sources._promjson`).

Range queries: ``step=None`` picks the smallest multiple of the scrape interval that keeps a
series under 11,000 points. A finer step over a long range is split into chunks of at most
11,000 evaluation times, fetched concurrently and joined with no repeated or missing points
(chunks continue the same ``start + k*step`` grid); with many series the chunks are shorter, so
each answer holds about a million points; each series' points become arrays while its answer is
decoded, and the chunks' arrays are written once into the frame's columns. A chunk the server
refuses for its sample limit (HTTP 422 "too many samples") is split further, by series for a
plain selector, else by time. A progress bar shows for multi-chunk pulls when someone is
watching (terminal or notebook).

The helpers (``rate``, ``token_usage``, ``error_ratio``, ``latency_quantiles``) are pushed down as
PromQL and mean exactly what the FileSource computes from raw samples; see
:mod:`agentinsight.sources` for the step/window rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from agentinsight._http import Client, redact_url
from agentinsight.exceptions import ConfigurationError, QueryError, ServerError
from agentinsight.frames import empty_metrics_frame
from agentinsight.sources import _http
from agentinsight.sources._cache import QueryCache, aligned
from agentinsight.sources._helpers import (
    MAX_POINTS,
    TOKEN_MIN_SCRAPES,
    Grid,
    check_by,
    grid,
    matcher_text,
    quantile_name,
    quantiles,
)
from agentinsight.sources._promjson import Part, answer_part, decode_answer, join_parts
from agentinsight.sources._protocol import ExemplarSource, Matchers
from agentinsight.sources._time import format_duration, parse_duration, parse_time, time_range

__all__ = ["PrometheusSource"]

_SCRAPE = re.compile(r"^\s*scrape_interval:\s*(\S+)", re.M)
# A vector selector alone: a metric name, label matchers in braces, or both.
_PLAIN_SELECTOR = re.compile(
    r"\s*(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)?\s*(?:\{(?P<matchers>[^{}]*)\})?\s*")
_RE2_SPECIAL = re.compile(r"[\\.+*?()|\[\]{}^$]")
#: Points (series x evaluation times) one chunk of a long pull asks for, at most (about 22 MB
#: of JSON text, 16 MB once converted); four chunks are in flight at once by default.
POINT_BUDGET = 1_000_000
# What Prometheus says when a query would exceed --query.max-samples.
_TOO_MANY_SAMPLES = "too many samples"


class PrometheusSource(ExemplarSource):
    """Query a Prometheus-compatible server into metrics frames.

    ``headers`` (e.g. ``{"Authorization": "Bearer ..."}``), ``auth`` (``(user, password)``, or
    a requests-style auth that sets headers), ``verify`` (TLS verification, or a CA bundle
    path), ``timeout``
    (seconds per request), ``retries`` (for connection errors, 429 and 5xx),
    ``scrape_interval`` (for the automatic step; default: read from the server's config, else
    1m), ``max_workers`` (concurrent chunk requests), ``progress`` (``None`` = when interactive),
    ``cache_dir`` (keep settled range results there as parquet; start and end are then aligned
    down to the step, see :mod:`agentinsight.sources._cache`).

    ``url`` is the server's URL as shown in errors, ``repr`` and ``frame.attrs``: a password in
    it appears as ``***`` (requests still send it).

    >>> prom = PrometheusSource("http://localhost:9090")
    >>> prom.url
    'http://localhost:9090'
    """

    def __init__(self, url: str, headers: Mapping[str, str] | None = None, auth: Any = None,
                 verify: bool | str = True, timeout: float = 30, *, retries: int = 3,
                 scrape_interval: Any = None, max_workers: int = 4,
                 progress: bool | None = None, cache_dir: str | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            shown = redact_url(url) if isinstance(url, str) else url
            raise ConfigurationError(f"PrometheusSource: url must start with http:// or https://, "
                                     f"got {shown!r}")
        self._url = url.rstrip("/")  # requests go here (credentials included)
        self.url = redact_url(self._url)  # what is shown and stored: the password as ***
        self.timeout = timeout
        self.max_workers = max_workers
        self.progress = progress
        self._cache = QueryCache(cache_dir) if cache_dir else None
        self._scrape = (parse_duration(scrape_interval, what="scrape_interval")
                        if scrape_interval is not None else None)
        self._client = Client(headers=headers, auth=auth, verify=verify, timeout=timeout,
                              retries=retries)

    def __repr__(self) -> str:
        return f"PrometheusSource({self.url!r})"

    # --- plumbing ----------------------------------------------------------------------------

    def _get(self, path: str, params: Any, query: str | None = None, *, points: bool = False
             ) -> dict[str, Any]:
        """The answer's JSON; with ``points`` each series' points are decoded into arrays
        (:func:`~agentinsight.sources._promjson.decode_answer`)."""
        url = f"{self.url}{path}"
        response = _http.get(self._client, f"{self._url}{path}", params=params, query=query,
                             timeout=self.timeout)
        try:
            body = decode_answer(response.content) if points else response.json()
        except ServerError as exc:  # a point that is not [time, "number"]
            raise ServerError(str(exc), url=url, query=query) from None
        except ValueError:
            raise ServerError("the answer is not JSON", url=url, query=query,
                              server_message=response.text[:300]) from None
        if not isinstance(body, dict) or body.get("status") != "success":
            raise ServerError("the answer is not a Prometheus API success", url=url,
                              query=query, server_message=str(body)[:300])
        messages = [*(body.get("warnings") or []), *(body.get("infos") or [])]
        if messages:
            _http.warn_server(messages, url, query)
        body["_messages"] = messages
        return body

    @property
    def scrape_interval(self) -> float:
        """Seconds between scrapes, for the automatic step."""
        if self._scrape is None:
            self._scrape = 60.0
            try:
                body = self._get("/api/v1/status/config", None)
                match = _SCRAPE.search(body["data"]["yaml"])
                if match:
                    self._scrape = parse_duration(match.group(1))
            except Exception:  # noqa: BLE001 - VictoriaMetrics and proxies lack this endpoint
                pass
        return self._scrape

    def _scrape_interval(self) -> float:
        return self.scrape_interval

    # --- raw queries -------------------------------------------------------------------------

    def range(self, query: str, start: Any = "now-7d", end: Any = "now", step: Any = None
              ) -> pd.DataFrame:
        """A PromQL range query as a metrics frame (``metric`` = ``__name__``, else the query).

        Server warnings are issued as :class:`ServerWarning` and kept in ``frame.attrs``.

        >>> prom.range("sum by (agent) (rate(agent_execution_total[5m]))")  # doctest: +SKIP
        """
        return self._range(query, grid(start, end, step, self._scrape_interval), name=query)

    def _range(self, query: str, g: Grid, name: str) -> pd.DataFrame:
        if self._cache is not None:
            g = aligned(g)
            frame = self._cache.get(self.url, query, g)
            if frame is not None:
                return frame
        frame = self._fetch_range(query, g, name)
        if self._cache is not None:
            self._cache.put(self.url, query, g, frame)
        return frame

    def _fetch_range(self, query: str, g: Grid, name: str) -> pd.DataFrame:
        chunks = _chunks(g)
        if len(chunks) > 1:
            # A long pull of many series: one answer of 11,000 points per series can be
            # gigabytes of JSON. Ask at the range's end how many series there are and cut
            # chunks so that each answer holds about POINT_BUDGET points.
            probe, _ = self._range_chunk(query, Grid(g.end_ms, g.end_ms, g.step_ms), name)
            series = max(1, sum(p.rows for p in probe))
            chunks = _chunks(g, max(1, min(MAX_POINTS, POINT_BUDGET // series)))
        if len(chunks) == 1:
            parts, messages = self._range_chunk(query, chunks[0], name)
        else:
            parts, messages = [], []
            for chunk_parts, chunk_messages in self._fetch_all(query, chunks, name):
                parts.extend(chunk_parts)
                messages.extend(chunk_messages)
        frame = join_parts(parts, release=True)
        del parts
        frame.attrs.update(query=query, url=self.url, step=g.step, chunks=len(chunks),
                           warnings=messages)
        return frame

    def _range_chunk(self, query: str, g: Grid, name: str) -> tuple[list[Part], list[str]]:
        """One chunk's answer, already converted to compact arrays (its JSON is never whole).

        A chunk the server refuses for its sample limit (``--query.max-samples``, HTTP 422
        "too many samples") is asked again in parts: a plain selector by series (halves of one
        label's values), anything else by time (halves of the grid), until each part fits."""
        try:
            part, messages = self._range_once(query, g, name)
            return [part], messages
        except QueryError as exc:
            if _TOO_MANY_SAMPLES not in str(exc):
                raise
            parts = self._series_parts(query, g)
            if parts is None:
                if g.points < 2:
                    raise
                mid = g.start_ms + (g.points // 2) * g.step_ms
                parts = [(query, Grid(g.start_ms, mid - g.step_ms, g.step_ms)),
                         (query, Grid(mid, g.end_ms, g.step_ms))]
        found, messages = [], []
        for part_query, part_grid in parts:
            more, part_messages = self._range_chunk(part_query, part_grid, name)
            found.extend(more)
            messages.extend(part_messages)
        return found, messages

    def _series_parts(self, query: str, g: Grid) -> list[tuple[str, Grid]] | None:
        """``query`` (a plain selector) split in two by the values of the label that varies
        most among the series it selects; ``None`` when that is not possible."""
        match = _PLAIN_SELECTOR.fullmatch(query)
        if match is None:
            return None
        params = [("match[]", query), ("start", f"{g.start_ms / 1000:.3f}"),
                  ("end", f"{g.end_ms / 1000:.3f}")]
        series = self._get("/api/v1/series", params, query)["data"] or []
        values: dict[str, set[str]] = {}
        for labels in series:
            for label, value in labels.items():
                if label != "__name__":
                    values.setdefault(label, set()).add(value)
        if not values:
            return None
        label, found = max(values.items(), key=lambda item: (len(item[1]), item[0]))
        if len(found) < 2:
            return None
        ordered = sorted(found)
        half = len(ordered) // 2
        # series without the label match label="" and go with the first half
        groups = [["", *ordered[:half]], ordered[half:]]
        name = match.group("name") or ""
        inner = (match.group("matchers") or "").strip().rstrip(",").strip()
        out = []
        for group in groups:
            alternatives = "|".join(_RE2_SPECIAL.sub(r"\\\g<0>", v) for v in group)
            matcher = f'{label}=~"{_promql_string(alternatives)}"'
            out.append((f"{name}{{{inner + ', ' if inner else ''}{matcher}}}", g))
        return out

    def _range_once(self, query: str, g: Grid, name: str) -> tuple[Part, list[str]]:
        params = {"query": query, "start": f"{g.start_ms / 1000:.3f}",
                  "end": f"{g.end_ms / 1000:.3f}", "step": g.step}
        body = self._get("/api/v1/query_range", params, query, points=True)
        return self._part(body.pop("data"), name, "/api/v1/query_range", query), \
            body["_messages"]

    def _part(self, data: Any, name: str, path: str, query: str) -> Part:
        try:
            if not isinstance(data, dict):
                raise ServerError("the answer has no data object")
            return answer_part(data, name, mapped=True)
        except ServerError as exc:  # the answer is malformed: say where it came from
            raise ServerError(str(exc), url=f"{self.url}{path}", query=query) from None

    def _fetch_all(self, query: str, chunks: list[Grid], name: str
                   ) -> list[tuple[list[Part], list[str]]]:
        show = self.progress if self.progress is not None else _http.interactive()
        with ThreadPoolExecutor(max_workers=max(1, self.max_workers)) as pool:
            futures = [pool.submit(self._range_chunk, query, c, name) for c in chunks]
            if show:
                from concurrent.futures import as_completed

                from tqdm.auto import tqdm

                for _ in tqdm(as_completed(futures), total=len(futures), desc="chunks",
                              unit="chunk", leave=False):
                    pass
            return [f.result() for f in futures]

    def instant(self, query: str, at: Any = None) -> pd.DataFrame:
        """A PromQL instant query at ``at`` (default: now) as a metrics frame.

        >>> prom.instant("sum by (model) (llm_tokens_used_total)")  # doctest: +SKIP
        """
        params = {"query": query}
        if at is not None:
            params["time"] = f"{parse_time(at, what='at').value / 1e9:.3f}"
        body = self._get("/api/v1/query", params, query, points=True)
        frame = join_parts([self._part(body["data"], query, "/api/v1/query", query)])
        frame.attrs.update(query=query, url=self.url, warnings=body["_messages"])
        return frame

    def series(self, match: str | Sequence[str], start: Any = "now-1d", end: Any = "now"
               ) -> pd.DataFrame:
        """One row per series matching the selector(s), one column per label.

        >>> prom.series('agent_execution_total{status="error"}')  # doctest: +SKIP
        """
        begin, finish = time_range(start, end)
        matches = [match] if isinstance(match, str) else list(match)
        params = [("match[]", m) for m in matches]
        params += [("start", f"{begin.value / 1e9:.3f}"), ("end", f"{finish.value / 1e9:.3f}")]
        body = self._get("/api/v1/series", params, ", ".join(matches))
        return pd.DataFrame(body["data"] or [], dtype=object)

    def label_values(self, label: str, match: str | None = None, start: Any = None,
                     end: Any = None) -> list[str]:
        """Sorted values of ``label`` (optionally only in series matching ``match``).

        >>> prom.label_values("agent")  # doctest: +SKIP
        ['coder', 'planner', 'researcher']
        """
        params: list[tuple[str, str]] = [("match[]", match)] if match else []
        if start is not None or end is not None:
            begin, finish = time_range(start or "now-1d", end or "now")
            params += [("start", f"{begin.value / 1e9:.3f}"), ("end", f"{finish.value / 1e9:.3f}")]
        body = self._get(f"/api/v1/label/{label}/values", params, match)
        return sorted(body["data"] or [])

    def exemplars(self, query: str, start: Any = "now-1h", end: Any = "now") -> pd.DataFrame:
        """Exemplars of the series a query selects: ``timestamp``, ``value``, ``trace_id``,
        ``span_id`` and the series' labels (``metric`` = ``__name__``).

        >>> prom.exemplars("agent_execution_duration_seconds_bucket")  # doctest: +SKIP
        """
        begin, finish = time_range(start, end)
        params = {"query": query, "start": f"{begin.value / 1e9:.3f}",
                  "end": f"{finish.value / 1e9:.3f}"}
        body = self._get("/api/v1/query_exemplars", params, query)
        rows = []
        for group in body["data"] or []:
            labels = dict(group.get("seriesLabels") or {})
            metric = labels.pop("__name__", query)
            for ex in group.get("exemplars") or []:
                ex_labels = ex.get("labels") or {}
                rows.append({"timestamp": ex["timestamp"], "metric": metric,
                             "value": float(ex["value"]),
                             "trace_id": ex_labels.get("trace_id", ex_labels.get("traceID")),
                             "span_id": ex_labels.get("span_id", ex_labels.get("spanID")),
                             **labels})
        columns = ["timestamp", "metric", "value", "trace_id", "span_id"]
        if not rows:
            frame = empty_metrics_frame()
            frame["trace_id"] = pd.Series([], dtype=object)
            frame["span_id"] = pd.Series([], dtype=object)
            return frame
        frame = pd.DataFrame(rows)
        frame["timestamp"] = pd.to_datetime(
            np.round(frame["timestamp"].to_numpy(float) * 1000).astype("int64") * 1_000_000,
            utc=True)
        for col in frame.columns:
            if col not in ("timestamp", "value", "trace_id", "span_id"):
                frame[col] = frame[col].astype("category")
        rest = [c for c in frame.columns if c not in columns]
        return frame[columns + rest].sort_values("timestamp", ignore_index=True)

    # --- helpers -----------------------------------------------------------------------------

    def rate(self, metric: str, by: str | Iterable[str] | None = (), start: Any = "now-1d",
             end: Any = "now", step: Any = None, window: Any = "5m", matchers: Matchers = None
             ) -> pd.DataFrame:
        """``sum by (by) (rate(metric{matchers}[window]))`` per step; metric ``<metric>:rate``.

        >>> prom.rate("tool_usage_total", by=["tool"], start="now-6h")  # doctest: +SKIP
        """
        by = check_by(by)
        g = grid(start, end, step, self._scrape_interval)
        w = _window(window)
        query = f"sum by ({', '.join(by)}) (rate({_selector(metric, matchers)}[{w}]))"
        return _shape(self._range(query, g, query), f"{metric}:rate", by)

    def token_usage(self, by: str | Iterable[str] | None = ("model", "token_type"),
                    start: Any = "now-1d", end: Any = "now", step: Any = None,
                    matchers: Matchers = None, metric: str = "llm_tokens_used_total"
                    ) -> pd.DataFrame:
        """Tokens used per step: ``sum by (by) (increase(llm_tokens_used_total[step]))``;
        summing a group's points gives its total. Metric ``llm_tokens_used_total:increase``.

        >>> prom.token_usage(by=["model"], start="now-7d", step="1d")  # doctest: +SKIP
        """
        by = check_by(by)
        g = grid(start, end, step, self._scrape_interval, min_scrapes=TOKEN_MIN_SCRAPES)
        while True:
            query = (f"sum by ({', '.join(by)}) "
                     f"(increase({_selector(metric, matchers)}[{g.step}]))")
            frame = self._range(query, g, query)
            # The automatic step follows the server's scrape interval; history loaded at a
            # coarser interval (a backfill) holds fewer than two samples per step, and
            # increase() is then empty: widen the step until its windows hold the data.
            if len(frame) or step is not None or g.step_ms * 4 > g.end_ms - g.start_ms:
                return _shape(frame, f"{metric}:increase", by)
            g = Grid(g.start_ms, g.end_ms, g.step_ms * 4)

    def error_ratio(self, metric: str = "agent_execution_total",
                    by: str | Iterable[str] | None = ("agent",), start: Any = "now-1d",
                    end: Any = "now", step: Any = None, window: Any = "5m",
                    matchers: Matchers = None, error: str = 'status="error"') -> pd.DataFrame:
        """``sum by (by) (rate(m{error}[w])) / sum by (by) (rate(m[w]))``; metric
        ``<metric>:error_ratio``. Groups with no error series have no points, as in PromQL.

        >>> prom.error_ratio(by=["agent"], start="now-1d")  # doctest: +SKIP
        """
        by = check_by(by)
        g = grid(start, end, step, self._scrape_interval)
        w = _window(window)
        base = matcher_text(matchers)
        errors_only = ",".join(p for p in (base, matcher_text(error)) if p)
        grouping = f"sum by ({', '.join(by)})"
        query = (f"{grouping} (rate({_selector(metric, errors_only)}[{w}])) / "
                 f"{grouping} (rate({_selector(metric, base)}[{w}]))")
        return _shape(self._range(query, g, query), f"{metric}:error_ratio", by)

    def latency_quantiles(self, metric: str = "agent_execution_duration_seconds",
                          q: float | Sequence[float] = 0.95,
                          by: str | Iterable[str] | None = ("agent",), start: Any = "now-1d",
                          end: Any = "now", step: Any = None, window: Any = "5m",
                          matchers: Matchers = None) -> pd.DataFrame:
        """``histogram_quantile(q, sum by (le, by) (rate(metric_bucket[window])))`` per step;
        metric ``<metric>:p95`` (one metric per quantile when ``q`` is a list).

        >>> prom.latency_quantiles(q=[0.5, 0.95, 0.99], by=["agent"])  # doctest: +SKIP
        """
        by = check_by(by)
        g = grid(start, end, step, self._scrape_interval)
        w = _window(window)
        inner = (f"sum by ({', '.join(['le', *by])}) "
                 f"(rate({_selector(metric + '_bucket', matchers)}[{w}]))")
        frames = []
        for quantile in quantiles(q):
            query = f"histogram_quantile({quantile!r}, {inner})"
            frames.append(_shape(self._range(query, g, query), quantile_name(metric, quantile),
                                 by))
        if len(frames) == 1:
            return frames[0]
        names = [str(f["metric"].cat.categories[0]) for f in frames]
        out = pd.concat(frames, ignore_index=True)
        out["metric"] = pd.Categorical(out["metric"].astype(str), categories=names)
        for label in by:
            out[label] = out[label].astype("category")
        return out


def _chunks(g: Grid, size: int = MAX_POINTS) -> list[Grid]:
    """The grid cut into runs of at most ``size`` evaluation times, on the same grid."""
    out = []
    for first in range(0, g.points, size):
        last = min(first + size, g.points) - 1
        out.append(Grid(g.start_ms + first * g.step_ms, g.start_ms + last * g.step_ms, g.step_ms))
    return out


def _promql_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _window(window: Any) -> str:
    return format_duration(parse_duration(window, what="window"))


def _selector(metric: str, matchers: Matchers) -> str:
    if not re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", metric):
        raise ConfigurationError(f"{metric!r} is not a metric name")
    text = matcher_text(matchers)
    return f"{metric}{{{text}}}" if text else metric


def _shape(frame: pd.DataFrame, name: str, by: list[str]) -> pd.DataFrame:
    """A helper's frame: metric renamed to ``name``, label columns exactly ``by``, sorted."""
    attrs = dict(frame.attrs)
    out = pd.DataFrame({
        "timestamp": frame["timestamp"],
        "metric": pd.Categorical.from_codes(np.zeros(len(frame), "int8"), [name]),
        "value": frame["value"],
    })
    for label in by:
        out[label] = (frame[label] if label in frame.columns
                      else pd.Categorical([None] * len(frame)))
        out[label] = out[label].astype(object).astype("category")
    out = out.sort_values([*by, "timestamp"], kind="stable", ignore_index=True)
    out.attrs.update(attrs)
    return out
