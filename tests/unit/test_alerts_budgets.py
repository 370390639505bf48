"""Budgets file → Prometheus rules: validation, and promtool unit tests of every rule shape."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentinsight import alerts
from agentinsight.cli import main as cli_main
from agentinsight.exceptions import ConfigurationError
from tests.unit.test_monitoring import run

ROOT = Path(__file__).resolve().parents[2]

# allowance = amount / period = 0.01 USD per minute for each of these, so a counter growing by
# c USD a minute burns at 100 c (promtool's clock starts on 1970-01-01: January, 31 days).
MONTH_AMOUNT = 0.01 * 31 * 1440   # 446.4
WEEK_AMOUNT = 0.01 * 7 * 1440     # 100.8
BUDGETS = {"budgets": [
    {"name": "coder", "agent": "coder", "amount": MONTH_AMOUNT, "period": "monthly"},
    {"name": "planner", "agent": "planner", "amount": MONTH_AMOUNT, "period": "monthly"},
    {"name": "gpt-4o-week", "model": "gpt-4o", "labels": {"team": "search"},
     "amount": WEEK_AMOUNT, "period": "7d"},
]}


def cost(labels: str, values: str) -> dict[str, str]:
    return {"series": f"llm_cost_usd_total{{{labels},provider=\"openai\",token_type=\"input\"}}",
            "values": values}


def rule(doc: dict[str, Any], budget: str, alert: str) -> dict[str, Any]:
    return next(r for g in doc["groups"] for r in g["rules"]
                if r.get("alert") == alert and r["labels"]["budget"] == budget)


def expected(doc: dict[str, Any], budget: str, alert: str, value: float) -> dict[str, Any]:
    """The alert promtool must see: the rule's labels, its annotations rendered for ``value``."""
    r = rule(doc, budget, alert)

    def render(text: str) -> str:
        text = re.sub(r'\{\{ \$value \| printf "%\.(\d)f" \}\}',
                      lambda m: f"{value:.{m.group(1)}f}", text)
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: r["labels"][m.group(1)], text)

    return {"exp_labels": {"alertname": alert, **r["labels"]},
            "exp_annotations": {k: render(v) for k, v in r["annotations"].items()}}


def run_promtool_tests(tmp_path: Path, doc: dict[str, Any], tests: list[dict[str, Any]],
                       evaluation_interval: str = "1m") -> str:
    rules = alerts.write_budget_rules(doc, tmp_path / "budgets.rules.yml")
    path = tmp_path / "budgets.rules.test.yml"
    path.write_text(yaml.safe_dump({"rule_files": [rules.name],
                                    "evaluation_interval": evaluation_interval,
                                    "tests": tests}, sort_keys=False))
    return run("promtool", "test", "rules", path.name, cwd=tmp_path)


def test_generated_rules_pass_promtool_check() -> None:
    out = alerts.write_budget_rules(ROOT / "deploy" / "budgets.yaml",
                                    Path(pytest.importorskip("tempfile").mkdtemp()) / "b.yml")
    text = run("promtool", "check", "rules", out, cwd=out.parent)
    assert f"SUCCESS: {3 * 13} rules found" in text


def test_burn_rate_alerts_fire_fast_and_slow_and_stay_silent_under_budget(
    tmp_path: Path,
) -> None:
    doc = alerts.rules_from_budgets(BUDGETS)
    calm = cost('agent="planner",model="gpt-4o-mini"', "0+0.005x600")    # burn 0.5
    tests = [
        # coder burns 20x its allowance: a page after an hour, no ticket (6h burn ~3.6 at 65m)
        {"interval": "1m",
         "input_series": [cost('agent="coder",model="o3"', "0+0.2x120"), calm],
         "alert_rule_test": [
             {"eval_time": "30m", "alertname": "LLMBudgetFastBurn", "exp_alerts": []},
             {"eval_time": "65m", "alertname": "LLMBudgetFastBurn",
              "exp_alerts": [expected(doc, "coder", "LLMBudgetFastBurn", 20.0)]},
             {"eval_time": "65m", "alertname": "LLMBudgetSlowBurn", "exp_alerts": []},
         ]},
        # coder burns 8x for 7 hours: a ticket, never a page; planner stays quiet throughout
        {"interval": "1m",
         "input_series": [cost('agent="coder",model="o3"', "0+0.08x480"), calm],
         "alert_rule_test": [
             {"eval_time": "3h", "alertname": "LLMBudgetSlowBurn", "exp_alerts": []},
             {"eval_time": "7h", "alertname": "LLMBudgetSlowBurn",
              "exp_alerts": [expected(doc, "coder", "LLMBudgetSlowBurn", 8.0)]},
             {"eval_time": "7h", "alertname": "LLMBudgetFastBurn", "exp_alerts": []},
         ]},
        # the same spike stops: the 5m window resets the page within minutes, not an hour
        {"interval": "1m",
         "input_series": [cost('agent="coder",model="o3"', "0+0.2x70 14x30"), calm],
         "alert_rule_test": [
             {"eval_time": "70m", "alertname": "LLMBudgetFastBurn",
              "exp_alerts": [expected(doc, "coder", "LLMBudgetFastBurn", 20.0)]},
             {"eval_time": "80m", "alertname": "LLMBudgetFastBurn", "exp_alerts": []},
         ]},
        # rolling 7-day budget on a model, for a team: fast burn 15x pages
        {"interval": "1m",
         "input_series": [cost('agent="researcher",model="gpt-4o",team="search"', "0+0.15x120"),
                          cost('agent="researcher",model="gpt-4o",team="other"', "0+1x120"),
                          calm],
         "alert_rule_test": [
             {"eval_time": "65m", "alertname": "LLMBudgetFastBurn",
              "exp_alerts": [expected(doc, "gpt-4o-week", "LLMBudgetFastBurn", 15.0)]},
         ]},
        # rolling 7-day budget burning 8x for 7 hours: a ticket
        {"interval": "1m",
         "input_series": [cost('agent="researcher",model="gpt-4o",team="search"',
                               "0+0.08x480")],
         "alert_rule_test": [
             {"eval_time": "7h", "alertname": "LLMBudgetSlowBurn",
              "exp_alerts": [expected(doc, "gpt-4o-week", "LLMBudgetSlowBurn", 8.0)]},
         ]},
    ]
    out = run_promtool_tests(tmp_path, doc, tests)
    assert "SUCCESS" in out


def test_projected_overspend_fires_when_the_pace_of_the_last_day_overshoots(
    tmp_path: Path,
) -> None:
    doc = alerts.rules_from_budgets(BUDGETS)
    # coder spends 1.5x its monthly pace (0.015 USD/min): far from a burn alert, but 26 hours
    # in, spent + the last day's rate over the 29.9 days left is ~670 USD > 446.4 USD.
    # planner spends half its pace: projected ~230 USD, under budget.
    monthly_over = 23.4 + 0.015 * 1440 * (31 * 1440 - 26 * 60) / 1440
    # the week's budget: 0.02 USD/min is 201.6 USD a week against 100.8
    tests = [
        {"interval": "1m",
         "input_series": [cost('agent="coder",model="o3"', "0+0.015x1600"),
                          cost('agent="planner",model="gpt-4o-mini"', "0+0.005x1600"),
                          cost('agent="researcher",model="gpt-4o",team="search"',
                               "0+0.02x1600")],
         "alert_rule_test": [
             {"eval_time": "10h", "alertname": "LLMBudgetProjectedOverspend",
              "exp_alerts": []},
             {"eval_time": "26h", "alertname": "LLMBudgetProjectedOverspend",
              "exp_alerts": [
                  expected(doc, "coder", "LLMBudgetProjectedOverspend", monthly_over),
                  expected(doc, "gpt-4o-week", "LLMBudgetProjectedOverspend", 201.6)]},
             {"eval_time": "26h", "alertname": "LLMBudgetSlowBurn", "exp_alerts": []},
         ]},
    ]
    out = run_promtool_tests(tmp_path, doc, tests, evaluation_interval="5m")
    assert "SUCCESS" in out


def test_spent_so_far_restarts_on_the_first_of_the_month(tmp_path: Path) -> None:
    doc = alerts.rules_from_budgets({"budgets": [b for b in BUDGETS["budgets"]
                                                 if b["name"] != "planner"]})
    # The recorded daily and hourly rates of two budgets, 0.001 USD/s (86.4 USD a day, 3.6 USD
    # an hour), every hour from 30 Jan 00:00 to 2 Feb 03:00; the rules that record them have no
    # counter to read here.
    monthly = 'budget="coder",period="monthly",agent="coder"'
    rolling = 'budget="gpt-4o-week",period="7d",model="gpt-4o",team="search"'
    tests = [{
        "interval": "1h",
        "input_series": [
            {"series": f"budget:llm_cost_usd:{rate}{{{labels}}}", "values": "_x696 0.001x75"}
            for rate in ("rate1d", "rate1h") for labels in (monthly, rolling)
        ],
        "promql_expr_test": [
            {"expr": "round(budget:llm_cost_usd:spent, 0.01)", "eval_time": when,
             "exp_samples": [{"labels": f"{{{monthly}}}", "value": round(m, 2)},
                             {"labels": f"{{{rolling}}}", "value": round(r, 2)}]}
            for when, m, r in [
                # 31 Jan 23:00: the days ending 30 and 31 Jan 00:00 and 23 hours of the 31st;
                # the rolling week: 48 hours
                ("743h", 2 * 86.4 + 23 * 3.6, 48 * 3.6),
                # 1 Feb 02:00: February's two hours only (the day and the hour ending at 00:00
                # were January's); the rolling week: 51 hours
                ("746h", 2 * 3.6, 51 * 3.6),
                # 2 Feb 03:00: 1 Feb and three hours of the 2nd
                ("771h", 86.4 + 3 * 3.6, 76 * 3.6),
            ]
        ],
    }]
    out = run_promtool_tests(tmp_path, doc, tests, evaluation_interval="1h")
    assert "SUCCESS" in out


# --- the budgets file ---------------------------------------------------------------------------


def test_the_example_budgets_file_loads() -> None:
    budgets = alerts.load_budgets(ROOT / "deploy" / "budgets.yaml")
    assert {b.name: (b.period, dict(b.selectors)) for b in budgets} == {
        "coder": ("monthly", {"agent": "coder"}),
        "team-support": ("monthly", {"team": "support"}),
        "gpt-4o-weekly": ("7d", {"provider": "openai", "model": "gpt-4o"}),
    }
    assert [b.fast_burn for b in budgets] == [14.4, 14.4, 10.0]


@pytest.mark.parametrize(("text", "message"), [
    ("budgets: []", "budgets.yaml: budgets: expected a non-empty list"),
    ("currency: EUR\nbudgets: [{name: a, agent: a, amount: 1}]",
     "budgets.yaml: currency: only USD is supported"),
    ("budgets: [{name: a, agent: a, amount: -5}]",
     "budgets.yaml: budgets[0] (a).amount: expected a positive number of USD, got -5"),
    ("budgets: [{name: a, agent: a, amount: 5, period: 2w}]",
     "budgets.yaml: budgets[0] (a).period: expected 'monthly' or a rolling '<N>d'"),
    ("budgets: [{name: a, agent: a, amount: 5}, {name: a, model: m, amount: 5}]",
     "budgets.yaml: budgets[1].name: 'a' is used twice"),
    ("budgets: [{name: a, amount: 5}]", "budgets.yaml: budgets[0] (a): name at least one of"),
    ("budgets: [{name: a, agent: a, amount: 5, fast_burn: 0}]",
     "budgets.yaml: budgets[0] (a).fast_burn: expected a positive number"),
    ("budgets: [{name: a, agnet: a, amount: 5}]",
     "budgets.yaml: budgets[0]: unknown key(s) ['agnet']"),
    ("budgets: [{name: a, agent: a, amount: 5, projection_for: soon}]",
     "budgets.yaml: budgets[0] (a).projection_for: expected a duration"),
    ("budgets: [{name: a, agent: a", "budgets.yaml: not valid YAML"),
])
def test_a_bad_budgets_file_is_refused_naming_the_file_and_key(
    tmp_path: Path, text: str, message: str,
) -> None:
    path = tmp_path / "budgets.yaml"
    path.write_text(text)
    with pytest.raises(ConfigurationError) as err:
        alerts.load_budgets(path)
    assert str(err.value).startswith(f"{path.parent}/{message}"), str(err.value)


def test_the_command_writes_the_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "budgets.yml"
    code = cli_main(["alerts", "budgets", "--budgets", str(ROOT / "deploy" / "budgets.yaml"),
                     "--out", str(out), "--namespace", "shop"])
    assert code == 0 and f"wrote {out}" in capsys.readouterr().out
    doc = yaml.safe_load(out.read_text())
    exprs = [r["expr"] for g in doc["groups"] for r in g["rules"]]
    assert 'sum(rate(shop_llm_cost_usd_total{agent="coder"}[1h]))' in exprs
    names = {r.get("record") or r.get("alert") for g in doc["groups"] for r in g["rules"]}
    assert names == set(alerts.BUDGET_SERIES) | set(alerts.BUDGET_ALERTS)
