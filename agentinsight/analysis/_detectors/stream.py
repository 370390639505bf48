"""Causal single-series scoring: the algorithm behind ``anomaly.score_series``.

The score of a point answers "how far does this go beyond everything this series has shown so
far?", measured on a few views of the series at once:

* the value itself, and its mean over the last 3, 12 and 48 points (a burst of spikes, a slow
  drift or a level shift raises a short mean past anything seen before even when no single point
  is extreme);
* the day-over-day difference (the value minus the median of the values at the same time on
  the previous three days), which flags a broken daily pattern whose values stay inside the
  normal range; the median keeps a one-off spike from echoing a day later;
* a robust view: the mean of the last 3 points against the 0.1 % .. 99.9 % range of its own
  history (the range without its most extreme 0.1 %). In the other views one early spike sets
  the bar for the rest of the series, so a later level shift or burst that stays below that
  spike scores nothing; here the spike stops counting once the history is long enough for it
  to be in the top 0.1 %.

For each view the excess over the running maximum (or under the running minimum) is divided by
the running range, so the score is scale-free and a series' own history calibrates it: a
heavy-tailed series must break a wider range. The robust view's excess is in units of its own
(narrower) range, so it enters with a small weight (0.05). The largest weighted excess becomes
the raw score, and a point whose raw score does not beat the highest raw score of the previous
50 points is zeroed: one incident is reported once, at its start, instead of on every point
while it lasts. A point that is reported scores the sum of the raw scores reported in those 50
points up to and including it: an incident that climbs by several small records in quick
succession (a level shift that creeps in, a burst that grows) counts as the larger excess it
adds up to, while a lone small record keeps its own small score.

A point is called anomalous at a score of 0.5 (an excess of about 2.4 % of the range), the one
threshold a user gets without re-optimising anything: it is the median, rounded, of the
thresholds NAB's rule picks on the training categories of a leave-one-category-out
cross-validation (0.518; ``benchmarks/nab_cv.py``; BENCHMARKS.md gives the held-out,
fixed-threshold and in-sample scores side by side, and what else was tried). Summing the records
of one incident is what lifted the held-out figure (67.3 to 71.0 standard): in that
cross-validation the training categories of the realAWSCloudwatch fold set a threshold of 0.64,
above the single small records by which several AWS anomalies begin, and their sums clear it.

Design and references. The scorer is built for the properties the Numenta Anomaly Benchmark
rewards (Lavin and Ahmad, "Evaluating Real-time Anomaly Detection Algorithms -- the Numenta
Anomaly Benchmark", ICMLA 2015): causal, one parameter set for every series, early detection and
few repeated alarms. Ideas it draws on:

* each series calibrates its own score, as HTM's anomaly likelihood does by judging the recent
  raw scores against the series' long-run score distribution (Ahmad, Lavin, Purdy and Agha,
  "Unsupervised real-time anomaly detection for streaming data", Neurocomputing 262, 2017); here
  the calibration is simpler and has no distribution to fit: an excess is measured in units of
  the series' own range so far;
* an anomaly is reported once, when it starts, as CAD OSE's context detector does by raising an
  alarm only for a context not seen recently (Smirnov, "Contextual Anomaly Detector", NAB
  results); here a raw score counts only when it beats the last ``suppress`` points' raw scores;
* the robust view follows the usual remedy for records in heavy-tailed data: judge against
  high quantiles rather than the maximum, so the bar is set by the bulk of the history and not
  by its one worst moment.

ARTime (Hampton, adaptive-resonance detector for NAB, 2021) learns categories of windowed
features; this scorer keeps to a few trailing means instead, which needs no training phase.
Tried in the same cross-validation and not used, because they generalised worse (figures in
BENCHMARKS.md): an HTM-style Gaussian tail likelihood of the short-window mean of the raw scores
against their long-run mean and spread (on this scorer's excesses, and on the error of an
exponentially weighted forecast), dividing each excess by the series' own mean or largest past
excess, damping excesses while the history is young or silencing the first days, and scoring
heavy-tailed non-negative series on a log scale.

All arithmetic is vectorised (numpy running max/min and cumulative sums; pandas' expanding
quantiles, O(n log n), for the robust view), so scoring a 43,200-point series takes about
0.1 s, and the same code scores a batch of equal-length series at once (a 2-d array with one
column per series, points along axis 0). ``raw_excess``, which ``ExtremeValueDetector`` also
uses, does not include the robust view; only ``stream_scores`` adds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DEFAULT", "StreamParams", "beyond_range", "day_period", "raw_excess", "rows_per_day",
           "stream_scores"]


@dataclass(frozen=True)
class StreamParams:
    """The one parameter set ``score_series`` uses for every series.

    ``mean_windows`` are the trailing-mean lengths (points); ``mean_weight`` and
    ``seasonal_weight`` scale those views against the value itself (weight 1);
    ``seasonal_days`` is how many earlier days the daily view takes the median of; ``warmup`` points
    score 0 while the running range forms; ``suppress`` is the look-back (points) of the
    report-once rule; ``scale`` maps the weighted excess (a fraction of the range) to [0, 1).
    The robust view (``stream_scores`` only, not ``raw_excess``) measures the mean of the last
    ``robust_window`` points against the ``1 - robust_quantile`` .. ``robust_quantile`` range of
    its own history, in units of that range, weighted by ``robust_weight`` (0 switches it off).
    With ``accumulate``, a reported point scores the sum of the excesses reported in the last
    ``suppress`` points up to and including it, not its own excess alone.
    """

    mean_windows: tuple[int, ...] = (3, 12, 48)
    mean_weight: float = 0.35
    seasonal_weight: float = 0.35
    seasonal_days: int = 3
    warmup: int = 20
    suppress: int = 50
    scale: float = 0.035
    robust_window: int = 3
    robust_quantile: float = 0.999
    robust_weight: float = 0.05
    accumulate: bool = True


DEFAULT = StreamParams()


def day_period(spacing_seconds: float) -> int:
    """Rows per day for a sampling interval, or 0 when a daily view makes no sense.

    >>> day_period(300.0), day_period(3600.0), day_period(86400.0)
    (288, 24, 0)
    """
    if not np.isfinite(spacing_seconds) or spacing_seconds <= 0:
        return 0
    period = int(round(86400.0 / spacing_seconds))
    return period if period >= 4 else 0


def rows_per_day(index: pd.Index | None) -> int:
    """Rows per day from the first positive gaps of a time index, in arrival order (0 for other
    indexes); duplicates, backward steps and missing times do not count as gaps.

    >>> rows_per_day(pd.date_range("2026-11-02", periods=30, freq="10min"))
    144
    """
    if not isinstance(index, pd.DatetimeIndex) or len(index) < 3:
        return 0
    head = index[:21]
    gaps = np.diff(head[head.notna()].as_unit("ns").asi8)
    gaps = gaps[gaps > 0]
    return day_period(float(np.median(gaps)) / 1e9) if len(gaps) else 0


def _shift(a: np.ndarray, k: int, fill: float) -> np.ndarray:
    """``a`` moved ``k`` rows later along axis 0, the first ``k`` rows set to ``fill``."""
    out = np.full_like(a, fill)
    if k < a.shape[0]:
        out[k:] = a[: a.shape[0] - k]
    return out


def _excess(view: np.ndarray, warmup: int, two_sided: bool = True) -> np.ndarray:
    """Excess of each point over the running max (or under the running min) of the points
    before it, as a fraction of their range; 0 while the range is empty or during warm-up."""
    hi = _shift(np.maximum.accumulate(view, axis=0), 1, np.nan)
    lo = _shift(np.minimum.accumulate(view, axis=0), 1, np.nan)
    return beyond_range(view, lo, hi, warmup, two_sided)


def beyond_range(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, warmup: int,
                 two_sided: bool = True) -> np.ndarray:
    """How far each point lies above ``hi`` (or below ``lo``) in units of ``hi - lo``: 0 inside
    the range, where the range is empty or unknown, and for the first ``warmup`` points."""
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        above = (x - hi) / span
        below = (lo - x) / span if two_sided else np.zeros_like(x)
        out = np.fmax(above, below)
    out[~(span > 0)] = 0.0
    out[:warmup] = 0.0
    return np.clip(np.nan_to_num(out, nan=0.0), 0.0, None)


def _trailing_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Mean of the last ``k`` points (fewer at the start), along axis 0."""
    csum = np.cumsum(x, axis=0)
    lagged = _shift(csum, k, 0.0)
    count = np.minimum(np.arange(1, x.shape[0] + 1), k).reshape((-1,) + (1,) * (x.ndim - 1))
    return (csum - lagged) / count


def raw_excess(x: np.ndarray, period: int, params: StreamParams = DEFAULT) -> np.ndarray:
    """The weighted excess of every view, maximised over views (before report-once).

    ``x`` is 1-d or 2-d (points × series), without NaN. ``period`` is rows per day (0: none).
    """
    p = params
    best = _excess(x, p.warmup)
    for k in p.mean_windows:
        np.fmax(best, p.mean_weight * _excess(_trailing_mean(x, k), p.warmup), out=best)
    if period and x.shape[0] > 2 * period:
        seasonal = x - _lag_median(x, period, p.seasonal_days)
        seasonal[:period] = 0.0
        np.fmax(best, p.seasonal_weight * _excess(seasonal, period + p.warmup), out=best)
    return best


def _lag_median(x: np.ndarray, period: int, days: int) -> np.ndarray:
    """Median of the values 1..``days`` periods earlier, over those that exist (NaN for none)."""
    stack = np.sort(np.stack([_shift(x, k * period, np.nan) for k in range(1, days + 1)]), axis=0)
    count = np.isfinite(stack).sum(axis=0)  # NaN sort last
    lo = np.take_along_axis(stack, (np.maximum(count - 1, 0) // 2)[None], 0)[0]
    hi = np.take_along_axis(stack, np.minimum(count // 2, days - 1)[None], 0)[0]
    return np.where(count > 0, 0.5 * (lo + hi), np.nan)


def stream_scores(x: np.ndarray, period: int,
                  params: StreamParams = DEFAULT) -> np.ndarray:
    """Scores in [0, 1) for a gap-free array (1-d, or 2-d: one series per column)."""
    x = np.asarray(x, dtype=float)
    raw = raw_excess(x, period, params)
    if params.robust_weight > 0:
        robust = _quantile_excess(_trailing_mean(x, params.robust_window),
                                  params.robust_quantile, params.warmup)
        np.fmax(raw, params.robust_weight * robust, out=raw)
    recent = _running_max(raw, params.suppress)
    raw = np.where(raw > recent, raw, 0.0)
    if params.accumulate:
        total = np.cumsum(raw, axis=0)
        total -= _shift(total, params.suppress, 0.0)
        raw = np.where(raw > 0, total, 0.0)
    return 1.0 - np.exp(-raw / params.scale)


def _quantile_excess(view: np.ndarray, quantile: float, warmup: int) -> np.ndarray:
    """Excess of each point beyond the ``1 - quantile`` .. ``quantile`` range of the points
    before it, in units of that range: like ``_excess``, but one earlier spike does not raise
    the bar for the next anomaly (the range leaves out the most extreme ``1 - quantile``)."""
    frame = pd.DataFrame(view.reshape(view.shape[0], -1))
    history = frame.expanding(min_periods=max(warmup, 1))
    hi = history.quantile(quantile).shift(1).to_numpy().reshape(view.shape)
    lo = history.quantile(1.0 - quantile).shift(1).to_numpy().reshape(view.shape)
    return beyond_range(view, lo, hi, warmup)


def _running_max(a: np.ndarray, window: int) -> np.ndarray:
    """Max of the ``window`` points before each point (0 before the first), along axis 0.

    Sparse tables would be faster for huge windows; a doubling sweep is O(n log window).
    """
    out = _shift(a, 1, 0.0)
    span = 1
    while span < window:
        step = min(span, window - span)
        np.maximum(out, _shift(out, step, 0.0), out=out)
        span += step
    return out
