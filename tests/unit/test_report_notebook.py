"""The steps report notebooks share: the headline block and the step of short charts."""

from __future__ import annotations

import pandas as pd

from agentinsight.analysis import cost, display
from agentinsight.frames import empty_findings_frame, finding_fingerprint
from agentinsight.reports.notebook import chart_step, cost_headline, headline

DAY = pd.Timedelta(days=1)


def _periods():
    """The example spans as this period's, and a cheaper copy of them a day earlier."""
    now = cost.example_spans()
    before = now.assign(start=now["start"] - DAY, end=now["end"] - DAY,
                        input_tokens=now["input_tokens"] / 2,
                        output_tokens=now["output_tokens"] / 2,
                        cache_read_tokens=now["cache_read_tokens"] / 2,
                        cache_write_tokens=now["cache_write_tokens"] / 2,
                        reasoning_tokens=now["reasoning_tokens"] / 2)
    period = (now["start"].min().floor("D"), now["start"].min().floor("D") + DAY)
    return now, before, period


def _findings():
    start = pd.Timestamp("2026-11-03T07:35Z")
    rows = [{"fingerprint": finding_fingerprint("extreme", {"queue": "default"}, start),
             "detector": "extreme", "series": {"__name__": "task_queue_size", "queue": "default"},
             "start": start, "end": start, "score": 0.99, "severity": "critical",
             "observed": 23.0, "expected": 9.0, "trace_ids": [],
             "summary": "task_queue_size{queue=default}: 23 (beyond the previous max 9)"}]
    frame = pd.DataFrame(rows)
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame[list(empty_findings_frame().columns)]


def test_headline_compares_the_period_with_the_one_before_and_names_the_worst_findings():
    now, before, period = _periods()
    block = headline(now, cost.price_spans(now), _findings(),
                     previous=(before, cost.price_spans(before)), period=period)
    row = block.table.loc["cost (USD, priced calls)"]
    assert row["change"] == "+100.0%"  # twice the tokens of the day before
    assert row["this period"].startswith("$") and row["previous period"].startswith("$")
    assert block.table.loc["tokens (input + output)", "change"] == "+100.0%"
    page = block._repr_html_()
    assert page.index("this period") < page.index("Worst finding")
    assert "against the previous period" in page
    assert "task_queue_size{queue=default}: 23" in page
    # the plain-text form stays the one-column table of this period's numbers
    assert repr(block).splitlines()[0].strip() == "value"
    assert "agent runs" in repr(block)


def test_headline_without_a_previous_period_says_so_by_leaving_it_out():
    now, _, period = _periods()
    page = headline(now, cost.price_spans(now), empty_findings_frame(), period=period)
    html = page._repr_html_()
    assert "previous period" not in html
    assert "No anomaly findings in this period." in html


def test_cost_headline_opens_with_the_total_and_the_top_movers():
    now, before, period = _periods()
    block = cost_headline(cost.price_spans(now), cost.price_spans(before), period=period)
    assert block.table.index[0] == "total cost (priced calls)"
    assert block.table.iloc[0]["change"] == "+100.0%"
    page = block._repr_html_()
    assert "Top movers by model: gpt-4o +$" in page
    assert "Top movers by agent:" in page


def test_short_periods_chart_in_finer_steps():
    assert chart_step("2026-11-01", "2026-11-02") == "1h"
    assert chart_step("2026-11-01T00:00", "2026-11-01T01:00") == "5m"  # a first hour
    assert chart_step("2026-11-01T00:00", "2026-11-01T00:10") == "1m"


def test_cost_headline_projects_the_month_against_the_budget():
    now, before, period = _periods()
    priced = cost.price_spans(now)
    projected = float(cost.month_end_projection(priced, now=period[1])
                      .iloc[0]["projected_month_usd"])
    budget = projected / 2  # on course to spend twice the budget
    block = cost_headline(priced, cost.price_spans(before), period=period, budget_usd=budget)
    row = block.table.loc[f"projected month end, budget {display.usd(budget)}"]
    assert row["this period"] == display.usd(projected)
    assert row["change"] == "200% of budget"
    without = cost_headline(priced, None, period=period)
    assert not any("budget" in label for label in without.table.index)
