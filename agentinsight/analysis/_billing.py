"""Which spans are billed, and pricing whole frames: spans and token counters.

The counting rules are documented in ``agentinsight.analysis.cost``; the price arithmetic in
``agentinsight.analysis._prices``. This module walks the span tree (vectorised: parent rows are
found by integer codes, ancestors marked level by level) and turns frames into usage rows.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from agentinsight.analysis._prices import normalise_price_table, price_usage
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import TOKEN_COLUMNS, validate_spans_frame

__all__ = [
    "BATCH_ATTRIBUTES",
    "COST_COLUMNS",
    "SERVICE_TIER_ATTRIBUTES",
    "TASK_TYPE_ATTRIBUTES",
    "UNKNOWN",
    "attribute",
    "codes_of",
    "example_spans",
    "fill_from_ancestors",
    "parent_rows",
    "price_spans",
    "price_token_usage",
    "traces_frame",
]

BATCH_ATTRIBUTES = ("gen_ai.request.batch", "gen_ai.batch")
TASK_TYPE_ATTRIBUTES = ("agentinsight.task.type", "agentinsight.task_type", "task_type",
                        "task.type", "gen_ai.task.type")
UNKNOWN = "(unknown)"
SERVICE_TIER_ATTRIBUTES = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "gen_ai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
    "gen_ai.request.service_tier",
)

Errors = Literal["raise", "unprice"]
COST_COLUMNS = ("input_cost_usd", "output_cost_usd", "cost_usd", "cache_savings_usd",
                 "cache_write_premium_usd")
_TOKEN_TYPES = {"input": "input", "output": "output", "cache_read": "cache_read",
                "cache_write": "cache_write", "reasoning": "reasoning",
                "cache_creation": "cache_write"}


# --- the span tree -------------------------------------------------------------------------------


def codes_of(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's values (-1 for missing); faster on object arrays."""
    return pd.factorize(values.to_numpy(dtype=object))[0].astype("int64")


def parent_rows(frame: pd.DataFrame) -> np.ndarray:
    """Row position of each span's parent within the frame (-1 for roots and orphans)."""
    n = len(frame)
    trace_codes = codes_of(frame["trace_id"])
    ids = codes_of(pd.concat([frame["span_id"], frame["parent_span_id"]], ignore_index=True))
    own = (trace_codes << 32) | ids[:n]
    parent = (trace_codes << 32) | ids[n:]
    uniq, first = np.unique(own, return_index=True)
    pos = np.clip(np.searchsorted(uniq, parent), 0, max(len(uniq) - 1, 0))
    found = (uniq[pos] == parent) if len(uniq) else np.zeros(n, dtype=bool)
    out = np.where(found, first[pos], -1)
    out[out == np.arange(n)] = -1
    return out


def _mark_ancestors(parent: np.ndarray, start: np.ndarray) -> np.ndarray:
    """True for every row that is a proper ancestor of a row in ``start`` (a boolean mask)."""
    marked = np.zeros(len(parent), dtype=bool)
    frontier = np.unique(parent[start])
    frontier = frontier[frontier >= 0]
    for _ in range(len(parent)):
        frontier = frontier[~marked[frontier]]
        if not len(frontier):
            break
        marked[frontier] = True
        frontier = np.unique(parent[frontier])
        frontier = frontier[frontier >= 0]
    return marked


def fill_from_ancestors(values: np.ndarray, parent: np.ndarray) -> np.ndarray:
    """Each missing value replaced by the nearest ancestor's value."""
    values = values.copy()
    missing = np.flatnonzero(pd.isna(values))
    cursor = parent[missing]
    for _ in range(len(parent)):
        live = cursor >= 0
        missing, cursor = missing[live], cursor[live]
        if not len(missing):
            break
        values[missing] = values[cursor]
        still = pd.isna(values[missing])
        missing, cursor = missing[still], parent[cursor[still]]
    return values


def attribute(attributes: Any, keys: Iterable[str]) -> Any:
    if not isinstance(attributes, dict) or not attributes:
        return None
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _context(attributes: Any) -> str:
    if not isinstance(attributes, dict) or not attributes:
        return ""
    batch = attribute(attributes, BATCH_ATTRIBUTES)
    tier = attribute(attributes, SERVICE_TIER_ATTRIBUTES)
    tier = None if tier is None or str(tier).lower() in {"auto", ""} else str(tier).lower()
    parts = []
    if (batch is True or str(batch).lower() in {"true", "1", "yes"}) or tier == "batch":
        parts.append("processing=batch")
    if tier not in {None, "batch"}:
        parts.append(f"service_tier={tier}")
    return ",".join(parts)


# --- pricing -------------------------------------------------------------------------------------


def _bad_tokens(
    values: dict[str, np.ndarray], rows: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    problems = [(f"column {c!r} has negative values", values[c] < 0) for c in TOKEN_COLUMNS]
    parts = values["cache_read_tokens"] + values["cache_write_tokens"]
    problems.append(("'cache_read_tokens' + 'cache_write_tokens' exceed 'input_tokens' (the "
                     "GenAI convention counts cache tokens inside input_tokens)",
                     parts > values["input_tokens"]))
    problems.append(("'reasoning_tokens' exceed 'output_tokens' (reasoning is part of output)",
                     values["reasoning_tokens"] > values["output_tokens"]))
    return [(text, mask) for text, mask in problems if mask.any()]


def _check_errors(errors: str) -> None:
    if errors not in ("raise", "unprice"):
        raise ConfigurationError(f"errors: expected 'raise' or 'unprice', got {errors!r}")


def _categorical(values: np.ndarray) -> pd.Categorical:
    """Few distinct strings over many rows, as a categorical (``None`` stays missing)."""
    codes, uniques = pd.factorize(values)
    return pd.Categorical.from_codes(codes, categories=pd.Index(uniques, dtype=object))


def _reasons(priced: np.ndarray, reason: np.ndarray) -> np.ndarray:
    """The unpriced reason per row, ``None`` where the row was priced."""
    out = reason.astype(object)
    out[priced] = None
    return out


def price_spans(
    spans: pd.DataFrame, *, prices: Any = None, errors: Errors = "raise"
) -> pd.DataFrame:
    """The spans frame with each billable call priced at its own timestamp.

    Adds ``billable`` (the span's tokens are counted: see the module docstring), ``priced``,
    ``cost_usd`` (NaN where unpriced or not billable), ``input_cost_usd``, ``output_cost_usd``,
    ``cache_savings_usd`` (what cache reads saved against the full input price),
    ``cache_write_premium_usd`` (what cache writes cost above it), ``price_source`` (e.g.
    ``"genai-prices 0.2.3: openai/gpt-4o"``, ``"user table: acme/llm-1"``) and
    ``unpriced_reason`` (the last two categorical).

    >>> priced = price_spans(example_spans())
    >>> priced.loc[priced["billable"], ["span_id", "cost_usd"]].round(5).to_dict("list")
    {'span_id': ['b1', 'b2'], 'cost_usd': [0.0006, 0.01125]}
    """
    _check_errors(errors)
    validate_spans_frame(spans)
    normalise_price_table(prices)  # bad tables fail here, before any work
    out = spans.copy()
    n = len(out)
    tok = {c: out[c].to_numpy(dtype="float64") for c in TOKEN_COLUMNS}
    carries = np.zeros(n, dtype=bool)
    for values in tok.values():
        carries |= ~np.isnan(values)
    parent = parent_rows(out) if n else np.zeros(0, dtype="int64")
    billable = carries & ~_mark_ancestors(parent, carries)
    rows = np.flatnonzero(billable)
    vals = {c: np.nan_to_num(tok[c][rows], nan=0.0) for c in TOKEN_COLUMNS}
    reason = np.full(len(rows), "", dtype=object)
    reason[np.isnan(tok["input_tokens"][rows])] = "missing input_tokens"
    reason[out["start"].iloc[rows].isna().to_numpy()] = "missing start time"
    for text, mask in _bad_tokens(vals, rows):
        if errors == "raise":
            first = rows[np.flatnonzero(mask)[0]]
            raise SchemaError(
                f"spans frame: {text} in {int(mask.sum())} billable span(s), e.g. span "
                f"{out['span_id'].iloc[first]!r} of trace {out['trace_id'].iloc[first]!r}; "
                "pass errors='unprice' to report them as unpriced usage instead"
            )
        reason[mask & (reason == "")] = f"bad token counts: {text}"
    unusable = reason != ""
    if unusable.any():
        warnings.warn(f"price_spans: {int(unusable.sum())} billable span(s) left unpriced: "
                      + "; ".join(sorted(set(reason[unusable]))), UserWarning, stacklevel=2)
    ok = ~unusable
    attrs = out["attributes"].iloc[rows[ok]].to_numpy(dtype=object)
    result = price_usage(
        out["provider"].iloc[rows[ok]].to_numpy(dtype=object),
        out["model"].iloc[rows[ok]].to_numpy(dtype=object),
        out["start"].to_numpy(dtype="datetime64[ns]").astype("int64")[rows[ok]],
        np.array([_context(a) if a else "" for a in attrs], dtype=object),
        {k: vals[f"{k}_tokens"][ok] for k in ("input", "output", "cache_read", "cache_write",
                                                "reasoning")},
        prices=prices,
    )
    columns = {c: np.full(n, np.nan) for c in COST_COLUMNS}
    priced = np.zeros(n, dtype=bool)
    source = np.full(n, None, dtype=object)
    why = np.full(n, None, dtype=object)
    target = rows[ok]
    for name, values in zip(
        COST_COLUMNS,
        (result.input_cost, result.output_cost, result.cost, result.cache_savings,
         result.cache_write_premium),
        strict=True,
    ):
        columns[name][target] = values
    priced[target] = result.priced
    source[target] = result.source
    why[rows] = reason
    why[target] = _reasons(result.priced, result.reason)
    out["billable"] = billable
    out["priced"] = priced
    for name, values in columns.items():
        out[name] = values
    # few distinct values over many rows: categorical, like the metrics frame's labels
    out["price_source"] = _categorical(source)
    out["unpriced_reason"] = _categorical(why)
    return out


def price_token_usage(
    metrics: pd.DataFrame, *, prices: Any = None, errors: Errors = "raise"
) -> pd.DataFrame:
    """Price token counters: one row per (timestamp, labels) with token columns and costs.

    ``metrics`` is a metrics frame with a ``token_type`` label (input, output, cache_read,
    cache_write, reasoning) and a ``model`` label; values are tokens per step. Counters carry
    no per-call detail, so standard prices at base tier are used and ``calls`` is unknown; a
    step where cache or reasoning counts exceed their whole (scrape skew) is clipped to it.
    A negative count raises :class:`SchemaError`; ``errors="unprice"`` drops it with a warning.

    >>> from agentinsight.frames import metrics_frame
    >>> m = metrics_frame([0.0, 0.0], "llm_tokens_used_total", [1e6, 1e5],
    ...                   {"model": ["gpt-4o"] * 2, "provider": ["openai"] * 2,
    ...                    "token_type": ["input", "output"]})
    >>> float(price_token_usage(m)["cost_usd"].iloc[0])
    3.5
    """
    _check_errors(errors)
    for col in ("timestamp", "value", "token_type", "model"):
        if col not in metrics.columns:
            raise SchemaError(f"token usage frame: missing column {col!r} "
                              f"(columns: {list(metrics.columns)})")
    if "metric" in metrics.columns and metrics["metric"].nunique() > 1:
        raise SchemaError("token usage frame: column 'metric' holds several metrics "
                          f"{sorted(map(str, metrics['metric'].unique()))}; pass one")
    kinds = metrics["token_type"].astype(object).map(_TOKEN_TYPES.get)
    unknown = sorted(set(metrics["token_type"].astype(str)[kinds.isna()]))
    if unknown:
        raise SchemaError(f"token usage frame: column 'token_type' has unknown values {unknown}, "
                          f"expected {sorted(set(_TOKEN_TYPES))}")
    value = metrics["value"].to_numpy(dtype="float64")
    bad = value < 0
    if bad.any():
        if errors == "raise":
            raise SchemaError(f"token usage frame: column 'value' has {int(bad.sum())} negative "
                              "token count(s) (a counter reset not handled by the source?)")
        warnings.warn(f"price_token_usage: dropped {int(bad.sum())} negative token count(s)",
                      UserWarning, stacklevel=2)
    labels = [c for c in metrics.columns if c not in {"timestamp", "metric", "value", "token_type"}]
    long = pd.DataFrame({"timestamp": metrics["timestamp"], "kind": kinds,
                         "value": np.where(bad | np.isnan(value), 0.0, value)})
    for col in labels:
        long[col] = metrics[col].astype(object).where(metrics[col].notna(), None)
    wide = long.pivot_table(index=["timestamp", *labels], columns="kind", values="value",
                            aggfunc="sum", dropna=False, observed=True).reset_index()
    wide = wide.dropna(subset=[k for k in set(_TOKEN_TYPES.values()) if k in wide.columns],
                       how="all")
    wide.columns.name = None
    tok = {k: wide.get(k, pd.Series(0.0, index=wide.index)).fillna(0.0).to_numpy("float64")
           for k in ("input", "output", "cache_read", "cache_write", "reasoning")}
    tok["cache_read"] = np.minimum(tok["cache_read"], tok["input"])
    tok["cache_write"] = np.minimum(tok["cache_write"], tok["input"] - tok["cache_read"])
    tok["reasoning"] = np.minimum(tok["reasoning"], tok["output"])
    out = wide[["timestamp", *labels]].copy()
    for k, v in tok.items():
        out[f"{k}_tokens"] = v
    provider = (out["provider"] if "provider" in out else pd.Series(None, index=out.index))
    result = price_usage(
        provider.to_numpy(dtype=object), out["model"].to_numpy(dtype=object),
        out["timestamp"].to_numpy(dtype="datetime64[ns]").astype("int64"),
        np.full(len(out), "", dtype=object), tok, prices=prices, per_request=False,
    )
    out["billable"] = True
    out["priced"] = result.priced
    for name, values in zip(
        COST_COLUMNS,
        (result.input_cost, result.output_cost, result.cost, result.cache_savings,
         result.cache_write_premium),
        strict=True,
    ):
        out[name] = values
    out["price_source"] = _categorical(result.source)
    out["unpriced_reason"] = _categorical(_reasons(result.priced, result.reason))
    return out.reset_index(drop=True)


def _first_per_trace(codes: np.ndarray, rows: np.ndarray, *keys: np.ndarray) -> np.ndarray:
    """For each trace code, the first of ``rows`` when ordered by ``keys`` (-1 if none)."""
    n_traces = int(codes.max()) + 1 if len(codes) else 0
    out = np.full(n_traces, -1, dtype="int64")
    if len(rows):
        order = rows[np.lexsort(tuple(k[rows] for k in reversed(keys)) + (codes[rows],))]
        ordered = codes[order]
        head = np.r_[True, ordered[1:] != ordered[:-1]]
        out[ordered[head]] = order[head]
    return out


def traces_frame(
    priced: pd.DataFrame, parent: np.ndarray, codes: np.ndarray | None = None
) -> pd.DataFrame:
    """One row per trace, row ``i`` for trace code ``i`` (``codes_of(trace_id)``): its task
    root (top-most task span — operation ``task``, or a task-type attribute without a GenAI
    operation — else ``invoke_agent`` span, else root span) and its status, root agent, task
    type (top-most task-type attribute, else the root agent), time range and tool chain."""
    n = len(priced)
    codes = codes_of(priced["trace_id"]) if codes is None else codes
    depth = np.zeros(n, dtype="int64")
    cursor = parent.copy()
    for _ in range(n):
        live = np.flatnonzero(cursor >= 0)
        if not len(live):
            break
        depth[live] += 1
        cursor[live] = parent[cursor[live]]
    start = priced["start"].to_numpy(dtype="datetime64[ns]").view("int64")
    end = priced["end"].to_numpy(dtype="datetime64[ns]").view("int64")
    op = priced["operation"].to_numpy(object)
    # task spans: operation "task", or no GenAI operation but a task-type attribute
    maybe = np.flatnonzero((op == "task") | (op == "invoke_agent") | (parent < 0) | pd.isna(op))
    attrs = priced["attributes"].iloc[maybe].to_numpy(object)
    typed = np.array([attribute(a, TASK_TYPE_ATTRIBUTES) for a in attrs], dtype=object)
    named = maybe[~pd.isna(typed)]
    rank = np.full(n, 3, dtype="int64")
    rank[parent < 0] = 2
    rank[op == "invoke_agent"] = 1
    rank[named[op[named] != "invoke_agent"]] = 0
    rank[op == "task"] = 0
    roots = _first_per_trace(codes, np.flatnonzero(rank < 3), rank, depth, start)
    agent_col = priced["agent"].to_numpy(object)
    with_agent = np.flatnonzero((rank == 1) & ~pd.isna(agent_col))
    agent_rows = _first_per_trace(codes, with_agent, depth, start)
    type_rows = _first_per_trace(codes, named, depth, rank, start)
    task_types = np.full(n, None, dtype=object)
    task_types[maybe] = typed
    agent = np.where(agent_rows >= 0, agent_col[agent_rows], UNKNOWN)
    task_type = np.where(type_rows >= 0, task_types[type_rows], agent)
    traces = pd.DataFrame({
        "trace_id": priced["trace_id"].iloc[roots].to_numpy(object),
        "root_name": priced["name"].iloc[roots].to_numpy(object),
        "agent": agent.astype(object),
        "task_type": [str(v) for v in task_type],
        "status": priced["status"].iloc[roots].to_numpy(object),
    })
    traces["success"] = traces["status"] != "error"
    first = pd.Series(start).groupby(codes).min().to_numpy()
    last = pd.Series(end).groupby(codes).max().to_numpy()
    traces["start"] = pd.to_datetime(first, utc=True)
    traces["end"] = pd.to_datetime(last, utc=True)
    traces["duration_ms"] = (last - first) / 1e6
    tool_rows = np.flatnonzero(op == "execute_tool")
    chain = np.full(len(traces), "(no tools)", dtype=object)
    if len(tool_rows):
        tool_rows = tool_rows[np.lexsort((start[tool_rows], codes[tool_rows]))]
        names = priced["tool"].iloc[tool_rows].to_numpy(object)
        names = np.where(pd.isna(names), priced["name"].iloc[tool_rows].to_numpy(object), names)
        trace = codes[tool_rows]
        repeat = np.r_[False, (trace[1:] == trace[:-1]) & (names[1:] == names[:-1])]
        names, trace = names[~repeat].tolist(), trace[~repeat]
        bounds = np.flatnonzero(np.r_[True, trace[1:] != trace[:-1], True])
        for a, z in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            chain[trace[a]] = " > ".join(map(str, names[a:z]))
    traces["tool_chain"] = chain
    return traces


def example_spans() -> pd.DataFrame:
    """A tiny spans frame: one research task whose agent span repeats the sum of its two calls.

    >>> example_spans()[["span_id", "operation", "input_tokens"]].values.tolist()[0]
    ['a0', 'invoke_agent', 5000.0]
    """
    t0 = pd.Timestamp("2026-01-01T10:00:00Z")
    rows = [  # span, parent, name, operation, model, tool, offset s, length s, in, cache, out
        ("a0", "", "invoke_agent researcher", "invoke_agent", None, None, 0, 9, 5000, 1000, 1000),
        ("b1", "a0", "chat gpt-4o-mini", "chat", "gpt-4o-mini", None, 1, 2, 2000, None, 500),
        ("c1", "a0", "execute_tool web_search", "execute_tool", None, "web_search", 3, 2,
         None, None, None),
        ("b2", "a0", "chat gpt-4o", "chat", "gpt-4o", None, 5, 3, 3000, 1000, 500),
    ]
    frame = pd.DataFrame({
        "trace_id": "t1", "span_id": [r[0] for r in rows], "parent_span_id": [r[1] for r in rows],
        "service": "demo", "name": [r[2] for r in rows], "kind": "internal",
        "start": [t0 + pd.Timedelta(seconds=r[6]) for r in rows],
        "end": [t0 + pd.Timedelta(seconds=r[6] + r[7]) for r in rows],
        "duration_ms": [r[7] * 1000.0 for r in rows], "status": "ok", "status_message": "",
        "agent": ["researcher", None, None, None], "operation": [r[3] for r in rows],
        "provider": [None, "openai", None, "openai"], "model": [r[4] for r in rows],
        "tool": [r[5] for r in rows],
        "input_tokens": [r[8] for r in rows], "output_tokens": [r[10] for r in rows],
        "cache_read_tokens": [r[9] for r in rows], "cache_write_tokens": np.nan,
        "reasoning_tokens": np.nan,
        "attributes": [{"agentinsight.task.type": "research"}, {}, {}, {}],
    })
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame
