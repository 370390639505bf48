"""Budgets end to end: the simulator's runaway loop, priced by the cost counter, blows a budget;
the generated rules, evaluated by a real Prometheus, page through a real Alertmanager.

Prometheus evaluates rules only at the present moment, so the simulated history is moved in time
(its cost counter only: the rules read nothing else) to end 35 minutes into the runaway loop,
now, and backfilled with promtool the way operators load history.
"""

from __future__ import annotations

import calendar
import os
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agentinsight import alerts
from agentinsight.stack import Alertmanager, ProgramNotFoundError, Prometheus
from tests.integration.test_alerts_alertmanager import Webhook, am_config
from tests.unit.test_monitoring import dashboard_exprs, grafana_to_promql, promql_metric_names

pytestmark = pytest.mark.integration

START = "2026-11-01T22:00:00Z"   # Sunday night: the incidents fall in Monday's working hours
INTO_THE_LOOP = 35 * 60           # s: how far into the runaway loop "now" is
#: Page at 3x the agent's usual pace. The simulated loop roughly doubles the agent's spend at
#: the busiest hours of the day (its burn over the last hour is about 4.2 at "now"), so the
#: workbook's 14.4 would not page here; the calm agents burn at about 1.5.
FAST_BURN = 3


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def cost_history_ending_now(metrics_om: Path, out: Path, cutoff: float) -> dict[str, float]:
    """Write the cost counter's samples up to ``cutoff``, moved so that ``cutoff`` is now, as
    OpenMetrics; return each agent's average spend rate (USD/s) before the cutoff."""
    shift = int(time.time()) - int(cutoff)
    first: dict[str, tuple[float, float]] = {}
    last: dict[str, float] = {}
    spend: dict[str, float] = defaultdict(float)
    with open(metrics_om, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        inside = False
        for line in src:
            if line.startswith("# TYPE "):
                inside = line.split()[2] == "llm_cost_usd"
            if not inside:
                continue
            if line.startswith("#"):
                dst.write(line)
                continue
            series, value, stamp = line.split(" # ", 1)[0].rsplit(" ", 2)
            t = float(stamp)
            if t > cutoff:
                continue
            dst.write(f"{series} {value} {int(t) + shift}\n")
            first.setdefault(series, (t, float(value)))
            last[series] = float(value)
        dst.write("# EOF\n")
    for series, value_at_cutoff in last.items():
        agent = series.split('agent="', 1)[1].split('"', 1)[0]
        spend[agent] += value_at_cutoff - first[series][1]
    span = cutoff - min(t for t, _ in first.values())
    return {agent: total / span for agent, total in spend.items()}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    from agentinsight.simulate import simulate
    from agentinsight.stack.load import backfill_prometheus

    folder = tmp_path_factory.mktemp("budgets")
    result = simulate(folder / "sim", days=1.2, start=START, scrape_interval=60, agents=3, seed=1)
    loop = next(i for i in result.incidents if i["kind"] == "runaway_loop")
    cutoff = _epoch(loop["start"]) + INTO_THE_LOOP
    assert cutoff < _epoch(loop["end"])
    pace = cost_history_ending_now(result.metrics_path, folder / "cost.om", cutoff)
    now = datetime.now(UTC)
    month_seconds = calendar.monthrange(now.year, now.month)[1] * 86400
    looping = loop["labels"]["agent"]
    calm = sorted(set(pace) - {looping})
    # Each budget is what the agent usually spends: the looping agent's over the calendar
    # month, the others' over a rolling 30 days.
    budgets = {"defaults": {"fast_burn": FAST_BURN}, "budgets": [
        {"name": looping, "agent": looping, "period": "monthly",
         "amount": round(pace[looping] * month_seconds, 2)},
        *({"name": a, "agent": a, "period": "30d", "amount": round(pace[a] * 30 * 86400, 2)}
          for a in calm),
    ]}
    rules = alerts.write_budget_rules(budgets, folder / "budgets.rules.yml")
    hook = Webhook()
    servers: list[Any] = []
    try:
        backfill_prometheus(folder / "cost.om", folder / "tsdb")
        am = Alertmanager(config_text=am_config(hook.url)).start()
        servers.append(am)
        prom = Prometheus(data_dir=folder / "tsdb", rule_files=[rules],
                          alertmanager_url=am.url, scrape_interval="1s").start()
        servers.append(prom)
    except ProgramNotFoundError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{exc} (CI=true: a missing server program is a failure)")
        pytest.skip(str(exc))
    yield {"prom": prom, "hook": hook, "looping": looping, "calm": calm}
    for server in reversed(servers):
        server.stop()
    hook.close()


def test_the_runaway_loop_pages_through_alertmanager(fleet: dict[str, Any]) -> None:
    looping = fleet["looping"]
    note = fleet["hook"].wait_for(lambda n: any(
        a["labels"]["alertname"] == "LLMBudgetFastBurn" and a["labels"]["budget"] == looping
        for a in n["alerts"]), timeout=45)
    alert = next(a for a in note["alerts"] if a["labels"]["alertname"] == "LLMBudgetFastBurn")
    assert alert["status"] == "firing"
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["agent"] == looping
    burn = float(alert["annotations"]["summary"].split(" burns ")[1].split("x")[0])
    assert burn > FAST_BURN


def test_calm_agents_do_not_page(fleet: dict[str, Any]) -> None:
    prom = fleet["prom"]
    # wait until the rules have run on the whole history: the looping agent's page is firing
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        firing = [a["labels"] for a in prom.api("/api/v1/alerts")["data"]["alerts"]
                  if a["state"] == "firing"]
        if any(a["alertname"] == "LLMBudgetFastBurn" for a in firing):
            break
        time.sleep(0.5)
    pages = {a["budget"] for a in firing if a["alertname"] == "LLMBudgetFastBurn"}
    assert pages == {fleet["looping"]}
    burn = {s["metric"]["budget"]: float(s["value"][1])
            for s in prom.query("budget:llm_cost_usd:burn_rate1h")}
    assert set(burn) == {fleet["looping"], *fleet["calm"]}
    for agent in fleet["calm"]:
        assert burn[agent] < FAST_BURN, burn
    spent = {s["metric"]["budget"]: float(s["value"][1])
             for s in prom.query("budget:llm_cost_usd:spent")}
    assert set(spent) == set(burn)


def test_the_dashboard_budget_panels_show_every_budget(fleet: dict[str, Any]) -> None:
    panels = [(where, expr) for where, expr in dashboard_exprs()
              if promql_metric_names(expr) & set(alerts.BUDGET_SERIES)]
    assert panels
    for where, expr in panels:
        series = fleet["prom"].query(grafana_to_promql(expr))
        assert {s["metric"]["budget"] for s in series} == {fleet["looping"], *fleet["calm"]}, \
            where
