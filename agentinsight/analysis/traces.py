"""Trace structure: trees, critical paths and per-trace summaries over a spans frame.

Everything here takes a canonical spans frame (``agentinsight.frames``) holding any number of
traces. Parent links are resolved once, with vectorised pointer jumping, so depth, root and
inherited agent cost O(n log depth) for the whole frame; only the critical-path walk loops per
trace, and it visits each span at most once (a binary search per step, never a rescan).

The critical path is the chain of span sections that the root's end-to-end latency waited on.
Walking back from the root's end, each span hands over to the child that finished last before
the current point, recursively (the algorithm of Jaeger's critical-path view). Children are
first clipped to their parent's interval, so the sections tile the root span exactly and their
lengths add up to its duration. Time a span spent with no child running on the path is the span's
own ("self") time.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import TOKEN_COLUMNS

__all__ = [
    "AGENT_OPERATIONS",
    "LLM_OPERATIONS",
    "TOOL_OPERATIONS",
    "breakdown",
    "component_of",
    "critical_path",
    "critical_path_share",
    "queue_wait",
    "slowest_traces",
    "span_agents",
    "trace_summary",
    "trace_tree",
]

#: GenAI ``gen_ai.operation.name`` values that are a call to a model.
LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
#: ... that are one agent run.
AGENT_OPERATIONS = frozenset({"invoke_agent"})
#: ... that are one tool call.
TOOL_OPERATIONS = frozenset({"execute_tool"})
_NOT_LLM = AGENT_OPERATIONS | TOOL_OPERATIONS | {"create_agent", "invoke_workflow"}

_NEEDED = ("trace_id", "span_id", "parent_span_id", "name", "start", "end")
_MAX_JUMPS = 64  # pointer jumping halves the distance each round: 2**64 levels is never reached


# --- the forest: parent links resolved once ------------------------------------------------------


class _Forest:
    """Parent index, depth, root and clipped interval of every span of a spans frame."""

    def __init__(self, spans: pd.DataFrame) -> None:
        _require(spans, _NEEDED)
        frame = spans.drop_duplicates(["trace_id", "span_id"]).reset_index(drop=True)
        self.frame = frame
        self._cols: dict[str, np.ndarray] = {}
        n = len(frame)
        trace, span = self.col("trace_id"), self.col("span_id")
        parent_id = np.where(pd.isna(self.col("parent_span_id")), "", self.col("parent_span_id"))
        index = pd.MultiIndex.from_arrays([trace, span])
        parent = index.get_indexer(pd.MultiIndex.from_arrays([trace, parent_id])).astype(np.int64)
        parent[parent == np.arange(n)] = -1  # a span naming itself as parent is a root
        self.trace_code = pd.factorize(trace)[0]
        self.parent = parent
        self.start = _ns(frame["start"], "start")
        self.end = _ns(frame["end"], "end")
        if n and (self.end < self.start).any():
            bad = frame.loc[self.end < self.start, "trace_id"].iloc[0]
            raise SchemaError(f"spans frame: column 'end' is before 'start' (trace {bad})")
        self.depth = _ancestor_scan(parent, (parent >= 0).astype(np.int64), np.add, frame)
        self.root = _ancestor_scan(parent, np.arange(n), lambda _own, anc: anc, frame)
        # A child is clipped to its ancestors' intervals; one wholly outside them is off-tree.
        self.cstart = _ancestor_scan(parent, self.start, np.maximum, frame)
        self.cend = _ancestor_scan(parent, self.end, np.minimum, frame)
        self.on_tree = self.cstart <= self.cend

    def col(self, name: str) -> np.ndarray:
        """A column as an object array (missing values as None), converted once."""
        if name not in self._cols:
            values = self.frame[name].to_numpy(dtype=object, na_value=None)
            self._cols[name] = values
        return self._cols[name]

    def nearest(self, mask: np.ndarray) -> np.ndarray:
        """Index of the nearest ancestor-or-self where ``mask`` holds, -1 where there is none."""
        init = np.where(mask, np.arange(len(mask)), -1)
        return _ancestor_scan(self.parent, init, lambda own, anc: np.where(own >= 0, own, anc),
                              self.frame)

    def main_roots(self) -> np.ndarray:
        """One root per trace: the longest parentless span (earliest start on ties)."""
        roots = np.flatnonzero(self.parent < 0)
        if not len(roots):
            return roots
        trace = self.col("trace_id")[roots]
        order = np.lexsort((self.start[roots], -(self.end[roots] - self.start[roots]), trace))
        roots = roots[order]
        first = np.ones(len(roots), dtype=bool)
        first[1:] = trace[order][1:] != trace[order][:-1]
        return roots[first]


def _ancestor_scan(parent: np.ndarray, values: np.ndarray, combine: Callable,
                   frame: pd.DataFrame) -> np.ndarray:
    """Fold ``values`` along each span's ancestor chain by pointer jumping.

    ``combine(own, ancestor)`` must be associative; the result for span i is
    ``combine(v[i], combine(v[parent], combine(...v[root])))``.
    """
    up = parent.copy()
    acc = np.array(values, copy=True)
    for _ in range(_MAX_JUMPS):
        live = np.flatnonzero(up >= 0)
        if not len(live):
            return acc
        anc = up[live]
        acc[live] = combine(acc[live], acc[anc])
        up[live] = up[anc]
    cyclic = frame.loc[up >= 0, "trace_id"].unique()[:3]
    raise SchemaError(f"spans frame: column 'parent_span_id' forms a cycle in trace(s) "
                      f"{list(cyclic)}")


# --- public functions ----------------------------------------------------------------------------


def span_agents(spans: pd.DataFrame) -> pd.Series:
    """The agent of every span: its own ``agent``, else the nearest ancestor's.

    LLM and tool spans often carry no ``gen_ai.agent.name`` of their own; they belong to the
    agent run they were made in. The result is aligned with ``spans.index`` (``None`` where no
    span up the tree names an agent).

    >>> from agentinsight.frames import empty_spans_frame
    >>> span_agents(empty_spans_frame()).empty
    True
    """
    _require(spans, (*_NEEDED, "agent"))
    if spans.duplicated(["trace_id", "span_id"]).any():
        raise SchemaError("spans frame: column 'span_id' repeats within a trace; drop duplicates "
                          "first")
    forest = _Forest(spans)
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
        _require(spans, ("trace_id",))
        spans = spans[spans["trace_id"] == trace_id]
    forest = _Forest(spans)
    n = len(forest.frame)
    children = np.bincount(forest.parent[forest.parent >= 0], minlength=n)
    # Depth-first order = sort by the path of start times from the root; build it by a stack
    # walk over children grouped per parent (each span pushed once).
    order = np.lexsort((forest.start, forest.parent))
    kids_of: dict[int, list[int]] = {}
    for i in order[forest.parent[order] >= 0].tolist():
        kids_of.setdefault(int(forest.parent[i]), []).append(i)
    roots = np.flatnonzero(forest.parent < 0)
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
    out["children"] = children[seq]
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
        _require(spans, ("trace_id",))
        spans = spans[spans["trace_id"] == trace_id]
    return _critical_sections(_Forest(spans)).drop(columns=["_pos", "_root"])


def _critical_sections(forest: _Forest, roots: np.ndarray | None = None) -> pd.DataFrame:
    """Critical-path sections under each root (default: each trace's main root).

    Any span can serve as a root (e.g. each ``invoke_agent`` span, for per-run paths); the
    ``_root`` column says which walk a section belongs to.
    """
    n = len(forest.frame)
    # Children of every parent, contiguous and sorted by clipped end: one global sort.
    kids = np.flatnonzero((forest.parent >= 0) & forest.on_tree)
    kids = kids[np.lexsort((forest.cstart[kids], forest.cend[kids], forest.parent[kids]))]
    kid_parent = forest.parent[kids]
    lo = np.searchsorted(kid_parent, np.arange(n), side="left").tolist()
    hi = np.searchsorted(kid_parent, np.arange(n), side="right").tolist()
    kid_list = kids.tolist()
    kid_end = forest.cend[kids].tolist()
    cstart = forest.cstart.tolist()
    cend = forest.cend.tolist()

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
        _require(spans, (by,))
    forest = _Forest(spans)
    cp = _critical_sections(forest)
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
    _require(spans, (*_NEEDED, "status", "operation", "model", "tool", "agent", *TOKEN_COLUMNS))
    return _summary(_Forest(spans), per)


def _summary(forest: _Forest, per: str) -> pd.DataFrame:
    f = forest.frame
    n = len(f)
    op = pd.Series(forest.col("operation"), dtype=object)
    has_model = pd.notna(forest.col("model"))
    is_agent = op.isin(AGENT_OPERATIONS).to_numpy()
    is_tool = op.isin(TOOL_OPERATIONS).to_numpy() | pd.notna(forest.col("tool"))
    is_llm = op.isin(LLM_OPERATIONS).to_numpy() | (has_model & ~op.isin(_NOT_LLM).to_numpy())
    tokens = f[list(TOKEN_COLUMNS)].astype("float64")
    for col in TOKEN_COLUMNS:
        negative = tokens[col] < 0
        if negative.any():
            raise SchemaError(f"spans frame: column {col!r} has negative token counts "
                              f"(trace {f.loc[negative, 'trace_id'].iloc[0]})")
    carries = tokens.notna().any(axis=1).to_numpy()
    # Spans whose usage is also counted lower down the tree are not counted again.
    near = forest.nearest(carries)
    above = near[np.maximum(forest.parent, 0)]
    above[forest.parent < 0] = -1
    summed = np.zeros(n, dtype=bool)
    summed[above[carries & (above >= 0)]] = True
    counted = tokens.where(pd.Series(carries & ~summed, index=f.index), axis=0)

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


def breakdown(spans: pd.DataFrame, by: str = "tool") -> pd.DataFrame:
    """Per-tool (``by="tool"``) or per-model (``by="model"``) calls, errors, latency, time.

    Columns: the key, ``agents`` (distinct calling agents, inherited from the agent run),
    ``calls``, ``errors``, ``error_ratio``, ``p50_ms``, ``p95_ms``, ``total_ms`` and
    ``time_share`` (of all time spent in that kind of call); per model also ``input_tokens``
    and ``output_tokens``. Busiest first.

    >>> from agentinsight.frames import empty_spans_frame
    >>> breakdown(empty_spans_frame(), by="model").empty
    True
    """
    if by not in ("tool", "model"):
        raise ConfigurationError(f"breakdown: by must be 'tool' or 'model', got {by!r}")
    _require(spans, (by, "operation", "duration_ms", "status"))
    op = spans["operation"].astype(object)
    if by == "tool":
        mask = spans["tool"].notna() | op.isin(TOOL_OPERATIONS)
    else:
        mask = spans["model"].notna() & ~op.isin(AGENT_OPERATIONS | TOOL_OPERATIONS)
    frame = spans[mask]
    frame = frame.assign(agent=span_agents(spans)[mask] if "agent" in spans else None,
                         _err=frame["status"].eq("error"),
                         _key=frame[by].astype(object).fillna("(unnamed)"))
    g = frame.groupby("_key")
    out = pd.DataFrame({
        "agents": g["agent"].nunique(), "calls": g.size(), "errors": g["_err"].sum(),
        "p50_ms": g["duration_ms"].quantile(0.5), "p95_ms": g["duration_ms"].quantile(0.95),
        "total_ms": g["duration_ms"].sum(),
    })
    out["errors"] = out["errors"].astype("int64")
    out["error_ratio"] = out["errors"] / out["calls"]
    total = out["total_ms"].sum()
    out["time_share"] = out["total_ms"] / total if total > 0 else np.nan
    if by == "model":
        for col in ("input_tokens", "output_tokens"):
            out[col] = g[col].sum(min_count=1) if col in frame else np.nan
    cols = ["agents", "calls", "errors", "error_ratio", "p50_ms", "p95_ms", "total_ms",
            "time_share"] + (["input_tokens", "output_tokens"] if by == "model" else [])
    out = out[cols].rename_axis(by).reset_index()
    return out.sort_values(["calls", "total_ms"], ascending=False).reset_index(drop=True)


def queue_wait(spans: pd.DataFrame) -> pd.DataFrame:
    """Time messages waited in a queue: from a producer span's end to its consumer's start.

    A consumer span (``kind="consumer"``) whose parent is a producer span waited
    ``wait_ms``; the queue is the ``messaging.destination.name`` attribute, else the span name.
    Columns: ``queue``, ``messages``, ``mean_ms``, ``p50_ms``, ``p95_ms``, ``max_ms``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> queue_wait(empty_spans_frame()).empty
    True
    """
    _require(spans, ("kind", "attributes"))
    forest = _Forest(spans)
    f = forest.frame
    kind = forest.col("kind")
    parent = forest.parent
    mask = (kind == "consumer") & (parent >= 0)
    mask[mask] = kind[parent[mask]] == "producer"
    idx = np.flatnonzero(mask)
    wait = np.maximum(forest.start[idx] - forest.end[parent[idx]], 0) / 1e6
    attrs = f["attributes"].to_numpy()[idx]
    names = forest.col("name")[idx]
    queue = [(a or {}).get("messaging.destination.name") if isinstance(a, dict) else None
             for a in attrs]
    work = pd.DataFrame({"queue": [q or n for q, n in zip(queue, names, strict=True)],
                         "wait_ms": wait})
    g = work.groupby("queue")["wait_ms"]
    out = pd.DataFrame({"messages": g.size(), "mean_ms": g.mean(), "p50_ms": g.quantile(0.5),
                        "p95_ms": g.quantile(0.95), "max_ms": g.max()})
    return out.reset_index().sort_values("p95_ms", ascending=False).reset_index(drop=True)


def slowest_traces(spans: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The n longest traces, with what their critical path waited on most.

    Columns of ``trace_summary`` plus ``critical_component`` and ``critical_ms``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> slowest_traces(empty_spans_frame()).empty
    True
    """
    summary = trace_summary(spans)
    top = summary.nlargest(n, "duration_ms").reset_index(drop=True)
    if top.empty:
        return top.assign(critical_component=pd.Series(dtype=object),
                          critical_ms=pd.Series(dtype="float64"))
    sections = _critical_sections(_Forest(spans[spans["trace_id"].isin(top["trace_id"])]))
    per = sections.groupby(["trace_id", "component"])["duration_ms"].sum().reset_index()
    per = per.sort_values("duration_ms", ascending=False).drop_duplicates("trace_id")
    per = per.rename(columns={"component": "critical_component", "duration_ms": "critical_ms"})
    return top.merge(per, on="trace_id", how="left")


# --- helpers -------------------------------------------------------------------------------------


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

    return pd.Series(_components(*(column(c) for c in ("name", "operation", "agent", "model",
                                                        "tool"))),
                     index=frame.index, name="component", dtype=object)


def _components(name: np.ndarray, op: np.ndarray, agent: np.ndarray, model: np.ndarray,
                tool: np.ndarray) -> np.ndarray:
    ops = pd.Series(op, dtype=object)
    is_tool = _filled(tool)
    is_model = _filled(model) & ~ops.isin(_NOT_LLM).to_numpy()
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


def _section_frame(forest: _Forest, pos: np.ndarray, start: np.ndarray,
                   end: np.ndarray) -> pd.DataFrame:
    cols = {c: (forest.col(c)[pos] if c in forest.frame.columns
                else np.full(len(pos), None, dtype=object))
            for c in ("trace_id", "span_id", "name", "operation", "agent", "model", "tool")}
    component = _components(cols["name"], cols["operation"], cols["agent"], cols["model"],
                            cols["tool"])
    return pd.DataFrame({
        "trace_id": pd.Series(cols["trace_id"], dtype=object),
        "span_id": pd.Series(cols["span_id"], dtype=object),
        "name": pd.Series(cols["name"], dtype=object),
        "component": pd.Series(component, dtype=object),
        "start": _utc(start),
        "end": _utc(end),
        "duration_ms": (end - start) / 1e6,
        "_pos": pos,
    })


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]"), tz="UTC")


def _ns(col: pd.Series, name: str) -> np.ndarray:
    try:
        stamp = pd.to_datetime(col, utc=True)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"spans frame: column {name!r} is not a time: {exc}") from None
    if stamp.isna().any():
        raise SchemaError(f"spans frame: column {name!r} has missing times")
    return pd.DatetimeIndex(stamp).as_unit("ns").asi8.copy()


def _require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"spans frame: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise SchemaError(f"spans frame: missing column(s) {missing}")
