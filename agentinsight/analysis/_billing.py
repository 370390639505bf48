"""Which spans are billed, and pricing whole frames: spans and token counters.

The counting rules are documented in ``agentinsight.analysis.cost``; the price arithmetic in
``agentinsight.analysis._prices``. This module turns frames into usage rows; the span tree it
walks (which spans are billed, each trace's task root) is ``agentinsight.analysis._spantree``'s.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from agentinsight.analysis._prices import normalise_price_table, price_usage
from agentinsight.analysis._spantree import SpanForest
from agentinsight.analysis._usage import (
    detail_of,
    find_usage,
    raw_counts,
    unread_usage,
    with_entries,
)
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import TOKEN_COLUMNS, validate_spans_frame
from agentinsight.semconv import (
    BATCH_ATTRIBUTES,
    SERVICE_TIER_ATTRIBUTES,
    TASK_TYPE,
    TASK_TYPE_ATTRIBUTES,
    Operation,
    agent_span_name,
    llm_span_name,
    tool_span_name,
)

__all__ = [
    "COST_COLUMNS",
    "UNKNOWN",
    "attribute",
    "example_spans",
    "price_spans",
    "price_token_usage",
    "traces_frame",
]

UNKNOWN = "(unknown)"
_AGENT = Operation.INVOKE_AGENT.value
_TOOL = Operation.EXECUTE_TOOL.value
_TASK = Operation.TASK.value

Errors = Literal["raise", "unprice"]
COST_COLUMNS = ("input_cost_usd", "output_cost_usd", "cost_usd", "cache_savings_usd",
                 "cache_write_premium_usd")
_TOKEN_TYPES = {"input": "input", "output": "output", "cache_read": "cache_read",
                "cache_write": "cache_write", "reasoning": "reasoning",
                "cache_creation": "cache_write"}


# --- span attributes ------------------------------------------------------------------------------


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
    return [(text, mask) for text, mask in problems if mask.any()]


def _normalise_raw(out: pd.DataFrame, rows: np.ndarray, vals: dict[str, np.ndarray],
                   raw_input: np.ndarray, raw_output: np.ndarray) -> None:
    """Bring raw provider counts to the GenAI convention, in ``vals`` and in ``out``'s token
    columns, with one warning."""
    vals["input_tokens"] = np.where(raw_input, vals["input_tokens"] + vals["cache_read_tokens"]
                                    + vals["cache_write_tokens"], vals["input_tokens"])
    vals["output_tokens"] = np.where(raw_output, vals["output_tokens"]
                                     + vals["reasoning_tokens"], vals["output_tokens"])
    for col, mask in (("input_tokens", raw_input), ("output_tokens", raw_output)):
        if mask.any():
            values = out[col].to_numpy(dtype="float64", copy=True)
            values[rows[mask]] = vals[col][mask]
            out[col] = values
    parts = []
    if raw_input.any():
        parts.append(f"{int(raw_input.sum())} with input_tokens that leave out the cache tokens "
                     "(counted as input + cache_read + cache_write)")
    if raw_output.any():
        parts.append(f"{int(raw_output.sum())} with output_tokens that leave out the reasoning "
                     "tokens (counted as output + reasoning)")
    first = rows[np.flatnonzero(raw_input | raw_output)[0]]
    warnings.warn(f"price_spans: raw provider token counts in {' and '.join(parts)}, e.g. span "
                  f"{out['span_id'].iloc[first]!r} of trace {out['trace_id'].iloc[first]!r}",
                  UserWarning, stacklevel=3)


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

    Adds ``billable`` (the span's tokens are counted: see the module docstring),
    ``duplicate_of`` (the span billed instead of this one when both saw the same call),
    ``priced``,
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
    spans = validate_spans_frame(spans)
    normalise_price_table(prices)  # bad tables fail here, before any work
    out = spans.copy()
    n = len(out)
    tok = {c: out[c].to_numpy(dtype="float64") for c in TOKEN_COLUMNS}
    detail = detail_of(tok)
    unread = unread_usage(out, detail > 0)
    forest = SpanForest(out, cycles="break")  # parent cycles broken: every span is decided
    carries = detail > 0
    carries[list(unread)] = True
    # One pass over the carrying spans finds those with attributes (often few): only theirs are
    # read, for the pricing context, the response id and the total token count.
    attrs = out["attributes"].to_numpy(dtype=object)
    with_attributes = np.zeros(n, dtype=bool)
    with_attributes[with_entries(attrs, np.flatnonzero(carries))] = True
    usage = find_usage(out, forest, carries, detail, with_attributes)
    billable = usage.billable
    rows = np.flatnonzero(billable)
    vals = {c: np.nan_to_num(tok[c][rows], nan=0.0) for c in TOKEN_COLUMNS}
    raw_input, raw_output = raw_counts(vals, attrs[rows], with_attributes[rows])
    sane = np.logical_and.reduce([vals[c] >= 0 for c in TOKEN_COLUMNS])  # negatives: bad input
    raw_input &= sane
    raw_output &= sane
    if raw_input.any() or raw_output.any():
        _normalise_raw(out, rows, vals, raw_input, raw_output)
    reason = np.full(len(rows), "", dtype=object)
    reason[np.isnan(tok["input_tokens"][rows])] = "missing input_tokens"
    if unread:
        at = np.flatnonzero(np.isin(rows, list(unread)))
        reason[at] = [f"token counts in attributes not read as usage: {unread[row]}"
                      for row in rows[at].tolist()]
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
        shown = sorted(set(reason[unusable]))
        warnings.warn(f"price_spans: {int(unusable.sum())} billable span(s) left unpriced: "
                      + "; ".join(shown[:5]) + ("; ..." if len(shown) > 5 else ""),
                      UserWarning, stacklevel=2)
    ok = ~unusable
    contexts = np.full(int(ok.sum()), "", dtype=object)
    read = np.flatnonzero(with_attributes[rows[ok]])
    contexts[read] = np.fromiter(map(_context, attrs[rows[ok][read]]), dtype=object,
                                 count=len(read))
    result = price_usage(
        out["provider"].iloc[rows[ok]].to_numpy(dtype=object),
        out["model"].iloc[rows[ok]].to_numpy(dtype=object),
        out["start"].to_numpy(dtype="datetime64[ns]").astype("int64")[rows[ok]],
        contexts,
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
    duplicate = usage.duplicate_of >= 0
    twin = np.full(n, None, dtype=object)
    if duplicate.any():
        twin[duplicate] = out["span_id"].iloc[usage.duplicate_of[duplicate]].to_numpy(object)
    out["duplicate_of"] = pd.Series(twin, index=out.index, dtype=object)
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


def traces_frame(priced: pd.DataFrame, forest: SpanForest) -> pd.DataFrame:
    """One row per trace, row ``i`` for trace code ``i`` (``forest.trace_code``): its task
    root (top-most task span — operation ``task``, or a task-type attribute without a GenAI
    operation — else ``invoke_agent`` span, else root span) and its status, root agent, task
    type (top-most task-type attribute, else the root agent), time range and tool chain."""
    n = len(priced)
    codes, parent, depth = forest.trace_code, forest.parent, forest.depth
    start = priced["start"].to_numpy(dtype="datetime64[ns]").view("int64")
    end = priced["end"].to_numpy(dtype="datetime64[ns]").view("int64")
    op = priced["operation"].to_numpy(object)
    # task spans: operation "task", or no GenAI operation but a task-type attribute
    maybe = np.flatnonzero((op == _TASK) | (op == _AGENT) | (parent < 0) | pd.isna(op))
    attrs = priced["attributes"].iloc[maybe].to_numpy(object)
    typed = np.array([attribute(a, TASK_TYPE_ATTRIBUTES) for a in attrs], dtype=object)
    named = maybe[~pd.isna(typed)]
    rank = np.full(n, 3, dtype="int64")
    rank[parent < 0] = 2
    rank[op == _AGENT] = 1
    rank[named[op[named] != _AGENT]] = 0
    rank[op == _TASK] = 0
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
    tool_rows = np.flatnonzero(op == _TOOL)
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
    chat = Operation.CHAT.value
    rows = [  # span, parent, name, operation, model, tool, offset s, length s, in, cache, out
        ("a0", "", agent_span_name("researcher"), _AGENT, None, None, 0, 9, 5000, 1000, 1000),
        ("b1", "a0", llm_span_name(chat, "gpt-4o-mini"), chat, "gpt-4o-mini", None, 1, 2, 2000,
         None, 500),
        ("c1", "a0", tool_span_name("web_search"), _TOOL, None, "web_search", 3, 2,
         None, None, None),
        ("b2", "a0", llm_span_name(chat, "gpt-4o"), chat, "gpt-4o", None, 5, 3, 3000, 1000, 500),
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
        "attributes": [{TASK_TYPE: "research"}, {}, {}, {}],
    })
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame
