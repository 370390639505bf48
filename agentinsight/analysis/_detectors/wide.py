"""A metrics frame as a points × series matrix, built and scored in bounded memory.

A month of one-minute points for a thousand series is 43 million rows. The matrix itself
(points × series float64) is about the size of the frame's value column; what must not grow
with it are the temporaries. So the rows are read in chunks (series numbers from the label
columns' categorical codes, time numbers from the timestamps' grid, then one assignment per
chunk: no pivot, no sort of the whole frame), and ``column_blocks`` hands the detectors a few
hundred series at a time: every detector scores each series on its own, so a block's findings
are the findings of those series, and a block's temporaries stay a few hundred MiB however many
series the frame holds.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from agentinsight.exceptions import SchemaError

__all__ = ["BLOCK_CELLS", "column_blocks", "to_wide"]

#: Cells (points × series) the detectors score at once. The detectors make a few dozen
#: temporaries of a block's size each, so 2**21 cells (16 MiB a float64 array) keep them to a
#: few hundred MiB whatever the frame's size; larger blocks were no faster on 30 days of points.
BLOCK_CELLS = 1 << 21
_CHUNK_ROWS = 1 << 21  # rows of the long frame read at once
_MAX_GRID = 1 << 25  # largest regular time grid numbered with a lookup table


def column_blocks(rows: int, columns: int) -> list[slice]:
    """Consecutive column slices of at most ``BLOCK_CELLS`` cells (at least one column each).

    >>> column_blocks(10, 5)
    [slice(0, 5, None)]
    """
    width = max(1, BLOCK_CELLS // max(rows, 1))
    return [slice(c, min(c + width, columns)) for c in range(0, columns, width)]


def to_wide(frame: pd.DataFrame, labels: list[str]
            ) -> tuple[np.ndarray, pd.DatetimeIndex, list[dict[str, str]]]:
    """Points × series array on the sorted union of timestamps, with each series' labels.

    Series (distinct ``metric`` + label values, a missing label value counting as a value) are
    numbered in the order of their first row; a repeated (series, timestamp) keeps the value of
    its last row; infinite values become NaN.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([60.0, 0.0, 0.0, 0.0], "up", [4.0, 1.0, 2.0, 3.0],
    ...                   {"job": ["b", "b", "a", "b"]})
    >>> wide, index, keys = to_wide(f, ["job"])
    >>> wide.tolist(), keys
    ([[3.0, 2.0], [4.0, nan]], [{'__name__': 'up', 'job': 'b'}, {'__name__': 'up', 'job': 'a'}])
    """
    if frame["timestamp"].isna().any():
        raise SchemaError("metrics frame: column 'timestamp' has missing values")
    key_cols = ["metric", *labels]
    series_of, first = _series_numbers(frame, key_cols)
    stamps = pd.DatetimeIndex(frame["timestamp"]).as_unit("ns").asi8
    ts_uniques, time_of = _time_numbers(stamps)
    values = frame["value"].to_numpy(dtype=float)
    width = len(first)
    wide = np.full((len(ts_uniques), width), np.nan)
    flat = wide.reshape(-1)
    written = np.zeros(wide.size, dtype=bool)
    filled = 0
    for start in range(0, len(frame), _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, len(frame))
        cells = time_of(start, stop) * width + series_of(start, stop)
        chunk = values[start:stop]
        written[cells] = True
        now = int(np.count_nonzero(written))
        if now - filled < len(cells):  # a cell repeats, here or from an earlier chunk
            # numpy leaves the winner of a repeated fancy-index assignment unspecified: keep
            # the last (a later chunk overwrites an earlier one by itself)
            last = len(cells) - 1 - np.unique(cells[::-1], return_index=True)[1]
            cells, chunk = cells[last], chunk[last]
        filled = now
        flat[cells] = np.where(np.isfinite(chunk), chunk, np.nan)
    del written
    firsts = frame[key_cols].iloc[first].astype(object)
    keys = []
    for tup in firsts.itertuples(index=False, name=None):
        series = {"__name__": str(tup[0])}
        for label, value in zip(labels, tup[1:], strict=True):
            if value is not None and not (isinstance(value, float) and np.isnan(value)):
                series[label] = str(value)
        keys.append(series)
    index = pd.DatetimeIndex(pd.to_datetime(ts_uniques, utc=True).as_unit("ns"))
    return wide, index, keys


_Numbers = Callable[[int, int], np.ndarray]


def _series_numbers(frame: pd.DataFrame, key_cols: list[str]) -> tuple[_Numbers, np.ndarray]:
    """Series number of rows ``start:stop`` (in order of first appearance), and each series'
    first row.

    The key of a row is its categorical codes combined into one integer; while the key space is
    small (always, for real label sets) a lookup table numbers the keys without sorting or
    hashing the rows; otherwise pandas' groupby numbers them."""
    n = len(frame)
    codes = [np.asarray(frame[col].array.codes) for col in key_cols]
    sizes = [len(frame[col].cat.categories) + 1 for col in key_cols]  # + 1: missing (code -1)
    space = 1
    for size in sizes:
        space *= size
    if space > min(_MAX_GRID, max(4 * n, 1 << 16)):
        numbers = frame.groupby(key_cols, observed=True, sort=False, dropna=False).ngroup()
        numbers = numbers.to_numpy()
        _, first = np.unique(numbers, return_index=True)  # group g's first row is first[g]
        return (lambda start, stop: numbers[start:stop]), first

    def key(start: int, stop: int) -> np.ndarray:
        out = np.zeros(stop - start, dtype=np.int64)
        for part, size in zip(codes, sizes, strict=True):
            out *= size
            out += part[start:stop]
            out += 1
        return out

    first_row = np.full(space, n, dtype=np.int64)
    for start in range(0, n, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, n)
        np.minimum.at(first_row, key(start, stop), np.arange(start, stop))
    used = np.flatnonzero(first_row < n)
    used = used[np.argsort(first_row[used], kind="stable")]
    number = np.zeros(space, dtype=np.int64)
    number[used] = np.arange(len(used))
    return (lambda start, stop: number[key(start, stop)]), first_row[used]


def _time_numbers(stamps: np.ndarray) -> tuple[np.ndarray, _Numbers]:
    """The sorted distinct timestamps, and the position among them of rows ``start:stop``.

    Timestamps on a regular grid (a range query's step, a scrape interval) are numbered by
    arithmetic; others by a binary search among the distinct ones."""
    n = len(stamps)
    if not n:
        return stamps[:0], lambda start, stop: np.zeros(0, dtype=np.int64)
    lo, hi = int(stamps.min()), int(stamps.max())
    step = 0
    for start in range(0, n, _CHUNK_ROWS):
        step = int(np.gcd(step, np.gcd.reduce(stamps[start:start + _CHUNK_ROWS] - lo)))
    step = step or 1
    grid = (hi - lo) // step + 1
    if grid <= min(_MAX_GRID, max(4 * n, 1 << 16)):
        seen = np.zeros(grid, dtype=bool)
        for start in range(0, n, _CHUNK_ROWS):
            seen[(stamps[start:start + _CHUNK_ROWS] - lo) // step] = True
        rank = np.cumsum(seen, dtype=np.int64) - 1
        uniques = lo + step * np.flatnonzero(seen).astype(np.int64)
        return uniques, lambda start, stop: rank[(stamps[start:stop] - lo) // step]
    uniques = np.unique(stamps[:_CHUNK_ROWS])
    for start in range(_CHUNK_ROWS, n, _CHUNK_ROWS):
        uniques = np.union1d(uniques, stamps[start:start + _CHUNK_ROWS])
    return uniques, lambda start, stop: np.searchsorted(uniques, stamps[start:stop])
