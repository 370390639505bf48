"""The one span forest: parent links, ancestors, and cycles found and broken safely."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from agentinsight.analysis import cost
from agentinsight.analysis._spantree import SpanForest
from agentinsight.exceptions import SchemaError


def _links(rows):
    trace, span, parent = zip(*rows, strict=True)
    return pd.DataFrame({"trace_id": list(trace), "span_id": list(span),
                         "parent_span_id": list(parent)})


def test_parents_depth_roots_and_children_within_each_trace():
    forest = SpanForest(_links([("t", "a", ""), ("t", "b", "a"), ("t", "c", "b"),
                                ("u", "a", ""), ("u", "x", "b"),  # orphan: b is in trace t
                                ("u", "s", "s")]))                # names itself: a root
    assert forest.parent.tolist() == [-1, 0, 1, -1, -1, -1]
    assert forest.depth.tolist() == [0, 1, 2, 0, 0, 0]
    assert forest.roots.tolist() == [0, 3, 4, 5]
    assert forest.children.tolist() == [1, 1, 0, 0, 0, 0]
    assert forest.trace_code.tolist() == [0, 0, 0, 1, 1, 1]


def test_missing_parent_counts_as_root_and_repeated_span_takes_the_children():
    forest = SpanForest(_links([("t", "a", None), ("t", "a", ""), ("t", "b", "a")]))
    assert forest.parent.tolist() == [-1, -1, 0]


def test_fill_nearest_and_covered_follow_the_ancestors():
    forest = SpanForest(_links([("t", "r", ""), ("t", "a", "r"), ("t", "c", "a"),
                                ("t", "d", "c"), ("t", "e", "r")]))
    agent = np.array(["root", None, "inner", None, None], dtype=object)
    assert forest.fill(agent).tolist() == ["root", "root", "inner", "inner", "root"]
    assert forest.nearest(pd.notna(agent)).tolist() == [0, 0, 2, 2, 0]
    carries = np.array([True, False, True, True, False])  # r and c repeat d's usage
    assert forest.covered(carries).tolist() == [True, False, True, False, False]


def test_cycle_is_reported_naming_the_column_and_trace():
    loop = _links([("ok", "a", ""), ("bad", "x", "y"), ("bad", "y", "x")])
    with pytest.raises(SchemaError, match="parent_span_id.*'bad'"):
        SpanForest(loop)


def test_cycles_are_broken_at_their_first_span_and_spans_beneath_keep_their_parents():
    rows = [("t", "a", "c"), ("t", "b", "a"), ("t", "c", "b"),  # a -> c -> b -> a
            ("t", "d", "b"), ("t", "e", "d"),                   # hanging under the loop
            ("u", "p", "q"), ("u", "q", "p"), ("u", "z", "")]   # a second loop, and a root
    forest = SpanForest(_links(rows), cycles="break")
    assert forest.parent.tolist() == [-1, 0, 1, 1, 3, -1, 5, -1]
    assert forest.depth.tolist() == [0, 1, 2, 2, 3, 0, 1, 0]


def test_long_cycle_and_deep_chain_are_handled_without_a_walk_per_level():
    n = 50_000
    ids = [f"s{i}" for i in range(n)]
    chain = _links([("t", ids[i], ids[i - 1] if i else "") for i in range(n)])
    ring = _links([("r", ids[i], ids[i - 1]) for i in range(n)])  # s0's parent is the last
    began = time.perf_counter()
    assert SpanForest(chain).depth.max() == n - 1
    broken = SpanForest(ring, cycles="break")
    assert time.perf_counter() - began < 10.0
    assert broken.roots.tolist() == [0] and broken.depth.max() == n - 1


def test_price_spans_bills_the_innermost_usage_of_a_cyclic_trace_once():
    spans = cost.example_spans()
    spans.loc[spans["span_id"] == "a0", "parent_span_id"] = "b1"  # a0 <-> b1 loop
    priced = cost.price_spans(spans)
    assert priced.loc[priced["billable"], "span_id"].tolist() == ["b1", "b2"]
