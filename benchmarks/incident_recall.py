"""Simulated-incident recall of the report's anomaly detection over many seeds and start times.

Each run simulates ``--days`` of the six-agent fleet (``agentinsight.simulate``, seven labelled
incidents, one of each kind, after a first day of clean history), reads it back with
``FileSource`` and runs the detection the daily report runs (``reports.notebook.fleet_findings``
on the same frames: queue size and token usage, half-hourly tool p95, the fleet's run rate and
the spans). A finding is true when it overlaps an incident (up to 10 minutes after its end) on a
series the incident affects (``agentinsight.simulate.finding_matches``, the rule of
``tests/unit/test_anomaly_simulated.py``); everything else is a false finding.

Printed: per incident kind the share of runs that caught it, the mean recall, and false findings
per simulated day, for every run and per group of seeds; every run's misses, and with
``--show-false`` its false findings, so each can be examined. Seeds are split into a tuning set
and a held-out set (``--tune-seeds`` / ``--seeds``): any change made to the detectors because of
a miss is judged on the tuning seeds, and the held-out seeds are the figure to report.

    python benchmarks/incident_recall.py [--seeds 1-10] [--tune-seeds 0] [--days 5]
        [--starts 2026-11-02T00:00:00Z,2026-11-07T00:00:00Z] [--every-start] [--show-false]
        [--cache DIR | --no-cache]

Each seed runs at one of the start times in turn (``--every-start`` runs it at all of them).
Simulating is most of the cost (a minute or two per run), so the frames and spans each run reads
back are kept in ``--cache`` (default ``~/.cache/agentinsight/bench/incidents``), one file per
seed, start and length: a second run of the script only repeats the detection. The cache holds
pickles this script wrote itself; delete the folder after changing the simulator.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pandas as pd

from agentinsight.reports.notebook import fleet_findings, spend_per_run
from agentinsight.simulate import finding_matches, incident_kind, simulate
from agentinsight.sources.files import FileSource

#: Monday midnight, Saturday midnight (a weekend start), Wednesday 13:00 (an afternoon start),
#: Friday 07:30 (incidents over a weekend)
STARTS = ("2026-11-02T00:00:00Z", "2026-11-07T00:00:00Z", "2026-11-04T13:00:00Z",
          "2026-11-06T07:30:00Z")


DEFAULT_CACHE = Path(os.path.expanduser("~/.cache/agentinsight/bench/incidents"))


def frames_of(source: FileSource) -> dict[str, pd.DataFrame]:
    """The frames the daily report detects on, under the names it gives them (spend per run
    included: the simulator runs with the cost counter on, as a priced fleet would; ``runs`` is
    each agent's finished runs per step, which per-run views divide by)."""
    return {
        "queue": source.range("task_queue_size"),
        "tokens": source.token_usage(by=["agent", "model", "token_type"]),
        "cost_per_run": spend_per_run(
            source.token_usage(by=["agent", "model"], metric="llm_cost_usd_total"),
            source.token_usage(by=["agent"], metric="agent_execution_total")),
        "tool_latency_p95_30m": source.latency_quantiles(
            "tool_execution_duration_seconds", q=0.95, by=["tool"], step="30m", window="30m"),
        "fleet_runs": source.rate("agent_execution_total", by=[], window="30m"),
        "runs": source.token_usage(by=["agent"], metric="agent_execution_total"),
        "cost": source.token_usage(by=["agent", "model"], metric="llm_cost_usd_total"),
    }


def simulated(seed: int, start: str, days: float, cache: Path | None
              ) -> tuple[dict[str, Any], dict[str, pd.DataFrame], pd.DataFrame, float]:
    """Truth, frames and spans of one simulated run, from the cache when it holds them."""
    key = f"seed{seed}-{pd.Timestamp(start):%Y%m%dT%H%M}-{days:g}d.pkl"
    if cache is not None and (cache / key).is_file():
        with open(cache / key, "rb") as fh:
            kept = pickle.load(fh)
        return kept["truth"], kept["frames"], kept["spans"], 0.0
    folder = Path(tempfile.mkdtemp(prefix="incident-recall-"))
    try:
        t0 = time.perf_counter()
        result = simulate(folder, days=days, seed=seed, start=start)
        source = FileSource(folder)
        frames, spans = frames_of(source), source.spans()
        took = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        part = cache / (key + ".part")
        with open(part, "wb") as fh:
            pickle.dump({"truth": result.truth, "frames": frames, "spans": spans}, fh,
                        protocol=pickle.HIGHEST_PROTOCOL)
        part.replace(cache / key)
    return result.truth, frames, spans, took


def one_run(seed: int, start: str, days: float, cache: Path | None = None) -> dict[str, Any]:
    """Simulate (or read the cache), detect, and match findings against the incidents."""
    truth, frames, spans, took = simulated(seed, start, days, cache)
    t0 = time.perf_counter()
    found = fleet_findings(frames, spans)
    detecting = time.perf_counter() - t0
    incidents = truth["incidents"]
    records = found.to_dict("records")
    service = truth.get("service")
    caught = {incident_kind(i): any(
        finding_matches(rec, i, service=service) for rec in records) for i in incidents}
    false = [rec for rec in records
             if not any(finding_matches(rec, i, service=service) for i in incidents)]
    span = (pd.Timestamp(truth["end"]) - pd.Timestamp(truth["start"])) / pd.Timedelta(days=1)
    return {"seed": seed, "start": start, "caught": caught, "false": len(false),
            "days": span, "seconds": took, "detect_seconds": detecting,
            "false_summaries": [f"{r['detector']}: {r['summary']}" for r in false],
            "incidents": {incident_kind(i): f"{i['start']} .. {i['end']} {i['labels']}"
                          for i in incidents}}


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            out.extend(range(int(lo), int(hi) + 1))
        elif part:
            out.append(int(part))
    return out


def summarise(label: str, runs: list[dict[str, Any]]) -> None:
    """Per-kind catch rate, mean recall and false findings per day over some runs."""
    if not runs:
        return
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for run in runs:
        for kind, hit in run["caught"].items():
            per_kind[kind].append(hit)
    recall = sum(sum(r["caught"].values()) / len(r["caught"]) for r in runs) / len(runs)
    days = sum(r["days"] for r in runs)
    false = sum(r["false"] for r in runs)
    print(f"\n{label}: {len(runs)} runs, {days:.0f} simulated days")
    print("| incident kind | caught in | share |\n|---|---|---|")
    for kind in sorted(per_kind):
        hits = per_kind[kind]
        print(f"| {kind} | {sum(hits)}/{len(hits)} | {sum(hits) / len(hits):.0%} |")
    print(f"mean recall {recall:.3f}; false findings {false} = {false / days:.2f} per day; "
          f"worst run {max(r['false'] / r['days'] for r in runs):.2f} per day")
    for start in sorted({r["start"] for r in runs}):
        some = [r for r in runs if r["start"] == start]
        hits = sum(sum(r["caught"].values()) for r in some)
        total = sum(len(r["caught"]) for r in some)
        per_day = sum(r["false"] for r in some) / sum(r["days"] for r in some)
        print(f"  start {start}: {len(some)} runs, caught {hits}/{total}, "
              f"{per_day:.2f} false findings per day")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-10", help="held-out seeds, e.g. 0-9 or 1,4,7")
    parser.add_argument("--tune-seeds", default="", help="seeds used while tuning, e.g. 100-102")
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--starts", default=",".join(STARTS))
    parser.add_argument("--every-start", action="store_true",
                        help="run every seed at every start (default: seed i at start i mod n)")
    parser.add_argument("--show-false", action="store_true", help="print every false finding")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help="folder keeping each simulated run's frames (default %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="simulate every run afresh")
    args = parser.parse_args(argv)
    cache = None if args.no_cache else args.cache
    starts = [s for s in args.starts.split(",") if s]
    groups = {"tuning seeds": _seeds(args.tune_seeds), "held-out seeds": _seeds(args.seeds)}
    results: dict[str, list[dict[str, Any]]] = {}
    for label, seeds in groups.items():
        results[label] = []
        for n, seed in enumerate(seeds):
            for start in (starts if args.every_start else [starts[n % len(starts)]]):
                run = one_run(seed, start, args.days, cache)
                missed = [k for k, hit in run["caught"].items() if not hit]
                print(f"seed {seed:3d} start {start}  {run['seconds']:4.0f} s simulating, "
                      f"{run['detect_seconds']:4.0f} s detecting  caught "
                      f"{sum(run['caught'].values())}/{len(run['caught'])}"
                      f"{' missed ' + ', '.join(missed) if missed else ''}  "
                      f"false {run['false']}", flush=True)
                for kind in missed:
                    print(f"      missed: {kind} {run['incidents'][kind]}")
                if args.show_false:
                    for text in run["false_summaries"]:
                        print(f"      false: {text}")
                results[label].append(run)
    for label, runs in results.items():
        summarise(label, runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
