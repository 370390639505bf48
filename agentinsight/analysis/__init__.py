"""Analysis over canonical frames: anomaly detection, token cost, performance, traces.

Analysis takes DataFrames and never opens a network connection. Import the sub-module you need:
``agentinsight.analysis.anomaly``, ``.cost``, ``.performance``, ``.traces``.
"""
