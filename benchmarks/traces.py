"""Trace analysis at scale: per-trace summaries and critical paths over 1 million spans.

Run: ``python benchmarks/traces.py [--traces 100000]``. Prints one line per figure.

Baselines, measured in the same run on the same frames:
- summaries: the straightforward per-trace loop (``groupby`` + Python per trace) on 20k spans;
- critical path: Jaeger's recursive walk written plainly, re-filtering a parent's children at
  every step (quadratic in the number of children), on one trace with many parallel children.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from agentinsight.analysis.performance import performance_summary
from agentinsight.analysis.traces import critical_path, critical_path_share, trace_summary
from agentinsight.frames import SPANS_COLUMNS, validate_spans_frame

T0 = pd.Timestamp("2026-11-20T00:00:00Z").value

# One agent run: root, 4 sequential chat calls, 3 parallel tool calls, a sub-agent with a chat.
_PARENT = [-1, 0, 0, 0, 0, 0, 0, 0, 0, 8]
_OP = ["invoke_agent", "chat", "chat", "chat", "chat", "execute_tool", "execute_tool",
       "execute_tool", "invoke_agent", "chat"]
_MODEL = [None, "gpt-4o", "gpt-4o", "claude-sonnet-4", "gpt-4o", None, None, None, None,
          "gpt-4o-mini"]
_TOOL = [None, None, None, None, None, "search", "fetch", "sql", None, None]


def synthetic_spans(n_traces: int, seed: int = 0) -> pd.DataFrame:
    """``n_traces`` agent runs of 10 spans each, with random timings (vectorised)."""
    rng = np.random.default_rng(seed)
    k = len(_PARENT)
    n = n_traces * k
    base = T0 + np.arange(n_traces, dtype=np.int64) * 1_000_000_000
    dur = rng.lognormal(np.log(300e6), 0.6, size=(n_traces, k)).astype(np.int64)
    start = np.zeros((n_traces, k), dtype=np.int64)
    start[:, 1] = 5_000_000
    for j in (2, 3, 4):  # sequential chats
        start[:, j] = start[:, j - 1] + dur[:, j - 1] + 1_000_000
    start[:, 5:8] = start[:, 4:5] + dur[:, 4:5] + 1_000_000  # tools in parallel
    start[:, 8] = start[:, 5] + dur[:, 5:8].max(axis=1) + 1_000_000
    start[:, 9] = start[:, 8] + 1_000_000
    dur[:, 8] = dur[:, 9] + 3_000_000
    dur[:, 0] = start[:, 8] + dur[:, 8] + 5_000_000
    start = start + base[:, None]
    end = start + dur
    trace = np.repeat([f"{i:032x}" for i in range(n_traces)], k)
    span = np.tile([f"{j:016x}" for j in range(1, k + 1)], n_traces)
    parent = np.tile(["" if p < 0 else f"{p + 1:016x}" for p in _PARENT], n_traces)
    tokens_in = np.where(np.tile([m is not None for m in _MODEL], n_traces),
                         rng.integers(50, 4000, n), np.nan)
    frame = pd.DataFrame({
        "trace_id": trace, "span_id": span, "parent_span_id": parent, "service": "agents",
        "name": np.tile([f"{o} {m or t or 'planner'}" for o, m, t in zip(_OP, _MODEL, _TOOL,
                                                                           strict=True)],
                        n_traces),
        "kind": "internal",
        "start": pd.to_datetime(start.ravel(), utc=True),
        "end": pd.to_datetime(end.ravel(), utc=True),
        "duration_ms": (end - start).ravel() / 1e6,
        "status": np.where(rng.random(n) < 0.02, "error", "ok"), "status_message": "",
        "agent": np.tile(["planner"] + [None] * 7 + ["coder", None], n_traces),
        "operation": np.tile(_OP, n_traces), "provider": None,
        "model": np.tile(_MODEL, n_traces), "tool": np.tile(_TOOL, n_traces),
        "input_tokens": tokens_in, "output_tokens": tokens_in / 10,
        "cache_read_tokens": np.nan, "cache_write_tokens": np.nan, "reasoning_tokens": np.nan,
        "attributes": [{}] * n,
    })
    return validate_spans_frame(frame[list(SPANS_COLUMNS)])


def naive_summary(spans: pd.DataFrame) -> pd.DataFrame:
    """The per-trace loop a first version would write."""
    rows = []
    for trace_id, g in spans.groupby("trace_id", sort=False):
        ids = set(g["span_id"])
        depth = {}
        parents = dict(zip(g["span_id"], g["parent_span_id"], strict=True))
        for s in g["span_id"]:
            d, p = 0, parents[s]
            while p in ids:
                d, p = d + 1, parents[p]
            depth[s] = d
        rows.append({"trace_id": trace_id, "spans": len(g),
                     "llm_calls": int((g["operation"] == "chat").sum()),
                     "tool_calls": int((g["operation"] == "execute_tool").sum()),
                     "errors": int((g["status"] == "error").sum()),
                     "depth": max(depth.values()) + 1,
                     "duration_ms": (g["end"].max() - g["start"].min()).total_seconds() * 1e3})
    return pd.DataFrame(rows)


def naive_critical_path(spans: pd.DataFrame) -> float:
    """Jaeger's walk, re-filtering children at each step; returns the path's total ms."""
    by_id = {r.span_id: r for r in spans.itertuples(index=False)}
    children: dict[str, list[str]] = {}
    for r in by_id.values():
        children.setdefault(r.parent_span_id, []).append(r.span_id)
    root = children[""][0]
    total, cur, t = 0.0, root, by_id[root].end
    done: set[str] = set()
    while True:
        kids = [c for c in children.get(cur, []) if by_id[c].end <= t and c not in done]
        if kids:
            child = max(kids, key=lambda c: by_id[c].end)
            total += (t - by_id[child].end).total_seconds() * 1e3
            done.add(child)
            cur, t = child, by_id[child].end
            continue
        total += (t - by_id[cur].start).total_seconds() * 1e3
        if cur == root:
            return total
        t = by_id[cur].start
        cur = by_id[cur].parent_span_id


def wide_trace(children: int) -> pd.DataFrame:
    """One trace whose root waits on ``children`` back-to-back children."""
    frame = synthetic_spans(1).iloc[:1].copy()
    start = frame["start"].iloc[0]
    step = pd.Timedelta(milliseconds=1)
    rows = pd.DataFrame({
        **{c: frame[c].iloc[0] for c in ("trace_id", "service", "kind", "status",
                                         "status_message")},
        "span_id": [f"c{i:015x}" for i in range(children)],
        "parent_span_id": frame["span_id"].iloc[0], "name": "step",
        "start": start + step * np.arange(children),
        "end": start + step * (np.arange(children) + 1),
        "duration_ms": 1.0,
    })
    frame["end"] = start + step * children
    out = pd.concat([frame, rows], ignore_index=True)
    out["attributes"] = [{}] * len(out)
    return out


def _time(fn, *args, **kwargs):
    """Process CPU seconds (steadier than wall clock on a shared machine) and the result."""
    began = time.process_time()
    result = fn(*args, **kwargs)
    return time.process_time() - began, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=100_000, help="traces of 10 spans")
    args = parser.parse_args()

    big = synthetic_spans(args.traces)
    print(f"spans: {len(big):,} in {args.traces:,} traces; load average "
          f"{os.getloadavg()[0]:.1f}; times are process CPU seconds")
    secs, summary = _time(trace_summary, big)
    print(f"trace_summary: {secs:.2f} s ({len(big) / secs:,.0f} spans/s)")
    secs, path = _time(critical_path, big)
    print(f"critical_path: {secs:.2f} s ({len(big) / secs:,.0f} spans/s)")
    assert np.allclose(path.groupby("trace_id", sort=False)["duration_ms"].sum().sort_index(),
                       summary.set_index("trace_id")["duration_ms"].sort_index())
    secs, share = _time(critical_path_share, big)
    print(f"critical_path_share: {secs:.2f} s; top: {share.iloc[0, 0]} "
          f"{share.iloc[0]['share']:.0%}")
    secs, _ = _time(performance_summary, big)
    print(f"performance_summary: {secs:.2f} s")
    print(f"load average now {os.getloadavg()[0]:.1f}")

    small = big[big["trace_id"] < f"{2_000:032x}"]
    ours, fast = _time(trace_summary, small)
    theirs, slow = _time(naive_summary, small)
    assert (fast["depth"].to_numpy() == slow["depth"].to_numpy()).all()
    print(f"summary of {len(small):,} spans: vectorised {ours:.2f} s, per-trace loop "
          f"{theirs:.2f} s, ratio {theirs / ours:.1f}x")

    wide = wide_trace(3_000)
    ours, fast = _time(critical_path, wide)
    theirs, total = _time(naive_critical_path, wide)
    assert abs(fast["duration_ms"].sum() - total) < 1e-6
    print(f"critical path, 1 trace x 3,000 children: {ours:.3f} s, naive walk {theirs:.2f} s, "
          f"ratio {theirs / ours:.0f}x")


if __name__ == "__main__":
    main()
