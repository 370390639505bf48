"""Plotly figure builders over canonical frames. Each returns a ``go.Figure``; none shows it.

Every figure uses the ``"agentinsight"`` template (registered once, on import, in
``plotly.io.templates``; the global default is left alone) and the same colour for the same
agent or model everywhere: a colour is picked by a stable hash of the name (moving on to a free
colour if another name already holds it), so a model keeps its colour across the figures of a
notebook or report. Empty input gives a figure with a "no data"
annotation rather than an exception.

Plotly reads the strings of a figure (names, hover text, tick labels, titles) as a small dialect
of HTML. Agent, model, tool and span names come from agents, so every string a builder takes from
its input or its ``title`` argument is escaped (``<``, ``>``, ``&``) and shown as written: a
label ``<b>x</b>`` appears as those characters, not as bold text.

>>> from agentinsight.frames import empty_metrics_frame
>>> timeseries(empty_metrics_frame()).layout.annotations[0].text
'no data'
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from agentinsight.analysis import display
from agentinsight.analysis.performance import bucket_increments
from agentinsight.analysis.traces import critical_path, span_agents, trace_tree
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import label_columns, validate_findings_frame, validate_metrics_frame
from agentinsight.semconv import AGENT_OPERATIONS, TOOL_OPERATIONS

__all__ = [
    "PALETTE",
    "SEVERITY_COLOURS",
    "TEMPLATE",
    "colour_for",
    "colour_map",
    "cost_area",
    "findings_timeline",
    "latency_heatmap",
    "timeseries",
    "token_sankey",
    "trace_waterfall",
]

TEMPLATE = "agentinsight"
#: 40 colours: Tableau 20 (reordered so neighbours differ), then 20 darker ones from plotly's
#: Dark24 (its near-black, pure red and ochre left out: too close to text, errors and Tableau).
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f",
    "#bab0ac", "#86bcb6", "#a0cbe8", "#ffbe7d", "#8cd17d", "#d4a6c8", "#499894", "#f1ce63",
    "#fabfd2", "#d7b5a6", "#79706e", "#b6992d",
    "#2e91e5", "#e15f99", "#1ca71c", "#da16ff", "#750d86", "#eb663b", "#511cfb", "#00a08b",
    "#fb00d1", "#fc0080", "#b2828d", "#6c7c32", "#778aae", "#862a16", "#a777f1", "#620042",
    "#1616a7", "#da60ca", "#6c4516", "#0d2a63",
)
SEVERITY_COLOURS = {"info": "#4e79a7", "warning": "#f28e2b", "critical": "#e15759"}
_CRITICAL = "#e15759"
_BAND_COLUMNS = ("lower", "upper", "expected")

pio.templates[TEMPLATE] = go.layout.Template(layout=go.Layout(
    font={"family": "Inter, Helvetica Neue, Arial, sans-serif", "size": 12, "color": "#333"},
    colorway=list(PALETTE), paper_bgcolor="white", plot_bgcolor="white",
    xaxis={"gridcolor": "#eee", "linecolor": "#ccc", "zeroline": False, "automargin": True},
    yaxis={"gridcolor": "#eee", "linecolor": "#ccc", "zeroline": False, "automargin": True},
    title={"x": 0.01, "xanchor": "left"},
    # Below the plot, so long series names neither squeeze it nor run into the title.
    legend={"orientation": "h", "yanchor": "top", "y": -0.16, "x": 0},
    margin={"l": 60, "r": 20, "t": 60, "b": 50}, hoverlabel={"namelength": -1},
    colorscale={"sequential": "Viridis"},
))


def colour_for(name: Any) -> str:
    """The colour of an agent, model or tool name: a stable hash of the name into ``PALETTE``,
    the same in every figure of every report and session.

    >>> colour_for("gpt-4o") == colour_for("gpt-4o")
    True
    """
    digest = hashlib.md5(str(name).encode(), usedforsecurity=False).digest()[:4]
    return PALETTE[int.from_bytes(digest, "big") % len(PALETTE)]


def colour_map(names: Any) -> dict[str, str]:
    """Colours for the names drawn in one figure: each name's :func:`colour_for`, except that
    where two names hash alike, the later in sorted order moves to the next free colour, so the
    same names get the same colours in every figure, whatever was drawn before.

    >>> m = colour_map(["gpt-4o", "o3-mini"])
    >>> m["gpt-4o"] == colour_for("gpt-4o"), m["gpt-4o"] != m["o3-mini"]
    (True, True)
    """
    taken: dict[str, str] = {}
    for key in sorted({str(n) for n in names}):
        first = PALETTE.index(colour_for(key))
        free = [PALETTE[(first + i) % len(PALETTE)] for i in range(len(PALETTE))
                if PALETTE[(first + i) % len(PALETTE)] not in taken.values()]
        taken[key] = free[0] if free else PALETTE[first]
    return taken


# --- time series ---------------------------------------------------------------------------------


def timeseries(metrics: pd.DataFrame, findings: pd.DataFrame | None = None, *,
               title: str | None = None, band: str | None = "auto",
               band_window: int = 30, unit: str | None = None) -> go.Figure:
    """Lines per series of a metrics frame, with anomaly markers and an expected band.

    Series are named by what tells them apart (``coder``, ``researcher``...; the metric's
    catalogue name when there is one series) and the y-axis by the metric and its unit: durations
    in ms or s by their size, ratios in %, counter increases per step. ``unit`` overrides the
    unit read from the metric's name. Series of a few points are drawn as points, and a chart of
    little data says how much there is.

    ``findings`` (a findings frame) are drawn as markers on the lines of the series they name
    (matched on the labels they share, and on the metric when a finding names one), coloured by
    severity, with their summary on hover. ``band``: ``"columns"`` draws the frame's
    ``lower``/``upper`` columns; ``"rolling"`` a causal rolling median ± 3 robust sigmas over
    ``band_window`` points; ``"auto"`` the columns if present, else the rolling band when
    findings are given; ``None`` no band.

    >>> from agentinsight.frames import metrics_frame
    >>> fig = timeseries(metrics_frame([0., 60., 120.], "up", [1, 1, 0], {"job": "a"}))
    >>> [t.name for t in fig.data], fig.layout.yaxis.title.text
    (['up'], 'up (no unit)')
    """
    if band not in ("auto", "columns", "rolling", None):
        raise ConfigurationError(f"timeseries: band must be 'auto', 'columns', 'rolling' or "
                                 f"None, got {band!r}")
    frame = _metrics(metrics)
    fig = _figure(title or "Time series")
    if frame.empty:
        return _no_data(fig)
    labels = [c for c in label_columns(frame) if c not in _BAND_COLUMNS]
    has_columns = {"lower", "upper"} <= set(frame.columns)
    mode = band
    if band == "auto":
        mode = "columns" if has_columns else ("rolling" if findings is not None else None)
    if mode == "columns" and not has_columns:
        raise SchemaError("metrics frame: band='columns' needs 'lower' and 'upper' columns")
    axis_title, scale, tickformat = display.axis_title(frame, unit)
    groups = list(frame.groupby(["metric", *labels], observed=True, dropna=False, sort=True))
    keyed = [dict(zip(["__name__", *labels], k if isinstance(k, tuple) else (k,), strict=True))
             for k, _ in groups]
    varying = [c for c in ["__name__", *labels]
               if len({str(v.get(c)) for v in keyed}) > 1]
    colour_keys = [next((str(v[k]) for k in ("agent", "model", "tool")
                         if k in v and pd.notna(v[k])), _series_name(v)) for v in keyed]
    colours = colour_map(colour_keys)
    series_index = []
    fewest = min(len(part) for _, part in groups)
    for values, colour_key, (_, part) in zip(keyed, colour_keys, groups, strict=True):
        name = _text(display.legend_name(values, varying, _series_name(values)))
        colour = colours[colour_key]
        part = part.sort_values("timestamp").assign(value=lambda p: p["value"] * scale)
        if mode is not None:
            lo, hi = ((part["lower"] * scale, part["upper"] * scale) if mode == "columns"
                      else _rolling_band(part["value"], band_window))
            _add_band(fig, part["timestamp"], lo, hi, colour, name)
        few = len(part) < 24  # a short or gappy line also shows its points
        fig.add_trace(go.Scatter(
            x=part["timestamp"], y=part["value"], mode="lines+markers" if few else "lines",
            name=name, line={"color": colour, "width": 1.5}, legendgroup=name,
            marker={"size": 7 if len(part) < 4 else 4},
            hovertemplate=f"{_series_name(values)}: %{{y:,.4~f}}<extra></extra>"))
        series_index.append((values, part))
    if findings is not None:
        _add_findings(fig, validate_findings_frame(findings), series_index, scale)
    _note_little_data(fig, frame["timestamp"], fewest)
    fig.update_layout(hovermode="x unified", yaxis_title=_text(axis_title),
                      showlegend=len(groups) > 1 or findings is not None)
    if tickformat:
        fig.update_yaxes(tickformat=tickformat)
    if frame["value"].min() >= 0:  # a flat zero line is not centred on an axis down to -100%
        fig.update_yaxes(rangemode="tozero")
    return fig


def _note_little_data(fig: go.Figure, times: pd.Series, fewest: int) -> None:
    """Say how much data a thin chart holds, and keep one point from a sub-ms wide axis."""
    first, last = times.min(), times.max()
    span = last - first
    if fewest >= 12 and span >= pd.Timedelta(minutes=10):
        return
    points = times.nunique()
    over = f" over {display.span_text(span)}" if points > 1 else ""
    fig.update_layout(title_subtitle_text=_text(
        f"little data so far: {points} point{'s' if points != 1 else ''} in time{over}"))
    if span < pd.Timedelta(minutes=10):
        pad = (pd.Timedelta(minutes=10) - span) / 2
        fig.update_xaxes(range=[first - pad, last + pad])


def _rolling_band(values: pd.Series, window: int) -> tuple[pd.Series, pd.Series]:
    past = values.shift(1)  # causal: the band at a point uses only earlier points
    median = past.rolling(window, min_periods=max(3, window // 3)).median()
    mad = (past - median).abs().rolling(window, min_periods=max(3, window // 3)).median()
    spread = 3.0 * 1.4826 * mad
    low = median - spread
    if values.min() >= 0:  # a non-negative series is never expected below zero
        low = low.clip(lower=0.0)
    return low, median + spread


def _add_band(fig: go.Figure, x: pd.Series, lo: pd.Series, hi: pd.Series, colour: str,
              name: str) -> None:
    fill = _rgba(colour, 0.15)
    fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line={"width": 0}, hoverinfo="skip",
                             showlegend=False, legendgroup=name, name=f"{name} upper"))
    fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=fill, hoverinfo="skip", showlegend=False,
                             legendgroup=name, name=f"{name} expected"))


def _matches(want: Mapping[str, str], values: Mapping[str, Any]) -> bool:
    """Whether a finding's series is (about) a drawn series: the same metric where the finding
    names one, and the same value for every label both carry (at least one)."""
    name = want.get("__name__")
    if name is not None and name.partition(":")[0] != str(values.get("__name__")).partition(
            ":")[0]:
        return False
    shared = [k for k in want if k != "__name__" and k in values]
    if name is None and not shared:
        return False
    return all(str(values[k]) == want[k] for k in shared)


def _on_line(part: pd.DataFrame, start: Any, end: Any) -> list[tuple[Any, float]]:
    """Where a finding over ``[start, end]`` sits on a drawn line: the line's points inside
    the window, else the line at the window's start (interpolated), if the line is there."""
    inside = part[(part["timestamp"] >= start) & (part["timestamp"] <= end)]
    if len(inside):
        return list(zip(inside["timestamp"], inside["value"], strict=True))
    line = part.dropna(subset=["value"])
    if line.empty or start < line["timestamp"].iloc[0] or start > line["timestamp"].iloc[-1]:
        return []
    x = line["timestamp"].astype("int64").to_numpy()
    at = pd.Timestamp(start).value
    return [(pd.Timestamp(start), float(np.interp(at, x, line["value"].to_numpy())))]


def _add_findings(fig: go.Figure, findings: pd.DataFrame,
                  series: list[tuple[dict[str, Any], pd.DataFrame]], scale: float = 1.0) -> None:
    points: dict[str, list[tuple[Any, float, str]]] = {s: [] for s in SEVERITY_COLOURS}
    expected: list[tuple[Any, float, str]] = []
    shade = len(findings) <= 50
    for row in findings.itertuples(index=False):
        want = {str(k): str(v) for k, v in (row.series or {}).items()}
        hover = f"{_text(row.detector)} · score {row.score:.2f}<br>{_text(row.summary)}"
        hits = [(values, part) for values, part in series if _matches(want, values)]
        if not hits:
            continue  # about a series not in this figure
        start = pd.Timestamp(row.start)
        end = pd.Timestamp(row.end) if pd.notna(row.end) else start
        found = [(ts, val, hover) for _, part in hits for ts, val in _on_line(part, start, end)]
        if not found:
            continue  # outside the drawn period
        points[row.severity] += found
        same = any(str(values.get("__name__")) == want.get("__name__") for values, _ in hits)
        if same and pd.notna(row.expected):  # the detector's own series: its expectation
            expected.append((start, float(row.expected) * scale, hover))
        if shade and end > start:
            fig.add_vrect(x0=start, x1=end, fillcolor=SEVERITY_COLOURS[row.severity],
                          opacity=0.08, line_width=0, layer="below")
    styles = {f"anomaly ({s})": (pts, {"color": SEVERITY_COLOURS[s], "size": 10,
                                       "symbol": "circle-open", "line": {"width": 2}})
              for s, pts in points.items()}
    styles["expected (finding)"] = (expected, {"color": "#555", "size": 10,
                                               "symbol": "line-ew-open", "line": {"width": 2}})
    for name, (pts, marker) in styles.items():
        if pts:
            x, y, text = zip(*pts, strict=True)
            fig.add_trace(go.Scatter(x=list(x), y=list(y), mode="markers", name=name,
                                     marker=marker, hovertext=list(text),
                                     hoverinfo="text+x+y"))


# --- latency heatmap -----------------------------------------------------------------------------


def latency_heatmap(buckets: pd.DataFrame, *, cumulative: bool = True,
                    title: str | None = None) -> go.Figure:
    """Observations per latency bucket over time, from histogram ``_bucket`` series.

    All series are summed per ``le`` (as ``sum by (le)``). With ``cumulative`` the values are
    raw counter samples and each step's increase is shown; otherwise they are already counts or
    rates per step. Rows are buckets (``(0.1, 0.25]``...), columns timestamps.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0.] * 3 + [60.] * 3, "d_bucket", [0, 0, 0, 3, 5, 6],
    ...                   {"le": ["1", "2", "+Inf"] * 2})
    >>> latency_heatmap(f).data[0].z.tolist()
    [[3.0], [2.0], [1.0]]
    """
    frame = _metrics(buckets)
    fig = _figure(title or "Latency distribution over time")
    if "le" not in frame.columns:
        raise SchemaError("metrics frame: histogram buckets need an 'le' label column")
    if cumulative:
        frame = bucket_increments(frame)
    if frame.empty:
        return _no_data(fig)
    le = pd.to_numeric(frame["le"].astype(str).str.replace("Inf", "inf"), errors="coerce")
    if le.isna().any():
        raise SchemaError(f"metrics frame: column 'le' has a non-numeric bucket bound "
                          f"{frame.loc[le.isna(), 'le'].iloc[0]!r}")
    table = frame.assign(_le=le.to_numpy()).pivot_table(
        index="_le", columns="timestamp", values="value", aggfunc="sum").sort_index()
    cum = np.maximum.accumulate(np.nan_to_num(table.to_numpy(dtype="float64")), axis=0)
    counts = np.diff(cum, axis=0, prepend=0.0)
    bounds = table.index.to_numpy(dtype="float64")
    names = [f"≤ {b:g}" if i == 0 else f"({bounds[i - 1]:g}, {b:g}]"
             for i, b in enumerate(bounds)]
    if np.isposinf(bounds[-1]) and len(bounds) > 1:
        names[-1] = f"> {bounds[-2]:g}"
    fig.add_trace(go.Heatmap(x=list(table.columns), y=names, z=counts, colorscale="Viridis",
                             colorbar={"title": {"text": "observations"}},
                             hovertemplate="%{x}<br>%{y}: %{z}<extra></extra>"))
    fig.update_layout(yaxis_title="bucket (le)")
    return fig


# --- cost and tokens -----------------------------------------------------------------------------


def cost_area(table: pd.DataFrame, *, title: str | None = None,
              period: tuple[Any, Any] | None = None) -> go.Figure:
    """Cost per model over time as stacked areas (stacked bars for one bucket or a ``period``).

    ``table`` has ``model``, ``cost_usd`` and a ``timestamp``, ``hour`` or ``day`` column (e.g.
    a cost table by day and model). Unpriced rows (NaN cost) are left out and named in a note,
    never drawn as $0. With ``period`` (the report's ``(start, end)``), hours or days that the
    period covers only in part are drawn hatched and pale and said to be partial, so a half day
    at either edge does not read as a drop in cost.

    >>> t = pd.DataFrame({"day": ["2026-01-01", "2026-01-02"], "model": ["m", "m"],
    ...                   "cost_usd": [1.0, 2.0]})
    >>> [tr.name for tr in cost_area(t).data]
    ['m']
    >>> fig = cost_area(t, period=("2026-01-01T12:00Z", "2026-01-03T00:00Z"))
    >>> fig.layout.title.subtitle.text
    'hatched: partial day at the edge of the period (2026-01-01: 12 of 24 h), not a drop in cost'
    """
    fig = _figure(title or "Cost by model")
    time_col = next((c for c in ("timestamp", "hour", "day") if c in table.columns), None)
    missing = [c for c in ("model", "cost_usd") if c not in table.columns]
    if time_col is None or missing:
        raise SchemaError(f"cost table: missing column(s) {missing or ['timestamp or day']}")
    if table.empty:
        return _no_data(fig)
    model = table["model"].astype(object).fillna("(unknown)")
    unpriced = sorted(set(model[table["cost_usd"].isna()]))
    priced = table.assign(model=model, _t=pd.to_datetime(table[time_col], utc=True))
    priced = priced[priced["cost_usd"].notna()]
    if priced.empty:
        return _no_data(fig, "no priced usage" + (f" (unpriced: {', '.join(unpriced)})"
                                                  if unpriced else ""))
    wide = priced.pivot_table(index="_t", columns="model", values="cost_usd", aggfunc="sum",
                              fill_value=0.0).sort_index()
    order = wide.sum().sort_values(ascending=False).index  # biggest at the bottom
    partial = display.partial_buckets(wide.index, time_col, period)
    bars = len(wide) < 2 or period is not None  # one bucket has no area to draw
    colours = colour_map(order)
    notes = []
    for name in order:
        # The name is looked up, not pasted into the template, where "%{" would be read.
        style = {"x": wide.index, "y": wide[name], "name": _text(name),
                 "hovertemplate": "%{x}<br>%{fullData.name}: $%{y:,.2f}<extra></extra>"}
        if bars:
            shown = [0.45 if p else 1.0 for p in partial.values()] if partial else 1.0
            shapes = ["/" if p else "" for p in partial.values()] if partial else ""
            fig.add_trace(go.Bar(**style, marker={"color": colours[str(name)], "opacity": shown,
                                                  "pattern": {"shape": shapes}}))
        else:
            fig.add_trace(go.Scatter(**style, mode="lines", stackgroup="cost",
                                     line={"width": 0.5, "color": colours[str(name)]}))
    cut = {t: p for t, p in partial.items() if p}
    if cut:
        unit = "day" if time_col == "day" else "hour"
        whole = 24 if unit == "day" else 60
        part = ", ".join(f"{t:%Y-%m-%d}: {h:.0f} of {whole} h" if unit == "day" else
                         f"{t:%H:%M}: {h:.0f} of {whole} min" for t, h in cut.items())
        notes.append(f"hatched: partial {unit}{'s' if len(cut) > 1 else ''} at the edge of the "
                     f"period ({part}), not a drop in cost")
    if unpriced:
        notes.append("unpriced, not shown: " + ", ".join(map(str, unpriced)))
    if notes:
        fig.update_layout(title_subtitle_text=_text("; ".join(notes)))
    if bars:
        fig.update_layout(barmode="stack")
    if len(wide) == 1:  # one bar: an axis a bucket either side, not a millisecond wide
        size = pd.Timedelta(days=1) if time_col == "day" else pd.Timedelta(hours=1)
        fig.update_xaxes(range=[wide.index[0] - size, wide.index[0] + size])
    fig.update_layout(yaxis_title="cost (USD)", yaxis_tickprefix="$",
                      hovermode="x unified")
    return fig


def token_sankey(frame: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Token flow from agents to models (link width = input + output tokens).

    ``frame`` is a spans frame (LLM calls are attributed to the agent run they were made in,
    and agent or tool spans carrying summed usage are skipped) or a table with ``agent``,
    ``model``, ``input_tokens`` and ``output_tokens``.

    >>> t = pd.DataFrame({"agent": ["a"], "model": ["m"], "input_tokens": [10.],
    ...                   "output_tokens": [5.]})
    >>> token_sankey(t).data[0].link.value
    (15.0,)
    """
    fig = _figure(title or "Tokens: agent → model")
    missing = [c for c in ("model", "input_tokens", "output_tokens") if c not in frame.columns]
    if missing:
        raise SchemaError(f"token table: missing column(s) {missing}")
    if "span_id" in frame.columns and len(frame):
        op = frame["operation"].astype(object) if "operation" in frame else pd.Series(
            None, index=frame.index, dtype=object)
        llm = frame["model"].notna() & ~op.isin(AGENT_OPERATIONS | TOOL_OPERATIONS)
        frame = frame.assign(agent=span_agents(frame))[llm]
    elif "agent" not in frame.columns:
        raise SchemaError("token table: missing column(s) ['agent']")
    for col in ("input_tokens", "output_tokens"):
        if (frame[col] < 0).any():
            raise SchemaError(f"token table: column {col!r} has negative token counts")
    work = frame.assign(agent=frame["agent"].astype(object).fillna("(no agent)"),
                        model=frame["model"].astype(object).fillna("(unknown)"))
    flows = work.groupby(["agent", "model"])[["input_tokens", "output_tokens"]].sum()
    flows = flows[(flows["input_tokens"] + flows["output_tokens"]) > 0].reset_index()
    if flows.empty:
        return _no_data(fig)
    agents = sorted(flows["agent"].unique())
    models = sorted(flows["model"].unique())
    colours = colour_map([*agents, *models])
    node = {**{("a", a): i for i, a in enumerate(agents)},
            **{("m", m): len(agents) + i for i, m in enumerate(models)}}
    fig.add_trace(go.Sankey(
        node={"label": [_text(n) for n in (*agents, *models)], "pad": 14, "thickness": 14,
              "color": [colours[str(n)] for n in (*agents, *models)]},
        link={"source": [node["a", a] for a in flows["agent"]],
              "target": [node["m", m] for m in flows["model"]],
              "value": (flows["input_tokens"] + flows["output_tokens"]).tolist(),
              "color": [_rgba(colours[str(a)], 0.35) for a in flows["agent"]],
              "customdata": flows[["input_tokens", "output_tokens"]].to_numpy(),
              "hovertemplate": "%{source.label} → %{target.label}<br>input %{customdata[0]:,.0f}"
                               " · output %{customdata[1]:,.0f}<extra></extra>"},
    ))
    return fig


# --- traces and findings -------------------------------------------------------------------------


def trace_waterfall(spans: pd.DataFrame, trace_id: str | None = None, *,
                    title: str | None = None) -> go.Figure:
    """The spans of one trace as a waterfall, its critical path overlaid in red.

    Without ``trace_id`` the longest trace in the frame is drawn. Rows follow the tree
    (depth-first, one dot per level); failed spans have a red outline.

    >>> from agentinsight.frames import empty_spans_frame
    >>> trace_waterfall(empty_spans_frame()).layout.annotations[0].text
    'no data'
    """
    for col in ("trace_id", "start", "end"):
        if col not in spans.columns:
            raise SchemaError(f"spans frame: missing column(s) [{col!r}]")
    if trace_id is None and len(spans):
        extent = spans.groupby("trace_id").agg(s=("start", "min"), e=("end", "max"))
        trace_id = str((extent["e"] - extent["s"]).idxmax())
    tree = trace_tree(spans, trace_id) if len(spans) else spans.iloc[:0]
    fig = _figure(title or (f"Trace {trace_id}" if trace_id else "Trace"))
    if tree.empty:
        return _no_data(fig)
    t0 = tree["start"].min()
    offset = (tree["start"] - t0).dt.total_seconds() * 1e3
    length = (tree["end"] - tree["start"]).dt.total_seconds() * 1e3
    rows = np.arange(len(tree))
    # Tick labels are right-aligned, so depth is drawn as leading dots rather than indentation.
    labels = ["· " * d + _text(n) for d, n in zip(tree["depth"], tree["name"], strict=True)]
    keys = [next((v for v in (a, m, t) if isinstance(v, str) and v), "span")
            for a, m, t in zip(tree["agent"] if "agent" in tree else [None] * len(tree),
                               tree["model"] if "model" in tree else [None] * len(tree),
                               tree["tool"] if "tool" in tree else [None] * len(tree),
                               strict=True)]
    failed = (tree["status"] == "error").to_numpy() if "status" in tree else np.zeros(len(tree))
    palette = colour_map(keys)
    fig.add_trace(go.Bar(
        y=rows, x=length, base=offset, orientation="h", name="span",
        marker={"color": [_rgba(palette[k], 0.55) for k in keys],
                "line": {"color": np.where(failed, _CRITICAL, "rgba(0,0,0,0)").tolist(),
                         "width": 2}},
        customdata=np.column_stack([[_text(s) for s in tree["span_id"]], length.round(1)]),
        hovertemplate="%{customdata[0]}<br>start +%{base:.1f} ms · %{customdata[1]} ms"
                      "<extra></extra>"))
    path = critical_path(spans, trace_id)
    row_of = dict(zip(tree["span_id"], rows, strict=True))
    fig.add_trace(go.Bar(
        y=[row_of[s] for s in path["span_id"]], x=path["duration_ms"],
        base=(path["start"] - t0).dt.total_seconds() * 1e3, orientation="h",
        name="critical path", width=0.3, marker={"color": _CRITICAL},
        hovertemplate="critical path: %{x:.1f} ms<extra></extra>"))
    fig.update_layout(barmode="overlay", xaxis_title="ms since trace start",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.0,
                              "xanchor": "right", "x": 1},
                      height=max(300, 24 * len(tree) + 120))
    fig.update_yaxes(tickvals=rows.tolist(), ticktext=labels, autorange="reversed",
                     showgrid=False)
    return fig


def findings_timeline(findings: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """Findings as bars from start to end, one row per series, coloured by severity.

    >>> from agentinsight.frames import empty_findings_frame
    >>> findings_timeline(empty_findings_frame()).layout.annotations[0].text
    'no data'
    """
    frame = validate_findings_frame(findings)
    fig = _figure(title or "Findings")
    if frame.empty:
        return _no_data(fig)
    names = [_text(display.series_label(s or {})) for s in frame["series"]]
    for severity, colour in SEVERITY_COLOURS.items():
        part = frame[frame["severity"] == severity]
        if part.empty:
            continue
        x: list[Any] = []
        y: list[Any] = []
        text: list[Any] = []
        for i, row in zip(part.index, part.itertuples(index=False), strict=True):
            hover = (f"{_text(row.detector)} · {severity} · score {row.score:.2f}"
                     f"<br>{_text(row.summary)}"
                     f"<br>observed {row.observed:.4g}, expected {row.expected:.4g}")
            x += [row.start, row.end, None]
            y += [names[frame.index.get_loc(i)]] * 2 + [None]
            text += [hover, hover, None]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=severity,
                                 line={"color": colour, "width": 8},
                                 marker={"color": colour, "size": 8},
                                 hovertext=text, hoverinfo="text"))
    fig.update_layout(height=max(300, 28 * len(set(names)) + 140))
    fig.update_yaxes(type="category", categoryorder="category descending")
    return fig


# --- helpers -------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """``value`` as plotly text: shown as written, never read as markup."""
    return html.escape(str(value), quote=False)


def _figure(title: str) -> go.Figure:
    return go.Figure(layout={"template": TEMPLATE, "title": {"text": _text(title)}})


def _no_data(fig: go.Figure, text: str = "no data") -> go.Figure:
    fig.add_annotation(text=_text(text), xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                       font={"size": 16, "color": "#888"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _metrics(frame: pd.DataFrame) -> pd.DataFrame:
    if isinstance(frame, pd.DataFrame):
        text = [c for c in ("metric", *label_columns(frame))
                if c not in _BAND_COLUMNS and not isinstance(frame[c].dtype, pd.CategoricalDtype)
                and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))]
        if text:
            frame = frame.astype({c: "category" for c in text})
        bands = [c for c in _BAND_COLUMNS if c in frame.columns]
        if bands:
            validate_metrics_frame(frame.drop(columns=bands))
            return frame
    return validate_metrics_frame(frame)


def _series_name(labels: Mapping[str, Any]) -> str:
    name = str(labels.get("__name__", ""))
    rest = [f'{k}="{v}"' for k, v in labels.items() if k != "__name__" and pd.notna(v)]
    return _text(f"{name}{{{','.join(rest)}}}" if rest else name or "{}")


def _rgba(hex_colour: str, alpha: float) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"

