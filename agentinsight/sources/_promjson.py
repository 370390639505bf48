"""Prometheus HTTP API results (``matrix``/``vector``/``scalar``) into the metrics frame.

Vectorised: one pass collects timestamps and value strings into flat arrays, numpy parses them,
and each label becomes a categorical column built from per-series codes — no per-point dicts
(``MetricRangeDataFrame`` builds one per point, which is what makes it slow and large).

Native histograms (``histogram``/``histograms`` instead of ``value``/``values``) are not turned
into buckets: their observation count and sum become ``<name>_count`` and ``<name>_sum`` rows,
with a warning.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.exceptions import ServerError
from agentinsight.frames import empty_metrics_frame

__all__ = ["result_frame", "series_keys", "utc_index"]


def series_keys(result: Sequence[dict[str, Any]]) -> list[str]:
    """A stable identity per series (its sorted label set), equal across chunked requests."""
    return [json.dumps(s.get("metric") or {}, sort_keys=True) for s in result]


def result_frame(data: dict[str, Any], name: str, *, dedupe: bool = False) -> pd.DataFrame:
    """The metrics frame of a ``/api/v1/query(_range)`` ``data`` object.

    ``name`` is the metric name for series without ``__name__`` (expression results).
    ``dedupe`` sorts by series and time and drops repeated points (for joined chunks).

    >>> f = result_frame({"resultType": "matrix", "result": [{"metric": {"__name__": "up",
    ...     "job": "a"}, "values": [[0, "1"], [15, "1"]]}]}, "up")
    >>> f["value"].tolist(), f["job"].tolist()
    ([1.0, 1.0], ['a', 'a'])
    """
    kind = data.get("resultType")
    result = data.get("result")
    if (kind == "scalar" or kind == "string") and isinstance(result, list):
        t, v = result
        result = [{"metric": {}, "value": [t, v]}]
        kind = "vector"
    if kind not in ("matrix", "vector") or not isinstance(result, list):
        raise ServerError(f"unexpected result type {kind!r} in the server's answer")
    floats = [s for s in result if ("values" in s or "value" in s)]
    natives = [s for s in result if ("histograms" in s or "histogram" in s)]
    if natives:
        floats = floats + _native_as_floats(natives, name)
    if not floats:
        return empty_metrics_frame()
    if kind == "vector":
        floats = [{"metric": s["metric"], "values": [s["value"]]} for s in floats]
    return _matrix(floats, name, dedupe)


def _native_as_floats(series: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    warnings.warn(
        f"{len(series)} native-histogram series in the answer: their buckets are not "
        "converted; their count and sum are returned as <name>_count and <name>_sum",
        stacklevel=4,
    )
    out = []
    for s in series:
        points = s.get("histograms") or [s["histogram"]]
        metric = dict(s.get("metric") or {})
        base = metric.pop("__name__", name)
        for field in ("count", "sum"):
            out.append({"metric": {**metric, "__name__": f"{base}_{field}"},
                        "values": [[t, h.get(field, "NaN")] for t, h in points]})
    return out


def _matrix(result: list[dict[str, Any]], name: str, dedupe: bool) -> pd.DataFrame:
    lengths = np.fromiter((len(s["values"]) for s in result), dtype="int64", count=len(result))
    n = int(lengths.sum())
    # Two C-level passes over the points (no per-point Python frames, no temporary lists);
    # float() parses Prometheus' "NaN", "+Inf" and "-Inf" too.
    stamps = np.fromiter(map(itemgetter(0), chain.from_iterable(s["values"] for s in result)),
                         dtype="float64", count=n)
    values = np.fromiter(map(float, map(itemgetter(1), chain.from_iterable(
        s["values"] for s in result))), dtype="float64", count=n)
    metas = [s.get("metric") or {} for s in result]
    label_names: dict[str, None] = {}
    for meta in metas:
        label_names.update(dict.fromkeys(meta))
    order = None
    if dedupe and n:
        sid = np.repeat(pd.factorize(pd.Series(series_keys(result)))[0], lengths)
        ms = np.round(stamps * 1000).astype("int64")
        order = np.lexsort((ms, sid))
        keep = np.ones(n, bool)
        keep[1:] = (sid[order][1:] != sid[order][:-1]) | (ms[order][1:] != ms[order][:-1])
        order = order[keep]
    per_point = (lambda a: a[order]) if order is not None else (lambda a: a)
    stamps *= 1e3  # in place: this runs on millions of points
    np.round(stamps, out=stamps)
    stamps_ns = stamps.astype("int64")
    stamps_ns *= 1_000_000
    del stamps
    stamps_ns = per_point(stamps_ns)
    timestamp = utc_index(stamps_ns)
    del stamps_ns
    columns: dict[str, Any] = {
        "timestamp": timestamp,
        "metric": _categorical([m.get("__name__", name) for m in metas], lengths, per_point),
        "value": per_point(values),
    }
    for label in label_names:
        if label != "__name__":
            columns[label] = _categorical([m.get(label) for m in metas], lengths, per_point)
    return pd.DataFrame(columns, copy=False)


def utc_index(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from int64 epoch nanoseconds, without a copy through Python objects."""
    return pd.DatetimeIndex(np.asarray(ns, dtype="int64").view("datetime64[ns]"),
                            dtype="datetime64[ns, UTC]", copy=False)


def _categorical(per_series: list[Any], lengths: np.ndarray, per_point: Any) -> pd.Categorical:
    codes, uniques = pd.factorize(pd.Series(per_series, dtype=object), use_na_sentinel=True)
    point_codes = per_point(np.repeat(codes.astype("int32"), lengths))
    return pd.Categorical.from_codes(point_codes, categories=pd.Index(uniques, dtype=object))
