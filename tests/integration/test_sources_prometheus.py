"""PrometheusSource against a real Prometheus (promtool backfill) and a real VictoriaMetrics
(import API) holding three simulated days; FileSource on the same files must agree."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agentinsight.exceptions import (
    QueryError,
    SourceConnectionError,
    SourceTimeoutError,
)
from agentinsight.frames import validate_metrics_frame
from agentinsight.simulate import simulate
from agentinsight.sources import FileSource, PrometheusSource, ServerWarning
from agentinsight.sources._helpers import Grid
from agentinsight.stack import ProgramNotFoundError, Prometheus, VictoriaMetrics
from agentinsight.stack.load import backfill_prometheus, import_victoriametrics
from tests.conftest import program_missing

pytestmark = pytest.mark.integration

HISTORY = dict(days=3.0, agents=2, scrape_interval=120.0, start="2026-11-02T00:00:00Z", seed=5,
               service="sources-test-fleet")


def simulated_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated days, written once per test session (the Jaeger tests share them)."""
    root = tmp_path_factory.getbasetemp() / "sources-history"
    if not (root / "truth.json").is_file():
        simulate(root, **HISTORY)
    return root


def _started(server):
    try:
        return server.start()
    except ProgramNotFoundError as exc:
        program_missing(str(exc))


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulated_history(tmp_path_factory)


@pytest.fixture(scope="module")
def files(history: Path) -> FileSource:
    return FileSource(history)


@pytest.fixture(scope="module")
def truth(files: FileSource) -> dict:
    return files.truth()


@pytest.fixture(scope="module")
def prometheus(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    data_dir = tmp_path_factory.mktemp("sources-tsdb")
    backfill_prometheus(history / "metrics.om", data_dir)
    server = _started(Prometheus(data_dir=data_dir, scrape_interval="120s"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def victoriametrics(history: Path) -> Iterator[VictoriaMetrics]:
    server = _started(VictoriaMetrics())
    import_victoriametrics(history / "metrics.om", server.url)
    yield server
    server.stop()


@pytest.fixture(params=["prometheus", "victoriametrics"])
def server_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(request.param).url


def _per(frame: pd.DataFrame, label: str, at: pd.Timestamp) -> dict[str, float]:
    last = frame[frame["timestamp"] == at]
    return {str(k): float(v) for k, v in zip(last[label], last["value"], strict=True)}


def test_range_holds_the_exact_totals_over_a_chunked_pull(server_url, truth):
    """Three days at a 15 s step is 17,281 points per series: two requests on one grid."""
    prom = PrometheusSource(server_url, scrape_interval="120s")
    start, end = pd.Timestamp(truth["start"]), pd.Timestamp(truth["end"])
    runs = prom.range("sum by (agent) (agent_execution_total)", start, end, step="15s")
    validate_metrics_frame(runs)
    assert runs.attrs["chunks"] == 2
    expected_runs = {a: float(sum(c.values())) for a, c in truth["totals"]["runs"].items()}
    assert _per(runs, "agent", end) == expected_runs
    for _, series in runs.groupby("agent", observed=True):
        stamps = series["timestamp"]
        # no point twice, none missing at the chunk boundary: a regular 15 s grid to the end
        assert stamps.is_unique and stamps.iloc[-1] == end
        assert (stamps.diff().dropna() == pd.Timedelta("15s")).all()
        assert series["value"].is_monotonic_increasing

    tokens = prom.range("sum by (model) (llm_tokens_used_total)", start, end, step="15s")
    expected_tokens = {m: float(sum(t.values())) for m, t in truth["totals"]["tokens"].items()}
    assert _per(tokens, "model", end) == expected_tokens


def test_instant_series_and_label_values(server_url, truth):
    prom = PrometheusSource(server_url, scrape_interval="120s")
    end = truth["end"]
    frame = validate_metrics_frame(prom.instant("agent_execution_total", at=end))
    got = {(r.agent, r.status): r.value for r in frame.itertuples()}
    assert got == {(r["labels"]["agent"], r["labels"]["status"]): float(r["value"])
                   for r in truth["totals"]["series"]["agent_execution_total"]}
    agents = sorted(a["name"] for a in truth["agents"])
    assert prom.label_values("agent", match="agent_execution_total", start=truth["start"],
                             end=end) == agents
    series = prom.series("agent_execution_total", truth["start"], end)
    assert sorted(series["agent"].unique()) == agents


def _server_major(url: str) -> int:
    import requests

    version = requests.get(f"{url}/api/v1/status/buildinfo", timeout=10).json()["data"]["version"]
    return int(version.split(".")[0])


def test_filesource_and_prometheus_helpers_agree(prometheus, files, truth):
    """The same history through PromQL pushed down and through pandas: within 1%."""
    prom = PrometheusSource(prometheus.url, scrape_interval="120s")
    local = FileSource(files.directory, prometheus_version=min(_server_major(prometheus.url), 3))
    day = dict(start=pd.Timestamp(truth["start"]) + pd.Timedelta("1d"),
               end=pd.Timestamp(truth["start"]) + pd.Timedelta("2d"))
    cases = [
        ("rate", dict(metric="agent_execution_total", by=["agent"], window="10m"), ["agent"]),
        ("token_usage", dict(by=["model", "token_type"]), ["model", "token_type"]),
        ("error_ratio", dict(by=["agent"], window="30m"), ["agent"]),
        ("latency_quantiles", dict(q=[0.5, 0.95], by=["agent"], window="10m"), ["agent"]),
    ]
    for helper, kwargs, by in cases:
        pushed = getattr(prom, helper)(**kwargs, **day)
        computed = getattr(local, helper)(**kwargs, **day)
        validate_metrics_frame(pushed)
        validate_metrics_frame(computed)
        assert list(pushed.columns) == list(computed.columns) == ["timestamp", "metric",
                                                                  "value", *by]
        assert len(pushed) > 100, helper
        keys = ["timestamp", "metric", *by]
        both = pushed.merge(computed, on=keys, how="outer", suffixes=("_p", "_f"),
                            indicator=True)
        assert (both["_merge"] == "both").all(), f"{helper}: points differ"
        p, f = both["value_p"].to_numpy(), both["value_f"].to_numpy()
        assert np.array_equal(np.isnan(p), np.isnan(f)), helper
        ok = ~np.isnan(p)
        assert np.allclose(f[ok], p[ok], rtol=0.01, atol=1e-9), helper


def test_token_usage_sums_to_the_total(prometheus, truth):
    prom = PrometheusSource(prometheus.url, scrape_interval="120s")
    usage = prom.token_usage(by=["model"], start=truth["start"], end=truth["end"], step="1h")
    got = usage.groupby("model", observed=True)["value"].sum()
    for model, types in truth["totals"]["tokens"].items():
        assert got[model] == pytest.approx(sum(types.values()), rel=0.01)


def test_a_promql_syntax_error_carries_the_servers_words(server_url):
    prom = PrometheusSource(server_url)
    with pytest.raises(QueryError) as info:
        prom.instant("sum(rate(agent_execution_total[5m]")
    error = info.value
    assert error.status_code in (400, 422) and error.url.startswith(server_url)
    assert error.query == "sum(rate(agent_execution_total[5m]"
    assert error.server_message and error.server_message in str(error)
    assert isinstance(error, ValueError)


def test_too_many_points_for_one_request_is_explained(prometheus):
    # a bare request over the limit (what chunking avoids) is refused by the server itself
    prom = PrometheusSource(prometheus.url)
    with pytest.raises(QueryError, match="11,000 points"):
        prom._range_chunk("up", Grid(0, 15_000 * 11_001, 15_000), "up")


def test_an_unreachable_server_is_a_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with pytest.raises(SourceConnectionError) as info:
        PrometheusSource(url, retries=0).instant("up")
    assert url in str(info.value) and "query: up" in str(info.value)
    assert isinstance(info.value, ConnectionError)


def test_a_server_that_never_answers_is_a_timeout():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections in the kernel, never answers
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        began = time.monotonic()
        with pytest.raises(SourceTimeoutError) as info:
            PrometheusSource(url, timeout=0.5, retries=2).instant("up")
        assert time.monotonic() - began < 5  # a read timeout is not retried
        assert url in str(info.value) and isinstance(info.value, TimeoutError)
    finally:
        listener.close()


def test_exemplars_lead_from_a_metric_to_a_trace(prometheus_factory):
    from prometheus_client import CollectorRegistry, Histogram, start_http_server

    registry = CollectorRegistry()
    latency = Histogram("agent_execution_duration_seconds", "x", ["agent"], registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        port = server.server_address[1]
        prom_server = prometheus_factory(scrape_targets=[f"127.0.0.1:{port}"],
                                         scrape_interval="1s")
        trace_id = "0af7651916cd43dd8448eb211c80319c"
        stop = threading.Event()

        def observe() -> None:
            while not stop.is_set():
                latency.labels("planner").observe(0.7, exemplar={"trace_id": trace_id})
                stop.wait(0.2)

        worker = threading.Thread(target=observe, daemon=True)
        worker.start()
        prom = PrometheusSource(prom_server.url)
        deadline = time.monotonic() + 30
        frame = prom.exemplars("agent_execution_duration_seconds_bucket", "now-5m", "now")
        while not len(frame) and time.monotonic() < deadline:
            time.sleep(1)
            frame = prom.exemplars("agent_execution_duration_seconds_bucket", "now-5m", "now")
        stop.set()
        assert len(frame), "no exemplar came back"
        assert set(frame["trace_id"]) == {trace_id} and (frame["value"] == 0.7).all()
        assert set(frame["agent"].astype(str)) == {"planner"}
        assert str(frame["timestamp"].dtype) == "datetime64[ns, UTC]"
    finally:
        server.shutdown()


def test_settled_results_are_served_from_the_parquet_cache(prometheus, truth, tmp_path):
    prom = PrometheusSource(prometheus.url, scrape_interval="120s", cache_dir=str(tmp_path))
    # start is not on the step: the cache aligns it down so that later asks land on the key
    start = pd.Timestamp(truth["start"]) + pd.Timedelta("7min")
    first = prom.rate("agent_execution_total", by=["agent"], start=start, end=truth["end"],
                      step="10m")
    assert "cached" not in first.attrs and len(list(tmp_path.glob("*.parquet"))) == 1
    again = prom.rate("agent_execution_total", by=["agent"], start=start, end=truth["end"],
                      step="10m")
    assert again.attrs["cached"] is True
    pd.testing.assert_frame_equal(first, again)
    validate_metrics_frame(again)
    assert (first["timestamp"].astype("int64") % (600 * 10**9) == 0).all()


def test_multi_chunk_pulls_show_progress_when_asked(prometheus, truth, capsys):
    prom = PrometheusSource(prometheus.url, progress=True)
    prom.range("sum(agent_execution_total)", truth["start"], truth["end"], step="15s")
    assert "chunks" in capsys.readouterr().err
    PrometheusSource(prometheus.url, progress=True).range(
        "sum(agent_execution_total)", truth["start"], truth["end"], step="1h")
    assert "chunks" not in capsys.readouterr().err  # one request: no bar


def test_server_warnings_reach_the_user(prometheus_factory):
    # a remote-read endpoint that refuses connections: Prometheus answers, with a warning
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    config = (f"global:\n  scrape_interval: 15s\nremote_read:\n"
              f"  - url: http://127.0.0.1:{dead}/api/v1/read\n    read_recent: true\n")
    server = prometheus_factory(config_text=config)
    prom = PrometheusSource(server.url, scrape_interval="15s")
    with pytest.warns(ServerWarning, match="remote_read") as caught:
        frame = prom.range("up", "now-5m", "now")
    assert server.url in str(caught[0].message) and "'up'" in str(caught[0].message)
    assert any("remote_read" in w for w in frame.attrs["warnings"])
    validate_metrics_frame(frame)
