"""Which spans' token counts make the bill: calls seen twice, raw provider counts, unread usage.

Several instrumentations often watch the same call (the anthropic SDK's own tracing and
OpenLLMetry, each in its own trace; openai-v2 nested inside OpenLLMetry). Each sees the same
usage, so the call is billed once, from the span that recorded it in most detail. Providers'
raw counts (Anthropic's ``input_tokens`` leave out the cache; Gemini's output leaves out the
thoughts) are brought to the GenAI convention. A span that names a model but keeps its token
counts under names the alias table does not know is reported, never silently left out.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.analysis._prices import provider_key
from agentinsight.analysis._spantree import SpanForest
from agentinsight.frames import TOKEN_COLUMNS
from agentinsight.semconv import (
    LLM_OPERATIONS,
    NON_LLM_OPERATIONS,
    RESPONSE_ID_ATTRIBUTES,
    TOTAL_TOKENS_ATTRIBUTES,
)

__all__ = ["Usage", "detail_of", "find_usage", "raw_counts", "unread_usage", "with_entries"]

# A numeric attribute whose name says it counts tokens (not a request limit such as max_tokens).
_USAGE_NAME = re.compile(r"token|usage", re.IGNORECASE)
_NOT_USAGE = re.compile(r"max_|request\.|limit|budget", re.IGNORECASE)


class Usage:
    """The spans that carry usage and the ones billed: ``carries`` (token columns or unread
    usage-like attributes), ``duplicate_of`` (row billed instead, -1 where none) and
    ``billable``."""

    def __init__(self, carries: np.ndarray, duplicate_of: np.ndarray, billable: np.ndarray):
        self.carries = carries
        self.duplicate_of = duplicate_of
        self.billable = billable


def unread_usage(spans: pd.DataFrame, known: np.ndarray) -> dict[int, str]:
    """By row, the usage-like attributes of each span that names a model but has no token
    column filled (only rows that have some)."""
    rows = np.flatnonzero(~known & spans["model"].notna().to_numpy())
    attrs = spans["attributes"].to_numpy(dtype=object)
    found = {row: _usage_keys(attrs[row]) for row in rows.tolist()}
    return {row: keys for row, keys in found.items() if keys}


def _usage_keys(attrs: Any) -> str | None:
    if not isinstance(attrs, dict):
        return None
    keys = sorted(k for k, v in attrs.items()
                  if isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                  and _USAGE_NAME.search(k) and not _NOT_USAGE.search(k))
    return ", ".join(keys) if keys else None


def with_entries(attrs: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Those of ``rows`` whose attributes hold anything: the only ones a look-up can find
    something in (many spans have none). Read in one loop without Python code per row; values
    whose truth is undefined (an array) send it to the slower loop that asks for dicts first.

    >>> attrs = np.array([{}, {"a": 1}, None, {"b": 2}, np.zeros(2)], dtype=object)
    >>> with_entries(attrs, np.arange(3)).tolist(), with_entries(attrs, np.arange(5)).tolist()
    ([1], [1, 3])
    """
    some = attrs[rows]
    try:
        return rows[np.fromiter(map(bool, some), dtype=bool, count=len(some))]
    except Exception:  # a value's own __bool__ may raise anything; the loop below calls none
        return rows[np.fromiter((isinstance(a, dict) and len(a) > 0 for a in some), dtype=bool,
                                count=len(some))]


def _lookup(attrs: np.ndarray, keys: tuple[str, ...]) -> list[Any]:
    """Per attribute dict, the first of ``keys`` it holds with a truthy value (else None): the
    hot loop of pricing, so one pass with the look-ups inlined rather than a call per span."""
    if len(keys) == 1:
        (k1,) = keys
        return [a.get(k1) if type(a) is dict else None for a in attrs]
    if len(keys) == 2:
        k1, k2 = keys
        return [(a.get(k1) or a.get(k2)) if type(a) is dict else None for a in attrs]
    if len(keys) == 3:
        k1, k2, k3 = keys
        return [(a.get(k1) or a.get(k2) or a.get(k3)) if type(a) is dict else None
                for a in attrs]
    return [next((a[k] for k in keys if a.get(k)), None) if type(a) is dict else None
            for a in attrs]


def find_usage(spans: pd.DataFrame, forest: SpanForest, carries: np.ndarray,
               detail: np.ndarray, with_attributes: np.ndarray | None = None) -> Usage:
    """Decide which of the rows in ``carries`` are billed (``detail``: token fields filled).

    A call seen twice — the same provider and response id, in one trace or two, or a model call
    span nested in another model call span — is billed once, from the span with the most token
    fields filled (the deeper one on a tie). Beyond that only leaf usage is billed: a span with
    usage recorded again beneath it (an agent span repeating its calls' sum) is not.
    ``with_attributes`` marks the rows whose attributes are worth reading (a non-empty dict);
    without it every carrying row's are read.
    """
    n = len(spans)
    duplicate_of = np.full(n, -1, dtype="int64")
    chosen = np.zeros(n, dtype=bool)
    depth = forest.depth
    rows = np.flatnonzero(carries if with_attributes is None else carries & with_attributes)
    attrs = spans["attributes"].to_numpy(dtype=object)
    # an id is text or a whole number; an empty text is no id
    ids = np.fromiter(((v or None) if type(v) is str else str(v) if type(v) is int else None
                       for v in _lookup(attrs[rows], RESPONSE_ID_ATTRIBUTES)),
                      dtype=object, count=len(rows))
    has_id = ~pd.isna(ids)
    with_id = rows[has_id]
    if len(with_id) > 1:
        # the provider's key once per distinct name (the extra "" at the end is where code -1,
        # no provider, points), then each (provider, id) pair as one integer
        codes, names = pd.factorize(spans["provider"])
        keys = pd.factorize(np.array([provider_key(p) or "" for p in names] + [""],
                                     dtype=object))[0]
        provider = keys[codes[with_id]].astype("int64")
        id_codes = pd.factorize(ids[has_id])[0]
        pairs = provider * (int(id_codes.max()) + 1) + id_codes
        _keep_one(pd.factorize(pairs)[0], with_id, detail, depth, duplicate_of, chosen)
    # a model call inside another model call is the same call seen by two instrumentations
    near = forest.nearest(carries)
    parent = forest.parent
    above = np.where(parent >= 0, near[np.maximum(parent, 0)], -1)
    inner = np.flatnonzero(carries & (duplicate_of < 0) & (above >= 0))
    # the carrying spans above others are few (agent spans, mostly): ask them first
    mark = np.zeros(n, dtype=bool)
    mark[above[inner]] = True
    outer_rows = np.flatnonzero(mark)
    outer_calls = outer_rows[_model_calls(spans, outer_rows) & (duplicate_of[outer_rows] < 0)]
    if len(outer_calls) < len(outer_rows):
        mark[:] = False
        mark[outer_calls] = True
        inner = inner[mark[above[inner]]]
    if len(inner):
        inner = inner[_model_calls(spans, inner)]
    if len(inner):
        outer = above[inner]
        # a span over several model calls is not one call seen twice: leave it to the leaf rule
        single = np.bincount(outer, minlength=n)[outer] == 1
        inner, outer = inner[single], outer[single]
        top = np.arange(n)
        top[inner] = outer
        for _ in range(64):
            step = top[top]
            if np.array_equal(step, top):
                break
            top = step
        members = np.union1d(inner, outer)
        _keep_one(top[members], members, detail, depth, duplicate_of, chosen)
    covered = np.zeros(n, dtype=bool)
    covered[above[carries & (above >= 0)]] = True
    billable = carries & (duplicate_of < 0) & (~covered | chosen)
    return Usage(carries, duplicate_of, billable)


def _model_calls(spans: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Which of ``rows`` are spans of a call to a model (by operation, or a model named on a
    span whose operation is not an agent's, tool's or workflow's)."""
    op = spans["operation"].iloc[rows]
    named = spans["model"].iloc[rows].notna().to_numpy()
    return (op.isin(LLM_OPERATIONS).to_numpy()
            | (named & ~op.isin(NON_LLM_OPERATIONS).to_numpy()))


def _keep_one(groups: np.ndarray, rows: np.ndarray, detail: np.ndarray, depth: np.ndarray,
              duplicate_of: np.ndarray, chosen: np.ndarray) -> None:
    """In each group of ``rows`` (group codes aligned with them) with two rows or more, keep the
    row with the most detail (then the deepest, then the first) and point the others at it."""
    counts = np.bincount(groups)
    shared = counts[groups] > 1
    rows, groups = rows[shared], groups[shared]
    if not len(rows):
        return
    order = np.lexsort((rows, -depth[rows], -detail[rows], groups))
    rows, groups = rows[order], groups[order]
    head = np.r_[True, groups[1:] != groups[:-1]]
    best = rows[head][np.cumsum(head) - 1]
    duplicate_of[rows[~head]] = best[~head]
    chosen[rows[head]] = True


def raw_counts(tok: dict[str, np.ndarray], attrs: np.ndarray,
               with_attributes: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose counts are a provider's raw ones: input without its cache tokens, output
    without its reasoning tokens. Seen when the parts exceed their whole, or when the span's
    total token count adds up only with the parts added (``tok``: the rows' counts, NaN as 0;
    ``with_attributes``: the rows whose ``attrs`` are worth reading, every row when not given).
    """
    inp, out = tok["input_tokens"], tok["output_tokens"]
    cache = tok["cache_read_tokens"] + tok["cache_write_tokens"]
    reasoning = tok["reasoning_tokens"]
    raw_input = cache > inp
    raw_output = reasoning > out
    parts = (cache > 0) | (reasoning > 0)
    maybe = np.flatnonzero(parts if with_attributes is None else parts & with_attributes)
    if len(maybe):
        # a total that is not a number (text, a flag, an int no float holds) tells nothing:
        # NaN, never equal
        total = np.fromiter((t if type(t) is float or type(t) is int and -1e300 < t < 1e300
                             else np.nan
                             for t in _lookup(attrs[maybe], TOTAL_TOKENS_ATTRIBUTES)),
                            dtype="float64", count=len(maybe))
        known = np.flatnonzero(~np.isnan(total))
        if len(known):
            rows = maybe[known]
            total_f = total[known]
            base = inp[rows] + out[rows]
            both = total_f == base + cache[rows] + reasoning[rows]
            raw_input[rows] |= (cache[rows] > 0) & (both | (total_f == base + cache[rows]))
            raw_output[rows] |= (reasoning[rows] > 0) & (both
                                                         | (total_f == base + reasoning[rows]))
    return raw_input, raw_output


def detail_of(tok: dict[str, np.ndarray]) -> np.ndarray:
    """Number of token fields each row fills."""
    detail = np.zeros(len(tok[TOKEN_COLUMNS[0]]), dtype="int64")
    for values in tok.values():
        detail += ~np.isnan(values)
    return detail
