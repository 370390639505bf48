"""JaegerSource against a real Jaeger v2 holding simulated spans loaded over OTLP/HTTP."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pandas as pd
import pytest

from agentinsight.exceptions import ServerError, SourceConnectionError
from agentinsight.frames import validate_spans_frame
from agentinsight.sources import FileSource, JaegerSource
from agentinsight.stack.load import load_jaeger_otlp
from tests.integration.test_sources_prometheus import HISTORY, simulated_history

pytestmark = pytest.mark.integration

SERVICE = HISTORY["service"]
COLUMNS = ["parent_span_id", "service", "name", "kind", "status", "agent", "operation",
           "provider", "model", "tool", "input_tokens", "output_tokens", "cache_read_tokens",
           "cache_write_tokens", "reasoning_tokens"]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> FileSource:
    return FileSource(simulated_history(tmp_path_factory))


@pytest.fixture(scope="module")
def loaded(jaeger, files: FileSource):
    """The shared session Jaeger, with the simulated spans in it (service SERVICE)."""
    sent = load_jaeger_otlp(Path(files.directory) / "spans.jsonl", jaeger.otlp_http_url)
    expected = files.spans()
    assert sent == len(expected)
    source = JaegerSource(jaeger.query_url)
    # the OTLP receiver batches: wait until the last span sent is queryable
    last = expected.iloc[-1]
    for _ in range(200):
        if last["span_id"] in set(source.trace(last["trace_id"])["span_id"]):
            break
        time.sleep(0.1)
    return jaeger


def _expected(spans: pd.DataFrame, start, end, **match) -> pd.DataFrame:
    """What Jaeger promises: all spans of each trace with a matching span starting in range."""
    hit = (spans["service"] == SERVICE) & spans["start"].between(pd.Timestamp(start),
                                                                 pd.Timestamp(end))
    for column, value in match.items():
        hit &= spans[column] == value
    return spans[spans["trace_id"].isin(spans.loc[hit, "trace_id"])]


def _assert_same_spans(got: pd.DataFrame, want: pd.DataFrame, *, microseconds: bool) -> None:
    validate_spans_frame(got)
    assert not got.duplicated(["trace_id", "span_id"]).any()
    merged = want.merge(got, on=["trace_id", "span_id"], how="outer", suffixes=("", "_j"),
                        indicator=True)
    assert (merged["_merge"] == "both").all(), merged["_merge"].value_counts().to_dict()
    for column in COLUMNS:
        a, b = merged[column], merged[f"{column}_j"]
        same = (a == b) | (a.isna() & b.isna())
        assert same.all(), f"{column}: {merged.loc[~same, [column, column + '_j']].head()}"
    unit = "us" if microseconds else "ns"
    assert (merged["start"].dt.floor(unit) == merged["start_j"]).all()


@pytest.mark.parametrize("api", ["v3", "v1"])
def test_every_span_once_across_a_window_that_must_be_split(loaded, files, api):
    spans = files.spans()
    start = pd.Timestamp(files.truth()["start"]) + pd.Timedelta("1d")
    end = start + pd.Timedelta("12h")
    want = _expected(spans, start, end)
    source = JaegerSource(loaded.query_url, api=api, page_traces=200)
    got = source.traces(SERVICE, start=start, end=end)
    assert want["trace_id"].nunique() > 3 * 200  # the window had to be cut at least twice
    assert source.requests > 4
    _assert_same_spans(got, want, microseconds=api == "v1")
    # parent links hold inside the frame: every non-root span's parent is present
    parents = got.loc[got["parent_span_id"] != "", ["trace_id", "parent_span_id"]]
    known = set(zip(got["trace_id"], got["span_id"], strict=True))
    assert all(p in known for p in zip(parents["trace_id"], parents["parent_span_id"],
                                       strict=True))


@pytest.mark.parametrize("api", ["v3", "v1"])
def test_attribute_filter_keeps_whole_matching_traces(loaded, files, api):
    truth = files.truth()
    agent = truth["agents"][-1]["name"]
    spans = files.spans()
    start = pd.Timestamp(truth["start"]) + pd.Timedelta("36h")
    end = start + pd.Timedelta("6h")
    want = _expected(spans, start, end, agent=agent)
    got = JaegerSource(loaded.query_url, api=api).traces(
        SERVICE, start=start, end=end, attributes={"gen_ai.agent.name": agent})
    assert len(want) > 0
    _assert_same_spans(got, want, microseconds=api == "v1")


def test_limit_keeps_the_most_recent_traces(loaded, files):
    start = pd.Timestamp(files.truth()["start"]) + pd.Timedelta("2d")
    got = JaegerSource(loaded.query_url, page_traces=50).traces(
        SERVICE, start=start, end=start + pd.Timedelta("12h"), limit=120)
    assert got["trace_id"].nunique() == 120


def test_trace_services_operations(loaded, files):
    spans = files.spans()
    trace_id = spans["trace_id"].iloc[len(spans) // 2]
    for api in ("v3", "v1"):
        source = JaegerSource(loaded.query_url, api=api)
        got = source.trace(trace_id)
        assert set(got["span_id"]) == set(spans.loc[spans["trace_id"] == trace_id, "span_id"])
        assert SERVICE in source.services()
        assert set(source.operations(SERVICE)) == set(spans["name"])
        assert len(source.trace("0" * 31 + "1")) == 0


def test_no_traces_found_is_an_empty_frame(loaded):
    for api in ("v3", "v1"):
        got = JaegerSource(loaded.query_url, api=api).traces(
            SERVICE, start="2001-01-01T00:00:00Z", end="2001-01-02T00:00:00Z")
        validate_spans_frame(got)
        assert len(got) == 0


def test_auto_detects_api_v3(loaded):
    assert JaegerSource(loaded.query_url).api == "v3"


def test_a_jaeger_5xx_carries_the_servers_words(loaded):
    # asking for more traces than the in-memory store holds is refused with HTTP 500
    source = JaegerSource(loaded.query_url, api="v3", page_traces=10_000_000, retries=0)
    with pytest.raises(ServerError) as info:
        source.traces(SERVICE, start="now-1h", end="now")
    assert info.value.status_code == 500
    assert "search depth" in info.value.server_message
    assert loaded.query_url in str(info.value) and f"service={SERVICE}" in str(info.value)


def test_an_unreachable_jaeger_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(SourceConnectionError, match=f"127.0.0.1:{port}"):
        JaegerSource(f"http://127.0.0.1:{port}", retries=0).services()
