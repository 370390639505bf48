"""Series detectors as scikit-learn outlier estimators, each with a causal batch scorer.

Every detector here treats the rows of ``X`` as consecutive observations in time and each
column as one series. Two ways to use them:

* scikit-learn style: ``fit(history)`` learns a baseline, then ``score_samples`` (lower = more
  abnormal), ``decision_function`` (negative = anomalous) and ``predict`` (+1 / -1) judge new
  rows against it;
* ``causal_scores(X, index=None)``: scores every row against the rows before it only, in
  [0, 1], for all columns at once; ``detect`` uses this on a whole metrics frame. It returns the
  scores and the value the detector expected at each point.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted, validate_data

from agentinsight.analysis._detectors.stream import (
    StreamParams,
    _excess,
    beyond_range,
    raw_excess,
    rows_per_day,
)

__all__ = ["ExtremeValueDetector", "LevelShiftDetector", "SeasonalBaselineDetector",
           "shared_baselines"]

_MAD_TO_SIGMA = 1.4826
# ExtremeValueDetector's views, fixed here so that retuning score_series for NAB leaves the
# report's detection (measured on the simulator's incidents) as it was measured
_EXTREME_VIEWS = StreamParams(mean_windows=(3, 12, 48), mean_weight=0.35, seasonal_weight=0.35,
                              seasonal_days=3)
_MIN_RESIDUALS = 20  # LevelShiftDetector: residuals needed before its spread means anything


class _SeriesDetector(OutlierMixin, BaseEstimator):
    """Shared plumbing: validation, NaN tolerance, decision_function and predict."""

    #: anomaly score (0..1) at which predict() says -1; subclasses map their statistic onto it
    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _validate(self, X: Any, reset: bool) -> np.ndarray:
        return validate_data(self, X, reset=reset, dtype=np.float64,
                             ensure_all_finite="allow-nan")

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for rows the detector calls anomalous."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for normal rows, -1 for anomalous ones."""
        return np.where(self.decision_function(X) >= 0, 1, -1)


class ExtremeValueDetector(_SeriesDetector):
    """Flags values beyond the range seen before (the view ``score_series`` is built on).

    ``tolerance`` is the excess, as a fraction of the known range, at which a value is called
    anomalous (it scores 0.5 in ``causal_scores``); ``warmup`` points score 0 there while the
    range forms. ``score_series`` uses the same views with NAB's more eager setting.
    ``ramp`` (points) adds a view for steady climbs, which set a new record at every point but
    each by a small step (a queue backing up): the value's excess over the range of the points
    up to ``ramp`` points before it, which a climb soon leaves far behind while a burst of the
    usual size does not (0 turns it off).

    >>> det = ExtremeValueDetector().fit(np.arange(100.0).reshape(-1, 1))
    >>> det.predict([[50.0], [110.0], [130.0]]).tolist()
    [1, 1, -1]
    """

    def __init__(self, tolerance: float = 0.25, warmup: int = 240, ramp: int = 30) -> None:
        self.tolerance = tolerance
        self.warmup = warmup
        self.ramp = ramp

    def fit(self, X: Any, y: Any = None) -> ExtremeValueDetector:
        """Learn each column's range from ``X``."""
        X = self._validate(X, reset=True)
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
        self.min_ = np.nan_to_num(lo, nan=0.0)
        self.max_ = np.nan_to_num(hi, nan=0.0)
        self.offset_ = -float(self.tolerance)
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the largest excess over the learned range (as a fraction of it) per row."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        span = np.where(self.max_ > self.min_, self.max_ - self.min_, 1.0)
        excess = np.fmax(X - self.max_, self.min_ - X) / span
        excess = np.nan_to_num(np.clip(excess, 0.0, None), nan=0.0)
        return -excess.max(axis=1)

    def min_history(self, index: pd.DatetimeIndex | None = None) -> int:
        """Rows a series needs before ``causal_scores`` can score any of them above 0 (with a
        daily cycle, the rows of the grid's first day: fewer than a day's steps on a grid with
        gaps)."""
        day = rows_per_day(index)
        if day and index is not None:
            day = int(np.searchsorted(index, index[0] + pd.Timedelta(days=1)))
        return max(int(self.warmup), day) + 1

    def causal_scores(self, X: np.ndarray, index: pd.DatetimeIndex | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Excess over the range seen before, for every column (points × series), in [0, 1],
        with the range bound that was crossed as the expected value."""
        filled = _ffill(X)
        period = rows_per_day(index)
        # with a daily cycle the first day sets new highs by nature: learn it before judging
        # (the grid's first day in time: on a grid with gaps, where steps in which too few runs
        # finished are left out, a day's worth of steps can take days to arrive)
        params = replace(_EXTREME_VIEWS, warmup=self.min_history(index) - 1)
        raw = raw_excess(filled, period, params)
        if self.ramp:
            # a climb sets a record at every point, each by one small step: judge it against
            # the range up to `ramp` points before, which it has left far behind
            np.fmax(raw, _excess_since(filled, int(self.ramp), params.warmup), out=raw)
        scores = 1.0 - np.exp(-raw * np.log(2.0) / float(self.tolerance))
        hi = _lag(np.fmax.accumulate(filled, axis=0))
        lo = _lag(np.fmin.accumulate(filled, axis=0))
        expected = np.where(filled > hi, hi, np.where(filled < lo, lo, filled))
        scores[np.isnan(X)] = 0.0
        return scores, expected


class SeasonalBaselineDetector(_SeriesDetector):
    """Robust seasonal baseline: median and MAD per season slot (or overall without a season).

    With ``season_length=None`` and a pandas input indexed by time, the slots are hour-of-day,
    or hour-of-week once ``min_cycles`` weeks of history exist; with an int, row ``i`` falls in
    slot ``i % season_length``. A row is anomalous when it is more than ``n_sigmas`` robust
    standard deviations (1.4826 × MAD) from its slot's median.

    >>> X = np.tile([1.0, 5.0], 50).reshape(-1, 1)
    >>> det = SeasonalBaselineDetector(season_length=2).fit(X)
    >>> det.predict([[1.0], [5.0], [5.0], [5.0]]).tolist()
    [1, 1, -1, 1]
    """

    def __init__(self, season_length: int | None = None, n_sigmas: float = 6.0,
                 window: int = 7, min_cycles: int = 3, tolerance: float = 0.25,
                 warmup: int = 240) -> None:
        self.season_length = season_length
        self.n_sigmas = n_sigmas
        self.tolerance = tolerance
        self.warmup = warmup
        self.window = window
        self.min_cycles = min_cycles

    def fit(self, X: Any, y: Any = None) -> SeasonalBaselineDetector:
        """Learn each slot's median and MAD per column from ``X``."""
        index = getattr(X, "index", None)
        X = self._validate(X, reset=True)
        slots = self._slots(len(X), index, fitting=True)
        n_slots = int(slots.max()) + 1 if len(slots) else 1
        self.median_ = np.zeros((n_slots, X.shape[1]))
        self.scale_ = np.ones((n_slots, X.shape[1]))
        with np.errstate(all="ignore"), _quiet():
            overall = np.nan_to_num(np.nanmedian(X, axis=0), nan=0.0)
            for s in range(n_slots):
                rows = X[slots == s]
                med = np.nanmedian(rows, axis=0) if len(rows) else overall
                med = np.where(np.isnan(med), overall, med)
                mad = np.nanmedian(np.abs(rows - med), axis=0) if len(rows) else np.nan
                self.median_[s] = med
                self.scale_[s] = _MAD_TO_SIGMA * np.nan_to_num(mad, nan=0.0)
        floor = 1e-3 * np.maximum(np.abs(self.median_).max(axis=0), 1e-9)
        self.scale_ = np.maximum(self.scale_, floor)
        self.n_slots_ = n_slots
        self.offset_ = -float(self.n_sigmas)
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the largest robust z-score per row (rows continue the fitted history's slots
        when ``season_length`` is an int; a time index maps them to hour slots)."""
        check_is_fitted(self)
        index = getattr(X, "index", None)
        X = self._validate(X, reset=False)
        slots = self._slots(len(X), index, fitting=False) % self.n_slots_
        z = np.abs(X - self.median_[slots]) / self.scale_[slots]
        return -np.nan_to_num(z, nan=0.0).max(axis=1)

    def _slots(self, n: int, index: Any, fitting: bool) -> np.ndarray:
        if self.season_length:
            return np.arange(n) % int(self.season_length)
        if isinstance(index, pd.DatetimeIndex) and n:
            if fitting:
                days = (index.max() - index.min()) / pd.Timedelta(days=1)
                self.weekly_ = days >= 7 * self.min_cycles
                self.hourly_ = days >= self.min_cycles
            if getattr(self, "weekly_", False):
                return np.asarray(index.dayofweek * 24 + index.hour)
            if getattr(self, "hourly_", False):
                return np.asarray(index.hour)
        return np.zeros(n, dtype=int)

    def min_history(self, index: pd.DatetimeIndex | None = None) -> int:
        """Rows a series needs before ``causal_scores`` can score any of them above 0."""
        return max(int(self.warmup), int(self.season_length or rows_per_day(index))) + 1

    def causal_scores(self, X: np.ndarray, index: pd.DatetimeIndex | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Each point against what the points before it lead one to expect, in [0, 1].

        The expectation is the median of the same time of day over the last ``window`` days
        (with a daily period from ``season_length`` or the time index, once two earlier days
        exist), or else the median of the last ``window`` × 4 points; per series and point,
        whichever of the two has tracked the series better so far is used. Each
        point's residual (observed - expected) scores by how far it goes beyond the residuals
        seen before it, as a fraction of their range (``tolerance`` of the range scores 0.5);
        the first ``warmup`` points (and the first day, with a daily cycle) only build that
        range.
        """
        values = np.asarray(X, dtype=float)
        period = int(self.season_length or rows_per_day(index))
        expected = _expectation(values, period, self.window)
        # Residuals of real metrics are heavy-tailed (ratios at low volume, quantised counts), so
        # a residual is judged against the largest residuals of its own past rather than against
        # a Gaussian spread: it scores by how far it goes beyond them, as a fraction of their range.
        resid = np.where(np.isfinite(expected), _ffill(values) - expected, 0.0)
        excess = _excess(resid, max(int(self.warmup), period))
        scores = 1.0 - np.exp(-excess * np.log(2.0) / float(self.tolerance))
        scores[np.isnan(values)] = 0.0
        return scores, expected


class LevelShiftDetector(_SeriesDetector):
    """Two-sided CUSUM change-point detector on robust z-scores.

    ``fit`` learns the reference level (median) and spread (1.4826 × MAD); the CUSUM then
    accumulates standardised deviations beyond ``drift`` sigmas, and a row is anomalous once the
    sum passes ``threshold``. A sustained shift of a few sigmas is flagged within a handful of
    points, while a single spike of the same size is not.

    >>> det = LevelShiftDetector().fit(np.random.default_rng(0).normal(size=(200, 1)))
    >>> det.predict(np.r_[np.zeros(5), np.full(10, 3.0)].reshape(-1, 1)).tolist()[-1]
    -1
    """

    def __init__(self, threshold: float = 10.0, drift: float = 2.0, window: int = 200,
                 clip: float = 4.0, seasonal: bool = True) -> None:
        self.threshold = threshold
        self.drift = drift
        self.window = window
        self.clip = clip
        self.seasonal = seasonal

    def fit(self, X: Any, y: Any = None) -> LevelShiftDetector:
        """Learn each column's reference median and robust spread."""
        X = self._validate(X, reset=True)
        with np.errstate(all="ignore"), _quiet():
            med = np.nan_to_num(np.nanmedian(X, axis=0), nan=0.0)
            mad = np.nan_to_num(np.nanmedian(np.abs(X - med), axis=0), nan=0.0)
        self.level_ = med
        self.scale_ = np.maximum(_MAD_TO_SIGMA * mad, 1e-3 * np.maximum(np.abs(med), 1e-9))
        self.offset_ = -float(self.threshold)
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """Minus the CUSUM statistic after each row (rows taken as a sequence)."""
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        z = np.nan_to_num((X - self.level_) / self.scale_, nan=0.0)
        up = np.zeros(X.shape[1])
        down = np.zeros(X.shape[1])
        out = np.empty(len(X))
        k = float(self.drift)
        for i, row in enumerate(z):
            up = np.maximum(0.0, up + row - k)
            down = np.maximum(0.0, down - row - k)
            out[i] = -max(up.max(initial=0.0), down.max(initial=0.0))
        return out

    def min_history(self, index: pd.DatetimeIndex | None = None) -> int:
        """Rows a series needs before ``causal_scores`` can score any of them above 0."""
        return max(int(self.window) // 2, 2) + _MIN_RESIDUALS + 1

    def causal_scores(self, X: np.ndarray, index: pd.DatetimeIndex | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
        """CUSUM of the residuals against what the earlier points lead one to expect.

        The reference is the same-time-of-day median of earlier days where the series has a
        daily cycle (as in ``SeasonalBaselineDetector``), else the median of the previous
        ``window`` points; residuals are standardised by a running mean of past absolute
        residuals (at least 5 % of the series' running mean level) and clipped to ±``clip`` so
        that only a sustained shift, never one spike, crosses ``threshold``. After an alarm the
        sums stay quiet for ``window`` / 2 points, so one shift is one finding. Scores map the
        statistic to [0, 1] with ``threshold`` at 0.5.
        """
        values = np.asarray(X, dtype=float)
        filled = _ffill(values)
        period = rows_per_day(index) if self.seasonal else 0
        if period and values.shape[0] > 2 * period:
            level = _expectation(values, period, 7)
        else:
            level = pd.DataFrame(filled).rolling(
                self.window, min_periods=max(self.window // 2, 2)).median().shift(1).to_numpy()
        resid = filled - level
        halflife = max(period, self.window)
        spread = 1.25 * _ewm_lagged(np.abs(resid), halflife)
        spread = np.fmax(spread, 0.05 * _ewm_lagged(np.abs(filled), halflife))
        with np.errstate(all="ignore"):
            z = np.nan_to_num(resid / spread, nan=0.0, posinf=0.0, neginf=0.0)
        # the spread needs residuals first
        z[np.cumsum(np.isfinite(resid), axis=0) < _MIN_RESIDUALS] = 0.0
        z = np.clip(z, -self.clip, self.clip)
        stat = np.zeros(values.shape)
        up = np.zeros(values.shape[1])
        down = np.zeros(values.shape[1])
        hold = np.zeros(values.shape[1], dtype=int)
        k, h = float(self.drift), float(self.threshold)
        for i in range(values.shape[0]):
            up = np.maximum(0.0, up + z[i] - k)
            down = np.maximum(0.0, down - z[i] - k)
            current = np.maximum(up, down)
            resting = hold > 0
            current[resting] = 0.0
            stat[i] = current
            fired = current > h
            up[fired | resting] = 0.0
            down[fired | resting] = 0.0
            hold = np.where(fired, self.window // 2, np.maximum(hold - 1, 0))
        scores = stat / (stat + h)
        scores[np.isnan(values)] = 0.0
        return scores, level


# --- helpers -------------------------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """Silence numpy's all-NaN-slice warnings inside a block."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _ffill(X: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down each column (leading NaN take the first value)."""
    return pd.DataFrame(X).ffill().bfill().to_numpy(dtype=float)


_SHARED: dict[tuple[int, tuple[int, ...], int, int], np.ndarray] | None = None


@contextmanager
def shared_baselines() -> Iterator[None]:
    """Within the block, detectors scoring the same array share one baseline computation."""
    global _SHARED
    _SHARED = {}
    try:
        yield
    finally:
        _SHARED = None


def _expectation(values: np.ndarray, period: int, days: int) -> np.ndarray:
    """What the points before each point lead one to expect (see SeasonalBaselineDetector)."""
    key = (id(values), values.shape, period, days)
    if _SHARED is not None and key in _SHARED:
        return _SHARED[key]
    out = _compute_expectation(values, period, days)
    if _SHARED is not None:
        _SHARED[key] = out
    return out


def _compute_expectation(values: np.ndarray, period: int, days: int) -> np.ndarray:
    frame = pd.DataFrame(values)
    trail = frame.rolling(4 * days, min_periods=8).median().shift(1).to_numpy()
    if not period or values.shape[0] <= 2 * period:
        return trail
    seasonal = _lagged_median(_ffill(values), period, days)
    halflife = max(period // 4, 8)
    err_trail = _ewm_lagged(np.abs(values - trail), halflife)
    err_seas = _ewm_lagged(np.abs(values - seasonal), halflife)
    use_seasonal = np.isfinite(seasonal) & ~(err_seas >= err_trail)
    return np.where(use_seasonal, seasonal, trail)


def _ewm_lagged(a: np.ndarray, halflife: float) -> np.ndarray:
    """Exponentially weighted mean of the values before each point (NaN ignored)."""
    return pd.DataFrame(a).ewm(halflife=halflife, ignore_na=True).mean().shift(1).to_numpy()


def _lagged_median(values: np.ndarray, period: int, cycles: int) -> np.ndarray:
    """Median of the values 1..``cycles`` periods earlier (NaN until two of them exist).

    ``values`` must be gap-free (forward-filled): a NaN among the lags makes that median NaN.
    """
    n, m = values.shape
    out = np.full(values.shape, np.nan)
    full = min(cycles * period, n)  # from here on every lag exists: plain median, no NaN logic
    for c0 in range(0, m, 128):  # column blocks keep the stacked copy small
        block = values[:, c0:c0 + 128]
        stack = np.full((cycles, *block.shape), np.nan)
        for k in range(1, cycles + 1):
            if k * period < n:
                stack[k - 1, k * period:] = block[: n - k * period]
        if n > full:
            out[full:, c0:c0 + 128] = np.median(stack[:, full:], axis=0)
        head = np.sort(stack[:, :full], axis=0)  # NaN sort last
        count = np.isfinite(head).sum(axis=0)
        lo_i = np.maximum(count - 1, 0) // 2
        hi_i = count // 2
        med = 0.5 * (np.take_along_axis(head, lo_i[None], 0)[0]
                     + np.take_along_axis(head, np.minimum(hi_i, cycles - 1)[None], 0)[0])
        out[:full, c0:c0 + 128] = np.where(count >= 2, med, np.nan)
    return out


def _excess_since(x: np.ndarray, lag: int, warmup: int) -> np.ndarray:
    """Excess of each point over the range of the points up to ``lag`` points before it, as a
    fraction of that range (0 while it is empty or during warm-up): a climb that keeps setting
    records is measured against the range before it began, not against its own last step."""
    n = x.shape[0]
    hi = np.full(x.shape, np.nan)
    lo = np.full(x.shape, np.nan)
    if n > lag + 1:
        hi[lag + 1:] = np.fmax.accumulate(x, axis=0)[: n - lag - 1]
        lo[lag + 1:] = np.fmin.accumulate(x, axis=0)[: n - lag - 1]
    return beyond_range(x, lo, hi, warmup)


def _lag(a: np.ndarray) -> np.ndarray:
    out = np.full_like(a, np.nan)
    out[1:] = a[:-1]
    return out


