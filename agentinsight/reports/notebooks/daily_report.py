# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Agent fleet — daily report
#
# Headline numbers, performance, anomalies with their traces, and cost for one period.
# The same notebook runs on the simulator's files and on a real Prometheus + Jaeger: it speaks
# only the sources' common helpers.

# %% tags=["parameters"]
source_dir = "data/demo"  # files written by `agentinsight simulate` (the embedded default)
prometheus_url = ""  # or a Prometheus-compatible server (Prometheus, VictoriaMetrics, Thanos...)
jaeger_url = ""  # Jaeger query URL, used with prometheus_url
start = "now-1d"  # absolute (ISO) or relative (now-1d)
end = "now"
history = "2d"  # how much earlier data the anomaly detectors learn from
agents: list[str] = []  # agent filter (empty: every agent)
budget_usd = 0.0  # monthly budget in USD (0: no budget section)
step = "5m"
findings_path = "findings.json"  # output: the anomaly findings (alerts read this file)

# %%
import pandas as pd
from IPython.display import HTML, display

from agentinsight import plots
from agentinsight.alerts import write_findings
from agentinsight.analysis import cost, performance
from agentinsight.analysis.anomaly import findings_html
from agentinsight.analysis.display import table
from agentinsight.reports import enable_offline_plotly
from agentinsight.reports.notebook import (
    chart_step,
    fleet_findings,
    headline,
    previous_period,
    standard_frames,
    step_label,
    time_window,
)
from agentinsight.sources import connect

enable_offline_plotly()
fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
learn_from, start, end = time_window(start, end, history)
before, _ = previous_period(start, end)
frames = standard_frames(fleet, learn_from, end, step=step, agents=agents)
read_spans = fleet.spans(min(learn_from, before), end)
if agents:
    read_spans = read_spans[read_spans["agent"].isin(agents) | read_spans["agent"].isna()]
all_spans = read_spans[read_spans["start"] >= learn_from].reset_index(drop=True)
spans = all_spans[all_spans["start"] >= start].reset_index(drop=True)
earlier = read_spans[(read_spans["start"] >= before) & (read_spans["start"] < start)]
findings = fleet_findings(frames, all_spans, start=start, end=end)
priced = cost.price_spans(spans)
_ = write_findings(findings, findings_path, data_end=end)
previous = (earlier, cost.price_spans(earlier)) if len(earlier) else None
partly = ""
if len(earlier) and earlier["start"].min() > before + (start - before) / 20:
    partly = f"; the data start at {earlier['start'].min():%Y-%m-%d %H:%M}, inside that period"

# %% [markdown]
# ## Headline

# %%
headline(spans, priced, findings, previous=previous, period=(start, end), previous_note=partly)

# %%
print(fleet.describe())
print(f"period: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC; "
      f"{len(spans):,} spans in the period")

# %% [markdown]
# ## Anomalies
# Each finding names its series, when it started and ended, what was observed against what was
# expected, and example traces where spans or exemplars link to it.

# %%
display(HTML(findings_html(findings.head(25))))

# %%
plots.findings_timeline(findings) if len(findings) else "No anomaly findings in this period."

# %% [markdown]
# Error ratio and p95 latency per agent and per tool, with the period's findings marked on the
# line of the agent or tool they name (hourly; finer for a period of a few hours).

# %%
chart = chart_step(start, end)
every = {"step": chart, "window": chart, "start": start, "end": end}
charts = {
    f"agent error ratio ({step_label(chart)})": fleet.error_ratio(
        "agent_execution_total", by=["agent"], **every),
    f"agent p95 latency ({step_label(chart)})": fleet.latency_quantiles(
        "agent_execution_duration_seconds", q=0.95, by=["agent"], **every),
    f"tool p95 latency ({step_label(chart)})": fleet.latency_quantiles(
        "tool_execution_duration_seconds", q=0.95, by=["tool"], **every),
}
for title, frame in charts.items():
    if agents and "agent" in frame.columns:
        frame = frame[frame["agent"].isin(agents)]
    display(plots.timeseries(frame, findings, title=title))

# %% [markdown]
# ## Performance

# %%
table(performance.performance_summary(spans), title="Agent runs: volume, errors, latency")

# %%
table(performance.breakdown(spans, by="tool").head(15), title="Tools")

# %% [markdown]
# An example trace from the most severe finding that links to traces, with its critical path.

# %%
linked = [t for ids in findings.get("trace_ids", []) for t in (ids or [])]
example = next((t for t in linked if t in set(spans["trace_id"])), None)
if example is None and len(spans):
    example = performance.slowest_traces(spans, n=1)["trace_id"].iloc[0]
plots.trace_waterfall(spans, example) if example else "no traces in this period"

# %% [markdown]
# ## Cost

# %%
cost.cost_table(priced, by=["agent", "model"])

# %%
bucket = "hour" if end - start <= pd.Timedelta(days=3) else "day"
plots.cost_area(cost.cost_table(priced, by=[bucket, "model"]), period=(start, end),
                title=f"Cost by model, per {bucket}")

# %%
cost.unpriced_usage(priced)

# %%
if budget_usd:
    display(cost.budget_burn(priced, budget_usd))
