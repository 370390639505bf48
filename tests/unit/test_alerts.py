"""agentinsight.alerts without a server: alert documents, findings.json, webhook JSON, rules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from agentinsight import alerts
from agentinsight.cli import main as cli_main
from agentinsight.exceptions import AlertError, ConfigurationError
from agentinsight.frames import finding_fingerprint, metrics_frame
from tests.unit.test_monitoring import promql_metric_names, run

NOW = pd.Timestamp("2026-11-27T12:00:00Z")


def finding(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "detector": "seasonal_mad",
        "series": {"__name__": "agent_execution_duration_seconds", "agent": "planner"},
        "start": "2026-11-27T10:00:00Z", "end": None, "score": 0.93, "severity": "warning",
        "observed": 41.5, "expected": 6.25, "summary": "planner is slow",
        "trace_ids": [f"{i:032x}" for i in range(1, 8)],
    }
    base.update(overrides)
    return base


def one_alert(**overrides: object) -> dict:
    (doc,) = alerts.alerts_from_findings(
        [finding(**overrides)], jaeger_url="http://jaeger:16686/", report_url="http://r/1.html",
        now=NOW.timestamp(),
    )
    return doc


def test_an_ongoing_finding_is_a_firing_alert_with_labels_annotations_and_links() -> None:
    doc = one_alert()
    assert doc["labels"] == {
        "alertname": "AgentInsightAnomalySeasonalMad", "severity": "warning",
        "detector": "seasonal_mad",
        "fingerprint": finding_fingerprint("seasonal_mad", finding()["series"],  # type: ignore
                                           "2026-11-27T10:00:00Z"),
        "metric": "agent_execution_duration_seconds", "agent": "planner",
    }
    assert "endsAt" not in doc
    assert doc["startsAt"] == "2026-11-27T10:00:00.000Z"
    assert doc["generatorURL"] == "http://r/1.html"
    notes = doc["annotations"]
    assert notes["summary"] == "planner is slow"
    assert (notes["observed"], notes["expected"], notes["score"]) == ("41.5", "6.25", "0.93")
    assert notes["report_url"] == "http://r/1.html"
    links = notes["trace_urls"].split()
    assert links[0] == f"http://jaeger:16686/trace/{1:032x}" and len(links) == 5
    assert "observed 41.5 where 6.25 was expected" in notes["description"]
    assert "ongoing" in notes["window"]


def test_an_ended_finding_is_sent_resolved_and_a_future_end_stays_firing() -> None:
    ended = one_alert(end="2026-11-27T11:00:00Z")
    assert ended["endsAt"] == "2026-11-27T11:00:00.000Z"
    assert "endsAt" not in one_alert(end="2026-11-27T13:00:00Z")
    assert "endsAt" not in one_alert(end="2026-11-27T11:00:00Z", ongoing=True)


def test_a_finding_still_anomalous_when_the_data_ended_is_ongoing(tmp_path: Path) -> None:
    # A report over data ending at 11:30 found an anomaly whose last point is 11:28: it was
    # still going on when the data ended, so it must fire, not arrive already resolved.
    rows = [finding(end="2026-11-27T11:28:00Z"), finding(detector="b", end="2026-11-27T10:00Z")]
    docs = alerts.alerts_from_findings(rows, data_end="2026-11-27T11:30:00Z",
                                       now=NOW.timestamp())
    assert ["endsAt" in d for d in docs] == [False, True]
    path = alerts.write_findings(rows, tmp_path / "findings.json",
                                 data_end="2026-11-27T11:30:00Z", ongoing_within="5m")
    assert [d.get("ongoing") for d in json.loads(path.read_text())] == [True, None]
    reread = alerts.alerts_from_findings(alerts.load_findings(path), now=NOW.timestamp())
    assert ["endsAt" in d for d in reread] == [False, True]
    with pytest.raises(ConfigurationError, match="ongoing_within"):
        alerts.alerts_from_findings(rows, data_end="2026-11-27T11:30:00Z", ongoing_within="soon")


def test_label_names_are_sanitised_and_long_values_cut_with_a_marker() -> None:
    doc = one_alert(series={"gen_ai.request.model": "m" * 300, "5xx": "yes",
                            "severity": "series-own", "empty": "", "agent": None})
    labels = doc["labels"]
    assert labels["gen_ai_request_model"].endswith("…[truncated]")
    assert len(labels["gen_ai_request_model"]) == 200
    assert labels["_5xx"] == "yes"
    assert labels["severity"] == "warning" and labels["series_severity"] == "series-own"
    assert "empty" not in labels and "agent" not in labels
    assert len(doc["annotations"]["description"]) < 1500


def test_findings_frames_and_dicts_give_the_same_alerts(tmp_path: Path) -> None:
    path = alerts.write_findings([finding(), finding(detector="errors", end="2026-11-27T11:00Z")],
                                 tmp_path / "findings.json")
    frame = alerts.load_findings(path)
    from_frame = alerts.alerts_from_findings(frame, now=NOW.timestamp())
    from_dicts = alerts.alerts_from_findings(json.loads(path.read_text()), now=NOW.timestamp())
    assert from_frame == from_dicts
    assert [("endsAt" in a) for a in from_frame] == [False, True]


def test_findings_json_round_trips_through_the_frame(tmp_path: Path) -> None:
    extra = finding(observed=math.nan, trace_ids=[], report="daily")
    path = alerts.write_findings([extra], tmp_path / "out" / "findings.json")
    doc = json.loads(path.read_text())
    assert doc[0]["observed"] is None and doc[0]["end"] is None and doc[0]["report"] == "daily"
    assert len(doc[0]["fingerprint"]) == 16
    frame = alerts.load_findings(path)
    assert str(frame["start"].dtype) == "datetime64[ns, UTC]"
    assert frame["end"].isna().all() and math.isnan(frame["observed"].iloc[0])
    assert frame["series"].iloc[0]["agent"] == "planner"
    assert frame["report"].iloc[0] == "daily"
    again = alerts.write_findings(frame, tmp_path / "again.json")
    assert json.loads(again.read_text()) == doc


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "not valid JSON"),
    ('{"findings": []}', "expected a JSON list of findings"),
    ('[{"detector": "d", "series": {}, "start": "2026-01-01", "severity": "info"}, 3]',
     "finding 1: expected an object"),
    ('[{"detector": "d", "series": {}, "severity": "info"}]', "finding 0: start is required"),
    ('[{"detector": "d", "series": {}, "start": "yesterday-ish", "severity": "info"}]',
     "finding 0: start must be an RFC 3339 time"),
    ('[{"detector": "", "series": {}, "start": "2026-01-01", "severity": "info"}]',
     "finding 0: detector must be a non-empty string"),
    ('[{"detector": "d", "series": [], "start": "2026-01-01", "severity": "info"}]',
     "finding 0: series must be an object"),
    ('[{"detector": "d", "series": {}, "start": "2026-01-01", "severity": "info", '
     '"trace_ids": "abc"}]', "finding 0: trace_ids must be a list"),
    ('[{"detector": "d", "series": {}, "start": "2026-01-01", "severity": "info", '
     '"score": "high"}]', "finding 0: score must be a number"),
])
def test_a_malformed_findings_file_names_the_file_and_the_finding(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "findings.json"
    path.write_text(content)
    with pytest.raises(AlertError) as info:
        alerts.load_findings(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_a_missing_findings_file_is_an_alert_error(tmp_path: Path) -> None:
    with pytest.raises(AlertError, match="cannot read findings file"):
        alerts.load_findings(tmp_path / "nope.json")


def test_webhook_payload_has_alertmanagers_webhook_shape() -> None:
    doc = alerts.webhook_payload([finding(), finding(detector="errors",
                                                     end="2026-11-27T11:00:00Z")],
                                 report_url="http://r/1.html")
    assert doc["version"] == "4" and doc["status"] == "firing" and doc["truncatedAlerts"] == 0
    assert [a["status"] for a in doc["alerts"]] == ["firing", "resolved"]
    assert doc["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert doc["alerts"][1]["endsAt"] == "2026-11-27T11:00:00.000Z"
    assert doc["commonLabels"] == {"severity": "warning", "metric":
                                   "agent_execution_duration_seconds", "agent": "planner"}
    assert doc["externalURL"] == "http://r/1.html"
    assert doc["alerts"][0]["fingerprint"] == doc["alerts"][0]["labels"]["fingerprint"]
    json.dumps(doc)  # plain JSON


def test_push_checks_its_url_and_sends_nothing_for_no_findings(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="alertmanager_url"):
        alerts.push([finding()], "localhost:9093")
    assert alerts.push([], "http://127.0.0.1:9", spool_dir=tmp_path).ok


def test_an_unusable_spool_dir_is_an_alert_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(AlertError, match="cannot use the alert spool"):
        alerts.push([finding()], "http://127.0.0.1:9", spool_dir=blocker / "spool")


def test_a_corrupt_spool_line_is_set_aside_not_dropped_and_blocks_nothing(tmp_path: Path) -> None:
    spool = tmp_path / "pending-alerts.jsonl"
    spool.write_text('{"alertmanager_url": "http://a", "alert": {"labels": {"x": "1"}}}\n'
                     '{oops\n')
    with pytest.warns(UserWarning, match=r"pending-alerts.jsonl:2 .*moved to"):
        result = alerts.push([finding()], "http://127.0.0.1:9", spool_dir=tmp_path)
    assert result.spooled  # the push went on: its alert waits in the spool for the next one
    assert "{oops" not in spool.read_text() and '"x":"1"' in spool.read_text()
    aside = json.loads((tmp_path / "pending-alerts.corrupt.jsonl").read_text())
    assert aside == {"line": 2, "text": "{oops"}


# --- rules from baselines ----------------------------------------------------------------------


def test_rules_from_plain_baselines() -> None:
    doc = alerts.rules_from_baselines({
        "agent_p95_latency_seconds": {"planner": 2.5},
        "agent_error_ratio": {"coder": 0.2, "planner": 0.001},
    }, factor=2, for_="15m")
    rules = {(r["alert"], r["labels"]["agent"]): r for r in doc["groups"][0]["rules"]}
    latency = rules[("AgentLatencyAboveBaseline", "planner")]
    assert latency["expr"].endswith("> 5.0") and latency["for"] == "15m"
    assert 'agent_execution_duration_seconds_bucket{agent="planner"}' in latency["expr"]
    assert rules[("AgentErrorRatioAboveBaseline", "coder")]["expr"].endswith("> 0.4")
    assert rules[("AgentErrorRatioAboveBaseline", "planner")]["expr"].endswith("> 0.051")
    assert "learned baseline 2.5s" in latency["annotations"]["summary"]


def test_rules_from_explicit_baselines_quote_label_values() -> None:
    doc = alerts.rules_from_baselines([
        alerts.Baseline("model_tokens_per_call", {"provider": "openai", "model": 'gpt"4o'}, 1000),
    ])
    (rule,) = doc["groups"][0]["rules"]
    assert 'model="gpt\\"4o"' in rule["expr"] and 'token_type=~"input|output"' in rule["expr"]
    assert "sum by (provider, model)" in rule["expr"] and rule["expr"].endswith("> 1500.0")


@pytest.mark.parametrize(("baselines", "message"), [
    ({"p99_latency": {"a": 1}}, "unknown kind"),
    ({"agent_error_ratio": {"a": -1}}, "finite number >= 0"),
    ([{"kind": "agent_error_ratio", "labels": {"model": "x"}, "value": 0.1}], "needs a 'agent'"),
    ("planner", "expected a mapping"),
])
def test_bad_baselines_are_configuration_errors(baselines: object, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        alerts.rules_from_baselines(baselines)


def _history() -> pd.DataFrame:
    """Counters for one agent and one model over 10 minutes, with a counter reset."""
    t = [0.0, 300.0, 600.0]
    parts = [
        metrics_frame(t, "agent_execution_total", [0, 45, 95],
                      {"agent": "planner", "status": "success"}),
        metrics_frame(t, "agent_execution_total", [0, 3, 1],  # reset: 3 + 1 errors
                      {"agent": "planner", "status": "error"}),
    ]
    for le, counts in (("1", [0, 10, 20]), ("2.5", [0, 40, 80]), ("5", [0, 48, 96]),
                       ("+Inf", [0, 50, 100])):
        parts.append(metrics_frame(t, "agent_execution_duration_seconds_bucket", counts,
                                   {"agent": "planner", "status": "success", "le": le}))
    for token_type, counts in (("input", [0, 5000, 10000]), ("output", [0, 1000, 2000]),
                               ("cache_read", [0, 4000, 8000])):
        parts.append(metrics_frame(t, "llm_tokens_used_total", counts,
                                   {"agent": "planner", "provider": "openai",
                                    "model": "gpt-4o", "token_type": token_type}))
    parts.append(metrics_frame(t, "llm_request_duration_seconds_count", [0, 6, 12],
                               {"provider": "openai", "model": "gpt-4o", "status": "success"}))
    return pd.concat(parts, ignore_index=True)


def test_baselines_are_learned_from_a_metrics_frame() -> None:
    learned = {(b.kind, tuple(sorted(b.labels.items()))): b.value
               for b in alerts.learn_baselines(_history())}
    ratio = learned[("agent_error_ratio", (("agent", "planner"),))]
    assert ratio == pytest.approx(4 / 99, rel=1e-4)
    # 95th of 100 runs: between the le=2.5 (80) and le=5 (96) buckets
    assert learned[("agent_p95_latency_seconds", (("agent", "planner"),))] == pytest.approx(
        2.5 + 2.5 * (95 - 80) / (96 - 80))
    # input + output only: cache reads are already inside input
    assert learned[("model_tokens_per_call", (("model", "gpt-4o"), ("provider", "openai")))] \
        == pytest.approx(12000 / 12)


def test_generated_rules_name_catalogue_series_and_pass_promtool(tmp_path: Path) -> None:
    path = alerts.write_rule_file(_history(), tmp_path / "baselines.rules.yml")
    doc = yaml.safe_load(path.read_text())
    from agentinsight import catalog

    for rule in doc["groups"][0]["rules"]:
        assert promql_metric_names(rule["expr"]) <= catalog.series_names()
    assert "SUCCESS: 3 rules found" in run("promtool", "check", "rules", path, cwd=tmp_path)


def test_a_generated_rule_fires_above_its_baseline_and_not_below(tmp_path: Path) -> None:
    alerts.write_rule_file({"agent_error_ratio": {"coder": 0.02, "planner": 0.02}},
                           tmp_path / "baselines.rules.yml", for_="5m", window="5m")
    rendered = alerts.rules_from_baselines({"agent_error_ratio": {"coder": 0.02}},
                                           for_="5m", window="5m")
    annotations = rendered["groups"][0]["rules"][0]["annotations"]
    tests = {"rule_files": ["baselines.rules.yml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [
            {"series": 'agent_execution_total{agent="coder",status="success"}',
             "values": "0+90x30"},
            {"series": 'agent_execution_total{agent="coder",status="error"}', "values": "0+10x30"},
            {"series": 'agent_execution_total{agent="planner",status="success"}',
             "values": "0+99x30"},
            {"series": 'agent_execution_total{agent="planner",status="error"}',
             "values": "0+1x30"},
        ],
        "alert_rule_test": [{
            "eval_time": "20m", "alertname": "AgentErrorRatioAboveBaseline",
            "exp_alerts": [{
                "exp_labels": {"severity": "warning", "source": "agentinsight-baseline",
                               "baseline": "agent_error_ratio", "agent": "coder"},
                "exp_annotations": {
                    k: v.replace("{{ $labels.agent }}", "coder")
                        .replace("{{ $value | humanizePercentage }}", "10%")
                    for k, v in annotations.items()},
            }],
        }],
    }]}
    (tmp_path / "baselines.test.yml").write_text(yaml.safe_dump(tests))
    assert "SUCCESS" in run("promtool", "test", "rules", "baselines.test.yml", cwd=tmp_path)


# --- command line -----------------------------------------------------------------------------


def test_cli_webhook_prints_the_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = alerts.write_findings([finding()], tmp_path / "findings.json")
    assert cli_main(["alerts", "webhook", "--findings", str(path),
                     "--jaeger", "http://jaeger:16686"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["alerts"][0]["labels"]["agent"] == "planner"
    assert doc["alerts"][0]["annotations"]["trace_urls"].startswith("http://jaeger:16686/trace/")


def test_cli_rules_writes_a_rule_file(tmp_path: Path) -> None:
    baselines = tmp_path / "baselines.json"
    baselines.write_text(json.dumps({"agent_p95_latency_seconds": {"planner": 3}}))
    out = tmp_path / "rules" / "baselines.yml"
    assert cli_main(["alerts", "rules", "--baselines", str(baselines), "--out", str(out)]) == 0
    (rule,) = yaml.safe_load(out.read_text())["groups"][0]["rules"]
    assert rule["labels"]["agent"] == "planner" and rule["expr"].endswith("> 4.5")


def test_cli_reports_a_bad_findings_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "findings.json"
    path.write_text('[{"detector": "d", "series": {}, "start": "2026-01-01", "severity": "bad"}]')
    code = cli_main(["alerts", "push", "--findings", str(path),
                     "--alertmanager", "http://127.0.0.1:9"])
    assert code == 1
    assert (f"{path}: finding 0: severity must be one of info, warning, critical"
            in capsys.readouterr().err)


def test_push_result_reads_well_in_a_terminal_and_a_notebook() -> None:
    result = alerts.PushResult(sent=["a", "b"], resolved=["c"],
                               rejected=[alerts.Rejection("d", "start time must be <b>before</b>")])
    assert str(result).splitlines() == [
        "2 firing sent, 1 resolved sent, 0 spooled, 1 rejected",
        "rejected d: start time must be <b>before</b>",
    ]
    assert not result.ok
    html = result._repr_html_()
    assert "<td>firing sent</td><td>2</td>" in html and "&lt;b&gt;before" in html
