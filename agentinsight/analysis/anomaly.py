"""Anomaly detection over metrics and spans frames.

Entry points:

* ``score_series(series)`` scores one series causally (a point's score uses only earlier points
  and itself), with one fixed parameter set, in [0, 1]. Its quality is measured on the labelled
  NAB data by ``benchmarks/nab.py``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentinsight.analysis._detectors_stream import day_period, stream_scores
from agentinsight.exceptions import ConfigurationError, InvalidTimeError

__all__ = ["score_series"]


def score_series(series: pd.Series) -> pd.Series:
    """Anomaly scores in [0, 1] for one series, computed causally with default parameters.

    A score near 1 means the point goes far beyond everything the series showed before (in its
    value, its short-term means or its day-over-day difference) and is the first such point in
    a while; ordinary points score 0. Missing values score 0 and do not disturb the rest. Each
    call starts from a fresh state. With a DatetimeIndex (sorted), the sampling interval of the
    first points decides how many rows make a day.

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
    if present.sum() < 2:
        return out
    period = _period_of(series.index, name)
    filled = pd.Series(values).ffill().bfill().to_numpy()
    scores = stream_scores(filled, period)
    scores[~present] = 0.0
    out[:] = scores
    return out


def _period_of(index: pd.Index, name: object) -> int:
    """Rows per day from the first gaps of a time index (0 for other indexes)."""
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return 0
    head = index[:21].as_unit("ns").asi8
    gaps = np.diff(head)
    if (gaps < 0).any() or not index.is_monotonic_increasing:
        raise InvalidTimeError(
            f"score_series: the index of {name!r} is not sorted by time; sort it first"
        )
    positive = gaps[gaps > 0]
    return day_period(float(np.median(positive)) / 1e9) if len(positive) else 0
