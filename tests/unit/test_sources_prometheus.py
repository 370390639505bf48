"""PrometheusSource without a server: answer conversion, chunk grids, argument checks.

(Everything that talks to a server is in tests/integration/test_sources_prometheus.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agentinsight.exceptions import ConfigurationError, InvalidTimeError, ServerError
from agentinsight.frames import validate_metrics_frame
from agentinsight.sources import PrometheusSource, _helpers
from agentinsight.sources._promjson import result_frame
from agentinsight.sources.prometheus import _chunks


def _matrix(series):
    return {"resultType": "matrix", "result": series}


def test_matrix_answers_become_a_tidy_frame():
    data = _matrix([
        {"metric": {"__name__": "up", "job": "a"}, "values": [[10, "1"], [25, "0"]]},
        {"metric": {"__name__": "up", "job": "b", "zone": "x"},
         "values": [[10, "NaN"], [25, "+Inf"]]},
    ])
    frame = validate_metrics_frame(result_frame(data, "up"))
    assert list(frame.columns) == ["timestamp", "metric", "value", "job", "zone"]
    assert frame["job"].tolist() == ["a", "a", "b", "b"]
    assert frame["zone"].isna().tolist() == [True, True, False, False]
    assert frame["timestamp"].iloc[1] == pd.Timestamp(25, unit="s", tz="UTC")
    assert np.isnan(frame["value"].iloc[2]) and frame["value"].iloc[3] == np.inf


def test_expression_results_are_named_after_the_query():
    data = _matrix([{"metric": {"agent": "p"}, "values": [[0, "2"]]}])
    assert result_frame(data, "sum by (agent) (x)")["metric"].tolist() == ["sum by (agent) (x)"]
    vector = {"resultType": "vector", "result": [{"metric": {}, "value": [5, "3"]}]}
    assert result_frame(vector, "q")["value"].tolist() == [3.0]
    scalar = {"resultType": "scalar", "result": [5, "7"]}
    assert result_frame(scalar, "q")["value"].tolist() == [7.0]


def test_native_histograms_do_not_crash_and_keep_count_and_sum():
    data = _matrix([
        {"metric": {"__name__": "lat", "job": "a"},
         "histograms": [[10, {"count": "4", "sum": "2.5", "buckets": [[0, "0.5", "1", "4"]]}]]},
        {"metric": {"__name__": "up"}, "values": [[10, "1"]]},
    ])
    with pytest.warns(UserWarning, match="native-histogram"):
        frame = validate_metrics_frame(result_frame(data, "q"))
    got = dict(zip(frame["metric"].astype(str), frame["value"], strict=True))
    assert got == {"up": 1.0, "lat_count": 4.0, "lat_sum": 2.5}


def test_joined_chunks_lose_repeated_points():
    a = {"metric": {"__name__": "up"}, "values": [[10, "1"], [20, "1"]]}
    b = {"metric": {"__name__": "up"}, "values": [[20, "1"], [30, "1"]]}
    frame = result_frame(_matrix([b, a]), "up", dedupe=True)
    assert frame["timestamp"].astype("int64").tolist() == [10 * 10**9, 20 * 10**9, 30 * 10**9]


_CONVERT = """
import sys
from agentinsight.sources._promjson import answer_part, decode_answer, join_parts

def status(key):
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) * 1024 for line in fh if line.startswith(key))

content = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as fh:
    fh.write("5")  # the peak (VmHWM) starts again from here
before = status("VmRSS:")
frame = join_parts([answer_part(decode_answer(content)["data"], "load")])
print(status("VmHWM:") - before, frame.memory_usage(deep=True).sum(), len(frame))
"""


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="reads Linux's /proc")
def test_a_million_point_answer_is_converted_without_an_object_per_point(tmp_path):
    # Decoded the usual way, this answer becomes ~220 MB of Python lists, floats and strings
    # for a 17 MB frame (13x); converted series by series while it is decoded, the peak is
    # the 20 MB text decoded once, the points as arrays and the frame (2.6x).
    rng = np.random.default_rng(0)
    stamps = (1_700_000_000 + 15 * np.arange(10_000)).astype(str)
    series = []
    for i in range(100):
        points = ",".join(f'[{t},"{v}"]' for t, v in zip(
            stamps, np.round(rng.normal(100, 10, len(stamps)), 2).astype(str), strict=True))
        series.append(f'{{"metric":{{"__name__":"load","host":"h{i}"}},"values":[{points}]}}')
    body = tmp_path / "answer.json"
    body.write_text('{"status":"success","data":{"resultType":"matrix","result":['
                    + ",".join(series) + "]}}")
    done = subprocess.run([sys.executable, "-c", _CONVERT, str(body)], capture_output=True,
                          text=True, check=True)
    peak, frame_bytes, rows = json.loads("[" + done.stdout.strip().replace(" ", ",") + "]")
    assert rows == 1_000_000
    assert peak < 4 * frame_bytes, (peak / 2**20, frame_bytes / 2**20)


def test_unexpected_answers_are_server_errors():
    with pytest.raises(ServerError, match="unexpected result type"):
        result_frame({"resultType": "streams", "result": []}, "q")


def test_long_fine_ranges_are_cut_on_one_grid():
    # three days at 15 s: 17,281 evaluation times -> two requests, no gap, no overlap
    g = _helpers.grid(0, 3 * 86400, "15s", 60)
    chunks = _chunks(g)
    assert g.points == 17_281 and len(chunks) == 2
    assert all(c.points <= 11_000 for c in chunks)
    times = np.concatenate([c.times() for c in chunks])
    assert np.array_equal(times, g.times())


def test_automatic_step_stays_under_the_point_limit_and_above_the_scrape_interval():
    week = _helpers.grid("now-7d", "now", None, 15)
    assert week.points <= 11_000 and week.step_ms % 15_000 == 0
    hour = _helpers.grid("now-1h", "now", None, 15)
    assert hour.step_ms == 15_000


def test_bad_arguments_fail_early():
    with pytest.raises(ConfigurationError, match="http"):
        PrometheusSource("localhost:9090")
    prom = PrometheusSource("http://127.0.0.1:9", scrape_interval="15s")
    with pytest.raises(InvalidTimeError):
        prom.range("up", start="now", end="now-1h")
    with pytest.raises(ConfigurationError, match="not a metric name"):
        prom.rate("rate(x[5m])")
    with pytest.raises(ConfigurationError, match="q must be between"):
        prom.latency_quantiles("x", q=95)
