"""The simulated fleet: reproducible files, exact counters, and incidents a user can see."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest

from agentinsight import cli
from agentinsight.exceptions import ConfigurationError, InvalidTimeError
from agentinsight.simulate import finding_matches, simulate
from agentinsight.simulate._fleet import INCIDENT_KINDS, schedule_incidents

# A Monday: the day's business hours hold every incident of a one-day run.
START = "2026-11-02T00:00:00Z"
_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+) (\S+)$')


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _series(path: Path, names: set[str]) -> dict[tuple[str, str], list[tuple[float, float]]]:
    """(sample name, label text) -> [(t, value)] for the sample names asked for."""
    out: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line[0] == "#" or line[: line.find("{")] not in names:
                continue
            m = _LINE.match(line.rstrip("\n"))
            assert m, f"not a timestamped sample line: {line!r}"
            out[(m[1], m[2] or "")].append((float(m[4]), float(m[3])))
    return out


def _labels(text: str) -> dict[str, str]:
    return dict(re.findall(r'(\w+)="([^"]*)"', text))


def _increase(points: list[tuple[float, float]], lo: float, hi: float) -> float:
    """Counter increase over (lo, hi]: last value at or before hi minus last at or before lo."""
    def at(t: float) -> float:
        value = 0.0
        for ts, v in points:
            if ts > t:
                break
            value = v
        return value
    return at(hi) - at(lo)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory):
    """One simulated Monday (seven short incidents in its business hours)."""
    return simulate(tmp_path_factory.mktemp("day"), days=1.0, start=START, seed=7)


@pytest.fixture(scope="module")
def spans(day) -> list[dict]:
    out = []
    with open(day.spans_path, encoding="utf-8") as fh:
        for line in fh:
            for rs in json.loads(line)["resourceSpans"]:
                for ss in rs["scopeSpans"]:
                    out.extend(ss["spans"])
    return out


def _attrs(span: dict) -> dict:
    out = {}
    for a in span.get("attributes", []):
        v = a["value"]
        out[a["key"]] = int(v["intValue"]) if "intValue" in v else next(iter(v.values()))
    return out


def _incident(day, kind: str) -> tuple[dict, float, float]:
    inc = next(i for i in day.truth["incidents"] if i["kind"] == kind)
    return inc, _ts(inc["start"]), _ts(inc["end"])


def test_same_seed_writes_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    a = simulate(tmp_path / "a", days=0.08, start="2026-11-02T10:00:00Z", seed=3)
    b = simulate(tmp_path / "b", days=0.08, start="2026-11-02T10:00:00Z", seed=3)
    c = simulate(tmp_path / "c", days=0.08, start="2026-11-02T10:00:00Z", seed=4)
    for name in ("metrics.om", "spans.jsonl", "truth.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert a.metrics_path.read_bytes() != c.metrics_path.read_bytes()
    assert a.truth["totals"] == b.truth["totals"] != c.truth["totals"]


def test_truth_describes_the_run(day) -> None:
    truth = day.truth
    assert truth["version"] == 1 and truth["seed"] == 7
    assert (truth["start"], truth["end"]) == ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
    assert truth["scrape_interval_s"] == 60.0 and truth["service"] == "agent-fleet"
    assert [a["name"] for a in truth["agents"]] == [
        "planner", "researcher", "coder", "reviewer", "summariser", "support"]
    assert {m["provider"] for m in truth["models"]} == {"openai", "anthropic", "gcp.gemini"}
    assert sorted(i["kind"] for i in truth["incidents"]) == sorted(INCIDENT_KINDS)
    ends = []
    for inc in truth["incidents"]:
        assert set(inc) >= {"id", "kind", "labels", "metrics", "start", "end", "description",
                            "trace_ids"}
        assert _ts(inc["start"]) >= _ts(truth["start"]) + 0.4 * 86_400  # history comes first
        assert _ts(inc["end"]) > _ts(inc["start"])
        ends.append((_ts(inc["start"]), _ts(inc["end"])))
        if inc["kind"] != "traffic_drop":
            assert inc["trace_ids"], inc["id"]
    ends.sort()
    for (_, end), (start, _) in zip(ends, ends[1:], strict=False):
        assert start > end, "incidents overlap"


def test_a_week_keeps_incidents_off_the_first_day_apart_and_in_daytime() -> None:
    start = _ts("2026-11-16T00:00:00Z")
    plan = schedule_incidents(start, start + 7 * 86_400, seed=0)
    assert sorted(k for k, _, _ in plan) == sorted(INCIDENT_KINDS)
    times = sorted((t0, t1) for _, t0, t1 in plan)
    assert times[0][0] >= start + 86_400
    for (_, end), (nxt, _) in zip(times, times[1:], strict=False):
        assert nxt - end >= 3600
    for t0, t1 in times:
        assert 30 * 60 <= t1 - t0 <= 4 * 3600
        assert 8 <= (t0 % 86_400) / 3600 <= 16
    assert schedule_incidents(start, start + 7 * 86_400, seed=1) != plan


def test_metrics_file_is_openmetrics_with_families_together(day) -> None:
    text_tail = day.metrics_path.read_bytes()[-64:]
    assert text_tail.endswith(b"\n# EOF\n")
    seen: list[str] = []
    with open(day.metrics_path, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("# TYPE "):
                seen.append(line.split()[2])
    assert len(seen) == len(set(seen)), "a metric family appears in two blocks"
    assert {"agent_execution", "llm_tokens_used", "task_queue_size", "database_connections",
            "memory_operation_duration_seconds", "gen_ai_client_token_usage"} <= set(seen)


def test_histogram_points_are_complete_metricpoints_in_time_order(tmp_path: Path) -> None:
    # OpenMetrics: inside a family, one label set after another; for each label set its points
    # in time order, each point's buckets ascending to +Inf, then _count (= +Inf) and _sum.
    result = simulate(tmp_path, days=0.02, start="2026-11-02T10:00:00Z", seed=1)
    family = "agent_execution_duration_seconds"
    points: dict[str, list[tuple[float, list[tuple[str, float]]]]] = defaultdict(list)
    for line in result.metrics_path.read_text().splitlines():
        m = _LINE.match(line)
        if not m or not m[1].startswith(family):
            continue
        labels = _labels(m[2])
        le = labels.pop("le", None)
        group = points[json.dumps(labels, sort_keys=True)]
        t = float(m[4])
        if not group or group[-1][0] != t:
            assert not group or group[-1][0] < t
            group.append((t, []))
        group[-1][1].append((m[1][len(family):] + (f"[{le}]" if le else ""), float(m[3])))
    assert points
    for series in points.values():
        for _, samples in series:
            names = [n for n, _ in samples]
            assert names[-3:] == ["_bucket[+Inf]", "_count", "_sum"]
            bounds = [float(n[8:-1]) for n in names[:-2]]
            assert bounds == sorted(bounds)
            values = dict(samples)
            assert values["_count"] == values["_bucket[+Inf]"]


def test_last_counter_values_in_the_file_equal_the_truth_totals(day) -> None:
    series_truth = day.truth["totals"]["series"]
    got = _series(day.metrics_path, set(series_truth))
    end = _ts(day.truth["end"])
    for name, rows in series_truth.items():
        expected = {tuple(sorted(r["labels"].items())): r["value"] for r in rows}
        found = {}
        for (sample, labeltext), points in got.items():
            if sample == name:
                assert points[-1][0] == end
                found[tuple(sorted(_labels(labeltext).items()))] = points[-1][1]
        for key in set(expected) | set(found):
            assert found.get(key, 0) == expected.get(key, 0), (name, key)
    runs = day.truth["totals"]["runs"]
    assert sum(runs["planner"].values()) > 500 and runs["support"]["error"] > 0


def test_error_burst_shows_in_the_agents_error_ratio(day) -> None:
    inc, lo, hi = _incident(day, "error_burst")
    agent = inc["labels"]["agent"]
    got = _series(day.metrics_path, {"agent_execution_total"})
    runs = {_labels(k[1])["status"]: v for k, v in got.items() if _labels(k[1])["agent"] == agent}
    start, end = _ts(day.truth["start"]), _ts(day.truth["end"])

    def ratio(a: float, b: float) -> float:
        err = _increase(runs["error"], a, b)
        return err / max(1.0, err + _increase(runs["success"], a, b))

    inside = ratio(lo, hi)
    outside = (_increase(runs["error"], start, lo) + _increase(runs["error"], hi, end)) / max(
        1.0, sum(_increase(p, start, lo) + _increase(p, hi, end) for p in runs.values()))
    assert inside > 0.3 and inside > 10 * outside


def test_tool_latency_degradation_shows_in_the_mean_duration(day) -> None:
    inc, lo, hi = _incident(day, "tool_latency")
    tool = inc["labels"]["tool"]
    got = _series(day.metrics_path, {"tool_execution_duration_seconds_sum",
                                     "tool_execution_duration_seconds_count"})
    pick = {k[0]: v for k, v in got.items() if _labels(k[1]) == {"tool": tool, "status": "success"}}
    s = pick["tool_execution_duration_seconds_sum"]
    c = pick["tool_execution_duration_seconds_count"]
    start = _ts(day.truth["start"])
    inside = _increase(s, lo, hi) / _increase(c, lo, hi)
    before = _increase(s, start, lo) / _increase(c, start, lo)
    assert inside > 3 * before


def test_prompt_bloat_makes_input_tokens_per_call_jump(day, spans) -> None:
    inc, lo, hi = _incident(day, "prompt_bloat")
    agent_spans = {s["spanId"] for s in spans if _attrs(s).get("gen_ai.agent.name")
                   == inc["labels"]["agent"]}
    inside, outside = [], []
    for s in spans:
        if s["name"].startswith("chat ") and s.get("parentSpanId") in agent_spans:
            tokens = _attrs(s).get("gen_ai.usage.input_tokens")
            if tokens is None:
                continue
            t = int(s["startTimeUnixNano"]) / 1e9
            (inside if lo <= t < _ts(inc["details"]["cause_end"]) else outside).append(tokens)
    assert len(inside) > 10
    assert sum(inside) / len(inside) > 3 * sum(outside) / len(outside)


def test_model_switch_moves_the_agent_to_a_dearer_model_only_inside_the_window(day) -> None:
    inc, lo, hi = _incident(day, "model_switch")
    agent, new = inc["labels"]["agent"], inc["labels"]["model"]
    got = _series(day.metrics_path, {"llm_tokens_used_total"})
    key = next(k for k in got if _labels(k[1]) == {
        "agent": agent, "provider": "openai", "model": new, "token_type": "input"})
    points = got[key]
    start, end = _ts(day.truth["start"]), _ts(day.truth["end"])
    # (a call that ends just before `end` shows in the next scrape)
    assert _increase(points, start, lo) == 0 and _increase(points, hi + 60, end) == 0
    assert _increase(points, lo, hi) > 10_000

    from genai_prices import Usage, calc_price

    old = inc["details"]["from_model"]
    when = datetime.fromisoformat(day.truth["start"].replace("Z", "+00:00"))
    usage = Usage(input_tokens=5000, output_tokens=400)
    price = {m: calc_price(usage, model_ref=m, genai_request_timestamp=when).total_price
             for m in (old, new)}
    assert price[new] > 5 * price[old]


def test_runaway_loop_makes_many_llm_calls_in_one_run(day, spans) -> None:
    inc, lo, hi = _incident(day, "runaway_loop")
    agent = inc["labels"]["agent"]
    runs = {s["spanId"]: s for s in spans if _attrs(s).get("gen_ai.agent.name") == agent
            and s["name"].startswith("invoke_agent")}
    calls: dict[str, int] = defaultdict(int)
    for s in spans:
        if s["name"].startswith("chat ") and s.get("parentSpanId") in runs:
            calls[s["parentSpanId"]] += 1
    inside = [n for sid, n in calls.items() if lo <= int(runs[sid]["startTimeUnixNano"]) / 1e9 < hi]
    outside = [n for sid, n in calls.items()
               if not lo <= int(runs[sid]["startTimeUnixNano"]) / 1e9 < hi]
    assert max(inside) >= 25 and max(outside) <= 8
    looping = {t for t in inc["trace_ids"]}
    assert looping <= {s["traceId"] for s in spans}


def test_queue_backlog_fills_the_queue_then_drains(day) -> None:
    inc, lo, hi = _incident(day, "queue_backlog")
    got = _series(day.metrics_path, {"task_queue_size"})
    points = got[("task_queue_size", '{queue="default"}')]
    inside = max(v for t, v in points if lo <= t <= hi)
    outside = max(v for t, v in points if t < lo - 3600 or t > hi + 3600)
    assert inside >= 20 and inside > 2 * max(outside, 1)
    assert [v for t, v in points if t >= hi][0] <= 2  # drained by the end of the incident
    api = _series(day.metrics_path, {"api_request_duration_seconds_sum",
                                     "api_request_duration_seconds_count"})
    s, c = (next(v for k, v in api.items() if k[0] == f"api_request_duration_seconds_{x}")
            for x in ("sum", "count"))
    cause_end = _ts(inc["details"]["cause_end"])
    start = _ts(day.truth["start"])
    stalled = _increase(s, lo, cause_end) / _increase(c, lo, cause_end)
    before = _increase(s, start, lo) / _increase(c, start, lo)
    assert stalled > 1.0 > 0.1 > before  # task submissions wait seconds for a DB connection
    # no task starts, so agent runs stop too: the truth lists their counter among the effects
    runs = _series(day.metrics_path, {"agent_execution_total"}).values()
    stalled_runs = sum(_increase(p, lo + 300, cause_end) for p in runs) / (cause_end - lo - 300)
    runs_before = sum(_increase(p, lo - 3600, lo) for p in runs) / 3600
    assert stalled_runs < 0.1 * runs_before
    assert "agent_execution_total" in inc["metrics"]


def test_traffic_drop_cuts_task_throughput(day) -> None:
    inc, lo, hi = _incident(day, "traffic_drop")
    got = _series(day.metrics_path, {"task_total"})
    per_hour_inside = sum(_increase(p, lo, hi) for p in got.values()) / ((hi - lo) / 3600)
    per_hour_before = sum(_increase(p, lo - 7200, lo) for p in got.values()) / 2
    assert per_hour_inside < 0.4 * per_hour_before


def _finding_over(inc: dict, detector: str, series: dict) -> dict:
    return {"detector": detector, "series": series, "start": inc["start"], "end": inc["end"]}


def test_a_service_error_burst_matches_only_incidents_that_fail_the_services_spans(day) -> None:
    # task and HTTP server spans belong to no agent: their error burst is labelled service=...
    # and is the effect only of incidents whose failing agent runs fail the task that ran them
    service = day.truth["service"]
    matched = sorted(
        inc["kind"] for inc in day.truth["incidents"]
        if finding_matches(_finding_over(inc, "error_burst", {"service": service}), inc,
                           service=service))
    assert matched == ["error_burst", "runaway_loop"]
    burst = next(i for i in day.truth["incidents"] if i["kind"] == "error_burst")
    assert not finding_matches(_finding_over(burst, "error_burst", {"service": "billing"}), burst,
                               service=service)


def test_a_slow_task_submission_span_is_the_backlogs_api_latency(day) -> None:
    # the HTTP server span "POST /v1/tasks" times the same requests as
    # api_request_duration_seconds{method="POST",route="/v1/tasks"}, which the backlog lists
    matched = sorted(
        inc["kind"] for inc in day.truth["incidents"]
        if finding_matches(_finding_over(inc, "latency_outlier",
                                         {"operation": "POST /v1/tasks"}), inc))
    assert matched == ["queue_backlog"]
    backlog = next(i for i in day.truth["incidents"] if i["kind"] == "queue_backlog")
    assert "api_request_duration_seconds" in backlog["metrics"]
    # a route the incident names otherwise is not its effect; nor is an error burst by name
    elsewhere = {**backlog, "labels": {**backlog["labels"], "route": "/v1/other"}}
    assert not finding_matches(
        _finding_over(elsewhere, "latency_outlier", {"operation": "POST /v1/tasks"}), elsewhere)
    assert not finding_matches(
        _finding_over(backlog, "error_burst", {"operation": "POST /v1/tasks"}), backlog)


def test_spans_form_trees_with_genai_attributes(day, spans) -> None:
    ids = {s["spanId"] for s in spans}
    assert all(s.get("parentSpanId", "") in ids or not s.get("parentSpanId") for s in spans)
    names = {s["name"].split(" ")[0] for s in spans}
    assert {"invoke_agent", "chat", "execute_tool", "task"} <= names
    chat = next(s for s in spans if s["name"].startswith("chat ") and "attributes" in s
                and "gen_ai.usage.input_tokens" in _attrs(s))
    attrs = _attrs(chat)
    assert attrs["gen_ai.provider.name"] in {"openai", "anthropic", "gcp.gemini"}
    assert attrs["gen_ai.response.model"]
    assert day.truth["totals"]["spans"] <= len(spans)


def test_cli_writes_the_three_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["simulate", "--days", "0.02", "--out", str(tmp_path), "--seed", "2",
                     "--start", "2026-11-02T10:00:00Z", "--scrape-interval", "30"])
    assert code == 0
    assert {p.name for p in tmp_path.iterdir()} == {
        "metrics.om", "spans.jsonl", "truth.json",
        ".metrics.om.samples.parquet"}  # FileSource's parsed copy, written by the simulator
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["scrape_interval_s"] == 30.0 and truth["seed"] == 2
    assert "metrics.om" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"days": 0}, ConfigurationError, "days=0"),
        ({"agents": 99}, ConfigurationError, "agents=99"),
        ({"scrape_interval": 0.1}, ConfigurationError, "scrape_interval=0.1"),
        ({"start": "last tuesday"}, InvalidTimeError, "last tuesday"),
    ],
)
def test_bad_arguments_name_themselves(tmp_path: Path, kwargs, error, words) -> None:
    with pytest.raises(error, match=re.escape(words)):
        simulate(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())


def test_history_carries_the_cost_counter_equal_to_pricing_the_spans(day) -> None:
    import pandas as pd

    from agentinsight.analysis.cost import price_spans
    from agentinsight.sources import read_otlp_jsonl

    got = _series(day.metrics_path, {"llm_cost_usd_total"})
    assert {_labels(k[1])["agent"] for k in got} == {a["name"] for a in day.truth["agents"]}
    assert not _series(day.metrics_path, {"llm_unpriced_tokens_total"})
    end = _ts(day.truth["end"])
    counted = sum(points[-1][1] for points in got.values() if points[-1][0] == end)
    priced = price_spans(read_otlp_jsonl(day.spans_path))
    billed = priced[priced["billable"] & (priced["end"] <= pd.Timestamp(end, unit="s", tz="UTC"))]
    assert counted == pytest.approx(billed["cost_usd"].sum(), abs=0.005)
    # the runaway loop is visible in dollars: the agent's spend rate jumps inside the window
    inc, lo, hi = _incident(day, "runaway_loop")
    mine = [p for k, p in got.items() if _labels(k[1])["agent"] == inc["labels"]["agent"]]
    inside = sum(_increase(p, lo, hi) for p in mine) / (hi - lo)
    before = sum(_increase(p, lo - (hi - lo), lo) for p in mine) / (hi - lo)
    assert inside > 2 * before
