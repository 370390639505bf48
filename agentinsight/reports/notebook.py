"""The steps report notebooks share: fetch the fleet's standard frames, find anomalies, headline.

Notebooks stay thin: they take their source as parameters, call ``connect`` and these steps, and
display what comes back. Everything here works on any source the ``sources`` helpers speak.

>>> from agentinsight.reports.notebook import STANDARD_SERIES
>>> sorted(STANDARD_SERIES)[:2]
['agent_errors', 'agent_latency_p95']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from agentinsight.frames import empty_findings_frame, empty_spans_frame
from agentinsight.semconv import AGENT_OPERATIONS
from agentinsight.sources import parse_duration, parse_time

__all__ = [
    "DETECTED_SERIES",
    "STANDARD_SERIES",
    "fleet_findings",
    "headline",
    "spend_per_run",
    "standard_frames",
    "time_window",
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


def spend_per_run(cost: pd.DataFrame, runs: pd.DataFrame, min_runs: int = 2) -> pd.DataFrame:
    """USD per agent run in each step (metric ``llm_cost_usd_total:per_run``, label ``agent``):
    the agent's spend in the step over the runs it finished in it. Steps with fewer than
    ``min_runs`` finished runs have no point (one run's price is too noisy to judge). Unlike
    spend itself it has no daily cycle, so a runaway loop, a dearer model or bloated prompts
    stand out at any hour.

    >>> from agentinsight.frames import metrics_frame
    >>> cost = metrics_frame([0.0, 300.0], "llm_cost_usd_total:increase", [0.5, 0.9],
    ...                      {"agent": "coder", "model": "gpt-4o"})
    >>> runs = metrics_frame([0.0, 300.0], "agent_execution_total:increase", [2.0, 0.0],
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
    per = (spent / done.where(done >= max(min_runs, 1))).dropna().reset_index()
    if per.empty:
        return empty
    return metrics_frame(per["timestamp"], "llm_cost_usd_total:per_run", per["value"],
                         {"agent": per["agent"].astype(str)})


#: The frames anomaly detection watches, and how. Measured on the simulator's labelled week
#: (tests/unit/test_anomaly_simulated.py): the extreme-value detector at 0.7 on queue size and
#: token usage by agent/model/type, at 0.9 on half-hourly tool p95 latency (after a day of
#: history), the traffic-drop test on the fleet's run rate and the trace detectors on spans find
#: the incidents with about one false finding a day; error ratios and 5-minute p95s of
#: low-volume series are too heavy-tailed to alert on without far more false findings, so they
#: are shown, not detected on. With the cost counter on, spend per run of each agent is watched
#: the same way, so a runaway loop, a switch to a dearer model or bloated prompts are findings
#: priced in dollars (see BENCHMARKS.md: on the simulated week, all three found, no false
#: finding; spend per step, with its daily cycle, missed the loop and added three).
DETECTED_SERIES = ("queue", "tokens", "cost_per_run")


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
    watched = [frames[name] for name in DETECTED_SERIES if name in frames and len(frames[name])]
    found = []
    if watched:
        metrics = pd.concat(watched, ignore_index=True)
        for col in metrics.columns:
            if col not in ("timestamp", "value"):
                metrics[col] = metrics[col].astype("category")
        found.append(detect(metrics, detectors=["extreme"], threshold=0.7, spans=spans,
                            exemplars=exemplars))
    tools = frames.get("tool_latency_p95_30m")
    if tools is not None and len(tools):
        found.append(detect(tools, detectors={"extreme": ExtremeValueDetector(warmup=48)},
                            threshold=0.9, spans=spans, exemplars=exemplars))
    if "fleet_runs" in frames and len(frames["fleet_runs"]):
        found.append(detect_traffic_drop(frames["fleet_runs"], window="30m"))
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


def headline(spans: pd.DataFrame, priced: pd.DataFrame | None, findings: pd.DataFrame
             ) -> pd.DataFrame:
    """The few numbers a report opens with, formatted for reading, as a one-column table."""
    agent_runs = spans[spans["operation"].isin(AGENT_OPERATIONS)] if len(spans) else spans
    llm = spans[spans["input_tokens"].notna()] if len(spans) else spans
    error_ratio = agent_runs["status"].eq("error").mean() if len(agent_runs) else float("nan")
    tokens = llm["input_tokens"].sum() + llm["output_tokens"].sum() if len(llm) else 0
    rows = {
        "traces": f"{spans['trace_id'].nunique() if len(spans) else 0:,}",
        "agent runs": f"{len(agent_runs):,}",
        "agent error ratio": "n/a" if pd.isna(error_ratio) else f"{error_ratio:.2%}",
        "LLM calls": f"{len(llm):,}",
        "tokens (input + output)": f"{int(tokens):,}",
    }
    if priced is not None and "cost_usd" in priced.columns and len(priced):
        unpriced = (~priced["priced"] & priced["input_tokens"].notna()).sum() if (
            "priced" in priced.columns) else 0
        rows["cost (USD, priced calls)"] = f"${float(priced['cost_usd'].sum()):,.2f}"
        rows["unpriced LLM calls"] = f"{int(unpriced):,}"
    rows["anomaly findings"] = f"{len(findings):,}"
    critical = int(findings["severity"].eq("critical").sum()) if len(findings) else 0
    rows["critical findings"] = f"{critical:,}"
    return pd.DataFrame({"value": pd.Series(rows, dtype="object")})
