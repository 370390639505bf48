"""The steps report notebooks share: fetch the fleet's standard frames, find anomalies, headline.

Notebooks stay thin: they take their source as parameters, call ``connect`` and these steps, and
display what comes back. Everything here works on any source the ``sources`` helpers speak.

>>> from agentinsight.reports.notebook import STANDARD_SERIES
>>> sorted(STANDARD_SERIES)[:2]
['agent_errors', 'agent_latency_p95']
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.frames import empty_findings_frame, empty_spans_frame
from agentinsight.semconv import AGENT_OPERATIONS, TOOL_OPERATIONS
from agentinsight.sources import parse_duration, parse_time

__all__ = [
    "DETECTED_SERIES",
    "Headline",
    "STANDARD_SERIES",
    "chart_step",
    "cost_headline",
    "fleet_findings",
    "headline",
    "previous_period",
    "runs_bunching",
    "spend_per_run",
    "standard_frames",
    "step_label",
    "time_window",
    "tokens_per_run",
]

#: name -> (helper, keyword arguments): the series a daily report shows.
STANDARD_SERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "agent_runs": ("rate", {"metric": "agent_execution_total", "by": ["agent"]}),
    "fleet_runs": ("rate", {"metric": "agent_execution_total", "by": [], "window": "30m"}),
    "agent_errors": ("error_ratio", {"metric": "agent_execution_total", "by": ["agent"]}),
    "agent_latency_p95": ("latency_quantiles",
                          {"metric": "agent_execution_duration_seconds", "q": 0.95,
                           "by": ["agent"]}),
    "tool_latency_p95": ("latency_quantiles",
                         {"metric": "tool_execution_duration_seconds", "q": 0.95,
                          "by": ["tool"]}),
    "tokens": ("token_usage", {"by": ["agent", "model", "token_type"]}),
    # USD per step from the opt-in cost counter (empty when it is off), and runs per step
    "cost": ("token_usage", {"metric": "llm_cost_usd_total", "by": ["agent", "model"]}),
    "runs": ("token_usage", {"metric": "agent_execution_total", "by": ["agent"]}),
    "queue": ("range", {"selector": "task_queue_size"}),
    "tool_latency_p95_30m": ("latency_quantiles",
                             {"metric": "tool_execution_duration_seconds", "q": 0.95,
                              "by": ["tool"], "step": "30m", "window": "30m"}),
}


def time_window(start: Any, end: Any, history: Any = "2d"
                ) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """``(history_start, start, end)``: detectors learn from ``history`` before ``start``.

    >>> [t.isoformat() for t in time_window("2026-01-03", "2026-01-04", "1d")]
    ['2026-01-02T00:00:00+00:00', '2026-01-03T00:00:00+00:00', '2026-01-04T00:00:00+00:00']
    """
    begin, finish = parse_time(start, what="start"), parse_time(end, what="end")
    return begin - pd.Timedelta(seconds=parse_duration(history, what="history")), begin, finish


def standard_frames(fleet: Any, start: Any, end: Any, step: Any = "5m",
                    agents: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """The metrics frames of :data:`STANDARD_SERIES` over ``[start, end]``, optionally for some
    agents only (series without an ``agent`` label are kept)."""
    wanted = list(agents or [])
    frames: dict[str, pd.DataFrame] = {}
    for name, (helper, kwargs) in STANDARD_SERIES.items():
        call = {"step": step, **kwargs}  # a series may fix its own step
        if helper == "range":
            frame = fleet.range(call.pop("selector"), start=start, end=end, step=call["step"])
        else:
            frame = getattr(fleet, helper)(**call, start=start, end=end)
        if wanted and "agent" in frame.columns:
            frame = frame[frame["agent"].isin(wanted)].reset_index(drop=True)
        frames[name] = frame
    frames["cost_per_run"] = spend_per_run(frames["cost"], frames["runs"])
    return frames


#: How the per-run views (``tokens_per_run``, ``spend_per_run``) treat steps where few runs
#: finished, whose ratio one long or short run decides: a step needs at least ``_MIN_RUNS``
#: finished runs to have a point, and its ratio is shrunk toward the series' level with the
#: weight of ``_PRIOR_RUNS`` runs (a credibility weighting: the step's own ratio counts
#: ``runs / (runs + k)``). Measured on the simulator's incidents (BENCHMARKS.md): with two
#: runs and no shrinkage a quiet-hour step set per-run records a bloated prompt then failed to
#: beat, and most false per-run findings were such steps.
_MIN_RUNS = 4
_PRIOR_RUNS = 3.0
#: The fewest finished calls of a tool whose half-hourly p95 is judged (when the spans hold the
#: tool calls): the 95th percentile of fewer than 20 calls lies within the slowest call, and of
#: fewer than 10 it is that one call, which at a quiet hour set most false tool p95 records.
#: 10, not 20: 20 also left out daytime windows of slowed tools (BENCHMARKS.md).
_MIN_CALLS = 10


def spend_per_run(cost: pd.DataFrame, runs: pd.DataFrame, min_runs: int = _MIN_RUNS,
                  prior_runs: float = _PRIOR_RUNS) -> pd.DataFrame:
    """USD per agent run in each step (metric ``llm_cost_usd_total:per_run``, label ``agent``):
    the agent's spend in the step over the runs it finished in it. Steps with fewer than
    ``min_runs`` finished runs have no point (one or two runs' price is too noisy to judge),
    and each ratio is shrunk toward the agent's level over all earlier steps with the weight
    of ``prior_runs`` runs, ``(spend + k × level) / (runs + k)``, so a step of few runs cannot
    set a record its own ratio alone would (a series' first step is its own ratio). Unlike
    spend itself it has no daily cycle, so a runaway loop, a dearer model or bloated prompts
    stand out at any hour.

    >>> from agentinsight.frames import metrics_frame
    >>> cost = metrics_frame([0.0, 300.0], "llm_cost_usd_total:increase", [1.0, 0.9],
    ...                      {"agent": "coder", "model": "gpt-4o"})
    >>> runs = metrics_frame([0.0, 300.0], "agent_execution_total:increase", [4.0, 2.0],
    ...                      {"agent": "coder"})
    >>> spend_per_run(cost, runs)["value"].tolist()
    [0.25]
    """
    from agentinsight.frames import metrics_frame

    empty = metrics_frame([], "llm_cost_usd_total:per_run", [], {"agent": []})
    if cost.empty or runs.empty or "agent" not in cost.columns or "agent" not in runs.columns:
        return empty
    spent = cost.groupby(["timestamp", "agent"], observed=True)["value"].sum()
    done = runs.groupby(["timestamp", "agent"], observed=True)["value"].sum()
    both = pd.DataFrame({"value": spent, "runs": done.where(done >= max(min_runs, 1))})
    per = both.dropna().reset_index()
    if per.empty:
        return empty
    per["agent"] = per["agent"].astype(str)
    return metrics_frame(per["timestamp"], "llm_cost_usd_total:per_run",
                         _credible(per, ["agent"], prior_runs), {"agent": per["agent"]})


def tokens_per_run(tokens: pd.DataFrame, runs: pd.DataFrame, min_runs: int = _MIN_RUNS,
                   prior_runs: float = _PRIOR_RUNS) -> pd.DataFrame:
    """Tokens per agent run in each step (metric ``llm_tokens_used_total:per_run``, the token
    frame's labels kept): each series' tokens in the step over the runs its agent finished in
    it. Steps with fewer than ``min_runs`` runs have no point and each ratio is shrunk toward
    the series' level with the weight of ``prior_runs`` runs, as in :func:`spend_per_run`: a
    ratio over a handful of runs is one long run's, not the fleet's. Busier hours, the first weekday
    after a quiet weekend or a backlog draining raise token usage with the runs and leave
    tokens per run alone, while bloated prompts, a runaway loop or another model change it.

    >>> from agentinsight.frames import metrics_frame
    >>> tokens = metrics_frame([0.0, 300.0], "llm_tokens_used_total:increase", [1200.0, 50.0],
    ...                        {"agent": "coder", "token_type": "input"})
    >>> runs = metrics_frame([0.0, 300.0], "agent_execution_total:increase", [4.0, 1.0],
    ...                      {"agent": "coder"})
    >>> tokens_per_run(tokens, runs)["value"].tolist()
    [300.0]
    """
    from agentinsight.frames import label_columns, metrics_frame

    empty = metrics_frame([], "llm_tokens_used_total:per_run", [], {"agent": []})
    if tokens.empty or runs.empty or "agent" not in tokens.columns or "agent" not in runs:
        return empty
    done = runs.groupby(["timestamp", "agent"], observed=True)["value"].sum()
    done = done[done >= max(min_runs, 1)].rename("runs").reset_index()
    done["agent"] = done["agent"].astype(str)
    labels = label_columns(tokens)
    plain = tokens[["timestamp", "value", *labels]].astype({c: str for c in labels})
    per = plain.merge(done, on=["timestamp", "agent"], how="inner").dropna(subset=["value"])
    if per.empty:
        return empty
    return metrics_frame(per["timestamp"], "llm_tokens_used_total:per_run",
                         _credible(per, labels, prior_runs), {c: per[c] for c in labels})


def _credible(per: pd.DataFrame, keys: list[str], prior_runs: float) -> np.ndarray:
    """Each step's amount per run, shrunk toward its series' level by how many runs it holds:
    ``(amount + k × level) / (runs + k)`` with ``k = prior_runs`` and ``level`` the series'
    amount over its runs in all earlier steps (causal; a series' first step is its own ratio).
    A step of many runs keeps about its own ratio; a step of four runs moves three sevenths of
    the way to the level, so one long run at a quiet hour does not set a record."""
    order = per.sort_values("timestamp", kind="stable")
    grouped = order.groupby(keys, observed=True, sort=False) if keys else None
    amount = order["value"].astype(float)
    runs = order["runs"].astype(float)
    if grouped is not None:
        before_amount = grouped["value"].cumsum() - amount
        before_runs = grouped["runs"].cumsum() - runs
    else:
        before_amount, before_runs = amount.cumsum() - amount, runs.cumsum() - runs
    level = (before_amount / before_runs.where(before_runs > 0)).fillna(amount / runs)
    k = max(float(prior_runs), 0.0)
    shrunk = (amount + k * level) / (runs + k)
    return shrunk.reindex(per.index).to_numpy(dtype=float)


#: The frames anomaly detection watches, and how. Measured on the simulator's labelled incidents
#: over many seeds and start times (benchmarks/incident_recall.py, BENCHMARKS.md): the
#: extreme-value detector at 0.7 on queue size; at 0.8 on tokens per run (by agent, model and
#: type) and, with the cost counter on, spend per run of each agent, each on its own step grid;
#: at 0.9 on half-hourly tool p95 latency (after a day of history; windows of fewer than
#: ``_MIN_CALLS`` calls left out); the quasi-Poisson traffic-drop test on
#: the fleet's run rate and the trace detectors on spans. Per run, not per step: token usage
#: itself rises with the traffic, so the first weekday after a weekend start or a backlog
#: draining set records on every token series at once, while bloated prompts, a runaway loop
#: or a switch to a dearer model move tokens and spend per run. Error ratios and 5-minute p95s
#: of low-volume series are too heavy-tailed to alert on without far more false findings, so
#: they are shown, not detected on. ``fleet_findings`` derives ``tokens_per_run`` from the
#: ``tokens`` and ``runs`` frames when it is not given.
DETECTED_SERIES = ("queue", "tokens_per_run", "cost_per_run")
#: the score a per-run series must reach (their steps are few and heavy-tailed)
_PER_RUN_THRESHOLD = 0.8


def fleet_findings(frames: Mapping[str, pd.DataFrame], spans: pd.DataFrame | None = None, *,
                   start: Any = None, end: Any = None,
                   exemplars: pd.DataFrame | None = None) -> pd.DataFrame:
    """Anomaly findings over the watched frames (:data:`DETECTED_SERIES`) and the spans, kept
    where they overlap ``[start, end]``, most severe first."""
    from agentinsight.analysis.anomaly import (
        ExtremeValueDetector,
        detect,
        detect_traces,
        detect_traffic_drop,
    )

    spans = spans if spans is not None else empty_spans_frame()
    if "tokens_per_run" not in frames and "tokens" in frames and "runs" in frames:
        frames = {**frames, "tokens_per_run": tokens_per_run(frames["tokens"], frames["runs"])}
    found = []
    # each group on its own time grid: per-run views have their steps' length, and gaps where
    # too few runs finished
    for names, detector, threshold in (
            ([n for n in DETECTED_SERIES if not n.endswith("_per_run")],
             ExtremeValueDetector(), 0.7),
            ([n for n in DETECTED_SERIES if n.endswith("_per_run")],
             ExtremeValueDetector(warmup=24, ramp=0), _PER_RUN_THRESHOLD)):
        watched = [frames[name] for name in names if name in frames and len(frames[name])]
        if not watched:
            continue
        metrics = pd.concat(watched, ignore_index=True)
        for col in metrics.columns:
            if col not in ("timestamp", "value"):
                metrics[col] = metrics[col].astype("category")
        found.append(detect(metrics, detectors={"extreme": detector}, threshold=threshold,
                            spans=spans, exemplars=exemplars))
    tools = frames.get("tool_latency_p95_30m")
    if tools is not None and len(tools):
        tools = _enough_calls(tools, spans, pd.Timedelta("30m"), _MIN_CALLS)
    if tools is not None and len(tools):
        # latency degrades at once; the climb view's long lag on a 30-minute grid only adds
        # false findings there
        found.append(detect(tools, detectors={"extreme": ExtremeValueDetector(warmup=48,
                                                                              ramp=0)},
                            threshold=0.9, spans=spans, exemplars=exemplars))
    if "fleet_runs" in frames and len(frames["fleet_runs"]):
        runs = frames["fleet_runs"]
        step = pd.Series(runs["timestamp"].unique()).sort_values().diff().median()
        # a drop must hold for ten minutes, whatever the step: a minute's dip is noise
        held = int(np.ceil(pd.Timedelta(minutes=10) / step)) if pd.notna(step) and step > \
            pd.Timedelta(0) else 2
        found.append(detect_traffic_drop(runs, window="30m", min_points=max(held, 2),
                                         dispersion=runs_bunching(spans)))
    if len(spans):
        found.append(detect_traces(spans))
    found = [f for f in found if len(f)]
    if not found:
        return empty_findings_frame()
    findings = pd.concat(found, ignore_index=True)
    if start is not None:
        findings = findings[findings["end"] >= parse_time(start)]
    if end is not None:
        findings = findings[findings["start"] <= parse_time(end)]
    order = findings["severity"].map({"critical": 0, "warning": 1, "info": 2})
    findings = findings.assign(_order=order).sort_values(["_order", "score"],
                                                         ascending=[True, False])
    return findings.drop(columns="_order").reset_index(drop=True)


def _enough_calls(p95: pd.DataFrame, spans: pd.DataFrame, window: pd.Timedelta,
                  min_calls: int) -> pd.DataFrame:
    """The tool p95 points whose window holds at least ``min_calls`` finished tool calls of
    their tool in the spans (all of them when the spans hold no tool calls)."""
    if "tool" not in p95 or not len(spans) or "tool" not in spans:
        return p95
    calls = spans[spans["operation"].isin(TOOL_OPERATIONS) & spans["tool"].notna()]
    if calls.empty:
        return p95
    keep = np.zeros(len(p95), dtype=bool)
    ends = {str(tool): np.sort(part["end"].to_numpy(dtype="datetime64[ns]"))
            for tool, part in calls.groupby("tool", observed=True)}
    stamps = p95["timestamp"].to_numpy(dtype="datetime64[ns]")
    tools = p95["tool"].astype(str).to_numpy()
    width = np.timedelta64(int(window.value), "ns")
    for tool in np.unique(tools):
        rows = tools == tool
        done = ends.get(tool, np.array([], dtype="datetime64[ns]"))
        n = np.searchsorted(done, stamps[rows], side="right") \
            - np.searchsorted(done, stamps[rows] - width, side="right")
        keep[rows] = n >= min_calls
    return p95[keep]


def runs_bunching(spans: pd.DataFrame) -> float:
    """How much more a window's count of agent runs varies than a Poisson count, from the spans:
    runs that share a trace (a task running several agents) start together, so the count is a
    Poisson count of traces each adding ``n`` runs, whose variance over its mean is
    ``sum(n²) / sum(n)`` over the traces (1 when every trace holds one run or nothing tells).
    The traffic-drop test divides counts by it (:func:`~agentinsight.analysis.anomaly.\
detect_traffic_drop`'s ``dispersion``).

    >>> spans = pd.DataFrame({"trace_id": ["a", "b", "b", "b"],
    ...                       "operation": sorted(AGENT_OPERATIONS) * 4})
    >>> runs_bunching(spans)
    2.5
    """
    if not len(spans) or "trace_id" not in spans or "operation" not in spans:
        return 1.0
    per_trace = spans.loc[spans["operation"].isin(AGENT_OPERATIONS), "trace_id"].value_counts()
    if per_trace.empty:
        return 1.0
    n = per_trace.to_numpy(dtype=float)
    return max(float((n * n).sum() / n.sum()), 1.0)


def chart_step(start: Any, end: Any, step: str = "1h", points: int = 12) -> str:
    """The step of a report's time charts: ``step``, or a finer one (whole minutes, at least one)
    when the period is too short for ``points`` points at ``step``, as on a live agent's first
    hour.

    >>> chart_step("2026-11-01", "2026-11-02"), chart_step("2026-11-01T00:00", "2026-11-01T01:00")
    ('1h', '5m')
    """
    length = parse_time(end, what="end") - parse_time(start, what="start")
    wanted = pd.Timedelta(seconds=parse_duration(step, what="step"))
    if length >= wanted * points:
        return step
    minutes = max(1, int(length / points / pd.Timedelta(minutes=1)))
    return f"{minutes}m"


def step_label(step: str) -> str:
    """``1h`` -> ``hourly``, ``5m`` -> ``per 5 min``: how a chart title names its buckets."""
    return {"1h": "hourly", "1d": "daily", "1m": "per minute"}.get(
        step, "per " + step.replace("m", " min").replace("h", " h"))


def previous_period(start: Any, end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The period of the same length just before ``[start, end]``.

    >>> [t.isoformat()[:10] for t in previous_period("2026-11-08", "2026-11-15")]
    ['2026-11-01', '2026-11-08']
    """
    begin, finish = parse_time(start, what="start"), parse_time(end, what="end")
    return begin - (finish - begin), begin


class Headline:
    """The block a report opens with: the period's numbers against the previous period's, then
    the points that need a reader's eye. ``table`` holds the numbers (rows × ``this period``,
    ``previous period``, ``change``); its plain-text form is the one-column table of this
    period's values."""

    def __init__(self, title: str, table: pd.DataFrame,
                 points: list[str | tuple[str, list[str]]]) -> None:
        self.title, self.table, self.points = title, table, points

    def __repr__(self) -> str:
        return repr(pd.DataFrame({"value": self.table["this period"]}))

    def _repr_html_(self) -> str:
        from agentinsight.analysis import display

        shown = self.table.reset_index(names="measure")
        if shown["previous period"].eq("–").all():
            shown = shown.drop(columns=["previous period", "change"])
        rows = display.table(shown).styler().set_properties(
            subset=["measure"], **{"text-align": "left", "font-weight": "600"})
        items = "".join(f"<li>{html.escape(p)}</li>" if isinstance(p, str) else
                        f"<li>{html.escape(p[0])}<ol>" + "".join(
                            f"<li>{html.escape(q)}</li>" for q in p[1]) + "</ol></li>"
                        for p in self.points)
        return ("<div class='agentinsight-headline' style='border-left:4px solid #4e79a7;"
                "padding:4px 12px;margin:8px 0;overflow-x:auto;max-width:100%'>"
                f"<p style='margin:4px 0'><b>{html.escape(self.title)}</b></p>"
                f"{rows.to_html()}<ul style='margin:6px 0'>{items}</ul></div>")


def _change(now: float, before: float | None, kind: str) -> str:
    if before is None or pd.isna(before) or pd.isna(now):
        return "–"
    if kind == "ratio":
        return f"{(now - before) * 100:+.2f} pp"
    if before == 0:
        return "new" if now else "±0"
    return f"{(now - before) / abs(before):+.1%}"


def _numbers(spans: pd.DataFrame, priced: pd.DataFrame | None) -> dict[str, tuple[float, str]]:
    agent_runs = spans[spans["operation"].isin(AGENT_OPERATIONS)] if len(spans) else spans
    llm = spans[spans["input_tokens"].notna()] if len(spans) else spans
    error_ratio = agent_runs["status"].eq("error").mean() if len(agent_runs) else float("nan")
    tokens = llm["input_tokens"].sum() + llm["output_tokens"].sum() if len(llm) else 0
    rows = {
        "traces": (spans["trace_id"].nunique() if len(spans) else 0, "count"),
        "agent runs": (len(agent_runs), "count"),
        "agent error ratio": (error_ratio, "ratio"),
        "LLM calls": (len(llm), "count"),
        "tokens (input + output)": (float(tokens), "count"),
    }
    if priced is not None and "cost_usd" in priced.columns and len(priced):
        unpriced = (~priced["priced"] & priced["input_tokens"].notna()).sum() if (
            "priced" in priced.columns) else 0
        rows["cost (USD, priced calls)"] = (float(priced["cost_usd"].sum()), "usd")
        rows["unpriced LLM calls"] = (int(unpriced), "count")
    return rows


def _written(value: float, kind: str) -> str:
    from agentinsight.analysis import display

    if kind == "ratio":
        return "n/a" if pd.isna(value) else f"{value:.2%}"
    return display.usd(value) if kind == "usd" else display.count(value)


def _worst(findings: pd.DataFrame, n: int = 3) -> list[str]:
    return [f"{row.severity}: {row.summary}" for row in findings.head(n).itertuples()]


def headline(spans: pd.DataFrame, priced: pd.DataFrame | None, findings: pd.DataFrame, *,
             previous: tuple[pd.DataFrame, pd.DataFrame | None] | None = None,
             period: tuple[Any, Any] | None = None, previous_note: str = "") -> Headline:
    """The few numbers a report opens with, against the previous period's (``previous``: its
    spans and priced spans) where given, then the worst findings and the cost's trend."""
    now = _numbers(spans, priced)
    before = _numbers(*previous) if previous is not None else {}
    rows = {}
    for label, (value, kind) in now.items():
        old = before.get(label, (None, kind))[0]
        rows[label] = {"this period": _written(value, kind),
                       "previous period": "–" if old is None else _written(old, kind),
                       "change": _change(value, old, kind)}
    critical = int(findings["severity"].eq("critical").sum()) if len(findings) else 0
    rows["anomaly findings"] = {"this period": f"{len(findings):,}", "previous period": "–",
                                "change": "–"}
    rows["critical findings"] = {"this period": f"{critical:,}", "previous period": "–",
                                 "change": "–"}
    table = pd.DataFrame.from_dict(rows, orient="index", dtype="object")
    points: list[str | tuple[str, list[str]]] = []
    if "cost (USD, priced calls)" in now and before.get("cost (USD, priced calls)"):
        cost_now = now["cost (USD, priced calls)"][0]
        cost_before = before["cost (USD, priced calls)"][0]
        trend = _change(cost_now, cost_before, "usd")
        points.append(f"Cost {_written(cost_now, 'usd')}, {trend} against the previous period "
                      f"({_written(cost_before, 'usd')}){previous_note}.")
    if len(findings):
        points.append((f"Worst finding{'s' if len(findings) > 1 else ''} of {len(findings):,}:",
                       _worst(findings)))
    else:
        points.append("No anomaly findings in this period.")
    return Headline(_period_title(period), table, points)


def _period_title(period: tuple[Any, Any] | None) -> str:
    from agentinsight.analysis import display

    if period is None:
        return "Headline"
    begin, finish = (parse_time(p) for p in period)
    hours = (finish - begin) / pd.Timedelta(hours=1)
    length = f"{hours:.0f} h" if hours < 72 else f"{hours / 24:.0f} days"
    return (f"{display.timestamp(begin)} → {display.timestamp(finish)} UTC ({length}), "
            "against the same length before")


def cost_headline(priced: pd.DataFrame, previous: pd.DataFrame | None, *,
                  period: tuple[Any, Any] | None = None, top: int = 3,
                  previous_note: str = "", budget_usd: float = 0.0) -> Headline:
    """A cost report's opening: total, previous period's total and the change, month to date,
    the month-end projection against ``budget_usd`` (a monthly budget; 0: none), and the models
    and agents whose cost moved most against the previous period."""
    from agentinsight.analysis import cost, display

    def total(frame: pd.DataFrame | None) -> float:
        return float(frame["cost_usd"].sum()) if frame is not None and len(frame) else 0.0

    now, before = total(priced), total(previous) if previous is not None else None
    rows = {"total cost (priced calls)": {
        "this period": display.usd(now),
        "previous period": "–" if before is None else display.usd(before),
        "change": _change(now, before, "usd")}}
    if len(priced):
        month = cost.month_end_projection(priced, now=period[1] if period else None)
        if len(month) and "month_to_date_usd" in month.columns:
            first = month.iloc[0]
            rows[f"month to date ({display.timestamp(first['month'], 'month')}, in the data "
                 "read)"] = {"this period": display.usd(first["month_to_date_usd"]),
                             "previous period": "–", "change": "–"}
            if budget_usd > 0:
                projected = float(first["projected_month_usd"])
                rows[f"projected month end, budget {display.usd(budget_usd)}"] = {
                    "this period": display.usd(projected), "previous period": "–",
                    "change": f"{projected / budget_usd:.0%} of budget"}
        unpriced = cost.unpriced_usage(priced)
        rows["unpriced LLM calls"] = {"this period": display.count(unpriced["calls"].sum()),
                                      "previous period": "–", "change": "–"}
    table = pd.DataFrame.from_dict(rows, orient="index", dtype="object")
    points: list[str | tuple[str, list[str]]] = []
    if previous is not None and len(priced) and len(previous):
        for by in ("model", "agent"):
            new = cost.cost_table(priced, by=[by]).set_index(by)["cost_usd"]
            old = cost.cost_table(previous, by=[by]).set_index(by)["cost_usd"]
            moved = new.subtract(old, fill_value=0.0).dropna()
            moved = moved[moved.abs() > 0.005].reindex(
                moved.abs().sort_values(ascending=False).index).head(top)
            if len(moved):
                points.append(f"Top movers by {by}: " + ", ".join(
                    f"{name} {'+' if delta > 0 else '-'}{display.usd(abs(delta))}"
                    for name, delta in moved.items()) + ".")
    if points and previous_note:
        points.append(f"Against a previous period only partly in the data{previous_note}.")
    if not points:
        points.append("No previous period to compare with" + (previous_note or "") + ".")
    return Headline(_period_title(period), table, points)
