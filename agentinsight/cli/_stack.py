"""``agentinsight stack``: start local Prometheus, Alertmanager and Jaeger."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

from agentinsight.stack import Stack, find_program


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Set up ``agentinsight stack up`` (the CLI dispatcher calls this)."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="start Prometheus, Alertmanager and Jaeger; Ctrl-C stops them",
                        description=(
        "Start Prometheus, Alertmanager and Jaeger on loopback and print their URLs; Ctrl-C "
        "stops them. Prometheus scrapes each --scrape HOST:PORT (an agent's emit.serve() "
        "endpoint); agents send spans to the printed OTLP endpoint. The Jaeger build takes "
        "minutes the first time (--build-jaeger)."))
    up.add_argument("--scrape", action="append", default=[], metavar="HOST:PORT",
                    help="a /metrics endpoint for Prometheus to scrape (repeatable)")
    up.add_argument("--scrape-interval", default="15s", help="scrape interval (default 15s)")
    up.add_argument("--rules", action="append", default=[], metavar="FILE",
                    help="a Prometheus rule file (repeatable)")
    up.add_argument("--data-dir", help="Prometheus data directory to use and keep "
                    "(default: a temporary one, removed on exit)")
    up.add_argument("--no-alertmanager", action="store_true", help="do not start Alertmanager")
    up.add_argument("--no-jaeger", action="store_true", help="do not start Jaeger")
    up.add_argument("--build-jaeger", action="store_true",
                    help="build Jaeger with tools/jaeger/build.sh if it is missing (minutes)")
    up.add_argument("--json", action="store_true", help="print the URLs as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Run ``agentinsight stack up``: start the stack, print its URLs, wait for Ctrl-C."""
    jaeger_binary = None
    if not args.no_jaeger:
        jaeger_binary = find_program("jaeger", build=args.build_jaeger)
    stack = Stack(
        scrape_targets=args.scrape,
        scrape_interval=args.scrape_interval,
        rule_files=args.rules,
        prometheus_data_dir=args.data_dir,
        alertmanager=not args.no_alertmanager,
        jaeger=not args.no_jaeger,
        jaeger_binary=jaeger_binary,
    )

    def _terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        stack.start()
        urls = stack.urls()
        if args.json:
            print(json.dumps(urls), flush=True)
        else:
            for name, url in urls.items():
                print(f"{name:<13} {url}")
            if stack.jaeger is not None:
                print(f"\nagents: export OTEL_EXPORTER_OTLP_ENDPOINT={stack.jaeger.otlp_http_url}")
            print("press Ctrl-C to stop", flush=True)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("stopping…", file=sys.stderr)
        return 0
    finally:
        stack.stop()
        signal.signal(signal.SIGTERM, previous)
