"""A real Prometheus that refuses big queries (``--query.max-samples``) and whose configured
scrape interval is not the interval of the history it holds (a backfill).

- a query refused with HTTP 422 "too many samples" is asked again in parts: a plain selector by
  series (halves of a label's values), any other query by time, and the parts join exactly;
- a step given by the caller is used as is: the server's configuration is not read for it;
- ``token_usage``'s automatic step follows the server's scrape interval (1 s here) but the
  history was loaded at 60 s: it must not come back empty.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from agentinsight.exceptions import QueryError
from agentinsight.sources import PrometheusSource
from agentinsight.stack import ProgramNotFoundError, Prometheus
from agentinsight.stack.load import backfill_prometheus
from tests.conftest import program_missing

pytestmark = pytest.mark.integration

START = pd.Timestamp("2026-11-02T00:00:00Z")
POINTS = 721  # 12 hours at 60 s
HOSTS = [f"h{i:02d}" for i in range(20)]
MODELS = ["gpt-4o", "claude-sonnet-4"]
MAX_SAMPLES = 4000  # 20 series x 721 points is 14,420


def _history(path: Path) -> Path:
    t0 = int(START.timestamp())
    lines = ["# TYPE load gauge"]
    for h, host in enumerate(HOSTS):
        zone = "a" if h % 2 else "b"
        lines += [f'load{{host="{host}",zone="{zone}"}} {h * 1000 + i} {t0 + 60 * i}'
                  for i in range(POINTS)]
    lines.append("# TYPE llm_tokens_used counter")
    for model in MODELS:
        for token_type in ("input", "output"):
            lines += [f'llm_tokens_used_total{{model="{model}",token_type="{token_type}"}} '
                      f"{10 * i} {t0 + 60 * i}" for i in range(POINTS)]
    lines.append("# EOF")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prometheus]:
    folder = tmp_path_factory.mktemp("limits")
    backfill_prometheus(_history(folder / "metrics.om"), folder / "tsdb")
    server = Prometheus(data_dir=folder / "tsdb", scrape_interval="1s",
                        extra_args=[f"--query.max-samples={MAX_SAMPLES}"])
    try:
        server.start()
    except ProgramNotFoundError as exc:
        program_missing(str(exc))
    yield server
    server.stop()


END = START + pd.Timedelta(minutes=POINTS - 1)


def _config_requests(url: str) -> float:
    """How often the server answered /api/v1/status/config, from its own metrics."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prometheus_http_requests_total{")
               and 'handler="/api/v1/status/config"' in line)


def test_the_server_really_refuses_the_whole_query(prometheus) -> None:
    prom = PrometheusSource(prometheus.url, retries=0)
    with pytest.raises(QueryError, match="too many samples"):
        prom._range_once("load", prom_grid(), "load")


def prom_grid():
    from agentinsight.sources._helpers import grid

    return grid(START, END, "60s", 60.0)


def test_a_refused_selector_is_split_by_series_and_joins_exactly(prometheus) -> None:
    prom = PrometheusSource(prometheus.url, retries=0)
    frame = prom.range("load", START, END, step="60s")
    assert len(frame) == len(HOSTS) * POINTS
    for h, host in enumerate(HOSTS):
        series = frame[frame["host"] == host]
        assert series["value"].tolist() == [float(h * 1000 + i) for i in range(POINTS)]
        assert series["timestamp"].is_monotonic_increasing and series["timestamp"].is_unique


def test_a_refused_expression_is_split_by_time_and_joins_exactly(prometheus) -> None:
    prom = PrometheusSource(prometheus.url, retries=0)
    frame = prom.range('load{zone="a"} * 1', START, END, step="60s")
    assert len(frame) == 10 * POINTS
    first = frame[frame["host"] == "h01"]
    assert first["value"].tolist() == [float(1000 + i) for i in range(POINTS)]
    assert (first["timestamp"].diff().dropna() == pd.Timedelta("60s")).all()


def test_a_given_step_does_not_read_the_servers_config(prometheus) -> None:
    before = _config_requests(prometheus.url)
    prom = PrometheusSource(prometheus.url, retries=0)
    prom.range('load{host="h00"}', START, END, step="5m")
    prom.token_usage(by=["model"], start=START, end=END, step="1h")
    assert _config_requests(prometheus.url) == before
    prom.range('load{host="h00"}', START, END)  # automatic step: now it is read, once
    assert _config_requests(prometheus.url) == before + 1


def test_token_usage_default_step_is_not_empty_on_a_coarser_backfill(prometheus) -> None:
    prom = PrometheusSource(prometheus.url, retries=0)
    assert prom.scrape_interval == 1.0  # what the server's configuration says
    usage = prom.token_usage(by=["model"], start=START, end=END)
    assert not usage.empty
    assert set(usage["model"].astype(str)) == set(MODELS)
    # input + output of each model grow by 10 a minute each over 720 minutes
    for model in MODELS:
        total = usage.loc[usage["model"] == model, "value"].sum()
        assert total == pytest.approx(2 * 10 * (POINTS - 1), rel=0.1)


def test_a_long_pull_of_many_series_asks_for_short_chunks(prometheus, monkeypatch) -> None:
    from agentinsight.sources import prometheus as module

    # 14,401 evaluation times x 20 series: at most 4,000 points a request
    monkeypatch.setattr(module, "POINT_BUDGET", MAX_SAMPLES)
    prom = PrometheusSource(prometheus.url, retries=0, progress=False)
    frame = prom.range("load", START, END, step="3s")
    assert frame.attrs["chunks"] == 73  # 200 evaluation times each
    assert len(frame) == len(HOSTS) * 14_401
    h05 = frame[frame["host"] == "h05"]
    assert h05["timestamp"].is_unique and h05["timestamp"].is_monotonic_increasing
    # each 60 s sample is the value for the 20 evaluation times from it on
    assert h05["value"].iloc[::20].tolist() == [float(5000 + i) for i in range(POINTS)]
