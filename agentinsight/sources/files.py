"""FileSource: the embedded source — OpenMetrics and OTLP JSON files, no server needed.

A directory written by ``agentinsight simulate`` (or by ``emit``'s file exporters) holds::

    metrics.om     OpenMetrics text, every sample with its timestamp (+ any other *.om file)
    spans.jsonl    OTLP JSON TracesData, one per line
    truth.json     the simulator's ground truth (optional)

``range()`` takes a metric name with label matchers (not PromQL) and the helpers compute the same
frames a PrometheusSource pushes down as PromQL, with Prometheus' semantics (see
:mod:`agentinsight.sources._promql` and the step/window rules in :mod:`agentinsight.sources`).
Samples are read once, on first use, and kept in memory; a parsed copy of a metrics file is kept
beside it (:mod:`agentinsight.formats.openmetrics`) so the next FileSource opens it in a second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.exceptions import ConfigurationError, ParseError, SourceError
from agentinsight.formats.openmetrics import (
    read_openmetrics,
    read_samples_cache,
    write_samples_cache,
)
from agentinsight.frames import empty_metrics_frame, metrics_frame
from agentinsight.sources import _promql
from agentinsight.sources._helpers import (
    TOKEN_MIN_SCRAPES,
    Grid,
    check_by,
    grid,
    matcher_text,
    matrix_frame,
    quantile_name,
    quantiles,
)
from agentinsight.sources._protocol import Matchers, MetricsSource
from agentinsight.sources._time import parse_duration, parse_time, time_range
from agentinsight.sources.otlp import read_otlp_jsonl

__all__ = ["FileSource"]



class FileSource(MetricsSource):
    """Metrics and spans from files in a directory (or explicit file paths).

    ``directory`` holds ``*.om`` metric files, ``spans.jsonl`` and optionally ``truth.json``.
    ``scrape_interval`` (seconds or ``"1m"``) sets the automatic step; by default it is read
    from ``truth.json`` or inferred from the samples. Times default to the span of the data.
    ``prometheus_version`` (3 or 2) picks whose window edges to copy: Prometheus 2 also counts a
    sample exactly ``window`` (or 5 minutes of lookback) before the evaluation time, which
    changes results when evaluation times fall on sample times.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "metrics.om").write_text(
    ...     "# TYPE up gauge\\nup{job=\\"a\\"} 1 60\\nup{job=\\"a\\"} 1 120\\n# EOF\\n")
    >>> files = FileSource(d)
    >>> files.range('up{job="a"}')["value"].tolist()
    [1.0, 1.0]
    """

    def __init__(self, directory: str | Path, *, metrics_files: Sequence[str | Path] | None = None,
                 spans_file: str | Path | None = None, scrape_interval: Any = None,
                 prometheus_version: int = 3) -> None:
        if prometheus_version not in (2, 3):
            raise ConfigurationError(f"prometheus_version must be 2 or 3, got "
                                     f"{prometheus_version!r}")
        self._closed = prometheus_version == 2
        self.directory = Path(directory)
        self._metrics_files = [Path(p) for p in metrics_files] if metrics_files else None
        self._spans_file = Path(spans_file) if spans_file else self.directory / "spans.jsonl"
        self._scrape_interval = scrape_interval
        self._series: _promql.SeriesSet | None = None
        self._types: dict[str, str] = {}
        self._spans: tuple[str, pd.DataFrame] | None = None

    def __repr__(self) -> str:
        return f"FileSource({str(self.directory)!r})"

    # --- loading ---------------------------------------------------------------------------

    def _metric_paths(self) -> list[Path]:
        if self._metrics_files is not None:
            return self._metrics_files
        if not self.directory.is_dir():
            raise SourceError(f"FileSource: directory {self.directory} does not exist")
        return sorted(self.directory.glob("*.om"))

    @property
    def samples(self) -> _promql.SeriesSet:
        """Every sample of the metric files (read on first use)."""
        if self._series is None:
            paths = self._metric_paths()
            if not paths:
                raise SourceError(f"FileSource: no metrics files (*.om) in {self.directory}")
            for path in paths:
                if not path.is_file():
                    raise SourceError(f"FileSource: metrics file {path} does not exist")
            cached = read_samples_cache(paths[0]) if len(paths) == 1 else None
            if cached is None:
                samples, self._types = read_openmetrics(paths)
                if len(paths) == 1:
                    write_samples_cache(paths[0], samples, self._types)
            else:
                samples, self._types = cached
            self._series = _promql.SeriesSet.of(samples)
        return self._series

    @property
    def scrape_interval(self) -> float:
        """Seconds between samples: as given, else ``truth.json``'s, else the median gap."""
        if self._scrape_interval is not None:
            return parse_duration(self._scrape_interval, what="scrape_interval")
        if (self.directory / "truth.json").is_file():
            value = self.truth().get("scrape_interval_s")
            if isinstance(value, int | float) and value > 0:
                return float(value)
        series = self.samples
        gaps = np.diff(series.t)
        same = np.ones(len(gaps), bool)
        same[series.offsets[1:-1] - 1] = False
        gaps = gaps[same & (gaps > 0)] if len(gaps) else gaps
        return float(np.median(gaps)) / 1000 if len(gaps) else 60.0

    def _bounds(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        t = self.samples.t
        if not len(t):
            raise SourceError(f"FileSource: no samples in {self._metric_paths()}")
        return (pd.Timestamp(int(t.min()), unit="ms", tz="UTC"),
                pd.Timestamp(int(t.max()), unit="ms", tz="UTC"))

    def _grid(self, start: Any, end: Any, step: Any, min_scrapes: int = 1) -> Grid:
        if start is None or end is None:
            first, last = self._bounds()
            start = first if start is None else start
            end = last if end is None else end
        return grid(start, end, step, self.scrape_interval, min_scrapes=min_scrapes)

    def _select(self, metric: str, matchers: Matchers) -> _promql.SeriesSet:
        text = matcher_text(matchers)
        name, parsed = _promql.parse_selector(f"{metric}{{{text}}}" if text else metric)
        return self.samples.select(name, parsed)

    # --- raw queries -----------------------------------------------------------------------

    def range(self, selector: str, start: Any = None, end: Any = None, step: Any = None
              ) -> pd.DataFrame:
        """Values of ``metric{matchers}`` at each step, as a Prometheus range query returns them
        (latest sample within the 5-minute lookback). Not PromQL: functions and operators are
        refused with a QueryError that says so.

        >>> files.range('agent_execution_total{agent="planner"}')  # doctest: +SKIP
        """
        name, matchers = _promql.parse_selector(selector)
        series = self.samples.select(name, matchers)
        g = self._grid(start, end, step)
        values, present = _promql.instant_select(series, g.times(), closed=self._closed)
        return _series_frame(series, g.times(), values, present)

    def label_values(self, label: str) -> list[str]:
        """Sorted distinct values of ``label`` across all series (``__name__`` for names)."""
        labels = self.samples.labels
        if label not in labels.columns:
            return []
        return sorted(labels[label].dropna().astype(str).unique().tolist())

    def series(self, match: str) -> pd.DataFrame:
        """One row per series matching the selector ``match``, one column per label."""
        name, matchers = _promql.parse_selector(match)
        return self.samples.select(name, matchers).labels.copy()

    # --- helpers (same semantics as PrometheusSource) ----------------------------------------

    def rate(self, metric: str, by: str | Iterable[str] | None = (), start: Any = None,
             end: Any = None, step: Any = None, window: Any = "5m", matchers: Matchers = None
             ) -> pd.DataFrame:
        """``sum by (by) (rate(metric{matchers}[window]))`` per step; metric ``<metric>:rate``.

        >>> files.rate("tool_usage_total", by=["tool"])  # doctest: +SKIP
        """
        by = check_by(by)
        g = self._grid(start, end, step)
        window_ms = _window_ms(window)
        series = self._select(metric, matchers)
        values, present = _promql.increase(series, g.times(), window_ms, per_second=True,
                                             closed=self._closed)
        groups, values, present = _promql.sum_by(series.labels, values, present, by)
        return matrix_frame(f"{metric}:rate", groups, g.times(), values, present, by)

    def token_usage(self, by: str | Iterable[str] | None = ("model", "token_type"),
                    start: Any = None, end: Any = None, step: Any = None,
                    matchers: Matchers = None, metric: str = "llm_tokens_used_total"
                    ) -> pd.DataFrame:
        """Tokens used per step: ``sum by (by) (increase(llm_tokens_used_total[step]))``;
        summing a group's points gives its total. Metric ``llm_tokens_used_total:increase``.

        >>> files.token_usage(by=["model"], step="1d")  # doctest: +SKIP
        """
        by = check_by(by)
        g = self._grid(start, end, step, min_scrapes=TOKEN_MIN_SCRAPES)
        series = self._select(metric, matchers)
        values, present = _promql.increase(series, g.times(), g.step_ms, closed=self._closed)
        groups, values, present = _promql.sum_by(series.labels, values, present, by)
        return matrix_frame(f"{metric}:increase", groups, g.times(), values, present, by)

    def error_ratio(self, metric: str = "agent_execution_total",
                    by: str | Iterable[str] | None = ("agent",), start: Any = None,
                    end: Any = None, step: Any = None, window: Any = "5m",
                    matchers: Matchers = None, error: str = 'status="error"') -> pd.DataFrame:
        """``sum by (by) (rate(m{error}[w])) / sum by (by) (rate(m[w]))``; metric
        ``<metric>:error_ratio``. Groups with no error series at all have no points, as in
        PromQL.

        >>> files.error_ratio(by=["agent"])  # doctest: +SKIP
        """
        by = check_by(by)
        g = self._grid(start, end, step)
        window_ms = _window_ms(window)
        base = matcher_text(matchers)
        errors_only = ",".join(p for p in (base, matcher_text(error)) if p)
        parts = []
        for text in (errors_only, base):
            series = self._select(metric, text)
            values, present = _promql.increase(series, g.times(), window_ms, per_second=True,
                                             closed=self._closed)
            parts.append(_promql.sum_by(series.labels, values, present, by))
        groups, values, present = _promql.divide(parts[0], parts[1], by)
        return matrix_frame(f"{metric}:error_ratio", groups, g.times(), values, present, by)

    def latency_quantiles(self, metric: str = "agent_execution_duration_seconds",
                          q: float | Sequence[float] = 0.95,
                          by: str | Iterable[str] | None = ("agent",), start: Any = None,
                          end: Any = None, step: Any = None, window: Any = "5m",
                          matchers: Matchers = None) -> pd.DataFrame:
        """``histogram_quantile(q, sum by (le, by) (rate(metric_bucket[window])))`` per step;
        metric ``<metric>:p95`` (one metric per quantile when ``q`` is a list).

        >>> files.latency_quantiles(q=[0.5, 0.95], by=["agent"])  # doctest: +SKIP
        """
        by = check_by(by)
        qs = quantiles(q)
        g = self._grid(start, end, step)
        window_ms = _window_ms(window)
        series = self._select(f"{metric}_bucket", matchers)
        values, present = _promql.increase(series, g.times(), window_ms, per_second=True,
                                             closed=self._closed)
        groups, values, present = _promql.sum_by(series.labels, values, present, [*by, "le"])
        frames = []
        if len(groups):
            bounds = groups["le"].map(_le_value).to_numpy()
            keys = groups[by] if by else pd.DataFrame(index=groups.index)
            if by:
                codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
                out_groups = uniques.to_frame(index=False)
                out_groups.columns = by
            else:
                codes, out_groups = np.zeros(len(groups), "int64"), pd.DataFrame(index=[0])
            les = np.unique(bounds)
            cube = np.zeros((len(out_groups), len(les), values.shape[1]))
            seen = np.zeros_like(cube, dtype=bool)
            li = np.searchsorted(les, bounds)
            cube[codes, li] = np.where(present, values, 0.0)
            seen[codes, li] = present
            inf = np.isposinf(les)
            has_inf = np.asarray(seen[:, inf].any(axis=1) if inf.any() else np.zeros(
                (len(out_groups), values.shape[1]), bool))
            for quantile in qs:
                result = _promql.histogram_quantile(quantile, les,
                                                    np.moveaxis(cube, 1, -1))
                frames.append(matrix_frame(quantile_name(metric, quantile), out_groups,
                                           g.times(), result, has_inf, by))
        if not frames:
            return matrix_frame(quantile_name(metric, qs[0]), pd.DataFrame(columns=by),
                                g.times(), np.zeros((0, 0)), np.zeros((0, 0), bool), by)
        return _concat(frames, by)

    # --- spans and the rest ------------------------------------------------------------------

    def spans(self, start: Any = None, end: Any = None, errors: str = "raise") -> pd.DataFrame:
        """Every span of ``spans.jsonl`` starting in ``[start, end]`` (all when not given).

        ``errors="skip"`` reads past corrupt lines (warning with their line numbers).

        >>> files.spans(start="2026-11-02T09:00Z", end="2026-11-02T10:00Z")  # doctest: +SKIP
        """
        if start is not None and end is not None:
            time_range(start, end)  # start after end is an error, not an empty frame
        if not self._spans_file.is_file():
            raise SourceError(f"FileSource: spans file {self._spans_file} does not exist")
        if self._spans is None or self._spans[0] != errors:
            self._spans = (errors, read_otlp_jsonl(self._spans_file, errors=errors))
        frame = self._spans[1]
        if start is not None:
            frame = frame[frame["start"] >= parse_time(start, what="start")]
        if end is not None:
            frame = frame[frame["start"] <= parse_time(end, what="end")]
        return frame.reset_index(drop=True)

    def services(self) -> list[str]:
        """Sorted distinct service names of the spans."""
        spans = self.spans()
        return sorted(spans["service"].dropna().unique().tolist())

    def truth(self) -> dict[str, Any]:
        """The simulator's ground truth (``truth.json``)."""
        path = self.directory / "truth.json"
        if not path.is_file():
            raise SourceError(f"FileSource: no ground truth at {path}")
        try:
            truth = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ParseError(f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ParseError(f"cannot read: {exc}", path=str(path)) from None
        if not isinstance(truth, dict):
            raise ParseError(f"expected a JSON object, got {type(truth).__name__}", path=str(path))
        return truth


def _window_ms(window: Any) -> int:
    ms = int(round(parse_duration(window, what="window") * 1000))
    if ms <= 0:
        raise ConfigurationError(f"window must be positive, got {window!r}")
    return ms


def _le_value(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"histogram bucket has a non-numeric le={text!r}") from None


def _concat(frames: list[pd.DataFrame], by: Sequence[str]) -> pd.DataFrame:
    names = [str(f["metric"].cat.categories[0]) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    out["metric"] = pd.Categorical(out["metric"].astype(str), categories=names)
    for label in by:
        out[label] = out[label].astype("category")
    return out


def _series_frame(series: _promql.SeriesSet, times: np.ndarray, values: np.ndarray,
                  present: np.ndarray) -> pd.DataFrame:
    """A metrics frame of raw series (metric = ``__name__``, every other label a column)."""
    label_cols = [c for c in series.labels.columns if c != "__name__"]
    rows, cols = np.nonzero(present)
    if not len(rows):
        return empty_metrics_frame(label_cols)
    labels = {c: series.labels[c].to_numpy(dtype=object)[rows] for c in label_cols}
    stamps = (times[cols] * 1_000_000).view("datetime64[ns]")
    return metrics_frame(stamps, series.labels["__name__"].to_numpy(
        dtype=object)[rows], values[rows, cols], labels)
