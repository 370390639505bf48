"""Traffic drops: a rate far below what the same time of day usually carries.

A traffic drop (an upstream outage, a broken client, a gateway that stops forwarding) shows as a
*low* rate, which detectors built for spikes and heavy tails barely notice, and low rates are
also what every night looks like. So the expectation is seasonal and the test is a count test:

* expected rate at ``t`` = the median of the rate at ``t - 1 day``, ``t - 2 days``, ... over the
  last ``days`` days, counting only days of the same kind (weekday or weekend) — causal, and it
  follows the daily and weekly cycle. A young history is not left unjudged: with one earlier
  day of the same kind that day is the expectation; with none (the first Monday after a
  weekend start, the first Saturday after a weekday start) the same time of day on the days of
  the other kind is scaled by how today's traffic compared with theirs over the ``level``
  hours before ``t`` (the median ratio, so the fall being judged barely moves it; only rates
  whose window lies wholly inside today count, as the first minutes after midnight still
  hold the evening before); and where
  no earlier day has this time of day at all (a history that began later in the day, e.g. on
  Sunday at 09:00 for Monday 08:40), the expectation is today's own lowest rate over those
  ``level`` hours, ending one ``window`` before ``t`` (the lowest, so that the evening's fall
  is never a drop; a fall far below even the quietest recent hour is one);
* the window's expected count ``λ = expected × window`` and observed count ``k``;
* the point is anomalous when ``k < fraction × λ``, ``λ >= min_expected`` and the Poisson
  probability of seeing ``k`` or fewer events when ``λ`` were usual is below ``p_value``; a
  finding needs ``min_points`` such points (one low point is noise, not an outage). Events
  that arrive in bunches (a task starting several agent runs at once) vary more than a
  Poisson count: with ``dispersion`` ``D`` (the count's variance over its mean) the test is
  quasi-Poisson, ``k / D`` bunches against ``λ / D``.

The Poisson test keeps quiet hours quiet (a night with 5 expected runs cannot be "dropped"
convincingly) while a fall from 150 to 15 runs in half an hour is flagged at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import poisson

from agentinsight.analysis import display
from agentinsight.analysis._detectors.findings import findings_frame, runs_of
from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import empty_findings_frame, label_columns, validate_metrics_frame

__all__ = ["detect_traffic_drop"]

_DAY = pd.Timedelta(days=1)


def detect_traffic_drop(rates: pd.DataFrame, *, window: Any = "30m", days: int = 14,
                        fraction: float = 0.25, min_expected: float = 30.0,
                        p_value: float = 1e-6, max_gap: int = 2, min_points: int = 2,
                        level: Any = "6h", dispersion: float = 1.0) -> pd.DataFrame:
    """Findings where a per-second rate series falls far below its usual level for the time of
    day (see the module docstring). ``rates`` is a metrics frame such as
    ``source.rate("agent_execution_total", by=[], window="30m")``; ``window`` must be the
    rate's window, so that rate × window is the count the test needs. ``level`` is how far
    back today's traffic is compared with the other kind of day's when no day of its own kind
    came before. ``dispersion`` is how much more the window's count varies than a Poisson
    count: 1 when events arrive one by one; for events that arrive in bunches (agent runs
    started together by one task) the variance over the mean of the count, e.g.
    ``reports.notebook.runs_bunching(spans)``.

    >>> import numpy as np
    >>> from agentinsight.frames import metrics_frame
    >>> t = 1793577600 + np.arange(0, 4 * 86400, 300.0)    # Monday 2026-11-02 to Thursday
    >>> v = np.full(len(t), 0.1); v[-24:] = 0.005          # the last two hours fall to 5 %
    >>> found = detect_traffic_drop(metrics_frame(t, "runs:rate", v))
    >>> found[["detector", "severity"]].values.tolist()
    [['traffic_drop', 'critical']]
    """
    rates = validate_metrics_frame(rates)
    seconds = pd.Timedelta(window).total_seconds()
    lookback = pd.Timedelta(level)
    if seconds <= 0 or days < 2 or not 0 < fraction < 1 or lookback <= pd.Timedelta(0) \
            or not float(dispersion) >= 1.0:
        raise ConfigurationError("detect_traffic_drop: window and level must be positive, "
                                 "days >= 2, 0 < fraction < 1 and dispersion >= 1 (got "
                                 f"{window!r}, {level!r}, {days}, {fraction}, {dispersion!r})")
    if rates.empty:
        return empty_findings_frame()
    labels = label_columns(rates)
    rows: list[dict[str, Any]] = []
    keys = ["metric", *labels]
    for key, part in rates.groupby(keys, observed=True, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        series = {"__name__": str(key[0])}
        series.update({k: str(v) for k, v in zip(labels, key[1:], strict=True)
                       if not (isinstance(v, float) and np.isnan(v))})
        s = part.set_index("timestamp")["value"].sort_index()
        s = s[~s.index.duplicated(keep="last")]
        expected = _expected(s, days, lookback, seconds)
        rows.extend(_series_drops(s, expected, series, seconds, fraction, min_expected,
                                  p_value, max_gap, min_points, float(dispersion)))
    return findings_frame(rows)


def _expected(s: pd.Series, days: int, lookback: pd.Timedelta,
              window: float = 0.0) -> np.ndarray:
    """The usual rate at each point (see the module docstring), NaN where nothing earlier
    tells."""
    # Weekends carry other traffic than weekdays: compare each point with earlier days of its
    # own kind when there are any.
    weekend = s.index.day_of_week >= 5
    same, other = [], []
    for k in range(1, days + 1):
        back = s.index - k * _DAY
        values = s.reindex(back).to_numpy(dtype=float, copy=True)
        alike = (back.day_of_week >= 5) == weekend
        same.append(np.where(alike, values, np.nan))
        other.append(np.where(alike, np.nan, values))
    same_m, other_m = np.column_stack(same), np.column_stack(other)
    expected = np.full(len(s), np.nan)
    known = np.isfinite(same_m).any(axis=1)
    if known.any():
        expected[known] = np.nanmedian(same_m[known], axis=1)
    unknown = ~known & np.isfinite(other_m).any(axis=1)
    if unknown.any():
        # only days of the other kind: their shape over the day, scaled to today's level
        shape = np.full(len(s), np.nan)
        shape[unknown] = np.nanmedian(other_m[unknown], axis=1)
        observed = s.to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(unknown & (shape > 0), observed / shape, np.nan)
        seconds = max(lookback.total_seconds(), 1.0)
        # only rates whose window lies wholly in today tell today's level: the first
        # minutes of a day still hold the evening before in their rates
        inside = (s.index - pd.Timedelta(seconds=window)) >= s.index.normalize()
        ratio = np.where(inside, ratio, np.nan)
        # the median ratio over the lookback, without the point itself (causal)
        trailing = pd.Series(ratio, index=s.index).rolling(
            f"{int(seconds)}s", min_periods=3).median().shift(1).to_numpy()
        expected[unknown] = shape[unknown] * trailing[unknown]
    # No day before has this time of day (the history began later in the day): today's own
    # lowest rate over the lookback, ending one rate window before the point. The lowest, not
    # the median, so that a day's gradual fall into the night never reads as a drop; a fall
    # far below even that is one.
    alone = ~np.isfinite(expected) & ~np.isfinite(same_m).any(axis=1) \
        & ~np.isfinite(other_m).any(axis=1)
    if alone.any():
        own = s.astype(float).rolling(f"{int(max(lookback.total_seconds(), 1.0))}s",
                                      min_periods=3).min().to_numpy()
        # up to one rate window before the point, so that a drop does not lower its own
        # reference while the window fills with it
        at = np.searchsorted(s.index.asi8, (s.index - pd.Timedelta(seconds=window)).asi8,
                             side="right") - 1
        prior = np.where(at >= 0, own[np.clip(at, 0, None)], np.nan)
        expected[alone] = prior[alone]
    return expected


def _series_drops(s: pd.Series, expected: np.ndarray, series: dict[str, str], seconds: float,
                  fraction: float, min_expected: float, p_value: float,
                  max_gap: int, min_points: int,
                  dispersion: float = 1.0) -> list[dict[str, Any]]:
    if len(s) < 3:
        return []
    observed = s.to_numpy(dtype=float)
    lam = expected * seconds
    count = np.floor(np.nan_to_num(observed, nan=np.inf) * seconds)
    ok = np.isfinite(lam) & (lam >= min_expected) & np.isfinite(observed)
    prob = np.ones(len(s))
    # events that arrive in bunches: a Poisson count of bunches (quasi-Poisson)
    prob[ok] = poisson.cdf(np.floor(count[ok] / dispersion), lam[ok] / dispersion)
    hot = ok & (observed < fraction * expected) & (prob < p_value)
    rows = []
    index = s.index
    for first, last in runs_of(hot, max_gap):
        if hot[first:last + 1].sum() < min_points:  # one low point is noise, not an outage
            continue
        seg = slice(first, last + 1)
        peak = first + int(np.argmin(np.where(hot[seg], observed[seg] / expected[seg], np.inf)))
        share = observed[peak] / expected[peak]
        labels = ",".join(f"{k}={v}" for k, v in series.items() if k != "__name__")
        where = f"{series['__name__']}{{{labels}}}" if labels else series["__name__"]
        rows.append({
            "detector": "traffic_drop", "series": series,
            "start": index[first], "end": index[last],
            "score": float(np.clip(1.0 - prob[peak], 0.0, 1.0)),
            "severity": "critical" if share < fraction / 2 else "warning",
            "observed": float(observed[peak]), "expected": float(expected[peak]),
            "summary": (f"{where}: traffic fell to {share:.0%} of the usual for this time of "
                        f"day ({display.number(observed[peak])}/s, usually "
                        f"{display.number(expected[peak])}/s) from "
                        f"{index[first]:%Y-%m-%d %H:%M} to {index[last]:%H:%M}"),
        })
    return rows
