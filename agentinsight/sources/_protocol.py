"""What a metrics source offers: the :class:`MetricsSource` protocol.

A notebook, :class:`~agentinsight.sources.Fleet` and the report helpers call these methods and
nothing else, so they run unchanged on a :class:`~agentinsight.sources.PrometheusSource` (PromQL
pushed down to a Prometheus-compatible server) and on a :class:`~agentinsight.sources.FileSource`
(the same semantics computed from OpenMetrics files). Both declare the protocol as their base;
anything else with these methods is a metrics source too (the protocol is structural).

Every helper returns a metrics frame (:mod:`agentinsight.frames`). ``start`` and ``end`` default
to what suits the source: the whole data for files, the last day (``range``: week) for servers;
they are written ``...`` below for that reason. The step and window rules are those of
:mod:`agentinsight.sources`.

>>> import tempfile
>>> from agentinsight.sources import FileSource, PrometheusSource
>>> isinstance(FileSource(tempfile.mkdtemp()), MetricsSource)
True
>>> isinstance(PrometheusSource("http://localhost:9090"), ExemplarSource)
True
>>> isinstance(FileSource(tempfile.mkdtemp()), ExemplarSource)  # files keep no exemplars
False
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ExemplarSource", "Matchers", "MetricsSource"]

#: Label matchers: ``{"agent": "planner"}`` or PromQL text (``'agent=~"plan.*"'``).
Matchers = str | Mapping[str, str] | None


@runtime_checkable
class MetricsSource(Protocol):
    """A source of metrics frames: raw queries and the fleet helpers, with one meaning everywhere.

    Implementations may accept more (optional) parameters than written here; the ones written
    here mean the same for every source, and the defaults written as values are the same too.
    """

    if TYPE_CHECKING:
        # Declared for type checkers only: at run time ``isinstance`` would evaluate the property
        # (Python 3.11 calls hasattr), reading every sample of a FileSource or asking a server.
        @property
        def scrape_interval(self) -> float:
            """Seconds between scrapes (the automatic step is a multiple of it)."""

    def range(self, query: str, /, start: Any = ..., end: Any = ..., step: Any = None
              ) -> pd.DataFrame:
        """Values of ``query`` at each step as a metrics frame: PromQL for a server, a metric
        name with label matchers for files."""
        ...

    def series(self, match: str) -> pd.DataFrame:
        """One row per series matching the selector ``match``, one column per label."""
        ...

    def label_values(self, label: str) -> list[str]:
        """Sorted distinct values of ``label`` (``__name__`` for metric names)."""
        ...

    def rate(self, metric: str, by: str | Iterable[str] | None = (), start: Any = ...,
             end: Any = ..., step: Any = None, window: Any = "5m", matchers: Matchers = None
             ) -> pd.DataFrame:
        """``sum by (by) (rate(metric{matchers}[window]))`` per step; metric ``<metric>:rate``."""
        ...

    def token_usage(self, by: str | Iterable[str] | None = ("model", "token_type"),
                    start: Any = ..., end: Any = ..., step: Any = None,
                    matchers: Matchers = None, metric: str = "llm_tokens_used_total"
                    ) -> pd.DataFrame:
        """Tokens used per step (``increase`` over the step): a group's points sum to its
        total. Metric ``llm_tokens_used_total:increase``."""
        ...

    def error_ratio(self, metric: str = "agent_execution_total",
                    by: str | Iterable[str] | None = ("agent",), start: Any = ...,
                    end: Any = ..., step: Any = None, window: Any = "5m",
                    matchers: Matchers = None, error: str = 'status="error"') -> pd.DataFrame:
        """``sum by (by) (rate(m{error}[w])) / sum by (by) (rate(m[w]))``; metric
        ``<metric>:error_ratio``."""
        ...

    def latency_quantiles(self, metric: str = "agent_execution_duration_seconds",
                          q: float | Sequence[float] = 0.95,
                          by: str | Iterable[str] | None = ("agent",), start: Any = ...,
                          end: Any = ..., step: Any = None, window: Any = "5m",
                          matchers: Matchers = None) -> pd.DataFrame:
        """``histogram_quantile(q, sum by (le, by) (rate(metric_bucket[window])))`` per step;
        metric ``<metric>:p95`` (one metric per quantile when ``q`` is a list)."""
        ...


@runtime_checkable
class ExemplarSource(MetricsSource, Protocol):
    """A metrics source that also keeps exemplars (trace ids on histogram observations)."""

    def exemplars(self, query: str, start: Any = ..., end: Any = ...) -> pd.DataFrame:
        """Exemplars of the series ``query`` selects: ``timestamp``, ``metric``, ``value``,
        ``trace_id``, ``span_id`` and the series' labels."""
        ...
