"""Hostile budgets files: values that would break PromQL, YAML or alert templates stay data."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agentinsight import alerts
from agentinsight.exceptions import ConfigurationError
from tests.unit.test_monitoring import run

HOSTILE = 'x"} or vector(1) # {{ printf "%s" 1 }}\n\\'


def test_label_values_are_escaped_in_promql_and_never_read_as_templates(tmp_path: Path) -> None:
    path = alerts.write_budget_rules(
        {"budgets": [{"name": "team-x", "labels": {"team": HOSTILE}, "amount": 10,
                      "period": "monthly"}]},
        tmp_path / "budgets.rules.yml")
    assert "SUCCESS: 13 rules found" in run("promtool", "check", "rules", path, cwd=tmp_path)
    doc = yaml.safe_load(path.read_text())
    rules = doc["groups"][0]["rules"]
    assert rules[0]["expr"] == (
        'sum(rate(llm_cost_usd_total{team="x\\"} or vector(1) # {{ printf \\"%s\\" 1 }}'
        '\\n\\\\"}[5m]))')
    for rule in rules:
        assert rule["labels"]["team"] == HOSTILE
        for text in rule.get("annotations", {}).values():
            assert HOSTILE not in text and "printf \"%s\"" not in text


@pytest.mark.parametrize("key", ["severity", "alertname", "budget", "__name__", "bad-name"])
def test_a_label_the_rules_set_themselves_or_an_invalid_one_is_refused(key: str) -> None:
    with pytest.raises(ConfigurationError, match="not a usable label name"):
        alerts.load_budgets({"budgets": [{"name": "a", "labels": {key: "v"}, "amount": 1}]})


def test_a_budget_name_cannot_carry_markup_or_paths() -> None:
    for name in ("../etc", "{{ x }}", "a b", "", "x" * 101):
        with pytest.raises(ConfigurationError, match=r"budgets\[0\]\.name"):
            alerts.load_budgets({"budgets": [{"name": name, "agent": "a", "amount": 1}]})


def test_an_oversized_label_value_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"\.agent: expected a non-empty string of at"):
        alerts.load_budgets({"budgets": [{"name": "a", "agent": "x" * 201, "amount": 1}]})
