"""``agentinsight report``: run a report notebook into HTML, or list the reports."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from agentinsight.reports import (
    RUNNER_PARAMETERS,
    declared_parameters,
    list_reports,
    notebooks_dir,
    parse_param,
    run_report,
)


def configure_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    run_p = sub.add_parser("run", help="execute a report notebook into HTML", description=(
        "Run a report notebook with papermill and publish it as self-contained HTML in "
        "OUT/NAME/DAY/TIME/ (report.html, report.ipynb, params.json, findings.json). Relative "
        "paths in parameters are read from the folder the command runs in. `agentinsight "
        "report list` shows the reports and their parameters."))
    run_p.add_argument("name", help="report name (a notebook in notebooks/)")
    run_p.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                       help="notebook parameter; repeatable (values read as YAML: numbers, "
                            "true/false, [lists])")
    run_p.add_argument("--param-raw", "-r", action="append", default=[], metavar="KEY=VALUE",
                       help="notebook parameter kept as the literal string; repeatable")
    run_p.add_argument("--out", default="reports", help="reports folder (default: reports)")
    run_p.add_argument("--notebooks", default=None, help="folder of report notebooks")
    run_p.add_argument("--alertmanager", default=None, help="push findings to this Alertmanager")
    sub.add_parser("list", help="list the available reports and their parameters",
                   description="List the report notebooks with each parameter's default and "
                               "meaning (pass them to `report run` as -p NAME=VALUE).")


def _abandon(signum: int, _frame: Any) -> None:
    # Turn SIGTERM into an exception so run_report removes its temporary folder on the way out.
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _abandon)
    if args.action == "list":
        folder = notebooks_dir()
        for name in list_reports():
            print(name)
            for param in declared_parameters(folder / f"{name}.py").values():
                if param["name"] in RUNNER_PARAMETERS:
                    continue
                note = f"  # {param['help']}" if param["help"] else ""
                print(f"    -p {param['name']}={param['default']}{note}")
        return 0
    params = dict(parse_param(p) for p in args.param)
    params.update(parse_param(p, raw=True) for p in args.param_raw)
    result = run_report(args.name, params, out=args.out, notebooks=args.notebooks,
                        alertmanager_url=args.alertmanager)
    print(f"{result.name}: {result.html}  ({len(result.findings)} finding(s))")
    return 0
