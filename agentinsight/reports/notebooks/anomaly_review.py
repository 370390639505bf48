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
# # Agent fleet — anomaly review
#
# Every finding of the period with the series it came from, what was expected, and the traces
# behind it; for triage before findings become alerts.

# %% tags=["parameters"]
source_dir = "data/demo"  # files written by `agentinsight simulate` (the embedded default)
prometheus_url = ""  # or a Prometheus-compatible server
jaeger_url = ""  # Jaeger query URL, used with prometheus_url
start = "now-1d"
end = "now"
history = "2d"  # how much earlier data the detectors learn from
agents: list[str] = []  # agent filter (empty: every agent)
severity = "info"  # lowest severity shown: info, warning or critical
step = "5m"
findings_path = "findings.json"  # output: the anomaly findings (alerts read this file)

# %%
from IPython.display import HTML, display

from agentinsight import plots
from agentinsight.alerts import write_findings
from agentinsight.analysis.anomaly import findings_html
from agentinsight.analysis.display import series_label
from agentinsight.reports import enable_offline_plotly
from agentinsight.reports.notebook import (
    fleet_findings,
    headline,
    previous_period,
    standard_frames,
    time_window,
)
from agentinsight.sources import connect

enable_offline_plotly()
fleet = connect(source_dir, prometheus_url or None, jaeger_url or None)
learn_from, start, end = time_window(start, end, history)
before, _ = previous_period(start, end)
frames = standard_frames(fleet, learn_from, end, agents=agents, step=step)
read_spans = fleet.spans(min(learn_from, before), end)
all_spans = read_spans[read_spans["start"] >= learn_from].reset_index(drop=True)
findings = fleet_findings(frames, all_spans, start=start, end=end)
levels = ["info", "warning", "critical"]
findings = findings[findings["severity"].map(levels.index) >= levels.index(severity)]
_ = write_findings(findings, findings_path, data_end=end)
earlier = read_spans[(read_spans["start"] >= before) & (read_spans["start"] < start)]

# %% [markdown]
# ## Headline

# %%
headline(all_spans[all_spans["start"] >= start], None, findings,
         previous=(earlier, None) if len(earlier) else None, period=(start, end))

# %%
print(fleet.describe())
print(f"{len(findings)} finding(s) at or above {severity}")

# %%
plots.findings_timeline(findings) if len(findings) else "No anomaly findings in this period."

# %%
display(HTML(findings_html(findings)))

# %% [markdown]
# ## Each finding on its series

# %%
for finding in findings.head(12).itertuples():
    labels = {k: v for k, v in finding.series.items() if k != "__name__"}
    metric = finding.series.get("__name__")
    source = next((f for f in frames.values() if len(f) and metric in set(f["metric"])), None)
    if source is None:
        print(f"{finding.summary}  (trace finding; traces: {', '.join(finding.trace_ids[:3])})")
        continue
    mask = source["metric"] == metric
    for key, value in labels.items():
        if key in source.columns:
            mask &= source[key] == value
    display(plots.timeseries(source[mask], findings[findings["fingerprint"] == finding.fingerprint],
                             title=f"{finding.severity}: {series_label(finding.series)}"[:110]))

# %% [markdown]
# ## A trace behind the top finding

# %%
linked = [t for ids in findings["trace_ids"] for t in (ids or [])]
if linked:
    display(plots.trace_waterfall(all_spans, linked[0]))
else:
    print("no finding links to a trace")
