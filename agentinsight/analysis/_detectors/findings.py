"""Turning detector scores into findings frames, merging them, and showing them as HTML."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.frames import (
    FINDINGS_COLUMNS,
    empty_findings_frame,
    finding_fingerprint,
    validate_findings_frame,
)

__all__ = ["findings_frame", "findings_html", "merge_overlapping", "runs_of", "severity_of"]

_SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def severity_of(score: float) -> str:
    """``critical`` from 0.9, ``warning`` from 0.7, else ``info``."""
    return "critical" if score >= 0.9 else "warning" if score >= 0.7 else "info"


def runs_of(flags: np.ndarray, max_gap: int = 0) -> list[tuple[int, int]]:
    """(first, last) index pairs of the runs of True in ``flags``, bridging gaps of up to
    ``max_gap`` False points."""
    idx = np.flatnonzero(flags)
    if not len(idx):
        return []
    breaks = np.flatnonzero(np.diff(idx) > max_gap + 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def findings_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A validated findings frame from dicts (fingerprint and severity filled in if absent)."""
    rows = list(rows)
    if not rows:
        return empty_findings_frame()
    records = []
    for row in rows:
        rec = dict(row)
        rec["start"] = pd.Timestamp(rec["start"])
        rec["end"] = pd.Timestamp(rec["end"])
        rec.setdefault("severity", severity_of(float(rec["score"])))
        rec.setdefault("trace_ids", [])
        rec.setdefault("fingerprint",
                       finding_fingerprint(rec["detector"], rec["series"], rec["start"]))
        records.append({c: rec.get(c) for c in FINDINGS_COLUMNS})
    out = pd.DataFrame.from_records(records, columns=list(FINDINGS_COLUMNS))
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col], utc=True).astype("datetime64[ns, UTC]")
    for col in ("score", "observed", "expected"):
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in ("fingerprint", "detector", "severity", "summary"):
        out[col] = out[col].astype(object)
    out = out.sort_values(["start", "fingerprint"], kind="stable").reset_index(drop=True)
    return validate_findings_frame(out)


def merge_overlapping(findings: pd.DataFrame,
                      tolerance: pd.Timedelta | None = None) -> pd.DataFrame:
    """Merge findings of the same series whose [start, end] overlap (or lie less than
    ``tolerance`` apart) into one.

    The merged finding spans the union, keeps the highest score (with that finding's observed,
    expected and summary), lists every detector (``"a+b"``) and every trace id once.
    """
    if len(findings) < 2:
        return findings
    tolerance = pd.Timedelta(0) if tolerance is None else tolerance
    key = findings["series"].map(lambda s: tuple(sorted((str(k), str(v)) for k, v in s.items())))
    merged: list[dict[str, Any]] = []
    work = findings.assign(_key=key).sort_values(["_key", "start"], kind="stable")
    for _, group in work.groupby("_key", sort=False):
        current: dict[str, Any] | None = None
        for rec in group.to_dict("records"):
            if current is not None and rec["start"] <= current["end"] + tolerance:
                current["end"] = max(current["end"], rec["end"])
                current["_detectors"].update(rec["detector"].split("+"))
                current["trace_ids"] = list(dict.fromkeys([*current["trace_ids"],
                                                           *rec["trace_ids"]]))
                if rec["score"] > current["score"]:
                    for col in ("score", "severity", "observed", "expected", "summary"):
                        current[col] = rec[col]
                continue
            if current is not None:
                merged.append(current)
            current = dict(rec)
            current["_detectors"] = set(rec["detector"].split("+"))
            current["trace_ids"] = list(rec["trace_ids"])
        if current is not None:
            merged.append(current)
    rows = []
    for rec in merged:
        rec["detector"] = "+".join(sorted(rec.pop("_detectors")))
        rec.pop("_key", None)
        rec.pop("fingerprint", None)
        rows.append(rec)
    return findings_frame(rows)


def findings_html(findings: pd.DataFrame, max_rows: int = 200) -> str:
    """An HTML table of a findings frame: one row per finding, coloured by severity, in a box
    that scrolls sideways on its own; long summaries and trace lists wrap.

    >>> "<table" in findings_html(empty_findings_frame())
    True
    """
    from agentinsight.analysis import display

    colours = {"critical": "#f8d7da", "warning": "#fff3cd", "info": "#e7f1ff"}
    names = ("severity", "start", "end", "series", "detector", "score", "observed", "expected",
             "summary", "traces")
    head = ("<tr>" + "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>"
                             for h in names) + "</tr>")
    body = []
    for rec in findings.head(max_rows).to_dict("records"):
        traces = "\n".join(rec["trace_ids"][:3]) + ("\n…" if len(rec["trace_ids"]) > 3 else "")
        cells = [rec["severity"], display.timestamp(rec["start"]), display.timestamp(rec["end"]),
                 display.series_label(rec["series"] or {}), rec["detector"],
                 f"{rec['score']:.2f}", display.number(rec["observed"]),
                 display.number(rec["expected"]), rec["summary"], traces]
        style = f"background:{colours.get(rec['severity'], '#fff')}"
        body.append(f"<tr style='{style}'>" + "".join(
            f"<td style='padding:2px 8px;{_STYLES.get(name, _NOWRAP)}'>"
            f"{html.escape(str(c))}</td>" for name, c in zip(names, cells, strict=True))
            + "</tr>")
    note = "" if len(findings) <= max_rows else f"<p>{len(findings) - max_rows} more not shown</p>"
    caption = f"<caption style='text-align:left'>{len(findings)} finding(s)</caption>"
    return ("<div class='agentinsight-table' style='overflow-x:auto;max-width:100%'>"
            f"<table style='border-collapse:collapse;font-size:90%'>{caption}{head}"
            + "".join(body) + f"</table></div>{note}")


_NOWRAP = "white-space:nowrap;text-align:left"
_WRAP = "white-space:normal;overflow-wrap:anywhere;text-align:left"
#: Long cells wrap inside the page's width; numbers stay on one line, right-aligned.
_STYLES = {
    "series": f"{_WRAP};min-width:12em", "summary": f"{_WRAP};min-width:20em;max-width:40em",
    "traces": "white-space:pre-line;font-family:monospace;font-size:85%;text-align:left",
    "score": "white-space:nowrap;text-align:right", "observed": "white-space:nowrap;"
    "text-align:right", "expected": "white-space:nowrap;text-align:right",
}

