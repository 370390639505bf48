"""Real producers' telemetry, read and priced: the same workload costs the same whoever recorded it.

The files in ``tests/data/producers/`` were captured by ``tools/capture_producers.py``: the real
instrumentation packages from PyPI (versions in ``expected.json``) recording one agent turn against
a fake OpenAI/Anthropic server. ``expected.json`` also holds the usage the server returned for
every call, so the bill each capture should give is genai-prices' price of that usage, less only
what the producer itself leaves out of its spans (:data:`RECORDERS` names it, per instrumentation).
A call recorded by two instrumentations is billed once, from the recording with the most detail.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from genai_prices import Usage, calc_price

from agentinsight.analysis import cost
from agentinsight.analysis.traces import trace_summary
from agentinsight.frames import TOKEN_COLUMNS
from agentinsight.sources import FileSource
from agentinsight.sources.otlp import parse_otlp_text, read_otlp_jsonl

DATA = Path(__file__).resolve().parent.parent / "data" / "producers"
EXPECTED: dict[str, Any] = json.loads((DATA / "expected.json").read_text(encoding="utf-8"))
PRODUCERS = sorted(EXPECTED)

Recorded = dict[str, int | None]


# --- what each instrumentation itself records of a call ---------------------------------------
def _full(call: dict[str, Any]) -> Recorded:
    return dict(call["priced_usage"])


def _without(*fields: str, streamed_only: bool = False) -> Callable[[dict[str, Any]], Recorded]:
    def recorded(call: dict[str, Any]) -> Recorded:
        usage: Recorded = dict(call["priced_usage"])
        if call["stream"] or not streamed_only:
            for field in fields:
                usage[field] = None
        return usage
    return recorded


def _no_streamed_usage(*fields: str) -> Callable[[dict[str, Any]], Recorded | None]:
    def recorded(call: dict[str, Any]) -> Recorded | None:
        return None if call["stream"] else _without(*fields)(call)
    return recorded


def _streamed_output_plus_one(call: dict[str, Any]) -> Recorded:
    usage: Recorded = dict(call["priced_usage"])
    if call["stream"]:
        # adds message_start's provisional output_tokens (1) to message_delta's final count
        usage["output_tokens"] = int(usage["output_tokens"] or 0) + 1
    return usage


def _openlit(call: dict[str, Any]) -> Recorded:
    usage: Recorded = dict(call["priced_usage"])
    if call["provider"] == "openai":
        usage["reasoning_tokens"] = None  # no reasoning count
    elif call["stream"]:
        # a streamed Anthropic call keeps the raw input count (cache excluded) and no cache
        # counts: the cached part of the prompt is lost
        usage["input_tokens"] = call["usage"]["input_tokens"]
        usage["cache_read_tokens"] = usage["cache_write_tokens"] = 0
    return usage


#: Instrumentation → what it records of a call (``None``: no usage at all), by what it drops:
RECORDERS: dict[str, Callable[[dict[str, Any]], Recorded | None]] = {
    # official openai-v2 2.4b0: no cache-read and no reasoning count, streamed or not
    "openai-v2": _without("cache_read_tokens", "reasoning_tokens"),
    # OpenLLMetry 0.62.4 openai: a streamed call's reasoning count is dropped
    "openllmetry-openai": _without("reasoning_tokens", streamed_only=True),
    # OpenLLMetry 0.62.4 anthropic: a streamed call's output is one token too many
    "openllmetry-anthropic": _streamed_output_plus_one,
    # OpenLLMetry 0.40.14: a streamed call carries no usage; no reasoning count
    "openllmetry-0.40-openai": _no_streamed_usage("reasoning_tokens"),
    "openllmetry-0.40-anthropic": _no_streamed_usage(),
    # the anthropic SDK 2.14's own tracing, OpenInference 0.1.66 / 3.1.0: everything
    "anthropic-sdk": _full,
    "openinference-openai": _full,
    "openinference-anthropic": _full,
    # pydantic-ai 2.68's own instrumentation: everything
    "pydantic-ai": _full,
    # openlit 1.45: see _openlit
    "openlit": _openlit,
}


#: (producer, instrumentation) → what it records there, where the arrangement changes it.
OVERRIDES: dict[tuple[str, str], Callable[[dict[str, Any]], Recorded | None]] = {
    # beneath OpenLLMetry, openai-v2's wrapper consumes the stream: OpenLLMetry's span of a
    # streamed call carries no usage at all
    ("nested-openai", "openllmetry-openai"): _no_streamed_usage(),
}


def recorders_of(producer: str) -> list[str]:
    entry = EXPECTED[producer]
    names = [f"openllmetry-0.40-{entry['provider']}" if entry["group"] == "openllmetry-0.40"
             else name for name in entry["instrumentations"]]
    if entry.get("anthropic_sdk_tracing"):
        names.append("anthropic-sdk")
    return names


def _detail(usage: Recorded | None) -> int:
    return -1 if usage is None else sum(v is not None for v in usage.values())


def call_candidates(producer: str) -> list[list[Recorded]]:
    """Per call, the usages a correct bill may take it from: the most detailed recording of it
    (several when two instrumentations record it with equal detail)."""
    out = []
    for call in EXPECTED[producer]["calls"]:
        seen = [OVERRIDES.get((producer, name), RECORDERS[name])(call)
                for name in recorders_of(producer)]
        best = max(_detail(u) for u in seen)
        options = [u for u in seen if u is not None and _detail(u) == best]
        unique = [dict(t) for t in {tuple(sorted(u.items())) for u in options}]
        out.append(unique or [None])
    return out


def _price(call: dict[str, Any], usage: Recorded, when: datetime) -> float:
    # reasoning is part of output_tokens and priced with it
    tokens = {k: int(v or 0) for k, v in usage.items() if k != "reasoning_tokens"}
    result = calc_price(Usage(**tokens), call["response_model"], provider_id=call["provider"],
                        genai_request_timestamp=when)
    return float(result.total_price)


def expected_bills(producer: str, when: datetime) -> list[tuple[dict[str, int], float]]:
    """Every acceptable (token totals, cost) of the producer's capture."""
    calls = EXPECTED[producer]["calls"]
    bills = []
    for choice in itertools.product(*call_candidates(producer)):
        totals = {f: 0 for f in TOKEN_COLUMNS}
        total_cost = 0.0
        for call, usage in zip(calls, choice, strict=True):
            if usage is None:
                continue
            for field in TOKEN_COLUMNS:
                totals[field] += int(usage[field] or 0)
            total_cost += _price(call, usage, when)
        bills.append((totals, total_cost))
    return bills


def billed_calls(producer: str) -> int:
    return sum(c != [None] for c in call_candidates(producer))


# --- the readers -----------------------------------------------------------------------------
def _via_jsonl(path: Path) -> pd.DataFrame:
    return read_otlp_jsonl(path)


def _via_text(path: Path) -> pd.DataFrame:
    return parse_otlp_text(path.read_bytes(), where=str(path))


def _via_files(path: Path) -> pd.DataFrame:
    return FileSource(path.parent, spans_file=path).spans()


READERS = {"read_otlp_jsonl": _via_jsonl, "parse_otlp_text": _via_text,
           "FileSource": _via_files}


def spans_of(producer: str, reader: str) -> pd.DataFrame:
    return READERS[reader](DATA / f"{producer}.jsonl")


# --- what a producer records in its own way ------------------------------------------------------
#: Producers that keep a provider's raw counts (Anthropic's input_tokens leave the cache out):
#: priced after normalising them, with a warning that says so.
RAW_COUNTS = frozenset({"openlit-anthropic"})


SINGLE = [p for p in PRODUCERS if len(recorders_of(p)) == 1]


def _start(spans: pd.DataFrame) -> datetime:
    return spans["start"].min().floor("us").to_pydatetime()


def _billed(priced: pd.DataFrame) -> pd.DataFrame:
    return priced[priced["billable"].astype(bool)]


@pytest.mark.parametrize("producer", PRODUCERS)
def test_every_reader_gives_the_same_frame(producer: str) -> None:
    frames = {name: spans_of(producer, name) for name in READERS}
    first = frames.pop("read_otlp_jsonl")
    assert len(first) >= EXPECTED[producer]["llm_calls"] + 2  # calls, the tool, the turn
    for frame in frames.values():
        pd.testing.assert_frame_equal(frame.reset_index(drop=True), first)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("producer", PRODUCERS)
def test_llm_and_tool_calls_are_counted(producer: str, reader: str) -> None:
    summary = trace_summary(spans_of(producer, reader))
    assert len(summary) == 1  # one agent turn, one trace
    row = summary.iloc[0]
    assert (int(row["llm_calls"]), int(row["tool_calls"])) == (
        EXPECTED[producer]["llm_calls"], EXPECTED[producer]["tool_calls"])


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("producer", PRODUCERS)
def test_token_columns_hold_what_the_server_returned(producer: str, reader: str) -> None:
    spans = spans_of(producer, reader)
    billed = _billed(cost.price_spans(spans))
    got = {f: int(billed[f].fillna(0).sum()) for f in TOKEN_COLUMNS}
    expected = [totals for totals, _ in expected_bills(producer, _start(spans))]
    assert got in expected, f"{got} is none of {expected}"


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize("producer", PRODUCERS)
def test_total_cost_is_genai_prices_of_the_returned_usage(producer: str, reader: str) -> None:
    spans = spans_of(producer, reader)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        priced = cost.price_spans(spans)
    said = [str(w.message) for w in caught]
    if producer in RAW_COUNTS:  # normalised, and the user is told
        assert len(said) == 1 and "raw provider token counts" in said[0], said
    else:
        assert said == []  # nothing left unpriced, nothing normalised
    billed = _billed(priced)
    assert billed["priced"].all(), billed["unpriced_reason"].tolist()
    total = float(billed["cost_usd"].sum())
    costs = [c for _, c in expected_bills(producer, _start(spans))]
    assert any(abs(total - c) <= 0.01 * c for c in costs), f"${total:.6f} vs {costs}"


@pytest.mark.parametrize("producer", PRODUCERS)
def test_each_call_is_billed_once_and_never_at_zero(producer: str) -> None:
    priced = cost.price_spans(spans_of(producer, "read_otlp_jsonl"), errors="unprice")
    billed = _billed(priced)
    assert len(billed) == billed_calls(producer)
    assert (billed["cost_usd"] > 0).all(), billed[["name", "cost_usd", "unpriced_reason"]]
    ids = [a.get("gen_ai.response.id") for a in billed["attributes"]]
    assert len({i for i in ids if i}) == sum(1 for i in ids if i)


@pytest.mark.parametrize("producer", PRODUCERS)
def test_no_cost_table_raises(producer: str) -> None:
    spans = spans_of(producer, "read_otlp_jsonl")
    priced = cost.price_spans(spans)
    tables = [cost.cost_table(priced, by=["model"]), cost.unpriced_usage(priced),
              cost.top_traces(priced), cost.cache_savings(priced),
              cost.cost_per_successful_task(priced)]
    assert float(tables[0]["cost_usd"].sum()) > 0
    assert float(tables[2]["cost_usd"].sum()) == pytest.approx(float(tables[0]["cost_usd"].sum()))
    assert tables[1].empty, tables[1]
