# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% [markdown]
# # A small report used by the runner's tests

# %% tags=["parameters"]
start = "now-1d"
end = "now"
title = "default title"
n_points = 10
findings_path = ""

# %%
import json

import plotly.graph_objects as go

from agentinsight.reports import enable_offline_plotly

enable_offline_plotly()
print(f"{title}: {start} .. {end}")

# %%
go.Figure(go.Scatter(x=list(range(n_points)), y=[i * i for i in range(n_points)]))

# %%
go.Figure(go.Bar(x=["a", "b"], y=[1, 2]))

# %%
with open(findings_path, "w") as handle:
    json.dump([{"fingerprint": "abc", "summary": title}], handle)
