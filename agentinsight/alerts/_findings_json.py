"""findings.json and the checks that turn findings (a frame or JSON objects) into plain records.

Private to :mod:`agentinsight.alerts`, which documents the file format and re-exports
:func:`write_findings` and :func:`load_findings`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from agentinsight._fs import atomic_write
from agentinsight._time import format_rfc3339
from agentinsight.exceptions import AlertError, ConfigurationError
from agentinsight.frames import (
    FINDINGS_COLUMNS,
    SEVERITIES,
    finding_fingerprint,
    utc_timestamp,
    validate_findings_frame,
)

__all__ = ["load_findings", "write_findings"]

Findings: TypeAlias = pd.DataFrame | Iterable[Mapping[str, Any]]

# --- findings.json -------------------------------------------------------------------------------


def write_findings(
    findings: Findings,
    path: str | os.PathLike[str],
    *,
    data_end: Any = None,
    ongoing_within: Any = "5m",
) -> Path:
    """Write findings as findings.json (format in the module docstring), atomically.

    With ``data_end`` (the end of the analysed window), findings that end within
    ``ongoing_within`` of it are written with ``"ongoing": true``, so a later push sends them
    firing.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "findings.json"
    >>> _ = write_findings([{"detector": "d", "series": {"agent": "a"},
    ...     "start": "2026-01-05T10:00:00Z", "severity": "info"}], p)
    >>> load_findings(p)["detector"].tolist()
    ['d']
    """
    target = Path(path)
    docs = []
    for rec in _records(findings, where=str(target), data_end=data_end,
                        ongoing_within=ongoing_within):
        doc = {
            "fingerprint": rec["fingerprint"],
            "detector": rec["detector"],
            "series": {str(k): _plain(v) for k, v in rec["series"].items()},
            "start": _iso(rec["start"]),
            "end": None if rec["end"] is None else _iso(rec["end"]),
            "score": _finite(rec["score"]),
            "severity": rec["severity"],
            "observed": _finite(rec["observed"]),
            "expected": _finite(rec["expected"]),
            "summary": rec["summary"],
            "trace_ids": list(rec["trace_ids"]),
        }
        doc.update({k: _plain(v) for k, v in rec["extra"].items()})
        if rec["ongoing"]:
            doc["ongoing"] = True
        docs.append(doc)
    return atomic_write(target, json.dumps(docs, indent=2, ensure_ascii=False) + "\n")


def load_findings(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a findings.json into a findings frame; AlertError names the file and finding index.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "findings.json"
    >>> _ = p.write_text('[{"detector": "d", "series": {}, "start": "2026-01-05", '
    ...                  '"severity": "loud"}]')
    >>> load_findings(p)
    Traceback (most recent call last):
    agentinsight.exceptions.AlertError: ...findings.json: finding 0: severity must be one of ...
    """
    source = Path(path)
    try:
        doc = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AlertError(f"{source}: cannot read findings file: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise AlertError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(doc, list):
        raise AlertError(f"{source}: expected a JSON list of findings, got {type(doc).__name__}")
    records = _records(doc, where=str(source))
    extra_keys = sorted({k for r in records for k in r["extra"]})
    frame = pd.DataFrame({
        "fingerprint": pd.Series([r["fingerprint"] for r in records], dtype=object),
        "detector": pd.Series([r["detector"] for r in records], dtype=object),
        "series": pd.Series([r["series"] for r in records], dtype=object),
        "start": pd.Series([r["start"] for r in records], dtype="datetime64[ns, UTC]"),
        "end": pd.Series([r["end"] if r["end"] is not None else pd.NaT for r in records],
                         dtype="datetime64[ns, UTC]"),
        "score": pd.Series([r["score"] for r in records], dtype="float64"),
        "severity": pd.Series([r["severity"] for r in records], dtype=object),
        "observed": pd.Series([r["observed"] for r in records], dtype="float64"),
        "expected": pd.Series([r["expected"] for r in records], dtype="float64"),
        "summary": pd.Series([r["summary"] for r in records], dtype=object),
        "trace_ids": pd.Series([r["trace_ids"] for r in records], dtype=object),
    })
    for key in extra_keys:
        frame[key] = pd.Series([r["extra"].get(key) for r in records], dtype=object)
    return validate_findings_frame(frame)


# --- normalising findings ------------------------------------------------------------------------


def _records(
    findings: Findings, *, where: str, data_end: Any = None, ongoing_within: Any = "5m"
) -> list[dict[str, Any]]:
    """Findings (frame or mappings) as checked plain records; AlertError names the index."""
    cutoff = None
    if data_end is not None:
        try:
            end = utc_timestamp(data_end)
            cutoff = end - pd.Timedelta(ongoing_within)
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                f"data_end={data_end!r} / ongoing_within={ongoing_within!r}: {exc}"
            ) from None
    if isinstance(findings, pd.DataFrame):
        missing = [c for c in ("detector", "series", "start", "severity") if c not in findings]
        if missing:
            raise AlertError(f"{where}: findings frame lacks column(s) {missing}")
        rows: Iterable[Any] = findings.to_dict("records")
    elif isinstance(findings, (str, bytes, Mapping)):
        raise AlertError(f"{where}: expected a findings frame or a list of finding objects, got "
                         f"{type(findings).__name__}")
    else:
        rows = findings
    out = []
    for index, row in enumerate(rows):
        try:
            rec = _record(row)
        except (TypeError, ValueError) as exc:
            raise AlertError(f"{where}: finding {index}: {exc}") from None
        if cutoff is not None and rec["end"] is not None and rec["end"] >= cutoff:
            rec["ongoing"] = True
        out.append(rec)
    return out


def _record(row: Any) -> dict[str, Any]:
    if not isinstance(row, Mapping):
        raise TypeError(f"expected an object, got {type(row).__name__}")
    detector = row.get("detector")
    if not isinstance(detector, str) or not detector.strip():
        raise ValueError(f"detector must be a non-empty string, got {detector!r}")
    series = row.get("series")
    if not isinstance(series, Mapping):
        raise ValueError(f"series must be an object of label → value, got {series!r}")
    for key, value in series.items():
        if not isinstance(key, str) or isinstance(value, (Mapping, list, tuple)):
            raise ValueError(f"series label {key!r} must be a string with a scalar value")
    severity = row.get("severity")
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    start = _time(row.get("start"), "start")
    if start is None:
        raise ValueError("start is required (an RFC 3339 time)")
    end = _time(row.get("end"), "end")
    fingerprint = row.get("fingerprint")
    if _missing(fingerprint):
        fingerprint = finding_fingerprint(detector, series, start)
    elif not isinstance(fingerprint, str):
        raise ValueError(f"fingerprint must be a string, got {fingerprint!r}")
    summary = row.get("summary")
    summary = "" if _missing(summary) else summary
    if not isinstance(summary, str):
        raise ValueError(f"summary must be a string, got {summary!r}")
    raw_ids = row.get("trace_ids")
    trace_ids: Any = [] if _missing(raw_ids) else raw_ids
    if isinstance(trace_ids, (str, bytes, Mapping)) or not hasattr(trace_ids, "__iter__") or (
        not all(isinstance(t, str) for t in trace_ids)
    ):
        raise ValueError(f"trace_ids must be a list of hex strings, got {trace_ids!r}")
    extra = {k: v for k, v in row.items() if k not in FINDINGS_COLUMNS}
    return {
        "fingerprint": fingerprint,
        "detector": detector,
        "series": dict(series),
        "start": start,
        "end": end,
        "score": _number(row.get("score"), "score"),
        "severity": severity,
        "observed": _number(row.get("observed"), "observed"),
        "expected": _number(row.get("expected"), "expected"),
        "summary": summary,
        "trace_ids": list(trace_ids),
        "ongoing": extra.get("ongoing") is True,
        "extra": extra,
    }


def _missing(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _time(value: Any, what: str) -> pd.Timestamp | None:
    if _missing(value):
        return None
    if not isinstance(value, (str, datetime, np.datetime64)):
        raise ValueError(f"{what} must be an RFC 3339 time, got {value!r}")
    try:
        stamp = utc_timestamp(value)
    except (ValueError, TypeError):
        raise ValueError(f"{what} must be an RFC 3339 time, got {value!r}") from None
    return None if stamp is pd.NaT else stamp


def _number(value: Any, what: str) -> float:
    if _missing(value):
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number or null, got {value!r}")
    return float(value)


def _iso(stamp: pd.Timestamp) -> str:
    return format_rfc3339(stamp)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None

def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return _iso(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
