"""Analysis over canonical frames: anomalies, token cost, performance, SLOs and trace structure.

Analysis takes DataFrames (``agentinsight.frames``) and never opens a network connection. Import
the module you need:

- ``agentinsight.analysis.anomaly``: causal anomaly detection over metrics and spans frames
  (scikit-learn outlier estimators, merged findings, an HTML view of them);
- ``agentinsight.analysis.display``: how tables and figure labels read (money, counts, ms or s,
  times to the second, catalogue names for series, axis units), shared by every report;
- ``agentinsight.analysis.cost``: every LLM call priced once, at its own time, and the bill cut
  by agent, model, task, tool chain or day (unpriced usage is reported, never $0);
- ``agentinsight.analysis.performance``: latency percentiles (Prometheus-exact from histogram
  buckets), throughput, error ratios, tool and model breakdowns, queue waits, the slowest
  traces, period-over-period regressions and a daily headline table;
- ``agentinsight.analysis.slo``: SLO attainment, good/bad events and multi-window burn rates;
- ``agentinsight.analysis.traces``: span trees, critical paths and per-trace or per-agent-run
  summaries.

Every analysis that walks parent links uses one span forest, built once per call.
"""
