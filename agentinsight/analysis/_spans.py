"""Computations over a span forest that ``traces`` and ``performance`` share.

The critical-path walk, per-trace and per-agent-run summaries, and the component label of a
span (``"tool: x"``, ``"model: y"``, ``"agent: z"`` or its name). The public functions built on
them are in :mod:`agentinsight.analysis.traces` and :mod:`agentinsight.analysis.performance`.

The critical path is the chain of span sections that the root's end-to-end latency waited on.
Walking back from the root's end, each span hands over to the child that finished last before
the current point, recursively (the algorithm of Jaeger's critical-path view). Children are
first clipped to their parent's interval, so the sections tile the root span exactly and their
lengths add up to its duration. Time a span spent with no child running on the path is the span's
own ("self") time. The walk loops per root but visits each span at most once (a binary search per
step, never a rescan).
"""

from __future__ import annotations

import bisect

import numpy as np
import pandas as pd

from agentinsight.analysis._spantree import SpanForest, require
from agentinsight.analysis._usage import detail_of, find_usage
from agentinsight.exceptions import SchemaError
from agentinsight.frames import TOKEN_COLUMNS, utc_from_ns
from agentinsight.semconv import (
    AGENT_OPERATIONS,
    LLM_OPERATIONS,
    NON_LLM_OPERATIONS,
    TOOL_OPERATIONS,
)

__all__ = ["NEEDED", "components", "critical_sections", "summary", "trace_forest"]

#: The columns every walk over a spans frame needs.
NEEDED = ("trace_id", "span_id", "parent_span_id", "name", "start", "end")


def trace_forest(spans: pd.DataFrame) -> SpanForest:
    """The forest of a spans frame for trace analysis: duplicates dropped, times checked, and a
    parent cycle reported as an error."""
    require(spans, NEEDED)
    frame = spans.drop_duplicates(["trace_id", "span_id"]).reset_index(drop=True)
    forest = SpanForest(frame)
    forest.clipped  # noqa: B018 - reads and checks the times now, before any work
    return forest


def critical_sections(forest: SpanForest, roots: np.ndarray | None = None) -> pd.DataFrame:
    """Critical-path sections under each root (default: each trace's main root).

    Any span can serve as a root (e.g. each ``invoke_agent`` span, for per-run paths); the
    ``_root`` column says which walk a section belongs to.
    """
    n = len(forest)
    clip_start, clip_end = forest.clipped
    # Children of every parent, contiguous and sorted by clipped end: one global sort.
    kids = np.flatnonzero((forest.parent >= 0) & forest.on_tree)
    kids = kids[np.lexsort((clip_start[kids], clip_end[kids], forest.parent[kids]))]
    kid_parent = forest.parent[kids]
    lo = np.searchsorted(kid_parent, np.arange(n), side="left").tolist()
    hi = np.searchsorted(kid_parent, np.arange(n), side="right").tolist()
    kid_list = kids.tolist()
    kid_end = clip_end[kids].tolist()
    cstart = clip_start.tolist()
    cend = clip_end.tolist()

    rows: list[int] = []
    sec_start: list[int] = []
    sec_end: list[int] = []
    walk: list[int] = []
    for root in (forest.main_roots() if roots is None else roots).tolist():
        first = len(rows)
        trail: list[tuple[int, int]] = []  # (parent, index bound) to return to
        cur, t, bound = root, cend[root], hi[root]
        while True:
            k = bisect.bisect_right(kid_end, t, lo[cur], bound) - 1
            if k >= lo[cur]:
                child = kid_list[k]
                if kid_end[k] < t:
                    rows.append(cur)
                    sec_start.append(kid_end[k])
                    sec_end.append(t)
                trail.append((cur, k))
                cur, t, bound = child, cend[child], hi[child]
                continue
            if cstart[cur] < t:
                rows.append(cur)
                sec_start.append(cstart[cur])
                sec_end.append(t)
            if not trail:
                break
            t = cstart[cur]
            cur, bound = trail.pop()
        walk.extend([root] * (len(rows) - first))
    # The walk emits sections end-first per trace; reverse into time order, then merge the
    # neighbouring sections of one span that a zero-length child split in two.
    walk_root = np.asarray(walk, dtype=np.int64)
    order = np.lexsort((np.asarray(sec_start, dtype=np.int64), walk_root))
    pos = np.asarray(rows, dtype=np.int64)[order]
    walk_root = walk_root[order]
    s_ns = np.asarray(sec_start, dtype=np.int64)[order]
    e_ns = np.asarray(sec_end, dtype=np.int64)[order]
    keep = np.ones(len(pos), dtype=bool)
    keep[1:] = ((pos[1:] != pos[:-1]) | (s_ns[1:] != e_ns[:-1])
                | (walk_root[1:] != walk_root[:-1]))
    merged_end = np.zeros(int(keep.sum()), dtype=np.int64)
    np.maximum.at(merged_end, np.cumsum(keep) - 1, e_ns)
    out = _section_frame(forest, pos[keep], s_ns[keep], merged_end)
    out["_root"] = walk_root[keep]
    return out.sort_values(["trace_id", "_root", "start"], kind="stable").reset_index(drop=True)


def _calls_once(forest: SpanForest, is_call: np.ndarray) -> np.ndarray:
    """``is_call`` without the inner span of a model call nested alone in another model call
    (one call seen by two instrumentations, whether or not both recorded its usage)."""
    parent = forest.parent
    near = forest.nearest(is_call)
    above = np.where(parent >= 0, near[np.maximum(parent, 0)], -1)
    inner = np.flatnonzero(is_call & (above >= 0))
    if len(inner):
        alone = np.bincount(above[inner], minlength=len(is_call))[above[inner]] == 1
        is_call = is_call.copy()
        is_call[inner[alone]] = False
    return is_call


def summary(forest: SpanForest, per: str) -> pd.DataFrame:
    """One row per trace (``per="trace"``) or per agent run (``"agent_run"``): see
    ``traces.trace_summary``, which checks the columns this needs."""
    f = forest.frame
    op = pd.Series(forest.col("operation"), dtype=object)
    has_model = pd.notna(forest.col("model"))
    is_agent = op.isin(AGENT_OPERATIONS).to_numpy()
    is_tool = op.isin(TOOL_OPERATIONS).to_numpy() | pd.notna(forest.col("tool"))
    is_llm = (op.isin(LLM_OPERATIONS).to_numpy()
              | (has_model & ~op.isin(NON_LLM_OPERATIONS).to_numpy()))
    tokens = f[list(TOKEN_COLUMNS)].astype("float64")
    for col in TOKEN_COLUMNS:
        negative = tokens[col] < 0
        if negative.any():
            raise SchemaError(f"spans frame: column {col!r} has negative token counts "
                              f"(trace {f.loc[negative, 'trace_id'].iloc[0]})")
    carries = tokens.notna().any(axis=1).to_numpy()
    # Tokens and calls are counted as the bill counts them: a call seen by two instrumentations
    # (the same response id, or one model-call span inside another) once, and usage repeated
    # higher up the tree (an agent span holding its calls' sum) not again.
    usage = find_usage(f, forest, carries,
                       detail_of({c: tokens[c].to_numpy() for c in TOKEN_COLUMNS}))
    counted = tokens.where(pd.Series(usage.billable, index=f.index), axis=0)
    is_llm = _calls_once(forest, is_llm & (usage.duplicate_of < 0))

    if per == "trace":
        group = forest.trace_code
        heads = forest.main_roots()
        depth = forest.depth
    else:
        owner = forest.nearest(is_agent)
        keep = owner >= 0
        group = np.where(keep, owner, -1)
        heads = np.flatnonzero(is_agent)
        depth = forest.depth - forest.depth[np.maximum(owner, 0)]
    work = pd.DataFrame({
        "_g": group, "start": forest.start, "end": forest.end,
        "llm_calls": is_llm, "tool_calls": is_tool,
        "agent_runs": is_agent, "errors": (f["status"] == "error").to_numpy(),
        "depth": depth + 1, "model": _codes(forest.col("model")),
        "agent": _codes(forest.col("agent")),
    })
    for col in TOKEN_COLUMNS:
        work[col] = counted[col].to_numpy()
    if per == "agent_run":
        work = work[group >= 0]
        work["agent_runs"] = work["agent_runs"] & (work.index.to_numpy() != work["_g"].to_numpy())
    work = work.sort_values("start", kind="stable")
    g = work.groupby("_g", sort=False)
    out = pd.DataFrame({
        "start": g["start"].min(), "end": g["end"].max(), "spans": g.size(),
        "llm_calls": g["llm_calls"].sum(), "tool_calls": g["tool_calls"].sum(),
        "agent_runs": g["agent_runs"].sum(), "errors": g["errors"].sum(),
        "depth": g["depth"].max(), "models": g["model"].nunique(),
        "agent": g["agent"].first(),
        **{col: g[col].sum(min_count=1) for col in TOKEN_COLUMNS},
    })
    head = pd.DataFrame({
        "_g": group[heads] if per == "trace" else heads,
        "trace_id": forest.col("trace_id")[heads],
        "span_id": forest.col("span_id")[heads],
        "name": forest.col("name")[heads],
        "status": np.where(f["status"].to_numpy()[heads] == "error", "error", "ok"),
        "head_agent": forest.col("agent")[heads],
    }).set_index("_g")
    out = head.join(out, how="inner")
    agents = pd.unique(pd.Series(forest.col("agent"), dtype=object).dropna())
    inherited = np.where(out["agent"].notna(), agents[np.nan_to_num(out["agent"]).astype(int)]
                         if len(agents) else None, None)
    out["agent"] = np.where(pd.notna(out["head_agent"]), out["head_agent"], inherited)
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    out["duration_ms"] = (out["end"] - out["start"]).dt.total_seconds() * 1e3
    cols = ["trace_id", "span_id", "name", "agent", "start", "end", "duration_ms", "status",
            "spans", "llm_calls", "tool_calls", "agent_runs", "errors", "depth", "models",
            *TOKEN_COLUMNS]
    if per == "trace":
        cols.remove("span_id")
    out = out[cols].reset_index(drop=True)
    for col in ("spans", "llm_calls", "tool_calls", "agent_runs", "errors", "depth", "models"):
        out[col] = out[col].astype("int64")
    return out.sort_values(["start", "trace_id"], kind="stable").reset_index(drop=True)


def components(name: np.ndarray, op: np.ndarray, agent: np.ndarray, model: np.ndarray,
               tool: np.ndarray) -> np.ndarray:
    """The component label of each span from its name, operation, agent, model and tool."""
    ops = pd.Series(op, dtype=object)
    is_tool = _filled(tool)
    is_model = _filled(model) & ~ops.isin(NON_LLM_OPERATIONS).to_numpy()
    is_agent = _filled(agent) & ops.isin(AGENT_OPERATIONS).to_numpy()
    kind = np.select([is_tool, is_model, is_agent], [3, 2, 1], 0)
    value = np.where(kind == 3, tool, np.where(kind == 2, model,
                                               np.where(kind == 1, agent, name)))
    # Few distinct components: build each label once, then take.
    code, uniques = pd.factorize(value)
    combo, inverse = np.unique(kind * (len(uniques) + 1) + code + 1, return_inverse=True)
    prefix = ("", "agent: ", "model: ", "tool: ")
    labels = np.array([prefix[c // (len(uniques) + 1)]
                       + (str(uniques[c % (len(uniques) + 1) - 1])
                          if c % (len(uniques) + 1) else "")
                       for c in combo.tolist()], dtype=object)
    return labels[inverse.ravel()] if len(labels) else np.zeros(0, dtype=object)


def _filled(values: np.ndarray) -> np.ndarray:
    present = pd.notna(values)
    present[present] = values[present] != ""
    return present


def _codes(values: np.ndarray) -> np.ndarray:
    """Integer codes of an object column as float (NaN for missing), for fast groupby."""
    codes = pd.factorize(values)[0].astype("float64")  # codes in order of first appearance
    codes[codes < 0] = np.nan
    return codes


def _section_frame(forest: SpanForest, pos: np.ndarray, start: np.ndarray,
                   end: np.ndarray) -> pd.DataFrame:
    cols = {c: (forest.col(c)[pos] if c in forest.frame.columns
                else np.full(len(pos), None, dtype=object))
            for c in ("trace_id", "span_id", "name", "operation", "agent", "model", "tool")}
    component = components(cols["name"], cols["operation"], cols["agent"], cols["model"],
                           cols["tool"])
    return pd.DataFrame({
        "trace_id": pd.Series(cols["trace_id"], dtype=object),
        "span_id": pd.Series(cols["span_id"], dtype=object),
        "name": pd.Series(cols["name"], dtype=object),
        "component": pd.Series(component, dtype=object),
        "start": utc_from_ns(start),
        "end": utc_from_ns(end),
        "duration_ms": (end - start) / 1e6,
        "_pos": pos,
    })


