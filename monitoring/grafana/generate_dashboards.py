"""Write the Grafana dashboards in ``dashboards/``: ``python generate_dashboards.py``.

The dashboards are generated so that every panel follows the same conventions: the Prometheus
datasource by uid, ``$__rate_interval`` windows, exemplars on every latency panel, token totals
that sum only ``token_type=~"input|output"`` (input already counts cache reads and writes,
output counts reasoning), and only metric names from ``agentinsight/catalog.py``. Edit this file
and regenerate rather than editing the JSON; a test checks that the JSON is up to date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PROM = {"type": "prometheus", "uid": "prometheus"}
RI = "$__rate_interval"
IO = 'token_type=~"input|output"'
OUT = Path(__file__).resolve().parent / "dashboards"


def q(expr: str, legend: str = "", exemplar: bool = False) -> dict[str, Any]:
    return {"expr": expr, "legendFormat": legend or "__auto", "exemplar": exemplar}


def sel(*matchers: str) -> str:
    inner = ",".join(m for m in matchers if m)
    return f"{{{inner}}}" if inner else ""


def p95(metric: str, by: str, match: str = "") -> str:
    return (f"histogram_quantile(0.95, sum by ({by}, le) "
            f"(rate({metric}_bucket{sel(match)}[{RI}])))")


def ratio(metric: str, by: str, bad: str, match: str = "") -> str:
    # "or ... * 0": a group with traffic but no bad series yet reads 0, not "No data".
    group = f"sum by ({by})" if by else "sum"
    total = f"{group} (rate({metric}{sel(match)}[{RI}]))"
    return f"({group} (rate({metric}{sel(match, bad)}[{RI}])) or {total} * 0) / {total}"


class Board:
    """Lays panels out on Grafana's 24-column grid, left to right, top to bottom."""

    def __init__(self, uid: str, title: str, description: str, variables: list[dict]) -> None:
        self.uid, self.title, self.description = uid, title, description
        self.variables = variables
        self.panels: list[dict[str, Any]] = []
        self.x = self.y = self.row_h = 0

    def _place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def panel(self, kind: str, title: str, targets: list[dict], *, unit: str = "short",
              description: str = "", w: int = 12, h: int = 8, stack: bool = False) -> None:
        defaults: dict[str, Any] = {"unit": unit}
        if kind == "timeseries":
            defaults["custom"] = {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                                  "showPoints": "never",
                                  "stacking": {"mode": "normal" if stack else "none"}}
        options: dict[str, Any] = (
            {"legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
             "tooltip": {"mode": "multi", "sort": "desc"}}
            if kind == "timeseries" else
            {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
             "colorMode": "value", "graphMode": "area", "textMode": "auto"}
        )
        self.panels.append({
            "id": len(self.panels) + 1,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": PROM,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options,
            "targets": [
                {"refId": chr(ord("A") + i), "datasource": PROM, "range": True,
                 "instant": False, "editorMode": "code", **t}
                for i, t in enumerate(targets)
            ],
        })

    def stat(self, title: str, expr: str, unit: str = "short", description: str = "") -> None:
        self.panel("stat", title, [q(expr)], unit=unit, description=description, w=4, h=4)

    def doc(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": ["agentinsight"],
            "timezone": "utc",
            "editable": True,
            "graphTooltip": 1,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m", "1h"]},
            "schemaVersion": 39,
            "version": 1,
            "links": [
                {"type": "dashboards", "tags": ["agentinsight"], "asDropdown": True,
                 "title": "agentinsight", "includeVars": True, "keepTime": True},
            ],
            "annotations": {"list": [{
                "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                "name": "Annotations & Alerts", "type": "dashboard",
            }]},
            "templating": {"list": self.variables},
            "panels": self.panels,
        }


def var(name: str, query: str, label: str) -> dict[str, Any]:
    return {
        "name": name, "label": label, "type": "query", "datasource": PROM,
        "query": {"query": query, "refId": f"{name}-values"}, "definition": query,
        "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1,
    }


AGENT = var("agent", "label_values(agent_execution_total, agent)", "Agent")
MODEL = var("model", "label_values(llm_tokens_used_total, model)", "Model")
TASK = var("task_type", "label_values(task_total, task_type)", "Task type")
A = 'agent=~"$agent"'
M = 'model=~"$model"'
T = 'task_type=~"$task_type"'


def overview() -> Board:
    b = Board("agentinsight-overview", "agentinsight / System overview",
              "The fleet at a glance: runs, errors, latency, tokens, queues.", [AGENT])
    b.stat("Agent runs / s", f"sum(rate(agent_execution_total{{{A}}}[{RI}]))", "reqps")
    b.stat("Run error ratio", ratio("agent_execution_total", "", 'status="error"', A),
           "percentunit")
    b.stat("Runs in progress", f"sum(agent_active{{{A}}})")
    b.stat("Tokens / min (input + output)",
           f"sum(rate(llm_tokens_used_total{{{A},{IO}}}[{RI}])) * 60",
           description="Input already counts cache reads and writes; output counts reasoning.")
    b.stat("Queued tasks", "sum(task_queue_size)")
    b.stat("API 5xx ratio",
           ratio("api_request_duration_seconds_count", "", 'status_code=~"5.."'), "percentunit")
    b.panel("timeseries", "Runs by agent and status",
            [q(f"sum by (agent, status) (rate(agent_execution_total{{{A}}}[{RI}]))",
               "{{agent}} {{status}}")], unit="reqps", stack=True)
    b.panel("timeseries", "p95 run time by agent",
            [q(p95("agent_execution_duration_seconds", "agent", A), "{{agent}}", exemplar=True)],
            unit="s", description="Exemplar dots link to the trace of a run in Jaeger.")
    b.panel("timeseries", "LLM requests by model",
            [q(f"sum by (provider, model) (rate(llm_request_duration_seconds_count[{RI}]))",
               "{{provider}}/{{model}}")], unit="reqps", stack=True)
    b.panel("timeseries", "Tool calls by tool and status",
            [q(f"sum by (tool, status) (rate(tool_usage_total{{{A}}}[{RI}]))",
               "{{tool}} {{status}}")], unit="reqps", stack=True)
    return b


def agents() -> Board:
    b = Board("agentinsight-agents", "agentinsight / Agent performance",
              "Latency and errors per agent, and of the LLM calls and tools they use.",
              [AGENT, MODEL])
    b.panel("timeseries", "Run time percentiles by agent", [
        q(f"histogram_quantile(0.5, sum by (agent, le) (rate("
          f"agent_execution_duration_seconds_bucket{{{A}}}[{RI}])))", "p50 {{agent}}"),
        q(p95("agent_execution_duration_seconds", "agent", A), "p95 {{agent}}", exemplar=True),
        q(f"histogram_quantile(0.99, sum by (agent, le) (rate("
          f"agent_execution_duration_seconds_bucket{{{A}}}[{RI}])))", "p99 {{agent}}"),
    ], unit="s", description="Exemplar dots link to the trace of a run in Jaeger.")
    b.panel("timeseries", "Run error ratio by agent",
            [q(ratio("agent_execution_total", "agent", 'status="error"', A), "{{agent}}")],
            unit="percentunit")
    b.panel("timeseries", "Runs in progress by agent",
            [q(f"sum by (agent) (agent_active{{{A}}})", "{{agent}}")], stack=True)
    b.panel("timeseries", "p95 tool call time by tool",
            [q(p95("tool_execution_duration_seconds", "tool"), "{{tool}}", exemplar=True)],
            unit="s")
    b.panel("timeseries", "Tool error ratio by tool",
            [q(ratio("tool_usage_total", "tool", 'status="error"', A), "{{tool}}")],
            unit="percentunit")
    b.panel("timeseries", "p95 LLM request time by model",
            [q(p95("llm_request_duration_seconds", "provider, model", M),
               "{{provider}}/{{model}}", exemplar=True)], unit="s")
    b.panel("timeseries", "LLM request error ratio by model",
            [q(ratio("llm_request_duration_seconds_count", "provider, model", 'status="error"',
                     M), "{{provider}}/{{model}}")], unit="percentunit")
    b.panel("timeseries", "p95 GenAI operation time (OpenTelemetry GenAI metric)",
            [q(p95("gen_ai_client_operation_duration_seconds",
                   "gen_ai_operation_name, gen_ai_request_model"),
               "{{gen_ai_operation_name}} {{gen_ai_request_model}}", exemplar=True)], unit="s")
    b.panel("timeseries", "Mean agent-memory operation time",
            [q(f"sum by (operation) (rate(memory_operation_duration_seconds_sum[{RI}])) / "
               f"sum by (operation) (rate(memory_operation_duration_seconds_count[{RI}]))",
               "{{operation}}")], unit="s", w=24)
    return b


def tasks() -> Board:
    b = Board("agentinsight-tasks", "agentinsight / Task processing",
              "Task throughput, failures, duration and queues.", [TASK])
    b.panel("timeseries", "Tasks completed by type and status",
            [q(f"sum by (task_type, status) (rate(task_total{{{T}}}[{RI}]))",
               "{{task_type}} {{status}}")], unit="reqps", stack=True)
    b.panel("timeseries", "Task failure ratio by type",
            [q(ratio("task_total", "task_type", 'status="error"', T), "{{task_type}}")],
            unit="percentunit")
    b.panel("timeseries", "Task duration p50 / p95 by type", [
        q(f"histogram_quantile(0.5, sum by (task_type, le) (rate("
          f"task_duration_seconds_bucket{{{T}}}[{RI}])))", "p50 {{task_type}}"),
        q(p95("task_duration_seconds", "task_type", T), "p95 {{task_type}}", exemplar=True),
    ], unit="s", description="Exemplar dots link to the trace of a task in Jaeger.")
    b.panel("timeseries", "Queued tasks by queue",
            [q("sum by (queue) (task_queue_size)", "{{queue}}")])
    b.panel("timeseries", "Completed tasks / min (all types)",
            [q(f"sum(rate(task_total{{{T}}}[{RI}])) * 60", "completed")], w=24)
    return b


def tokens() -> Board:
    b = Board("agentinsight-tokens", "agentinsight / Token usage and cost",
              "LLM tokens by agent, model and type. Totals count input + output only: input "
              "already includes cache reads and writes, output includes reasoning. Spend comes "
              "from the opt-in cost counter llm_cost_usd_total (emit.configure(cost=True)), "
              "each call priced at the rate in force that day, so history survives price "
              "changes; budget panels read the rules `agentinsight alerts budgets` writes.",
              [AGENT, MODEL])
    b.stat("Spend in range", f"sum(increase(llm_cost_usd_total{{{A},{M}}}[$__range]))",
           "currencyUSD", "Every token type: each is the part billed at its own rate.")
    b.stat("Spend / hour", f"sum(rate(llm_cost_usd_total{{{A},{M}}}[{RI}])) * 3600",
           "currencyUSD")
    b.stat("Unpriced tokens in range",
           f"sum(increase(llm_unpriced_tokens_total{{{A},{M}}}[$__range]))", "short",
           "Tokens of models or token types without a price: counted here, never as $0.")
    b.stat("Tokens in range (input + output)",
           f"sum(increase(llm_tokens_used_total{{{A},{M},{IO}}}[$__range]))")
    b.stat("LLM calls in range",
           f"sum(increase(llm_request_duration_seconds_count{{{M}}}[$__range]))")
    b.stat("Cache-read share of input",
           f'sum(rate(llm_tokens_used_total{{{A},{M},token_type="cache_read"}}[{RI}])) / '
           f'sum(rate(llm_tokens_used_total{{{A},{M},token_type="input"}}[{RI}]))',
           "percentunit", "Cached input is billed at a discount by most providers.")
    b.stat("Reasoning share of output",
           f'sum(rate(llm_tokens_used_total{{{A},{M},token_type="reasoning"}}[{RI}])) / '
           f'sum(rate(llm_tokens_used_total{{{A},{M},token_type="output"}}[{RI}]))',
           "percentunit")
    b.stat("Tokens / min", f"sum(rate(llm_tokens_used_total{{{A},{M},{IO}}}[{RI}])) * 60")
    b.stat("Tokens per call",
           f"sum(rate(llm_tokens_used_total{{{A},{M},{IO}}}[{RI}])) / "
           f"sum(rate(llm_request_duration_seconds_count{{{M}}}[{RI}]))")
    b.panel("timeseries", "Tokens / s by type",
            [q(f"sum by (token_type) (rate(llm_tokens_used_total{{{A},{M}}}[{RI}]))",
               "{{token_type}}")],
            description="cache_read and cache_write are parts of input, reasoning is part of "
                        "output: do not add the lines up.")
    b.panel("timeseries", "Tokens / s by agent (input + output)",
            [q(f"sum by (agent) (rate(llm_tokens_used_total{{{A},{M},{IO}}}[{RI}]))",
               "{{agent}}")], stack=True)
    b.panel("timeseries", "Tokens / s by model (input + output)",
            [q(f"sum by (provider, model) (rate(llm_tokens_used_total{{{A},{M},{IO}}}[{RI}]))",
               "{{provider}}/{{model}}")], stack=True)
    b.panel("timeseries", "Tokens per call by model",
            [q(f"sum by (provider, model) (rate(llm_tokens_used_total{{{M},{IO}}}[{RI}])) / "
               f"sum by (provider, model) (rate(llm_request_duration_seconds_count{{{M}}}"
               f"[{RI}]))", "{{provider}}/{{model}}")])
    b.panel("timeseries", "p95 tokens per operation (OpenTelemetry GenAI metric)",
            [q(p95("gen_ai_client_token_usage", "gen_ai_request_model, gen_ai_token_type"),
               "{{gen_ai_request_model}} {{gen_ai_token_type}}")], w=24)
    b.panel("timeseries", "Spend / hour by agent",
            [q(f"sum by (agent) (rate(llm_cost_usd_total{{{A},{M}}}[{RI}])) * 3600",
               "{{agent}}")], unit="currencyUSD", stack=True)
    b.panel("timeseries", "Spend / hour by model",
            [q(f"sum by (provider, model) (rate(llm_cost_usd_total{{{A},{M}}}[{RI}])) * 3600",
               "{{provider}}/{{model}}")], unit="currencyUSD", stack=True)
    b.panel("timeseries", "Budget burn rate (last hour)",
            [q("budget:llm_cost_usd:burn_rate1h", "{{budget}}")],
            description="Spend rate over the rate that uses up exactly the budget in its period "
                        "(1 = on course). LLMBudgetFastBurn pages when the last hour and the "
                        "last 5 minutes are both above the budget's fast_burn (14.4 by "
                        "default); LLMBudgetSlowBurn tickets on 6 hours and 30 minutes above "
                        "slow_burn (6).")
    b.panel("timeseries", "Projected period-end spend / budget",
            [q("budget:llm_cost_usd:projected / budget:llm_cost_usd:amount", "{{budget}}")],
            unit="percentunit",
            description="Spent so far plus the last day's pace over what is left of the "
                        "period, as a share of the budget; LLMBudgetProjectedOverspend "
                        "tickets above 100 %.")
    return b


def resources() -> Board:
    b = Board("agentinsight-resources", "agentinsight / Resource usage",
              "What the agents hold and wait on: database connections, queues, runs in "
              "progress, and the API they serve.", [])
    b.panel("timeseries", "Database connections by state",
            [q("sum by (database, state) (database_connections)", "{{database}} {{state}}")],
            stack=True)
    b.panel("timeseries", "Active share of database connections",
            [q('sum by (database) (database_connections{state="active"}) / '
               "sum by (database) (database_connections)", "{{database}}")],
            unit="percentunit")
    b.panel("timeseries", "Queued tasks by queue",
            [q("sum by (queue) (task_queue_size)", "{{queue}}")])
    b.panel("timeseries", "Agent runs in progress",
            [q("sum by (agent) (agent_active)", "{{agent}}")], stack=True)
    b.panel("timeseries", "API requests by route and status",
            [q(f"sum by (route, status_code) (rate(api_request_duration_seconds_count[{RI}]))",
               "{{route}} {{status_code}}")], unit="reqps", stack=True)
    b.panel("timeseries", "p95 API latency by route",
            [q(p95("api_request_duration_seconds", "route"), "{{route}}", exemplar=True)],
            unit="s")
    b.panel("timeseries", "API 5xx ratio by route",
            [q(ratio("api_request_duration_seconds_count", "route", 'status_code=~"5.."'),
               "{{route}}")], unit="percentunit", w=24)
    return b


BOARDS = {
    "system-overview.json": overview,
    "agent-performance.json": agents,
    "task-processing.json": tasks,
    "token-usage-and-cost.json": tokens,
    "resource-usage.json": resources,
}


def render() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {name: json.dumps(make().doc(), indent=2) + "\n" for name, make in BOARDS.items()}


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, text in render().items():
        (OUT / name).write_text(text, encoding="utf-8")
        print(f"wrote {OUT / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
