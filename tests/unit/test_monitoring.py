"""The monitoring stack's files: real validators, catalogue-only queries, well-formed dashboards."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from agentinsight import catalog
from agentinsight.alerts import BUDGET_SERIES
from agentinsight.stack import ProgramNotFoundError, find_program

ROOT = Path(__file__).resolve().parents[2]
MON = ROOT / "monitoring"
DASHBOARDS = sorted((MON / "grafana" / "dashboards").glob("*.json"))
IN_CI = os.environ.get("CI") == "true"

#: Series that are not agentinsight's but may appear in queries: Prometheus' own, and the span
#: metrics Jaeger's spanmetrics connector exports (see monitoring/jaeger.yaml).
ALLOWED_FOREIGN = re.compile(
    r"^(up|scrape_duration_seconds|traces_span_metrics_(calls_total|"
    r"duration_milliseconds_(bucket|sum|count)))$"
)

# --- a small PromQL reader: which series and labels does an expression use? -------------------

_GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_NUMBER = re.compile(r"(?<![a-zA-Z0-9_:])\d+(\.\d+)?([eE][+-]?\d+)?(?![a-zA-Z0-9_:])")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on",
             "ignoring", "group_left", "group_right", "atan2"}


def grafana_to_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced by values Prometheus accepts."""
    for var, value in _GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return re.sub(r"\$\{?\w+\}?", ".*", expr)


def promql_selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names matched) for every vector selector in ``expr``."""
    expr = grafana_to_promql(expr)
    found: list[tuple[str, set[str]]] = []
    strings: list[str] = []

    def hide(m: re.Match[str]) -> str:
        strings.append(m.group(0))
        return f'"{len(strings) - 1}"'

    text = _STRING.sub(hide, expr)
    for m in _SELECTOR.finditer(text):
        labels = {part.split("=")[0].split("!")[0].strip() for part in m.group(2).split(",")
                  if part.strip()}
        labels = {lab.rstrip("=~!").strip() for lab in labels}
        name = m.group(1) or ""
        if not name:
            named = re.search(r'__name__\s*=\s*"(\d+)"', m.group(2))
            name = json.loads(strings[int(named.group(1))]) if named else ""
        found.append((name, labels - {"__name__"}))
    text = _SELECTOR.sub(" ", text)
    text = _STRING.sub(" ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\boffset\s+-?\w+", " ", text)
    grouping = _GROUPING.sub(" ", text)
    grouping = _NUMBER.sub(" ", grouping)
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", grouping):
        rest = grouping[m.end():].lstrip()
        if m.group(0).lower() in _KEYWORDS or rest.startswith("("):
            continue
        found.append((m.group(0), set()))
    return found


def promql_metric_names(expr: str) -> set[str]:
    """Every series name an expression reads."""
    return {name for name, _ in promql_selectors(expr) if name}


def grouping_labels(expr: str) -> set[str]:
    """Label names used in by/without/on/ignoring/group_* clauses."""
    text = _STRING.sub('""', grafana_to_promql(expr))
    return {lab.strip() for m in _GROUPING.finditer(text) for lab in m.group(2).split(",")
            if lab.strip()}


def test_the_promql_reader_finds_series_labels_and_ignores_functions() -> None:
    expr = ('sum by (agent) (rate(agent_execution_total{status="error",agent=~"$agent"}'
            "[$__rate_interval])) / ignoring(x) sum(rate(agent_execution_total[5m] offset 1d))"
            ' > 2 * histogram_quantile(0.95, foo_bucket) and on() {__name__="bar", job="j"}')
    assert promql_metric_names(expr) == {"agent_execution_total", "foo_bucket", "bar"}
    assert ("agent_execution_total", {"status", "agent"}) in promql_selectors(expr)
    assert ("bar", {"job"}) in promql_selectors(expr)
    assert grouping_labels(expr) == {"agent", "x"}
    assert promql_metric_names("sum(rate(x_total[1h])) * 3600 > 5e6") == {"x_total"}


# --- every expression in the stack -----------------------------------------------------------


def rule_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load((MON / "alerts.rules.yml").read_text())
    return [(f"alerts.rules.yml rule {r['alert']}", r["expr"])
            for g in doc["groups"] for r in g["rules"]]


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in DASHBOARDS:
        doc = json.loads(path.read_text())
        for panel in doc["panels"]:
            for target in panel.get("targets", []):
                out.append((f"{path.name} panel {panel['id']} {panel['title']!r} "
                            f"target {target['refId']}", target["expr"]))
    return out


def variable_queries() -> list[tuple[str, str, str]]:
    """(where, metric, label) of every label_values() template variable."""
    out = []
    for path in DASHBOARDS:
        for v in json.loads(path.read_text())["templating"]["list"]:
            m = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", v["query"]["query"])
            assert m, f"{path.name} variable {v['name']}: unexpected query {v['query']}"
            out.append((f"{path.name} variable {v['name']}", m.group(1), m.group(2)))
    return out


ALL_EXPRS = rule_exprs() + dashboard_exprs()


def _labels_of(series: str) -> set[str] | None:
    for spec in catalog.METRICS:
        if series in spec.series:
            extra = {"le"} if series.endswith("_bucket") else set()
            return set(spec.labels) | extra | {"job", "instance"}
    return None


@pytest.mark.parametrize(("where", "expr"), ALL_EXPRS, ids=[w for w, _ in ALL_EXPRS])
def test_expression_names_only_catalogue_series_and_their_labels(where: str, expr: str) -> None:
    series = catalog.series_names()
    names = promql_metric_names(expr)
    assert names, f"{where}: no metric found in {expr!r}"
    # the budget panels read what the rules `agentinsight alerts budgets` writes record
    unknown = {n for n in names if n not in series and not ALLOWED_FOREIGN.match(n)
               and n not in BUDGET_SERIES}
    assert not unknown, f"{where}: {sorted(unknown)} are not catalogue series"
    used_labels: set[str] = set()
    for name, labels in promql_selectors(expr):
        known = _labels_of(name)
        if known is not None:
            assert labels <= known, f"{where}: {name} has no label(s) {sorted(labels - known)}"
            used_labels |= known
    if used_labels:
        stray = grouping_labels(expr) - used_labels
        assert not stray, f"{where}: groups by {sorted(stray)}, which its metrics do not have"


def test_template_variables_read_catalogue_labels() -> None:
    for where, metric, label in variable_queries():
        assert label in catalog.by_name(metric).labels, where


def test_token_totals_sum_only_input_and_output() -> None:
    # cache_read/cache_write are parts of input and reasoning is part of output: a sum across
    # every token_type counts them twice, unless the expression keeps token_type apart.
    for where, expr in ALL_EXPRS:
        if "llm_tokens_used_total" not in expr:
            continue
        for name, labels in promql_selectors(expr):
            if name == "llm_tokens_used_total" and "token_type" not in labels:
                assert "token_type" in grouping_labels(expr), f"{where}: {expr}"


# --- real validators --------------------------------------------------------------------------


def run(program: str, *args: str | Path, cwd: Path = MON) -> str:
    try:
        binary = find_program(program)
    except ProgramNotFoundError as exc:
        if IN_CI:
            pytest.fail(f"{exc} (CI=true: a missing program is a failure)")
        pytest.skip(str(exc))
    done = subprocess.run([binary, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, f"{program} {args} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    out = run("promtool", "check", "config", "prometheus.yml")
    assert "SUCCESS: 6 rules found" in out


def test_promtool_rule_unit_tests_pass_and_cover_every_rule() -> None:
    out = run("promtool", "test", "rules", "alerts.rules.test.yml")
    assert "SUCCESS" in out
    tests = yaml.safe_load((MON / "alerts.rules.test.yml").read_text())["tests"]
    tested = {t["alertname"] for group in tests for t in group["alert_rule_test"]
              if any(t["exp_alerts"])}
    silent_first = {t["alertname"] for group in tests for t in group["alert_rule_test"]
                    if t["exp_alerts"] == []}
    rules = {w.split()[-1] for w, _ in rule_exprs()}
    assert tested == rules and silent_first == rules


def test_every_rule_has_for_severity_and_a_runbook_description() -> None:
    doc = yaml.safe_load((MON / "alerts.rules.yml").read_text())
    for rule in (r for g in doc["groups"] for r in g["rules"]):
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert "Runbook:" in rule["annotations"]["description"], rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_every_dashboard_expression_parses_in_prometheus(tmp_path: Path) -> None:
    rules = [{"record": f"agentinsight:dashboard_check:{i}", "expr": grafana_to_promql(expr)}
             for i, (_, expr) in enumerate(dashboard_exprs())]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    out = run("promtool", "check", "rules", path)
    assert f"SUCCESS: {len(rules)} rules found" in out


def test_amtool_accepts_the_alertmanager_config() -> None:
    out = run("amtool", "check-config", "alertmanager.yml")
    assert "3 receivers" in out


def test_the_entrypoint_renders_credentials_and_webhook_url_from_the_environment(
    tmp_path: Path,
) -> None:
    sh = shutil.which("sh")
    assert sh
    env = {
        "PATH": os.environ["PATH"],
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
        "PAGERDUTY_ROUTING_KEY": "pd-key",
        "ALERT_WEBHOOK_URL": "http://hooks.internal:8080/alerts?team=ml&x=1",
        "ALERTMANAGER_CONFIG": str(MON / "alertmanager.yml"),
        "ALERTMANAGER_RENDERED": str(tmp_path / "alertmanager.yml"),
        "ALERTMANAGER_SECRETS": str(tmp_path / "secrets"),
    }
    done = subprocess.run([sh, str(MON / "alertmanager-entrypoint.sh"), "true"], env=env,
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    rendered = yaml.safe_load((tmp_path / "alertmanager.yml").read_text())
    hook = next(r for r in rendered["receivers"] if r["name"] == "webhook")
    assert hook["webhook_configs"][0]["url"] == "http://hooks.internal:8080/alerts?team=ml&x=1"
    assert (tmp_path / "secrets" / "slack_api_url").read_text() == env["SLACK_WEBHOOK_URL"]
    assert (tmp_path / "secrets" / "pagerduty_routing_key").read_text() == "pd-key"
    assert (tmp_path / "secrets" / "slack_api_url").stat().st_mode & 0o077 == 0
    run("amtool", "check-config", tmp_path / "alertmanager.yml")

    env["ALERT_WEBHOOK_URL"] = "hooks.internal"
    bad = subprocess.run([sh, str(MON / "alertmanager-entrypoint.sh"), "true"], env=env,
                         capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "ALERT_WEBHOOK_URL must start with http" in bad.stderr


def test_alertmanager_routes_by_severity() -> None:
    doc = yaml.safe_load((MON / "alertmanager.yml").read_text())
    routes = {r["receiver"]: r.get("matchers", []) for r in doc["route"]["routes"]}
    assert routes["pagerduty"] == ['severity="critical"']
    assert routes["slack"] == ['severity=~"critical|warning"']
    receivers = {r["name"]: r for r in doc["receivers"]}
    assert receivers["slack"]["slack_configs"][0]["api_url_file"]
    assert receivers["pagerduty"]["pagerduty_configs"][0]["routing_key_file"]


def test_jaeger_accepts_its_config_with_span_metrics_for_prometheus() -> None:
    run("jaeger", "validate", f"--config=file:{MON / 'jaeger.yaml'}")
    doc = yaml.safe_load((MON / "jaeger.yaml").read_text())
    pipelines = doc["service"]["pipelines"]
    assert "spanmetrics" in pipelines["traces"]["exporters"]
    assert pipelines["metrics/spanmetrics"] == {"receivers": ["spanmetrics"],
                                                "exporters": ["prometheus"]}
    scrape = yaml.safe_load((MON / "prometheus.yml").read_text())["scrape_configs"]
    port = doc["exporters"]["prometheus"]["endpoint"].rsplit(":", 1)[1]
    assert any(f"jaeger:{port}" in t for job in scrape for sc in job.get("static_configs", [])
               for t in sc["targets"])


# --- compose ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.monitoring.yml").read_text())


def compose_errors(doc: Any) -> list[str]:
    schema = json.loads((ROOT / "tests" / "data" / "compose_spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(doc)]


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert compose_errors(compose) == []
    broken = json.loads(json.dumps(compose))
    broken["services"]["grafana"]["healthcheck"]["interval_seconds"] = 10
    assert compose_errors(broken), "the schema check must be able to fail"


def test_compose_runs_the_whole_stack_pinned_with_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"prometheus", "alertmanager", "grafana", "jaeger", "loki",
                             "promtail", "report-runner"}
    ports = {s: svc.get("ports", []) for s, svc in services.items()}
    assert "9090:9090" in ports["prometheus"] and "9093:9093" in ports["alertmanager"]
    assert "3001:3000" in ports["grafana"] and "3100:3100" in ports["loki"]
    assert {"16686:16686", "4317:4317", "4318:4318"} <= set(ports["jaeger"])
    for name, svc in services.items():
        assert "healthcheck" in svc, name
        image = svc["image"]
        assert re.search(r":v?\d+\.\d+\.\d+$", image) or image.endswith(":local"), (name, image)
        for volume in svc.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith("./monitoring/"):
                assert volume.endswith(":ro"), f"{name}: {volume} must be read-only"
                assert (ROOT / source).exists(), f"{name}: {source} does not exist"
            elif not source.startswith(("./", "$")):
                assert source in compose["volumes"], f"{name}: {source} is not a named volume"
    assert "agentinsight" in services["report-runner"]["command"]
    assert "schedule" in services["report-runner"]["command"]
    dockerfile = ROOT / services["report-runner"]["build"]["dockerfile"]
    assert re.search(r"^FROM python:3\.11\.\d+-slim", dockerfile.read_text(), re.M)
    assert "--enable-feature=exemplar-storage" in services["prometheus"]["command"]


# --- grafana ----------------------------------------------------------------------------------


def provisioned() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(
        (MON / "grafana/provisioning/datasources/agentinsight.yml").read_text())
    return {d["uid"]: d for d in doc["datasources"]}


def test_datasources_link_metrics_and_logs_to_traces() -> None:
    ds = provisioned()
    assert {d["type"] for d in ds.values()} == {"prometheus", "jaeger", "loki"}
    exemplar = ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]
    assert exemplar == {"name": "trace_id", "datasourceUid": "jaeger",
                        "urlDisplayLabel": "Open trace in Jaeger"}
    assert ds["jaeger"]["jsonData"]["tracesToLogsV2"]["datasourceUid"] == "loki"
    derived = ds["loki"]["jsonData"]["derivedFields"][0]
    assert derived["datasourceUid"] == "jaeger"


def test_loki_derived_field_finds_the_trace_id_in_an_emitted_log_line() -> None:
    from opentelemetry.sdk.trace import TracerProvider

    from agentinsight.emit._logging import JsonFormatter

    tracer = TracerProvider().get_tracer("test")
    record = logging.LogRecord("support-bot", logging.INFO, __file__, 1, "done", (), None)
    with tracer.start_as_current_span("run") as span:
        line = JsonFormatter().format(record)
        trace_id = format(span.get_span_context().trace_id, "032x")
    regex = provisioned()["loki"]["jsonData"]["derivedFields"][0]["matcherRegex"]
    match = re.search(regex, line)
    assert match and match.group(1) == trace_id


def test_promtail_parses_the_emitted_json_fields_and_keeps_trace_ids_out_of_labels() -> None:
    doc = yaml.safe_load((MON / "promtail-config.yml").read_text())
    job = doc["scrape_configs"][0]
    stages = {next(iter(s)): next(iter(s.values())) for s in job["pipeline_stages"]}
    assert set(stages["json"]["expressions"]) >= {"timestamp", "level", "logger", "agent",
                                                   "trace_id", "span_id"}
    assert stages["timestamp"]["source"] == "timestamp"
    assert "trace_id" not in stages["labels"] and "level" in stages["labels"]
    assert job["static_configs"][0]["labels"]["__path__"].endswith("agentinsight.log")
    assert doc["clients"][0]["url"] == "http://loki:3100/loki/api/v1/push"


def test_loki_runs_single_binary_on_the_filesystem() -> None:
    doc = yaml.safe_load((MON / "loki-config.yml").read_text())
    assert doc["auth_enabled"] is False
    assert doc["common"]["storage"]["filesystem"]
    schema = doc["schema_config"]["configs"][-1]
    assert (schema["store"], schema["object_store"], schema["schema"]) == (
        "tsdb", "filesystem", "v13")


def test_dashboards_are_generated_from_their_source() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_dashboards", MON / "grafana" / "generate_dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = module.render()
    assert sorted(rendered) == [p.name for p in DASHBOARDS]
    for path in DASHBOARDS:
        assert path.read_text() == rendered[path.name], (
            f"{path.name} is stale: run python monitoring/grafana/generate_dashboards.py")


def _panels() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            yield path.name, panel


def test_dashboards_are_well_formed_and_refresh_themselves() -> None:
    uids = set(provisioned())
    titles = set()
    assert len(DASHBOARDS) == 5
    for path in DASHBOARDS:
        doc = json.loads(path.read_text())
        assert doc["refresh"] and doc["uid"] and doc["title"] not in titles
        titles.add(doc["title"])
        ids = [p["id"] for p in doc["panels"]]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate panel ids"
        for panel in doc["panels"]:
            assert panel["datasource"]["uid"] in uids, f"{path.name}: {panel['title']}"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] in uids
    assert {t.split(" / ")[1] for t in titles} == {
        "System overview", "Agent performance", "Task processing", "Token usage and cost",
        "Resource usage"}


def test_latency_panels_show_exemplars_that_lead_to_traces() -> None:
    checked = 0
    for name, panel in _panels():
        for target in panel["targets"]:
            if "histogram_quantile(0.95" in target["expr"] and "seconds_bucket" in target["expr"]:
                assert target["exemplar"] is True, f"{name}: {panel['title']}"
                checked += 1
    assert checked >= 6

