"""prometheus_client objects built from the catalogue, with cached label children and the
label guard: a bound on each value's length, on each label's distinct values and on each
metric's label combinations (series).

The hot path is one dict lookup keyed by the label tuple; validation (string values, the guard)
runs only the first time a tuple is seen. A value longer than the bound is cut to it, ending in
:data:`TRUNCATED` (``"…"``): label values come from agents, and one error message or prompt used
as a label would otherwise be kept whole in memory and sent with every scrape.

The per-label bound alone still lets combinations multiply (1,000 agents × 200 models is
200,000 series of one counter): beyond ``series_limit`` combinations a metric records every new
one in a single overflow series whose label values are all :data:`OVERFLOW`, and says so once.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import Any

import prometheus_client
from prometheus_client import CollectorRegistry

from agentinsight import catalog
from agentinsight.emit import _errors
from agentinsight.exceptions import ConfigurationError

OTHER = "other"
TRUNCATED = "…"
OVERFLOW = "__overflow__"

# How gauges combine across worker processes in prometheus_client's multiprocess mode.
_GAUGE_MODES = {
    "agent_active": "livesum",
    "task_queue_size": "livemostrecent",
    "database_connections": "livesum",
}


class LabelGuard:
    """Caps the distinct values of each label name; later new values become ``other``.

    ``max_length`` is the longest value kept whole (:meth:`bound` cuts longer ones).
    """

    def __init__(self, limit: int, max_length: int = 256, series_limit: int = 5000) -> None:
        self.limit = limit
        self.max_length = max_length
        self.series_limit = series_limit
        self._seen: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def admit(self, label: str, value: str) -> str:
        seen = self._seen.get(label)
        if seen is None:
            with self._lock:
                seen = self._seen.setdefault(label, set())
        if value in seen:
            return value
        with self._lock:
            if value in seen or len(seen) < self.limit:
                seen.add(value)
                return value
        _errors.warn_once(
            f"cardinality:{id(self)}:{label}",
            "agentinsight.emit: label %r has reached its limit of %d distinct values; new values "
            "are recorded as %r (raise label_value_limit in emit.configure() if this is expected)",
            label, self.limit, OTHER,
        )
        return OTHER

    def bound(self, label: str, value: str) -> str:
        """``value``, cut to ``max_length`` characters (the last one :data:`TRUNCATED`)."""
        if len(value) <= self.max_length:
            return value
        _errors.warn_once(
            f"length:{id(self)}:{label}",
            "agentinsight.emit: label %r got a value of %d characters starting %r; values longer "
            "than %d characters are truncated (raise label_value_length in emit.configure() if "
            "this is expected)", label, len(value), value[:40], self.max_length,
        )
        return value[:self.max_length - 1] + TRUNCATED


class Family:
    """One catalogue metric and its cached label children."""

    __slots__ = ("children", "guard", "labelnames", "lock", "metric", "name", "overflow")

    def __init__(self, metric: Any, name: str, labelnames: tuple[str, ...], guard: LabelGuard):
        self.metric = metric
        self.name = name
        self.labelnames = labelnames
        self.guard = guard
        self.children: dict[tuple, Any] = {}
        self.overflow = (OVERFLOW,) * len(labelnames)
        self.lock = threading.Lock()

    def child(self, key: tuple) -> Any:
        """The child for a label tuple, or ``None`` when the values are unusable."""
        found = self.children.get(key)
        if found is not None:
            return found
        return self._admit(key)

    def _admit(self, key: tuple) -> Any:
        for label, value in zip(self.labelnames, key, strict=True):
            if not isinstance(value, str):
                _errors.warn_once(
                    f"label-type:{id(self)}:{label}",
                    "agentinsight.emit: %s label %r got %r (%s), not a string; the observation is "
                    "dropped", self.name, label, value, type(value).__name__,
                )
                return None
        # A value cut short or replaced by ``other`` is cached under what was admitted only:
        # caching the raw key too would keep every distinct long or excess value in memory.
        admitted = tuple(
            self.guard.admit(label, self.guard.bound(label, value))
            for label, value in zip(self.labelnames, key, strict=True)
        )
        with self.lock:
            found = self.children.get(admitted)
            if found is not None:
                return found
            if self.labelnames and len(self.children) >= self.guard.series_limit:
                # Neither the raw nor the admitted key is cached: every excess combination
                # would otherwise stay in memory. Such observations take this slower path.
                admitted = self.overflow
                found = self.children.get(admitted)
                if found is None:
                    found = self.children[admitted] = self.metric.labels(*admitted)
                self._warn_overflow()
                return found
            found = self.children[admitted] = self.metric.labels(*admitted)
            return found

    def _warn_overflow(self) -> None:
        _errors.warn_once(
            f"series:{id(self)}", "agentinsight.emit: %s has reached its limit of %d label "
            "combinations; new combinations are recorded in one series whose label values are "
            "all %r (raise metric_series_limit in emit.configure() if this is expected)",
            self.name, self.guard.series_limit, OVERFLOW,
        )


class Metrics:
    """Every catalogue metric registered in one registry under one namespace."""

    def __init__(self, registry: CollectorRegistry, namespace: str, limit: int,
                 max_length: int = 256, series_limit: int = 5000) -> None:
        self.guard = LabelGuard(limit, max_length, series_limit)
        self.namespace = namespace
        self.families: dict[str, Family] = {}
        multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        for spec in catalog.METRICS:
            kwargs: dict[str, Any] = {
                "name": spec.base_name, "documentation": spec.help, "labelnames": spec.labels,
                "namespace": namespace, "registry": registry,
            }
            if spec.kind == "histogram":
                kwargs["buckets"] = spec.buckets
                cls: Any = prometheus_client.Histogram
            elif spec.kind == "counter":
                cls = prometheus_client.Counter
            elif spec.kind == "gauge":
                cls = prometheus_client.Gauge
                if multiprocess:
                    kwargs["multiprocess_mode"] = _GAUGE_MODES.get(spec.name, "livesum")
            else:
                cls = prometheus_client.Summary
            try:
                metric = cls(**kwargs)
            except ValueError as exc:
                raise ConfigurationError(
                    f"cannot register metric {spec.name!r} (namespace {namespace!r}) in the "
                    f"registry: {exc}; something else already registered that name"
                ) from exc
            self.families[spec.name] = Family(metric, spec.name, spec.labels, self.guard)

    def __getitem__(self, name: str) -> Family:
        return self.families[name]


# One Metrics per (registry, namespace): configure() may be called again with the same registry.
_built: weakref.WeakKeyDictionary[CollectorRegistry, dict[str, Metrics]] = (
    weakref.WeakKeyDictionary()
)
_built_lock = threading.Lock()


def metrics_for(registry: CollectorRegistry, namespace: str, limit: int,
                max_length: int = 256, series_limit: int = 5000) -> Metrics:
    """The catalogue's metrics in ``registry`` (built once per registry and namespace)."""
    with _built_lock:
        per_registry = _built.setdefault(registry, {})
        found = per_registry.get(namespace)
        if found is None:
            found = per_registry[namespace] = Metrics(
                registry, namespace, limit, max_length, series_limit)
        else:
            found.guard.limit = limit
            found.guard.max_length = max_length
            found.guard.series_limit = series_limit
        return found
