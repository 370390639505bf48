"""Trace structure: trees, critical paths and per-trace summaries over a spans frame.

Everything here takes a canonical spans frame (``agentinsight.frames``) holding any number of
traces. Parent links are resolved once per call into a span forest
(``agentinsight.analysis._spantree``), so depth, root and inherited agent cost O(n log depth)
for the whole frame; only the critical-path walk loops per trace, and it visits each span at most
once (a binary search per step, never a rescan).

The critical path is the chain of span sections that the root's end-to-end latency waited on.
Walking back from the root's end, each span hands over to the child that finished last before
the current point, recursively (the algorithm of Jaeger's critical-path view). Children are
first clipped to their parent's interval, so the sections tile the root span exactly and their
lengths add up to its duration. Time a span spent with no child running on the path is the span's
own ("self") time.

Tables over many traces (per-tool breakdown, queue waits, the slowest traces) are in
:mod:`agentinsight.analysis.performance`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from agentinsight.analysis._spans import (
    NEEDED,
    components,
    critical_sections,
    summary,
    trace_forest,
)
from agentinsight.analysis._spantree import require
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import TOKEN_COLUMNS

__all__ = [
    "component_of",
    "critical_path",
    "critical_path_share",
    "span_agents",
    "trace_summary",
    "trace_tree",
]


def span_agents(spans: pd.DataFrame) -> pd.Series:
    """The agent of every span: its own ``agent``, else the nearest ancestor's.

    LLM and tool spans often carry no ``gen_ai.agent.name`` of their own; they belong to the
    agent run they were made in. The result is aligned with ``spans.index`` (``None`` where no
    span up the tree names an agent).

    >>> from agentinsight.frames import empty_spans_frame
    >>> span_agents(empty_spans_frame()).empty
    True
    """
    require(spans, (*NEEDED, "agent"))
    if spans.duplicated(["trace_id", "span_id"]).any():
        raise SchemaError("spans frame: column 'span_id' repeats within a trace; drop duplicates "
                          "first")
    forest = trace_forest(spans)
    agent = forest.col("agent")
    owner = forest.nearest(pd.notna(agent))
    out = np.where(owner >= 0, agent[np.maximum(owner, 0)], None)
    return pd.Series(out, index=spans.index, name="agent", dtype=object)


def trace_tree(spans: pd.DataFrame, trace_id: str | None = None) -> pd.DataFrame:
    """The spans of one trace (or all) in depth-first order, children by start time.

    Adds ``depth`` (0 for roots), ``children`` (number of direct children) and ``on_tree``
    (False for a child lying wholly outside its parent's interval). Orphans, whose parent is not
    in the frame, are shown as extra roots.

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(trace_tree(empty_spans_frame()).columns[-3:])
    ['depth', 'children', 'on_tree']
    """
    if trace_id is not None:
        require(spans, ("trace_id",))
        spans = spans[spans["trace_id"] == trace_id]
    forest = trace_forest(spans)
    # Depth-first order = sort by the path of start times from the root; build it by a stack
    # walk over children grouped per parent (each span pushed once).
    order = np.lexsort((forest.start, forest.parent))
    kids_of: dict[int, list[int]] = {}
    for i in order[forest.parent[order] >= 0].tolist():
        kids_of.setdefault(int(forest.parent[i]), []).append(i)
    roots = forest.roots
    trace = forest.col("trace_id")
    roots = roots[np.lexsort((forest.start[roots], trace[roots]))].tolist()
    seq: list[int] = []
    stack = roots[::-1]
    while stack:
        i = stack.pop()
        seq.append(i)
        stack.extend(reversed(kids_of.get(i, ())))
    out = forest.frame.iloc[seq].copy()
    out["depth"] = forest.depth[seq]
    out["children"] = forest.children[seq]
    out["on_tree"] = forest.on_tree[seq]
    return out.reset_index(drop=True)


def critical_path(spans: pd.DataFrame, trace_id: str | None = None) -> pd.DataFrame:
    """The critical path of one trace (or of every trace) as time-ordered sections.

    One row per section: ``trace_id``, ``span_id``, ``name``, ``component`` (``"tool: x"``,
    ``"model: y"``, ``"agent: z"`` or the span name), ``start``, ``end`` and ``duration_ms`` of
    the section. A span may appear in several sections (before and after its children). Per
    trace the sections tile the root span: their ``duration_ms`` sum to its duration. The root is
    the longest parentless span of the trace.

    >>> import pandas as pd
    >>> t = pd.Timestamp("2026-01-01", tz="UTC")
    >>> ms = lambda x: t + pd.Timedelta(milliseconds=x)
    >>> spans = pd.DataFrame({"trace_id": ["t"] * 3, "span_id": ["r", "a", "b"],
    ...     "parent_span_id": ["", "r", "r"], "name": ["run", "fast", "slow"],
    ...     "start": [ms(0), ms(10), ms(10)], "end": [ms(100), ms(40), ms(90)]})
    >>> cp = critical_path(spans)
    >>> cp["span_id"].tolist(), cp["duration_ms"].tolist()
    (['r', 'b', 'r'], [10.0, 80.0, 10.0])
    """
    if trace_id is not None:
        require(spans, ("trace_id",))
        spans = spans[spans["trace_id"] == trace_id]
    return critical_sections(trace_forest(spans)).drop(columns=["_pos", "_root"])


def critical_path_share(spans: pd.DataFrame, by: str = "component") -> pd.DataFrame:
    """Which tool, model or operation dominates end-to-end latency, over many traces.

    Sums critical-path time per value of ``by`` (``"component"``, or any span column such as
    ``"tool"``, ``"model"``, ``"operation"``, ``"name"``; spans without a value count as
    ``"(other)"``). Columns: ``by``, ``critical_ms``, ``share`` (of all critical-path time),
    ``traces`` (traces where it is on the path) and ``ms_per_trace`` (mean over those traces),
    largest share first.

    >>> from agentinsight.frames import empty_spans_frame
    >>> critical_path_share(empty_spans_frame()).empty
    True
    """
    if by != "component":
        require(spans, (by,))
    forest = trace_forest(spans)
    cp = critical_sections(forest)
    if by != "component":
        cp[by] = forest.col(by)[cp["_pos"].to_numpy()]
    key = cp[by].astype(object)
    grouped = cp.assign(_key=key.where(key.notna(), "(other)")).groupby("_key", sort=False)
    out = pd.DataFrame({
        "critical_ms": grouped["duration_ms"].sum(),
        "traces": grouped["trace_id"].nunique(),
    })
    total = out["critical_ms"].sum()
    out["share"] = out["critical_ms"] / total if total > 0 else np.nan
    out["ms_per_trace"] = out["critical_ms"] / out["traces"]
    out = out.rename_axis(by).reset_index()
    out = out[[by, "critical_ms", "share", "traces", "ms_per_trace"]]
    return out.sort_values("critical_ms", ascending=False, kind="stable").reset_index(drop=True)


def trace_summary(spans: pd.DataFrame, per: str = "trace") -> pd.DataFrame:
    """One row per trace (``per="trace"``) or per agent run (``per="agent_run"``).

    Columns: ``trace_id`` (and ``span_id`` of the ``invoke_agent`` span for agent runs),
    ``name`` and ``agent`` of the root (the agent is inherited from the first span naming one),
    ``start``, ``end``, ``duration_ms``, ``status`` (``error`` if the root failed), ``spans``,
    ``llm_calls``, ``tool_calls``, ``agent_runs``, ``errors`` (spans with status error),
    ``depth`` (levels of the tree), ``models`` (distinct models called) and the token columns.

    Tokens are counted once: only from spans that carry usage and have no descendant carrying
    usage, so an ``invoke_agent`` span holding the sum of its children adds nothing. An agent
    run covers the spans beneath it down to (not into) nested agent runs.

    >>> from agentinsight.frames import empty_spans_frame
    >>> trace_summary(empty_spans_frame()).empty
    True
    """
    if per not in ("trace", "agent_run"):
        raise ConfigurationError(f"trace_summary: per must be 'trace' or 'agent_run', got {per!r}")
    require(spans, (*NEEDED, "status", "operation", "model", "tool", "agent", *TOKEN_COLUMNS))
    return summary(trace_forest(spans), per)


def component_of(frame: pd.DataFrame) -> pd.Series:
    """What each span stands for: ``"tool: x"``, ``"model: y"``, ``"agent: z"`` or its name.

    >>> import pandas as pd
    >>> component_of(pd.DataFrame({"name": ["chat gpt-4o", "db"], "model": ["gpt-4o", None],
    ...     "operation": ["chat", None]})).tolist()
    ['model: gpt-4o', 'db']
    """
    def column(name: str) -> np.ndarray:
        if name not in frame.columns:
            return np.full(len(frame), None, dtype=object)
        return frame[name].to_numpy(dtype=object, na_value=None)

    return pd.Series(components(*(column(c) for c in ("name", "operation", "agent", "model",
                                                       "tool"))),
                     index=frame.index, name="component", dtype=object)
