"""Range query → DataFrame: 500 series x 2,000 points from a real Prometheus.

Run: ``python benchmarks/prometheus_frame.py``. Writes 500 gauge series with 2,000 samples each
(15 s apart) as OpenMetrics, backfills a real Prometheus with promtool, fetches one
``query_range`` answer (1,000,000 points), then converts the same decoded answer:

- agentinsight: ``agentinsight.sources._promjson.result_frame`` (what ``PrometheusSource.range``
  uses; a metrics frame with categorical labels);
- baseline: prometheus-api-client's ``MetricRangeDataFrame``.

Time is the best of 3 runs; peak memory is tracemalloc's peak during one conversion. The
end-to-end time of ``PrometheusSource.range`` (HTTP + JSON + conversion) is printed too.

Long pulls: ``python benchmarks/prometheus_frame.py --long 90d10`` (90 days x 10 series at 15 s,
5.2 M points) or ``--long 30d1000`` (30 days x 1,000 series at 60 s, 43.2 M points; the file
is about 3 GB and its backfill takes many minutes). The history is backfilled once into
``~/.cache/agentinsight/bench/<case>`` and kept. Each pull runs in a child process whose peak
resident memory (VmHWM) is read at its end, printed beside the frame's own size
(``memory_usage(deep=True)``): ``PrometheusSource.range``, the same followed by
``anomaly.detect`` (``detect``), the interpreter with the package imported and no pull
(``idle``), and prometheus-api-client (``baseline``: ``get_metric_range_data`` in one-day
chunks + ``MetricRangeDataFrame``) on the same range; name the ones to run after the case
(default ``ours baseline``). Run only one at a time: the 30d1000 case needs several GB.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
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


LONG = {  # case: (days, series, step seconds)
    "90d10": (90, 10, 15),
    "30d1000": (30, 1000, 60),
}
LONG_T0 = 1_780_272_000  # 2026-06-01T00:00:00Z


def _cache(case: str) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "agentinsight" / \
        "bench" / case


def write_long_history(path: Path, days: int, series: int, step: int) -> None:
    points = days * 86_400 // step
    stamps = (LONG_T0 + step * np.arange(points)).astype(str)
    rng = np.random.default_rng(2)
    with path.open("w") as fh:
        fh.write("# TYPE bench_long gauge\n")
        for i in range(series):
            values = np.round(rng.normal(100, 10, points), 2).astype(str)
            head = f'bench_long{{agent="agent{i % 10}",instance="pod-{i}"}} '
            fh.write("".join(head + v + " " + t + "\n" for v, t in zip(values, stamps,
                                                                      strict=True)))
        fh.write("# EOF\n")


def _vmhwm_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(kind: str, url: str, case: str) -> None:
    days, _, step = LONG[case]
    start, end = LONG_T0, LONG_T0 + days * 86_400 - step
    t = time.perf_counter()
    if kind == "baseline":
        import datetime as dt

        from prometheus_api_client import PrometheusConnect

        raw = PrometheusConnect(url, disable_ssl=True).get_metric_range_data(
            "bench_long", start_time=dt.datetime.fromtimestamp(start, dt.UTC),
            end_time=dt.datetime.fromtimestamp(end + step, dt.UTC),
            chunk_size=dt.timedelta(days=1))
        frame = MetricRangeDataFrame(raw)
        del raw
    elif kind == "idle":  # the interpreter with pandas and the package imported, no pull
        frame = PrometheusSource(url).instant("vector(1)")
    else:
        frame = PrometheusSource(url, progress=False, timeout=600).range(
            "bench_long", start, end, step=f"{step}s")
    seconds = time.perf_counter() - t
    out = {"kind": kind, "rows": len(frame), "seconds": round(seconds, 1),
           "frame_mib": round(frame.memory_usage(deep=True).sum() / 2**20, 1)}
    if kind == "detect":
        from agentinsight.analysis import anomaly

        t = time.perf_counter()
        findings = anomaly.detect(frame)
        out["detect_seconds"] = round(time.perf_counter() - t, 1)
        out["findings"] = len(findings)
    out["peak_mib"] = round(_vmhwm_mib(), 1)
    print(json.dumps(out))


def long_pull(case: str, kinds: list[str]) -> None:
    days, series, step = LONG[case]
    home = _cache(case)
    tsdb = home / "tsdb"
    if not (home / "done").exists():
        home.mkdir(parents=True, exist_ok=True)
        om = home / "history.om"
        t = time.perf_counter()
        write_long_history(om, days, series, step)
        backfill_prometheus(om, tsdb, max_block_duration="2000h")
        om.unlink()
        (home / "done").write_text("")
        print(f"history written and backfilled in {time.perf_counter() - t:.0f} s")
    points = series * (days * 86_400 // step)
    print(f"{case}: {days} d x {series} series at {step} s = {points:,} points")
    with Prometheus(data_dir=tsdb, scrape_interval=f"{step}s") as server:
        for kind in kinds:
            done = subprocess.run([sys.executable, __file__, "--child", kind, server.url, case],
                                  capture_output=True, text=True, check=True)
            print(done.stdout.strip())


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:5])
    elif len(sys.argv) > 2 and sys.argv[1] == "--long":
        long_pull(sys.argv[2], sys.argv[3:] or ["ours", "baseline"])
    else:
        main()
