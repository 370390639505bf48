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


def _weekend_start_fleet(bloat: bool) -> dict[str, pd.DataFrame]:
    """Saturday to Tuesday at 5-minute steps: two agents whose runs follow office hours
    (08:00-18:00) that are 2.5 times busier on weekdays, tokens in proportion to the runs; with
    ``bloat``, agent a's prompts grow 4.5 times on Tuesday from 14:00 to 17:00."""
    import numpy as np

    from agentinsight.frames import metrics_frame

    rng = np.random.default_rng(3)
    stamps = pd.date_range("2026-11-07", "2026-11-11", freq="5min", inclusive="left", tz="UTC")
    office = (stamps.hour >= 8) & (stamps.hour < 18)
    shape = np.where(office, 1.0, 0.2) * np.where(stamps.day_of_week >= 5, 0.4, 1.0)
    bloated = (stamps >= "2026-11-10T14:00Z") & (stamps < "2026-11-10T17:00Z")
    runs, tokens = [], []
    for agent in ("a", "b"):
        n = rng.poisson(25 * shape).astype(float)
        runs.append(metrics_frame(stamps, "agent_execution_total:increase", n,
                                  {"agent": agent}))
        for token_type, per_run in (("input", 3000.0), ("output", 400.0)):
            grow = 4.5 if bloat and agent == "a" and token_type == "input" else 1.0
            each = per_run * np.where(bloated, grow, 1.0)
            # per call, tokens spread as the simulator's do (lognormal, sigma 0.5)
            used = n * each * rng.lognormal(0.0, 0.5 / np.sqrt(np.maximum(n, 1)))
            tokens.append(metrics_frame(stamps, "llm_tokens_used_total:increase", used,
                                        {"agent": agent, "token_type": token_type}))
    return {"tokens": pd.concat(tokens, ignore_index=True),
            "runs": pd.concat(runs, ignore_index=True)}


def test_the_first_monday_after_a_weekend_start_is_no_finding_but_bloated_prompts_are():
    # token usage by itself sets records all Monday morning (the history knew weekends only);
    # tokens per run do not move, and a 4.5x prompt is still found at once
    from agentinsight.reports.notebook import fleet_findings, tokens_per_run

    calm = fleet_findings(_weekend_start_fleet(bloat=False))
    assert calm.empty, calm["summary"].tolist()
    found = fleet_findings(_weekend_start_fleet(bloat=True))
    assert len(found) == 1, found["summary"].tolist()
    finding = found.iloc[0]
    assert finding["series"] == {"__name__": "llm_tokens_used_total:per_run", "agent": "a",
                                 "token_type": "input"}
    assert pd.Timestamp("2026-11-10T14:00Z") <= finding["start"] <= pd.Timestamp(
        "2026-11-10T14:30Z")
    frames = _weekend_start_fleet(bloat=False)
    per_run = tokens_per_run(frames["tokens"], frames["runs"])
    assert 2900 < per_run[per_run["token_type"] == "input"]["value"].median() < 3100


def test_a_traffic_drop_must_hold_for_ten_minutes_at_any_step():
    import numpy as np

    from agentinsight.frames import metrics_frame
    from agentinsight.reports.notebook import fleet_findings

    stamps = pd.date_range("2026-11-02", "2026-11-04", freq="1min", inclusive="left", tz="UTC")
    rate = np.random.default_rng(2).normal(0.1, 0.003, len(stamps))
    dip = (stamps >= "2026-11-03T10:00Z") & (stamps < "2026-11-03T10:03Z")
    outage = (stamps >= "2026-11-03T15:00Z") & (stamps < "2026-11-03T15:40Z")
    rate = np.where(dip | outage, 0.01, rate)
    found = fleet_findings({"fleet_runs": metrics_frame(stamps, "agent_execution_total:rate",
                                                        rate)})
    assert found["detector"].tolist() == ["traffic_drop"]  # the outage, not the 3-minute dip
    assert found.iloc[0]["start"] == pd.Timestamp("2026-11-03T15:00Z")


def _quiet_step_fleet(quiet_tokens: float, bloat: bool = False):
    """Two days of 10-minute steps for one agent: ten runs a step at 8,000 or 12,000 input
    tokens per run in turn, one step at 03:00 on the second day where only four runs finished
    with ``quiet_tokens`` between them, one at 04:00 with two runs, and (``bloat``) three
    tripled steps at 15:00."""
    from agentinsight.frames import metrics_frame

    stamps = pd.date_range("2026-11-02", "2026-11-04", freq="10min", inclusive="left", tz="UTC")
    runs = pd.Series(10.0, index=stamps)
    tokens = pd.Series([8000.0 * 10 if i % 2 else 12000.0 * 10 for i in range(len(stamps))],
                       index=stamps)
    quiet = pd.Timestamp("2026-11-03T03:00Z")
    runs[quiet], tokens[quiet] = 4.0, quiet_tokens
    lone = pd.Timestamp("2026-11-03T04:00Z")
    runs[lone], tokens[lone] = 2.0, 2 * 40000.0
    if bloat:
        late = (stamps >= "2026-11-03T15:00Z") & (stamps < "2026-11-03T15:30Z")
        tokens[late] = 30000.0 * 10
    labels = {"agent": "a", "token_type": "input"}
    return {"tokens": metrics_frame(stamps, "llm_tokens_used_total:increase", tokens.to_numpy(),
                                    labels),
            "runs": metrics_frame(stamps, "agent_execution_total:increase", runs.to_numpy(),
                                  {"agent": "a"})}


def test_one_long_run_in_a_quiet_step_sets_no_record_but_bloated_prompts_still_do():
    # four runs at 03:00, one of them long: 15,000 tokens a run against the usual 8,000-12,000
    # (a record by 0.75 of the range as a plain ratio); shrunk toward the level of 10,000 with
    # the weight of three runs it reads 90,000 / 7 = 12,857, a small excess; two runs at 04:00
    # averaging 40,000 are too few to judge; ten runs a step at 30,000 are found at once
    from agentinsight.reports.notebook import fleet_findings, tokens_per_run

    frames = _quiet_step_fleet(60000.0)
    per_run = tokens_per_run(frames["tokens"], frames["runs"]).set_index("timestamp")["value"]
    assert round(per_run[pd.Timestamp("2026-11-03T03:00Z")]) == 12857
    assert pd.Timestamp("2026-11-03T04:00Z") not in per_run.index
    assert fleet_findings(frames).empty, fleet_findings(frames)["summary"].tolist()
    found = fleet_findings(_quiet_step_fleet(60000.0, bloat=True))
    assert len(found) == 1, found["summary"].tolist()
    assert pd.Timestamp("2026-11-03T15:00Z") <= found.iloc[0]["start"] <= pd.Timestamp(
        "2026-11-03T15:20Z")


def test_spend_per_run_shrinks_a_four_run_step_toward_the_agents_level():
    from agentinsight.frames import metrics_frame
    from agentinsight.reports.notebook import spend_per_run

    stamps = [0.0, 600.0, 1200.0, 1800.0]
    cost = metrics_frame(stamps, "llm_cost_usd_total:increase", [1.0, 1.0, 1.2, 0.9],
                         {"agent": "a", "model": "m"})
    runs = metrics_frame(stamps, "agent_execution_total:increase", [10.0, 10.0, 4.0, 2.0],
                         {"agent": "a"})
    # the level is $0.10 a run; four runs at $0.30 each read (1.2 + 3 x 0.1) / 7 = $0.214, and
    # two runs are too few to judge
    assert spend_per_run(cost, runs)["value"].round(3).tolist() == [0.1, 0.1, 0.214]


def _tool_fleet(calls_at_night: int):
    """Two days of a tool's half-hourly p95 (1.0 s and 1.5 s in turn) and the spans of its
    calls, 30 a window; the window ending at 03:00 on the second day has a p95 of 4 s over
    ``calls_at_night`` calls, the one ending at 15:00 a p95 of 4 s over 30 calls."""
    import numpy as np

    from agentinsight.frames import SPANS_COLUMNS, metrics_frame
    from agentinsight.semconv import TOOL_OPERATIONS

    stamps = pd.date_range("2026-11-02T00:30Z", "2026-11-04T00:00Z", freq="30min")
    p95 = np.where(np.arange(len(stamps)) % 2, 1.5, 1.0)
    night, day = pd.Timestamp("2026-11-03T03:00Z"), pd.Timestamp("2026-11-03T15:00Z")
    p95[stamps == night] = p95[stamps == day] = 4.0
    ends = []
    for stamp in stamps:
        n = calls_at_night if stamp == night else 30
        ends.extend(stamp - pd.Timedelta(seconds=50) * (i + 1) for i in range(n))
    spans = pd.DataFrame({c: [None] * len(ends) for c in SPANS_COLUMNS})
    spans = spans.assign(
        trace_id=[f"t{i}" for i in range(len(ends))], span_id=[f"s{i}" for i in range(len(ends))],
        parent_span_id="", service="svc", name="tool", kind="internal", status_message="",
        agent="", provider="", model="", end=pd.to_datetime(ends, utc=True),
        start=pd.to_datetime(ends, utc=True) - pd.Timedelta(seconds=1), duration_ms=1000.0,
        status="ok", operation=sorted(TOOL_OPERATIONS)[0], tool="kb_search",
        attributes=[{} for _ in ends])
    for col in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens",
                "reasoning_tokens"):
        spans[col] = 0.0
    frame = metrics_frame(stamps, "tool_execution_duration_seconds:p95", p95,
                          {"tool": "kb_search"})
    return {"tool_latency_p95_30m": frame}, spans


def test_a_tool_p95_over_a_handful_of_calls_is_no_record():
    # at night three calls make the "p95" their slowest call: no finding; the same p95 over
    # 30 calls in the afternoon is one (and over 30 calls at night, the night is the record)
    from agentinsight.reports.notebook import fleet_findings

    found = fleet_findings(*_tool_fleet(3))
    assert found["start"].tolist() == [pd.Timestamp("2026-11-03T15:00Z")], \
        found["summary"].tolist()
    busy = fleet_findings(*_tool_fleet(30))
    assert busy["start"].tolist() == [pd.Timestamp("2026-11-03T03:00Z")], \
        busy["summary"].tolist()
