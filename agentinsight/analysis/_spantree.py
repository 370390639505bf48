"""The span forest: a spans frame's parent links resolved once, for every analysis that walks them.

Trace summaries and critical paths (``traces``), the performance tables, cost's billing rules
and the trace detectors all stand on :class:`SpanForest`. Parents are found by integer codes
(one sort, no Python per row), and everything that follows a span's ancestor chain is a
vectorised fold by pointer jumping, so depth, nearest agent or clipped interval cost
O(n log depth) for the whole frame.

A parent link that closes a cycle is found while the forest is built. ``cycles="raise"``
reports it as a :class:`~agentinsight.exceptions.SchemaError`; ``cycles="break"`` makes the
first span of each cycle (in frame order) a root, so every walk up the tree ends.

>>> import pandas as pd
>>> spans = pd.DataFrame({"trace_id": ["t"] * 4, "span_id": ["a", "b", "c", "d"],
...                       "parent_span_id": ["", "a", "b", "c"]})
>>> forest = SpanForest(spans)
>>> forest.parent.tolist(), forest.depth.tolist()
([-1, 0, 1, 2], [0, 1, 2, 3])
>>> loop = spans.assign(parent_span_id=["d", "a", "b", "c"])
>>> SpanForest(loop, cycles="break").parent.tolist()  # the first span of the loop is a root
[-1, 0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from agentinsight.exceptions import SchemaError

__all__ = ["SpanForest", "ancestor_scan", "codes_of", "parent_index", "require", "to_ns"]

_LINKS = ("trace_id", "span_id", "parent_span_id")
_MAX_JUMPS = 64  # pointer jumping doubles the reach each round: 2**64 levels is never reached

Cycles = Literal["raise", "break"]


class SpanForest:
    """Parent index, depth and roots of every span of a spans frame, aligned with its rows.

    ``parent[i]`` is the row of span i's parent: -1 for roots, for orphans (whose parent is not
    in the frame) and for a span naming itself as its parent. Where a (trace, span) pair
    repeats, children attach to its first row. ``trace_code`` numbers the traces in order of
    first appearance. Times (``start``, ``end``, the intervals clipped to the ancestors') are
    read, and checked, the first time they are asked for.
    """

    def __init__(self, spans: pd.DataFrame, *, cycles: Cycles = "raise") -> None:
        require(spans, _LINKS)
        self.frame = spans
        self._cols: dict[str, np.ndarray] = {}
        self.trace_code = codes_of(spans["trace_id"])
        parent = parent_index(self.trace_code, spans["span_id"], spans["parent_span_id"])
        depth, up = _fold(parent, (parent >= 0).astype(np.int64), np.add)
        stuck = up >= 0
        if stuck.any():
            if cycles == "raise":
                cyclic = pd.unique(self.col("trace_id")[stuck])[:3]
                raise SchemaError(f"spans frame: column 'parent_span_id' forms a cycle in "
                                  f"trace(s) {list(cyclic)}")
            parent = _break_cycles(parent, up, stuck)
            depth, _ = _fold(parent, (parent >= 0).astype(np.int64), np.add)
        self.parent = parent
        #: Levels above each span: 0 for roots.
        self.depth = depth

    def __len__(self) -> int:
        return len(self.parent)

    def col(self, name: str) -> np.ndarray:
        """A column as an object array (missing values as None), converted once."""
        if name not in self._cols:
            self._cols[name] = self.frame[name].to_numpy(dtype=object, na_value=None)
        return self._cols[name]

    @cached_property
    def roots(self) -> np.ndarray:
        """Rows without a parent in the frame, in frame order."""
        return np.flatnonzero(self.parent < 0)

    @cached_property
    def children(self) -> np.ndarray:
        """Number of direct children of each span."""
        return np.bincount(self.parent[self.parent >= 0], minlength=len(self))

    def scan(self, values: np.ndarray, combine: Callable) -> np.ndarray:
        """:func:`ancestor_scan` over this forest."""
        return ancestor_scan(self.parent, values, combine)

    def nearest(self, mask: np.ndarray) -> np.ndarray:
        """Row of the nearest ancestor-or-self where ``mask`` holds, -1 where there is none."""
        init = np.where(mask, np.arange(len(mask)), -1)
        return self.scan(init, lambda own, anc: np.where(own >= 0, own, anc))

    def fill(self, values: np.ndarray) -> np.ndarray:
        """``values`` with each missing one replaced by the nearest ancestor's value."""
        owner = self.nearest(pd.notna(values))
        return np.where(owner >= 0, values[np.maximum(owner, 0)], values)

    def covered(self, mask: np.ndarray) -> np.ndarray:
        """True for the rows of ``mask`` that have another row of ``mask`` beneath them.

        Usage recorded on such a span is recorded again lower down (an agent span repeating
        the sum of its calls), so only ``mask & ~covered(mask)`` is counted.
        """
        near = self.nearest(mask)
        above = np.where(self.parent >= 0, near[np.maximum(self.parent, 0)], -1)
        out = np.zeros(len(self), dtype=bool)
        out[above[mask & (above >= 0)]] = True
        return out

    # --- times -----------------------------------------------------------------------------------

    @cached_property
    def start(self) -> np.ndarray:
        """Start of each span, int64 nanoseconds since the epoch."""
        return self._times[0]

    @cached_property
    def end(self) -> np.ndarray:
        """End of each span, int64 nanoseconds since the epoch."""
        return self._times[1]

    @cached_property
    def _times(self) -> tuple[np.ndarray, np.ndarray]:
        start = to_ns(self.frame["start"], "start")
        end = to_ns(self.frame["end"], "end")
        if len(end) and (end < start).any():
            bad = self.col("trace_id")[end < start][0]
            raise SchemaError(f"spans frame: column 'end' is before 'start' (trace {bad})")
        return start, end

    @cached_property
    def clipped(self) -> tuple[np.ndarray, np.ndarray]:
        """Each span's interval clipped to its ancestors' (start, end), in nanoseconds."""
        return self.scan(self.start, np.maximum), self.scan(self.end, np.minimum)

    @cached_property
    def on_tree(self) -> np.ndarray:
        """False for a span lying wholly outside an ancestor's interval."""
        cstart, cend = self.clipped
        return cstart <= cend

    def main_roots(self) -> np.ndarray:
        """One root per trace: the longest parentless span (earliest start on ties)."""
        roots = self.roots
        if not len(roots):
            return roots
        trace = self.col("trace_id")[roots]
        order = np.lexsort((self.start[roots], -(self.end[roots] - self.start[roots]), trace))
        roots = roots[order]
        first = np.ones(len(roots), dtype=bool)
        first[1:] = trace[order][1:] != trace[order][:-1]
        return roots[first]


# --- building blocks -----------------------------------------------------------------------------


def codes_of(values: pd.Series) -> np.ndarray:
    """Integer codes of a column's values in order of first appearance (-1 for missing).

    Factorised in the column's own dtype: a string column's ids are encoded where they are
    stored, never turned into one Python string each.
    """
    return np.asarray(pd.factorize(values)[0], dtype="int64")


def parent_index(trace_code: np.ndarray, span_id: pd.Series,
                 parent_span_id: pd.Series) -> np.ndarray:
    """Row of each span's parent (-1 for roots and orphans), matched within its trace.

    A missing ``parent_span_id`` (like ``""`` in a spans frame) makes a root. Where a
    (trace, span) pair repeats, the first row is the parent.
    """
    n = len(trace_code)
    both = pd.concat([span_id, parent_span_id], ignore_index=True)
    ids = codes_of(both)
    own = (trace_code << 32) | ids[:n]
    wanted = (trace_code << 32) | ids[n:]
    uniq, first = np.unique(own, return_index=True)
    if not len(uniq):
        return np.full(n, -1, dtype="int64")
    pos = np.minimum(np.searchsorted(uniq, wanted), len(uniq) - 1)
    out = np.where(uniq[pos] == wanted, first[pos], -1).astype("int64")
    out[(out == np.arange(n)) | (ids[n:] < 0)] = -1  # names itself, or names no parent
    return out


def ancestor_scan(parent: np.ndarray, values: np.ndarray, combine: Callable) -> np.ndarray:
    """Fold ``values`` along each span's ancestor chain by pointer jumping.

    ``parent`` must be acyclic (a :class:`SpanForest`'s is). ``combine(own, ancestor)`` must be
    associative; the result for span i is ``combine(v[i], combine(v[parent], ...v[root]))``.

    >>> ancestor_scan(np.array([-1, 0, 1]), np.array([1, 2, 3]), np.add).tolist()
    [1, 3, 6]
    """
    return _fold(parent, values, combine)[0]


def _fold(parent: np.ndarray, values: np.ndarray,
          combine: Callable) -> tuple[np.ndarray, np.ndarray]:
    """:func:`ancestor_scan`, and where each chain got to: -1 once it passed its root."""
    up = parent.copy()
    acc = np.array(values, copy=True)
    for _ in range(_MAX_JUMPS):
        live = np.flatnonzero(up >= 0)
        if not len(live):
            break
        anc = up[live]
        acc[live] = combine(acc[live], acc[anc])
        up[live] = up[anc]
    return acc, up


def _break_cycles(parent: np.ndarray, up: np.ndarray, stuck: np.ndarray) -> np.ndarray:
    """``parent`` with the first row of each cycle made a root.

    ``stuck`` are the rows whose chain never ended (on a cycle or beneath one) and ``up`` where
    their chains got to after every jump: a row on the cycle, at least one per cycle. The
    smallest row of each cycle is found by a min-fold around it, again by pointer jumping.
    """
    rows = np.flatnonzero(stuck)
    low = np.arange(len(parent))
    hop = parent.copy()
    for _ in range(int(np.ceil(np.log2(len(rows) + 1))) + 1):  # 2**rounds > any cycle's length
        low[rows] = np.minimum(low[rows], low[hop[rows]])
        hop[rows] = hop[hop[rows]]
    out = parent.copy()
    out[np.unique(low[np.unique(up[rows])])] = -1
    return out


def to_ns(col: pd.Series, name: str) -> np.ndarray:
    """A time column as int64 nanoseconds since the epoch (UTC), or a SchemaError naming it."""
    try:
        stamp = pd.to_datetime(col, utc=True)
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"spans frame: column {name!r} is not a time: {exc}") from None
    if stamp.isna().any():
        raise SchemaError(f"spans frame: column {name!r} has missing times")
    return pd.DatetimeIndex(stamp).as_unit("ns").asi8.copy()


def require(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise a SchemaError unless ``frame`` is a DataFrame holding ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"spans frame: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in dict.fromkeys(columns) if c not in frame.columns]
    if missing:
        raise SchemaError(f"spans frame: missing column(s) {missing}")
