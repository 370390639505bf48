"""Label values from agents are data: no table, figure or report turns them into markup.

Every output a report shows is built here from frames whose agent, model, tool and span names,
finding summaries and detectors are HTML payloads. A payload surviving as a raw tag would run in
the browser that opens the report; each test asserts the raw tag is gone and the escaped text
(what a reader should see) is there.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from agentinsight import plots
from agentinsight.analysis import cost, performance
from agentinsight.analysis.anomaly import findings_html
from agentinsight.frames import metrics_frame, validate_findings_frame
from agentinsight.reports.notebook import headline

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(1)</script>"
RAW = ("<img", "<script", "</script")
T0 = pd.Timestamp("2026-01-01T10:00:00Z")


def _assert_inert(text: str, *payloads: str) -> None:
    for raw in RAW:
        assert raw not in text, f"raw {raw!r} survived in: ...{_around(text, raw)}..."
    for payload in payloads:
        escaped = payload.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert escaped in text, f"the escaped label {escaped!r} is not shown"


def _around(text: str, needle: str) -> str:
    i = text.find(needle)
    return text[max(0, i - 80):i + 80]


def _figure_text(fig: go.Figure) -> str:
    """Every string of the figure as plotly.js receives it (JSON decoded, so the HTML-safe
    ``\\u003c`` of plotly's own serialisation does not hide a raw ``<``)."""
    strings: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            strings.append(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(pio.to_json(fig)))
    return "\n".join(strings)


def _hostile_spans() -> pd.DataFrame:
    """The package's example trace with an agent, models, a tool and span names as payloads."""
    spans = cost.example_spans()
    spans["agent"] = spans["agent"].where(spans["agent"].isna(), IMG)
    spans["model"] = spans["model"].replace({"gpt-4o": SCRIPT, "gpt-4o-mini": IMG + "-mini"})
    spans["tool"] = spans["tool"].where(spans["tool"].isna(), SCRIPT)
    spans["name"] = [f"{n} {IMG}" for n in spans["name"]]
    spans["trace_id"] = "t1" + SCRIPT
    return spans


def _hostile_findings() -> pd.DataFrame:
    return validate_findings_frame(pd.DataFrame([{
        "fingerprint": "f1", "detector": "seasonal" + SCRIPT,
        "series": {"__name__": "latency_p95", "agent": IMG},
        "start": T0 + pd.Timedelta(minutes=5), "end": T0 + pd.Timedelta(minutes=6),
        "score": 0.95, "severity": "critical", "observed": 9.0, "expected": 1.0,
        "summary": f"latency of {IMG} rose", "trace_ids": ["t1" + SCRIPT],
    }]).astype({"start": "datetime64[ns, UTC]", "end": "datetime64[ns, UTC]"}))


def _hostile_metrics() -> pd.DataFrame:
    ts = T0 + pd.to_timedelta(range(10), unit="min")
    return metrics_frame(ts, "latency_p95", [1.0] * 5 + [9.0] + [1.0] * 4, {"agent": IMG})


# --- tables --------------------------------------------------------------------------------------


@pytest.mark.parametrize("by", [["agent"], ["model", "provider"], ["tool"]])
def test_cost_table_html_shows_hostile_labels_as_text(by: list[str]) -> None:
    table = cost.cost_table(_hostile_spans(), by=by)
    _assert_inert(table._repr_html_())
    assert "&lt;" in table._repr_html_()


def test_cost_table_caption_escapes_unpriced_model_names() -> None:
    spans = _hostile_spans()
    html = cost.cost_table(spans, by=["agent"])._repr_html_()  # the note lists unpriced models
    _assert_inert(html, IMG)


REPORT_TABLES = {
    "agent x model": lambda p: cost.cost_table(p, by=["agent", "model"]),
    "top traces": lambda p: cost.top_traces(p, 5),
    "unpriced": cost.unpriced_usage,
    "cache savings": cost.cache_savings,
    "per task": cost.cost_per_successful_task,
    "projection": lambda p: cost.month_end_projection(p, now=T0 + pd.Timedelta(days=1)),
}


@pytest.mark.parametrize("table", REPORT_TABLES.values(), ids=REPORT_TABLES.keys())
def test_every_cost_report_table_is_inert(table: Any) -> None:
    _assert_inert(table(cost.price_spans(_hostile_spans()))._repr_html_())


def test_already_escaped_tables_stay_escaped() -> None:
    # A guard, not a fix: the findings table and plain DataFrames escaped before.
    spans = _hostile_spans()
    _assert_inert(findings_html(_hostile_findings()), IMG, SCRIPT)
    _assert_inert(headline(spans, cost.price_spans(spans), _hostile_findings())._repr_html_())
    _assert_inert(performance.breakdown(spans, by="tool")._repr_html_(), SCRIPT)


# --- figures -------------------------------------------------------------------------------------


def test_timeseries_legend_and_finding_hover_show_labels_as_text() -> None:
    fig = plots.timeseries(_hostile_metrics(), _hostile_findings(), title=f"p95 of {IMG}")
    _assert_inert(_figure_text(fig), f'latency_p95{{agent="{IMG}"}}', f"latency of {IMG} rose",
                  "seasonal" + SCRIPT, f"p95 of {IMG}")


def test_findings_timeline_shows_labels_as_text() -> None:
    _assert_inert(_figure_text(plots.findings_timeline(_hostile_findings())), IMG, SCRIPT)


def test_cost_area_names_and_unpriced_note_show_as_text() -> None:
    table = pd.DataFrame({"day": ["2026-01-01", "2026-01-02", "2026-01-01"],
                          "model": [SCRIPT, SCRIPT, IMG], "cost_usd": [1.0, 2.0, None]})
    fig = plots.cost_area(table)
    _assert_inert(_figure_text(fig), SCRIPT, IMG)
    assert [t.name for t in fig.data] == [SCRIPT.replace("<", "&lt;").replace(">", "&gt;")]


def test_cost_area_hover_does_not_read_a_model_name_as_a_template() -> None:
    table = pd.DataFrame({"day": ["2026-01-01", "2026-01-02"], "model": ["%{y}"] * 2,
                          "cost_usd": [1.0, 2.0]})
    assert "%{y}" not in plots.cost_area(table).data[0].hovertemplate.replace("%{y:", "")


def test_token_sankey_nodes_show_labels_as_text() -> None:
    _assert_inert(_figure_text(plots.token_sankey(_hostile_spans())), IMG, SCRIPT)


def test_trace_waterfall_span_names_and_title_show_as_text() -> None:
    spans = _hostile_spans()
    fig = plots.trace_waterfall(spans, "t1" + SCRIPT)
    _assert_inert(_figure_text(fig), IMG, "Trace t1" + SCRIPT)
