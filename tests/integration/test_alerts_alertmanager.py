"""Findings reach a real Alertmanager and, through it, a webhook receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentinsight import alerts
from agentinsight.cli import main as cli_main
from agentinsight.exceptions import AlertError
from agentinsight.frames import finding_fingerprint
from agentinsight.stack import Alertmanager

pytestmark = pytest.mark.integration

JAEGER = "http://jaeger.example:16686"


class Webhook:
    """An HTTP server on loopback that records the notifications Alertmanager posts."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._cond:
                    hook.received.append(json.loads(body))
                    hook._cond.notify_all()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20) -> dict:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for note in self.received:
                    if predicate(note):
                        return note
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"no matching notification within {timeout}s; got {self.received}"
                    )
                self._cond.wait(left)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    hook = Webhook()
    yield hook
    hook.close()


def am_config(webhook_url: str) -> str:
    return json.dumps({
        "route": {"receiver": "hook", "group_by": ["fingerprint"], "group_wait": "1s",
                  "group_interval": "1s", "repeat_interval": "1h"},
        "receivers": [{"name": "hook", "webhook_configs": [
            {"url": webhook_url, "send_resolved": True}]}],
    })


class SamePortAlertmanager(Alertmanager):
    """An Alertmanager that comes back on a given port (a restart, as operators see it)."""

    def __init__(self, port: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fixed_port = port

    def _allocate_ports(self) -> None:
        self.port = self._fixed_port


def findings_frame() -> pd.DataFrame:
    """Three findings as an analysis would report them: two ongoing, one that has ended."""
    now = pd.Timestamp.now(tz="UTC").floor("min")
    rows = [
        {"detector": "seasonal", "series": {"__name__": "agent_execution_duration_seconds",
                                            "agent": "planner"},
         "start": now - pd.Timedelta("40min"), "end": pd.NaT, "score": 0.97,
         "severity": "warning", "observed": 41.5, "expected": 6.2,
         "summary": "planner runs are 6x slower than usual",
         "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"]},
        {"detector": "error_ratio", "series": {"__name__": "llm_tokens_used_total",
                                               "model": "gpt-4o", "provider": "openai"},
         "start": now - pd.Timedelta("20min"), "end": pd.NaT, "score": 0.99,
         "severity": "critical", "observed": 0.4, "expected": 0.01,
         "summary": "gpt-4o calls fail", "trace_ids": []},
        {"detector": "seasonal", "series": {"__name__": "tool_usage_total", "tool": "search"},
         "start": now - pd.Timedelta("3h"), "end": now - pd.Timedelta("2h"), "score": 0.8,
         "severity": "info", "observed": 12.0, "expected": 3.0,
         "summary": "search calls spiked", "trace_ids": []},
    ]
    frame = pd.DataFrame(rows)
    frame["fingerprint"] = [
        finding_fingerprint(r["detector"], r["series"], r["start"]) for r in rows
    ]
    for col in ("start", "end"):
        frame[col] = frame[col].astype("datetime64[ns, UTC]")
    return frame


def active_alerts(am: Alertmanager) -> list[dict[str, Any]]:
    return [a for a in am.api("/api/v2/alerts", active="true") if a["status"]["state"] == "active"]


def test_findings_reach_alertmanager_and_a_webhook_and_repush_adds_nothing(
    alertmanager_factory: Callable[..., Alertmanager], webhook: Webhook
) -> None:
    am = alertmanager_factory(config_text=am_config(webhook.url))
    findings = findings_frame()

    result = alerts.push(findings, am.url, jaeger_url=JAEGER, report_url="http://reports/r.html")

    assert result.ok
    assert sorted(result.sent) == sorted(findings["fingerprint"][:2])
    assert result.resolved == [findings["fingerprint"][2]]
    shown = {a["labels"]["fingerprint"]: a for a in active_alerts(am)}
    assert set(shown) == set(findings["fingerprint"][:2])  # the ended one is not active
    planner = shown[findings["fingerprint"][0]]
    assert planner["labels"]["alertname"] == "AgentInsightAnomalySeasonal"
    assert planner["labels"]["agent"] == "planner"
    assert planner["labels"]["severity"] == "warning"
    assert planner["labels"]["metric"] == "agent_execution_duration_seconds"
    assert planner["annotations"]["trace_urls"] == (
        f"{JAEGER}/trace/4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert planner["annotations"]["observed"] == "41.5"
    assert planner["generatorURL"] == "http://reports/r.html"
    gpt = shown[findings["fingerprint"][1]]
    assert (gpt["labels"]["model"], gpt["labels"]["provider"]) == ("gpt-4o", "openai")

    note = webhook.wait_for(
        lambda n: n["alerts"][0]["labels"].get("agent") == "planner"
        and n["status"] == "firing"
    )
    assert note["alerts"][0]["annotations"]["summary"] == "planner runs are 6x slower than usual"

    webhook.wait_for(lambda n: n["alerts"][0]["labels"].get("model") == "gpt-4o")

    # Pushing the same findings again changes nothing: same alerts, no new notification.
    time.sleep(1.5)
    seen = len(webhook.received)
    assert seen == 2  # one per group (group_by fingerprint); the ended finding never fired
    again = alerts.push(findings, am.url, jaeger_url=JAEGER, report_url="http://reports/r.html")
    assert again.ok
    assert len(active_alerts(am)) == 2
    time.sleep(3)
    assert len(webhook.received) == seen


def test_an_ended_finding_resolves_its_alert(
    alertmanager_factory: Callable[..., Alertmanager], webhook: Webhook
) -> None:
    am = alertmanager_factory(config_text=am_config(webhook.url))
    findings = findings_frame().iloc[:1].copy()
    alerts.push(findings, am.url)
    webhook.wait_for(lambda n: n["status"] == "firing")

    findings["end"] = pd.Timestamp.now(tz="UTC") - pd.Timedelta("1min")
    result = alerts.push(findings, am.url)

    assert result.resolved == [findings["fingerprint"].iloc[0]] and not result.sent
    assert active_alerts(am) == []
    note = webhook.wait_for(lambda n: n["status"] == "resolved")
    assert note["alerts"][0]["labels"]["fingerprint"] == findings["fingerprint"].iloc[0]


def test_a_refused_alert_is_reported_and_the_rest_are_sent(
    alertmanager_factory: Callable[..., Alertmanager],
) -> None:
    am = alertmanager_factory()
    good = findings_frame().iloc[:2]
    corrupt = {"detector": "seasonal", "series": {"agent": "broken"}, "severity": "warning",
               "start": "2026-01-05T10:00:00Z", "end": "2026-01-05T09:00:00Z"}  # ends first

    result = alerts.push([*good.to_dict("records"), corrupt], am.url)

    assert len(result.rejected) == 1
    rejected = result.rejected[0]
    assert rejected.fingerprint == finding_fingerprint("seasonal", {"agent": "broken"},
                                                       "2026-01-05T10:00:00Z")
    assert "start time must be before end time" in rejected.reason  # the server's own words
    assert sorted(result.sent) == sorted(good["fingerprint"])
    assert {a["labels"]["fingerprint"] for a in active_alerts(am)} == set(good["fingerprint"])


def test_long_and_odd_labels_are_accepted(
    alertmanager_factory: Callable[..., Alertmanager],
) -> None:
    am = alertmanager_factory()
    finding = {"detector": "seasonal", "severity": "warning", "start": "2026-01-05T10:00:00Z",
               "series": {"gen_ai.request.model": "m" * 500, "9lives": "x"}}

    result = alerts.push([finding], am.url)

    assert result.ok
    (shown,) = active_alerts(am)
    assert shown["labels"]["gen_ai_request_model"].endswith("…[truncated]")
    assert len(shown["labels"]["gen_ai_request_model"]) == 200
    assert shown["labels"]["_9lives"] == "x"


def test_unreachable_alertmanager_spools_and_the_next_push_delivers(
    alertmanager_factory: Callable[..., Alertmanager], webhook: Webhook, tmp_path: Path
) -> None:
    first = alertmanager_factory(config_text=am_config(webhook.url))
    port, url = first.port, first.url
    first.stop()
    findings = findings_frame()

    result = alerts.push(findings, url, spool_dir=tmp_path, retries=1, backoff=0.1)

    assert sorted(result.spooled) == sorted(findings["fingerprint"])
    assert "cannot reach" in result.spool_reason
    spool = tmp_path / "pending-alerts.jsonl"
    assert len(spool.read_text().splitlines()) == 3

    am = SamePortAlertmanager(port, config_text=am_config(webhook.url))
    alertmanager_factory.servers.append(am)  # type: ignore[attr-defined]
    am.start()
    later = alerts.push([], url, spool_dir=tmp_path)

    assert sorted(later.replayed) == sorted(findings["fingerprint"])
    assert later.ok and not spool.exists()
    assert {a["labels"]["fingerprint"] for a in active_alerts(am)} == set(
        findings["fingerprint"][:2])
    webhook.wait_for(lambda n: n["alerts"][0]["labels"].get("agent") == "planner")


def test_unreachable_without_spool_raises_naming_the_url() -> None:
    with pytest.raises(AlertError) as info:
        alerts.push(findings_frame(), "http://127.0.0.1:9", retries=0)
    assert "127.0.0.1:9" in str(info.value) and "no spool_dir" in str(info.value)


def test_cli_push_reads_findings_json(
    alertmanager_factory: Callable[..., Alertmanager], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    am = alertmanager_factory()
    path = alerts.write_findings(findings_frame(), tmp_path / "findings.json")

    code = cli_main(["alerts", "push", "--findings", str(path), "--alertmanager", am.url,
                     "--spool", str(tmp_path / "spool")])

    assert code == 0
    assert "2 firing sent, 1 resolved sent, 0 spooled, 0 rejected" in capsys.readouterr().out
    assert len(active_alerts(am)) == 2


def test_findings_from_a_simulated_incident_reach_the_webhook(
    alertmanager_factory: Callable[..., Alertmanager], webhook: Webhook, tmp_path: Path
) -> None:
    from agentinsight.analysis.anomaly import detect
    from agentinsight.simulate import simulate
    from agentinsight.sources.files import FileSource

    sim = simulate(tmp_path / "sim", days=1.2, start="2026-11-02T06:00:00Z",
                   scrape_interval=120, agents=4, seed=1)
    burst = next(i for i in sim.incidents if i["kind"] == "error_burst")
    agent = burst["labels"]["agent"]
    start, end = pd.Timestamp(burst["start"]), pd.Timestamp(burst["end"])
    report_end = start + (end - start) / 2  # the report ran while the burst was going on
    findings = detect(FileSource(sim.out_dir).error_ratio(end=report_end))
    path = alerts.write_findings(findings, tmp_path / "findings.json", data_end=report_end,
                                 ongoing_within="15m")
    am = alertmanager_factory(config_text=am_config(webhook.url))

    result = alerts.push(alerts.load_findings(path), am.url, jaeger_url=JAEGER)

    assert result.ok and len(result.sent) + len(result.resolved) == len(findings)
    firing = [a for a in active_alerts(am) if a["labels"].get("agent") == agent]
    assert firing, f"no firing alert for the {agent} error burst; sent {result}"
    assert firing[0]["labels"]["metric"] == "agent_execution_total:error_ratio"
    assert firing[0]["labels"]["alertname"].startswith("AgentInsightAnomaly")
    note = webhook.wait_for(lambda n: n["status"] == "firing" and any(
        a["labels"].get("agent") == agent for a in n["alerts"]))
    assert note["alerts"][0]["annotations"]["summary"]
