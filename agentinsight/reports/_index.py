"""The reports folder's ``index.html``: every run, newest first, with its source, period and
state (a failed run shows its error, not a count of findings)."""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_write
from agentinsight._http import redact_url
from agentinsight._time import utc

__all__ = ["read_findings", "source_of", "write_index"]


def read_findings(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def _runs(out_root: Path) -> Iterator[tuple[str, str, Path, bool]]:
    for report_root in sorted(p for p in out_root.iterdir() if p.is_dir() and p.name[0] != "."):
        for day in sorted((p for p in report_root.iterdir()
                           if p.is_dir() and not p.is_symlink() and p.name[0] != "."),
                          reverse=True):
            for run_dir in sorted(day.iterdir(), reverse=True):
                if (run_dir / "params.json").exists():
                    yield report_root.name, day.name, run_dir, not run_dir.name.endswith("failed")


def source_of(resolved: Mapping[str, Any]) -> str:
    """Where a run read its data, for the index: files, or the (redacted) server URLs."""
    prometheus, jaeger = resolved.get("prometheus_url"), resolved.get("jaeger_url")
    if prometheus:
        return f"prometheus {redact_url(str(prometheus))}" + (
            f" + jaeger {redact_url(str(jaeger))}" if jaeger else "")
    if resolved.get("source_dir"):
        return f"files {resolved['source_dir']}"
    return "–"


def _period_of(resolved: Mapping[str, Any]) -> str:
    def minute(value: Any) -> str:
        try:
            return utc(dt.datetime.fromisoformat(str(value))).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return str(value)

    start, end = resolved.get("start"), resolved.get("end")
    return f"{minute(start)} → {minute(end)}" if start and end else "–"


def write_index(out: str | os.PathLike[str]) -> Path:
    """(Re)write ``<out>/index.html`` listing every run, newest first within each report, with
    the source it read (server URLs redacted) and the period it covered; a failed run shows
    its error instead of a count of findings."""
    out_root = Path(out)
    rows = []
    for name, day, run_dir, ok in _runs(out_root):
        try:
            record = json.loads((run_dir / "params.json").read_text(encoding="utf-8"))
            resolved = record.get("resolved") or {}
        except (OSError, ValueError, AttributeError):
            record, resolved = {}, {}
        rel = run_dir.relative_to(out_root).as_posix()
        if ok:
            state, findings = "ok", f"{len(read_findings(run_dir / 'findings.json')):,}"
        else:
            error = redact_url(str(record.get("error") or "see the executed notebook"))
            state = (f"<b style='color:#c0392b'>failed</b><br><small>"
                     f"{html.escape(error[:300])}</small>")
            findings = "–"
        rows.append(f"<tr><td>{html.escape(name)}</td><td>{html.escape(day)}</td>"
                    f"<td><a href='{html.escape(rel, quote=True)}/report.html'>"
                    f"{html.escape(run_dir.name)}</a></td>"
                    f"<td>{html.escape(str(record.get('source') or source_of(resolved)))}</td>"
                    f"<td>{html.escape(_period_of(resolved))}</td>"
                    f"<td>{state}</td><td style='text-align:right'>{findings}</td></tr>")
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>agentinsight reports</title>"
            "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em 1em;"
            "text-align:left;vertical-align:top}td small{color:#555;overflow-wrap:anywhere}"
            "</style></head><body><h1>agentinsight reports</h1>"
            "<div style='overflow-x:auto;max-width:100%'>"
            "<table><tr><th>report</th><th>day</th><th>run (UTC)</th><th>source</th>"
            "<th>period (UTC)</th><th>state</th><th>findings</th></tr>" + "".join(rows)
            + "</table></div></body></html>")
    return atomic_write(out_root / "index.html", page)
