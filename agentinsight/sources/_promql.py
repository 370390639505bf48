"""Prometheus query semantics in numpy, for sources that hold raw samples (FileSource).

Evaluation follows a Prometheus range query (Prometheus 3 semantics):

- **evaluation times** are ``start, start + step, ...`` up to and including ``end``;
- an **instant selector** at time ``t`` takes each series' latest sample in ``(t - 5m, t]``
  (the lookback delta);
- a **range selector** ``[w]`` at ``t`` takes the samples in ``(t - w, t]`` (left-open, as in
  Prometheus 3; Prometheus 2 also included a sample exactly at ``t - w``);
- ``rate``/``increase`` correct counter resets and extrapolate to the window edges exactly as
  Prometheus does (``extrapolatedRate``), needing at least two samples in the window;
- ``sum by (...)`` adds the series present at a time (a label a series lacks counts as ``""``);
- ``histogram_quantile`` interpolates linearly inside the bucket holding the rank, returns the
  upper bound of the last finite bucket when the rank falls into ``+Inf``, and ``NaN`` when the
  ``+Inf`` bucket is missing or holds no observations.

Values live in ``(series, time)`` matrices with a boolean ``present`` mask beside them, so a
missing point (no sample) stays distinct from a ``NaN`` value (``0/0``), as in PromQL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from agentinsight.exceptions import QueryError
from agentinsight.formats.openmetrics import Samples

__all__ = [
    "LOOKBACK_MS",
    "Matcher",
    "SeriesSet",
    "divide",
    "eval_times",
    "histogram_quantile",
    "increase",
    "instant_select",
    "parse_selector",
    "sum_by",
]

LOOKBACK_MS = 300_000

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_STRING = r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'"
_MATCHER = re.compile(rf"\s*({_LABEL})\s*(=~|!~|!=|=)\s*({_STRING})\s*(?:,|$)")
_SELECTOR = re.compile(rf"^\s*({_NAME})?\s*(?:\{{(.*)\}})?\s*$", re.S)


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a selector: ``label op value`` (regexes are fully anchored)."""

    label: str
    op: str
    value: str

    def mask(self, values: np.ndarray) -> np.ndarray:
        """Which of ``values`` (label values, ``""`` where absent) the matcher accepts."""
        if self.op == "=":
            return values == self.value
        if self.op == "!=":
            return values != self.value
        pattern = re.compile(f"(?:{self.value})$")
        hits = np.fromiter((pattern.match(v) is not None for v in values), bool, len(values))
        return hits if self.op == "=~" else ~hits


def _unquote(text: str) -> str:
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse_selector(selector: str) -> tuple[str | None, list[Matcher]]:
    """Split ``name{label="v", other=~"re.*"}`` into the metric name and its matchers.

    Raises :class:`QueryError` for anything else (functions, operators, range selectors):
    sources built on raw samples take selectors, not arbitrary PromQL.

    >>> parse_selector('agent_execution_total{agent="planner", status!="error"}')[0]
    'agent_execution_total'
    """
    match = _SELECTOR.match(selector)
    matchers: list[Matcher] = []
    if match:
        name, body = match.group(1), match.group(2) or ""
        pos = 0
        while pos < len(body.strip()):
            m = _MATCHER.match(body, pos)
            if not m:
                match = None
                break
            matchers.append(Matcher(m.group(1), m.group(2), _unquote(m.group(3))))
            pos = m.end()
    if not match or (name is None and not matchers):
        raise QueryError(
            "only a metric name with optional label matchers is accepted here "
            "(e.g. 'agent_execution_total{agent=\"planner\"}'), not PromQL functions or "
            "operators; use the helpers (rate, latency_quantiles, token_usage, error_ratio) or "
            "a PrometheusSource for full PromQL",
            query=selector,
        )
    for i, matcher in enumerate(matchers):
        if matcher.label == "__name__" and matcher.op == "=":
            name = matcher.value
            matchers.pop(i)
            break
    return name, matchers


class SeriesSet(Samples):
    """Raw samples of many series (see :class:`~agentinsight.formats.openmetrics.Samples`),
    with the selection and per-series search that query evaluation needs."""

    @classmethod
    def of(cls, samples: Samples) -> SeriesSet:
        """The same samples as a SeriesSet (no copy of the arrays)."""
        if isinstance(samples, SeriesSet):
            return samples
        return cls(samples.labels, samples.offsets, samples.t, samples.v)

    def label_values(self, label: str) -> np.ndarray:
        """Each series' value of ``label`` (``""`` where the series lacks it)."""
        if label not in self.labels.columns:
            return np.full(len(self), "", dtype=object)
        return self.labels[label].fillna("").astype(object).to_numpy()

    def select(self, name: str | None, matchers: Sequence[Matcher] = ()) -> SeriesSet:
        """The series whose ``__name__`` is ``name`` and that satisfy every matcher."""
        mask = np.ones(len(self), bool)
        if name is not None:
            mask &= self.label_values("__name__") == name
        for m in matchers:
            mask &= m.mask(self.label_values(m.label))
        return self.subset(np.flatnonzero(mask))

    def subset(self, rows: np.ndarray) -> SeriesSet:
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        idx = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        idx = idx + np.arange(lengths.sum()) if len(idx) else idx.astype("int64")
        labels = self.labels.iloc[rows]
        labels = labels.loc[:, labels.notna().any(axis=0)]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype("int64")
        return SeriesSet(labels, offsets, self.t[idx], self.v[idx])

    @functools.cached_property
    def _keys(self) -> np.ndarray:
        """Sort keys unique across series: series index in the high bits, time in the low."""
        series = np.repeat(np.arange(len(self), dtype="int64"), np.diff(self.offsets))
        return (series << 42) + (self.t - self._t0)

    @functools.cached_property
    def _t0(self) -> int:
        return int(self.t.min()) if len(self.t) else 0

    def _search(self, times: np.ndarray, side: Literal["left", "right"]) -> np.ndarray:
        """For each (series, time): the index of the first sample after (``right``) or at
        (``left``) that time, as a global index into ``t``/``v``."""
        base = (np.arange(len(self), dtype="int64") << 42)[:, None]
        rel = np.clip(times[None, :] - self._t0, -1, (1 << 42) - 1)
        return np.searchsorted(self._keys, base + rel, side=side)


def eval_times(start_ms: int, end_ms: int, step_ms: int) -> np.ndarray:
    """Evaluation timestamps (ms) of a range query: start, start+step, ... ≤ end."""
    if step_ms <= 0:
        raise QueryError(f"step must be positive, got {step_ms} ms")
    return np.arange(start_ms, end_ms + 1, step_ms, dtype="int64")


def instant_select(series: SeriesSet, times: np.ndarray, lookback_ms: int = LOOKBACK_MS,
                   *, closed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Values of an instant selector at each time: ``(values, present)``, both (series, time).
    ``closed`` also accepts a sample exactly ``lookback`` old (Prometheus 2)."""
    if not len(series):
        shape = (0, len(times))
        return np.zeros(shape), np.zeros(shape, bool)
    last = series._search(times, "right") - 1
    first = series.offsets[:-1, None]
    present = last >= first
    safe = np.where(present, last, 0)
    oldest = times[None, :] - lookback_ms
    present &= (series.t[safe] >= oldest) if closed else (series.t[safe] > oldest)
    return np.where(present, series.v[safe], np.nan), present


def increase(series: SeriesSet, times: np.ndarray, window_ms: int, *, per_second: bool = False,
             closed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``increase(x[window])`` (or ``rate`` with ``per_second``) at each time, Prometheus-style:
    counter resets corrected, extrapolated towards the window edges. ``(values, present)``.
    ``closed`` windows ``[t - window, t]`` are Prometheus 2's; the default ``(t - window, t]``
    is Prometheus 3's."""
    if not len(series):
        shape = (0, len(times))
        return np.zeros(shape), np.zeros(shape, bool)
    t, v = series.t, series.v
    # Reset corrections: a drop adds the value before it; cumulative per sample, global array
    # (differences inside one series only ever see that series' resets).
    drop = np.zeros(len(v))
    if len(v) > 1:
        same = np.ones(len(v) - 1, bool)
        same[series.offsets[1:-1] - 1] = False
        drop[1:] = np.where(same & (v[1:] < v[:-1]), v[:-1], 0.0)
    corrected = v + np.cumsum(drop)
    i1 = series._search(times, "right") - 1
    i0 = series._search(times - window_ms, "left" if closed else "right")
    n = i1 - i0 + 1
    present = (n >= 2) & (i1 >= series.offsets[:-1, None])
    i0s, i1s = np.where(present, i0, 0), np.where(present, i1, 0)
    result = corrected[i1s] - corrected[i0s]
    first_value = v[i0s]
    sampled = (t[i1s] - t[i0s]) / 1000.0
    with np.errstate(divide="ignore", invalid="ignore"):
        average = sampled / np.maximum(n - 1, 1)
        to_start = (t[i0s] - (times[None, :] - window_ms)) / 1000.0
        to_end = (times[None, :] - t[i1s]) / 1000.0
        to_zero = sampled * (first_value / result)
        to_start = np.where((result > 0) & (first_value >= 0) & (to_zero < to_start),
                            to_zero, to_start)
        threshold = average * 1.1
        interval = (sampled + np.where(to_start < threshold, to_start, average / 2)
                    + np.where(to_end < threshold, to_end, average / 2))
        values = result * (interval / sampled)
    if per_second:
        values = values / (window_ms / 1000.0)
    return np.where(present, values, np.nan), present


def sum_by(labels: pd.DataFrame, values: np.ndarray, present: np.ndarray, by: Sequence[str]
           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``sum by (by) (...)`` of (series, time) matrices: ``(group labels, values, present)``."""
    by = list(by)
    keys = pd.DataFrame({b: (labels[b].fillna("").astype(str) if b in labels.columns
                             else pd.Series([""] * len(labels), dtype=str)) for b in by})
    if not by:
        codes = np.zeros(len(labels), dtype="int64")
        groups = pd.DataFrame(index=range(1 if len(labels) else 0))
    else:
        codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
        groups = uniques.to_frame(index=False) if len(uniques) else keys.iloc[:0]
        groups.columns = by
    ngroups = len(groups)
    indicator = np.zeros((ngroups, len(labels)))
    indicator[codes, np.arange(len(labels))] = 1.0
    summed = indicator @ np.where(present, values, 0.0)
    # NaN values (0/0) propagate through the sum as in PromQL.
    nan_in = indicator @ (present & np.isnan(values)).astype(float)
    summed = np.where(nan_in > 0, np.nan, summed)
    any_present = (indicator @ present.astype(float)) > 0
    return groups.reset_index(drop=True), summed, any_present


def divide(left: tuple[pd.DataFrame, np.ndarray, np.ndarray],
           right: tuple[pd.DataFrame, np.ndarray, np.ndarray], by: Sequence[str]
           ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``left / right`` with one-to-one matching on ``by`` (unmatched groups drop out)."""
    lg, lv, lp = left
    rg, rv, rp = right
    by = list(by)
    if by:
        lk = lg[by].astype(str).reset_index(drop=True)
        rk = rg[by].astype(str).reset_index(drop=True)
        joined = lk.reset_index().merge(rk.reset_index(), on=by, suffixes=("_l", "_r"))
        li, ri = joined["index_l"].to_numpy(), joined["index_r"].to_numpy()
        groups = joined[by]
    else:
        li = ri = np.arange(min(len(lg), len(rg)))
        groups = lg.iloc[li]
    with np.errstate(divide="ignore", invalid="ignore"):
        values = lv[li] / rv[ri]
    return groups.reset_index(drop=True), values, lp[li] & rp[ri]


def histogram_quantile(q: float, bounds: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Prometheus ``histogram_quantile`` over the last axis of ``counts`` (cumulative bucket
    counts, one per upper bound in ``bounds``, in any order). Returns ``counts.shape[:-1]``.

    >>> float(histogram_quantile(0.5, np.array([1.0, 2.0, np.inf]), np.array([10., 20., 20.])))
    1.0
    """
    shape = counts.shape[:-1]
    if np.isnan(q):
        return np.full(shape, np.nan)
    if q < 0:
        return np.full(shape, -np.inf)
    if q > 1:
        return np.full(shape, np.inf)
    order = np.argsort(bounds, kind="stable")
    bounds, counts = np.asarray(bounds, float)[order], counts[..., order]
    if len(bounds) < 2 or not np.isposinf(bounds[-1]):
        return np.full(shape, np.nan)
    counts = np.fmax.accumulate(np.nan_to_num(counts, nan=0.0), axis=-1)  # ensureMonotonic
    total = counts[..., -1]
    rank = q * total
    b = np.minimum((counts < rank[..., None]).sum(axis=-1), len(bounds) - 1)
    upper = bounds[b]
    lower = np.where(b > 0, bounds[np.maximum(b - 1, 0)], 0.0)
    below = np.where(b > 0, np.take_along_axis(counts, np.maximum(b - 1, 0)[..., None],
                                               axis=-1)[..., 0], 0.0)
    in_bucket = np.take_along_axis(counts, b[..., None], axis=-1)[..., 0] - below
    with np.errstate(divide="ignore", invalid="ignore"):
        value = lower + (upper - lower) * ((rank - below) / in_bucket)
    value = np.where(b == len(bounds) - 1, bounds[-2], value)
    value = np.where((b == 0) & (bounds[0] <= 0), bounds[0], value)
    return np.where(total > 0, value, np.nan)
