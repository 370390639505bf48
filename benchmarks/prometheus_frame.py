"""Range query → DataFrame: 500 series x 2,000 points from a real Prometheus.

Run: ``python benchmarks/prometheus_frame.py``. Writes 500 gauge series with 2,000 samples each
(15 s apart) as OpenMetrics, backfills a real Prometheus with promtool, fetches one
``query_range`` answer (1,000,000 points), then converts the same decoded answer:

- agentinsight: ``agentinsight.sources._promjson.result_frame`` (what ``PrometheusSource.range``
  uses; a metrics frame with categorical labels);
- baseline: prometheus-api-client's ``MetricRangeDataFrame``.

Time is the best of 3 runs; peak memory is tracemalloc's peak during one conversion. The
end-to-end time of ``PrometheusSource.range`` (HTTP + JSON + conversion) is printed too.
"""

from __future__ import annotations

import gc
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import requests
from prometheus_api_client import MetricRangeDataFrame

from agentinsight.sources import PrometheusSource
from agentinsight.sources._promjson import result_frame
from agentinsight.stack import Prometheus
from agentinsight.stack.load import backfill_prometheus

SERIES, POINTS, STEP = 500, 2_000, 15
T0 = 1_793_577_600


def write_history(path: Path) -> None:
    rng = np.random.default_rng(1)
    stamps = T0 + STEP * np.arange(POINTS)
    with path.open("w") as fh:
        fh.write("# TYPE bench_value gauge\n")
        for i in range(SERIES):
            labels = f'agent="agent{i % 10}",model="model{i % 7}",instance="pod-{i}"'
            values = np.round(rng.normal(100, 10, POINTS), 3)
            fh.writelines(f"bench_value{{{labels}}} {v} {t}\n"
                          for v, t in zip(values, stamps, strict=True))
        fh.write("# EOF\n")


def measure(fn, result) -> tuple[float, float]:
    best = float("inf")
    for _ in range(3):
        gc.collect()
        t = time.perf_counter()
        fn(result)
        best = min(best, time.perf_counter() - t)
    gc.collect()
    tracemalloc.start()
    fn(result)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        om = Path(tmp) / "history.om"
        write_history(om)
        backfill_prometheus(om, Path(tmp) / "tsdb")
        with Prometheus(data_dir=Path(tmp) / "tsdb") as server:
            params = {"query": "bench_value", "start": T0, "end": T0 + STEP * (POINTS - 1),
                      "step": f"{STEP}s"}
            body = requests.get(f"{server.url}/api/v1/query_range", params=params,
                                timeout=120).json()
            data = body["data"]
            points = sum(len(s["values"]) for s in data["result"])
            assert len(data["result"]) == SERIES and points == SERIES * POINTS, points
            ours_t, ours_mb = measure(lambda d: result_frame(d, "bench_value"), data)
            base_t, base_mb = measure(lambda d: MetricRangeDataFrame(d["result"]), data)
            prom = PrometheusSource(server.url, scrape_interval=STEP)
            t = time.perf_counter()
            frame = prom.range("bench_value", params["start"], params["end"], step="15s")
            e2e = time.perf_counter() - t
            assert len(frame) == points
            t = time.perf_counter()
            raw = requests.get(f"{server.url}/api/v1/query_range", params=params, timeout=120)
            http = time.perf_counter() - t
            t = time.perf_counter()
            json.loads(raw.content)
            decode = time.perf_counter() - t
            size_mb = len(raw.content) / 1e6
    print(f"answer: {SERIES} series x {POINTS} points = {points:,} points")
    print(f"agentinsight result_frame: {ours_t:.3f} s, peak {ours_mb:.1f} MiB")
    print(f"MetricRangeDataFrame:      {base_t:.3f} s, peak {base_mb:.1f} MiB")
    print(f"ratio: {base_t / ours_t:.1f}x faster, {base_mb / ours_mb:.1f}x less memory")
    print(f"PrometheusSource.range end to end: {e2e:.2f} s = server + transfer of "
          f"{size_mb:.0f} MB ~{http:.2f} s, JSON decode ~{decode:.2f} s, frame {ours_t:.2f} s")


if __name__ == "__main__":
    main()
