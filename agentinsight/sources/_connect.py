"""``connect()``: one object for a fleet's metrics and spans, whichever servers or files hold them.

Notebooks take their source as parameters (a files directory, or Prometheus and Jaeger URLs) and
call ``connect(...)``; everything after that line is the same code for every source::

    from agentinsight.sources import connect

    fleet = connect("data/demo")                                   # files from `simulate`
    fleet = connect(prometheus_url="http://prometheus:9090",       # or servers
                    jaeger_url="http://jaeger:16686")
    fleet.error_ratio(by=["agent"], start="now-1d")
    fleet.spans("now-1h", "now")
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from agentinsight._http import redact_url
from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import empty_spans_frame
from agentinsight.sources._protocol import ExemplarSource, MetricsSource
from agentinsight.sources._time import parse_time
from agentinsight.sources.files import FileSource
from agentinsight.sources.jaeger import JaegerSource
from agentinsight.sources.prometheus import PrometheusSource

__all__ = ["Fleet", "connect"]


class Fleet:
    """The metrics (``.metrics``, a :class:`MetricsSource`) and spans of one fleet.

    ``spans(start, end)`` reads the files' spans or searches Jaeger (``.traces``) for every
    service, or for ``services``. The metrics helpers (``rate``, ``error_ratio``,
    ``latency_quantiles``, ``token_usage``, ``range``, ``label_values``, ``series``,
    ``scrape_interval``, and ``exemplars`` where the source keeps them) are the metrics
    source's own methods, so their signatures and defaults are the source's.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> runs = [f'agent_execution_total{{agent="planner",status="success"}} {60 * i} {60 * i}'
    ...         for i in range(4)]
    >>> _ = (folder / "metrics.om").write_text(
    ...     "# TYPE agent_execution counter\\n" + "\\n".join(runs) + "\\n# EOF\\n")
    >>> fleet = connect(folder)
    >>> fleet.label_values("agent")
    ['planner']
    >>> fleet.rate("agent_execution_total", by=["agent"], window="2m")["value"].tolist()
    [0.5, 1.0, 1.0]
    >>> fleet.spans("now-1h", "now")  # Jaeger's spans, with jaeger_url  # doctest: +SKIP
    """

    def __init__(self, metrics: MetricsSource, traces: JaegerSource | None = None,
                 services: list[str] | None = None) -> None:
        self.metrics = metrics
        self.traces = traces
        self.services = services

    def __repr__(self) -> str:
        return redact_url(f"Fleet(metrics={self.metrics!r}, traces={self.traces!r})")

    # The metrics helpers are the source's bound methods (not wrappers), so that help() and a
    # notebook's signature tooltip show the source's own parameters and defaults.

    @property
    def rate(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.rate`."""
        return self.metrics.rate

    @property
    def error_ratio(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.error_ratio`."""
        return self.metrics.error_ratio

    @property
    def latency_quantiles(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.latency_quantiles`."""
        return self.metrics.latency_quantiles

    @property
    def token_usage(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.token_usage`."""
        return self.metrics.token_usage

    @property
    def range(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.range`."""
        return self.metrics.range

    @property
    def label_values(self) -> Callable[..., list[str]]:
        """The metrics source's :meth:`~MetricsSource.label_values`."""
        return self.metrics.label_values

    @property
    def series(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~MetricsSource.series`."""
        return self.metrics.series

    @property
    def scrape_interval(self) -> float:
        """The metrics source's scrape interval in seconds."""
        return self.metrics.scrape_interval

    @property
    def exemplars(self) -> Callable[..., pd.DataFrame]:
        """The metrics source's :meth:`~ExemplarSource.exemplars`; an AttributeError when the
        source keeps none (files)."""
        if not isinstance(self.metrics, ExemplarSource):
            raise AttributeError(
                f"{type(self.metrics).__name__!r} object has no attribute 'exemplars'")
        return self.metrics.exemplars

    def describe(self) -> str:
        """One line saying where the data comes from."""
        where = getattr(self.metrics, "url", None) or str(getattr(self.metrics, "directory", ""))
        spans = getattr(self.traces, "url", None) if self.traces is not None else "files"
        # Shown in reports: any source's URL is shown with its password as ***.
        return redact_url(f"metrics from {where}; spans from {spans or 'nowhere'}")

    def span_services(self) -> list[str]:
        """Services that have spans."""
        if self.traces is None:
            services = getattr(self.metrics, "services", None)
            return list(services()) if services is not None else []
        return [s for s in self.traces.services() if s != "jaeger"]

    def spans(self, start: Any = None, end: Any = None) -> pd.DataFrame:
        """Every span that starts in ``[start, end]`` as a spans frame."""
        if self.traces is None:
            spans_of = getattr(self.metrics, "spans", None)
            if spans_of is not None:
                frame: pd.DataFrame = spans_of(start, end)
                return frame
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
        if isinstance(self.metrics, ExemplarSource):
            try:
                return self.metrics.exemplars(query, start, end)
            except Exception:  # noqa: BLE001 - exemplar storage is optional on the server
                return None
        return None


def connect(source_dir: str | Path | None = None, prometheus_url: str | None = None,
            jaeger_url: str | None = None, *, services: list[str] | str | None = None,
            **options: Any) -> Fleet:
    """A :class:`Fleet` from files (``source_dir``) or servers (``prometheus_url`` and
    optionally ``jaeger_url``); servers win when both are given.

    ``services`` limits the Jaeger search to some services (default: every service but Jaeger's
    own). ``options`` go to the metrics source's constructor: :class:`PrometheusSource`'s
    ``headers``, ``auth``, ``verify``, ``timeout``, ``cache_dir`` ..., or
    :class:`FileSource`'s ``scrape_interval``, ``prometheus_version`` .... Nothing is read or
    requested until a method asks for data.

    >>> import tempfile
    >>> connect(tempfile.mkdtemp()).describe().startswith("metrics from /")
    True
    >>> fleet = connect(prometheus_url="http://prometheus:9090", jaeger_url="http://jaeger:16686")
    >>> fleet.describe()
    'metrics from http://prometheus:9090; spans from http://jaeger:16686'
    >>> fleet.error_ratio(by=["agent"], start="now-1d")  # asks Prometheus  # doctest: +SKIP
    >>> connect()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agentinsight.exceptions.ConfigurationError: connect: give source_dir (files written by ...
    """
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
