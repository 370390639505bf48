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
# # Explore an agent fleet
#
# Connect to a source, see which services, agents and metrics it holds, pull a frame and plot it.
# Change the parameters (or the cells) and re-run; everything works the same on files and servers.

# %% tags=["parameters"]
source_dir = "data/demo"  # files written by `agentinsight simulate` (the embedded default)
prometheus_url = ""  # or a Prometheus-compatible server
jaeger_url = ""  # Jaeger query URL, used with prometheus_url
start = "now-1d"
end = "now"
agents: list[str] = []  # agent filter (empty: every agent)
metric = "agent_execution_duration_seconds"  # a histogram from the catalogue to look at
findings_path = "findings.json"  # output: explore finds nothing; written empty for alerts

# %%
import pandas as pd

from agentinsight import catalog, plots
from agentinsight.alerts import write_findings
from agentinsight.analysis.display import table
from agentinsight.frames import empty_findings_frame
from agentinsight.reports import enable_offline_plotly
from agentinsight.sources import connect, parse_time

enable_offline_plotly()
fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
start, end = parse_time(start, what="start"), parse_time(end, what="end")
_ = write_findings(empty_findings_frame(), findings_path)
spans = fleet.spans(start, end)

# %% [markdown]
# ## Headline

# %%
period = f"{start:%Y-%m-%d %H:%M:%S} → {end:%Y-%m-%d %H:%M:%S}"
table(pd.DataFrame({"what": ["source", "period (UTC)", "spans", "traces", "agents"],
                    "value": [fleet.describe(), period, f"{len(spans):,}",
                              f"{spans['trace_id'].nunique():,}",
                              ", ".join(map(str, fleet.label_values("agent"))) or "none"]}))

# %% [markdown]
# ## What is there

# %%
print("services:", fleet.span_services())
print("agents:  ", fleet.label_values("agent"))
print("models:  ", fleet.label_values("model"))
print("tools:   ", fleet.label_values("tool"))

# %%
table(pd.DataFrame([(m.name, m.kind, ", ".join(m.labels), m.help) for m in catalog.METRICS],
                   columns=["metric", "kind", "labels", "help"]), title="The metric catalogue")

# %% [markdown]
# ## Pull a frame and plot it

# %%
p95 = fleet.latency_quantiles(metric, q=0.95, by=["agent"], start=start, end=end)
if agents:
    p95 = p95[p95["agent"].isin(agents)]
table(p95.tail(), title=f"{metric} p95, the last samples")

# %%
plots.timeseries(p95, title=f"{metric} p95 by agent")

# %%
buckets = fleet.range(f"{metric}_bucket", start=start, end=end)
plots.latency_heatmap(buckets, title=f"{metric} distribution")

# %%
table(spans.head().drop(columns=["attributes"]), title="The first spans")

# %%
plots.token_sankey(spans)
