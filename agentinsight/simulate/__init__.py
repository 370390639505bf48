"""A simulated agent fleet: days of realistic history, with labelled incidents, in seconds.

``simulate(out_dir, days=7)`` plays a fleet of agents (planner, researcher, coder, reviewer,
summariser, support, ...) through the real :mod:`agentinsight.emit` code on a virtual clock and
writes, into ``out_dir``:

``metrics.om``
    OpenMetrics text with timestamps: the emit registry as Prometheus would have scraped it every
    ``scrape_interval`` seconds over the whole span (one MetricFamily block per metric, all its
    timestamped samples inside, ending ``# EOF``). Counter values are exactly what the registry
    held at each scrape. Load it with :func:`agentinsight.stack.load.backfill_prometheus` or
    :func:`agentinsight.stack.load.import_victoriametrics`, or read it with ``FileSource``.
``spans.jsonl``
    OTLP JSON, one ``TracesData`` per line (1,000 spans each, in the order they ended), encoded
    by emit's file-exporter code. Load it into Jaeger with
    :func:`agentinsight.stack.load.load_jaeger_otlp`.
``truth.json``
    The ground truth: the fleet (agents, models), every injected incident (``kind``, the series
    ``labels`` it affects — ``{}`` means every series of its ``metrics`` — ``start``, ``end`` = the
    last moment its effect was seen, a few affected ``trace_ids``, and ``details`` such as the
    factor applied) and exact ``totals``: runs per agent and status, tasks, tool calls, LLM calls,
    tokens per model and token type, and under ``series`` the final value of every counter
    series (``_total`` and histogram ``_count``) at the end time.

The fleet: tasks arrive as a Poisson process with a business-hours daily cycle and quiet
weekends, are submitted through the fleet's HTTP API (``POST /v1/tasks``, timed by emit's ASGI
middleware), wait in the ``default`` queue for one of five workers, and run a workflow of agents;
each agent run makes LLM calls (several providers and models, lognormal tokens and latencies,
prompt-cache reads and writes, reasoning tokens), tool calls and memory operations. One incident
of each kind is injected, none on the first day (detectors need history to learn from):
tool latency degradation, an agent's error burst, prompt bloat, a model switch that multiplies
cost, a runaway agent loop, a queue backlog and a traffic drop. Everything follows from ``seed``.

The default scrape interval is 60 s, Prometheus's own default: a week is then ten thousand
scrapes of the six-agent fleet's ~1,070 series (10.8 M samples, a 1.4 GB ``metrics.om``), which
keeps ``simulate(days=7)`` inside two minutes on two cores; every incident lasts tens of minutes or
more, so it spans many scrapes. A finer interval multiplies file size and run time alike.

``simulate`` configures :mod:`agentinsight.emit` for itself (its own registry, the file
exporter, the virtual clock, the cost counter on, so the history carries ``llm_cost_usd_total``
priced at each simulated call's time) and shuts it down at the end; call ``emit.configure()``
again if the same process emits real telemetry afterwards.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agentinsight._time import format_rfc3339, parse_rfc3339, to_epoch
from agentinsight.exceptions import ConfigurationError, InvalidTimeError

__all__ = ["SimulationResult", "finding_matches", "incident_kind", "simulate"]

_FILES = ("metrics.om", "spans.jsonl", "truth.json")


@dataclass(frozen=True)
class SimulationResult:
    """Where ``simulate`` wrote its files, and the ground truth it wrote to ``truth.json``."""

    out_dir: Path
    metrics_path: Path
    spans_path: Path
    truth_path: Path
    truth: dict[str, Any] = field(repr=False)
    seconds: float = 0.0
    #: wall seconds per phase: "run" (the fleet through emit, scrapes included), "scrape" (the
    #: part of "run" spent recording the registry), "write_metrics", "truth"
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def incidents(self) -> list[dict[str, Any]]:
        """The injected incidents, in time order."""
        return list(self.truth["incidents"])


def _rfc3339(t: float) -> str:
    return format_rfc3339(t, digits=3 if t % 1 else 0)


def _parse_start(start: Any) -> float:
    if isinstance(start, bool):
        raise InvalidTimeError(f"simulate(start={start!r}): expected a datetime, ISO string or "
                               "epoch seconds")
    if isinstance(start, int | float):
        return float(start)
    if isinstance(start, str):
        try:
            start = parse_rfc3339(start)
        except InvalidTimeError:
            raise InvalidTimeError(
                f"simulate(start={start!r}): not an ISO 8601 time (e.g. 2026-11-20T00:00:00Z)"
            ) from None
    if isinstance(start, datetime):
        return to_epoch(start)  # naive times are UTC, as everywhere in agentinsight
    ts = getattr(start, "timestamp", None)  # pandas.Timestamp and friends
    if callable(ts):
        return float(ts())
    raise InvalidTimeError(f"simulate(start={start!r}): expected a datetime, ISO string or epoch "
                           "seconds")


def _validate(days: float, agents: int, scrape_interval: float, seed: int) -> None:
    from agentinsight.simulate._fleet import AGENTS

    if isinstance(days, bool) or not isinstance(days, int | float) or not days > 0 \
            or not math.isfinite(days):
        raise ConfigurationError(f"simulate(days={days!r}): expected a positive number of days")
    if isinstance(scrape_interval, bool) or not isinstance(scrape_interval, int | float) \
            or not 1.0 <= scrape_interval <= 3600.0:
        raise ConfigurationError(
            f"simulate(scrape_interval={scrape_interval!r}): expected seconds between 1 and 3600"
        )
    if scrape_interval > days * 86_400:
        raise ConfigurationError(
            f"simulate(days={days}, scrape_interval={scrape_interval}): the span holds no scrape"
        )
    if isinstance(agents, bool) or not isinstance(agents, int) or not 1 <= agents <= len(AGENTS):
        raise ConfigurationError(
            f"simulate(agents={agents!r}): expected an integer from 1 to {len(AGENTS)} "
            f"({', '.join(a.name for a in AGENTS)})"
        )
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigurationError(f"simulate(seed={seed!r}): expected a non-negative integer")


def simulate(
    out_dir: str | os.PathLike[str],
    *,
    days: float = 7.0,
    start: Any = None,
    agents: int = 6,
    seed: int = 0,
    scrape_interval: float = 60.0,
    incidents: bool = True,
    service: str = "agent-fleet",
    cost: bool = True,
) -> SimulationResult:
    """Simulate ``days`` of an agent fleet and write metrics.om, spans.jsonl and truth.json.

    ``start`` (datetime, ISO string or epoch seconds; naive means UTC) defaults to now minus
    ``days``, aligned down to the scrape interval. ``agents`` takes the first N of planner,
    researcher, coder, reviewer, summariser, support, triage, translator. With an explicit
    ``start``, the same arguments write the same files, byte for byte. ``cost=False`` leaves
    emit's cost counter off (no ``llm_cost_usd_total`` in the history).

    >>> import tempfile
    >>> from agentinsight.simulate import simulate
    >>> result = simulate(tempfile.mkdtemp(), days=0.05, start="2026-11-02T09:00:00Z")
    >>> result.truth["totals"]["runs"]["planner"]["success"] > 0
    True
    >>> result.metrics_path.read_text().endswith("# EOF\\n")
    True
    """
    from prometheus_client import CollectorRegistry

    from agentinsight import emit
    from agentinsight.formats.openmetrics import write_samples_cache
    from agentinsight.simulate._fleet import AGENTS, MODELS
    from agentinsight.simulate._run import FleetRun
    from agentinsight.simulate._spans import SpanFile

    _validate(days, agents, scrape_interval, seed)
    if not isinstance(service, str) or not service:
        raise ConfigurationError(f"simulate(service={service!r}): expected a non-empty name")
    interval = float(scrape_interval)
    if start is None:
        start_s = math.floor((time.time() - days * 86_400) / interval) * interval
    else:
        start_s = _parse_start(start)
    n_scrapes = int(math.floor(days * 86_400 / interval + 1e-9))
    end_s = start_s + n_scrapes * interval

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name in _FILES:
            (out / name).unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"simulate(out_dir={str(out)!r}): {exc}") from exc
    metrics_path, spans_path, truth_path = (out / name for name in _FILES)

    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    fleet = list(AGENTS[:agents])
    registry = CollectorRegistry()
    sim = FleetRun(start_s=start_s, end_s=end_s, scrape_interval=interval, agents=fleet,
                   seed=seed, incidents=incidents, registry=registry)
    instance = str(uuid.uuid5(uuid.NAMESPACE_URL, f"agentinsight-sim/{service}/{seed}"))
    span_file = SpanFile(str(spans_path), instance_id=instance)
    # OpenTelemetry draws trace and span ids from the `random` module: seed it for the run so
    # the same seed writes the same ids, and give the caller's generator state back afterwards.
    saved = random.getstate()
    random.seed(seed)
    try:
        # The export queue holds more spans than a run makes, so none can be dropped.
        # Cost on: the history carries llm_cost_usd_total, priced at each simulated call's time.
        emit.configure(service, span_exporter=span_file, registry=registry, sample_ratio=1.0,
                       max_queue_size=1 << 22, max_export_batch_size=4096, cost=cost)
        emit.use_clock(sim.sched.clock)
        try:
            t_run = time.perf_counter()
            sim.run()
            timings["run"] = time.perf_counter() - t_run
        finally:
            emit.use_clock(None)
            emit.shutdown()
    finally:
        random.setstate(saved)
    if span_file.written != sim.spans_total:
        raise RuntimeError(f"simulate: {sim.spans_total} spans made but {span_file.written} "
                           f"written to {spans_path}")
    timings["scrape"] = sim.scrape_seconds
    t_write = time.perf_counter()
    with open(metrics_path, "w", encoding="utf-8") as fh:
        sim.recorder.write(fh)
    # The parsed copy FileSource would otherwise make on first read (a week parses in a minute).
    write_samples_cache(metrics_path, *sim.recorder.samples())
    timings["write_metrics"] = time.perf_counter() - t_write
    t_truth = time.perf_counter()

    truth = _truth(sim, seed=seed, start_s=start_s, end_s=end_s, interval=interval,
                   service=service, agents=fleet, models=MODELS)
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    timings["truth"] = time.perf_counter() - t_truth
    return SimulationResult(out, metrics_path, spans_path, truth_path, truth,
                            time.perf_counter() - t0, timings)


def _nested(totals: dict[tuple[str, tuple[str, ...]], int], series: str, outer: int,
            inner: int) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for (name, labels), value in sorted(totals.items()):
        if name == series:
            bucket = out[labels[outer]]
            bucket[labels[inner]] = bucket.get(labels[inner], 0) + value
    return {k: dict(sorted(v.items())) for k, v in sorted(out.items())}


_SERIES_LABELS = {
    "agent_execution_total": ("agent", "status"),
    "tool_usage_total": ("agent", "tool", "status"),
    "task_total": ("task_type", "status"),
    "llm_tokens_used_total": ("agent", "provider", "model", "token_type"),
    "llm_request_duration_seconds_count": ("provider", "model", "status"),
    "tool_execution_duration_seconds_count": ("tool", "status"),
    "memory_operation_duration_seconds_count": ("operation",),
    "api_request_duration_seconds_count": ("method", "route", "status_code"),
}


def _truth(sim: Any, *, seed: int, start_s: float, end_s: float, interval: float, service: str,
           agents: list[Any], models: dict[str, Any]) -> dict[str, Any]:
    totals = sim.totals
    used_models = sorted({a.model for a in agents} | {
        i.details["to_model"] for i in sim.incidents if i.kind == "model_switch"})
    series: dict[str, list[dict[str, Any]]] = {}
    for name, label_names in _SERIES_LABELS.items():
        rows = [
            {"labels": dict(zip(label_names, labels, strict=True)), "value": value}
            for (n, labels), value in sorted(totals.items()) if n == name
        ]
        series[name] = rows
    return {
        "version": 1,
        "seed": seed,
        "start": _rfc3339(start_s),
        "end": _rfc3339(end_s),
        "scrape_interval_s": interval,
        "service": service,
        "agents": [
            {"name": a.name, "model": a.model, "provider": models[a.model].provider,
             "tools": list(a.tools)}
            for a in agents
        ],
        "models": [
            {"model": m, "provider": models[m].provider,
             "response_model": models[m].response_model}
            for m in used_models
        ],
        "incidents": [
            {
                "id": inc.id,
                "kind": inc.kind,
                "labels": dict(inc.labels),
                "metrics": list(inc.metrics),
                "start": _rfc3339(inc.start),
                "end": _rfc3339(inc.end),
                "description": inc.description,
                "trace_ids": list(inc.trace_ids),
                "details": dict(inc.details, cause_end=_rfc3339(inc.cause_end)),
            }
            for inc in sim.incidents
        ],
        "totals": {
            "runs": _nested(totals, "agent_execution_total", 0, 1),
            "tasks": _nested(totals, "task_total", 0, 1),
            "tool_calls": _nested(totals, "tool_usage_total", 1, 2),
            "llm_calls": _nested(totals, "llm_request_duration_seconds_count", 1, 2),
            "tokens": _nested(totals, "llm_tokens_used_total", 2, 3),
            "spans": sim.spans_until_end,
            "series": series,
        },
    }


#: Incident kinds whose failing agent runs fail the task that ran them: the task span (which, like
#: the service's HTTP server span, belongs to no agent) ends in error, so an error burst on the
#: spans grouped as ``service=...`` is their effect too. The other kinds make nothing fail.
_SERVICE_ERROR_KINDS = frozenset({"error_burst", "runaway_loop"})

#: An HTTP server span is named ``{method} {route}`` (OpenTelemetry's HTTP conventions), and
#: emit's middleware times the same request in this histogram with those two labels.
_HTTP_SPAN = re.compile(r"(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS|CONNECT|TRACE) (/\S*)")
_HTTP_DURATION = "api_request_duration_seconds"


def incident_kind(incident: Mapping[str, Any]) -> str:
    """The kind of a labelled incident of ``truth.json``: its ``kind``, or for an incident
    written without one, the kind its id spells (``inc-03-tool-latency``).

    >>> incident_kind({"id": "inc-03-tool-latency"}), incident_kind({"kind": "traffic_drop"})
    ('tool_latency', 'traffic_drop')
    """
    return str(incident.get("kind") or
               str(incident.get("id", "")).split("-", 2)[-1].replace("-", "_"))


def finding_matches(finding: Mapping[str, Any], incident: Mapping[str, Any], *,
                    slack_s: float = 600.0, service: str | None = None) -> bool:
    """Whether a finding (a row of a findings frame, as a dict) is about a labelled incident of
    ``truth.json``: it overlaps the incident (up to ``slack_s`` after its end) on a series the
    incident affects.

    The series rule, label by label:

    * ``__name__``: the metric (before ``:``) is one of the incident's ``metrics``;
    * ``operation`` (trace findings name a span): a ``latency_outlier`` on an HTTP server span
      ``METHOD /route`` is the same requests as ``api_request_duration_seconds{method, route}``
      and is judged as that series (true only for an incident listing that metric, e.g. the
      queue backlog, whose task submissions wait for a database connection); any other span
      name must contain one of the incident's label values (``execute_tool web_search``);
    * ``service`` on a trace finding (an error burst on spans that belong to no agent: the
      service's task and HTTP server spans): true only when the incident names that service
      in its labels, or for an ``error_burst`` finding when the incident's kind makes those
      spans fail (``error_burst`` and ``runaway_loop``: a failing agent run fails its task).
      ``service`` given here is the simulated fleet's service (``truth["service"]``): a burst
      on another service's spans is never the incident's;
    * any other label the incident lists must agree (the model a switch came from counts as
      the incident's model); a label the incident does not list is not held against it.

    >>> incident = {"start": "2026-11-02T10:00:00Z", "end": "2026-11-02T11:00:00Z",
    ...             "kind": "error_burst", "labels": {"agent": "support"},
    ...             "metrics": ["agent_execution_total"]}
    >>> finding = {"start": "2026-11-02T10:30:00Z", "end": "2026-11-02T10:40:00Z",
    ...            "series": {"__name__": "agent_execution_total:rate", "agent": "support"}}
    >>> finding_matches(finding, incident), finding_matches({**finding, "series": {"agent": "x"}},
    ...                                                     incident)
    (True, False)
    >>> burst = {**finding, "detector": "error_burst", "series": {"service": "agent-fleet"}}
    >>> (finding_matches(burst, incident),
    ...  finding_matches(burst, {**incident, "kind": "traffic_drop", "labels": {}}))
    (True, False)
    """
    def epoch(value: Any) -> float:
        return to_epoch(parse_rfc3339(value) if isinstance(value, str) else value)

    start, end = epoch(incident["start"]), epoch(incident["end"]) + slack_s
    if epoch(finding["end"]) < start or epoch(finding["start"]) > end:
        return False
    detector = finding.get("detector", "")
    series = dict(finding["series"])
    http = _HTTP_SPAN.fullmatch(str(series.get("operation", "")))
    if http is not None and detector == "latency_outlier":
        del series["operation"]
        series.update({"__name__": _HTTP_DURATION, "method": http[1], "route": http[2]})
    kind = incident_kind(incident)
    allowed = {k: {v} for k, v in incident["labels"].items()}
    if "from_model" in incident.get("details", {}):
        allowed.setdefault("model", set()).add(incident["details"]["from_model"])
    for key, value in series.items():
        if key == "__name__":
            if value.split(":")[0] not in incident["metrics"]:
                return False
        elif key == "operation":  # trace findings name the span, e.g. "execute_tool web_search"
            if not any(v in value for vs in allowed.values() for v in vs):
                return False
        elif key == "service" and "__name__" not in series:
            if service is not None and value != service:
                return False
            if "service" in allowed:
                if value not in allowed["service"]:
                    return False
            elif detector != "error_burst" or kind not in _SERVICE_ERROR_KINDS:
                return False
        elif key in allowed and value not in allowed[key]:
            return False
    return True
