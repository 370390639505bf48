"""``agentinsight demo``: the whole job on one machine, no servers needed.

1. simulate a week of a six-agent fleet with labelled incidents into ``DIR/data/demo``
   (through the real ``emit`` code; reused when it is already there, unless ``--fresh``);
2. run the ``daily_report`` notebook over the last day (the days before are the detectors'
   history) and the ``cost_report`` notebook over the week, into ``DIR/reports``;
3. print where the HTML is, the headline findings, and which labelled incidents they caught.

``--stack`` does the same against real local servers started by the project: Prometheus
backfilled with ``promtool`` from the simulated metrics, Jaeger loaded over OTLP/HTTP, and an
Alertmanager that receives the findings as alerts.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from agentinsight.exceptions import ConfigurationError

__all__ = ["demo"]


def _say(text: str) -> None:
    print(text, flush=True)


def _timed(label: str, timings: dict[str, float], fn: Callable[[], Any]) -> Any:
    began = time.monotonic()
    result = fn()
    timings[label] = round(time.monotonic() - began, 1)
    _say(f"  {label}: {timings[label]} s")
    return result


def demo(workdir: str | Path = ".", *, days: float = 7.0, seed: int = 0, fresh: bool = False,
         stack: bool = False, keep: bool = False) -> dict[str, Any]:
    """Run the demo; returns paths, timings, findings and which incidents were caught."""
    from agentinsight.reports import run_report
    from agentinsight.simulate import simulate

    root = Path(workdir).resolve()
    data = root / "data" / "demo"
    out = root / "reports"
    timings: dict[str, float] = {}
    _say(f"agentinsight demo in {root}")
    if fresh or not (data / "truth.json").is_file() or not (data / "metrics.om").is_file():
        _say(f"simulating {days:g} days of an agent fleet with incidents into {data} ...")
        _timed("simulate", timings, lambda: simulate(data, days=days, seed=seed))
    else:
        _say(f"reusing the simulated history in {data} (--fresh to simulate again)")
    truth = json.loads((data / "truth.json").read_text())
    start = pd.Timestamp(truth["start"])
    end = pd.Timestamp(truth["end"])
    # A daily report covers the last day; the detectors learn from every day before it (the
    # first half of a history shorter than two days, so that --days 1 still leaves a period).
    learn = max((end - start) - pd.Timedelta(days=1), (end - start) / 2)
    period = {"start": (start + learn).isoformat(), "end": end.isoformat(),
              "history": f"{int(learn.total_seconds())}s"}
    source: dict[str, Any] = {"source_dir": str(data)}
    servers = None
    try:
        if stack:
            servers, source = _start_stack(data, timings)
        _say("running the daily report ...")
        daily = _timed("daily_report", timings, lambda: run_report(
            "daily_report", {**source, **period}, out=out))
        _say("running the cost report ...")
        costs = _timed("cost_report", timings, lambda: run_report(
            "cost_report", {**source, "start": truth["start"], "end": truth["end"]}, out=out))
        if servers is not None and servers.alertmanager is not None:
            from agentinsight import alerts

            jaeger = servers.jaeger.query_url if servers.jaeger is not None else None
            result = alerts.push(alerts.load_findings(daily.findings_path),
                                 servers.alertmanager.url, spool_dir=out / ".alert-spool",
                                 jaeger_url=jaeger, report_url=daily.html.as_uri())
            _say(f"alerts pushed to {servers.alertmanager.url}: {result}")
        caught = _caught(daily.findings, truth["incidents"], pd.Timestamp(period["start"]))
        _print_summary(daily, costs, caught, truth)
        if servers is not None and keep:
            _say("servers are running: " + ", ".join(f"{k} {v}" for k, v in
                                                       servers.urls().items()))
            _say("Ctrl-C stops them.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
    finally:
        if servers is not None:
            servers.stop()
    return {"daily": daily, "cost": costs, "timings": timings, "caught": caught}


def _start_stack(data: Path, timings: dict[str, float]) -> tuple[Any, dict[str, Any]]:
    import tempfile

    from agentinsight.stack import Stack
    from agentinsight.stack.load import backfill_prometheus, load_jaeger_otlp

    tsdb = Path(tempfile.mkdtemp(prefix="agentinsight-tsdb-"))
    _say("backfilling Prometheus with promtool ...")
    _timed("backfill", timings, lambda: backfill_prometheus(data / "metrics.om", tsdb))
    servers = Stack(prometheus_data_dir=tsdb).start()
    jaeger = servers.jaeger
    assert jaeger is not None  # Stack starts Jaeger unless told not to
    _say("loading spans into Jaeger over OTLP/HTTP ...")
    _timed("load_spans", timings,
           lambda: load_jaeger_otlp(data / "spans.jsonl", jaeger.otlp_http_url))
    return servers, {"prometheus_url": servers.prometheus.url,
                     "jaeger_url": jaeger.query_url, "source_dir": ""}


def _caught(findings: list[dict[str, Any]], incidents: list[dict[str, Any]],
            report_start: pd.Timestamp) -> dict[str, str]:
    """Incident -> "caught", "missed", or "learning" when it ended before the report period
    (the detectors' history). A finding catches an incident when it overlaps it in time (up to
    10 minutes after: rates lag) and names one of its labels, e.g. ``tool=web_search`` or a
    trace finding on ``execute_tool web_search``."""
    slack = pd.Timedelta(minutes=10)
    result = {}
    for incident in incidents:
        lo, hi = pd.Timestamp(incident["start"]), pd.Timestamp(incident["end"])
        name = f"{incident['kind']} ({incident['start'][:16]})"
        if hi < report_start:
            result[name] = "learning"
            continue
        wanted = {str(v) for v in incident.get("labels", {}).values()}
        hit = False
        for finding in findings:
            try:
                f_lo, f_hi = pd.Timestamp(finding["start"]), pd.Timestamp(finding["end"])
            except (KeyError, ValueError):
                continue
            labels = [str(v) for v in (finding.get("series") or {}).values()]
            named = not wanted or any(w == v or w in v.split() for w in wanted for v in labels)
            if f_lo <= hi + slack and f_hi >= lo and named:
                hit = True
                break
        result[name] = "caught" if hit else "missed"
    return result


def _print_summary(daily: Any, costs: Any, caught: dict[str, str],
                   truth: dict[str, Any]) -> None:
    _say("")
    _say(f"daily report: {daily.html}")
    _say(f"cost report:  {costs.html}")
    _say(f"all reports:  {daily.html.parents[3] / 'index.html'}")
    severity = {"critical": 0, "warning": 1, "info": 2}
    top = sorted(daily.findings, key=lambda f: (severity.get(f.get("severity"), 3),
                                                -float(f.get("score") or 0)))[:8]
    _say(f"\n{len(daily.findings)} finding(s); the most severe:")
    for finding in top:
        _say(f"  [{finding.get('severity')}] {str(finding.get('start'))[:16]}  "
             f"{finding.get('summary')}")
    judged = {k: v for k, v in caught.items() if v != "learning"}
    hits = sum(v == "caught" for v in judged.values())
    _say(f"\nlabelled incidents caught: {hits} of {len(judged)}")
    for name, state in caught.items():
        note = "  (in the detectors' learning period)" if state == "learning" else ""
        _say(f"  {state:8s} {name}{note}")
def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", default=".", help="where data/demo and reports/ go")
    parser.add_argument("--days", type=float, default=7.0, help="days of history to simulate")
    parser.add_argument("--seed", type=int, default=0,
                        help="random seed of the simulated fleet (default 0)")
    parser.add_argument("--fresh", action="store_true", help="simulate again even if data exists")
    parser.add_argument("--stack", action="store_true",
                        help="use real local Prometheus, Jaeger and Alertmanager")
    parser.add_argument("--keep", action="store_true",
                        help="with --stack: keep the servers running until Ctrl-C")


def run(args: argparse.Namespace) -> int:
    if args.keep and not args.stack:
        raise ConfigurationError("demo --keep keeps the servers of --stack running; add --stack")
    began = time.monotonic()
    result = demo(args.workdir, days=args.days, seed=args.seed, fresh=args.fresh,
                  stack=args.stack, keep=args.keep)
    timings = ", ".join(f"{k} {v} s" for k, v in result["timings"].items())
    _say(f"\ndemo finished in {time.monotonic() - began:.0f} s ({timings})")
    return 0
