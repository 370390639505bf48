"""The canonical frames: the shapes every source returns and every analysis accepts.

Three frames flow through the toolkit. Sources build them, analysis/plots/alerts consume them, and
nothing downstream of this module knows which source a frame came from.

metrics frame (long / tidy)
    ``timestamp`` datetime64[ns, UTC], ``metric`` category, ``value`` float64, then one
    category column per label (``agent``, ``model``, ...). A label a series lacks is ``NaN``.

spans frame
    ``trace_id``, ``span_id``, ``parent_span_id`` (lower-case hex strings; ``""`` for roots),
    ``service``, ``name``, ``kind`` (internal/server/client/producer/consumer),
    ``start``, ``end`` (datetime64[ns, UTC]), ``duration_ms`` float64,
    ``status`` (``ok``/``error``/``unset``), ``status_message``,
    promoted GenAI columns ``agent``, ``operation``, ``provider``, ``model``, ``tool`` (str or
    ``None``), ``input_tokens``, ``output_tokens``, ``cache_read_tokens``, ``cache_write_tokens``,
    ``reasoning_tokens`` (float64, ``NaN`` where the span carries no such attribute), and
    ``attributes`` (dict of every other span attribute). Token columns follow the GenAI
    convention: input includes cache reads and writes; reasoning is part of output.

findings frame
    One row per anomaly finding: ``fingerprint`` (stable hash of detector + series + window
    start), ``detector``, ``series`` (dict of the series' labels, ``__name__`` for the metric),
    ``start``, ``end`` (datetime64[ns, UTC]), ``score`` float64 in [0, 1], ``severity``
    (``info``/``warning``/``critical``), ``observed``, ``expected`` (float64), ``summary`` str,
    ``trace_ids`` (list of hex strings, possibly empty).

Empty results are empty frames with these columns, never exceptions. Extra columns are allowed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from agentinsight import semconv
from agentinsight.exceptions import SchemaError

__all__ = [
    "FINDINGS_COLUMNS",
    "METRICS_COLUMNS",
    "SEVERITIES",
    "SPANS_COLUMNS",
    "SPAN_STATUSES",
    "TOKEN_COLUMNS",
    "empty_findings_frame",
    "empty_metrics_frame",
    "empty_spans_frame",
    "finding_fingerprint",
    "label_columns",
    "metrics_frame",
    "utc_from_ns",
    "utc_timestamp",
    "validate_findings_frame",
    "validate_metrics_frame",
    "validate_spans_frame",
]

UTC_NS = "datetime64[ns, UTC]"


def utc_timestamp(value: Any) -> pd.Timestamp:
    """``value`` as a UTC ``pandas.Timestamp``; a naive time is UTC, never local time.

    Raises pandas' own ``ValueError``/``TypeError`` for what is not a time (callers say where it
    came from).

    >>> utc_timestamp("2026-01-01 12:00+02:00")
    Timestamp('2026-01-01 10:00:00+0000', tz='UTC')
    >>> utc_timestamp(pd.Timestamp("2026-01-01"))
    Timestamp('2026-01-01 00:00:00+0000', tz='UTC')
    """
    stamp = pd.Timestamp(value)
    if stamp is pd.NaT:
        return stamp
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def utc_from_ns(ns: Any) -> pd.DatetimeIndex:
    """Epoch nanoseconds (an int64 array) as a UTC ``DatetimeIndex``, without copying.

    >>> utc_from_ns(np.array([0, 1_500_000_000], dtype=np.int64))[1]
    Timestamp('1970-01-01 00:00:01.500000+0000', tz='UTC')
    """
    return pd.DatetimeIndex(np.asarray(ns, dtype=np.int64).view("datetime64[ns]"), dtype=UTC_NS,
                            copy=False)

METRICS_COLUMNS = ("timestamp", "metric", "value")

TOKEN_COLUMNS = semconv.TOKEN_FIELDS
GENAI_COLUMNS = ("agent", "operation", "provider", "model", "tool")
SPANS_COLUMNS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "service",
    "name",
    "kind",
    "start",
    "end",
    "duration_ms",
    "status",
    "status_message",
    *GENAI_COLUMNS,
    *TOKEN_COLUMNS,
    "attributes",
)
SPAN_STATUSES = ("ok", "error", "unset")

FINDINGS_COLUMNS = (
    "fingerprint",
    "detector",
    "series",
    "start",
    "end",
    "score",
    "severity",
    "observed",
    "expected",
    "summary",
    "trace_ids",
)
SEVERITIES = ("info", "warning", "critical")

_SPAN_DTYPES: dict[str, str] = {
    "start": UTC_NS,
    "end": UTC_NS,
    "duration_ms": "float64",
    **{c: "float64" for c in TOKEN_COLUMNS},
}
_FINDING_DTYPES = {"start": UTC_NS, "end": UTC_NS, "score": "float64", "observed": "float64",
                   "expected": "float64"}


# --- metrics -------------------------------------------------------------------------------------


def empty_metrics_frame(labels: Iterable[str] = ()) -> pd.DataFrame:
    """An empty metrics frame with the required columns (and the given label columns)."""
    frame = pd.DataFrame(
        {
            "timestamp": pd.Series([], dtype=UTC_NS),
            "metric": pd.Series([], dtype="category"),
            "value": pd.Series([], dtype="float64"),
        }
    )
    for label in labels:
        frame[label] = pd.Series([], dtype="category")
    return frame


def metrics_frame(
    timestamps: Any, metric: Any, values: Any, labels: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Build a metrics frame from column arrays, coercing dtypes to the contract.

    ``timestamps`` may be epoch seconds (float), epoch nanoseconds (int64) or datetimes.

    >>> f = metrics_frame([0.0, 15.0], "up", [1, 1], {"job": ["a", "a"]})
    >>> list(f.columns), str(f["timestamp"].dtype)
    (['timestamp', 'metric', 'value', 'job'], 'datetime64[ns, UTC]')
    """
    ts = np.asarray(timestamps)
    if ts.dtype.kind == "f":
        stamp = pd.to_datetime(np.round(ts * 1e9).astype("int64"), utc=True)
    elif ts.dtype.kind in "iu":
        stamp = pd.to_datetime(ts.astype("int64"), utc=True)
    else:
        stamp = pd.to_datetime(ts, utc=True)
    n = len(stamp)
    metric_col = (
        pd.Categorical([metric] * n) if isinstance(metric, str) else pd.Categorical(metric)
    )
    data: dict[str, Any] = {
        "timestamp": pd.DatetimeIndex(stamp).astype(UTC_NS),
        "metric": metric_col,
        "value": np.asarray(values, dtype="float64"),
    }
    for name, col in (labels or {}).items():
        data[name] = pd.Categorical([col] * n) if isinstance(col, str) else pd.Categorical(col)
    return pd.DataFrame(data)


def label_columns(frame: pd.DataFrame) -> list[str]:
    """The label columns of a metrics frame (everything but timestamp, metric and value)."""
    return [c for c in frame.columns if c not in METRICS_COLUMNS]


def validate_metrics_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a metrics frame against the contract; return it unchanged or raise SchemaError."""
    _require(frame, METRICS_COLUMNS, "metrics")
    _require_dtype(frame, "timestamp", UTC_NS, "metrics")
    _require_dtype(frame, "value", "float64", "metrics")
    for col in ["metric", *label_columns(frame)]:
        if not isinstance(frame[col].dtype, pd.CategoricalDtype):
            raise SchemaError(
                f"metrics frame: column {col!r} must be categorical, got {frame[col].dtype}"
            )
    return frame


# --- spans ---------------------------------------------------------------------------------------


def empty_spans_frame() -> pd.DataFrame:
    """An empty spans frame with every contract column and its dtype."""
    return pd.DataFrame(
        {c: pd.Series([], dtype=_SPAN_DTYPES.get(c, "object")) for c in SPANS_COLUMNS}
    )


def validate_spans_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a spans frame against the contract; return it unchanged or raise SchemaError."""
    _require(frame, SPANS_COLUMNS, "spans")
    for col, dtype in _SPAN_DTYPES.items():
        _require_dtype(frame, col, dtype, "spans")
    if len(frame):
        bad = set(frame["status"].unique()) - set(SPAN_STATUSES)
        if bad:
            raise SchemaError(f"spans frame: column 'status' has values {sorted(bad)}, "
                              f"expected {SPAN_STATUSES}")
        if frame["parent_span_id"].isna().any():
            raise SchemaError("spans frame: column 'parent_span_id' must be '' for roots, not NaN")
    return frame


# --- findings ------------------------------------------------------------------------------------


def empty_findings_frame() -> pd.DataFrame:
    """An empty findings frame with every contract column and its dtype."""
    return pd.DataFrame(
        {c: pd.Series([], dtype=_FINDING_DTYPES.get(c, "object")) for c in FINDINGS_COLUMNS}
    )


def finding_fingerprint(detector: str, series: Mapping[str, Any], start: Any) -> str:
    """Stable 16-hex-digit hash of detector + series labels + window start.

    The same finding computed twice (in a notebook, a scheduled report, a re-push of alerts)
    gets the same fingerprint, so it is de-duplicated downstream.

    >>> a = finding_fingerprint("seasonal", {"agent": "planner"}, "2026-01-01T00:00:00Z")
    >>> a == finding_fingerprint("seasonal", {"agent": "planner"}, "2026-01-01 00:00:00+00:00")
    True
    >>> len(a)
    16
    """
    stamp = utc_timestamp(start)
    key = json.dumps(
        [detector, sorted((str(k), str(v)) for k, v in series.items()), stamp.isoformat()],
        separators=(",", ":"),
    )
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def validate_findings_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a findings frame against the contract; return it unchanged or raise SchemaError."""
    _require(frame, FINDINGS_COLUMNS, "findings")
    for col, dtype in _FINDING_DTYPES.items():
        _require_dtype(frame, col, dtype, "findings")
    if len(frame):
        bad = set(frame["severity"].unique()) - set(SEVERITIES)
        if bad:
            raise SchemaError(f"findings frame: column 'severity' has values {sorted(bad)}, "
                              f"expected {SEVERITIES}")
    return frame


# --- helpers -------------------------------------------------------------------------------------


def _require(frame: pd.DataFrame, columns: Iterable[str], kind: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"{kind} frame: expected a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise SchemaError(f"{kind} frame: missing column(s) {missing}")


def _require_dtype(frame: pd.DataFrame, col: str, dtype: str, kind: str) -> None:
    if str(frame[col].dtype) != dtype:
        raise SchemaError(f"{kind} frame: column {col!r} must be {dtype}, got {frame[col].dtype}")
