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
from agentinsight.reports import enable_offline_plotly
from agentinsight.reports.notebook import fleet_findings, headline, standard_frames, time_window
from agentinsight.sources import connect

enable_offline_plotly()
pd.set_option("display.max_colwidth", 120)
fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
learn_from, start, end = time_window(start, end, history)
print(fleet.describe())
print(f"period: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC")

# %%
frames = standard_frames(fleet, learn_from, end, step=step, agents=agents)
all_spans = fleet.spans(learn_from, end)
if agents:
    all_spans = all_spans[all_spans["agent"].isin(agents) | all_spans["agent"].isna()]
spans = all_spans[all_spans["start"] >= start].reset_index(drop=True)
findings = fleet_findings(frames, all_spans, start=start, end=end)
priced = cost.price_spans(spans)
_ = write_findings(findings, findings_path, data_end=end)

# %% [markdown]
# ## Headline

# %%
headline(spans, priced, findings)

# %% [markdown]
# ## Anomalies
# Each finding names its series, when it started and ended, what was observed against what was
# expected, and example traces where spans or exemplars link to it.

# %%
display(HTML(findings_html(findings.head(25))))

# %%
plots.findings_timeline(findings)

# %% [markdown]
# Hourly error ratio and p95 latency per agent and per tool, with the period's findings marked.

# %%
hourly = {"step": "1h", "window": "1h", "start": start, "end": end}
charts = {
    "agent error ratio (hourly)": fleet.error_ratio("agent_execution_total", by=["agent"],
                                                    **hourly),
    "agent p95 latency, s (hourly)": fleet.latency_quantiles(
        "agent_execution_duration_seconds", q=0.95, by=["agent"], **hourly),
    "tool p95 latency, s (hourly)": fleet.latency_quantiles(
        "tool_execution_duration_seconds", q=0.95, by=["tool"], **hourly),
}
for title, frame in charts.items():
    if agents and "agent" in frame.columns:
        frame = frame[frame["agent"].isin(agents)]
    display(plots.timeseries(frame, findings, title=title))

# %% [markdown]
# ## Performance

# %%
performance.performance_summary(spans).round(3)

# %%
performance.breakdown(spans, by="tool").head(15)

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
daily = cost.cost_table(priced, by=["day", "model"])
plots.cost_area(daily)

# %%
cost.unpriced_usage(priced)

# %%
if budget_usd:
    display(cost.budget_burn(priced, budget_usd))
