"""Record a prometheus_client registry at every scrape and write it as timestamped OpenMetrics.

A week at a 60 s scrape interval is ten thousand scrapes of about a thousand series, so both
halves are built for speed:

* ``Recorder.scrape`` reads the current value of every series straight from the registry's metric
  objects (the numbers ``registry.collect()`` would report, without building a ``Sample`` per
  series) and appends them to one flat row. Collectors that are not prometheus_client metric
  objects go through ``collect()``.
* ``Recorder.write`` lays the rows out as OpenMetrics: one MetricFamily block per metric, inside it
  one label set after another, and for each label set its MetricPoints in time order (a
  histogram's ``_bucket`` lines, ``_count`` and ``_sum`` together at each timestamp), ending with
  ``# EOF`` — the layout the OpenMetrics specification and ``promtool tsdb
  create-blocks-from openmetrics`` require. Numbers are formatted a column at a time; series keys
  and numbers are spelled by :mod:`agentinsight.formats.openmetrics`, whose parser reads them.

``_created`` samples and exemplars are not written: promtool's backfill ignores both.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from itertools import accumulate, chain, repeat
from typing import IO, Any

import numpy as np
import pandas as pd
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.values import MutexValue

from agentinsight.formats.openmetrics import (
    EOF,
    Samples,
    family_header,
    format_float,
    format_timestamps,
    format_values,
    parse_series_key,
    series_key,
)

__all__ = ["Recorder"]

_FAST_TYPES = ("counter", "gauge", "histogram", "summary")


class _Family:
    __slots__ = ("name", "type", "help", "groups")

    def __init__(self, name: str, type_: str, help_: str) -> None:
        self.name = name
        self.type = type_
        self.help = help_
        # label set key -> list of (series index, sample line prefix)
        self.groups: dict[tuple[str, ...], list[tuple[int, str]]] = {}


class _FastCollector:
    """Reads one prometheus_client metric object's children directly."""

    __slots__ = ("metric", "family", "known", "readers")

    def __init__(self, metric: MetricWrapperBase, family: _Family) -> None:
        self.metric: Any = metric  # read through prometheus_client's private attributes
        self.family = family
        self.known = 0
        # (index of the child's first series, number of series, value reader)
        self.readers: list[tuple[int, int, Callable[[], list[float]]]] = []

    def children(self) -> list[tuple[tuple[str, ...], Any]]:
        metric = self.metric
        if not metric._labelnames:
            return [((), metric)]
        with metric._lock:
            return list(metric._metrics.items())


def _reader(kind: str, child: Any) -> Callable[[], list[float]]:
    # prometheus_client's in-process values keep a plain float in ``_value`` (``get()`` only adds
    # a lock, and nothing else writes while the simulator scrapes); others are asked politely.
    if kind in ("counter", "gauge"):
        value = child._value
        if type(value) is MutexValue:
            return lambda: [value._value]
        return lambda: [value.get()]
    if kind == "summary":
        count, total = child._count, child._sum
        return lambda: [count.get(), total.get()]
    buckets, total = child._buckets, child._sum
    if all(type(b) is MutexValue for b in buckets) and type(total) is MutexValue:
        def read_histogram() -> list[float]:
            out = list(accumulate([b._value for b in buckets]))
            out.append(out[-1])
            out.append(total._value)
            return out
    else:
        def read_histogram() -> list[float]:
            out = list(accumulate([b.get() for b in buckets]))
            out.append(out[-1])
            out.append(total.get())
            return out

    return read_histogram


class Recorder:
    """Snapshots ``registry`` at each ``scrape(t)``; ``write(fh)`` emits the OpenMetrics text.

    >>> from prometheus_client import CollectorRegistry, Counter
    >>> import io
    >>> reg = CollectorRegistry()
    >>> c = Counter("jobs", "Jobs done.", ["queue"], registry=reg)
    >>> rec = Recorder(reg)
    >>> c.labels("a").inc(); rec.scrape(60)
    >>> c.labels("a").inc(); rec.scrape(120)
    >>> out = io.StringIO(); _ = rec.write(out); print(out.getvalue(), end="")
    # HELP jobs Jobs done.
    # TYPE jobs counter
    jobs_total{queue="a"} 1 60
    jobs_total{queue="a"} 2 120
    # EOF
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.times: list[float] = []
        self.rows: list[array] = []
        self._families: dict[str, _Family] = {}
        self._fast: dict[int, _FastCollector] = {}
        self._slow_index: dict[tuple[str, str, tuple[tuple[str, str], ...]], int] = {}
        self._nseries = 0

    # -- scraping -------------------------------------------------------------------------------
    def _family(self, name: str, type_: str, help_: str) -> _Family:
        fam = self._families.get(name)
        if fam is None:
            fam = self._families[name] = _Family(name, type_, help_)
        return fam

    def _new_series(self, fam: _Family, key: tuple[str, ...], prefix: str) -> int:
        idx = self._nseries
        self._nseries += 1
        fam.groups.setdefault(key, []).append((idx, prefix))
        return idx

    def _add_fast_child(self, fc: _FastCollector, labelvalues: tuple[str, ...], child: Any) -> None:
        metric: Any = fc.metric
        fam = fc.family
        pairs = list(zip(metric._labelnames, labelvalues, strict=True))
        kind = metric._type
        if kind == "counter":
            suffixes = [("_total", pairs)]
        elif kind == "gauge":
            suffixes = [("", pairs)]
        elif kind == "summary":
            suffixes = [("_count", pairs), ("_sum", pairs)]
        else:
            suffixes = [
                ("_bucket", [*pairs, ("le", format_float(b))]) for b in metric._upper_bounds
            ]
            suffixes += [("_count", pairs), ("_sum", pairs)]
        for suffix, lp in suffixes:
            self._new_series(fam, labelvalues, series_key(fam.name + suffix, lp) + " ")
        fc.readers.append((self._nseries - len(suffixes), len(suffixes), _reader(kind, child)))

    def scrape(self, t: float) -> None:
        """Record every series' current value at time ``t`` (epoch seconds)."""
        with self.registry._lock:
            collectors = list(self.registry._collector_to_names)
        slow: list[Any] = []
        found: list[tuple[int, int, Callable[[], list[float]]]] = []
        for collector in collectors:
            if isinstance(collector, MetricWrapperBase) and collector._type in _FAST_TYPES:
                fc = self._fast.get(id(collector))
                if fc is None:
                    fam = self._family(collector._name, collector._type, collector._documentation)
                    fc = self._fast[id(collector)] = _FastCollector(collector, fam)
                children = fc.children()
                if len(children) != fc.known:
                    for labelvalues, child in children[fc.known:]:
                        self._add_fast_child(fc, labelvalues, child)
                    fc.known = len(children)
                found.extend(fc.readers)
            else:
                slow.append(collector)
        row = [math.nan] * self._nseries
        for first, n, read in found:
            row[first:first + n] = read()
        values = array("d", row)
        if slow:
            values = self._scrape_slow(slow, values)
        self.times.append(t)
        self.rows.append(values)

    def _scrape_slow(self, collectors: list[Any], values: array) -> array:
        # Series seen through collect() may come and go; a missing one is NaN (not written).
        pending: dict[int, float] = {}
        for collector in collectors:
            for fam_m in collector.collect():
                fam = self._family(fam_m.name, fam_m.type, fam_m.documentation)
                for s in fam_m.samples:
                    if s.name.endswith("_created"):
                        continue
                    key = (fam.name, s.name, tuple(sorted(s.labels.items())))
                    idx = self._slow_index.get(key)
                    if idx is None:
                        group = (s.name, *(f"{k}={v}" for k, v in key[2]))
                        prefix = series_key(s.name, key[2]) + " "
                        idx = self._slow_index[key] = self._new_series(fam, group, prefix)
                    pending[idx] = s.value
        if pending:
            top = max(max(pending) + 1, len(values))
            values.extend([math.nan] * (top - len(values)))
            for idx, v in pending.items():
                values[idx] = v
        return values

    # -- writing --------------------------------------------------------------------------------
    def _matrix(self) -> np.ndarray:
        m = np.full((len(self.rows), self._nseries), np.nan)
        for k, row in enumerate(self.rows):
            if len(row):
                m[k, : len(row)] = np.frombuffer(row, dtype=np.float64)
        return np.asfortranarray(m)

    def samples(self) -> tuple[Samples, dict[str, str]]:
        """The recorded samples as ``FileSource`` holds them after parsing :meth:`write`'s text:
        the same series, times and values, so the parsed copy can be written without parsing."""
        matrix = self._matrix()
        t_ms = np.round(np.asarray(self.times, dtype=np.float64) * 1000.0).astype(np.int64)
        label_rows: list[dict[str, str]] = []
        offsets = [0]
        ts: list[np.ndarray] = []
        vs: list[np.ndarray] = []
        types: dict[str, str] = {}
        for fam in self._families.values():
            if not fam.groups:
                continue
            types[fam.name] = fam.type
            for key in sorted(fam.groups):
                series = fam.groups[key]
                present = np.ones(matrix.shape[0], bool)
                for idx, _ in series:  # a label set is written only where all its series are
                    present &= ~np.isnan(matrix[:, idx])
                rows = np.flatnonzero(present)
                if rows.size == 0:
                    continue
                for idx, prefix in series:
                    label_rows.append(parse_series_key(prefix.strip()) or {})
                    ts.append(t_ms[rows])
                    vs.append(matrix[rows, idx])
                    offsets.append(offsets[-1] + rows.size)
        labels = pd.DataFrame(label_rows) if label_rows else pd.DataFrame({"__name__": []})
        t = np.concatenate(ts) if ts else np.zeros(0, np.int64)
        v = np.concatenate(vs) if vs else np.zeros(0)
        return Samples(labels, np.asarray(offsets, np.int64), t, v), types

    def write(self, fh: IO[str]) -> int:
        """Write the OpenMetrics text to ``fh``; returns the number of sample lines written."""
        matrix = self._matrix()
        ends_all = [f" {t}\n" for t in format_timestamps(self.times)]
        lines = 0
        for fam in self._families.values():
            if not fam.groups:
                continue
            fh.write(family_header(fam.name, fam.type, fam.help))
            for key in sorted(fam.groups):
                series = fam.groups[key]
                cols = [matrix[:, idx] for idx, _ in series]
                present = ~np.isnan(cols[0])
                for col in cols[1:]:
                    present &= ~np.isnan(col)
                rows = np.flatnonzero(present)
                if rows.size == 0:
                    continue
                ends = ends_all if rows.size == len(ends_all) else [ends_all[r] for r in rows]
                # one (prefix, value, " ts\n") triple per line, joined in C
                triples = [
                    zip(repeat(prefix), map(str, format_values(col[rows])), ends)
                    for (_, prefix), col in zip(series, cols, strict=True)
                ]
                if len(triples) == 1:
                    pieces = chain.from_iterable(triples[0])
                else:  # a histogram label set: each timestamp's buckets, _count, _sum together
                    pieces = chain.from_iterable(chain.from_iterable(zip(*triples, strict=True)))
                fh.write("".join(pieces))
                lines += rows.size * len(series)
        fh.write(EOF)
        return lines

