"""Prometheus's histogram arithmetic over metrics frames: counter increases and quantiles.

``histogram_quantile`` reproduces Prometheus's interpolation (``promql/quantile.go``), so a
percentile computed here from raw bucket samples equals the one PromQL would show. Both public
functions are offered by :mod:`agentinsight.analysis.performance`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from agentinsight.analysis._tables import as_metrics
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import empty_metrics_frame, label_columns

__all__ = ["bucket_increments", "histogram_quantile"]


def bucket_increments(counters: pd.DataFrame) -> pd.DataFrame:
    """Per-step increases of cumulative counter samples, per series (first sample left out).

    A drop in value is a counter reset: the increase over that step is the new value, as in
    PromQL's ``increase``.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0., 15., 30., 45.], "x_total", [5, 8, 2, 6])
    >>> bucket_increments(f)["value"].tolist()
    [3.0, 2.0, 4.0]
    """
    counters = as_metrics(counters)
    keys = ["metric", *label_columns(counters)]
    if counters.empty:
        return counters.copy()
    frame = counters.sort_values("timestamp", kind="stable")
    step = frame.groupby(keys, sort=False, observed=True, dropna=False)["value"].diff()
    out = frame.assign(value=step.where(~(step < 0), frame["value"]))  # reset: restart from 0
    return out[out["value"].notna()].sort_index().reset_index(drop=True)


def histogram_quantile(
    buckets: pd.DataFrame,
    q: float,
    *,
    by: Sequence[str] | None = None,
    window: str | pd.Timedelta | None = None,
) -> pd.DataFrame:
    """The q-quantile of histogram ``_bucket`` series, as PromQL's ``histogram_quantile``.

    ``by`` lists the labels to keep (``None``: every label but ``le``; ``()``: one result for
    all series), as in ``sum by (le, ...)``. ``window`` says what the values are:

    ``None``, each timestamp's values as they are (e.g. from ``rate(x_bucket[5m])``);
    ``"5m"`` (any offset), cumulative counters turned into their increase over the trailing
    window; ``"all"``, their increase over the whole frame (one row per group, last timestamp).

    Returns a metrics frame with metric ``<name>:p<100q>`` (``..._seconds:p95``). Groups with
    no observations or no ``+Inf`` bucket give NaN, as in Prometheus.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0.0] * 3, "d_bucket", [10, 30, 40], {"le": ["1", "2", "+Inf"]})
    >>> histogram_quantile(f, 0.5)["value"].tolist()  # rank 20: halfway through (1, 2]
    [1.5]
    """
    buckets = as_metrics(buckets)
    if not 0.0 <= q <= 1.0 or np.isnan(q):
        raise ConfigurationError(f"histogram_quantile: q must be within [0, 1], got {q}")
    if "le" not in buckets.columns:
        raise SchemaError("metrics frame: histogram buckets need an 'le' label column")
    labels = [c for c in label_columns(buckets) if c != "le"]
    keep = labels if by is None else list(by)
    missing = [c for c in keep if c not in labels]
    if missing:
        raise SchemaError(f"metrics frame: missing label column(s) {missing} named in by")
    frame = buckets if window is None else bucket_increments(buckets)
    if frame.empty:
        return empty_metrics_frame(keep)
    if window is not None:
        if isinstance(window, str) and window == "all":
            frame = frame.groupby(["metric", *labels, "le"], observed=True, dropna=False,
                                  sort=False)["value"].sum().reset_index()
            frame["timestamp"] = buckets["timestamp"].max()
        else:
            frame = _trailing_sum(frame, ["metric", *labels, "le"], pd.Timedelta(window))
    le = pd.to_numeric(frame["le"].astype(str).str.replace("Inf", "inf"), errors="coerce")
    if le.isna().any():
        bad = frame.loc[le.isna(), "le"].iloc[0]
        raise SchemaError(f"metrics frame: column 'le' has a non-numeric bucket bound {bad!r}")
    frame = frame.assign(_le=le.to_numpy(), metric=frame["metric"].astype(str))
    table = frame.pivot_table(index=["timestamp", "metric", *keep], columns="_le", values="value",
                              aggfunc="sum", observed=True, dropna=False).sort_index(axis=1)
    values = _bucket_quantile(table.columns.to_numpy(dtype="float64"),
                              table.to_numpy(dtype="float64"), q)
    index = table.index.to_frame(index=False)
    name = index["metric"].str.removesuffix("_bucket") + f":p{q * 100:g}"
    out = pd.DataFrame({"timestamp": index["timestamp"], "metric": pd.Categorical(name),
                        "value": values, **{c: pd.Categorical(index[c]) for c in keep}})
    return out.sort_values("timestamp", kind="stable").reset_index(drop=True)


def _bucket_quantile(bounds: np.ndarray, counts: np.ndarray, q: float) -> np.ndarray:
    """Prometheus's ``bucketQuantile`` over rows of cumulative bucket counts."""
    out = np.full(len(counts), np.nan)
    if len(bounds) < 2 or not np.isposinf(bounds[-1]) or not len(counts):
        return out
    counts = np.maximum.accumulate(np.nan_to_num(counts, nan=0.0), axis=1)  # ensureMonotonic
    total = counts[:, -1]
    rank = q * total
    # The first bucket whose count reaches the rank (sort.Search in Prometheus).
    b = np.minimum((counts < rank[:, None]).sum(axis=1), len(bounds) - 1)
    rows, prev = np.arange(len(counts)), np.maximum(b - 1, 0)
    lower = np.where(b > 0, bounds[prev], 0.0)
    below = np.where(b > 0, counts[rows, prev], 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = lower + (bounds[b] - lower) * ((rank - below) / (counts[rows, b] - below))
    value = np.where(b == len(bounds) - 1, bounds[-2], value)  # the +Inf bucket
    value = np.where((b == 0) & (bounds[0] <= 0), bounds[0], value)
    return np.where(total > 0, value, out)


def _trailing_sum(frame: pd.DataFrame, keys: list[str], window: pd.Timedelta) -> pd.DataFrame:
    parts = [part.sort_values("timestamp").pipe(lambda p: p.assign(
                 value=p.set_index("timestamp")["value"].rolling(window).sum().to_numpy()))
             for _, part in frame.groupby(keys, observed=True, dropna=False, sort=False)]
    return pd.concat(parts, ignore_index=True)
