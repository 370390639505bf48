"""Service-level objectives: attainment, good/bad event counts and multi-window burn rates.

Events come from spans (``slo_events``: a span is bad when it failed or, given a latency
objective, was too slow) or from cumulative counters (``counter_slo_events``), and
``burn_rates`` implements the multi-window, multi-burn-rate alerts of the Google SRE workbook.
``performance.performance_summary`` shows the attainment per agent next to the other headline
figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.analysis._histogram import bucket_increments
from agentinsight.analysis._tables import check_objective, grouped, select_spans, ungroup
from agentinsight.exceptions import ConfigurationError, SchemaError

__all__ = [
    "SRE_BURN_WINDOWS",
    "burn_rates",
    "counter_slo_events",
    "slo_attainment",
    "slo_events",
]

#: (severity, long window, short window, burn-rate factor): the SRE workbook's table for a
#: 30-day SLO. Alert when both windows burn faster than the factor.
SRE_BURN_WINDOWS: tuple[tuple[str, str, str, float], ...] = (
    ("page", "1h", "5min", 14.4),
    ("page", "6h", "30min", 6.0),
    ("ticket", "1D", "2h", 3.0),
    ("ticket", "3D", "6h", 1.0),
)


def slo_attainment(spans: pd.DataFrame, objective: float, *, latency_ms: float | None = None,
                   by: Sequence[str] = (), operation: str | None = None) -> pd.DataFrame:
    """Share of good events against an objective, per group.

    A span is good when it did not fail and, if ``latency_ms`` is given, finished within it.
    Columns: groups, ``total``, ``good``, ``attainment``, ``objective``, ``met`` and
    ``budget_remaining`` (1 = untouched error budget, 0 = spent, negative = overspent).

    >>> from agentinsight.frames import empty_spans_frame
    >>> slo_attainment(empty_spans_frame(), 0.99).empty
    True
    """
    check_objective(objective)
    frame = select_spans(spans, operation, ["status", "duration_ms", *by])
    good = ~frame["status"].eq("error")
    if latency_ms is not None:
        good &= frame["duration_ms"] <= latency_ms
    g = grouped(frame.assign(_good=good), by, "_good")
    out = ungroup(pd.DataFrame({"total": g.size(), "good": g.sum().astype("int64")}), by)
    out["attainment"] = out["good"] / out["total"]
    out["objective"] = objective
    out["met"] = out["attainment"] >= objective
    out["budget_remaining"] = 1.0 - (1.0 - out["attainment"]) / (1.0 - objective)
    return out


def slo_events(spans: pd.DataFrame, *, latency_ms: float | None = None, freq: str = "1min",
               operation: str | None = None) -> pd.DataFrame:
    """Good/bad event counts per interval, for ``burn_rates``: index timestamp, ``total``, ``bad``.

    >>> from agentinsight.frames import empty_spans_frame
    >>> list(slo_events(empty_spans_frame()).columns)
    ['total', 'bad']
    """
    frame = select_spans(spans, operation, ["status", "duration_ms", "end"])
    bad = frame["status"].eq("error")
    if latency_ms is not None:
        bad |= frame["duration_ms"] > latency_ms
    work = pd.DataFrame({"timestamp": pd.to_datetime(frame["end"], utc=True),
                         "total": 1, "bad": bad.astype("int64")})
    return work.set_index("timestamp").resample(freq).sum()[["total", "bad"]]


def counter_slo_events(counters: pd.DataFrame, *, bad: dict[str, Any] | None = None
                       ) -> pd.DataFrame:
    """Good/bad event counts per timestamp from cumulative counters (e.g. ``*_total``).

    ``bad`` names the label values of bad events (default ``{"status": "error"}``). Counter
    resets are handled as in PromQL. Index timestamp, columns ``total``, ``bad``.

    >>> from agentinsight.frames import metrics_frame
    >>> f = metrics_frame([0., 60., 0., 60.], "runs_total", [0, 10, 0, 1],
    ...                   {"status": ["success", "success", "error", "error"]})
    >>> counter_slo_events(f).loc[:, ["total", "bad"]].values.tolist()
    [[11.0, 1.0]]
    """
    bad = {"status": "error"} if bad is None else bad
    missing = [c for c in bad if c not in counters.columns]
    if missing:
        raise SchemaError(f"metrics frame: missing label column(s) {missing} named in bad")
    inc = bucket_increments(counters)
    is_bad = np.ones(len(inc), dtype=bool)
    for col, value in bad.items():
        is_bad &= (inc[col].astype(object) == value).to_numpy()
    work = pd.DataFrame({"timestamp": inc["timestamp"], "total": inc["value"],
                         "bad": np.where(is_bad, inc["value"], 0.0)})
    return work.groupby("timestamp").sum()


def burn_rates(events: pd.DataFrame, objective: float,
               windows: Iterable[tuple[str, str, str, float]] = SRE_BURN_WINDOWS) -> pd.DataFrame:
    """Multi-window, multi-burn-rate evaluation of an SLO at each timestamp.

    ``events`` has a UTC DatetimeIndex and ``total``/``bad`` counts per interval (from
    ``slo_events`` or ``counter_slo_events``). The burn rate over a window is its error ratio
    divided by the error budget (1 - objective); a rule fires when both its long and its short
    window burn faster than its factor. One row per timestamp and rule: ``timestamp``,
    ``severity``, ``long_window``, ``short_window``, ``factor``, ``long_burn``,
    ``short_burn``, ``firing``.

    >>> idx = pd.date_range("2026-01-01", periods=3, freq="1min", tz="UTC")
    >>> ev = pd.DataFrame({"total": [100, 100, 100], "bad": [0, 50, 50]}, index=idx)
    >>> burn_rates(ev, 0.99).query("long_window == '1h'")["firing"].tolist()
    [False, True, True]
    """
    check_objective(objective)
    missing = [c for c in ("total", "bad") if c not in events.columns]
    if missing:
        raise SchemaError(f"events frame: missing column(s) {missing}")
    if not isinstance(events.index, pd.DatetimeIndex):
        raise SchemaError("events frame: index must be a DatetimeIndex of interval ends")
    ev = events[["total", "bad"]].astype("float64").sort_index()
    parts = []
    for severity, long_w, short_w, factor in windows:
        burns = []
        for w in (long_w, short_w):
            rolled = ev.rolling(pd.Timedelta(w)).sum()
            burns.append(rolled["bad"] / rolled["total"].where(rolled["total"] > 0)
                         / (1.0 - objective))
        parts.append(pd.DataFrame({
            "timestamp": ev.index, "severity": severity, "long_window": long_w,
            "short_window": short_w, "factor": factor, "long_burn": burns[0].to_numpy(),
            "short_burn": burns[1].to_numpy(),
            "firing": ((burns[0] > factor) & (burns[1] > factor)).to_numpy(),
        }))
    if not parts:
        raise ConfigurationError("burn_rates: windows is empty")
    return pd.concat(parts, ignore_index=True)
