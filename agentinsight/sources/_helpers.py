"""What every source shares: the evaluation grid, helper names and frame assembly.

:class:`~agentinsight.sources.FileSource` and :class:`~agentinsight.sources.PrometheusSource`
both implement :class:`~agentinsight.sources.MetricsSource` (their declared base) with these
functions, so that a helper's arguments are checked and its frame is shaped the same way
whichever source answers.

Step and window, defined once for every source:

- A query is evaluated at ``start, start + step, start + 2*step, ...`` up to ``end``
  (Prometheus range-query semantics; ``start`` is kept as given, to the millisecond).
- ``step=None`` picks the smallest multiple of the scrape interval that keeps a series under
  11,000 points (Prometheus' per-series limit): never finer than the data.
- ``window`` is the range selector of ``rate``-style helpers (``rate(x[window])``): the samples
  in ``(t - window, t]`` feed the value at ``t``. It should span at least two scrapes.
- ``token_usage`` uses ``increase(x[step])``: each point holds the tokens of the step ending
  at its timestamp, so the points tile time and their sum is the total over the range. As
  ``increase`` needs two samples in its window, its automatic step is at least ten scrape
  intervals.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from agentinsight.exceptions import ConfigurationError
from agentinsight.frames import empty_metrics_frame
from agentinsight.sources._time import format_duration, parse_duration, time_range

__all__ = [
    "Grid",
    "MAX_POINTS",
    "TOKEN_MIN_SCRAPES",
    "check_by",
    "grid",
    "matcher_text",
    "matrix_frame",
    "quantile_name",
    "quantiles",
]

MAX_POINTS = 11_000
#: token_usage's automatic step spans at least this many scrape intervals.
TOKEN_MIN_SCRAPES = 10


@dataclass(frozen=True)
class Grid:
    """Evaluation times of a range query, in integer milliseconds."""

    start_ms: int
    end_ms: int
    step_ms: int

    @property
    def points(self) -> int:
        return (self.end_ms - self.start_ms) // self.step_ms + 1

    @property
    def step(self) -> str:
        """The step as a PromQL duration (``"1m"``)."""
        return format_duration(self.step_ms / 1000)

    def times(self) -> np.ndarray:
        return np.arange(self.start_ms, self.end_ms + 1, self.step_ms, dtype="int64")


def grid(start: Any, end: Any, step: Any, scrape_interval_s: float | Callable[[], float],
         now: pd.Timestamp | None = None, *, min_scrapes: int = 1) -> Grid:
    """The evaluation grid for ``start``/``end``/``step`` (``None`` = automatic, see module doc;
    ``min_scrapes`` is the automatic step's floor in scrape intervals). ``scrape_interval_s``
    may be a function: it is then called only when the step is automatic (a server is not asked
    for its scrape interval when the caller gave the step).

    >>> g = grid(0, 86400 * 7, None, 15)
    >>> g.step_ms, g.points <= MAX_POINTS
    (60000, True)
    """
    begin, finish = time_range(start, end, now=now)
    start_ms = begin.value // 1_000_000
    end_ms = finish.value // 1_000_000
    if step is None:
        if callable(scrape_interval_s):
            scrape_interval_s = scrape_interval_s()
        scrape_ms = max(1, int(round(scrape_interval_s * 1000)))
        span = end_ms - start_ms
        step_ms = scrape_ms * max(min_scrapes, math.ceil(span / ((MAX_POINTS - 1) * scrape_ms)))
    else:
        step_ms = int(round(parse_duration(step, what="step") * 1000))
        if step_ms <= 0:
            raise ConfigurationError(f"step must be at least 1ms, got {step!r}")
    return Grid(start_ms, end_ms, step_ms)


def check_by(by: str | Iterable[str] | None) -> list[str]:
    """``by`` as a list of label names (a single string is one label)."""
    if by is None:
        return []
    labels = [by] if isinstance(by, str) else list(by)
    for label in labels:
        if not isinstance(label, str) or not label.isidentifier() or label == "le":
            raise ConfigurationError(f"by: {label!r} is not a label name this helper can group by")
    return labels


def quantiles(q: float | Sequence[float]) -> list[float]:
    values = [q] if isinstance(q, int | float) else list(q)
    for value in values:
        if not 0 <= value <= 1:
            raise ConfigurationError(f"q must be between 0 and 1, got {value!r}")
    return [float(v) for v in values]


def quantile_name(metric: str, q: float) -> str:
    """``agent_execution_duration_seconds:p95`` for q=0.95 (``p99.9`` for 0.999).

    >>> quantile_name("x", 0.95), quantile_name("x", 0.999), quantile_name("x", 0.5)
    ('x:p95', 'x:p99.9', 'x:p50')
    """
    return f"{metric}:p{round(q * 100, 6):g}"


def matcher_text(matchers: str | Mapping[str, str] | None) -> str:
    """Label matchers as PromQL text without braces: ``{"agent": "planner"}`` →
    ``agent="planner"``; a string is taken as already written matchers."""
    if not matchers:
        return ""
    if isinstance(matchers, str):
        return matchers.strip().strip("{}").strip()
    parts = []
    for label, value in matchers.items():
        escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{label}="{escaped}"')
    return ",".join(parts)


def matrix_frame(metric: str, groups: pd.DataFrame, times_ms: np.ndarray, values: np.ndarray,
                 present: np.ndarray, by: Sequence[str]) -> pd.DataFrame:
    """A metrics frame from a (group, time) matrix: one row per present point; label columns
    exactly ``by`` (a label value of ``""`` means absent and becomes NaN)."""
    rows, cols = np.nonzero(present)
    if not len(rows):
        frame = empty_metrics_frame(by)
        frame["metric"] = pd.Categorical([], categories=[metric])
        return frame
    data: dict[str, Any] = {
        "timestamp": pd.DatetimeIndex((times_ms[cols] * 1_000_000).view("datetime64[ns]")
                                      ).tz_localize("UTC"),
        "metric": pd.Categorical.from_codes(np.zeros(len(rows), "int8"), [metric]),
        "value": values[rows, cols].astype("float64"),
    }
    for label in by:
        column = groups[label].astype(object).where(groups[label] != "", None)
        cats = pd.Categorical(column)
        data[label] = pd.Categorical.from_codes(cats.codes[rows], cats.categories)
    frame = pd.DataFrame(data)
    return frame.sort_values([*by, "timestamp"], kind="stable", ignore_index=True)
