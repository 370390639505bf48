"""Findings → alerts: Alertmanager's v2 API, a webhook JSON document, Prometheus rule files;
spending budgets → recording and burn-rate alerting rules (:func:`rules_from_budgets`).

Push anomaly findings where operators already get their alerts::

    from agentinsight import alerts
    result = alerts.push(findings, "http://localhost:9093", spool_dir="~/.cache/alert-spool")
    print(result)      # 3 firing sent, 1 resolved sent, 0 spooled, 0 rejected

Each finding becomes one Alertmanager alert:

labels
    ``alertname`` (``AgentInsightAnomaly`` + the detector in CamelCase), ``severity``,
    ``detector``, ``fingerprint`` (the finding's stable fingerprint, so pushing the same finding
    again updates the same alert instead of adding one), and the series' labels (``agent``,
    ``model``, ``tool``...; the metric name as ``metric``). Label names are sanitised to
    ``[a-zA-Z_][a-zA-Z0-9_]*``; values longer than 200 characters end in ``…[truncated]``.
annotations
    ``summary``, ``description`` (runbook style), ``observed``, ``expected``, ``score``,
    ``window``, ``report_url`` and ``trace_urls`` (``{jaeger_url}/trace/{id}``, space separated,
    at most five) when known.
times
    ``startsAt`` is the finding's start. A finding that has ended (``end`` set and not in the
    future) is sent with ``endsAt`` = its end, i.e. resolved. An ongoing finding (``end`` is
    null/NaT, an extra ``ongoing`` column is true, or ``end`` is within ``ongoing_within`` of
    the ``data_end`` given to :func:`push` / :func:`write_findings` — still anomalous when the
    analysed data ended) is sent without ``endsAt``: Alertmanager
    keeps it firing for its ``resolve_timeout``, so re-push it while it lasts (scheduled reports
    do). ``generatorURL`` is ``generator_url`` (or ``report_url``).

Delivery: alerts go in batches with retries and exponential backoff on connection errors,
timeouts and HTTP 5xx. If Alertmanager stays unreachable, the alerts are written to
``{spool_dir}/pending-alerts.jsonl`` (JSON lines, rewritten atomically) and sent first on the
next push to the same Alertmanager (the spool names it by its URL with the password shown as
``***``; links in alerts are shown the same way). If Alertmanager refuses a batch (HTTP 400),
the batch is re-sent alert by alert and only the culprit is reported as rejected, with the
server's message.

findings.json (written by :func:`write_findings`, read by :func:`load_findings`) is a JSON list
with one object per finding::

    [{"fingerprint": "9c1d0e4f5a6b7c8d",            # optional: computed when absent
      "detector": "seasonal",                        # required, non-empty string
      "series": {"__name__": "agent_execution_duration_seconds", "agent": "planner"},
      "start": "2026-01-05T10:00:00Z",               # required, RFC 3339
      "end": "2026-01-05T10:45:00Z",                 # RFC 3339, or null while ongoing
      "score": 0.97, "severity": "warning",          # severity: info | warning | critical
      "observed": 41.5, "expected": 6.2,             # numbers or null
      "summary": "planner runs are 6x slower than usual",
      "trace_ids": ["4bf92f3577b34da6a3ce929d0e0e4736"]}]

Other keys are kept as extra columns. Numbers that are not finite are written as null.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from agentinsight._http import redact_url
from agentinsight.alerts import _alertmanager as _am
from agentinsight.alerts._alertmanager import PushResult, Rejection
from agentinsight.alerts._budgets import (
    BUDGET_ALERTS,
    BUDGET_SERIES,
    Budget,
    load_budgets,
    rules_from_budgets,
    write_budget_rules,
)
from agentinsight.alerts._findings_json import (
    Findings,
    _iso,
    _records,
    load_findings,
    write_findings,
)
from agentinsight.alerts._rules import (
    Baseline,
    learn_baselines,
    rules_from_baselines,
    write_rule_file,
)
from agentinsight.exceptions import AlertError, ConfigurationError

SPOOL_FILE = _am.SPOOL_FILE

__all__ = [
    "BUDGET_ALERTS",
    "BUDGET_SERIES",
    "Baseline",
    "Budget",
    "PushResult",
    "Rejection",
    "SPOOL_FILE",
    "alerts_from_findings",
    "default_spool_dir",
    "learn_baselines",
    "load_budgets",
    "load_findings",
    "post_webhook",
    "push",
    "read_baselines",
    "rules_from_baselines",
    "rules_from_budgets",
    "webhook_payload",
    "write_budget_rules",
    "write_findings",
    "write_rule_file",
]

ALERTNAME_PREFIX = "AgentInsightAnomaly"
_RESERVED = ("alertname", "severity", "detector", "fingerprint")
_MAX_TRACE_LINKS = 5


# --- findings → alert documents ------------------------------------------------------------------


def alerts_from_findings(
    findings: Findings,
    *,
    generator_url: str | None = None,
    jaeger_url: str | None = None,
    report_url: str | None = None,
    now: float | None = None,
    data_end: Any = None,
    ongoing_within: Any = "5m",
) -> list[dict[str, Any]]:
    """The Alertmanager v2 alert documents for ``findings`` (a findings frame or list of dicts).

    >>> doc = alerts_from_findings([{"detector": "seasonal", "series": {"agent": "planner"},
    ...     "start": "2026-01-05T10:00:00Z", "end": None, "severity": "warning",
    ...     "summary": "slow planner"}])[0]
    >>> doc["labels"]["alertname"], doc["labels"]["agent"], "endsAt" in doc
    ('AgentInsightAnomalySeasonal', 'planner', False)
    """
    now = time.time() if now is None else now
    return [
        _alert(rec, generator_url, jaeger_url, report_url, now)
        for rec in _records(findings, where="findings", data_end=data_end,
                            ongoing_within=ongoing_within)
    ]


def _alert(
    rec: dict[str, Any],
    generator_url: str | None,
    jaeger_url: str | None,
    report_url: str | None,
    now: float,
) -> dict[str, Any]:
    # Alerts are shown by Alertmanager and kept in the spool: links never carry a password.
    generator_url, jaeger_url, report_url = (
        redact_url(u) if u else None for u in (generator_url, jaeger_url, report_url))
    labels = {
        "alertname": ALERTNAME_PREFIX + _camel(rec["detector"]),
        "severity": rec["severity"],
        "detector": _am.truncate_value(rec["detector"]),
        "fingerprint": rec["fingerprint"],
    }
    for key, value in rec["series"].items():
        name = "metric" if key == "__name__" else _am.sanitize_label_name(str(key))
        if name in _RESERVED:
            name = "series_" + name
        if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
            continue
        labels.setdefault(name, _am.truncate_value(str(value)))
    traces = [str(t) for t in rec["trace_ids"][:_MAX_TRACE_LINKS]]
    trace_urls = [f"{jaeger_url.rstrip('/')}/trace/{t}" for t in traces] if jaeger_url else []
    ongoing = rec["end"] is None or rec["ongoing"] or rec["end"].timestamp() > now
    window = f"{_iso(rec['start'])} – {'ongoing' if ongoing else _iso(rec['end'])}"
    series_text = _series_text(rec["series"])
    summary = rec["summary"] or f"{rec['detector']} anomaly on {series_text}"
    description = [
        f"The {rec['detector']} detector flagged {series_text} ({window}): observed "
        f"{_num(rec['observed'])} where {_num(rec['expected'])} was expected "
        f"(anomaly score {_num(rec['score'])}, severity {rec['severity']}).",
        "Check whether a deploy, a provider incident or a traffic change lines up with the "
        "window; open the example traces to see where the time or the errors went.",
    ]
    if report_url:
        description.append(f"Report: {report_url}")
    if trace_urls:
        description.append("Example traces: " + " ".join(trace_urls))
    elif traces:
        description.append("Example trace ids: " + " ".join(traces))
    annotations = {
        "summary": _am.truncate_value(summary, 1000),
        "description": "\n".join(description),
        "observed": _num(rec["observed"]),
        "expected": _num(rec["expected"]),
        "score": _num(rec["score"]),
        "window": window,
    }
    if report_url:
        annotations["report_url"] = report_url
    if trace_urls:
        annotations["trace_urls"] = " ".join(trace_urls)
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(rec["start"]),
    }
    if not ongoing:
        alert["endsAt"] = _iso(rec["end"])
    if generator_url or report_url:
        alert["generatorURL"] = generator_url or report_url
    return alert


# --- push ----------------------------------------------------------------------------------------


def push(
    findings: Findings,
    alertmanager_url: str,
    *,
    spool_dir: str | os.PathLike[str] | None = None,
    generator_url: str | None = None,
    jaeger_url: str | None = None,
    report_url: str | None = None,
    timeout: float = 10,
    retries: int = 3,
    backoff: float = 0.5,
    data_end: Any = None,
    ongoing_within: Any = "5m",
) -> PushResult:
    """Send findings to Alertmanager (``POST /api/v2/alerts``); see the module docstring.

    Alerts left in ``spool_dir`` by an earlier push to the same Alertmanager are sent first.
    ``data_end`` is the end of the data the findings were computed from: a finding whose end is
    within ``ongoing_within`` of it was still anomalous when the data ended, so it is sent
    firing (ongoing) rather than resolved.
    Without ``spool_dir``, alerts that cannot be delivered raise :class:`AlertError` (its
    ``result`` attribute holds the :class:`PushResult`) instead of being kept.

    >>> push([], "http://127.0.0.1:9093").ok     # nothing to send, nothing spooled
    True
    """
    url = _check_url(alertmanager_url, "alertmanager_url")
    new = alerts_from_findings(
        findings, generator_url=generator_url, jaeger_url=jaeger_url, report_url=report_url,
        data_end=data_end, ongoing_within=ongoing_within,
    )
    spool = Path(spool_dir).expanduser() if spool_dir is not None else None
    if spool is None:
        return _deliver(url, [], new, None, [], timeout, retries, backoff)
    try:
        with _am.spool_lock(spool):
            entries = _am.read_spool(spool)
            mine = [e for e in entries if _same_url(str(e.get("alertmanager_url", "")), url)]
            others = [e for e in entries
                      if not _same_url(str(e.get("alertmanager_url", "")), url)]
            return _deliver(url, mine, new, spool, others, timeout, retries, backoff)
    except OSError as exc:
        raise AlertError(f"cannot use the alert spool {spool}: {exc.strerror or exc}") from None


def _deliver(
    url: str,
    spooled: list[dict[str, Any]],
    new: list[dict[str, Any]],
    spool: Path | None,
    others: list[dict[str, Any]],
    timeout: float,
    retries: int,
    backoff: float,
) -> PushResult:
    # Spooled alerts go first; a newer version of the same alert (same labels) replaces them.
    queue: dict[tuple[tuple[str, str], ...], tuple[dict[str, Any], str | None]] = {}
    for entry in spooled:
        queue[_am.alert_key(entry["alert"])] = (entry["alert"], entry.get("spooled_at"))
    for alert in new:
        queue[_am.alert_key(alert)] = (alert, None)
    result = PushResult()
    if not queue:
        return result
    alerts = [a for a, _ in queue.values()]
    delivered, refused, undelivered, reason = _am.send(
        url, alerts, timeout=timeout, retries=retries, backoff=backoff
    )
    from_spool = {id(a) for a, stamp in queue.values() if stamp is not None}
    now = time.time()
    for alert in delivered:
        fp = _am.alert_fingerprint(alert)
        (result.resolved if _am.is_resolved(alert, now) else result.sent).append(fp)
        if id(alert) in from_spool:
            result.replayed.append(fp)
    result.rejected = [Rejection(_am.alert_fingerprint(a), msg) for a, msg in refused]
    result.spooled = [_am.alert_fingerprint(a) for a in undelivered]
    result.spool_reason = reason
    if spool is None:
        if undelivered:
            error = AlertError(
                f"{len(undelivered)} alert(s) not delivered to {redact_url(url)} and no "
                f"spool_dir given: "
                f"{reason}"
            )
            error.result = result  # type: ignore[attr-defined]
            raise error
        return result
    stamps = {id(a): stamp for a, stamp in queue.values()}
    stamp_now = _iso(pd.Timestamp(now, unit="s", tz="UTC"))
    kept = [
        # The spool is keyed by the URL with its password shown as ***: never written to disk.
        {"alertmanager_url": redact_url(url), "spooled_at": stamps[id(a)] or stamp_now,
         "alert": a}
        for a in undelivered
    ]
    _am.write_spool(spool, others + kept)
    return result


def _same_url(a: str, b: str) -> bool:
    return redact_url(a).rstrip("/") == redact_url(b).rstrip("/")


def _check_url(url: Any, what: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        shown = redact_url(url) if isinstance(url, str) else url
        raise ConfigurationError(f"{what} must be an http:// or https:// URL, got {shown!r}")
    return url.rstrip("/")


# --- webhook JSON --------------------------------------------------------------------------------


def webhook_payload(
    findings: Findings,
    *,
    receiver: str = "agentinsight",
    jaeger_url: str | None = None,
    report_url: str | None = None,
    generator_url: str | None = None,
    data_end: Any = None,
    ongoing_within: Any = "5m",
) -> dict[str, Any]:
    """A JSON document in the shape of Alertmanager's webhook notification, for systems without
    Alertmanager.

    Fields: ``version`` ("4"), ``groupKey``, ``truncatedAlerts`` (0), ``status`` ("firing" if any
    alert fires, else "resolved"), ``receiver``, ``groupLabels`` ({}), ``commonLabels`` and
    ``commonAnnotations`` (the pairs every alert shares), ``externalURL`` (``report_url`` or ""),
    and ``alerts``: one per finding with ``status``, ``labels``, ``annotations``, ``startsAt``,
    ``endsAt`` ("0001-01-01T00:00:00Z" while firing, as Alertmanager writes it),
    ``generatorURL`` and ``fingerprint``. Labels and annotations are the ones :func:`push` sends.

    >>> doc = webhook_payload([{"detector": "errors", "series": {"agent": "coder"},
    ...     "start": "2026-01-05T10:00:00Z", "end": "2026-01-05T11:00:00Z",
    ...     "severity": "critical"}])
    >>> doc["status"], doc["alerts"][0]["status"], doc["commonLabels"]["agent"]
    ('resolved', 'resolved', 'coder')
    """
    alerts = alerts_from_findings(
        findings, generator_url=generator_url, jaeger_url=jaeger_url, report_url=report_url,
        data_end=data_end, ongoing_within=ongoing_within,
    )
    now = time.time()
    items = []
    for alert in alerts:
        resolved = _am.is_resolved(alert, now)
        items.append({
            "status": "resolved" if resolved else "firing",
            "labels": alert["labels"],
            "annotations": alert["annotations"],
            "startsAt": alert["startsAt"],
            "endsAt": alert["endsAt"] if resolved else "0001-01-01T00:00:00Z",
            "generatorURL": alert.get("generatorURL", ""),
            "fingerprint": alert["labels"]["fingerprint"],
        })
    return {
        "version": "4",
        "groupKey": f"{{}}:{{receiver=\"{receiver}\"}}",
        "truncatedAlerts": 0,
        "status": "firing" if any(i["status"] == "firing" for i in items) else "resolved",
        "receiver": receiver,
        "groupLabels": {},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": redact_url(report_url) if report_url else "",
        "alerts": items,
    }


def _common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    return {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps[1:])}

def _num(value: float) -> str:
    return "unknown" if math.isnan(value) else f"{value:.6g}"


def _camel(detector: str) -> str:
    parts = [p for p in "".join(c if c.isalnum() else " " for c in detector).split() if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def _series_text(series: Mapping[str, Any]) -> str:
    name = str(series.get("__name__", ""))
    pairs = ", ".join(
        f'{k}="{_am.truncate_value(str(v))}"' for k, v in series.items() if k != "__name__"
    )
    return f"{name}{{{pairs}}}" if pairs or not name else name


def default_spool_dir() -> Path:
    """Where undeliverable alerts wait for the next push: ``$AGENTINSIGHT_ALERT_SPOOL``, else
    ``$XDG_CACHE_HOME/agentinsight/alert-spool`` (``~/.cache`` when unset)."""
    from agentinsight._settings import SETTINGS_BY_NAME

    spool: Path = SETTINGS_BY_NAME["alert_spool"].resolve()
    return spool


def post_webhook(payload: Mapping[str, Any], url: str, *, timeout: float = 10.0) -> None:
    """POST a :func:`webhook_payload` document to ``url`` (three tries with back-off); raises
    :class:`~agentinsight.exceptions.AlertError` naming the URL when it cannot be delivered."""
    try:
        _am.post_json(_check_url(url, "webhook URL"), payload, timeout=timeout, retries=3,
                      backoff=0.5)
    except (_am._Unreachable, _am._Refused) as exc:
        raise AlertError(f"webhook POST to {redact_url(url)} failed: {exc}") from None


def read_baselines(path: Path) -> Any:
    """Baselines for :func:`write_rule_file` from a JSON or YAML file, or a metrics frame saved
    as ``.parquet`` (learned from with :func:`learn_baselines`)."""
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AlertError(f"{path}: cannot read baselines: {exc.strerror or exc}") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise AlertError(f"{path}: not valid YAML: {exc}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise AlertError(f"{path}: not valid JSON: {exc}") from None
