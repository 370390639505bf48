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
# # Agent fleet — cost report
#
# What the fleet's LLM usage cost, by agent, model, task and day, priced call by call with the
# price in force at each call (genai-prices). Usage no price table knows is reported as unpriced,
# never as $0, and tokens are counted once across the span hierarchy.

# %% tags=["parameters"]
source_dir = "data/demo"  # files written by `agentinsight simulate` (the embedded default)
prometheus_url = ""  # or a Prometheus-compatible server
jaeger_url = ""  # Jaeger query URL, used with prometheus_url
start = "now-7d"
end = "now"
agents: list[str] = []  # agent filter (empty: every agent)
budget_usd = 0.0  # monthly budget in USD (0: no budget section)
top_n = 10
findings_path = "findings.json"  # output: this report finds nothing; written empty for alerts

# %%
import pandas as pd
from IPython.display import display

from agentinsight import plots
from agentinsight.alerts import write_findings
from agentinsight.analysis import cost
from agentinsight.frames import empty_findings_frame
from agentinsight.reports import enable_offline_plotly
from agentinsight.reports.notebook import cost_headline, previous_period
from agentinsight.sources import connect, parse_time

enable_offline_plotly()
fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
start, end = parse_time(start, what="start"), parse_time(end, what="end")
before, _ = previous_period(start, end)
read = fleet.spans(before, end)
if agents:
    read = read[read["agent"].isin(agents) | read["agent"].isna()]
spans = read[read["start"] >= start].reset_index(drop=True)
earlier = read[read["start"] < start].reset_index(drop=True)
priced = cost.price_spans(spans)
previous = cost.price_spans(earlier) if len(earlier) else None
partly = ""
if len(earlier) and earlier["start"].min() > before + (start - before) / 20:
    partly = f" (the data start at {earlier['start'].min():%Y-%m-%d %H:%M}, inside that period)"
_ = write_findings(empty_findings_frame(), findings_path)

# %% [markdown]
# ## Headline

# %%
cost_headline(priced, previous, period=(start, end), previous_note=partly,
              budget_usd=budget_usd)

# %%
print(fleet.describe())
print(f"period: {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC")

# %% [markdown]
# ## Where the money went

# %%
cost.cost_table(priced, by=["agent"])

# %%
cost.cost_table(priced, by=["model", "provider"])

# %%
bucket = "hour" if end - start <= pd.Timedelta(days=3) else "day"
plots.cost_area(cost.cost_table(priced, by=[bucket, "model"]), period=(start, end),
                title=f"Cost by model, per {bucket}")

# %%
plots.token_sankey(spans)

# %%
cost.cost_table(priced, by=["task_type"])

# %%
cost.cost_per_successful_task(priced)

# %% [markdown]
# ## The most expensive traces

# %%
cost.top_traces(priced, top_n)

# %% [markdown]
# ## Caching, projection and budget

# %%
cost.cache_savings(priced)

# %%
cost.month_end_projection(priced, now=end)

# %%
if budget_usd:
    display(cost.budget_burn(priced, budget_usd, now=end))

# %% [markdown]
# ## Unpriced usage and reconciliation with the token counters
# Spans can be sampled; Prometheus counters see every call. The difference is shown per agent and
# model together with the trace sampling coverage.

# %%
cost.unpriced_usage(priced)

# %%
usage = fleet.token_usage(by=["agent", "model", "token_type"], start=start, end=end)
cost.reconcile(priced, usage)
