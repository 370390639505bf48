"""Performance analysis: latency percentiles, throughput, errors, tool breakdown, regressions.

Inputs are canonical frames (``agentinsight.frames``): histogram ``_bucket`` series in a metrics
frame (with an ``le`` label), cumulative counters, or a spans frame. Outputs are tidy tables.

- ``histogram_quantile`` reproduces Prometheus's interpolation (``promql/quantile.go``), so a
  percentile computed here from raw bucket samples equals the one PromQL would show.
- ``breakdown``, ``queue_wait`` and ``slowest_traces`` cut spans by tool, model and queue, and
  name what the slowest traces' critical paths waited on (``agentinsight.analysis.traces``).
- ``compare_periods`` says "worse" only when a Mann-Whitney U test says the shift is significant
  (Holm-corrected across groups) and the effect is not negligible.
- ``performance_summary`` is the headline table of a daily report, per agent.

SLO attainment and burn rates are in :mod:`agentinsight.analysis.slo`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from agentinsight.analysis._histogram import bucket_increments, histogram_quantile
from agentinsight.analysis._spans import critical_sections, summary, trace_forest
from agentinsight.analysis._spantree import SpanForest, require
from agentinsight.analysis._tables import (
    as_metrics,
    check_objective,
    grouped,
    select_spans,
    ungroup,
)
from agentinsight.analysis.traces import span_agents, trace_summary
from agentinsight.exceptions import ConfigurationError, InvalidTimeError
from agentinsight.frames import utc_timestamp
from agentinsight.semconv import (
    AGENT_OPERATIONS,
    MESSAGING_DESTINATION_NAME,
    TOOL_OPERATIONS,
)

__all__ = [
    "breakdown",
    "bucket_increments",
    "compare_periods",
    "error_ratios",
    "histogram_quantile",
    "latency_percentiles",
    "performance_summary",
    "queue_wait",
    "queue_wait_estimate",
    "slowest_traces",
    "throughput",
    "week_over_week",
]


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
    frame = select_spans(spans, operation, ["duration_ms", *by], roots=False)
    g = grouped(frame, by, "duration_ms")
    out = pd.DataFrame({"count": g.size(), "mean_ms": g.mean()})
    for p in q:
        out[f"p{p * 100:g}_ms"] = g.quantile(p)
    out["max_ms"] = g.max()
    return ungroup(out, by)


def throughput(spans: pd.DataFrame, freq: str = "1h", by: Sequence[str] = (), *,
               operation: str | None = None) -> pd.DataFrame:
    """Completed spans per interval: ``timestamp``, groups, ``count``, ``per_second``.

    Counts root spans (whole traces) unless ``operation`` names one (e.g. ``"invoke_agent"``
    for agent runs). Without ``by``, intervals with no span count 0.

    >>> from agentinsight.frames import empty_spans_frame
    >>> throughput(empty_spans_frame()).empty
    True
    """
    frame = select_spans(spans, operation, ["end", *by])
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
    frame = select_spans(spans, operation, ["status", *by], roots=False)
    g = grouped(frame.assign(_err=frame["status"].eq("error")), by, "_err")
    out = ungroup(pd.DataFrame({"total": g.size(), "errors": g.sum().astype("int64")}), by)
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
    frame = as_metrics(metrics)
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


# --- tools, models, queues and the slowest traces ---------------------------------------------


def breakdown(spans: pd.DataFrame, by: str = "tool") -> pd.DataFrame:
    """Per-tool (``by="tool"``) or per-model (``by="model"``) calls, errors, latency, time.

    Columns: the key, ``agents`` (distinct calling agents, inherited from the agent run),
    ``calls``, ``errors``, ``error_ratio``, ``p50_ms``, ``p95_ms``, ``total_ms`` and
    ``time_share`` (of all time spent in that kind of call); per model also ``input_tokens``
    and ``output_tokens``. Busiest first.

    >>> from agentinsight.frames import empty_spans_frame
    >>> breakdown(empty_spans_frame(), by="model").empty
    True
    """
    if by not in ("tool", "model"):
        raise ConfigurationError(f"breakdown: by must be 'tool' or 'model', got {by!r}")
    require(spans, (by, "operation", "duration_ms", "status"))
    op = spans["operation"].astype(object)
    if by == "tool":
        mask = spans["tool"].notna() | op.isin(TOOL_OPERATIONS)
    else:
        mask = spans["model"].notna() & ~op.isin(AGENT_OPERATIONS | TOOL_OPERATIONS)
    frame = spans[mask]
    frame = frame.assign(agent=span_agents(spans)[mask] if "agent" in spans else None,
                         _err=frame["status"].eq("error"),
                         _key=frame[by].astype(object).fillna("(unnamed)"))
    g = frame.groupby("_key")
    out = pd.DataFrame({
        "agents": g["agent"].nunique(), "calls": g.size(), "errors": g["_err"].sum(),
        "p50_ms": g["duration_ms"].quantile(0.5), "p95_ms": g["duration_ms"].quantile(0.95),
        "total_ms": g["duration_ms"].sum(),
    })
    out["errors"] = out["errors"].astype("int64")
    out["error_ratio"] = out["errors"] / out["calls"]
    total = out["total_ms"].sum()
    out["time_share"] = out["total_ms"] / total if total > 0 else np.nan
    if by == "model":
        for col in ("input_tokens", "output_tokens"):
            out[col] = g[col].sum(min_count=1) if col in frame else np.nan
    cols = ["agents", "calls", "errors", "error_ratio", "p50_ms", "p95_ms", "total_ms",
            "time_share"] + (["input_tokens", "output_tokens"] if by == "model" else [])
    out = out[cols].rename_axis(by).reset_index()
    return out.sort_values(["calls", "total_ms"], ascending=False).reset_index(drop=True)


def queue_wait(spans: pd.DataFrame) -> pd.DataFrame:
    """Time messages waited in a queue: from a producer span's end to its consumer's start.

    A consumer span (``kind="consumer"``) whose parent is a producer span waited
    ``wait_ms``; the queue is the ``messaging.destination.name`` attribute, else the span name.
    Columns: ``queue``, ``messages``, ``mean_ms``, ``p50_ms``, ``p95_ms``, ``max_ms``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> queue_wait(empty_spans_frame()).empty
    True
    """
    require(spans, ("kind", "attributes"))
    forest = trace_forest(spans)
    f = forest.frame
    kind = forest.col("kind")
    parent = forest.parent
    mask = (kind == "consumer") & (parent >= 0)
    mask[mask] = kind[parent[mask]] == "producer"
    idx = np.flatnonzero(mask)
    wait = np.maximum(forest.start[idx] - forest.end[parent[idx]], 0) / 1e6
    attrs = f["attributes"].to_numpy()[idx]
    names = forest.col("name")[idx]
    queue = [(a or {}).get(MESSAGING_DESTINATION_NAME) if isinstance(a, dict) else None
             for a in attrs]
    work = pd.DataFrame({"queue": [q or n for q, n in zip(queue, names, strict=True)],
                         "wait_ms": wait})
    g = work.groupby("queue")["wait_ms"]
    out = pd.DataFrame({"messages": g.size(), "mean_ms": g.mean(), "p50_ms": g.quantile(0.5),
                        "p95_ms": g.quantile(0.95), "max_ms": g.max()})
    return out.reset_index().sort_values("p95_ms", ascending=False).reset_index(drop=True)


def slowest_traces(spans: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The n longest traces, with what their critical path waited on most.

    Columns of ``trace_summary`` plus ``critical_component`` and ``critical_ms``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> slowest_traces(empty_spans_frame()).empty
    True
    """
    top = trace_summary(spans).nlargest(n, "duration_ms").reset_index(drop=True)
    if top.empty:
        return top.assign(critical_component=pd.Series(dtype=object),
                          critical_ms=pd.Series(dtype="float64"))
    sections = critical_sections(trace_forest(spans[spans["trace_id"].isin(top["trace_id"])]))
    per = sections.groupby(["trace_id", "component"])["duration_ms"].sum().reset_index()
    per = per.sort_values("duration_ms", ascending=False).drop_duplicates("trace_id")
    per = per.rename(columns={"component": "critical_component", "duration_ms": "critical_ms"})
    return top.merge(per, on="trace_id", how="left")


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
    frame = select_spans(spans, operation, ["start", value, *by])
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
        require(spans, ("start",))
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
        check_objective(objective)
    trace_summary(spans.iloc[:0])  # checks the columns before any work
    forest = trace_forest(spans)
    runs = summary(forest, "agent_run")
    traces = summary(forest, "trace")
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


def _critical_by_agent(forest: SpanForest, traces: pd.DataFrame) -> pd.DataFrame:
    """Per agent, what its runs' critical paths waited on most (per trace for all traces)."""
    agent = forest.col("agent")
    runs = np.flatnonzero(pd.Series(forest.col("operation"), dtype=object)
                          .isin(AGENT_OPERATIONS).to_numpy() & pd.notna(agent))
    whole = critical_sections(forest)
    if len(runs):
        per_run = critical_sections(forest, runs)
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
    metrics = as_metrics(metrics)
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


def _stamp(value: Any, what: str) -> pd.Timestamp:
    try:
        return utc_timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InvalidTimeError(f"{what}: cannot read {value!r} as a time ({exc})") from None


def _window(pair: tuple[Any, Any], what: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        raise InvalidTimeError(f"{what}: expected a (start, end) pair, got {pair!r}")
    lo, hi = _stamp(pair[0], f"{what} start"), _stamp(pair[1], f"{what} end")
    if lo >= hi:
        raise InvalidTimeError(f"{what}: start {lo} is not before end {hi}")
    return lo, hi
