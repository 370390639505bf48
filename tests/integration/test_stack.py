"""agentinsight.stack against the real programs: start, readiness, queries, reload, clean stop."""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from agentinsight.exceptions import ConfigurationError, StackError
from agentinsight.stack import (
    JAEGER_VERSION,
    Alertmanager,
    Jaeger,
    ProgramNotFoundError,
    Prometheus,
    Stack,
    amtool,
    find_program,
    free_port,
    promtool,
)
from agentinsight.stack.load import backfill_prometheus

integration = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _port_open(url: str) -> bool:
    host, port = url.split("//")[1].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port.split("/")[0]))) == 0


def _wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


# -- bad input, no server needed -------------------------------------------------------------


def test_bad_scrape_target_is_named_before_any_server_starts():
    with pytest.raises(ConfigurationError, match="'no-port-here'.*host and a port"):
        Prometheus(scrape_targets=["no-port-here"])


def test_bad_scrape_interval_is_named():
    with pytest.raises(ConfigurationError, match="scrape_interval.*'fast'"):
        Prometheus(scrape_interval="fast")


def test_unknown_program_lists_the_known_ones():
    with pytest.raises(StackError, match="unknown program 'grafana'.*prometheus"):
        find_program("grafana")


def test_program_override_that_does_not_exist_is_reported(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTINSIGHT_PROMETHEUS_BIN", str(tmp_path / "nope"))
    with pytest.raises(ProgramNotFoundError, match="AGENTINSIGHT_PROMETHEUS_BIN"):
        find_program("prometheus")


def test_pinned_jaeger_version_matches_the_build_module():
    go_mod = (REPO / "tools" / "jaeger" / "go.mod").read_text()
    assert f"require github.com/jaegertracing/jaeger {JAEGER_VERSION}\n" in go_mod


# -- Prometheus -------------------------------------------------------------------------------


@integration
def test_prometheus_scrapes_a_target_and_answers_queries(prometheus_factory):
    registry = CollectorRegistry()
    Counter("demo_requests", "requests", ["agent"], registry=registry).labels("planner").inc(7)
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        prom = prometheus_factory(scrape_targets=[f"127.0.0.1:{port}"], scrape_interval="1s")
        prom.wait_for_scrapes(1, timeout=20)
        result = prom.query("demo_requests_total")
    finally:
        server.shutdown()
    assert [(r["metric"]["agent"], r["metric"]["job"], r["value"][1]) for r in result] == [
        ("planner", "agents", "7")
    ]


@integration
def test_prometheus_reports_a_target_that_is_down(prometheus_factory):
    dead = free_port()
    prom = prometheus_factory(scrape_targets=[f"127.0.0.1:{dead}"], scrape_interval="1s")
    with pytest.raises(StackError, match=f"127.0.0.1:{dead}.*down"):
        prom.wait_for_scrapes(1, timeout=10)


@integration
def test_prometheus_serves_backfilled_history_and_keeps_a_given_data_dir(
    prometheus_factory, tmp_path, require_program, monkeypatch
):
    require_program("promtool")
    start = (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0)
    lines = ["# HELP demo_tokens Tokens.", "# TYPE demo_tokens counter"]
    for minute in range(30):
        ts = int((start + timedelta(minutes=minute)).timestamp())
        lines.append(f'demo_tokens_total{{agent="planner"}} {100 * minute} {ts}')
    om = tmp_path / "history.om"
    om.write_text("\n".join(lines) + "\n# EOF\n")
    data_dir = backfill_prometheus(om, tmp_path / "tsdb")

    monkeypatch.chdir(tmp_path)  # a relative data dir means the caller's folder, not the server's
    prom = prometheus_factory(data_dir="tsdb")
    at = (start + timedelta(minutes=29)).timestamp()
    result = prom.query("demo_tokens_total", time=at)
    assert [r["value"][1] for r in result] == ["2900"]
    increase = prom.query("increase(demo_tokens_total[10m])", time=at)
    assert float(increase[0]["value"][1]) == pytest.approx(1000, rel=0.15)

    prom.stop()
    assert any(p.is_dir() for p in data_dir.iterdir()), "the given data dir must be kept"


@integration
def test_prometheus_reload_applies_rules_and_rejects_bad_ones_with_its_message(
    prometheus_factory, tmp_path
):
    prom = prometheus_factory()
    good = tmp_path / "good.rules.yml"
    good.write_text(textwrap.dedent("""\
        groups:
          - name: demo
            rules:
              - record: demo:one
                expr: vector(1)
    """))
    prom.reload(rule_files=[good])
    groups = prom.api("/api/v1/rules")["data"]["groups"]
    assert [r["name"] for g in groups for r in g["rules"]] == ["demo:one"]

    bad = tmp_path / "bad.rules.yml"
    bad.write_text("groups:\n  - name: demo\n    rules:\n      - record: x\n        expr: sum(\n")
    expected = "(?s)rejected the new configuration.*bad.rules.yml.*unclosed left parenthesis"
    with pytest.raises(StackError, match=expected):
        prom.reload(rule_files=[bad])
    assert prom.query("up") == []  # still serving after a rejected reload


@integration
def test_prometheus_that_cannot_start_shows_its_log(require_program):
    require_program("prometheus")
    prom = Prometheus(config_text="scrape_configs: [this is not valid")
    with pytest.raises(StackError) as info:
        prom.start()
    message = str(info.value)
    assert "exited with code" in message
    assert "last lines of its log" in message
    assert "prometheus.yml" in message  # Prometheus names the config file it could not load
    assert not prom.running and prom.work_dir is None


@integration
def test_two_prometheus_servers_run_side_by_side_and_stop_cleanly(prometheus_factory):
    first, second = prometheus_factory(), prometheus_factory()
    assert first.url != second.url
    data_dir = first.data_dir
    first.stop()
    assert not _port_open(first.url)
    assert not data_dir.exists(), "a temporary data dir is removed by stop()"
    assert second.query("vector(2)")[0]["value"][1] == "2"
    assert "Server is ready to receive web requests" in first.log_text()


@integration
def test_servers_die_with_the_python_process_that_started_them(require_program):
    require_program("prometheus")
    script = (
        "from agentinsight.stack import Prometheus\n"
        "p = Prometheus().start()\n"
        "print(p.url, flush=True)\n"
        "import time; time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "the child did not start Prometheus"
        url = proc.stdout.readline().strip()
        assert _port_open(url)
        proc.kill()  # SIGKILL: no atexit, no cleanup in Python
        _wait_until(lambda: not _port_open(url), 15, "the orphaned Prometheus to exit")
    finally:
        proc.kill()
        proc.wait()


# -- promtool, Alertmanager, VictoriaMetrics, Jaeger ------------------------------------------


@integration
def test_promtool_failure_carries_promtool_output(tmp_path, require_program):
    require_program("promtool")
    bad = tmp_path / "bad.rules.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: A\n        expr: rate(\n")
    expected = "(?s)promtool check rules.*exit code 1.*unclosed left parenthesis"
    with pytest.raises(StackError, match=expected):
        promtool("check", "rules", bad)


@integration
def test_amtool_accepts_the_default_alertmanager_config_and_names_a_bad_one(
    tmp_path, require_program
):
    require_program("amtool")
    good = tmp_path / "alertmanager.yml"
    good.write_text(json.dumps(Alertmanager.DEFAULT_CONFIG))
    assert "SUCCESS" in amtool("check-config", good)
    bad = tmp_path / "bad.yml"
    bad.write_text("route: {receiver: nowhere}\nreceivers: []\n")
    with pytest.raises(StackError, match="(?s)amtool check-config.*nowhere"):
        amtool("check-config", bad)


@integration
def test_alertmanager_accepts_and_lists_alerts(alertmanager):
    from agentinsight.stack._process import http_request

    alert = [{"labels": {"alertname": "DemoAlert", "agent": "planner"},
              "annotations": {"summary": "demo"}}]
    status, body = http_request(
        f"{alertmanager.url}/api/v2/alerts", method="POST", data=json.dumps(alert).encode()
    )
    assert status == 200, body
    alerts = alertmanager.api("/api/v2/alerts")
    assert [(a["labels"]["alertname"], a["labels"]["agent"]) for a in alerts] == [
        ("DemoAlert", "planner")
    ]
    status = alertmanager.api("/api/v2/status")
    assert status["cluster"]["status"] == "disabled"  # no gossip port taken


@integration
def test_victoriametrics_imports_and_queries_prometheus_text(victoriametrics):
    from agentinsight.stack._process import http_request

    ts_ms = int(time.time() * 1000) - 60_000
    body = f'demo_cost_usd{{agent="planner"}} 1.25 {ts_ms}\n'.encode()
    status, _ = http_request(
        f"{victoriametrics.url}/api/v1/import/prometheus", method="POST", data=body
    )
    assert status == 204
    victoriametrics.flush()
    result = victoriametrics.api("/api/v1/query", query="demo_cost_usd", time=ts_ms / 1000)
    assert [r["value"][1] for r in result["data"]["result"]] == ["1.25"]


def _otlp_span(service: str, trace_id: str, span_id: str, name: str) -> bytes:
    now = time.time_ns()
    return json.dumps({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"scope": {"name": "test"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": name, "kind": 1,
            "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now),
        }]}],
    }]}).encode()


@integration
def test_jaeger_receives_otlp_http_and_serves_api_v3(jaeger, unique_name):
    from agentinsight.stack._process import http_request

    trace_id = os.urandom(16).hex()
    status, body = http_request(
        jaeger.otlp_traces_url, method="POST",
        data=_otlp_span(unique_name, trace_id, os.urandom(8).hex(), "invoke_agent planner"),
    )
    assert status == 200, body
    _wait_until(lambda: unique_name in jaeger.api("/api/v3/services").get("services", []), 10,
                "the service to appear in Jaeger")
    now = datetime.now(UTC)
    found = jaeger.api(
        "/api/v3/traces",
        **{"query.service_name": unique_name, "query.num_traces": 20,
           "query.start_time_min": (now - timedelta(minutes=5)).isoformat(),
           "query.start_time_max": (now + timedelta(minutes=1)).isoformat()},
    )
    spans = [s for rs in found["result"]["resourceSpans"] for ss in rs["scopeSpans"]
             for s in ss["spans"]]
    assert [(s["name"], s["traceId"]) for s in spans] == [("invoke_agent planner", trace_id)]


@integration
def test_two_jaegers_run_side_by_side_and_stop_quickly(require_program):
    binary = require_program("jaeger")
    with Jaeger(binary=binary) as first, Jaeger(binary=binary) as second:
        assert len({first.query_url, second.query_url, first.otlp_http_url}) == 3
        started = time.monotonic()
        first.stop()
        assert time.monotonic() - started < 5
        assert not _port_open(first.query_url)
        assert second.api("/api/v3/services") is not None


@integration
def test_stack_wires_prometheus_rules_to_alertmanager(tmp_path, require_program):
    binary = require_program("jaeger")
    rules = tmp_path / "always.rules.yml"
    rules.write_text(textwrap.dedent("""\
        groups:
          - name: demo
            rules:
              - alert: AlwaysFiring
                expr: vector(1)
                labels: {severity: info}
    """))
    with Stack(rule_files=[rules], scrape_interval="1s", jaeger_binary=binary) as stack:
        urls = stack.urls()
        assert set(urls) == {"prometheus", "alertmanager", "jaeger", "otlp_http", "otlp_grpc"}
        assert stack.alertmanager is not None
        alerts = _wait_until(lambda: stack.alertmanager.api("/api/v2/alerts"), 30,
                             "Prometheus to deliver AlwaysFiring to Alertmanager")
        assert alerts[0]["labels"]["alertname"] == "AlwaysFiring"
    assert not any(_port_open(u) for k, u in urls.items() if k != "otlp_grpc")


@integration
def test_cli_stack_up_prints_urls_and_stops_on_sigterm(require_program, tmp_path):
    require_program("prometheus")
    require_program("alertmanager")
    require_program("jaeger")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentinsight", "stack", "up", "--json",
         "--stack-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        assert ready, proc.stderr.read() if proc.poll() is not None else "no output in 60s"
        urls = json.loads(proc.stdout.readline())
        assert all(_port_open(urls[k]) for k in ("prometheus", "alertmanager", "jaeger"))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert not any(_port_open(urls[k]) for k in ("prometheus", "alertmanager", "jaeger"))
    finally:
        proc.kill()
        proc.wait()


@integration
def test_a_port_taken_before_the_server_binds_it_is_replaced(monkeypatch, prometheus_factory):
    import agentinsight.stack._servers as servers

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = iter([busy])
        monkeypatch.setattr(servers, "free_port", lambda host: next(ports, None) or free_port())
        prom = prometheus_factory()
        assert prom.port != busy
        assert "address already in use" in prom.log_text()
        assert prom.query("vector(3)")[0]["value"][1] == "3"


def _agentinsight(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agentinsight", *args], capture_output=True,
                          text=True, timeout=timeout)


@integration
def test_stack_up_falls_back_from_a_taken_port_and_stack_down_stops_it(tmp_path,
                                                                      require_program):
    for program in ("prometheus", "alertmanager", "jaeger"):
        require_program(program)
    home = str(tmp_path / "stack")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        ports = ["--prometheus-port", str(busy), "--alertmanager-port", str(free_port()),
                 "--jaeger-port", str(free_port()), "--otlp-http-port", str(free_port()),
                 "--otlp-grpc-port", str(free_port())]
        up = _agentinsight("stack", "up", "--detach", "--stack-dir", home,
                           "--scrape", "127.0.0.1:9464", *ports)
        try:
            assert up.returncode == 0, up.stderr
            urls = dict(line.split(None, 1) for line in up.stdout.splitlines()[:5])
            assert f"note: port {busy} for prometheus is taken; using " in up.stdout
            assert urls["prometheus"] != f"http://127.0.0.1:{busy}"
            assert urls["alertmanager"] == f"http://127.0.0.1:{ports[3]}"
            assert "scraping      127.0.0.1:9464" in up.stdout
            assert "warning" not in up.stderr
            # the stack runs on after the command returned, and Prometheus scrapes the target
            assert _port_open(urls["prometheus"]) and _port_open(urls["jaeger"])
            with urllib.request.urlopen(f"{urls['prometheus']}/api/v1/status/config") as answer:
                config = json.load(answer)["data"]["yaml"]
            assert "- 127.0.0.1:9464" in config

            again = _agentinsight("stack", "up", "--detach", "--stack-dir", home, *ports)
            assert again.returncode == 1 and "already running" in again.stderr

            status = _agentinsight("stack", "status", "--stack-dir", home)
            assert status.returncode == 0, status.stdout + status.stderr
            for name in ("prometheus", "alertmanager", "jaeger"):
                assert re.search(rf"^{name} +{re.escape(urls[name])} +up +pid \d+",
                                 status.stdout, re.MULTILINE), status.stdout
            # whether the agent is scraped: nothing listens on :9464, so not (or not yet)
            assert re.search(r"^target +(not scraped yet|http://127.0.0.1:9464/metrics \w+)",
                             status.stdout, re.MULTILINE), status.stdout
        finally:
            down = _agentinsight("stack", "down", "--stack-dir", home)
        assert down.returncode == 0 and down.stdout.startswith("stopped the stack"), down
        assert not any(_port_open(urls[k]) for k in ("prometheus", "alertmanager", "jaeger"))
        status = _agentinsight("stack", "status", "--stack-dir", home)
        assert status.returncode == 1 and "no stack running" in status.stdout
        assert _agentinsight("stack", "down", "--stack-dir", home).stdout.startswith(
            "no stack running")


@integration
def test_stack_up_uses_the_usual_ports_and_warns_when_nothing_is_scraped(tmp_path,
                                                                         require_program):
    for program in ("prometheus", "alertmanager", "jaeger"):
        require_program(program)
    home = str(tmp_path / "stack")
    up = _agentinsight("stack", "up", "-d", "--stack-dir", home)
    try:
        assert up.returncode == 0, up.stderr
        urls = dict(line.split(None, 1) for line in up.stdout.splitlines()[:5])
        for part, port in (("prometheus", 9090), ("alertmanager", 9093), ("jaeger", 16686),
                           ("otlp_http", 4318)):
            # the usual port, or (on a machine where something else holds it) a note saying so
            assert (urls[part] == f"http://127.0.0.1:{port}"
                    or f"note: port {port} for {part} is taken" in up.stdout), up.stdout
        assert "Prometheus scrapes nothing" in up.stderr
        assert "--scrape HOST:PORT" in up.stderr
    finally:
        assert _agentinsight("stack", "down", "--stack-dir", home).returncode == 0
