"""Every dashboard panel and alert rule shows data against a real Prometheus holding the
simulator's history (loaded the way operators backfill: promtool create-blocks-from openmetrics).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentinsight.alerts import BUDGET_SERIES
from agentinsight.stack import ProgramNotFoundError, Prometheus
from tests.unit.test_monitoring import (
    dashboard_exprs,
    grafana_to_promql,
    promql_metric_names,
    rule_exprs,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRAPE_INTERVAL = 120  # s: two samples in the rules' shortest (5m) rate window
STEP = 600  # s between evaluations of each expression over the history
#: Grafana's $__rate_interval for a 2m scrape interval is at least 4 × 2m.
RATE_INTERVAL = "10m"
START = "2026-11-02T06:00:00Z"  # a Monday: weekday traffic, deterministic incident times

#: Catalogue metrics the simulated fleet does not produce, and series this Prometheus does not
#: record, and why. Expressions that read only these are expected to be empty (strict: once the
#: simulator emits them, the marker must go).
NOT_SIMULATED: dict[str, str] = {
    "llm_unpriced_tokens_total": "every simulated model has a price",
    **{name: "budget rules are not loaded here; test_budgets_prometheus.py queries these "
             "panels against a Prometheus running them" for name in BUDGET_SERIES},
}


def split_comparison(expr: str) -> list[str]:
    """The operands of the outermost comparison of an alert expression (or the expression)."""
    depth, quote, last = 0, "", None
    i = 0
    while i < len(expr):
        c = expr[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        elif depth == 0 and expr[i:i + 2] in (">=", "<=", "==", "!="):
            last = (i, 2)
            i += 1
        elif depth == 0 and c in "<>":
            last = (i, 1)
        i += 1
    if last is None:
        return [expr]
    pos, size = last
    sides = [expr[:pos], expr[pos + size:].replace("bool", "", 1)]
    return [s.strip() for s in sides if not _is_number(s.strip())]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _params() -> list[Any]:
    cases = []
    for where, expr in rule_exprs():
        for n, side in enumerate(split_comparison(expr)):
            cases.append((f"{where} operand {n + 1}", side))
    cases += [(where, grafana_to_promql(expr.replace("$__rate_interval", RATE_INTERVAL)
                                        .replace("$__range", "1d")))
              for where, expr in dashboard_exprs()]
    out = []
    for where, expr in cases:
        names = promql_metric_names(expr)
        reasons = {NOT_SIMULATED[n] for n in names if n in NOT_SIMULATED}
        marks = ([pytest.mark.xfail(strict=True, reason="; ".join(sorted(reasons)))]
                 if names and names <= set(NOT_SIMULATED) else [])
        out.append(pytest.param(where, expr, marks=marks, id=where))
    return out


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Any]]:
    from agentinsight.simulate import simulate
    from agentinsight.stack.load import backfill_prometheus

    folder = tmp_path_factory.mktemp("history")
    # 1.2 days: the token burn rule compares with the same hour a day earlier.
    result = simulate(folder / "sim", days=1.2, start=START, scrape_interval=SCRAPE_INTERVAL,
                      agents=4, seed=1)
    try:
        backfill_prometheus(result.metrics_path, folder / "tsdb")
        server = Prometheus(data_dir=folder / "tsdb").start()
    except ProgramNotFoundError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: a missing server program is a failure)")
        pytest.skip(str(exc))
    yield server, result
    server.stop()


def query_range(server: Prometheus, result: Any, expr: str) -> list[dict[str, Any]]:
    body = server.api("/api/v1/query_range", query=expr, start=result.truth["start"],
                      end=result.truth["end"], step=STEP)
    assert body["status"] == "success", body
    return body["data"]["result"]


@pytest.mark.parametrize(("where", "expr"), _params())
def test_expression_returns_data_over_the_simulated_history(
    history: tuple[Prometheus, Any], where: str, expr: str
) -> None:
    server, result = history
    series = query_range(server, result, expr)
    finite = [float(v) for s in series for _, v in s["values"] if math.isfinite(float(v))]
    assert finite, f"{where}: no data for {expr!r} (series returned: {len(series)})"


#: Which rule each simulated incident should set off, and on which label.
EXPECTED_FIRING = {
    "error_burst": [("AgentHighFailureRate", "agent")],
    "runaway_loop": [("AgentPerformanceDegradation", "agent"), ("TokenBurnRateHigh", "agent")],
    "prompt_bloat": [("TokenBurnRateHigh", "agent")],
    "queue_backlog": [("TaskQueueBacklog", "queue"), ("DatabaseConnectionsExhausted", "database")],
}
SLACK = 3600  # s after an incident's end during which its alerts may still be firing


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def firing_periods(server: Prometheus, result: Any) -> dict[str, list[tuple[dict, float, float]]]:
    """Per alert: (labels, first, last) of every stretch where the expression held for `for`."""
    doc = yaml.safe_load((ROOT / "monitoring" / "alerts.rules.yml").read_text())
    periods: dict[str, list[tuple[dict, float, float]]] = {}
    for rule in (r for g in doc["groups"] for r in g["rules"]):
        body = server.api("/api/v1/query_range", query=rule["expr"], start=result.truth["start"],
                          end=result.truth["end"], step=SCRAPE_INTERVAL)
        hold = _seconds(rule["for"])
        found = []
        for series in body["data"]["result"]:
            stamps = [float(t) for t, _ in series["values"]]
            first = prev = stamps[0]
            for t in [*stamps[1:], math.inf]:
                if t - prev > SCRAPE_INTERVAL:
                    if prev - first >= hold:
                        found.append((series["metric"], first + hold, prev))
                    first = t
                prev = t
        periods[rule["alert"]] = found
    return periods


def test_rules_fire_on_the_simulated_incidents_and_only_then(
    history: tuple[Prometheus, Any],
) -> None:
    server, result = history
    periods = firing_periods(server, result)
    windows = [(_epoch(i["start"]), _epoch(i["end"]) + SLACK, i) for i in result.incidents]
    for incident in result.incidents:
        for alert, label in EXPECTED_FIRING.get(incident["kind"], []):
            start, end = _epoch(incident["start"]), _epoch(incident["end"]) + SLACK
            hits = [p for p in periods[alert] if p[1] <= end and p[2] >= start
                    and p[0].get(label) == incident["labels"][label]]
            assert hits, (f"{alert} did not fire for the {incident['kind']} incident "
                          f"({incident['labels']}, {incident['start']}–{incident['end']})")
    for alert, found in periods.items():
        for labels, first, last in found:
            assert any(first <= w_end and last >= w_start for w_start, w_end, _ in windows), (
                f"{alert} fired outside every incident: {labels} "
                f"{datetime.fromtimestamp(first)}–{datetime.fromtimestamp(last)}")
