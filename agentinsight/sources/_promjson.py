"""Prometheus HTTP API results (``matrix``/``vector``/``scalar``) into the metrics frame.

Vectorised: one pass collects timestamps and value strings into flat arrays, numpy parses them,
and each label becomes a categorical column built from per-series codes — no per-point dicts
(``MetricRangeDataFrame`` builds one per point, which is what makes it slow and large).

A long pull is converted chunk by chunk (:func:`result_frame` on each answer, the JSON dropped
before the next) and the chunks' columns joined by :func:`join_frames`, so a pull's peak memory
stays near the size of its frame instead of holding every chunk's JSON at once.

A "success" answer whose points are not numbers or whose shape is not the API's raises
:class:`~agentinsight.exceptions.ServerError`, never a bare ``ValueError``.

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
from pandas.api.types import union_categoricals

from agentinsight.exceptions import ServerError
from agentinsight.frames import empty_metrics_frame

__all__ = ["join_frames", "result_frame", "series_keys", "utc_index"]


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
    try:
        return _result_frame(data, name, dedupe)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ServerError(f"the answer holds a point that is not [time, \"number\"] ({exc})"
                          ) from None


def _result_frame(data: dict[str, Any], name: str, dedupe: bool) -> pd.DataFrame:
    kind = data.get("resultType")
    result = data.get("result")
    if (kind == "scalar" or kind == "string") and isinstance(result, list):
        t, v = result
        result = [{"metric": {}, "value": [t, v]}]
        kind = "vector"
    if kind not in ("matrix", "vector") or not isinstance(result, list):
        raise ServerError(f"unexpected result type {kind!r} in the server's answer")
    if not all(isinstance(s, dict) for s in result):
        raise ServerError("a series in the answer is not a JSON object")
    floats = [s for s in result if ("values" in s or "value" in s)]
    natives = [s for s in result if ("histograms" in s or "histogram" in s)]
    if natives:
        floats = floats + _native_as_floats(natives, name)
    if not floats:
        return empty_metrics_frame()
    if kind == "vector":
        floats = [{"metric": s["metric"], "values": [s["value"]]} for s in floats]
    return _matrix(floats, name, dedupe)


def join_frames(frames: Sequence[pd.DataFrame], *, release: bool = False) -> pd.DataFrame:
    """The frames of one pull's parts as one frame, sorted by series, then time.

    The parts are the chunks of one grid in time order (or disjoint sets of series), each
    sorted by series then time, so a stable sort by series alone orders the whole; no point is
    in two parts. Columns are built one at a time; with ``release`` each part's column is
    deleted from it as soon as it has been copied (the parts end up empty), so the parts and
    the result are not both held whole.

    >>> a = result_frame({"resultType": "matrix", "result": [{"metric": {"job": "a"},
    ...     "values": [[0, "1"]]}, {"metric": {"job": "b"}, "values": [[0, "2"]]}]}, "up")
    >>> b = result_frame({"resultType": "matrix", "result": [{"metric": {"job": "b"},
    ...     "values": [[15, "3"]]}]}, "up")
    >>> f = join_frames([a, b])
    >>> f["job"].tolist(), f["value"].tolist()
    (['a', 'b', 'b'], [1.0, 2.0, 3.0])
    """
    parts = [f for f in frames if len(f)]
    if not parts:
        return empty_metrics_frame()
    if len(parts) == 1:
        return parts[0]
    names: dict[str, None] = {}
    for frame in parts:
        names.update(dict.fromkeys(frame.columns))
    labels = [c for c in names if c not in ("timestamp", "value")]
    joined: dict[str, pd.Categorical] = {}
    sid = np.zeros(sum(len(f) for f in parts), dtype="int64")
    for label in labels:
        pieces = [f[label].array if label in f.columns
                  else pd.Categorical.from_codes(np.full(len(f), -1, "int8"), categories=[])
                  for f in parts]
        column = joined[label] = union_categoricals(pieces)
        del pieces
        if release:
            _drop(parts, label)
        sid *= len(column.categories) + 1
        sid += column.codes.astype("int64") + 1
    order = np.argsort(sid, kind="stable")
    del sid
    columns: dict[str, Any] = {}
    for name in names:
        if name == "timestamp":
            ns = np.concatenate([f["timestamp"].to_numpy("datetime64[ns]").view("int64")
                                 for f in parts])
            if release:
                _drop(parts, name)
            columns[name] = utc_index(ns[order])
            del ns
        elif name == "value":
            values = np.concatenate([f["value"].to_numpy("float64") for f in parts])
            if release:
                _drop(parts, name)
            columns[name] = values[order]
            del values
        else:
            cat = joined.pop(name)
            columns[name] = pd.Categorical.from_codes(cat.codes[order], cat.categories)
    return pd.DataFrame(columns, copy=False)


def _drop(frames: Sequence[pd.DataFrame], column: str) -> None:
    for frame in frames:
        if column in frame.columns:
            del frame[column]


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
