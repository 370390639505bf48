"""``agentinsight alerts``: push findings to Alertmanager, write rule files (from baselines or
budgets), print webhook JSON."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agentinsight.alerts import (
    SPOOL_FILE,
    default_spool_dir,
    load_findings,
    post_webhook,
    push,
    read_baselines,
    webhook_payload,
    write_budget_rules,
    write_rule_file,
)
from agentinsight.frames import SEVERITIES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``alerts`` sub-commands (push, rules, budgets, webhook) to ``parser``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = sub.add_parser("push", help="send findings.json to Alertmanager", description=(
        "Send a report's findings to Alertmanager as alerts (firing, or resolved when the "
        "finding has ended). Alerts that cannot be delivered wait in a spool file, kept per "
        "Alertmanager URL, and go out with the next push to that URL."))
    p.add_argument("--findings", required=True, type=Path, help="findings.json from a report")
    p.add_argument("--alertmanager", required=True, metavar="URL", help="e.g. http://localhost:9093")
    p.add_argument("--spool", type=Path, default=None, metavar="DIR",
                   help="keep undeliverable alerts here for the next push (default: "
                        "$AGENTINSIGHT_ALERT_SPOOL or ~/.cache/agentinsight/alert-spool)")
    _link_args(p)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per request (10)")
    p.add_argument("--data-end", default=None, metavar="TIME",
                   help="end of the analysed data: findings ending near it are still firing")
    p.add_argument("--ongoing-within", default="5m", metavar="DURATION",
                   help="how near to --data-end a finding must end to be ongoing (5m)")
    r = sub.add_parser("rules", help="write Prometheus alerting rules from learned baselines",
                       description="Write a Prometheus rule file whose alerts fire when a "
                                   "series goes above its learned baseline times --factor.")
    r.add_argument("--baselines", required=True, type=Path,
                   help="baselines as JSON/YAML ({kind: {name: value}} or a list of "
                        "{kind, labels, value}), or a metrics frame as .parquet to learn from")
    r.add_argument("--out", required=True, type=Path, help="rule file to write")
    r.add_argument("--factor", type=float, default=1.5, help="alert above baseline × factor")
    r.add_argument("--for", dest="for_", default="10m", metavar="DURATION",
                   help="how long a rule's condition must hold before it fires (10m)")
    r.add_argument("--severity", default="warning", choices=SEVERITIES)
    b = sub.add_parser("budgets", help="write Prometheus rules from a budgets file",
                       description="Write recording rules (spend rates, spend so far, projected "
                                   "period-end spend) and burn-rate alerts (fast burn pages, "
                                   "slow burn and projected overspend ticket) for each budget "
                                   "in a budgets file on llm_cost_usd_total.")
    b.add_argument("--budgets", required=True, type=Path, help="budgets file (YAML)")
    b.add_argument("--out", required=True, type=Path, help="rule file to write")
    b.add_argument("--namespace", default="", help="the agents' metric name prefix, if any")
    b.add_argument("--interval", default=None, metavar="DURATION",
                   help="evaluation interval of the budget groups (Prometheus's global one)")
    w = sub.add_parser("webhook", help="print the webhook JSON for findings.json",
                       description="Print findings.json as an Alertmanager webhook "
                                   "notification, for systems without Alertmanager.")
    w.add_argument("--findings", required=True, type=Path)
    w.add_argument("--post", metavar="URL", default=None, help="also POST it to this URL")
    _link_args(w)


def _link_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jaeger", metavar="URL", default=None, help="Jaeger UI, for trace links")
    p.add_argument("--report-url", default=None, help="link to the report the findings come from")
    p.add_argument("--generator-url", default=None, help="alert generatorURL (default: report)")


def run(args: argparse.Namespace) -> int:
    """Run ``agentinsight alerts …``; returns the exit code (1 if anything was not delivered)."""
    if args.action == "push":
        spool = args.spool or default_spool_dir()
        result = push(
            load_findings(args.findings), args.alertmanager, spool_dir=spool,
            generator_url=args.generator_url, jaeger_url=args.jaeger,
            report_url=args.report_url, timeout=args.timeout, data_end=args.data_end,
            ongoing_within=args.ongoing_within,
        )
        print(result)
        if result.spooled:
            print(f"spool: {spool / SPOOL_FILE}")
        return 0 if result.ok else 1
    if args.action == "rules":
        path = write_rule_file(read_baselines(args.baselines), args.out, factor=args.factor,
                               for_=args.for_, severity=args.severity)
        print(f"wrote {path}")
        return 0
    if args.action == "budgets":
        path = write_budget_rules(args.budgets, args.out, namespace=args.namespace,
                                  interval=args.interval)
        print(f"wrote {path}")
        return 0
    payload = webhook_payload(load_findings(args.findings), jaeger_url=args.jaeger,
                              report_url=args.report_url, generator_url=args.generator_url)
    json.dump(payload, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    if args.post:
        post_webhook(payload, args.post)
    return 0
