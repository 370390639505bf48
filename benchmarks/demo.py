"""Benchmark: ``agentinsight demo`` end to end (target: under 3 minutes), and one daily report over
7 days of a 6-agent fleet split into simulate / load / analyse / render.

1. Runs ``agentinsight demo --workdir TMP --fresh`` (a week, six agents) as the installed command
   and prints its wall time, the child processes' CPU time and the demo's own printed split
   (simulate, daily report, cost report), against the 180 s budget of the issue.
2. On the demo's data, times the daily report's steps in this process with the same calls the
   notebook makes: load (parse metrics.om / its parsed copy and spans.jsonl, evaluate the
   standard series), analyse (anomaly findings, pricing, performance and cost tables), render
   (the plotly figures as the offline renderer emits them), then the HTML export of the executed
   notebook the demo wrote; and prints papermill's per-cell durations from that notebook.

    .venv/bin/python benchmarks/demo.py [--days 7] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BUDGET_S = 180.0


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_demo(workdir: Path, days: float) -> dict[str, Any]:
    command = Path(sys.executable).with_name("agentinsight")
    argv = [str(command)] if command.is_file() else [sys.executable, "-m", "agentinsight"]
    cpu0, wall0 = _child_cpu(), time.perf_counter()
    done = subprocess.run([*argv, "demo", "--workdir", str(workdir), "--fresh",
                           "--days", f"{days:g}"], capture_output=True, text=True)
    wall, cpu = time.perf_counter() - wall0, _child_cpu() - cpu0
    if done.returncode:
        sys.exit(f"demo failed ({done.returncode}):\n{done.stdout}\n{done.stderr[-3000:]}")
    split = {k: float(v) for k, v in re.findall(r"^  (\w+): ([\d.]+) s$", done.stdout, re.M)}
    daily = re.search(r"^daily report: (\S+)$", done.stdout, re.M)
    caught = re.search(r"labelled incidents caught: (\d+ of \d+)", done.stdout)
    findings = re.search(r"^(\d+) finding\(s\)", done.stdout, re.M)
    if daily is None:
        sys.exit(f"the demo did not print where the daily report is:\n{done.stdout}")
    return {"wall": wall, "cpu": cpu, "split": split, "daily_html": Path(daily.group(1)),
            "caught": caught.group(1) if caught else "?",
            "findings": findings.group(1) if findings else "?"}


def _timed(into: dict[str, float], label: str, fn: Callable[[], Any]) -> Any:
    began = time.perf_counter()
    result = fn()
    into[label] = time.perf_counter() - began
    return result


def daily_report_steps(data: Path, params: dict[str, Any]) -> dict[str, dict[str, float]]:
    """The daily report notebook's calls, timed one by one (same order, same arguments)."""
    import plotly.io as pio

    from agentinsight import plots
    from agentinsight.analysis import cost, performance
    from agentinsight.reports import enable_offline_plotly
    from agentinsight.reports.notebook import fleet_findings, headline, standard_frames, time_window
    from agentinsight.sources import connect

    enable_offline_plotly()
    renderer = pio.renderers["agentinsight"]
    load: dict[str, float] = {}
    analyse: dict[str, float] = {}
    render: dict[str, float] = {}

    fleet = connect(str(data))
    learn_from, start, end = time_window(params["start"], params["end"], params["history"])
    _timed(load, "parse metrics", lambda: fleet.metrics.samples)
    all_spans = _timed(load, "parse spans", lambda: fleet.spans(learn_from, end))
    frames = _timed(load, "standard series", lambda: standard_frames(fleet, learn_from, end,
                                                                       step="5m"))
    spans = all_spans[all_spans["start"] >= start].reset_index(drop=True)

    findings = _timed(analyse, "anomaly findings",
                      lambda: fleet_findings(frames, all_spans, start=start, end=end))
    priced = _timed(analyse, "price spans", lambda: cost.price_spans(spans))

    def tables() -> Any:
        headline(spans, priced, findings)
        performance.performance_summary(spans)
        performance.breakdown(spans, by="tool")
        cost.cost_table(priced, by=["agent", "model"])
        cost.unpriced_usage(priced)
        return cost.cost_table(priced, by=["day", "model"])

    daily = _timed(analyse, "performance and cost tables", tables)
    example = performance.slowest_traces(spans, n=1)["trace_id"].iloc[0]

    def figures() -> None:
        figs = [plots.findings_timeline(findings)]
        for name in ("agent_errors", "agent_latency_p95", "tool_latency_p95"):
            frame = frames[name]
            figs.append(plots.timeseries(frame[frame["timestamp"] >= start], findings,
                                         title=name))
        figs += [plots.trace_waterfall(spans, example), plots.cost_area(daily)]
        for fig in figs:
            renderer.to_mimebundle(fig.to_dict())

    _timed(render, "figures (build + offline HTML)", figures)
    return {"load": load, "analyse": analyse, "render": render}


def export_time(notebook: Path) -> float:
    from agentinsight.reports._runner import _export_html

    target = Path(tempfile.mkdtemp(prefix="agentinsight-export-")) / "report.html"
    began = time.perf_counter()
    _export_html(notebook, target)
    seconds = time.perf_counter() - began
    shutil.rmtree(target.parent, ignore_errors=True)
    return seconds


def cell_durations(notebook: Path) -> list[tuple[float, str]]:
    cells = json.loads(notebook.read_text())["cells"]
    rows = []
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        first = next((ln for ln in "".join(cell["source"]).splitlines()
                      if ln.strip() and not ln.startswith("#")), "")
        rows.append((float(cell["metadata"].get("papermill", {}).get("duration") or 0.0),
                     first.strip()[:60]))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--keep", metavar="DIR", help="run the demo here and keep its output")
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="agentinsight-demo-"))
    load0 = os.getloadavg()[0]

    demo = run_demo(workdir, args.days)
    print(f"agentinsight demo --fresh --days {args.days:g}: {demo['wall']:.1f} s wall, "
          f"{demo['cpu']:.1f} s CPU (all child processes); budget {BUDGET_S:.0f} s -> "
          f"{demo['wall'] / BUDGET_S:.2f} of it ({BUDGET_S / demo['wall']:.2f}x headroom)")
    for phase, seconds in demo["split"].items():
        print(f"  {phase:<14} {seconds:7.1f} s")
    print(f"  {demo['findings']} finding(s); labelled incidents caught: {demo['caught']}")

    daily_dir = demo["daily_html"].parent
    params = json.loads((daily_dir / "params.json").read_text())["resolved"]
    data = Path(params["source_dir"])
    cpu0, wall0 = time.process_time(), time.perf_counter()
    steps = daily_report_steps(data, params)
    steps["render"]["HTML export of the executed notebook"] = export_time(
        daily_dir / "report.ipynb")
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"\ndaily report over {args.days:g} days ({params['start'][:16]} .. "
          f"{params['end'][:16]}, history {params['history']}), steps in one process: "
          f"{wall:.1f} s wall, {cpu:.1f} s CPU")
    print(f"  simulate       {demo['split'].get('simulate', float('nan')):7.1f} s   "
          "(from the demo's own timing)")
    for phase, parts in steps.items():
        print(f"  {phase:<14} {sum(parts.values()):7.1f} s")
        for label, seconds in parts.items():
            print(f"      {label:<40} {seconds:6.1f} s")
    cells = cell_durations(daily_dir / "report.ipynb")
    print(f"\npapermill cell durations in the demo's daily report "
          f"(sum {sum(d for d, _ in cells):.1f} s of {demo['split'].get('daily_report', 0):.1f} s"
          f" for the whole run_report):")
    for seconds, first in cells:
        print(f"  {seconds:6.1f} s  {first}")
    runner = demo["split"].get("daily_report", 0.0) - sum(d for d, _ in cells) - steps[
        "render"]["HTML export of the executed notebook"]
    print(f"  kernel start, notebook generation, papermill and index (the rest, less the HTML "
          f"export): {runner:.1f} s")
    print(f"\nload average: {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end "
          f"({os.cpu_count()} cores)")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
