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

The validators accept what plain pandas makes and convert it to the contract: any datetime
resolution and any time zone (``pd.to_datetime(..., utc=True)`` gives ``datetime64[us, UTC]`` in
pandas 3), integer or nullable numbers where float64 is expected, string columns where
categories are expected. A time column without a time zone is rejected: whether it meant UTC
or local time cannot be told, and guessing would shift every timestamp silently.
:func:`concat` combines frames pulled from several sources or windows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
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
    "concat",
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
    """Check a metrics frame against the contract and return it, converted where pandas made
    an equivalent dtype (see the module docstring); raise SchemaError otherwise.

    >>> f = pd.DataFrame({"timestamp": pd.to_datetime(["2026-01-01T00:00Z"], utc=True),
    ...                   "metric": ["up"], "value": [1], "job": ["api"]})
    >>> validate_metrics_frame(f).dtypes.astype(str).tolist()
    ['datetime64[ns, UTC]', 'category', 'float64', 'category']
    """
    _require(frame, METRICS_COLUMNS, "metrics")
    fixed: dict[str, pd.Series | None] = {
        "timestamp": _utc(frame["timestamp"], "timestamp", "metrics"),
        "value": _float(frame["value"], "value", "metrics")}
    for col in ["metric", *label_columns(frame)]:
        fixed[col] = _category(frame[col], col, "metrics")
    return _with(frame, fixed)


# --- spans ---------------------------------------------------------------------------------------


def empty_spans_frame() -> pd.DataFrame:
    """An empty spans frame with every contract column and its dtype."""
    return pd.DataFrame(
        {c: pd.Series([], dtype=_SPAN_DTYPES.get(c, "object")) for c in SPANS_COLUMNS}
    )


def validate_spans_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Check a spans frame against the contract and return it, converted where pandas made an
    equivalent dtype (see the module docstring); raise SchemaError otherwise."""
    _require(frame, SPANS_COLUMNS, "spans")
    frame = _with(frame, _converted(frame, _SPAN_DTYPES, "spans"))
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
    """Check a findings frame against the contract and return it, converted where pandas made
    an equivalent dtype (see the module docstring); raise SchemaError otherwise."""
    _require(frame, FINDINGS_COLUMNS, "findings")
    frame = _with(frame, _converted(frame, _FINDING_DTYPES, "findings"))
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


def _converted(frame: pd.DataFrame, dtypes: Mapping[str, str], kind: str
               ) -> dict[str, pd.Series | None]:
    return {col: _utc(frame[col], col, kind) if dtype == UTC_NS else _float(frame[col], col, kind)
            for col, dtype in dtypes.items()}


def _with(frame: pd.DataFrame, columns: Mapping[str, pd.Series | None]) -> pd.DataFrame:
    """``frame`` with the converted columns (``None``: already right); a copy only if any."""
    changed = {col: values for col, values in columns.items() if values is not None}
    return frame.assign(**changed) if changed else frame


def _utc(col: pd.Series, name: str, kind: str) -> pd.Series | None:
    """A time column as datetime64[ns, UTC] (None if it is one already): any resolution and
    zone converted, naive times refused."""
    dtype = col.dtype
    if str(dtype) == UTC_NS:
        return None
    if dtype.kind == "O" and col.notna().any():
        stamps = col.dropna()
        if not all(isinstance(v, datetime) and v.tzinfo is not None for v in stamps):
            raise SchemaError(f"{kind} frame: column {name!r} must be {UTC_NS}; it holds "
                              f"{type(stamps.iloc[0]).__name__} values without a time zone or "
                              "that are not times (parse them with pd.to_datetime(..., utc=True))")
        return _ns(pd.to_datetime(col, utc=True), name, kind)
    if isinstance(dtype, pd.DatetimeTZDtype):
        return _ns(col.dt.tz_convert("UTC"), name, kind)
    if dtype.kind == "M":
        raise SchemaError(
            f"{kind} frame: column {name!r} holds datetimes without a time zone ({dtype}); say "
            f"which zone they are in: .dt.tz_localize('UTC') (or the zone they were recorded in), "
            "or build them with pd.to_datetime(..., utc=True)")
    if dtype.kind == "O" or col.empty:  # nothing in it: no zone to get wrong
        return pd.Series(pd.to_datetime(col, utc=True), index=col.index, name=col.name,
                         dtype=UTC_NS)
    raise SchemaError(f"{kind} frame: column {name!r} must be {UTC_NS}, got {dtype}")


def _ns(col: pd.Series, name: str, kind: str) -> pd.Series:
    try:
        return col.astype(UTC_NS)
    except (ValueError, OverflowError) as exc:  # beyond what nanoseconds hold (year 2262)
        raise SchemaError(f"{kind} frame: column {name!r} cannot be held as {UTC_NS}: "
                          f"{exc}") from None


def _float(col: pd.Series, name: str, kind: str) -> pd.Series | None:
    """A number column as float64 (None if it is already; integers and nullable numbers
    converted, NA as NaN)."""
    dtype = col.dtype
    if dtype == "float64":
        return None
    if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        return pd.Series(col.to_numpy(dtype="float64", na_value=np.nan), index=col.index,
                         name=col.name)
    if dtype.kind == "O" and col.isna().all():
        return col.astype("float64")
    raise SchemaError(f"{kind} frame: column {name!r} must be float64, got {dtype}")


def _category(col: pd.Series, name: str, kind: str) -> pd.Series | None:
    """A label column as a category (None if it is one; strings converted, missing values
    stay missing)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        return None
    if pd.api.types.is_string_dtype(col.dtype) or col.dtype.kind == "O":
        return col.astype("category")
    raise SchemaError(f"{kind} frame: column {name!r} must be categorical, got {col.dtype}")


# --- combining -----------------------------------------------------------------------------------

_KEYS = {"spans": ("trace_id", "span_id"), "findings": ("fingerprint",)}


def concat(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Combine frames of one kind (metrics, spans or findings) into one that keeps the contract.

    Rows keep their order; a row seen twice — the same span (trace and span id), the same
    finding (fingerprint), the same series at the same timestamp — is kept once, the first time.
    Label columns become categories over the union of the frames' values; a label one frame
    lacks is missing (NaN) in its rows.

    >>> a = metrics_frame([0.0], "up", [1.0], {"job": ["api"]})
    >>> b = metrics_frame([0.0, 15.0], "up", [1.0, 1.0], {"job": ["api", "db"]})
    >>> both = concat([a, b])
    >>> both["job"].tolist(), both["job"].cat.categories.tolist()
    (['api', 'db'], ['api', 'db'])
    """
    frames = list(frames)
    if not frames:
        raise SchemaError("concat: no frames given")
    kinds = {_kind(frame, i) for i, frame in enumerate(frames)}
    if len(kinds) > 1:
        raise SchemaError(f"concat: frames of different kinds ({', '.join(sorted(kinds))})")
    kind = kinds.pop()
    validate = {"metrics": validate_metrics_frame, "spans": validate_spans_frame,
                "findings": validate_findings_frame}[kind]
    checked = [validate(frame) for frame in frames]
    if kind == "metrics":
        # categories differ from frame to frame: combine the values, then categorise again
        checked = [f.astype({c: object for c in ["metric", *label_columns(f)]}) for f in checked]
    combined = pd.concat([f for f in checked if len(f)] or checked[:1], ignore_index=True)
    keys = _KEYS.get(kind) or ("timestamp", "metric", *label_columns(combined))
    combined = combined.drop_duplicates(list(keys), ignore_index=True)
    return validate(combined)


def _kind(frame: Any, position: int) -> str:
    if not isinstance(frame, pd.DataFrame):
        raise SchemaError(f"concat: frame {position} is a {type(frame).__name__}, "
                          "not a DataFrame")
    columns = set(frame.columns)
    if "span_id" in columns:
        return "spans"
    if "fingerprint" in columns:
        return "findings"
    if set(METRICS_COLUMNS) <= columns:
        return "metrics"
    raise SchemaError(f"concat: frame {position} is not a metrics, spans or findings frame "
                      f"(columns: {list(frame.columns)[:12]})")
