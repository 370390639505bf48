"""How tables read: the values the issue found in the reports, written the way a reader expects."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from agentinsight.analysis import cost, display


def test_values_from_the_reports_are_written_for_reading():
    assert display.duration_ms(60342.271) == "60.3 s"
    assert display.duration_ms(412.4) == "412 ms"
    assert display.duration_ms(41.23) == "41.2 ms"
    assert display.duration_ms(3_733_899.0) == "62.2 min"
    assert display.number(1.647920e07) == "16,479,200"
    assert display.number(0.00001) == "0"
    assert display.number(82.0) == "82"
    assert display.count(-819293.67) == "-819,294"  # tokens are whole
    assert display.usd(-0.0308) == "-$0.03"
    assert display.usd(1234.561) == "$1,234.56"
    assert display.usd(0.0006) == "$0.0006"
    assert display.usd(np.nan) == "unpriced"
    stamp = pd.Timestamp("2026-11-03T02:14:56.354108549Z")
    assert display.timestamp(stamp) == "2026-11-03 02:14:56"
    assert display.timestamp(pd.Timestamp("2026-11-01T00:00Z"), "month") == "2026-11"


def test_series_are_named_from_the_catalogue_not_by_promql():
    labels = {"__name__": "llm_tokens_used_total:increase", "agent": "coder", "model": "gpt-4o"}
    label = display.series_label(labels)
    assert label == "LLM tokens used, increase · agent=coder, model=gpt-4o"
    assert "__name__" not in label
    assert display.metric_label("agent_execution_duration_seconds:p95") == (
        "agent execution duration, p95")
    assert display.metric_label("my_own_metric") == "my_own_metric"  # not in the catalogue


def _cells(page: str) -> list[str]:
    return re.findall(r"<td[^>]*>(.*?)</td>", page)


def test_a_table_has_no_index_column_no_scientific_notation_and_scrolls_in_its_box():
    frame = pd.DataFrame({
        "agent": ["coder", "planner"], "p50_ms": [60342.271, 12.5],
        "tokens": [-819293.67, 1.0], "cost_usd": [-0.0308, 1234.561],
        "error_ratio": [0.0123, 0.0], "queue": [1.647920e07, 3.0],
        "start": pd.to_datetime(["2026-11-03T02:14:56.354108549Z"] * 2),
        "summary": ["a long finding summary " * 10, "short"],
    }, index=[5, 6])
    page = display.table(frame, title="Agents")._repr_html_()
    assert "overflow-x:auto" in page
    cells = _cells(page)
    assert cells[:8] == ["coder", "60.3 s", "-819,294", "-$0.03", "1.2%", "16,479,200",
                         "2026-11-03 02:14:56", "a long finding summary " * 10]
    assert not re.search(r"\de[+-]\d", " ".join(cells))
    assert ">5<" not in page and ">6<" not in page  # the index is not shown
    headers = re.findall(r"<th[^>]*>(.*?)</th>", page)
    assert headers == ["agent", "p50", "tokens", "cost", "error ratio", "queue", "start",
                       "summary"]
    assert re.search(r"white-space: normal", page)  # long text wraps inside the page


def test_an_empty_table_is_a_sentence():
    page = cost.unpriced_usage(cost.example_spans())._repr_html_()
    assert "<table" not in page
    assert "Every LLM call in the period was priced" in page


def test_the_unknown_task_type_is_explained():
    spans = cost.example_spans()
    table = cost.cost_per_successful_task(spans)
    if "(unknown)" in set(table["task_type"]):
        assert "no task type" in table.attrs["note"]
    spans = spans.assign(agent=None, attributes=[{} for _ in range(len(spans))])
    table = cost.cost_table(spans, by=["task_type"])
    assert "(unknown)" in set(table["task_type"])
    assert "(unknown) task type: traces whose spans carry no task type" in table._repr_html_()
