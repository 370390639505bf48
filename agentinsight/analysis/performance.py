"""Performance analysis: latency percentiles, throughput, errors, SLOs, regressions.

Inputs are canonical frames (``agentinsight.frames``): histogram ``_bucket`` series in a metrics
frame (with an ``le`` label), cumulative counters, or a spans frame. Outputs are tidy tables.

- ``histogram_quantile`` reproduces Prometheus's interpolation (``promql/quantile.go``), so a
  percentile computed here from raw bucket samples equals the one PromQL would show.
- ``burn_rates`` implements the multi-window, multi-burn-rate alerts of the Google SRE workbook.
- ``compare_periods`` says "worse" only when a Mann-Whitney U test says the shift is significant
  (Holm-corrected across groups) and the effect is not negligible.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from agentinsight.analysis.traces import (
    _critical_sections,
    _Forest,
    _require,
    _summary,
    breakdown,
    queue_wait,
    slowest_traces,
    trace_summary,
)
from agentinsight.exceptions import ConfigurationError, InvalidTimeError, SchemaError
from agentinsight.frames import empty_metrics_frame, label_columns, validate_metrics_frame

__all__ = [
    "SRE_BURN_WINDOWS",
    "breakdown",
    "bucket_increments",
    "burn_rates",
    "compare_periods",
    "counter_slo_events",
    "error_ratios",
    "histogram_quantile",
    "latency_percentiles",
    "performance_summary",
    "queue_wait",
    "queue_wait_estimate",
    "slo_attainment",
    "slo_events",
    "slowest_traces",
    "throughput",
    "week_over_week",
]

#: (severity, long window, short window, burn-rate factor): the SRE workbook's table for a
#: 30-day SLO. Alert when both windows burn faster than the factor.
SRE_BURN_WINDOWS: tuple[tuple[str, str, str, float], ...] = (
    ("page", "1h", "5min", 14.4),
    ("page", "6h", "30min", 6.0),
    ("ticket", "1D", "2h", 3.0),
    ("ticket", "3D", "6h", 1.0),
)


# --- histograms ----------------------------------------------------------------------------------


def bucket_increments(counters: pd.DataFrame) -> pd.DataFrame:
    """Per-step increases of cumulative counter samples, per series (first sample left out).

    A drop in value is a counter reset: the increase over that step is the new value, as in
    PromQL's ``increase``.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0., 15., 30., 45.], "x_total", [5, 8, 2, 6])
    >>> bucket_increments(f)["value"].tolist()
    [3.0, 2.0, 4.0]
    """
    counters = _as_metrics(counters)
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
    buckets = _as_metrics(buckets)
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


# --- spans: latency, throughput, errors ----------------------------------------------------------


def latency_percentiles(
    spans: pd.DataFrame,
    by: Sequence[str] = ("operation",),
    q: Sequence[float] = (0.5, 0.95, 0.99),
    *,
    operation: str | None = None,
) -> pd.DataFrame:
    """Span latency percentiles per group: ``count``, ``mean_ms``, ``p50_ms``..., ``max_ms``.

    ``operation`` keeps only spans of that GenAI operation (``"invoke_agent"``, ``"chat"``...).

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(latency_percentiles(empty_spans_frame()).columns)
    ['operation', 'count', 'mean_ms', 'p50_ms', 'p95_ms', 'p99_ms', 'max_ms']
    """
    g = _grouped(_select(spans, operation, ["duration_ms", *by], roots=False), by, "duration_ms")
    out = pd.DataFrame({"count": g.size(), "mean_ms": g.mean()})
    for p in q:
        out[f"p{p * 100:g}_ms"] = g.quantile(p)
    out["max_ms"] = g.max()
    return _ungroup(out, by)


def throughput(spans: pd.DataFrame, freq: str = "1h", by: Sequence[str] = (), *,
               operation: str | None = None) -> pd.DataFrame:
    """Completed spans per interval: ``timestamp``, groups, ``count``, ``per_second``.

    Counts root spans (whole traces) unless ``operation`` names one (e.g. ``"invoke_agent"``
    for agent runs). Without ``by``, intervals with no span count 0.

    >>> from agentinsight.frames import empty_spans_frame
    >>> throughput(empty_spans_frame()).empty
    True
    """
    frame = _select(spans, operation, ["end", *by])
    work = frame.assign(timestamp=pd.to_datetime(frame["end"], utc=True))
    counts = work.groupby([pd.Grouper(key="timestamp", freq=freq), *by], dropna=False).size()
    out = counts.rename("count").reset_index()
    out["per_second"] = out["count"] / pd.Timedelta(freq).total_seconds()
    return out


def error_ratios(spans: pd.DataFrame, by: Sequence[str] = ("operation",), *,
                 operation: str | None = None) -> pd.DataFrame:
    """Spans, errors and ``error_ratio`` per group (status ``error`` over all spans).

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(error_ratios(empty_spans_frame()).columns)
    ['operation', 'total', 'errors', 'error_ratio']
    """
    frame = _select(spans, operation, ["status", *by], roots=False)
    g = _grouped(frame.assign(_err=frame["status"].eq("error")), by, "_err")
    out = _ungroup(pd.DataFrame({"total": g.size(), "errors": g.sum().astype("int64")}), by)
    out["error_ratio"] = out["errors"] / out["total"].where(out["total"] > 0)
    return out


def queue_wait_estimate(metrics: pd.DataFrame, freq: str = "1h", *,
                        queue_metric: str = "task_queue_size",
                        done_metric: str = "task_total") -> pd.DataFrame:
    """Mean queue wait per interval from metrics alone, by Little's law (W = L / λ).

    L is the mean of the queue-size gauge (summed over queues), λ the rate at which tasks
    complete (the counter's increase per second). Use it where spans carry no producer/consumer
    pair (``queue_wait``). Columns: ``timestamp``, ``queue_size``, ``tasks_per_second``,
    ``wait_s`` (NaN where no task completed).

    >>> from agentinsight.frames import empty_metrics_frame
    >>> queue_wait_estimate(empty_metrics_frame()).empty
    True
    """
    frame = _as_metrics(metrics)
    name = frame["metric"].astype(str)
    size = frame[name == queue_metric].groupby("timestamp")["value"].sum()
    done = bucket_increments(frame[name == done_metric]).groupby("timestamp")["value"].sum()
    if size.empty:
        return pd.DataFrame(columns=["timestamp", "queue_size", "tasks_per_second", "wait_s"])
    out = pd.DataFrame({"queue_size": size.resample(freq).mean(),
                        "tasks_per_second": done.resample(freq).sum()
                        / pd.Timedelta(freq).total_seconds()})
    out["wait_s"] = out["queue_size"] / out["tasks_per_second"].where(
        out["tasks_per_second"] > 0)
    return out.rename_axis("timestamp").reset_index()


# --- SLOs and burn rates -------------------------------------------------------------------------


def slo_attainment(spans: pd.DataFrame, objective: float, *, latency_ms: float | None = None,
                   by: Sequence[str] = (), operation: str | None = None) -> pd.DataFrame:
    """Share of good events against an objective, per group.

    A span is good when it did not fail and, if ``latency_ms`` is given, finished within it.
    Columns: groups, ``total``, ``good``, ``attainment``, ``objective``, ``met`` and
    ``budget_remaining`` (1 = untouched error budget, 0 = spent, negative = overspent).

    >>> from agentinsight.frames import empty_spans_frame
    >>> slo_attainment(empty_spans_frame(), 0.99).empty
    True
    """
    _check_objective(objective)
    frame = _select(spans, operation, ["status", "duration_ms", *by])
    good = ~frame["status"].eq("error")
    if latency_ms is not None:
        good &= frame["duration_ms"] <= latency_ms
    g = _grouped(frame.assign(_good=good), by, "_good")
    out = _ungroup(pd.DataFrame({"total": g.size(), "good": g.sum().astype("int64")}), by)
    out["attainment"] = out["good"] / out["total"]
    out["objective"] = objective
    out["met"] = out["attainment"] >= objective
    out["budget_remaining"] = 1.0 - (1.0 - out["attainment"]) / (1.0 - objective)
    return out


def slo_events(spans: pd.DataFrame, *, latency_ms: float | None = None, freq: str = "1min",
               operation: str | None = None) -> pd.DataFrame:
    """Good/bad event counts per interval, for ``burn_rates``: index timestamp, ``total``, ``bad``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(slo_events(empty_spans_frame()).columns)
    ['total', 'bad']
    """
    frame = _select(spans, operation, ["status", "duration_ms", "end"])
    bad = frame["status"].eq("error")
    if latency_ms is not None:
        bad |= frame["duration_ms"] > latency_ms
    work = pd.DataFrame({"timestamp": pd.to_datetime(frame["end"], utc=True),
                         "total": 1, "bad": bad.astype("int64")})
    return work.set_index("timestamp").resample(freq).sum()[["total", "bad"]]


def counter_slo_events(counters: pd.DataFrame, *, bad: dict[str, Any] | None = None
                       ) -> pd.DataFrame:
    """Good/bad event counts per timestamp from cumulative counters (e.g. ``*_total``).

    ``bad`` names the label values of bad events (default ``{"status": "error"}``). Counter
    resets are handled as in PromQL. Index timestamp, columns ``total``, ``bad``.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0., 60., 0., 60.], "runs_total", [0, 10, 0, 1],
    ...                   {"status": ["success", "success", "error", "error"]})
    >>> counter_slo_events(f).loc[:, ["total", "bad"]].values.tolist()
    [[11.0, 1.0]]
    """
    bad = {"status": "error"} if bad is None else bad
    missing = [c for c in bad if c not in counters.columns]
    if missing:
        raise SchemaError(f"metrics frame: missing label column(s) {missing} named in bad")
    inc = bucket_increments(counters)
    is_bad = np.ones(len(inc), dtype=bool)
    for col, value in bad.items():
        is_bad &= (inc[col].astype(object) == value).to_numpy()
    work = pd.DataFrame({"timestamp": inc["timestamp"], "total": inc["value"],
                         "bad": np.where(is_bad, inc["value"], 0.0)})
    return work.groupby("timestamp").sum()


def burn_rates(events: pd.DataFrame, objective: float,
               windows: Iterable[tuple[str, str, str, float]] = SRE_BURN_WINDOWS) -> pd.DataFrame:
    """Multi-window, multi-burn-rate evaluation of an SLO at each timestamp.

    ``events`` has a UTC DatetimeIndex and ``total``/``bad`` counts per interval (from
    ``slo_events`` or ``counter_slo_events``). The burn rate over a window is its error ratio
    divided by the error budget (1 - objective); a rule fires when both its long and its short
    window burn faster than its factor. One row per timestamp and rule: ``timestamp``,
    ``severity``, ``long_window``, ``short_window``, ``factor``, ``long_burn``,
    ``short_burn``, ``firing``.

    >>> idx = pd.date_range("2026-01-01", periods=3, freq="1min", tz="UTC")
    >>> ev = pd.DataFrame({"total": [100, 100, 100], "bad": [0, 50, 50]}, index=idx)
    >>> burn_rates(ev, 0.99).query("long_window == '1h'")["firing"].tolist()
    [False, True, True]
    """
    _check_objective(objective)
    missing = [c for c in ("total", "bad") if c not in events.columns]
    if missing:
        raise SchemaError(f"events frame: missing column(s) {missing}")
    if not isinstance(events.index, pd.DatetimeIndex):
        raise SchemaError("events frame: index must be a DatetimeIndex of interval ends")
    ev = events[["total", "bad"]].astype("float64").sort_index()
    parts = []
    for severity, long_w, short_w, factor in windows:
        burns = []
        for w in (long_w, short_w):
            rolled = ev.rolling(pd.Timedelta(w)).sum()
            burns.append(rolled["bad"] / rolled["total"].where(rolled["total"] > 0)
                         / (1.0 - objective))
        parts.append(pd.DataFrame({
            "timestamp": ev.index, "severity": severity, "long_window": long_w,
            "short_window": short_w, "factor": factor, "long_burn": burns[0].to_numpy(),
            "short_burn": burns[1].to_numpy(),
            "firing": ((burns[0] > factor) & (burns[1] > factor)).to_numpy(),
        }))
    if not parts:
        raise ConfigurationError("burn_rates: windows is empty")
    return pd.concat(parts, ignore_index=True)


# --- period over period --------------------------------------------------------------------------


def compare_periods(
    spans: pd.DataFrame,
    current: tuple[Any, Any],
    baseline: tuple[Any, Any],
    *,
    by: Sequence[str] = (),
    value: str = "duration_ms",
    operation: str | None = None,
    alpha: float = 0.05,
    min_effect: float = 0.1,
    min_samples: int = 20,
) -> pd.DataFrame:
    """Did ``value`` (latency by default; higher is worse) change between two windows?

    Windows are ``(start, end)`` pairs (half-open, on span start). Per group: sample sizes,
    medians and p95s of both windows, ``p95_change`` (relative), ``effect_size`` (rank-biserial
    correlation from the Mann-Whitney U statistic, +1 = every current value above every baseline
    value), ``p_value`` (two-sided, Holm-adjusted across groups) and ``verdict``: ``worse`` or
    ``better`` only when ``p_value < alpha`` and ``|effect_size| >= min_effect``, else ``no
    significant change``, or ``insufficient data`` below ``min_samples`` per window.

    >>> from agentinsight.frames import empty_spans_frame
    >>> compare_periods(empty_spans_frame(), ("2026-01-08", "2026-01-15"),
    ...                 ("2026-01-01", "2026-01-08"))["verdict"].tolist()
    ['insufficient data']
    """
    frame = _select(spans, operation, ["start", value, *by])
    cur_lo, cur_hi = _window(current, "current")
    base_lo, base_hi = _window(baseline, "baseline")
    start = pd.to_datetime(frame["start"], utc=True)
    values = pd.to_numeric(frame[value], errors="coerce")
    period = np.where((start >= cur_lo) & (start < cur_hi), "current",
                      np.where((start >= base_lo) & (start < base_hi), "baseline", ""))
    work = frame.assign(_period=period, _value=values)
    work = work[(work["_period"] != "") & work["_value"].notna()]
    groups = work.groupby(list(by), dropna=False) if by else [((), work)]
    rows = []
    for key, part in groups:
        cur = part.loc[part["_period"] == "current", "_value"].to_numpy()
        base = part.loc[part["_period"] == "baseline", "_value"].to_numpy()
        row = dict(zip(by, key if isinstance(key, tuple) else (key,), strict=True))
        row.update(_compare(cur, base, min_samples))
        rows.append(row)
    if not rows and not by:
        rows.append(_compare(np.array([]), np.array([]), min_samples))
    out = pd.DataFrame(rows, columns=[*by, "n_baseline", "n_current", "median_baseline",
                                      "median_current", "p95_baseline", "p95_current",
                                      "p95_change", "effect_size", "p_value"])
    out["p_value"] = _holm(out["p_value"].to_numpy(dtype="float64"))
    enough = (out["n_baseline"] >= min_samples) & (out["n_current"] >= min_samples)
    significant = (out["p_value"] < alpha) & (out["effect_size"].abs() >= min_effect)
    out["verdict"] = np.select(
        [~enough, significant & (out["effect_size"] > 0), significant & (out["effect_size"] < 0)],
        ["insufficient data", "worse", "better"], default="no significant change")
    return out


def week_over_week(spans: pd.DataFrame, end: Any = None, **kwargs: Any) -> pd.DataFrame:
    """``compare_periods`` of the 7 days before ``end`` (default: the last span) with the 7 before.

    >>> from agentinsight.frames import empty_spans_frame
    >>> week_over_week(empty_spans_frame(), end="2026-01-15")["verdict"].tolist()
    ['insufficient data']
    """
    if end is None:
        _require(spans, ("start",))
        if spans.empty:
            raise InvalidTimeError("week_over_week: no spans, so give end explicitly")
        end = pd.to_datetime(spans["start"], utc=True).max() + pd.Timedelta(1, "ns")
    stop = _stamp(end, "end")
    week = pd.Timedelta(days=7)
    return compare_periods(spans, (stop - week, stop), (stop - 2 * week, stop - week), **kwargs)


def _compare(cur: np.ndarray, base: np.ndarray, min_samples: int) -> dict[str, float]:
    row: dict[str, float] = {"n_baseline": len(base), "n_current": len(cur),
                             "effect_size": np.nan, "p_value": np.nan}
    for name, x in (("baseline", base), ("current", cur)):
        row[f"median_{name}"] = np.median(x) if len(x) else np.nan
        row[f"p95_{name}"] = np.quantile(x, 0.95) if len(x) else np.nan
    base_p95 = row["p95_baseline"]
    row["p95_change"] = (row["p95_current"] / base_p95 - 1.0) if base_p95 else np.nan
    if len(cur) >= min_samples and len(base) >= min_samples:
        if np.ptp(np.concatenate([cur, base])) == 0:
            row.update(effect_size=0.0, p_value=1.0)  # identical constants: nothing changed
        else:
            test = stats.mannwhitneyu(cur, base, alternative="two-sided")
            row["effect_size"] = 2.0 * test.statistic / (len(cur) * len(base)) - 1.0
            row["p_value"] = float(test.pvalue)
    return row


def _holm(p: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN)."""
    out = p.copy()
    ok = np.flatnonzero(~np.isnan(p))
    if len(ok) < 2:
        return out
    order = ok[np.argsort(p[ok])]
    m = len(order)
    adjusted = np.maximum.accumulate(p[order] * (m - np.arange(m)))
    out[order] = np.minimum(adjusted, 1.0)
    return out


# --- the headline table --------------------------------------------------------------------------


def performance_summary(spans: pd.DataFrame, metrics: pd.DataFrame | None = None, *,
                        objective: float | None = None,
                        latency_ms: float | None = None) -> pd.DataFrame:
    """The headline table of a daily report: one row per agent, plus all traces end to end.

    From spans: ``runs``, ``runs_per_hour``, ``error_ratio``, ``p50_ms``/``p95_ms``/``p99_ms``,
    LLM calls, tool calls and tokens per run, and ``critical_component``/``critical_share``
    (what the agent's runs waited on most). With ``objective`` (and ``latency_ms``):
    ``slo_attainment``, ``slo_met``. With ``metrics`` holding
    ``agent_execution_duration_seconds_bucket``/``agent_execution_total`` samples:
    ``p95_ms_histogram``, ``runs_counter``, ``error_ratio_counter``, to check sampled traces
    against full counts.

    >>> from agentinsight.frames import empty_spans_frame
    >>> performance_summary(empty_spans_frame()).empty
    True
    """
    if objective is not None:
        _check_objective(objective)
    trace_summary(spans.iloc[:0])  # checks the columns before any work
    forest = _Forest(spans)
    runs = _summary(forest, "agent_run")
    traces = _summary(forest, "trace")
    if traces.empty:
        return pd.DataFrame(columns=["agent", "runs", "runs_per_hour", "error_ratio", "p50_ms",
                                     "p95_ms", "p99_ms"])
    if runs.empty:  # no invoke_agent spans: fall back to one run per trace
        runs = traces
    runs = runs.assign(agent=runs["agent"].fillna("(no agent)"))
    everything = traces.assign(agent="(all traces)")
    hours = max((traces["end"].max() - traces["start"].min()).total_seconds() / 3600, 1e-9)
    rows = []
    for agent, part in [*runs.groupby("agent", sort=True), ("(all traces)", everything)]:
        d = part["duration_ms"]
        bad = part["status"].eq("error")
        row = {"agent": agent, "runs": len(part), "runs_per_hour": len(part) / hours,
               "error_ratio": bad.mean(), "p50_ms": d.quantile(0.5),
               "p95_ms": d.quantile(0.95), "p99_ms": d.quantile(0.99),
               "llm_calls_per_run": part["llm_calls"].mean(),
               "tool_calls_per_run": part["tool_calls"].mean(),
               "tokens_per_run": (part["input_tokens"].fillna(0)
                                  + part["output_tokens"].fillna(0)).mean()}
        if objective is not None:
            good = ~bad & ((d <= latency_ms) if latency_ms is not None else True)
            row["slo_attainment"] = good.mean()
            row["slo_met"] = bool(good.mean() >= objective)
        rows.append(row)
    out = pd.DataFrame(rows)
    out = out.merge(_critical_by_agent(forest, traces), on="agent", how="left")
    if metrics is not None:
        out = out.merge(_metric_columns(metrics), on="agent", how="left")
    return out


def _critical_by_agent(forest: _Forest, traces: pd.DataFrame) -> pd.DataFrame:
    """Per agent, what its runs' critical paths waited on most (per trace for all traces)."""
    agent = forest.col("agent")
    runs = np.flatnonzero(pd.Series(forest.col("operation"), dtype=object)
                          .isin(["invoke_agent"]).to_numpy() & pd.notna(agent))
    whole = _critical_sections(forest)
    if len(runs):
        per_run = _critical_sections(forest, runs)
        per_run["agent"] = agent[per_run["_root"].to_numpy()]
    else:  # no agent runs: each trace counts for its root's agent
        per_run = whole.assign(agent=whole["trace_id"].map(
            traces.set_index("trace_id")["agent"]).fillna("(no agent)"))
    whole = whole.assign(agent="(all traces)")
    per = pd.concat([per_run, whole]).groupby(["agent", "component"])["duration_ms"].sum()
    per = per.reset_index()
    per["critical_share"] = per["duration_ms"] / per.groupby("agent")["duration_ms"].transform(
        "sum")
    per = per.sort_values("duration_ms", ascending=False).drop_duplicates("agent")
    return per.rename(columns={"component": "critical_component"})[
        ["agent", "critical_component", "critical_share"]]


def _metric_columns(metrics: pd.DataFrame) -> pd.DataFrame:
    metrics = _as_metrics(metrics)
    out = pd.DataFrame({"agent": pd.Series(dtype=object)})
    name = metrics["metric"].astype(str)
    hist = metrics[name == "agent_execution_duration_seconds_bucket"]
    if len(hist) and "agent" in hist.columns:
        per_agent = histogram_quantile(hist, 0.95, by=["agent"], window="all")
        overall = histogram_quantile(hist, 0.95, by=[], window="all")
        p95 = pd.DataFrame({
            "agent": [*per_agent["agent"].astype(object), *["(all traces)"] * len(overall)],
            "p95_ms_histogram": [*per_agent["value"] * 1e3, *overall["value"] * 1e3]})
        out = out.merge(p95, on="agent", how="outer")
    runs = metrics[name == "agent_execution_total"]
    if len(runs) and {"agent", "status"} <= set(runs.columns):
        inc = bucket_increments(runs)
        inc = inc.assign(agent=inc["agent"].astype(object), _bad=inc["status"].astype(object)
                         .eq("error") * inc["value"])
        per = inc.groupby("agent").agg(runs_counter=("value", "sum"), _bad=("_bad", "sum"))
        per.loc["(all traces)"] = per.sum()
        per["error_ratio_counter"] = per["_bad"] / per["runs_counter"].where(
            per["runs_counter"] > 0)
        out = out.merge(per.drop(columns="_bad").reset_index(), on="agent", how="outer")
    return out


# --- helpers -------------------------------------------------------------------------------------


def _as_metrics(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a metrics frame, first making text label columns categorical.

    ``pd.concat`` of frames whose categories differ yields plain text columns; accept those.
    """
    if isinstance(frame, pd.DataFrame):
        text = [c for c in ("metric", *label_columns(frame)) if c in frame.columns
                and not isinstance(frame[c].dtype, pd.CategoricalDtype)
                and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))]
        if text:
            frame = frame.astype({c: "category" for c in text})
    return validate_metrics_frame(frame)


def _select(spans: pd.DataFrame, operation: str | None, columns: Sequence[str], *,
            roots: bool = True) -> pd.DataFrame:
    """Spans of one operation; without one, root spans (``roots``) or every span."""
    _require(spans, ("parent_span_id", "operation", *columns))
    if operation is not None:
        return spans[spans["operation"].astype(object).eq(operation)]
    return spans[spans["parent_span_id"].fillna("").eq("")] if roots else spans


def _grouped(frame: pd.DataFrame, by: Sequence[str], column: str) -> Any:
    keys = list(by) if by else np.zeros(len(frame), dtype=np.int64)
    return frame.groupby(keys, dropna=False, sort=True)[column]


def _ungroup(out: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    return out.reset_index() if by else out.reset_index(drop=True)


def _check_objective(objective: float) -> None:
    if not 0.0 < objective < 1.0:
        raise ConfigurationError(f"objective must be strictly between 0 and 1 (e.g. 0.99), "
                                 f"got {objective}")


def _stamp(value: Any, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidTimeError(f"{what}: cannot read {value!r} as a time ({exc})") from None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _window(pair: tuple[Any, Any], what: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise InvalidTimeError(f"{what}: expected a (start, end) pair, got {pair!r}")
    lo, hi = _stamp(pair[0], f"{what} start"), _stamp(pair[1], f"{what} end")
    if lo >= hi:
        raise InvalidTimeError(f"{what}: start {lo} is not before end {hi}")
    return lo, hi

