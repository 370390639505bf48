"""Sources: Prometheus, VictoriaMetrics, Jaeger and files into the canonical frames.

>>> from agentinsight.sources import FileSource, PrometheusSource, parse_time
>>> parse_time("2026-01-01T00:00:00")  # naive times are UTC
Timestamp('2026-01-01 00:00:00+0000', tz='UTC')

Every source returns the frames of :mod:`agentinsight.frames`. The metrics sources
(:class:`PrometheusSource`, :class:`FileSource`) speak the same helpers (``rate``,
``token_usage``, ``error_ratio``, ``latency_quantiles``, ``range`` ...), written down as the
:class:`MetricsSource` protocol, so a notebook runs on any. :func:`connect` gives a
:class:`Fleet`: one object for a fleet's metrics and spans, from files or from servers::

    from agentinsight.sources import connect

    fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
    fleet.latency_quantiles(q=0.95, by=["agent"], start="now-1d")
    fleet.spans("now-1d", "now")

Times
    tz-aware datetimes and Timestamps, ISO strings, epoch seconds, ``"now"``, ``"now-7d"``;
    naive datetimes and ISO strings without an offset are **UTC**. ``start > end`` raises
    :class:`~agentinsight.exceptions.InvalidTimeError`.

Step and window (identical for every source)
    Values are evaluated at ``start, start + step, ...`` up to ``end``. ``step=None`` is the
    smallest multiple of the scrape interval that keeps a series under 11,000 points.
    ``window`` is the range of ``rate``-style helpers: the samples in ``(t - window, t]`` feed
    the value at ``t`` (give it at least two scrape intervals). ``token_usage`` uses
    ``increase(...[step])``, so each point is the tokens of the step ending at it and a sum
    over the points is the total. ``rate``/``increase`` follow Prometheus (counter resets,
    extrapolation to the window edges); VictoriaMetrics computes them without extrapolation,
    so its values differ slightly near series edges.
"""

from agentinsight.sources._connect import Fleet, connect
from agentinsight.sources._http import ServerWarning
from agentinsight.sources._protocol import ExemplarSource, MetricsSource
from agentinsight.sources._time import format_duration, parse_duration, parse_time, time_range
from agentinsight.sources.files import FileSource
from agentinsight.sources.jaeger import JaegerSource
from agentinsight.sources.otlp import parse_otlp_text, read_otlp_jsonl, spans_from_otlp
from agentinsight.sources.prometheus import PrometheusSource

__all__ = [
    "ExemplarSource",
    "FileSource",
    "Fleet",
    "JaegerSource",
    "MetricsSource",
    "PrometheusSource",
    "ServerWarning",
    "connect",
    "format_duration",
    "parse_duration",
    "parse_otlp_text",
    "parse_time",
    "read_otlp_jsonl",
    "spans_from_otlp",
    "time_range",
]
