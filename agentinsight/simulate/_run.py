"""Plays the simulated fleet through the real ``agentinsight.emit`` code in virtual time.

Tasks arrive (Poisson, seasonal), wait in the ``default`` queue, and a pool of workers runs each
task's workflow: ``emit.task`` around a chain of ``emit.agent_run`` blocks, each making LLM calls,
tool calls and memory operations whose durations are virtual sleeps. A scraper callback records
the registry every scrape interval. Alongside, the run keeps its own exact tally of every counter
(``totals``) and notes what each incident touched, for the ground-truth file.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict, deque
from typing import Any

import numpy as np

from agentinsight import emit
from agentinsight.simulate._fleet import (
    MODELS,
    TOOLS,
    WORKFLOWS,
    AgentSpec,
    Incident,
    ModelSpec,
    arrival_times,
    schedule_incidents,
)
from agentinsight.simulate._recorder import Recorder
from agentinsight.simulate._sched import Scheduler, sleep, sleep_ns

__all__ = ["FleetRun"]

_NS = 1_000_000_000
WORKERS = 5
DB_POOL = 20
PEAK_TASKS_PER_MIN = 4.5


class SimulatedFailure(Exception):
    """Base of the failures the simulated agents suffer (never raised by emit itself)."""


# The classes read like the fleet's own exceptions in ``error.type`` ("fleet.RateLimitError").
class RateLimitError(SimulatedFailure):
    __module__ = "fleet"


class ToolTimeout(SimulatedFailure):
    __module__ = "fleet"


class UpstreamUnavailable(SimulatedFailure):
    __module__ = "fleet"


class OutputValidationError(SimulatedFailure):
    __module__ = "fleet"


class MaxIterationsExceeded(SimulatedFailure):
    __module__ = "fleet"


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: dict[str, Any]) -> None:
    return None


class FleetRun:
    """One simulation: call :meth:`run`, then read ``totals``, ``incidents`` and ``recorder``."""

    def __init__(
        self, *, start_s: float, end_s: float, scrape_interval: float, agents: list[AgentSpec],
        seed: int, incidents: bool, registry: Any,
    ) -> None:
        self.start_ns = int(round(start_s * _NS))
        self.end_ns = int(round(end_s * _NS))
        self.interval_ns = int(round(scrape_interval * _NS))
        self.sched = Scheduler(self.start_ns)
        self.recorder = Recorder(registry)
        self.rnd = random.Random(seed)
        self.np_rng = np.random.default_rng(seed)
        self.agents = {a.name: a for a in agents}
        self.workflows: list[tuple[str, float, tuple[str, ...]]] = []
        for task_type, (share, chain) in WORKFLOWS.items():
            present = tuple(a for a in chain if a in self.agents)
            if present:
                self.workflows.append((task_type, share, present))
        self.task_types = [w[0] for w in self.workflows]
        self.task_weights = [w[1] for w in self.workflows]
        self.queue: deque[tuple[str, tuple[str, ...], float]] = deque()
        self.busy = 0
        self._drained = False
        self._api = emit.ASGIMiddleware(self._api_app)
        self.totals: dict[tuple[str, tuple[str, ...]], int] = defaultdict(int)
        self.spans_until_end = 0
        self.spans_total = 0
        self.scrape_seconds = 0.0
        self.incidents: list[Incident] = []
        self._by_kind: dict[str, Incident] = {}
        if incidents:
            for kind, t0, t1 in schedule_incidents(start_s, end_s, seed):
                self._by_kind[kind] = self._describe(Incident("", kind, t0, t1))
            self.incidents = sorted(self._by_kind.values(), key=lambda i: i.start)
            for k, inc in enumerate(self.incidents, 1):
                inc.id = f"inc-{k:02d}-{inc.kind.replace('_', '-')}"

    # -- incidents ------------------------------------------------------------------------------
    def _pick_agent(self, preferred: str, need_tools: bool = False) -> str:
        if preferred in self.agents:
            return preferred
        for a in self.agents.values():
            if a.tools or not need_tools:
                return a.name
        return next(iter(self.agents))

    def _describe(self, inc: Incident) -> Incident:
        kind = inc.kind
        if kind == "tool_latency":
            tools = [t for a in self.agents.values() for t in a.tools]
            tool = "web_search" if "web_search" in tools else (tools[0] if tools else "web_search")
            inc.labels = {"tool": tool}
            inc.metrics = ["tool_execution_duration_seconds", "agent_execution_duration_seconds"]
            inc.details = {"tool": tool, "latency_factor": 6.0}
            inc.description = f"{tool} answers about 6x slower (provider degradation)"
        elif kind == "error_burst":
            agent = self._pick_agent("support", need_tools=True)
            inc.labels = {"agent": agent}
            inc.metrics = ["agent_execution_total", "tool_usage_total"]
            inc.details = {"agent": agent, "error_rate": 0.55}
            inc.description = f"{agent} fails about 55% of its runs (its backend is unavailable)"
        elif kind == "prompt_bloat":
            agent = self._pick_agent("researcher")
            model = self.agents[agent].model
            inc.labels = {"agent": agent, "model": model}
            inc.metrics = ["llm_tokens_used_total", "gen_ai_client_token_usage",
                           "llm_cost_usd_total"]
            inc.details = {"agent": agent, "model": model, "input_factor": 4.5}
            inc.description = (f"{agent}'s prompts grow about 4.5x (whole documents stuffed into "
                               "the context); input tokens per call jump, cache reads do not")
        elif kind == "model_switch":
            agent = self._pick_agent("summariser")
            old = self.agents[agent].model
            new = "gpt-4o" if old != "gpt-4o" else "claude-3-5-sonnet"
            inc.labels = {"agent": agent, "model": new}
            inc.metrics = ["llm_tokens_used_total", "llm_request_duration_seconds",
                           "gen_ai_client_token_usage", "llm_cost_usd_total"]
            inc.details = {"agent": agent, "from_model": old, "to_model": new}
            inc.description = (f"{agent} is switched from {old} to {new} by a config change; "
                               "the same tokens cost many times more")
        elif kind == "runaway_loop":
            agent = self._pick_agent("coder", need_tools=True)
            inc.labels = {"agent": agent}
            inc.metrics = ["llm_tokens_used_total", "llm_request_duration_seconds",
                           "agent_execution_duration_seconds", "agent_execution_total",
                           "llm_cost_usd_total"]
            inc.details = {"agent": agent, "loop_share": 0.5, "iterations": [25, 45]}
            inc.description = (f"half of {agent}'s runs loop: 25-45 LLM calls each until the "
                               "iteration limit stops them (MaxIterationsExceeded)")
        elif kind == "queue_backlog":
            inc.labels = {"queue": "default", "database": "postgres"}
            # no worker starts a task, so agent runs stop with them until the queue drains
            inc.metrics = ["task_queue_size", "database_connections", "task_total",
                           "agent_execution_total", "api_request_duration_seconds"]
            inc.details = {"workers": f"{WORKERS} -> 0", "db_pool": DB_POOL}
            inc.description = (f"the postgres pool ({DB_POOL}) is exhausted: the workers stall "
                               "before starting new tasks, task submissions wait seconds for "
                               "a connection, the default queue backs up, then drains "
                               "(end = drained)")
        elif kind == "traffic_drop":
            inc.labels = {}
            inc.metrics = ["task_total", "agent_execution_total", "llm_tokens_used_total"]
            inc.details = {"traffic_factor": 0.12}
            inc.description = ("incoming traffic falls to about 12% (upstream gateway outage); "
                               "every agent's rates drop")
        return inc

    def _active(self, kind: str) -> Incident | None:
        inc = self._by_kind.get(kind)
        if inc is not None and inc.start * _NS <= self.sched.now_ns < inc.cause_end * _NS:
            return inc
        return None

    # -- bookkeeping ----------------------------------------------------------------------------
    def _count(self, series: str, labels: tuple[str, ...], value: int = 1) -> None:
        if self.sched.now_ns <= self.end_ns:
            self.totals[(series, labels)] += value

    def _spanned(self) -> None:
        self.spans_total += 1
        if self.sched.now_ns <= self.end_ns:
            self.spans_until_end += 1

    @property
    def now_s(self) -> float:
        return self.sched.now_ns / _NS

    # -- the agents -----------------------------------------------------------------------------
    async def _memory(self, operation: str) -> None:
        median = 0.04 if operation == "vector_search" else 0.015
        with emit.memory_operation(operation):
            await sleep(median * self.rnd.lognormvariate(0.0, 0.5))
        self._spanned()
        self._count("memory_operation_duration_seconds_count", (operation,))

    async def _tool(self, agent: str, name: str, *, fail: type[SimulatedFailure] | None = None,
                    slow: Incident | None = None) -> None:
        spec = TOOLS[name]
        rnd = self.rnd
        latency = spec.median_s * rnd.lognormvariate(0.0, spec.sigma)
        if slow is not None and slow.labels.get("tool") == name:
            latency *= 6.0 * rnd.lognormvariate(0.0, 0.2)
        else:
            slow = None
        error = fail or (ToolTimeout if rnd.random() < spec.error_rate else None)
        status = "success"
        try:
            with emit.tool_call(name) as call:
                await sleep(latency)
                if error is not None:
                    raise error(f"{name} failed")
        except SimulatedFailure:
            status = "error"
            if fail is not None:
                raise
        finally:
            self._spanned()
            self._count("tool_usage_total", (agent, name, status))
            self._count("tool_execution_duration_seconds_count", (name, status))
            if slow is not None:
                slow.touch(self.now_s, call.trace_id)

    async def _llm(self, agent: str, model: ModelSpec, *, first: bool, input_scale: float = 1.0,
                   input_median: float, output_median: float, marks: list[Incident]) -> None:
        rnd = self.rnd
        base_in = int(input_median * rnd.lognormvariate(0.0, 0.45)) + 50
        cache_read = cache_write = 0
        if model.cache_write and first:
            cache_write = int(base_in * rnd.uniform(0.2, 0.4))
        elif rnd.random() < 0.65:
            cache_read = int(base_in * rnd.uniform(0.4, 0.85))
        inp = int(base_in * input_scale)
        out = int(output_median * rnd.lognormvariate(0.0, 0.5)) + 5
        reasoning = int(out * rnd.uniform(0.4, 0.75)) if model.reasoning else 0
        latency = (model.ttft_s * rnd.lognormvariate(0.0, 0.3) + inp / 25_000.0
                   + out / model.tokens_per_s * rnd.lognormvariate(0.0, 0.15))
        for attempt in range(3):
            limited = rnd.random() < 0.003
            status = "success"
            try:
                with emit.llm_call(model=model.name, provider=model.provider) as call:
                    if limited:
                        await sleep(0.15 + rnd.random() * 0.2)
                        raise RateLimitError(f"429 from {model.provider}")
                    await sleep(latency)
                    call.record_usage(
                        input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                        cache_write_tokens=cache_write, reasoning_tokens=reasoning,
                        response_model=model.response_model,
                    )
            except RateLimitError:
                status = "error"
                if attempt == 2:
                    raise
            finally:
                self._spanned()
                self._count("llm_request_duration_seconds_count",
                            (model.provider, model.name, status))
                if marks:
                    for inc in marks:
                        inc.touch(self.now_s, call.trace_id)
            if status == "success":
                key = (agent, model.provider, model.name)
                for token_type, n in (("input", inp), ("output", out), ("cache_read", cache_read),
                                      ("cache_write", cache_write), ("reasoning", reasoning)):
                    if n or token_type in ("input", "output"):
                        self._count("llm_tokens_used_total", (*key, token_type), n)
                return
            await sleep(1.0 + 2.0 * attempt + rnd.random())

    async def _agent(self, spec: AgentSpec) -> None:
        rnd = self.rnd
        burst = self._active("error_burst")
        if burst is not None and burst.labels["agent"] != spec.name:
            burst = None
        fail = rnd.random() < (0.55 if burst is not None else spec.error_rate)
        model = MODELS[spec.model]
        marks: list[Incident] = []
        switch = self._active("model_switch")
        if switch is not None and switch.labels["agent"] == spec.name:
            model = MODELS[switch.labels["model"]]
            marks.append(switch)
        bloat = self._active("prompt_bloat")
        scale = 1.0
        if bloat is not None and bloat.labels["agent"] == spec.name:
            scale = 4.5
            marks.append(bloat)
        loop = self._active("runaway_loop")
        looping = loop is not None and loop.labels["agent"] == spec.name and rnd.random() < 0.5
        slow = self._active("tool_latency")
        calls = rnd.randint(*spec.llm_calls)
        status = "success"
        try:
            with emit.agent_run(spec.name) as run:
                if spec.recall:
                    await self._memory("vector_search")
                if looping:
                    await self._loop(spec, model, rnd.randint(25, 45), slow)
                for i in range(calls):
                    await self._llm(spec.name, model, first=i == 0, input_scale=scale,
                                    input_median=spec.input_median,
                                    output_median=spec.output_median, marks=marks)
                    if i < calls - 1 and spec.tools and rnd.random() < spec.tool_prob:
                        await self._tool(spec.name, rnd.choice(spec.tools), slow=slow)
                if fail:
                    if spec.tools:
                        error = UpstreamUnavailable if burst is not None else ToolTimeout
                        tool = spec.tools[0] if burst is not None else rnd.choice(spec.tools)
                        await self._tool(spec.name, tool, fail=error, slow=slow)
                    raise OutputValidationError(f"{spec.name} produced an invalid answer")
                if spec.remember:
                    await self._memory("store")
        except SimulatedFailure:
            status = "error"
            raise
        finally:
            self._spanned()
            self._count("agent_execution_total", (spec.name, status))
            if burst is not None:
                burst.touch(self.now_s, run.trace_id if fail else "")
            if looping and loop is not None:
                loop.touch(self.now_s, run.trace_id)

    async def _loop(self, spec: AgentSpec, model: ModelSpec, iterations: int,
                    slow: Incident | None) -> None:
        tool = "code_exec" if "code_exec" in spec.tools else (spec.tools or ("",))[0]
        for i in range(iterations):
            await self._llm(spec.name, model, first=i == 0, input_median=spec.input_median
                            + 350.0 * i, output_median=150.0, marks=[])
            if tool:
                await self._tool(spec.name, tool, slow=slow)
        raise MaxIterationsExceeded(f"{spec.name} stopped after {iterations} iterations")

    async def _task(self, task_type: str, chain: tuple[str, ...], arrived: float) -> None:
        status = "success"
        backlog = self._by_kind.get("queue_backlog")
        try:
            with emit.task(task_type) as task:
                if backlog is not None and backlog.active(arrived):
                    backlog.touch(self.now_s, task.trace_id)  # it waited out the stall
                for name in chain:
                    await self._agent(self.agents[name])
        except SimulatedFailure:
            status = "error"
        finally:
            self._spanned()
            self._count("task_total", (task_type, status))
            self.busy -= 1
            self._dispatch()

    # -- queue, arrivals, scrapes ---------------------------------------------------------------
    def _capacity(self) -> int:
        return 0 if self._active("queue_backlog") is not None else WORKERS

    def _dispatch(self) -> None:
        if self.sched.now_ns > self.end_ns:
            return  # the history ends: tasks still queued are never started
        queue = self.queue
        started = False
        capacity = self._capacity()
        while queue and self.busy < capacity:
            task_type, chain, arrived = queue.popleft()
            self.busy += 1
            self.sched.spawn(self._task(task_type, chain, arrived))
            started = True
        if started:
            emit.set_queue_size("default", len(queue))
            backlog = self._by_kind.get("queue_backlog")
            if (backlog is not None and not self._drained and len(queue) <= 2
                    and self.now_s >= backlog.cause_end):
                self._drained = True
                backlog.touch(self.now_s)

    async def _arrivals(self, times_ns: list[int]) -> None:
        rnd = self.rnd
        types, weights = self.task_types, self.task_weights
        chains = dict((w[0], w[2]) for w in self.workflows)
        for t in times_ns:
            await sleep_ns(t - self.sched.now_ns)
            task_type = rnd.choices(types, weights)[0]
            self.sched.spawn(self._submit(task_type, chains[task_type]))

    async def _submit(self, task_type: str, chain: tuple[str, ...]) -> None:
        """A client POSTs the task to the fleet's API (through emit's ASGI middleware)."""
        scope = {"type": "http", "method": "POST", "path": "/v1/tasks", "headers": [],
                 "agentinsight.task": (task_type, chain)}
        await self._api(scope, _receive, _send)
        self._count("api_request_duration_seconds_count", ("POST", "/v1/tasks", "202"))
        self._spanned()

    async def _api_app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        latency = 0.012 * self.rnd.lognormvariate(0.0, 0.5)
        if self._active("queue_backlog") is not None:  # the insert waits for a connection
            latency += self.rnd.uniform(1.5, 4.0)
        await sleep(latency)
        task_type, chain = scope["agentinsight.task"]
        self.queue.append((task_type, chain, self.now_s))
        emit.set_queue_size("default", len(self.queue))
        self._dispatch()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def _scrape(self) -> None:
        now = self.sched.now_ns
        if self._active("queue_backlog") is not None:
            active = DB_POOL
        else:
            active = min(DB_POOL, self.busy + int(self.rnd.random() * 3))
        emit.set_db_connections("postgres", "active", active)
        emit.set_db_connections("postgres", "idle", DB_POOL - active)
        t0 = time.perf_counter()
        self.recorder.scrape(now / _NS)
        self.scrape_seconds += time.perf_counter() - t0
        if now + self.interval_ns <= self.end_ns:
            self.sched.call_at(now + self.interval_ns, self._scrape)

    def run(self) -> None:
        """Simulate from start to end (then let in-flight work finish, unrecorded)."""
        start_s, end_s = self.start_ns / _NS, self.end_ns / _NS
        dips = []
        drop = self._by_kind.get("traffic_drop")
        if drop is not None:
            dips.append((drop.start, drop.cause_end, 0.12))
        times = arrival_times(start_s, end_s, PEAK_TASKS_PER_MIN, self.np_rng, dips)
        times_ns = [int(t * _NS) for t in times.tolist()]
        self.sched.spawn(self._arrivals(times_ns))
        backlog = self._by_kind.get("queue_backlog")
        if backlog is not None:
            self.sched.call_at(int(backlog.cause_end * _NS), self._dispatch)
        emit.set_queue_size("default", 0)
        self.sched.call_at(self.start_ns, self._scrape)
        self.sched.run()
        for inc in self.incidents:
            if inc.kind == "traffic_drop":
                inc.touch(inc.cause_end)
            inc.effect_end = min(inc.effect_end, end_s)
