"""Prometheus HTTP API results (``matrix``/``vector``/``scalar``) into the metrics frame.

The JSON decoder turns each series' points into two numpy arrays (int64 epoch ns, float64) as
soon as that series has been decoded (:func:`decode_answer`), so an answer never exists as
millions of Python lists, floats and strings at once — ``MetricRangeDataFrame`` builds a dict per
point, which is what makes it slow and large. An answer becomes a :class:`Part` (labels per
series, the points as flat arrays, about 16 bytes a point) and parts become the frame in one
pass (:func:`join_parts`): the output arrays are filled part by part, each label a categorical
built from per-series codes, and a long pull's chunks are released as they are copied, so its
peak memory stays near the size of its frame.

A "success" answer whose points are not numbers or whose shape is not the API's raises
:class:`~agentinsight.exceptions.ServerError`, never a bare ``ValueError``.

Native histograms (``histogram``/``histograms`` instead of ``value``/``values``) are not turned
into buckets: their observation count and sum become ``<name>_count`` and ``<name>_sum`` rows,
with a warning.
"""

from __future__ import annotations

import json
import mmap
import warnings
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.exceptions import ServerError
from agentinsight.frames import empty_metrics_frame

__all__ = ["Part", "answer_part", "decode_answer", "join_parts", "result_frame", "series_keys",
           "utc_index"]


def series_keys(result: Sequence[dict[str, Any]]) -> list[str]:
    """A stable identity per series (its sorted label set), equal across chunked requests."""
    return [json.dumps(s.get("metric") or {}, sort_keys=True) for s in result]


class Part:
    """One answer's series as compact arrays: per series its labels and point count, and all
    its points' times (int64 epoch ns) and values (float64) one series after the other.

    About 16 bytes a point, against ~170 for the decoded JSON: a long pull keeps these and
    joins them once (:func:`join_parts`)."""

    __slots__ = ("lengths", "metas", "name", "stamps", "values")

    def __init__(self, name: str, metas: list[dict[str, Any]], lengths: np.ndarray,
                 stamps: np.ndarray, values: np.ndarray) -> None:
        self.name = name
        self.metas = metas
        self.lengths = lengths
        self.stamps = stamps
        self.values = values

    @property
    def rows(self) -> int:
        """Points held."""
        return len(self.values)

    def release(self) -> None:
        """Drop the arrays (after they have been copied)."""
        self.stamps = self.values = np.empty(0)
        self.lengths = np.zeros(0, "int64")
        self.metas = []


class _Series:
    """One series converted while the JSON is decoded (see :func:`decode_answer`)."""

    __slots__ = ("meta", "stamps", "values")

    def __init__(self, meta: Any, points: list[Any]) -> None:
        n = len(points)
        seconds = np.fromiter(map(itemgetter(0), points), dtype="float64", count=n)
        # float() parses Prometheus' "NaN", "+Inf" and "-Inf" too
        self.values = np.fromiter(map(float, map(itemgetter(1), points)), dtype="float64",
                                  count=n)
        seconds *= 1e3
        np.round(seconds, out=seconds)
        self.stamps = seconds.astype("int64")
        self.stamps *= 1_000_000
        self.meta = meta


def _series_hook(obj: dict[str, Any]) -> Any:
    # Called by the JSON decoder for every object, innermost first: a series' points become
    # two arrays as soon as the series is decoded, so a chunk's answer never exists as
    # millions of Python lists, floats and strings at once. Label sets (whose values are
    # strings) and the envelope pass through unchanged.
    points = obj.get("values")
    if not isinstance(points, list):
        point = obj.get("value")
        if not isinstance(point, list):
            return obj
        points = [point]
    try:
        return _Series(obj.get("metric"), points)
    except (ValueError, TypeError, IndexError) as exc:
        raise ServerError(_BAD_POINT.format(exc)) from None


_BAD_POINT = "the answer holds a point that is not [time, \"number\"] ({})"


def decode_answer(content: bytes | str) -> Any:
    """An API answer decoded from JSON, each series' points already arrays (for
    :func:`answer_part`). A point that is not ``[time, "number"]`` raises
    :class:`~agentinsight.exceptions.ServerError`; text that is not JSON, ``ValueError``.

    >>> body = decode_answer(b'{"status": "success", "data": {"resultType": "matrix", '
    ...     b'"result": [{"metric": {"job": "a"}, "values": [[0, "1"], [15, "2"]]}]}}')
    >>> answer_part(body["data"], "up").values.tolist()
    [1.0, 2.0]
    """
    return json.loads(content, object_hook=_series_hook)


def answer_part(data: dict[str, Any], name: str, *, mapped: bool = False) -> Part:
    """The :class:`Part` of a ``/api/v1/query(_range)`` ``data`` object (decoded by
    :func:`decode_answer` or plain ``json``). ``name`` is the metric name for series without
    ``__name__`` (expression results). ``mapped`` keeps large arrays in their own memory maps
    (for the chunks of a long pull, see :func:`_array`)."""
    try:
        return _answer_part(data, name, mapped)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise ServerError(_BAD_POINT.format(exc)) from None


def _answer_part(data: dict[str, Any], name: str, mapped: bool) -> Part:
    kind = data.get("resultType")
    result = data.get("result")
    if (kind == "scalar" or kind == "string") and isinstance(result, list):
        t, v = result
        result = [_Series({}, [[t, v]])]
        kind = "vector"
    if kind not in ("matrix", "vector") or not isinstance(result, list):
        raise ServerError(f"unexpected result type {kind!r} in the server's answer")
    series: list[_Series] = []
    natives = []
    for s in result:
        if isinstance(s, dict):
            if "histograms" in s or "histogram" in s:
                natives.append(s)
                continue
            if "values" not in s and "value" not in s:
                continue
            s = _series_hook(s)
            if not isinstance(s, _Series):
                raise ServerError(_BAD_POINT.format("no list of points"))
        elif not isinstance(s, _Series):
            raise ServerError("a series in the answer is not a JSON object")
        series.append(s)
    if natives:
        series += [_series_hook(s) for s in _native_as_floats(natives, name)]
    metas = []
    for s in series:
        meta = s.meta or {}
        if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
            raise ServerError("a series' labels in the answer are not strings")
        metas.append(meta)
    lengths = np.fromiter((len(s.values) for s in series), dtype="int64", count=len(series))
    n = int(lengths.sum())
    stamps = np.concatenate([s.stamps for s in series], out=_array(n, "int64", mapped)) \
        if n else np.zeros(0, "int64")
    values = np.concatenate([s.values for s in series], out=_array(n, "float64", mapped)) \
        if n else np.zeros(0)
    return Part(name, metas, lengths, stamps, values)


def _array(n: int, dtype: str, mapped: bool, *, huge: bool = True) -> np.ndarray:
    """An empty array; with ``mapped``, a large one in its own anonymous memory map, so that
    releasing it gives the memory back at once. (Freed heap blocks are kept while later blocks
    sit above them: a long pull's chunks, released one by one while the frame is filled, would
    all stay resident until the last one goes.) ``huge=False`` keeps the map in small pages,
    so that only the pages written to are resident."""
    size = n * np.dtype(dtype).itemsize
    if not mapped or size < _MAPPED:
        return np.empty(n, dtype)
    memory = mmap.mmap(-1, size)
    if not huge and hasattr(mmap, "MADV_NOHUGEPAGE"):
        memory.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(memory, dtype=dtype)


_MAPPED = 1 << 16  # bytes from which a part's array is mapped


def result_frame(data: dict[str, Any], name: str, *, dedupe: bool = False) -> pd.DataFrame:
    """The metrics frame of a ``/api/v1/query(_range)`` ``data`` object.

    ``name`` is the metric name for series without ``__name__`` (expression results).
    ``dedupe`` sorts by series and time and drops repeated points (for joined chunks).

    >>> f = result_frame({"resultType": "matrix", "result": [{"metric": {"__name__": "up",
    ...     "job": "a"}, "values": [[0, "1"], [15, "1"]]}]}, "up")
    >>> f["value"].tolist(), f["job"].tolist()
    ([1.0, 1.0], ['a', 'a'])
    """
    part = answer_part(data, name)
    if not dedupe or not part.rows:
        return join_parts([part])
    keys = series_keys([{"metric": m} for m in part.metas])
    sid = np.repeat(pd.factorize(pd.Series(keys))[0], part.lengths)
    order = np.lexsort((part.stamps, sid))
    keep = np.ones(len(order), bool)
    keep[1:] = ((sid[order][1:] != sid[order][:-1])
                | (part.stamps[order][1:] != part.stamps[order][:-1]))
    return join_parts([part]).take(order[keep]).reset_index(drop=True)


def join_parts(parts: Sequence[Part], *, release: bool = False) -> pd.DataFrame:
    """The parts of one pull as one metrics frame.

    One part keeps the server's order of series. Several parts (the chunks of one grid in time
    order, or disjoint sets of series; no point in two parts) are ordered by series — by their
    labels' codes, each label's values numbered in order of first appearance — then time. The
    output arrays are filled part by part; with ``release`` each part's arrays are dropped as
    soon as they have been copied, so the parts and the result are not both held whole.

    >>> a = answer_part({"resultType": "matrix", "result": [{"metric": {"job": "a"},
    ...     "values": [[0, "1"]]}, {"metric": {"job": "b"}, "values": [[0, "2"]]}]}, "up")
    >>> b = answer_part({"resultType": "matrix", "result": [{"metric": {"job": "b"},
    ...     "values": [[15, "3"]]}]}, "up")
    >>> f = join_parts([a, b])
    >>> f["job"].tolist(), f["value"].tolist()
    (['a', 'b', 'b'], [1.0, 2.0, 3.0])
    """
    parts = [p for p in parts if p.rows]
    if not parts:
        return empty_metrics_frame()
    columns = ["metric", *dict.fromkeys(label for p in parts for meta in p.metas
                                        for label in meta if label not in _RESERVED)]
    numbers: list[dict[str, int]] = [{} for _ in columns]
    merge = len(parts) > 1
    segment: dict[tuple[int, ...], int] = {}
    keys: list[tuple[int, ...]] = []
    where: list[list[int]] = []  # each part's series -> its segment of the output
    # pandas keeps object categories when every part holds the same values of a label, and
    # infers their dtype otherwise: the frame is the same as joining the parts' own frames
    same = [True] * len(columns)
    values_of: list[set[int]] | None = None
    for p in parts:
        found = []
        seen: list[set[int]] = [set() for _ in columns]
        for meta in p.metas:
            key = tuple(_number(numbers[i], meta.get("__name__", p.name) if column == "metric"
                                else meta.get(column)) for i, column in enumerate(columns))
            for i, code in enumerate(key):
                seen[i].add(code)
            at = segment.get(key) if merge else None
            if at is None:
                at = len(keys)
                keys.append(key)
                if merge:
                    segment[key] = at
            found.append(at)
        where.append(found)
        seen = [codes - {-1} for codes in seen]
        if values_of is not None:
            same = [a and b == c for a, b, c in zip(same, seen, values_of, strict=True)]
        values_of = seen
    sizes = np.zeros(len(keys), "int64")
    for p, found in zip(parts, where, strict=True):
        np.add.at(sizes, np.asarray(found, "int64"), p.lengths)
    order = (sorted(range(len(keys)), key=lambda k: tuple(c + 1 for c in keys[k])) if merge
             else list(range(len(keys))))
    first = np.zeros(len(keys), "int64")
    first[order] = np.cumsum(sizes[order]) - sizes[order]
    total = int(sizes.sum())
    # Each part writes a little into every series' stretch of the output: in huge pages
    # (which numpy asks for on large arrays) the first part alone would make it all resident
    stamps = _array(total, "int64", release, huge=False)
    values = _array(total, "float64", release, huge=False)
    cursor = first.copy()
    for p, found in zip(parts, where, strict=True):
        ends = np.cumsum(p.lengths)
        for at, end, length in zip(found, ends.tolist(), p.lengths.tolist(), strict=True):
            dest = int(cursor[at])
            stamps[dest:dest + length] = p.stamps[end - length:end]
            values[dest:dest + length] = p.values[end - length:end]
            cursor[at] = dest + length
        if release:
            p.release()
    out: dict[str, Any] = {"timestamp": utc_index(stamps)}
    del stamps
    run = sizes[order]
    for i, column in enumerate(columns):
        codes = np.array([keys[k][i] for k in order], dtype=_code_type(len(numbers[i])))
        categories = pd.Index(list(numbers[i]), dtype=object if same[i] else None)
        out[column] = pd.Categorical.from_codes(np.repeat(codes, run), categories=categories)
        if column == "metric":
            out["value"] = values
    return pd.DataFrame(out, copy=False)


_RESERVED = frozenset({"__name__", "metric", "timestamp", "value"})


def _number(numbers: dict[str, int], value: str | None) -> int:
    if value is None:
        return -1
    return numbers.setdefault(value, len(numbers))


def _code_type(categories: int) -> str:
    return "int8" if categories < 2**7 else "int16" if categories < 2**15 else "int32"


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


def utc_index(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from int64 epoch nanoseconds, without a copy through Python objects."""
    return pd.DatetimeIndex(np.asarray(ns, dtype="int64").view("datetime64[ns]"),
                            dtype="datetime64[ns, UTC]", copy=False)
