"""``agentinsight simulate``: write simulated fleet history (metrics, spans, truth)."""

from __future__ import annotations

import argparse
import sys

from agentinsight.simulate import simulate


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``agentinsight simulate``."""
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="directory for metrics.om, spans.jsonl and truth.json")
    parser.add_argument("--days", type=float, default=7.0, help="virtual days (default 7)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--start", default=None, metavar="ISO",
                        help="start time, e.g. 2026-11-20T00:00:00Z (default: now minus days)")
    parser.add_argument("--scrape-interval", type=float, default=60.0, metavar="S",
                        help="seconds between scrapes (default 60)")
    parser.add_argument("--agents", type=int, default=6, help="number of agents (default 6)")
    parser.add_argument("--no-incidents", action="store_true", help="inject no incidents")
    parser.add_argument("--service", default="agent-fleet", help="service.name of the spans")


def run(args: argparse.Namespace) -> int:
    """Run ``agentinsight simulate``; prints where the files went and the incidents."""
    result = simulate(args.out, days=args.days, start=args.start, agents=args.agents,
                      seed=args.seed, scrape_interval=args.scrape_interval,
                      incidents=not args.no_incidents, service=args.service)
    truth = result.truth
    out = sys.stdout
    print(f"simulated {truth['start']} .. {truth['end']} in {result.seconds:.1f} s", file=out)
    for path in (result.metrics_path, result.spans_path, result.truth_path):
        print(f"  {path}  ({path.stat().st_size / 1e6:.1f} MB)", file=out)
    runs = sum(sum(v.values()) for v in truth["totals"]["runs"].values())
    print(f"  {runs} agent runs, {truth['totals']['spans']} spans", file=out)
    for inc in truth["incidents"]:
        print(f"  {inc['start']} .. {inc['end']}  {inc['kind']:<14} {inc['description']}",
              file=out)
    return 0
