"""``connect()``: one object for a fleet's metrics and spans, whichever servers or files hold them.

Notebooks take their source as parameters (a files directory, or Prometheus and Jaeger URLs) and
call ``connect(...)``; everything after that line is the same code for every source.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import empty_spans_frame
from agentinsight.sources._time import parse_time

__all__ = ["Fleet", "connect"]


class Fleet:
    """Metrics (``.metrics``: a FileSource or PrometheusSource) and spans of one fleet.

    ``spans(start, end)`` reads the files' spans or searches Jaeger (every service, or the
    given ones). The metrics helpers (``rate``, ``error_ratio``, ``latency_quantiles``,
    ``token_usage``, ``range``, ``label_values``) are the metrics source's own.
    """

    def __init__(self, metrics: Any, traces: Any | None = None,
                 services: list[str] | None = None) -> None:
        self.metrics = metrics
        self.traces = traces
        self.services = services

    def __repr__(self) -> str:
        return f"Fleet(metrics={self.metrics!r}, traces={self.traces!r})"

    def __getattr__(self, name: str) -> Any:
        # The metrics helpers, so `fleet.rate(...)` reads like `source.rate(...)`.
        if name in {"rate", "error_ratio", "latency_quantiles", "token_usage", "range",
                    "label_values", "series", "scrape_interval", "exemplars"}:
            return getattr(self.metrics, name)
        raise AttributeError(name)

    def describe(self) -> str:
        """One line saying where the data comes from."""
        where = getattr(self.metrics, "url", None) or str(getattr(self.metrics, "directory", ""))
        spans = getattr(self.traces, "url", None) if self.traces is not None else "files"
        return f"metrics from {where}; spans from {spans or 'nowhere'}"

    def span_services(self) -> list[str]:
        """Services that have spans."""
        if self.traces is None:
            return list(self.metrics.services()) if hasattr(self.metrics, "services") else []
        return [s for s in self.traces.services() if s != "jaeger"]

    def spans(self, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Every span that starts in ``[start, end]`` as a spans frame."""
        if self.traces is None:
            if hasattr(self.metrics, "spans"):
                return self.metrics.spans(start, end)
            return empty_spans_frame()
        services = self.services or self.span_services()
        begin = parse_time(start if start is not None else "now-1d", what="start")
        finish = parse_time(end if end is not None else "now", what="end")
        frames = [self.traces.traces(s, start=begin, end=finish) for s in services]
        frames = [f for f in frames if len(f)]
        if not frames:
            return empty_spans_frame()
        # Jaeger answers with whole traces; keep the spans that start in the window, as the
        # files do, so that a report counts the same spans whichever source it reads.
        spans = pd.concat(frames, ignore_index=True)
        return spans[spans["start"].between(begin, finish)].reset_index(drop=True)

    def exemplar_frame(self, query: str, start: Any, end: Any) -> pd.DataFrame | None:
        """Exemplars (trace ids on histogram observations) where the source keeps them."""
        if hasattr(self.metrics, "exemplars"):
            try:
                return self.metrics.exemplars(query, start, end)
            except Exception:  # noqa: BLE001 - exemplar storage is optional on the server
                return None
        return None


def connect(source_dir: str | None = None, prometheus_url: str | None = None,
            jaeger_url: str | None = None, *, services: list[str] | str | None = None,
            **options: Any) -> Fleet:
    """A :class:`Fleet` from files (``source_dir``) or servers (``prometheus_url`` and
    optionally ``jaeger_url``); servers win when both are given. ``options`` go to the
    metrics source's constructor (``headers``, ``auth``, ``verify``, ``timeout`` ...).

    >>> import tempfile
    >>> connect(tempfile.mkdtemp()).describe().startswith("metrics from")
    True
    """
    from agentinsight.sources.files import FileSource
    from agentinsight.sources.jaeger import JaegerSource
    from agentinsight.sources.prometheus import PrometheusSource

    wanted = [services] if isinstance(services, str) else (list(services) if services else None)
    if prometheus_url:
        traces = JaegerSource(jaeger_url) if jaeger_url else None
        return Fleet(PrometheusSource(prometheus_url, **options), traces, wanted)
    if jaeger_url:
        raise ConfigurationError("connect: jaeger_url needs prometheus_url too (metrics)")
    if not source_dir:
        raise ConfigurationError("connect: give source_dir (files written by `agentinsight "
                                 "simulate`) or prometheus_url (+ jaeger_url)")
    return Fleet(FileSource(source_dir, **options), None, wanted)
