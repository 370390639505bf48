"""Throughput of ``anomaly.detect``: 1,000 series × 10,000 points (target: under 30 s).

Builds a metrics frame of 1,000 series (one metric, labels agent and model) at a 60 s step with
a daily pattern, noise and a level shift injected into 1 % of the series, then times ``detect``
with its default detectors. The baseline, measured in the same run, is calling ``detect`` on one
series at a time (the per-series loop a naive caller writes), timed on a tenth of the series and
scaled.

    python benchmarks/detect_throughput.py [--series 1000] [--points 10000]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from agentinsight.analysis.anomaly import detect
from agentinsight.frames import metrics_frame


def build(series: int, points: int, seed: int = 0) -> tuple[pd.DataFrame, set[int]]:
    """A metrics frame with ``series`` series of ``points`` points, and the shifted series."""
    rng = np.random.default_rng(seed)
    t = 1.7e9 + np.arange(points) * 60.0
    daily = np.sin(2 * np.pi * np.arange(points) / 1440.0)
    base = rng.uniform(5, 50, size=(series, 1))
    values = base * (1 + 0.3 * daily) + rng.normal(0, 1, size=(series, points))
    shifted = set(rng.choice(series, size=max(series // 100, 1), replace=False).tolist())
    for s in shifted:
        values[s, int(points * 0.8):] += 10 * base[s, 0] / 5
    frame = metrics_frame(
        np.tile(t, series), "agent_execution_rate", values.ravel(),
        {"agent": np.repeat([f"agent-{i % 100}" for i in range(series)], points),
         "model": np.repeat([f"model-{i // 100}" for i in range(series)], points)},
    )
    return frame, shifted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--points", type=int, default=10000)
    args = parser.parse_args()
    frame, shifted = build(args.series, args.points)
    print(f"{args.series} series x {args.points} points = {len(frame):,} rows "
          f"(load average before: {os.getloadavg()[0]:.1f})")
    start, cpu = time.perf_counter(), time.process_time()
    found = detect(frame)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"detect: {took:.1f} s wall, {cpu:.1f} s CPU, {len(frame) / took / 1e6:.2f} M points/s, "
          f"{len(found)} findings on {found['series'].map(str).nunique()} series "
          f"({len(shifted)} series had an injected shift)")
    sample = max(args.series // 10, 1)
    groups = frame.groupby(["agent", "model"], observed=True)
    start = time.perf_counter()
    for n, (_, group) in enumerate(groups):  # noqa: B007
        if n >= sample:
            break
        detect(group.reset_index(drop=True))
    loop = (time.perf_counter() - start) * args.series / sample
    print(f"baseline: detect called once per series: {loop:.1f} s "
          f"(measured on {sample} series, scaled)")
    print(f"ratio baseline/detect: {loop / took:.2f}")


if __name__ == "__main__":
    main()
