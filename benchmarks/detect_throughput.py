"""Throughput of ``anomaly.detect``: 1,000 series × 10,000 points (target: under 30 s), and
1,000 × 43,200 (30 days at 60 s; target: a few minutes, peak memory under 4 GB).

Builds a metrics frame of 1,000 series (one metric, labels agent and model) at a 60 s step with
a daily pattern, noise and a level shift injected into 1 % of the series, then times ``detect``
with its default detectors. The baseline, measured in the same run, is calling ``detect`` on one
series at a time (the per-series loop a naive caller writes), timed on a tenth of the series and
scaled. Peak memory is the process's peak resident set (``ru_maxrss``), printed after the frame
is built and after ``detect``.

    python benchmarks/detect_throughput.py [--series 1000] [--points 10000]
    python benchmarks/detect_throughput.py --points 43200 --baseline-series 20 [--against old.py]

``--against`` runs another version's ``detect`` (its ``anomaly.py``) on the same frame after
ours, checks that it finds exactly the same, and prints its time and the process's peak after it.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import resource
import time

import numpy as np
import pandas as pd

from agentinsight.analysis.anomaly import detect
from agentinsight.frames import validate_metrics_frame


def build(series: int, points: int, seed: int = 0) -> tuple[pd.DataFrame, set[int]]:
    """A metrics frame with ``series`` series of ``points`` points, and the shifted series.

    Each column is built in place with numpy (labels as categorical codes, times as int64
    nanoseconds), a few hundred series' noise at a time, so building 43 million rows costs
    little more than the frame itself.
    """
    rng = np.random.default_rng(seed)
    daily = np.sin(2 * np.pi * np.arange(points) / 1440.0)
    base = rng.uniform(5, 50, size=(series, 1))
    values = np.empty((series, points))
    rows = max(1, (1 << 22) // points)
    for r in range(0, series, rows):  # the same draws, in the same order, as one big draw
        block = values[r:r + rows]
        block[:] = rng.normal(0, 1, size=block.shape)
        block += base[r:r + rows] * (1 + 0.3 * daily)
    shifted = set(rng.choice(series, size=max(series // 100, 1), replace=False).tolist())
    for s in shifted:
        values[s, int(points * 0.8):] += 10 * base[s, 0] / 5
    stamps = np.empty((series, points), dtype=np.int64)
    stamps[:] = (1_700_000_000 + 60 * np.arange(points, dtype=np.int64)) * 1_000_000_000
    timestamp = pd.Series(stamps.reshape(-1).view("M8[ns]")).dt.tz_localize("UTC")
    del stamps
    agents = [f"agent-{i}" for i in range(100)]
    models = [f"model-{i}" for i in range((series + 99) // 100)]
    frame = pd.DataFrame({
        "timestamp": timestamp,
        "metric": pd.Categorical.from_codes(_codes(np.zeros(series, int), points),
                                            ["agent_execution_rate"]),
        "value": values.reshape(-1),
        "agent": pd.Categorical.from_codes(_codes(np.arange(series) % 100, points), agents),
        "model": pd.Categorical.from_codes(_codes(np.arange(series) // 100, points), models),
    }, copy=False)
    return validate_metrics_frame(frame), shifted


def _codes(per_series: np.ndarray, points: int) -> np.ndarray:
    """One categorical code per row: each series' code repeated over its points."""
    dtype = np.int8 if per_series.max() < 127 else np.int16
    out = np.empty((len(per_series), points), dtype=dtype)
    out[:] = per_series.astype(dtype)[:, None]
    return out.reshape(-1)


def peak_rss_mib() -> float:
    """The process's peak resident memory so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--baseline-series", type=int, default=None,
                        help="series the per-series baseline is timed on (default a tenth)")
    parser.add_argument("--against", metavar="ANOMALY_PY",
                        help="another version's anomaly.py (git show REV:agentinsight/analysis/"
                             "anomaly.py > old.py): its detect runs on the same frame after ours "
                             "and must find exactly the same")
    args = parser.parse_args()
    frame, shifted = build(args.series, args.points)
    built = peak_rss_mib()
    print(f"{args.series} series x {args.points} points = {len(frame):,} rows, frame "
          f"{frame.memory_usage(deep=True).sum() / 2**20:,.0f} MiB, peak RSS after building it "
          f"{built:,.0f} MiB (load average before: {os.getloadavg()[0]:.1f})")
    start, cpu = time.perf_counter(), time.process_time()
    found = detect(frame)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"detect: {took:.1f} s wall, {cpu:.1f} s CPU, {len(frame) / took / 1e6:.2f} M points/s, "
          f"{len(found)} findings on {found['series'].map(str).nunique()} series "
          f"({len(shifted)} series had an injected shift); peak RSS of the process "
          f"{peak_rss_mib():,.0f} MiB" + (" (set by detect)" if peak_rss_mib() > built else ""))
    if args.against:
        compare(frame, found, args.against)
    sample = args.baseline_series or max(args.series // 10, 1)
    start = time.perf_counter()
    for n in range(sample):  # the frame holds one series after another
        detect(frame.iloc[n * args.points:(n + 1) * args.points].reset_index(drop=True))
    loop = (time.perf_counter() - start) * args.series / sample
    print(f"baseline: detect called once per series: {loop:.1f} s "
          f"(measured on the first {sample} series, scaled)")
    print(f"ratio baseline/detect: {loop / took:.2f}")


def compare(frame: pd.DataFrame, found: pd.DataFrame, path: str) -> None:
    """Run another version's ``detect`` on the same frame and check it finds the same."""
    spec = importlib.util.spec_from_file_location("other_anomaly", path)
    assert spec is not None and spec.loader is not None, path
    other = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(other)
    start, cpu = time.perf_counter(), time.process_time()
    theirs = other.detect(frame)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    pd.testing.assert_frame_equal(found, theirs)
    assert found.attrs == theirs.attrs
    print(f"{path}: detect {took:.1f} s wall, {cpu:.1f} s CPU, the same {len(theirs)} findings; "
          f"peak RSS of the process after it {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
