"""``agentinsight schedule``: run reports when their schedule says they are due."""

from __future__ import annotations

import argparse

from agentinsight._time import parse_rfc3339
from agentinsight.reports import serve


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", default="schedules.yaml", help="schedules file")
    parser.add_argument("--once", action="store_true",
                        help="run what is due now and exit (for cron, timers, CronJobs)")
    parser.add_argument("--now", default=None,
                        help="pretend the current UTC time is this ISO time (for testing)")


def run(args: argparse.Namespace) -> int:
    return serve(args.config, once=args.once, now=parse_rfc3339(args.now) if args.now else None)
