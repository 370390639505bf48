"""Anomaly detection over metrics and spans frames.

Entry points:

* ``detect(frame)`` scores every series of a metrics frame causally with several detectors and
  returns a findings frame (one row per incident and series, overlapping detections merged,
  trace ids linked from exemplars or spans);
* ``detect_traces(spans)`` finds latency outliers per operation, error bursts and runaway agent
  runs in a spans frame;
* ``score_series(series)`` scores one series causally (a point's score uses only earlier points
  and itself), with one fixed parameter set, in [0, 1]. Its quality is measured on the labelled
  NAB data by ``benchmarks/nab.py``;
* ``findings_html(findings)`` renders a findings frame as an HTML table for notebooks/reports.

The detectors are scikit-learn outlier estimators (``fit``/``score_samples``/
``decision_function``/``predict``): ``ExtremeValueDetector``, ``SeasonalBaselineDetector``,
``LevelShiftDetector`` (series) and ``AgentIsolationForest`` (per-agent feature vectors from
``agent_features``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.analysis import display
from agentinsight.analysis._detectors.findings import (
    findings_frame,
    findings_html,
    merge_overlapping,
    runs_of,
)
from agentinsight.analysis._detectors.series import (
    ExtremeValueDetector,
    LevelShiftDetector,
    SeasonalBaselineDetector,
    shared_baselines,
)
from agentinsight.analysis._detectors.stream import DEFAULT, rows_per_day, stream_scores
from agentinsight.analysis._detectors.traces import (
    AGENT_FEATURES,
    AgentIsolationForest,
    agent_features,
    error_burst_findings,
    latency_outlier_findings,
    runaway_run_findings,
)
from agentinsight.analysis._detectors.volume import detect_traffic_drop
from agentinsight.analysis._detectors.wide import column_blocks, to_wide
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import (
    empty_findings_frame,
    label_columns,
    validate_metrics_frame,
    validate_spans_frame,
)

__all__ = [
    "AGENT_FEATURES",
    "AgentIsolationForest",
    "DEFAULT_DETECTORS",
    "ExtremeValueDetector",
    "InsufficientDataWarning",
    "LevelShiftDetector",
    "SeasonalBaselineDetector",
    "TRACE_DETECTORS",
    "agent_features",
    "default_detectors",
    "detect",
    "detect_traces",
    "detect_traffic_drop",
    "findings_html",
    "score_series",
]



class InsufficientDataWarning(UserWarning):
    """A series is too short for a detector to score it, so it cannot have findings yet.

    ``score_series`` warns when a series has fewer values than its warm-up; ``detect`` warns
    once per call and lists every such series in ``found.attrs["insufficient_data"]``.
    """


#: The detectors ``detect`` runs when none are named.
DEFAULT_DETECTORS = ("extreme", "seasonal", "level_shift")
#: The detectors ``detect_traces`` runs when none are named.
TRACE_DETECTORS = ("latency_outlier", "error_burst", "runaway_run")
_TRACE_FUNCS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "latency_outlier": latency_outlier_findings, "error_burst": error_burst_findings,
    "runaway_run": runaway_run_findings}


def score_series(series: pd.Series) -> pd.Series:
    """Anomaly scores in [0, 1] for one series, computed causally with default parameters.

    A score near 1 means the point goes far beyond everything the series showed before (in its
    value, its short-term means or its day-over-day difference; or, for its 3-point mean, beyond
    the 0.1 % .. 99.9 % range of its history, so one old spike does not hide a later anomaly)
    and is the first such point in a while; ordinary points score 0. Call a point anomalous
    from a score of 0.5: that default threshold was fixed from cross-validation folds, not
    re-optimised on the data it is judged on (see BENCHMARKS.md for the NAB scores it gets).
    Missing values score 0 and do not disturb the rest. Each call starts from a fresh state.

    Rows are scored in the order they arrive, as a stream would see them: duplicate timestamps,
    a clock that steps back, gaps and irregular sampling are facts about the data, not errors.
    With a DatetimeIndex, the typical positive gap between the first rows decides how many rows
    make a day (missing times are skipped). A series no longer than the warm-up (20 rows), or
    with fewer than two values, scores 0 everywhere and raises an ``InsufficientDataWarning``.

    >>> s = pd.Series([1.0, 2.0, 1.5, 1.8] * 10 + [9.0])
    >>> scores = score_series(s)
    >>> float(scores.iloc[-1]) > 0.9, float(scores.iloc[:-1].max()) < 0.5
    (True, True)
    """
    if not isinstance(series, pd.Series):
        raise ConfigurationError(
            f"score_series: expected a pandas Series, got {type(series).__name__}"
        )
    name = series.name if series.name is not None else "series"
    if not (pd.api.types.is_numeric_dtype(series.dtype) or series.dtype == object):
        raise ConfigurationError(
            f"score_series: {name!r} must hold numbers, got dtype {series.dtype}"
        )
    try:
        numeric = pd.to_numeric(series, errors="raise")
        values = numeric.to_numpy(dtype=float, na_value=np.nan, copy=True)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"score_series: {name!r} must hold numbers ({exc})") from None
    out = pd.Series(np.zeros(len(values)), index=series.index, name="anomaly_score")
    values[~np.isfinite(values)] = np.nan
    present = ~np.isnan(values)
    if present.sum() < 2 or len(values) <= DEFAULT.warmup:
        warnings.warn(f"score_series: {name!r} has {len(values)} rows ({int(present.sum())} "
                      f"values); the first {DEFAULT.warmup} rows only build its range, so every "
                      "score is 0", InsufficientDataWarning, stacklevel=2)
        return out
    period = rows_per_day(series.index)
    filled = pd.Series(values).ffill().bfill().to_numpy()
    scores = stream_scores(filled, period)
    scores[~present] = 0.0
    out[:] = scores
    return out


def default_detectors() -> dict[str, Any]:
    """Fresh instances of the series detectors ``detect`` uses, by name.

    >>> sorted(default_detectors())
    ['extreme', 'level_shift', 'seasonal']
    """
    return {"extreme": ExtremeValueDetector(), "seasonal": SeasonalBaselineDetector(),
            "level_shift": LevelShiftDetector()}


def detect(
    frame: pd.DataFrame,
    *,
    detectors: Iterable[str] | Mapping[str, Any] | None = None,
    spans: pd.DataFrame | None = None,
    exemplars: pd.DataFrame | None = None,
    threshold: float = 0.5,
    min_points: int = 10,
    max_gap: int = 2,
    merge_points: int = 60,
    new_after: str | None = "1D",
    max_trace_ids: int = 10,
) -> pd.DataFrame:
    """Findings for every series of a metrics frame.

    Series are the distinct (``metric`` + label columns) combinations. Each detector scores every
    series causally in [0, 1]; runs of points scoring at least ``threshold`` (gaps of up to
    ``max_gap`` points bridged) become findings with start, end, peak score, the observed and
    expected value at the peak and a one-line summary; findings of several detectors that
    overlap on one series, or follow each other within ``merge_points`` points, are merged into
    one finding. Trace ids come from ``exemplars`` (a frame with
    ``timestamp`` and ``trace_id``, optionally ``metric`` and label columns) or else from
    ``spans`` overlapping the finding whose agent/model/tool/... match the series' labels.
    Series with fewer than ``min_points`` values give no scored finding. A series too short
    for a detector to score (fewer values than it needs to learn from, e.g. a day of history
    for the extreme and seasonal detectors on a series with a daily cycle) is not silently
    quiet: ``detect`` warns once (``InsufficientDataWarning``) and the result's
    ``attrs["insufficient_data"]`` lists one record per such series (``series``, ``points`` of
    history on the frame's time grid,
    ``needed``, ``detectors`` that could not score it, and a ``summary``); it is an empty list
    when every series had enough history. Rows may come in any order; a duplicated
    (series, timestamp) keeps the value that comes last in the frame. A series that first
    appears more than ``new_after`` after the frame's first timestamp (a new model, tool or
    status for an agent) is itself a ``new_series`` finding (``new_after=None`` turns that off).

    ``detectors`` is a list of names from ``default_detectors()`` or a mapping of name to a
    detector with a ``causal_scores(X, index)`` method. Each series is scored on its own, a
    block of series (columns of ``X``) at a time, so memory stays bounded on long frames.

    >>> from agentinsight.frames import metrics_frame
    >>> t = np.arange(500) * 600.0
    >>> v = np.r_[np.random.default_rng(1).normal(10, 1, 450), np.full(50, 40.0)]
    >>> found = detect(metrics_frame(t, "queue", v, {"agent": ["a"] * 500}))
    >>> found[["detector", "severity"]].values.tolist()
    [['extreme+level_shift+seasonal', 'critical']]
    """
    frame = validate_metrics_frame(frame)
    chosen = _choose(detectors)
    if frame.empty:
        warnings.warn("detect: the metrics frame is empty, so there is nothing to score",
                      InsufficientDataWarning, stacklevel=2)
        return _noted(empty_findings_frame(), [])
    wide, index, keys = to_wide(frame, label_columns(frame))
    del frame  # a converted copy of the caller's frame is not needed any more
    present = np.isfinite(wide)
    counts = present.sum(axis=0)
    history = np.where(present.any(axis=0), len(index) - np.argmax(present, axis=0), 0)
    del present
    notes = _insufficient(chosen, counts, history, keys, index, min_points)
    usable = np.flatnonzero(counts >= max(min_points, 2))
    if not len(usable):
        return _noted(empty_findings_frame(), notes)
    # Every detector scores each series on its own, so the series are scored a block of
    # columns at a time: the same findings, with temporaries the size of a block, not the frame.
    by_detector: dict[str, list[dict[str, Any]]] = {name: [] for name in chosen}
    new_rows: list[dict[str, Any]] = []
    for block in column_blocks(len(index), len(usable)):
        cols = usable[block]
        part = np.ascontiguousarray(wide[:, cols])
        part_keys = [keys[c] for c in cols]
        scorable = np.cumsum(np.isfinite(part), axis=0) > min_points
        with shared_baselines():  # detectors needing the same baseline compute it once
            for name, det in chosen.items():
                scores, expected = det.causal_scores(part, index)
                scores = np.where(scorable, scores, 0.0)
                hot = scores >= threshold
                for col in np.flatnonzero(hot.any(axis=0)):
                    for first, last in runs_of(hot[:, col], max_gap):
                        peak = first + int(np.argmax(scores[first:last + 1, col]))
                        by_detector[name].append(_series_finding(
                            name, part_keys[col], index, first, last, peak, scores[peak, col],
                            part[peak, col], expected[peak, col]))
                del scores, expected, hot
        if new_after is not None:
            new_rows.extend(_new_series(part, index, part_keys, pd.Timedelta(new_after)))
        del part, scorable
    del wide
    rows = [row for name in chosen for row in by_detector[name]] + new_rows
    step = pd.Series(index).diff().median() if len(index) > 1 else pd.Timedelta(0)
    tolerance = step * merge_points if pd.notna(step) else pd.Timedelta(0)
    found = merge_overlapping(findings_frame(rows), tolerance)
    if len(found) and (exemplars is not None or spans is not None):
        found["trace_ids"] = [
            _link_traces(rec, exemplars, spans, max_trace_ids)
            for rec in found.to_dict("records")
        ]
    return _noted(found, notes)


def detect_traces(spans: pd.DataFrame, *, detectors: Iterable[str] | None = None,
                  merge_within: str = "30min", **options: Any) -> pd.DataFrame:
    """Findings from a spans frame: latency outliers per operation, error bursts per agent,
    and runaway agent runs (far more LLM/tool calls than the agent's norm).

    Findings of one series less than ``merge_within`` apart are merged into one (with all
    their trace ids), so a burst of runaway runs is one finding.

    ``detectors`` picks from ``TRACE_DETECTORS``; ``options`` are passed to the detector whose
    keyword they name (e.g. ``n_sigmas=8``) — an option no chosen detector takes is an error.

    >>> from agentinsight.frames import empty_spans_frame
    >>> detect_traces(empty_spans_frame()).empty
    True
    """
    spans = validate_spans_frame(spans)
    names = list(detectors) if detectors is not None else list(TRACE_DETECTORS)
    unknown = [n for n in names if n not in _TRACE_FUNCS]
    if unknown:
        raise ConfigurationError(f"detect_traces: unknown detector(s) {unknown}; "
                                 f"choose from {list(TRACE_DETECTORS)}")
    import inspect

    rows: list[dict[str, Any]] = []
    used: set[str] = set()
    for name in names:
        func = _TRACE_FUNCS[name]
        params = inspect.signature(func).parameters
        kwargs = {k: v for k, v in options.items() if k in params}
        used.update(kwargs)
        rows.extend(func(spans, **kwargs))
    extra = set(options) - used
    if extra:
        raise ConfigurationError(f"detect_traces: option(s) {sorted(extra)} are not taken by "
                                 f"any of {names}")
    return merge_overlapping(findings_frame(rows), pd.Timedelta(merge_within))


# --- helpers -------------------------------------------------------------------------------------


def _choose(detectors: Iterable[str] | Mapping[str, Any] | None) -> dict[str, Any]:
    available = default_detectors()
    if detectors is None:
        return available
    if isinstance(detectors, Mapping):
        chosen = dict(detectors)
    else:
        names = [detectors] if isinstance(detectors, str) else list(detectors)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ConfigurationError(f"detect: unknown detector(s) {unknown}; choose from "
                                     f"{sorted(available)} or pass a mapping of detectors")
        chosen = {n: available[n] for n in names}
    for name, det in chosen.items():
        if not hasattr(det, "causal_scores"):
            raise ConfigurationError(f"detect: detector {name!r} has no causal_scores method")
    return chosen


def _insufficient(chosen: Mapping[str, Any], counts: np.ndarray, history: np.ndarray,
                  keys: list[dict[str, str]], index: pd.DatetimeIndex, min_points: int
                  ) -> list[dict[str, Any]]:
    """One record per series that some chosen detector cannot score yet, and one warning.

    A detector's need is in rows of the frame's time grid (its warm-up counts time, and a
    sparse series is carried forward between its values), so a series' history is the rows from
    its first value on; detect itself also wants ``min_points`` values."""
    floor = max(min_points, 2) + 1  # detect itself scores a point once min_points came before
    needs = {name: max(int(det.min_history(index)) if hasattr(det, "min_history") else 0, floor)
             for name, det in chosen.items()}
    step = pd.Series(index).diff().median() if len(index) > 1 else pd.NaT
    points_of = np.where(counts < floor, counts, history)
    notes = []
    for col in np.flatnonzero(points_of < max(needs.values())):
        points = int(points_of[col])
        short = [name for name, need in needs.items() if points < need]
        needed = max(needs[name] for name in short)
        series = keys[col]
        labels = ",".join(f"{k}={v}" for k, v in series.items() if k != "__name__")
        where = f"{series['__name__']}{{{labels}}}" if labels else series["__name__"]
        span = f" ({_duration(step * needed)} at a {_duration(step)} step)" if pd.notna(
            step) and step > pd.Timedelta(0) else ""
        notes.append({
            "series": series, "points": points, "needed": needed, "detectors": "+".join(short),
            "summary": f"{where}: insufficient data: {points} points, {'+'.join(short)} "
                       f"need {needed}{span} before they can score it"})
    if notes:
        warnings.warn(f"detect: {len(notes)} of {len(keys)} series have too little history for "
                      f"some detectors, which cannot find anything on them yet; e.g. "
                      f"{notes[0]['summary']}. See the result's attrs['insufficient_data'].",
                      InsufficientDataWarning, stacklevel=3)
    return notes


def _noted(found: pd.DataFrame, notes: list[dict[str, Any]]) -> pd.DataFrame:
    found.attrs["insufficient_data"] = notes
    return found


def _new_series(wide: np.ndarray, index: pd.DatetimeIndex, keys: list[dict[str, str]],
                after: pd.Timedelta) -> list[dict[str, Any]]:
    """Findings for series whose first value comes ``after`` the frame's start or later."""
    if not len(index):
        return []
    present = np.isfinite(wide)
    first = np.argmax(present, axis=0)
    late = present.any(axis=0) & (index[first] - index[0] >= after)
    rows = []
    for col in np.flatnonzero(late):
        at = index[first[col]]
        series = keys[col]
        labels = ",".join(f"{k}={v}" for k, v in series.items() if k != "__name__")
        rows.append({
            "detector": "new_series", "series": series, "start": at, "end": at,
            "score": 0.75, "observed": float(wide[first[col], col]), "expected": np.nan,
            "summary": f"{series['__name__']}{{{labels}}}: a new series, first seen at "
                       f"{at:%Y-%m-%d %H:%M}",
        })
    return rows


def _series_finding(detector: str, series: dict[str, str], index: pd.DatetimeIndex, first: int,
                    last: int, peak: int, score: float, observed: float,
                    expected: float) -> dict[str, Any]:
    start, end = index[first], index[last]
    name = series["__name__"]
    labels = ",".join(f"{k}={v}" for k, v in series.items() if k != "__name__")
    where = f"{name}{{{labels}}}" if labels else name
    # Spend (llm_cost_usd_total and its rates/increases) reads in dollars.
    num = _usd if "_usd" in name else _plain
    if not np.isfinite(expected):
        exp = ""
    elif detector == "extreme":
        side = "max" if observed >= expected else "min"
        exp = f" (beyond the previous {side} {num(expected)})"
    else:
        exp = f" (expected about {num(expected)})"
    length = _duration(end - start)
    return {
        "detector": detector, "series": series, "start": start, "end": end,
        "score": float(np.clip(score, 0.0, 1.0)), "observed": float(observed),
        "expected": float(expected) if np.isfinite(expected) else np.nan,
        "summary": f"{where}: {num(observed)}{exp} at {index[peak]:%Y-%m-%d %H:%M}"
                   + (f", anomalous for {length}" if length else ""),
    }


def _plain(value: float) -> str:
    return display.number(value)


def _usd(value: float) -> str:
    return display.usd(value)


def _duration(delta: pd.Timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds <= 0:
        return ""
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _link_traces(rec: Mapping[str, Any], exemplars: pd.DataFrame | None,
                 spans: pd.DataFrame | None, limit: int) -> list[str]:
    """Trace ids of exemplars (else spans) inside the finding's window on matching labels."""
    found = list(rec["trace_ids"])
    series = rec["series"]
    start, end = rec["start"], rec["end"]
    if exemplars is not None and len(exemplars):
        if "trace_id" not in exemplars or "timestamp" not in exemplars:
            raise SchemaError("exemplars frame: needs columns 'timestamp' and 'trace_id'")
        ex = exemplars[(exemplars["timestamp"] >= start) & (exemplars["timestamp"] <= end)]
        if "metric" in ex:
            ex = ex[ex["metric"].astype(str) == series["__name__"]]
        ex = _match_labels(ex, series)
        found.extend(ex["trace_id"].astype(str))
    if not found and spans is not None and len(spans):
        sp = spans[(spans["start"] <= end) & (spans["end"] >= start)]
        matched = _match_labels(sp, series, require_one=True)
        if len(matched):
            matched = matched.sort_values("duration_ms", ascending=False)
            found.extend(matched["trace_id"].astype(str))
    return list(dict.fromkeys(found))[:limit]


def _match_labels(frame: pd.DataFrame, series: Mapping[str, str],
                  require_one: bool = False) -> pd.DataFrame:
    common = [k for k in series if k != "__name__" and k in frame.columns]
    if require_one and not common:
        return frame.iloc[:0]
    for col in common:
        frame = frame[frame[col].astype(object).astype(str) == series[col]]
    return frame
