"""Detectors over spans: per-agent feature vectors (IsolationForest), latency outliers per
operation, error bursts and runaway agent runs. Each trace detector returns finding dicts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.ensemble import IsolationForest
from sklearn.utils.validation import check_is_fitted, validate_data

from agentinsight.analysis.traces import span_agents, trace_summary

__all__ = [
    "AGENT_FEATURES",
    "AgentIsolationForest",
    "agent_features",
    "error_burst_findings",
    "latency_outlier_findings",
    "runaway_run_findings",
]

AGENT_FEATURES = ("p95_latency_ms", "error_ratio", "tokens_per_run", "cost_per_run",
                  "tool_calls_per_run", "queue_size")


class AgentIsolationForest(OutlierMixin, BaseEstimator):
    """IsolationForest over per-agent feature vectors, robust-scaled and tolerant of NaN.

    Features are centred on their median and divided by their IQR learned in ``fit`` (so a
    cost in dollars and a latency in milliseconds weigh alike), and missing values are set to
    that median. ``score_samples`` is lower for more abnormal rows; ``predict`` gives +1 / -1.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 3))
    >>> det = AgentIsolationForest(random_state=0).fit(X)
    >>> det.predict([[0.0, 0.0, 0.0], [9.0, -9.0, 9.0]]).tolist()
    [1, -1]
    """

    def __init__(self, n_estimators: int = 200, contamination: float | str = "auto",
                 max_samples: int | float | str = "auto", random_state: Any = None) -> None:
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.max_samples = max_samples
        self.random_state = random_state

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        Z = (X - self.center_) / self.scale_
        return np.where(np.isnan(Z), 0.0, Z)

    def fit(self, X: Any, y: Any = None) -> AgentIsolationForest:
        """Learn the scaling and grow the forest on ``X`` (rows: agent × time window)."""
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                center = np.nanmedian(X, axis=0)
                q1, q3 = np.nanpercentile(X, [25, 75], axis=0)
        self.center_ = np.nan_to_num(center, nan=0.0)
        iqr = np.nan_to_num(q3 - q1, nan=0.0)
        self.scale_ = np.where(iqr > 0, iqr, np.maximum(np.abs(self.center_), 1.0))
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, contamination=self.contamination,
            max_samples=self.max_samples, random_state=self.random_state,
        ).fit(self._scaled(X))
        self.offset_ = self.forest_.offset_
        return self

    def score_samples(self, X: Any) -> np.ndarray:
        """IsolationForest's score (lower = more abnormal) of each row."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        return self.forest_.score_samples(self._scaled(X))

    def decision_function(self, X: Any) -> np.ndarray:
        """``score_samples(X) - offset_``: negative for outliers."""
        return self.score_samples(X) - self.offset_

    def predict(self, X: Any) -> np.ndarray:
        """+1 for normal rows, -1 for outliers."""
        return np.where(self.decision_function(X) >= 0, 1, -1)


def agent_features(spans: pd.DataFrame, freq: str = "1h",
                   queue: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per agent and time window: p95 latency, error ratio, tokens, cost and tool calls per
    run, and queue size, from a spans frame (and, for the queue, a metrics frame).

    Rows are indexed by (``agent``, ``window``); a feature with no data is NaN (cost needs a
    ``cost_usd`` column, e.g. from ``cost.price_spans``; queue size needs ``task_queue_size``).

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(agent_features(empty_spans_frame()).columns) == list(AGENT_FEATURES)
    True
    """
    runs = trace_summary(spans, per="agent_run") if len(spans) else pd.DataFrame()
    if runs.empty:
        empty = pd.DataFrame(columns=list(AGENT_FEATURES), dtype="float64")
        empty.index = pd.MultiIndex.from_arrays([[], []], names=["agent", "window"])
        return empty
    runs = runs[runs["agent"].notna()].copy()
    runs["window"] = runs["start"].dt.floor(freq)
    runs["tokens"] = runs[["input_tokens", "output_tokens"]].sum(axis=1, min_count=1)
    runs["error"] = runs["status"] == "error"
    if "cost_usd" in spans.columns:
        cost = spans.groupby("trace_id")["cost_usd"].sum(min_count=1)
        per_trace_runs = runs.groupby("trace_id")["span_id"].transform("size")
        runs["cost"] = runs["trace_id"].map(cost) / per_trace_runs
    else:
        runs["cost"] = np.nan
    g = runs.groupby(["agent", "window"], observed=True)
    out = pd.DataFrame({
        "p95_latency_ms": g["duration_ms"].quantile(0.95),
        "error_ratio": g["error"].mean(),
        "tokens_per_run": g["tokens"].mean(),
        "cost_per_run": g["cost"].mean(),
        "tool_calls_per_run": g["tool_calls"].mean(),
    })
    out["queue_size"] = np.nan
    if queue is not None and len(queue):
        q = queue[queue["metric"].astype(str) == "task_queue_size"]
        if len(q):
            level = q.groupby(q["timestamp"].dt.floor(freq))["value"].sum()
            windows = out.index.get_level_values("window")
            out["queue_size"] = level.reindex(windows).to_numpy()
    return out[list(AGENT_FEATURES)].astype("float64")


def latency_outlier_findings(spans: pd.DataFrame, n_sigmas: float = 6.0,
                             min_history: int = 30, gap: str = "10min") -> list[dict[str, Any]]:
    """Spans much slower than their operation's history (log-duration robust z, causal).

    Each span is compared with the median and IQR of the previous 500 spans of the same name;
    consecutive outliers of one operation less than ``gap`` apart form one finding.
    """
    if spans.empty:
        return []
    f = spans[["trace_id", "name", "start", "duration_ms", "agent"]].copy()
    f = f[f["duration_ms"] > 0].sort_values("start", kind="stable")
    f["log"] = np.log(f["duration_ms"].astype(float))
    g = f.groupby("name", sort=False)["log"]
    roll = lambda q: g.transform(  # noqa: E731
        lambda s: s.rolling(500, min_periods=min_history).quantile(q).shift(1))
    med, q1, q3 = roll(0.5), roll(0.25), roll(0.75)
    spread = np.maximum((q3 - q1) / 1.349, 0.05)
    f["z"] = (f["log"] - med) / spread
    out = []
    for name, grp in f[f["z"] > n_sigmas].groupby("name", sort=False):
        cut = grp["start"].diff() > pd.Timedelta(gap)
        for _, burst in grp.groupby(cut.cumsum()):
            peak = burst.loc[burst["z"].idxmax()]
            typical = float(np.exp(med.loc[peak.name]))
            z = float(peak["z"])
            out.append({
                "detector": "latency_outlier", "series": {"operation": str(name)},
                "start": burst["start"].min(), "end": burst["start"].max(),
                "score": z / (z + n_sigmas), "observed": float(peak["duration_ms"]),
                "expected": typical, "trace_ids": list(dict.fromkeys(burst["trace_id"])),
                "summary": f"{name}: {len(burst)} span(s) up to {peak['duration_ms']:.0f} ms, "
                           f"typically {typical:.0f} ms",
            })
    return out


def error_burst_findings(spans: pd.DataFrame, freq: str = "15min", by: str = "agent",
                         p_value: float = 1e-6, min_errors: int = 5) -> list[dict[str, Any]]:
    """Windows where a group's errors far exceed its error ratio so far (binomial tail).

    Spans are grouped by ``by`` (an agent inherits to its LLM/tool spans through
    ``agent``; spans with no group fall under their ``service`` and are labelled
    ``service=...``, never as a group named after the service).
    """
    if spans.empty:
        return []
    if by == "agent":
        key = span_agents(spans)  # LLM and tool spans belong to the agent run they were made in
    else:
        key = spans[by].astype(object) if by in spans else pd.Series(None, index=spans.index)
    # a span with no group (e.g. the service's own HTTP server span) is the service's, and
    # is labelled so: not a group named after the service
    key = key.where(key.notna(), "\x00" + spans["service"].astype(str))
    f = pd.DataFrame({"key": key, "window": spans["start"].dt.floor(freq),
                      "error": spans["status"] == "error", "trace_id": spans["trace_id"]})
    counts = f.groupby(["key", "window"]).agg(n=("error", "size"), k=("error", "sum"))
    out = []
    for name, grp in counts.groupby(level="key", sort=False):
        grp = grp.droplevel("key")
        past_n = grp["n"].cumsum().shift(1).fillna(0)
        past_k = grp["k"].cumsum().shift(1).fillna(0)
        ratio = (past_k + 1) / (past_n + 100)  # a weak prior of 1 error in 100 spans
        tail = binom.sf(grp["k"] - 1, grp["n"], ratio)
        hot = (tail < p_value) & (grp["k"] >= min_errors) & (past_n >= 200)
        windows = grp.index[hot.to_numpy()]
        for window in windows:
            row = grp.loc[window]
            p = float(tail[grp.index.get_loc(window)])
            traces = f[(f["key"] == name) & (f["window"] == window) & f["error"]]["trace_id"]
            group, value = (("service", str(name)[1:]) if str(name).startswith("\x00")
                            else (by, str(name)))
            out.append({
                "detector": "error_burst", "series": {group: value},
                "start": window, "end": window + pd.Timedelta(freq),
                "score": float(min(1.0, -np.log10(max(p, 1e-300)) / 20.0)),
                "observed": float(row["k"] / row["n"]),
                "expected": float(ratio.loc[window]),
                "trace_ids": list(dict.fromkeys(traces))[:20],
                "summary": f"{group}={value}: {int(row['k'])} errors in {int(row['n'])} spans "
                           f"({row['k'] / row['n']:.0%}, usually {ratio.loc[window]:.1%})",
            })
    return out


def runaway_run_findings(spans: pd.DataFrame, factor: float = 3.0, n_sigmas: float = 6.0,
                         min_runs: int = 20) -> list[dict[str, Any]]:
    """Agent runs with far more LLM or tool calls than that agent's earlier runs.

    A run is runaway when its calls exceed both ``factor`` × the agent's median so far and the
    median + ``n_sigmas`` robust sigmas (causal: only earlier runs of the agent count).
    """
    runs = trace_summary(spans, per="agent_run") if len(spans) else pd.DataFrame()
    if runs.empty:
        return []
    runs = runs[runs["agent"].notna()].sort_values("start", kind="stable").copy()
    runs["calls"] = runs["llm_calls"] + runs["tool_calls"]
    out = []
    for agent, grp in runs.groupby("agent", sort=False):
        calls = grp["calls"].astype(float)
        med = calls.expanding(min_periods=min_runs).median().shift(1)
        mad = (calls - med).abs().expanding(min_periods=min_runs).median().shift(1)
        limit = np.maximum(factor * med, med + n_sigmas * 1.4826 * np.maximum(mad, 0.5))
        for idx in grp.index[(calls > limit).to_numpy()]:
            row = grp.loc[idx]
            ratio = row["calls"] / max(med.loc[idx], 1.0)
            out.append({
                "detector": "runaway_run", "series": {"agent": str(agent)},
                "start": row["start"], "end": row["end"],
                "score": float(min(1.0, ratio / (ratio + factor))),
                "observed": float(row["calls"]), "expected": float(med.loc[idx]),
                "trace_ids": [row["trace_id"]],
                "summary": f"agent {agent}: run made {int(row['llm_calls'])} LLM and "
                           f"{int(row['tool_calls'])} tool calls, usually {med.loc[idx]:.0f} "
                           f"in all",
            })
    return out
