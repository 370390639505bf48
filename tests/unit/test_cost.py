"""Token-cost analysis: hand-computed prices, agreement with genai_prices.calc_price, the span
tree rules (tokens counted once), unpriced usage, counters, and the tables built on top."""

from __future__ import annotations

import warnings
from datetime import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from genai_prices import Usage, calc_price

from agentinsight.analysis import cost
from agentinsight.exceptions import ConfigurationError, SchemaError
from agentinsight.frames import TOKEN_COLUMNS, empty_spans_frame, metrics_frame

_TOKENS = {"input": "input_tokens", "output": "output_tokens", "cache_read": "cache_read_tokens",
           "cache_write": "cache_write_tokens", "reasoning": "reasoning_tokens"}


def spans(*rows: dict) -> pd.DataFrame:
    """A spans frame from row dicts; unspecified columns get neutral values."""
    records = []
    for i, row in enumerate(rows):
        start = pd.Timestamp(row.get("start", "2026-01-01T10:00:00Z"))
        record = {
            "trace_id": row.get("trace_id", f"t{i}"), "span_id": row.get("span_id", f"s{i}"),
            "parent_span_id": row.get("parent", ""), "service": "svc",
            "name": row.get("name", f"{row.get('operation', 'chat')} {row.get('model')}"),
            "kind": "client", "start": start, "end": start + pd.Timedelta(seconds=1),
            "duration_ms": 1000.0, "status": row.get("status", "ok"), "status_message": "",
            "agent": row.get("agent"), "operation": row.get("operation", "chat"),
            "provider": row.get("provider"), "model": row.get("model"), "tool": row.get("tool"),
            "attributes": row.get("attributes", {}),
        }
        for short, col in _TOKENS.items():
            record[col] = row.get(short, np.nan)
        records.append(record)
    frame = pd.DataFrame(records) if records else empty_spans_frame()
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame


def reference(row: dict) -> float:
    """genai_prices.calc_price for one call described like a `spans` row."""
    usage = Usage(**{f"{k}_tokens" if k != "reasoning" else "output_reasoning_tokens": int(v)
                     for k, v in row.items() if k in _TOKENS and not pd.isna(v)})
    context = {}
    if row.get("attributes", {}).get("gen_ai.request.batch"):
        context["processing"] = "batch"
    if tier := row.get("attributes", {}).get("openai.response.service_tier"):
        context["service_tier"] = tier
    result = calc_price(usage, row["model"], provider_id=row.get("provider"),
                        genai_request_timestamp=pd.Timestamp(row["start"]).to_pydatetime(),
                        price_context=context or None)
    return float(result.total_price)


# Hand-computed cases: USD from the published per-million-token prices in genai-prices 0.2.3.
CASES = [
    pytest.param(  # 6M uncached input at $2.5, 4M cached at $1.25, 1M output at $10
        dict(provider="openai", model="gpt-4o", input=10e6, cache_read=4e6, output=1e6,
             start="2026-01-01T10:00:00Z"), 15.0 + 5.0 + 10.0, id="cached-input"),
    pytest.param(  # reasoning is part of output: 5M output at $8, not 5M + 4M
        dict(provider="openai", model="o3", input=1e6, output=5e6, reasoning=4e6,
             start="2025-07-01T00:00:00Z"), 2.0 + 40.0, id="reasoning"),
    pytest.param(  # batch: $1.25 / $5 instead of $2.5 / $10 (batch variant from 2026-10-14)
        dict(provider="openai", model="gpt-4o", input=2e6, output=1e6,
             attributes={"gen_ai.request.batch": True}, start="2026-11-01T00:00:00Z"),
        2.5 + 5.0, id="batch"),
    pytest.param(  # flex service tier for gpt-5: $0.625 / $5
        dict(provider="openai", model="gpt-5", input=4e6, output=1e6,
             attributes={"openai.response.service_tier": "flex"}, start="2026-11-01T00:00:00Z"),
        2.5 + 5.0, id="service-tier"),
    pytest.param(  # o3 input price before its 2025-06-10 cut: $10
        dict(provider="openai", model="o3", input=1e6, output=0, start="2025-06-09T23:59:00Z"),
        10.0, id="price-before-change"),
    pytest.param(  # ... and from that date: $2
        dict(provider="openai", model="o3", input=1e6, output=0, start="2025-06-10T00:00:00Z"),
        2.0, id="price-after-change"),
    pytest.param(  # Anthropic cache write $3.75, read $0.3, rest of input $3, output $15
        dict(provider="anthropic", model="claude-sonnet-4-5", input=100_000, cache_read=30_000,
             cache_write=20_000, output=10_000, start="2026-01-01T00:00:00Z"),
        (50_000 * 3 + 30_000 * 0.3 + 20_000 * 3.75 + 10_000 * 15) / 1e6, id="cache-write"),
    pytest.param(  # over 200k input tokens: every token at the tier price ($6 / $22.5)
        dict(provider="anthropic", model="claude-sonnet-4-5", input=300_000, output=10_000,
             start="2026-01-01T00:00:00Z"), (300_000 * 6 + 10_000 * 22.5) / 1e6, id="tiered"),
    pytest.param(  # DeepSeek peak hours (00:30-16:30 UTC): $0.27 / $1.1
        dict(provider="deepseek", model="deepseek-chat", input=1e6, output=1e6,
             start="2026-01-01T02:00:00Z"), 0.27 + 1.1, id="time-of-day-peak"),
    pytest.param(  # ... off-peak: $0.135 / $0.55
        dict(provider="deepseek", model="deepseek-chat", input=1e6, output=1e6,
             start="2026-01-01T20:00:00Z"), 0.135 + 0.55, id="time-of-day-off-peak"),
    pytest.param(  # embeddings report no output tokens at all
        dict(provider="openai", model="text-embedding-3-small", operation="embeddings",
             input=10e6, start="2026-01-01T00:00:00Z"), 0.2, id="embeddings"),
]


@pytest.mark.parametrize(("row", "expected"), CASES)
def test_hand_computed_prices_agree_with_calc_price(row, expected):
    priced = cost.price_spans(spans(row))
    assert priced["priced"].iloc[0]
    assert priced["cost_usd"].iloc[0] == pytest.approx(expected, abs=1e-9)
    # agrees with calc_price to the cent, and in fact to float precision
    assert abs(priced["cost_usd"].iloc[0] - reference(row)) < 0.005
    assert priced["cost_usd"].iloc[0] == pytest.approx(reference(row), rel=1e-12)
    assert priced["price_source"].iloc[0].startswith("genai-prices 0.2.3: ")


def test_batch_and_tier_are_named_in_the_price_source():
    rows = [c.values[0] for c in CASES if c.id in {"batch", "service-tier", "cached-input"}]
    priced = cost.price_spans(spans(*rows))
    assert priced["price_source"].tolist() == [
        "genai-prices 0.2.3: openai/gpt-4o",
        "genai-prices 0.2.3: openai/gpt-4o [processing=batch]",
        "genai-prices 0.2.3: openai/gpt-5 [service_tier=flex]",
    ]


def test_unknown_model_is_unpriced_never_zero():
    priced = cost.price_spans(spans(
        dict(provider="openai", model="gpt-4o", input=1e6, output=0),
        dict(provider="openai", model="my-finetune-7", input=5000, output=700),
        dict(provider="acme-cloud", model="gpt-4o", input=100, output=10),
    ))
    assert priced["priced"].tolist() == [True, False, False]
    assert priced["cost_usd"].isna().tolist() == [False, True, True]
    assert "unknown model 'my-finetune-7'" in priced["unpriced_reason"].iloc[1]
    assert "unknown provider 'acme-cloud'" in priced["unpriced_reason"].iloc[2]
    table = cost.cost_table(priced, by="model")
    mine = table.set_index("model").loc["my-finetune-7"]
    assert np.isnan(mine["cost_usd"]) and mine["unpriced_calls"] == 1
    assert mine["unpriced_tokens"] == 5700
    assert "my-finetune-7" in table.attrs["note"]
    report = cost.unpriced_usage(priced)
    assert report[["model", "calls", "tokens"]].values.tolist() == [
        ["my-finetune-7", 1, 5700.0], ["gpt-4o", 1, 110.0]]


def test_vectorised_engine_matches_calc_price_on_a_mixed_sample():
    rng = np.random.default_rng(7)
    models = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "o3"),
              ("openai", "gpt-5"), ("anthropic", "claude-sonnet-4-5"),
              ("anthropic", "claude-opus-4-6"), ("google", "gemini-2.5-pro"),
              ("deepseek", "deepseek-chat"), ("deepseek", "deepseek-v4-pro"),
              (None, "gpt-4o"), ("azure.ai.openai", "gpt-4o-mini"),
              ("aws.bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0"),
              ("mistral_ai", "mistral-large-latest")]
    rows = []
    for i in range(400):
        provider, model = models[i % len(models)]
        inp = int(rng.integers(0, 400_000))
        read = int(rng.integers(0, inp // 2 + 1))
        out = int(rng.integers(0, 20_000))
        start = pd.Timestamp("2025-05-01T00:00:00Z") + pd.Timedelta(
            seconds=int(rng.integers(0, 600 * 86400)))
        attributes = {}
        if rng.random() < 0.2:
            attributes["gen_ai.request.batch"] = True
        elif rng.random() < 0.2:
            attributes["openai.response.service_tier"] = "priority"
        rows.append(dict(provider=provider, model=model, input=inp, cache_read=read,
                         cache_write=int(rng.integers(0, inp - read + 1)) if i % 3 == 0 else 0,
                         output=out, reasoning=out // 3, start=str(start),
                         attributes=attributes))
    priced = cost.price_spans(spans(*rows))
    assert priced["priced"].all()
    expected = np.array([reference(r) for r in rows])
    np.testing.assert_allclose(priced["cost_usd"].to_numpy(), expected, rtol=1e-12, atol=1e-12)


def agent_tree() -> pd.DataFrame:
    """A planner task calling a coder sub-agent; every agent span repeats its subtree's sum, and
    one chat span wraps a client-level span that carries the same usage again."""
    t = "2026-01-01T10:00:00Z"
    return spans(
        dict(trace_id="T", span_id="task", operation="task", name="task refactor",
             attributes={"agentinsight.task.type": "refactor"}),
        dict(trace_id="T", span_id="plan", parent="task", operation="invoke_agent",
             agent="planner", input=31_000, output=2_500, cache_read=8_000),
        dict(trace_id="T", span_id="c1", parent="plan", provider="openai", model="gpt-4o",
             input=10_000, output=1_000, cache_read=8_000, start=t),
        dict(trace_id="T", span_id="code", parent="plan", operation="invoke_agent",
             agent="coder", input=21_000, output=1_500),
        dict(trace_id="T", span_id="c2", parent="code", provider="openai", model="gpt-4o-mini",
             input=20_000, output=1_000, start=t),
        dict(trace_id="T", span_id="tool", parent="code", operation="execute_tool",
             tool="run_tests"),
        dict(trace_id="T", span_id="c3", parent="code", provider="anthropic",
             model="claude-sonnet-4-5", input=1_000, output=500, start=t),
        dict(trace_id="T", span_id="c3http", parent="c3", operation=None, provider="anthropic",
             model="claude-sonnet-4-5", input=1_000, output=500, start=t),
    )


def test_agent_tree_counts_each_token_once():
    priced = cost.price_spans(agent_tree())
    assert priced.loc[priced["billable"], "span_id"].tolist() == ["c1", "c2", "c3http"]
    leaves = [dict(provider="openai", model="gpt-4o", input=10_000, output=1_000,
                   cache_read=8_000, start="2026-01-01T10:00:00Z"),
              dict(provider="openai", model="gpt-4o-mini", input=20_000, output=1_000,
                   start="2026-01-01T10:00:00Z"),
              dict(provider="anthropic", model="claude-sonnet-4-5", input=1_000, output=500,
                   start="2026-01-01T10:00:00Z")]
    total = sum(reference(r) for r in leaves)
    assert priced["cost_usd"].sum() == pytest.approx(total, rel=1e-12)
    by_agent = cost.cost_table(priced, by="agent").set_index("agent")
    assert by_agent.loc["planner", "calls"] == 1 and by_agent.loc["coder", "calls"] == 2
    assert by_agent["input_tokens"].sum() == 31_000  # not 31k + 21k + the agent sums
    assert by_agent.loc["coder", "cost_usd"] == pytest.approx(
        reference(leaves[1]) + reference(leaves[2]), rel=1e-12)
    task = cost.cost_table(priced, by=["task_type", "tool_chain"])
    assert task[["task_type", "tool_chain", "calls"]].values.tolist() == [
        ["refactor", "run_tests", 3]]


def test_agent_span_without_traced_calls_is_billed_once():
    priced = cost.price_spans(spans(
        dict(operation="invoke_agent", agent="solo", provider="openai", model="gpt-4o",
             input=1e6, output=0)))
    assert priced["billable"].iloc[0] and priced["cost_usd"].iloc[0] == pytest.approx(2.5)


@pytest.mark.parametrize(("row", "column"), [
    (dict(model="gpt-4o", input=100, output=-5), "output_tokens"),
    (dict(model="gpt-4o", input=-100, output=5, cache_read=80), "input_tokens"),
])
def test_bad_token_counts_name_the_column(row, column):
    with pytest.raises(SchemaError, match=column) as err:
        cost.price_spans(spans(row))
    assert "span 's0'" in str(err.value)
    with pytest.warns(UserWarning, match="left unpriced"):
        priced = cost.price_spans(spans(row), errors="unprice")
    assert not priced["priced"].iloc[0] and np.isnan(priced["cost_usd"].iloc[0])
    assert priced["unpriced_reason"].iloc[0].startswith("bad token counts")


def test_missing_input_tokens_is_unpriced_with_a_warning():
    with pytest.warns(UserWarning, match="missing input_tokens"):
        priced = cost.price_spans(spans(dict(model="gpt-4o", output=100)))
    assert priced["billable"].iloc[0] and not priced["priced"].iloc[0]
    no_time = spans(dict(model="gpt-4o", input=100, output=1))
    no_time["start"] = pd.Series([pd.NaT], dtype="datetime64[ns, UTC]")
    with pytest.warns(UserWarning, match="missing start time"):
        assert not cost.price_spans(no_time)["priced"].iloc[0]


def test_empty_frames_give_empty_tables():
    priced = cost.price_spans(empty_spans_frame())
    assert {"cost_usd", "priced", "price_source"} <= set(priced.columns)
    assert len(cost.cost_table(priced, by=["agent", "day"])) == 0
    assert len(cost.unpriced_usage(priced)) == 0
    assert len(cost.top_traces(priced)) == 0


def test_user_price_table_overrides_and_extends_with_history():
    table = pd.DataFrame({
        "provider": ["acme", "acme", "openai"], "model": ["llm-1", "llm-1", "gpt-4o"],
        "input": [1.0, 0.5, 2.0], "output": [2.0, 1.0, 8.0],
        "valid_from": ["2026-01-01", "2026-02-01", None]})
    priced = cost.price_spans(spans(
        dict(provider="acme", model="llm-1", input=1e6, output=1e6, start="2026-01-15T00:00Z"),
        dict(provider="acme", model="LLM-1", input=1e6, output=1e6, start="2026-02-15T00:00Z"),
        dict(provider="acme", model="llm-1", input=1e6, output=1e6, start="2025-12-15T00:00Z"),
        dict(provider="openai", model="gpt-4o", input=1e6, output=0),
    ), prices=table)
    assert priced["cost_usd"].tolist()[:2] == [3.0, 1.5]
    assert np.isnan(priced["cost_usd"].iloc[2])  # before the table's first price: unknown model
    assert priced["cost_usd"].iloc[3] == 2.0
    assert priced["price_source"].iloc[0] == "user table: acme/llm-1"
    as_dict = cost.price_spans(spans(dict(provider="acme", model="llm-1", input=1e6, output=0)),
                               prices={"acme/llm-1": {"input_mtok": 4}})
    assert as_dict["cost_usd"].iloc[0] == 4.0
    no_provider = cost.price_spans(spans(dict(model="llm-1", input=1e6, output=0)),
                                   prices={"acme/llm-1": {"input": 4, "output": 8}})
    assert no_provider["cost_usd"].iloc[0] == 4.0


@pytest.mark.parametrize(("table", "message"), [
    ({"acme/llm-1": {"input": -1}}, "'input'"),
    ([{"provider": "acme", "input": 1}], "'model'"),
    (pd.DataFrame({"model": ["x"], "input": ["cheap"]}), "'input'"),
    ("gpt-4o=1", "expected a DataFrame"),
])
def test_bad_price_tables_are_rejected_clearly(table, message):
    with pytest.raises(ConfigurationError, match=message):
        cost.price_spans(spans(dict(model="gpt-4o", input=1, output=1)), prices=table)


def token_counters() -> pd.DataFrame:
    t = [0.0, 0.0, 0.0, 86400.0, 86400.0, 0.0]
    return metrics_frame(
        np.array(t) + 1767225600.0, "llm_tokens_used_total:increase",
        [2e6, 1e6, 1e6, 4e6, 0.0, 777.0],
        {"agent": ["a", "a", "a", "b", "b", "a"], "provider": ["openai"] * 5 + ["acme"],
         "model": ["gpt-4o"] * 5 + ["mystery"],
         "token_type": ["input", "cache_read", "output", "input", "output", "input"]})


def test_cost_from_token_usage_prices_counters():
    table = cost.cost_from_token_usage(token_counters(), by=["agent", "model"])
    rows = table.set_index(["agent", "model"])
    # a: 1M uncached at $2.5 + 1M cached at $1.25 + 1M output at $10; b: 4M input at $2.5
    assert rows.loc[("a", "gpt-4o"), "cost_usd"] == pytest.approx(13.75)
    assert rows.loc[("b", "gpt-4o"), "cost_usd"] == pytest.approx(10.0)
    assert np.isnan(rows.loc[("a", "mystery"), "cost_usd"])
    assert rows.loc[("a", "mystery"), "unpriced_tokens"] == 777
    assert table["calls"].isna().all()  # counters cannot count calls
    by_day = cost.cost_from_token_usage(token_counters(), by="day")
    assert by_day["cost_usd"].tolist() == pytest.approx([13.75, 10.0])


def test_token_usage_with_unknown_token_type_names_it():
    frame = metrics_frame([0.0], "m", [1.0], {"model": ["gpt-4o"], "token_type": ["total"]})
    with pytest.raises(SchemaError, match="'total'"):
        cost.cost_from_token_usage(frame)


@pytest.mark.parametrize(("frame", "message"), [
    (metrics_frame([0.0], "m", [-5.0], {"model": ["gpt-4o"], "token_type": ["input"]}),
     "'value'"),
    (metrics_frame([0.0], "m", [5.0], {"token_type": ["input"]}), "'model'"),
    (empty_spans_frame().drop(columns=["input_tokens"]), "input_tokens"),
])
def test_bad_frames_name_the_column(frame, message):
    with pytest.raises(SchemaError, match=message):
        cost.cost_table(frame, by="model")


def test_reconcile_shows_sampling_coverage():
    traced = cost.example_spans()  # gpt-4o: 3,500 tokens; gpt-4o-mini: 2,500
    counters = metrics_frame(
        [1767261600.0] * 4, "llm_tokens_used_total:increase", [6000.0, 1000.0, 4000.0, 1000.0],
        {"model": ["gpt-4o", "gpt-4o", "gpt-4o-mini", "gpt-4o-mini"],
         "token_type": ["input", "output", "input", "output"]})
    table = cost.reconcile(traced, counters, by="model").set_index("model")
    assert table.loc["gpt-4o", "coverage"] == pytest.approx(0.5)
    assert table.loc["gpt-4o-mini", "token_difference"] == 2500
    assert table.loc["gpt-4o", "counter_cost_usd"] > table.loc["gpt-4o", "span_cost_usd"]


def daily_usage() -> pd.DataFrame:
    """One $2.50 gpt-4o call a day from 1 to 10 January 2026; the last trace fails."""
    rows = [dict(trace_id=f"T{d}", provider="openai", model="gpt-4o", input=1e6, output=0,
                 agent="worker", start=f"2026-01-{d:02d}T12:00:00Z",
                 status="error" if d == 10 else "ok") for d in range(1, 11)]
    return spans(*rows)


def test_month_end_projection_from_run_rate():
    table = cost.month_end_projection(daily_usage(), now="2026-01-10T12:00:00Z", window="7D")
    row = table.iloc[0]
    assert row["month_to_date_usd"] == pytest.approx(25.0)
    # the last 7 days hold 8 calls (both ends included): $20 / 7 days
    assert row["run_rate_usd_per_day"] == pytest.approx(20.0 / 7)
    assert row["days_remaining"] == pytest.approx(21.5)
    assert row["projected_month_usd"] == pytest.approx(25.0 + 20.0 / 7 * 21.5)
    assert not table.attrs["note"]
    short = cost.month_end_projection(cost.example_spans())
    assert "Run rate from only 0.0 h" in short.attrs["note"]  # one call: no rate to speak of


def test_budget_burn_against_budget():
    over = cost.budget_burn(daily_usage(), 20.0, now="2026-01-10T12:00:00Z").iloc[0]
    assert over["status"] == "over budget" and over["spent_usd"] == pytest.approx(25.0)
    assert over["exhausted_at"] == pd.Timestamp("2026-01-08T12:00:00Z")
    fine = cost.budget_burn(daily_usage(), 500.0, now="2026-01-10T12:00:00Z").iloc[0]
    assert fine["status"] == "within budget" and fine["burn_rate"] < 1
    with pytest.raises(ConfigurationError, match="budget_usd"):
        cost.budget_burn(daily_usage(), -3)


def test_cost_per_successful_task_charges_failures_to_successes():
    table = cost.cost_per_successful_task(daily_usage(), by="agent").iloc[0]
    assert (table["tasks"], table["successful_tasks"]) == (10, 9)
    assert table["cost_per_successful_task_usd"] == pytest.approx(25.0 / 9)


def test_top_traces_and_cache_savings():
    frame = cost.price_spans(agent_tree())
    top = cost.top_traces(pd.concat([frame, cost.price_spans(daily_usage())]), n=2)
    assert top["trace_id"].tolist()[0].startswith("T") and len(top) == 2
    assert top["cost_usd"].is_monotonic_decreasing
    savings = cost.cache_savings(frame, by="model").set_index("model")
    # 8,000 cached gpt-4o tokens at $1.25 instead of $2.5
    assert savings.loc["gpt-4o", "net_savings_usd"] == pytest.approx(8000 * 1.25 / 1e6)
    assert savings.loc["gpt-4o", "cache_hit_ratio"] == pytest.approx(0.8)


def test_unknown_dimension_is_a_clear_error():
    with pytest.raises(ConfigurationError, match="'colour'"):
        cost.cost_table(cost.example_spans(), by="colour")


def test_tables_render_as_readable_html():
    spans_ = cost.example_spans()
    spans_.loc[spans_["span_id"] == "b2", "model"] = "in-house-llm"
    html = cost.cost_table(spans_, by="model")._repr_html_()
    assert "$0.0006" in html and "unpriced" in html and "Cost by model" in html
    assert "in-house-llm" in html and "<table" in html


def test_priced_frame_is_reused_without_repricing():
    priced = cost.price_spans(cost.example_spans())
    priced.loc[priced["billable"], "cost_usd"] = 1.0  # a caller's own adjustment survives
    assert cost.cost_table(priced, by=[])["cost_usd"].iloc[0] == 2.0


def test_reference_helper_uses_decimal_prices():
    # guard the test oracle itself: calc_price returns Decimal totals
    result = calc_price(Usage(input_tokens=1_000_000), "gpt-4o", provider_id="openai",
                        genai_request_timestamp=datetime(2026, 1, 1))
    assert result.total_price == Decimal("2.5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reference(dict(provider="openai", model="gpt-4o", input=1e6,
                              start="2026-01-01")) == 2.5


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """Frames from the real pipeline: the simulated fleet read back through FileSource."""
    from agentinsight.simulate import simulate
    from agentinsight.sources.files import FileSource

    out = tmp_path_factory.mktemp("sim")
    simulate(out, days=0.05, start="2026-11-02T10:00:00Z", seed=3)
    source = FileSource(out)
    return source.spans(), source.token_usage(by=["agent", "provider", "model", "token_type"]), \
        source.truth()


def test_simulated_fleet_is_fully_priced_and_matches_its_ground_truth(simulated):
    spans_, _, truth = simulated
    priced = cost.price_spans(spans_)
    billed = priced.loc[priced["billable"]]
    assert billed["priced"].all()
    assert set(billed["operation"]) == {"chat"}  # agent spans never billed
    tokens = billed.groupby("model")[["input_tokens", "output_tokens"]].sum()
    for model, expected in truth["totals"]["tokens"].items():
        # the spans and the counters' final values cover the same calls, give or take the
        # calls in flight at the end
        assert tokens.loc[model, "input_tokens"] == pytest.approx(expected["input"], rel=0.03)
        assert tokens.loc[model, "output_tokens"] == pytest.approx(expected["output"], rel=0.03)
    by_task = cost.cost_table(priced, by="task_type")
    assert set(by_task["task_type"]) <= {"coding", "research", "support", "review", "triage"}
    assert by_task["cost_usd"].gt(0).all()


def test_simulated_counters_reconcile_with_spans(simulated):
    spans_, usage, _ = simulated
    table = cost.reconcile(spans_, usage, by="model")
    assert table["coverage"].between(0.9, 1.1).all()
    assert (table["span_cost_usd"] - table["counter_cost_usd"]).abs().max() < 0.1 * table[
        "span_cost_usd"].max()
