"""Benchmark: 7 simulated days of a 6-agent fleet, end to end (target: under 2 minutes).

Runs ``agentinsight.simulate.simulate(days=7, agents=6)`` into a temporary directory and prints
the wall and CPU time, the split into phases, the sizes of the three files and the volume
(scrapes, series, samples, spans).

The hot spot is turning the registry into timestamped OpenMetrics text at every scrape. In the
same run, the script measures the obvious way of doing that — prometheus_client's own
``generate_latest`` (OpenMetrics exposition) of the registry at each scrape — on the final
registry, against the simulator's recorder (direct value reads per scrape, then one columnar
write), and prints the ratio.

    .venv/bin/python benchmarks/simulate.py [--days 7] [--agents 6] [--keep DIR] [--no-cost]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--agents", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("--no-cost", action="store_true",
                        help="leave emit's cost counter off (the simulator turns it on)")
    args = parser.parse_args()

    from prometheus_client.openmetrics.exposition import generate_latest

    from agentinsight import emit
    from agentinsight.simulate import simulate
    from agentinsight.simulate._recorder import Recorder

    out = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="agentinsight-sim-"))
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    result = simulate(out, days=args.days, agents=args.agents, seed=args.seed,
                      start="2026-11-16T00:00:00Z", cost=not args.no_cost)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    truth = result.truth
    scrapes = int(round(args.days * 86_400 / truth["scrape_interval_s"])) + 1
    with open(result.metrics_path, "rb") as fh:
        samples = sum(1 for line in fh if not line.startswith(b"#"))

    print(f"simulate(days={args.days:g}, agents={args.agents}): {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU (all threads), peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    for phase, seconds in result.timings.items():
        print(f"  {phase:<14} {seconds:7.1f} s")
    for path in (result.metrics_path, result.spans_path, result.truth_path):
        print(f"  {path.name:<12} {path.stat().st_size / 1e6:9.1f} MB")
    runs = sum(sum(v.values()) for v in truth["totals"]["runs"].values())
    print(f"  {scrapes} scrapes, {samples} samples ({samples / scrapes:.0f} series), "
          f"{truth['totals']['spans']} spans, {runs} agent runs, "
          f"{len(truth['incidents'])} incidents")

    # The hot spot, per scrape, on the final registry: generate_latest vs the recorder.
    registry = emit.get_registry()
    n = 100
    t = time.perf_counter()
    for _ in range(n):
        generate_latest(registry)
    baseline = (time.perf_counter() - t) / n
    rec = Recorder(registry)
    t = time.perf_counter()
    for k in range(n):
        rec.scrape(float(k))
    ours_scrape = (time.perf_counter() - t) / n
    ours = ours_scrape + result.timings["write_metrics"] / scrapes
    print(f"  metrics text per scrape: generate_latest {baseline * 1e3:.2f} ms, recorder "
          f"{ours * 1e3:.2f} ms ({ours_scrape * 1e3:.2f} scrape + "
          f"{result.timings['write_metrics'] / scrapes * 1e3:.2f} write) -> "
          f"{baseline / ours:.1f}x; for {scrapes} scrapes {baseline * scrapes:.0f} s vs "
          f"{ours * scrapes:.0f} s")
    print(f"  budget 120 s / wall {wall:.1f} s = {120 / wall:.2f}x headroom")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
