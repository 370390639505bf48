"""How numbers, names and tables read: one formatting for every table and figure a report shows.

A value's column decides how it is written: money as ``$1,234.56`` / ``-$0.03``, token and call
counts as whole numbers with thousands separators, durations in ms or s by their size, ratios as
percentages, times to the second (a ``month`` column as ``2026-11``, a ``day`` column as
``2026-11-02``); no number is ever written in scientific notation. Series are named from the
metric catalogue (``LLM tokens used, increase``) rather than by their PromQL names.

:func:`table` wraps a DataFrame for display: no index column, headers without unit suffixes,
values formatted as above and escaped (label values come from agents), a caption and a note, a
sentence in place of an empty table, and a box that scrolls sideways on its own rather than
pushing the page wider; long text (``summary``, ``traces``) wraps.

>>> usd(-0.0308), usd(1234.561), count(-819293.67), duration_ms(60342.271), duration_ms(41.2)
('-$0.03', '$1,234.56', '-819,294', '60.3 s', '41.2 ms')
>>> series_label({"__name__": "llm_tokens_used_total:increase", "agent": "coder"})
'LLM tokens used, increase · agent=coder'
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from agentinsight import catalog

__all__ = [
    "Table",
    "axis_title",
    "column_formatter",
    "count",
    "duration_ms",
    "header",
    "legend_name",
    "metric_label",
    "number",
    "partial_buckets",
    "ratio",
    "series_label",
    "span_text",
    "table",
    "timestamp",
    "usd",
]

_MISSING = "–"
#: Columns of free text that wrap inside their cell instead of widening the table.
_WRAPPED = ("summary", "traces", "trace_ids", "series", "note", "tool_chain", "reason",
            "unpriced_reason", "critical_component", "labels", "help", "price_source")
_COUNT_WORDS = ("tokens", "calls", "tasks", "runs", "errors", "spans", "agents", "traces_n",
                "requests", "findings")
_RATIO_WORDS = ("_ratio", "_fraction", "coverage", "_rate", "share", "ratio")
#: Words a metric name is written with, where plain title case would misread.
_WORDS = {"llm": "LLM", "api": "API", "gen": "GenAI", "ai": "", "db": "DB"}
_SUFFIXES = {"increase": "increase", "rate": "per second", "error_ratio": "error ratio"}


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def usd(value: Any) -> str:
    """Dollars: cents from one cent up, four decimals below (``$0.0006``), sign before the $."""
    if _missing(value):
        return "unpriced"
    v = float(value)
    digits = 2 if abs(v) >= 0.01 or v == 0 else 4
    text = f"${abs(v):,.{digits}f}"
    return f"-{text}" if v < 0 and text.strip("$0.,") else text


def count(value: Any) -> str:
    """A whole number with thousands separators (token counts are never fractional)."""
    return _MISSING if _missing(value) else f"{round(float(value)):,}"


def ratio(value: Any) -> str:
    """A ratio as a percentage."""
    return _MISSING if _missing(value) else f"{float(value):.1%}"


def number(value: Any) -> str:
    """Any other number: thousands separators, a few significant decimals, never ``1e+07``."""
    if _missing(value):
        return _MISSING
    v = float(value)
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    size = abs(v)
    digits = (0 if size >= 1000 or (size >= 1 and v == round(v)) or v == 0
              else 1 if size >= 100 else 2 if size >= 0.01 else 4)
    text = f"{v:,.{digits}f}"
    return "0" if text.strip("-0.,") == "" and size < 1e-4 else text


def duration_ms(value: Any) -> str:
    """Milliseconds written in ms below a second and in s (or min) above."""
    if _missing(value):
        return _MISSING
    ms = float(value)
    if abs(ms) < 1000:
        return f"{ms:,.1f} ms" if abs(ms) < 100 else f"{ms:,.0f} ms"
    if abs(ms) < 120_000:
        return f"{ms / 1000:,.1f} s"
    return f"{ms / 60_000:,.1f} min"


def timestamp(value: Any, resolution: str = "second") -> str:
    """A time in UTC to the second; ``resolution`` ``"day"`` or ``"month"`` shortens it."""
    if _missing(value):
        return _MISSING
    t = pd.Timestamp(value)
    if t.tzinfo is not None:
        t = t.tz_convert("UTC")
    layout = {"month": "%Y-%m", "day": "%Y-%m-%d", "hour": "%Y-%m-%d %H:00"}.get(
        resolution, "%Y-%m-%d %H:%M:%S")
    return t.strftime(layout)


def _duration_seconds(value: Any) -> str:
    return _MISSING if _missing(value) else duration_ms(float(value) * 1000)


def column_formatter(name: str, values: pd.Series | None = None) -> Callable[[Any], str] | None:
    """How the values of column ``name`` are written (``None``: text, left as it is)."""
    col = str(name)
    if col.endswith(("_usd", "_usd_per_day")) or col in {"usd", "cost"}:
        return usd
    if col.endswith("_ms"):
        return duration_ms
    if col.endswith("_seconds") or col.endswith("_s"):
        return _duration_seconds
    if col in ("month", "week", "day", "hour"):
        return lambda v: timestamp(v, col if col != "week" else "day")
    if col.endswith(_RATIO_WORDS) or col in {"success_rate", "time_share"}:
        return ratio
    if col.endswith(_COUNT_WORDS) or col in {"calls", "tokens", "count", "observations"}:
        return count
    if values is None:
        return None
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return timestamp
    if pd.api.types.is_bool_dtype(values.dtype):
        return None
    if pd.api.types.is_integer_dtype(values.dtype):
        return count
    if pd.api.types.is_float_dtype(values.dtype):
        return number
    if values.dtype == object and len(values):
        sample = values.dropna()
        if len(sample) and all(isinstance(v, pd.Timestamp) for v in sample.head(20)):
            return timestamp
    return None


def header(name: Any) -> str:
    """A column header for reading: no unit suffix (the cells carry it), spaces for ``_``."""
    col = str(name)
    for suffix, unit in (("_usd_per_day", " per day"), ("_usd", ""), ("_ms", ""),
                         ("_seconds", "")):
        if col.endswith(suffix) and len(col) > len(suffix):
            col = col[: -len(suffix)] + unit
            break
    return col.replace("_", " ")


def metric_label(name: Any) -> str:
    """A metric's name for reading: the catalogue's name without unit suffixes, with the
    PromQL helper after a comma (``agent execution duration, p95``)."""
    text = str(name)
    base, _, suffix = text.partition(":")
    known = base in catalog.metric_names() or base.removesuffix("_bucket") in catalog.metric_names()
    if not known and not suffix:
        return text
    words = base.removesuffix("_bucket").removesuffix("_total").removesuffix("_seconds")
    label = " ".join(filter(None, (_WORDS.get(w, w) for w in words.split("_"))))
    if suffix:
        label += ", " + _SUFFIXES.get(suffix, suffix.replace("_", " "))
    return label


def series_label(labels: Mapping[str, Any], *, omit: tuple[str, ...] = ()) -> str:
    """A series for reading: its metric's label, then ``key=value`` for each label.

    >>> series_label({"agent": "coder"})
    'agent=coder'
    """
    name = labels.get("__name__")
    rest = [f"{k}={v}" for k, v in labels.items()
            if k != "__name__" and k not in omit and not _missing(v)]
    parts = ([metric_label(name)] if name else []) + ([", ".join(rest)] if rest else [])
    return " · ".join(parts) or "(all series)"


#: Units of catalogue gauges, whose names carry none.
_GAUGE_UNITS = {"task_queue_size": "tasks", "agent_active": "runs",
                "database_connections": "connections"}


def axis_title(frame: pd.DataFrame, unit: str | None = None) -> tuple[str, float, str]:
    """A metrics frame's y-axis: its title (quantity and unit), the factor its values are drawn
    at, and a tick format: durations in ms below a second else s, ratios in %, counter
    increases per step; ``unit`` overrides the unit read from the metric's name.

    >>> from agentinsight.frames import metrics_frame
    >>> axis_title(metrics_frame([0.0], "tool_execution_duration_seconds:p95", [0.04]))
    ('tool execution duration, p95 (ms)', 1000.0, '')
    """
    metrics = sorted({str(m) for m in frame["metric"].unique()})
    name = metrics[0] if len(metrics) == 1 else ""
    label = metric_label(name) if name else "value"
    base, _, helper = name.partition(":")
    if unit is not None:
        return f"{label} ({unit})", 1.0, ""
    if helper.endswith("ratio") or base.endswith("_ratio"):
        return f"{label} (%)", 1.0, ".0%"
    if base.endswith("_seconds") and helper not in ("rate", "increase"):
        peak = float(frame["value"].abs().max()) if len(frame) else 0.0
        return (f"{label} (ms)", 1000.0, "") if peak < 1 else (f"{label} (s)", 1.0, "")
    things = "tokens" if base.startswith("llm_tokens") else "events"
    if helper == "rate":
        return f"{label} ({things} per second)", 1.0, ""
    if helper == "increase":
        return f"{label} ({things} per step)", 1.0, ""
    if base in _GAUGE_UNITS:
        return f"{label} ({_GAUGE_UNITS[base]})", 1.0, ""
    return f"{label} (no unit)", 1.0, ""


def legend_name(values: Mapping[str, Any], varying: list[str], fallback: str = "") -> str:
    """What tells a series (``values``: ``__name__`` and labels) apart from the others in its
    figure, given the keys whose values differ between them (``varying``).

    >>> legend_name({"__name__": "up", "agent": "coder"}, ["agent"])
    'coder'
    """
    if not varying:
        name = values.get("__name__")
        return metric_label(name) if name else (fallback or series_label(values))
    parts = [metric_label(values[k]) if k == "__name__" else str(values[k])
             for k in varying if not _missing(values.get(k))]
    return " · ".join(parts) or "(none)"


def partial_buckets(index: pd.Index, time_col: str, period: tuple[Any, Any] | None
                     ) -> dict[pd.Timestamp, float]:
    """Bucket start -> how much of it ``period`` covers (in h for days, min for hours) when
    only in part, else 0; empty without a period. ``time_col``: ``day`` or ``hour``.

    >>> partial_buckets(pd.DatetimeIndex(["2026-11-01", "2026-11-02"], tz="UTC"), "day",
    ...                 ("2026-11-01T18:00Z", "2026-11-03T00:00Z"))
    ... # doctest: +NORMALIZE_WHITESPACE
    {Timestamp('2026-11-01 00:00:00+0000', tz='UTC'): 6.0,
     Timestamp('2026-11-02 00:00:00+0000', tz='UTC'): 0.0}
    """
    if period is None or time_col not in ("day", "hour"):
        return {}
    start, end = (pd.Timestamp(p) for p in period)
    start = start.tz_localize("UTC") if start.tzinfo is None else start
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    size = pd.Timedelta(days=1) if time_col == "day" else pd.Timedelta(hours=1)
    unit = pd.Timedelta(hours=1) if time_col == "day" else pd.Timedelta(minutes=1)
    covered = {}
    for t in index:
        seen = min(t + size, end) - max(t, start)
        covered[t] = 0.0 if seen >= size else max(seen, pd.Timedelta(0)) / unit
    return covered


def span_text(span: pd.Timedelta) -> str:
    """A length of time in minutes, or hours from two hours up."""
    minutes = span.total_seconds() / 60
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


class Table:
    """A DataFrame shown for reading (see the module docstring); ``.frame`` is the data."""

    def __init__(self, frame: pd.DataFrame, *, title: str = "", note: str = "",
                 empty: str = "", max_rows: int = 500) -> None:
        self.frame = frame
        self.title, self.note, self.empty, self.max_rows = title, note, empty, max_rows

    def styler(self) -> Any:
        """The :class:`pandas.io.formats.style.Styler` behind the HTML."""
        shown = pd.DataFrame(self.frame).head(self.max_rows)
        if shown.index.name is not None or isinstance(shown.index, pd.MultiIndex):
            shown = shown.reset_index()
        shown = shown.reset_index(drop=True)
        names = {c: header(c) for c in shown.columns}
        if len(set(names.values())) < len(names):  # two columns would read alike: keep them
            names = {c: str(c) for c in shown.columns}
        formats = {names[c]: f for c in shown.columns
                   if (f := column_formatter(str(c), shown[c])) is not None}
        shown = shown.rename(columns=names)
        styler = (shown.style.format(formats, na_rep=_MISSING, escape="html")
                  .format_index(escape="html", axis=1).hide(axis="index"))
        wrapped = [names[c] for c in names if str(c) in _WRAPPED]
        text = [names[c] for c in names if names[c] not in formats and names[c] not in wrapped]
        numbers = [names[c] for c in names if names[c] in formats]
        # Per cell (an id selector), so a notebook theme's `td {text-align: right}` loses.
        if wrapped:
            styler = styler.set_properties(subset=wrapped, **{
                "white-space": "normal", "overflow-wrap": "anywhere", "min-width": "12em",
                "max-width": "36em", "text-align": "left"})
        if text:
            styler = styler.set_properties(subset=text, **{"text-align": "left"})
        if numbers:
            styler = styler.set_properties(subset=numbers, **{"text-align": "right",
                                                              "white-space": "nowrap"})
        styler = styler.set_table_styles([
            {"selector": "td, th", "props": "padding: 2px 8px"},
            {"selector": "caption", "props": "text-align: left; font-weight: 600"}])
        return styler

    def _repr_html_(self) -> str:
        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        note = (f"<p style='font-size:90%;color:#555'>{html.escape(self.note)}</p>"
                if self.note else "")
        if not len(self.frame):
            body = f"<p>{html.escape(self.empty or 'Nothing to show for this period.')}</p>"
            return f"<div class='agentinsight-table'>{title}{body}</div>"
        more = len(self.frame) - self.max_rows
        tail = f"<p>{more:,} more row(s) not shown</p>" if more > 0 else ""
        return (f"<div class='agentinsight-table' style='overflow-x:auto;max-width:100%'>"
                f"{title}{self.styler().to_html()}</div>{note}{tail}")

    def __repr__(self) -> str:
        return repr(self.frame)


def table(frame: pd.DataFrame, *, title: str = "", note: str = "", empty: str = "",
          max_rows: int = 500) -> Table:
    """``frame`` shown for reading: see the module docstring. ``empty`` is the sentence shown
    instead of a table without rows.

    >>> t = table(pd.DataFrame({"p95_ms": [60342.271], "cost_usd": [-0.0308]}))
    >>> "60.3 s" in t._repr_html_() and "-$0.03" in t._repr_html_()
    True
    >>> table(pd.DataFrame({"a": []}), empty="Every call was priced.")._repr_html_()
    "<div class='agentinsight-table'><p>Every call was priced.</p></div>"
    """
    return Table(frame, title=title, note=note, empty=empty, max_rows=max_rows)
