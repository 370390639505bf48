"""Learned baselines → Prometheus alerting rules, so a finding can become a standing alert.

Three kinds of baseline, each tied to catalogue metrics:

- ``agent_p95_latency_seconds`` (label ``agent``): p95 of ``agent_execution_duration_seconds``;
- ``model_tokens_per_call`` (``model``, optionally ``provider``): input+output
  ``llm_tokens_used_total`` per ``llm_request_duration_seconds_count``;
- ``agent_error_ratio`` (``agent``): share of ``agent_execution_total`` with status=error.

All are computed over the rule's ``window`` with ``rate()``.

Baselines come as :class:`Baseline` objects, as plain dicts (``{"agent_error_ratio":
{"planner": 0.02}}`` for the single-label shorthand, or ``[{"kind": ..., "labels": {...},
"value": ...}]``), or are learned from a metrics frame of raw samples by :func:`learn_baselines`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_write
from agentinsight.exceptions import AlertError, ConfigurationError

__all__ = ["Baseline", "learn_baselines", "rules_from_baselines", "write_rule_file"]

KINDS: dict[str, str] = {
    "agent_p95_latency_seconds": "agent",
    "model_tokens_per_call": "model",
    "agent_error_ratio": "agent",
}
_ALERTNAMES = {
    "agent_p95_latency_seconds": "AgentLatencyAboveBaseline",
    "model_tokens_per_call": "ModelTokensPerCallAboveBaseline",
    "agent_error_ratio": "AgentErrorRatioAboveBaseline",
}
_DURATION_CHARS = set("0123456789smhdwy")


@dataclass(frozen=True)
class Baseline:
    """One learned value: ``kind`` (see the module table), the series' ``labels``, ``value``."""

    kind: str
    labels: Mapping[str, str] = field(default_factory=dict)
    value: float = math.nan


def _coerce(baselines: Any) -> list[Baseline]:
    if hasattr(baselines, "columns") and hasattr(baselines, "groupby"):
        return learn_baselines(baselines)
    out: list[Baseline] = []
    if isinstance(baselines, Mapping):
        for kind, by_name in baselines.items():
            if kind not in KINDS:
                raise ConfigurationError(f"baselines: unknown kind {kind!r}; known: {list(KINDS)}")
            if not isinstance(by_name, Mapping):
                raise ConfigurationError(f"baselines[{kind!r}]: expected {{name: value}}")
            for name, value in by_name.items():
                out.append(Baseline(kind, {KINDS[kind]: str(name)}, value))
    elif isinstance(baselines, Iterable) and not isinstance(baselines, (str, bytes)):
        for i, item in enumerate(baselines):
            if isinstance(item, Baseline):
                out.append(item)
            elif isinstance(item, Mapping) and {"kind", "labels", "value"} <= set(item):
                out.append(Baseline(item["kind"], dict(item["labels"]), item["value"]))
            else:
                raise ConfigurationError(
                    f"baselines[{i}]: expected a Baseline or {{kind, labels, value}}, got {item!r}"
                )
    else:
        raise ConfigurationError(f"baselines: expected a mapping, list or metrics frame, "
                                 f"got {type(baselines).__name__}")
    for b in out:
        if b.kind not in KINDS:
            raise ConfigurationError(f"baseline {b}: unknown kind; known: {list(KINDS)}")
        if KINDS[b.kind] not in b.labels:
            raise ConfigurationError(f"baseline {b}: needs a {KINDS[b.kind]!r} label")
        if isinstance(b.value, bool) or not isinstance(b.value, (int, float)) or not (
            math.isfinite(b.value) and b.value >= 0
        ):
            raise ConfigurationError(f"baseline {b}: value must be a finite number >= 0")
    return out


def rules_from_baselines(
    baselines: Any,
    *,
    factor: float = 1.5,
    min_error_margin: float = 0.05,
    for_: str = "10m",
    window: str = "10m",
    severity: str = "warning",
    group: str = "agentinsight-baselines",
    namespace: str = "",
) -> dict[str, Any]:
    """A Prometheus rule-file document with one alerting rule per baseline.

    A rule fires when the live value stays above ``baseline × factor`` for ``for_`` (error
    ratios: above ``max(baseline × factor, baseline + min_error_margin)``, so a near-zero
    baseline does not page on a single failure).

    >>> doc = rules_from_baselines({"agent_error_ratio": {"planner": 0.02}})
    >>> rule = doc["groups"][0]["rules"][0]
    >>> rule["alert"], rule["expr"].endswith("> 0.07"), rule["labels"]["agent"]
    ('AgentErrorRatioAboveBaseline', True, 'planner')
    """
    if not (isinstance(factor, (int, float)) and factor > 0):
        raise ConfigurationError(f"factor must be a positive number, got {factor!r}")
    for name, text in (("for_", for_), ("window", window)):
        if not text or not set(text) <= _DURATION_CHARS or not text[0].isdigit():
            raise ConfigurationError(f"{name} must be a Prometheus duration like 10m, got {text!r}")
    prefix = f"{namespace}_" if namespace else ""
    rules = []
    for b in sorted(_coerce(baselines), key=lambda b: (b.kind, sorted(b.labels.items()))):
        threshold = b.value * factor
        if b.kind == "agent_error_ratio":
            threshold = max(threshold, b.value + min_error_margin)
        rules.append(_rule(b, float(f"{threshold:.6g}"), prefix, window, for_, severity))
    return {"groups": [{"name": group, "rules": rules}]}


def _rule(b: Baseline, threshold: float, prefix: str, window: str, for_: str,
          severity: str) -> dict[str, Any]:
    labels = {k: str(v) for k, v in sorted(b.labels.items())}
    sel = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    if b.kind == "agent_p95_latency_seconds":
        expr = (f"histogram_quantile(0.95, sum by (agent, le) (rate("
                f"{prefix}agent_execution_duration_seconds_bucket{{{sel}}}[{window}]))) "
                f"> {threshold}")
        what = "p95 latency of agent {{ $labels.agent }} is {{ $value | humanizeDuration }}"
        unit = "s"
        advice = ("Open the agent-performance dashboard and the slowest traces of this agent in "
                  "Jaeger; compare LLM and tool latency to find the slow step.")
    elif b.kind == "model_tokens_per_call":
        by = ", ".join(k for k in ("provider", "model") if k in labels) or "model"
        expr = (f"sum by ({by}) (rate({prefix}llm_tokens_used_total{{{sel},"
                f'token_type=~"input|output"}}[{window}])) / sum by ({by}) (rate('
                f"{prefix}llm_request_duration_seconds_count{{{sel}}}[{window}])) > {threshold}")
        what = ("model {{ $labels.model }} uses {{ $value | humanize }} tokens per call")
        unit = " tokens"
        advice = ("Look for prompts that grew (context stuffing, retrieval returning too much, "
                  "retry loops) in the token-usage dashboard; cost grows with it.")
    else:
        expr = (f'sum by (agent) (rate({prefix}agent_execution_total{{{sel},status="error"}}'
                f"[{window}])) / sum by (agent) (rate({prefix}agent_execution_total{{{sel}}}"
                f"[{window}])) > {threshold}")
        what = "agent {{ $labels.agent }} fails {{ $value | humanizePercentage }} of runs"
        unit = ""
        advice = ("Read the error logs of this agent in Loki (filter by trace_id from a failing "
                  "trace) and check the providers' and tools' status.")
    return {
        "alert": _ALERTNAMES[b.kind],
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity, "source": "agentinsight-baseline",
                   "baseline": b.kind, **labels},
        "annotations": {
            "summary": f"{what} (learned baseline {b.value:.6g}{unit})",
            "description": (f"{what}, above the alert threshold {threshold:.6g}{unit} "
                            f"(baseline {b.value:.6g}{unit}) for {for_}. {advice}"),
        },
    }


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def write_rule_file(
    rules_or_baselines: Any, path: str | os.PathLike[str], **options: Any
) -> Path:
    """Write a rule file (a document from :func:`rules_from_baselines`, or baselines to turn
    into one with ``options``) that ``promtool check rules`` accepts.

    >>> import tempfile, pathlib
    >>> p = write_rule_file({"agent_p95_latency_seconds": {"planner": 2.5}},
    ...                     pathlib.Path(tempfile.mkdtemp()) / "baselines.rules.yml")
    >>> "AgentLatencyAboveBaseline" in p.read_text()
    True
    """
    import yaml

    doc = rules_or_baselines
    if not (isinstance(doc, Mapping) and "groups" in doc):
        doc = rules_from_baselines(rules_or_baselines, **options)
    text = ("# Alerting rules generated by agentinsight from learned baselines.\n"
            "# Regenerate instead of editing: agentinsight alerts rules --baselines ... --out ...\n"
            + yaml.safe_dump(dict(doc), sort_keys=False, allow_unicode=True, width=1000))
    return atomic_write(path, text)


def learn_baselines(frame: Any, *, quantile: float = 0.95) -> list[Baseline]:
    """Baselines learned from a metrics frame of raw samples (counters and histogram buckets).

    Uses the increase of each series over the frame (counter resets handled): per-agent p95 of
    ``agent_execution_duration_seconds_bucket``, per-model input+output tokens per
    ``llm_request_duration_seconds_count``, per-agent error share of ``agent_execution_total``.
    Metrics missing from the frame give no baselines of that kind.

    >>> from agentinsight.frames import metrics_frame
    >>> import pandas as pd
    >>> f = pd.concat([metrics_frame([0.0, 60.0], "agent_execution_total", [0, 98],
    ...                              {"agent": "a", "status": "success"}),
    ...                metrics_frame([0.0, 60.0], "agent_execution_total", [0, 2],
    ...                              {"agent": "a", "status": "error"})])
    >>> learn_baselines(f)[0].value
    0.02
    """
    import numpy as np
    import pandas as pd

    if not {"timestamp", "metric", "value"} <= set(frame.columns):
        raise AlertError("learn_baselines: expected a metrics frame (timestamp, metric, value, "
                         f"labels...), got columns {list(frame.columns)}")

    def increases(metric: str, by: list[str]) -> pd.DataFrame:
        part = frame[frame["metric"].astype(str) == metric]
        labels = [c for c in part.columns if c not in ("timestamp", "metric", "value")]
        if part.empty or not set(by) <= set(labels):
            return pd.DataFrame(columns=[*by, "increase"])
        part = part.astype({c: object for c in labels}).fillna({c: "" for c in labels})
        rows = []
        for key, series in part.sort_values("timestamp").groupby(labels, sort=False):
            values = series["value"].to_numpy(dtype=float)
            diffs = np.diff(values)
            # A drop is a counter reset: the new value is the increase since the reset.
            total = float(np.where(diffs >= 0, diffs, values[1:]).sum()) if len(values) > 1 else 0.0
            row = dict(zip(labels, key if isinstance(key, tuple) else (key,), strict=True))
            rows.append({**{b: row[b] for b in by}, "increase": total})
        return pd.DataFrame(rows).groupby(by, as_index=False)["increase"].sum()

    out: list[Baseline] = []
    buckets = increases("agent_execution_duration_seconds_bucket", ["agent", "le"])
    for agent, part in buckets.groupby("agent"):
        value = _bucket_quantile(quantile, part["le"], part["increase"])
        if value is not None:
            out.append(Baseline("agent_p95_latency_seconds", {"agent": str(agent)}, value))
    tokens = increases("llm_tokens_used_total", ["provider", "model", "token_type"])
    calls = increases("llm_request_duration_seconds_count", ["provider", "model"])
    if not tokens.empty and not calls.empty:
        io = tokens[tokens["token_type"].isin(["input", "output"])]
        per = io.groupby(["provider", "model"], as_index=False)["increase"].sum()
        merged = per.merge(calls, on=["provider", "model"], suffixes=("_tokens", "_calls"))
        for row in merged.itertuples():
            if row.increase_calls > 0:
                out.append(Baseline("model_tokens_per_call",
                                    {"provider": str(row.provider), "model": str(row.model)},
                                    round(row.increase_tokens / row.increase_calls, 3)))
    runs = increases("agent_execution_total", ["agent", "status"])
    for agent, part in runs.groupby("agent"):
        total = part["increase"].sum()
        if total > 0:
            errors = part.loc[part["status"] == "error", "increase"].sum()
            out.append(Baseline("agent_error_ratio", {"agent": str(agent)},
                                round(float(errors / total), 6)))
    return out


def _bucket_quantile(q: float, les: Any, counts: Any) -> float | None:
    """histogram_quantile's interpolation over cumulative bucket counts."""
    pairs = sorted((float(le), float(c)) for le, c in zip(les, counts, strict=True))
    if not pairs or pairs[-1][0] != math.inf or pairs[-1][1] <= 0:
        return None
    rank = q * pairs[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in pairs:
        if count >= rank:
            if le == math.inf:
                return prev_le
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le
