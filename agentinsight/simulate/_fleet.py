"""What the simulated fleet is made of: models, tools, agents, workflows, traffic and incidents.

Everything here is data and pure functions of a seed; ``simulate._run`` plays it through ``emit``.
Model names are ones genai-prices can price, so cost analysis works on the simulated history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

__all__ = [
    "AGENTS",
    "AgentSpec",
    "INCIDENT_KINDS",
    "Incident",
    "MODELS",
    "ModelSpec",
    "TOOLS",
    "ToolSpec",
    "WORKFLOWS",
    "arrival_times",
    "schedule_incidents",
    "traffic_rate",
]

DAY = 86_400.0
HOUR = 3_600.0


@dataclass(frozen=True)
class ModelSpec:
    """An LLM: latency is ``ttft_s`` (+ prefill time for the input) + output / ``tokens_per_s``."""

    name: str
    provider: str
    response_model: str
    ttft_s: float
    tokens_per_s: float
    cache_write: bool = False  # the provider reports prompt-cache writes (Anthropic)
    reasoning: bool = False  # part of the output is reasoning tokens


MODELS: dict[str, ModelSpec] = {
    m.name: m
    for m in (
        ModelSpec("gpt-4o", "openai", "gpt-4o-2024-08-06", 0.55, 75.0),
        ModelSpec("gpt-4o-mini", "openai", "gpt-4o-mini-2024-07-18", 0.35, 110.0),
        ModelSpec("claude-3-5-sonnet", "anthropic", "claude-3-5-sonnet-20241022", 0.9, 60.0,
                  cache_write=True),
        ModelSpec("claude-3-5-haiku", "anthropic", "claude-3-5-haiku-20241022", 0.5, 95.0,
                  cache_write=True),
        ModelSpec("gemini-1.5-flash", "gcp.gemini", "gemini-1.5-flash-002", 0.3, 160.0),
        ModelSpec("o3-mini", "openai", "o3-mini-2025-01-31", 1.2, 130.0, reasoning=True),
    )
}


@dataclass(frozen=True)
class ToolSpec:
    """A tool: lognormal latency (median, sigma) and the chance that a call fails."""

    name: str
    median_s: float
    sigma: float
    error_rate: float


TOOLS: dict[str, ToolSpec] = {
    t.name: t
    for t in (
        ToolSpec("web_search", 0.8, 0.45, 0.01),
        ToolSpec("fetch_url", 1.1, 0.6, 0.02),
        ToolSpec("file_read", 0.04, 0.5, 0.002),
        ToolSpec("code_exec", 2.5, 0.6, 0.015),
        ToolSpec("kb_search", 0.25, 0.4, 0.005),
        ToolSpec("ticket_lookup", 0.15, 0.4, 0.005),
    )
}


@dataclass(frozen=True)
class AgentSpec:
    """An agent: its model, LLM calls per run, token medians, tools and memory use."""

    name: str
    model: str
    llm_calls: tuple[int, int]
    input_median: float
    output_median: float
    tools: tuple[str, ...] = ()
    tool_prob: float = 0.0  # chance of a tool call after each LLM call but the last
    recall: bool = True  # a vector_search before the first LLM call
    remember: bool = False  # a store after the last LLM call
    error_rate: float = 0.01


AGENTS: tuple[AgentSpec, ...] = (
    AgentSpec("planner", "gpt-4o", (1, 2), 1800, 350, ("kb_search",), 0.6, error_rate=0.008),
    AgentSpec("researcher", "claude-3-5-sonnet", (2, 4), 6000, 650, ("web_search", "fetch_url"),
              0.9, remember=True, error_rate=0.012),
    AgentSpec("coder", "claude-3-5-sonnet", (2, 5), 9000, 800, ("file_read", "code_exec"), 0.9,
              error_rate=0.015),
    AgentSpec("reviewer", "o3-mini", (1, 2), 7000, 1100, ("code_exec",), 0.5, recall=False,
              error_rate=0.01),
    AgentSpec("summariser", "gemini-1.5-flash", (1, 1), 5000, 400, recall=False, remember=True,
              error_rate=0.005),
    AgentSpec("support", "claude-3-5-haiku", (1, 3), 2500, 300, ("ticket_lookup", "kb_search"),
              0.8, error_rate=0.012),
    AgentSpec("triage", "gpt-4o-mini", (1, 1), 1200, 120, ("ticket_lookup",), 0.5,
              error_rate=0.006),
    AgentSpec("translator", "gpt-4o-mini", (1, 2), 1500, 1200, recall=False, error_rate=0.004),
)

#: task type -> (share of traffic, agents that handle it, in order)
WORKFLOWS: dict[str, tuple[float, tuple[str, ...]]] = {
    "research": (0.28, ("planner", "researcher", "summariser")),
    "coding": (0.22, ("planner", "coder", "reviewer")),
    "support": (0.32, ("support",)),
    "review": (0.10, ("reviewer",)),
    "triage": (0.05, ("triage", "support")),
    "translation": (0.03, ("translator",)),
}

INCIDENT_KINDS = (
    "tool_latency",
    "error_burst",
    "prompt_bloat",
    "model_switch",
    "runaway_loop",
    "queue_backlog",
    "traffic_drop",
)

#: Nominal length of each incident's cause, in seconds.
_DURATIONS = {
    "tool_latency": 2 * HOUR,
    "error_burst": 0.75 * HOUR,
    "prompt_bloat": 3 * HOUR,
    "model_switch": 4 * HOUR,
    "runaway_loop": 1 * HOUR,
    "queue_backlog": 1 * HOUR,
    "traffic_drop": 2 * HOUR,
}


@dataclass
class Incident:
    """One injected incident; ``start``/``cause_end`` are epoch seconds, ``end`` is filled in
    by the run with the moment its effect was last seen."""

    id: str
    kind: str
    start: float
    cause_end: float
    labels: dict[str, str] = field(default_factory=dict)
    metrics: list[str] = field(default_factory=list)
    description: str = ""
    details: dict[str, object] = field(default_factory=dict)
    effect_end: float = 0.0
    trace_ids: list[str] = field(default_factory=list)

    def active(self, t: float) -> bool:
        return self.start <= t < self.cause_end

    def touch(self, t: float, trace_id: str = "") -> None:
        """Note an affected event that finished at ``t`` (and its trace)."""
        if t > self.effect_end:
            self.effect_end = t
        if trace_id and len(self.trace_ids) < 5 and trace_id not in self.trace_ids:
            self.trace_ids.append(trace_id)

    @property
    def end(self) -> float:
        return max(self.cause_end, self.effect_end)


def traffic_rate(t: np.ndarray, peak_per_min: float) -> np.ndarray:
    """Task arrivals per second at epoch seconds ``t``: a business-hours day on a weekly cycle.

    Weekdays peak around 13:30 UTC with a night floor at 20 % of the peak; weekends run at 40 %.
    """
    hours = (t % DAY) / HOUR
    day = 0.2 + 0.8 * np.exp(-0.5 * ((hours - 13.5) / 3.5) ** 2)
    weekday = ((t // DAY).astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    week = np.where(weekday >= 5, 0.4, 1.0)
    return peak_per_min / 60.0 * day * week


def arrival_times(
    start: float, end: float, peak_per_min: float, rng: np.random.Generator,
    dips: list[tuple[float, float, float]] = (),  # type: ignore[assignment]
) -> np.ndarray:
    """Sorted task arrival times in ``[start, end)``: a Poisson process with the traffic rate,
    hourly noise, and ``dips`` ``(from, to, factor)`` multiplying the rate (traffic drops)."""
    minutes = np.arange(start, end, 60.0)
    rate = traffic_rate(minutes + 30.0, peak_per_min) * 60.0
    hourly = rng.lognormal(0.0, 0.12, size=int(math.ceil((end - start) / HOUR)) + 1)
    rate = rate * hourly[((minutes - start) // HOUR).astype(np.int64)]
    for lo, hi, factor in dips:
        rate = np.where((minutes >= lo) & (minutes < hi), rate * factor, rate)
    counts = rng.poisson(rate)
    times = np.repeat(minutes, counts) + rng.random(int(counts.sum())) * 60.0
    times = np.sort(times)
    return times[times < end]


def _slots(start: float, end: float) -> list[float]:
    """Daytime incident slots (09:00 and 15:00 UTC) after the first day, leaving 6 h at the end."""
    first = datetime.fromtimestamp(start, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    day0 = first.timestamp()
    out = []
    d = 0
    while day0 + d * DAY < end:
        for hour in (9, 15):
            t = day0 + d * DAY + hour * HOUR
            if t >= start + DAY and t + 6 * HOUR <= end:
                out.append(t)
        d += 1
    return out


def schedule_incidents(start: float, end: float, seed: int) -> list[tuple[str, float, float]]:
    """``(kind, start, cause_end)`` for one incident of each kind, well apart, none on day one.

    Spans of two days or more use daytime slots; shorter spans spread the incidents evenly over
    the part after the first 40 % (at most a day), within 08:00-20:00 UTC when that leaves seven
    hours, shortening them to fit.
    """
    rnd = random.Random(seed * 7919 + 17)
    kinds = list(INCIDENT_KINDS)
    rnd.shuffle(kinds)
    n = len(kinds)
    slots = _slots(start, end)
    out = []
    if len(slots) >= n:
        picks = [slots[round(i * (len(slots) - 1) / (n - 1))] for i in range(n)]
        for kind, t in zip(kinds, picks, strict=True):
            t0 = float(round(t + rnd.uniform(-1800.0, 1800.0)))
            out.append((kind, t0, t0 + _DURATIONS[kind]))
        return out
    lo = start + min(DAY, 0.4 * (end - start))
    hi = end - min(2 * HOUR, 0.1 * (end - start))
    evening = lo - lo % DAY + 20 * HOUR  # keep to business hours when they hold a 7 h stretch
    if min(hi, evening) - max(lo, evening - 12 * HOUR) >= 7 * HOUR:
        lo, hi = max(lo, evening - 12 * HOUR), min(hi, evening)
    spacing = (hi - lo) / n
    if spacing < 20 * 60:
        return []
    for i, kind in enumerate(kinds):
        t0 = float(round(lo + i * spacing + 0.1 * spacing))
        out.append((kind, t0, t0 + float(round(min(_DURATIONS[kind], 0.45 * spacing)))))
    return out
