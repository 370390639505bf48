"""A simulated week with labelled incidents, read back through FileSource, through the daily
report's detection (``fleet_findings``): the incidents are found and false findings stay rare.

A finding is true when it overlaps an incident's window (up to 10 minutes after its end, the
5-minute rate windows lag) on an affected series: the metric (before ``:``) is one the incident
lists and no label contradicts the incident's labels (the model a switch came from counts as the
incident's model); a slow ``POST /v1/tasks`` span is judged as ``api_request_duration_seconds``,
and an error burst on the service's own spans (``service=...``) counts only for the incidents
that fail its tasks (``agentinsight.simulate.finding_matches`` states the rule). Everything else
is a false finding.

The traffic drop is found by ``detect_traffic_drop`` on the fleet's run rate (a Poisson count
test against the same time of day on earlier days). Targets: recall >= 0.9
with at most one false finding per simulated day; ``benchmarks/incident_recall.py`` measures the
same over many seeds and start times.
"""

from __future__ import annotations

import pandas as pd
import pytest

from agentinsight.reports.notebook import DETECTED_SERIES, fleet_findings, spend_per_run
from agentinsight.simulate import finding_matches, incident_kind, simulate
from agentinsight.sources.files import FileSource


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict]:
    out = tmp_path_factory.mktemp("week")
    result = simulate(out, days=7, seed=0, start="2026-11-02T00:00:00Z")
    src = FileSource(out)
    # the frames the daily report detects on (agentinsight.reports.notebook.fleet_findings)
    runs = src.token_usage(by=["agent"], metric="agent_execution_total")
    frames = {
        "queue": src.range("task_queue_size"),
        "tokens": src.token_usage(by=["agent", "model", "token_type"]),
        "runs": runs,
        "cost_per_run": spend_per_run(
            src.token_usage(by=["agent", "model"], metric="llm_cost_usd_total"), runs),
        "tool_latency_p95_30m": src.latency_quantiles(
            "tool_execution_duration_seconds", q=0.95, by=["tool"], step="30m", window="30m"),
        "fleet_runs": src.rate("agent_execution_total", by=[], window="30m"),
    }
    return fleet_findings(frames, src.spans()), result.truth


def test_simulated_incidents_are_found_with_few_false_findings(week) -> None:
    found, truth = week
    incidents = truth["incidents"]
    service = truth["service"]
    hit = {i["id"] for rec in found.to_dict("records") for i in incidents
           if finding_matches(rec, i, service=service)}
    false = [rec for rec in found.to_dict("records")
             if not any(finding_matches(rec, i, service=service) for i in incidents)]
    days = (pd.Timestamp(truth["end"]) - pd.Timestamp(truth["start"])) / pd.Timedelta(days=1)
    recall = len(hit) / len(incidents)
    print(f"recall {len(hit)}/{len(incidents)}, {len(false)} false findings in {days:.1f} days")
    assert recall >= 0.9, f"missed {[i['id'] for i in incidents if i['id'] not in hit]}"
    assert len(false) / days <= 1.0, "\n".join(f["detector"] + ": " + f["summary"] for f in false)
    # the incidents the trace detectors are for are found from spans alone
    kinds = {incident_kind(i): i["id"] for i in incidents}
    by_detector = {d: {i["id"] for rec in found.to_dict("records") if d in rec["detector"]
                       for i in incidents if finding_matches(rec, i, service=service)}
                   for d in ("runaway_run", "error_burst", "latency_outlier")}
    assert kinds["runaway_loop"] in by_detector["runaway_run"]
    assert kinds["error_burst"] in by_detector["error_burst"]
    assert kinds["tool_latency"] in by_detector["latency_outlier"]


def test_runaway_loops_and_spend_spikes_are_findings_priced_in_dollars(week) -> None:
    assert "cost_per_run" in DETECTED_SERIES  # the reports watch what is measured here
    found, truth = week
    spend = [rec for rec in found.to_dict("records")
             if rec["series"].get("__name__", "").startswith("llm_cost_usd_total")]
    incidents = {i["kind"]: i for i in truth["incidents"]}
    caught = sorted(kind for kind, i in incidents.items()
                    if any(finding_matches(rec, i) for rec in spend))
    false = [rec["summary"] for rec in spend
             if not any(finding_matches(rec, i) for i in incidents.values())]
    print(f"spend findings: {len(spend)}, incidents caught {caught}, false {false}")
    assert caught == ["model_switch", "prompt_bloat", "runaway_loop"]
    assert not false
    assert all("$" in rec["summary"] for rec in spend)
