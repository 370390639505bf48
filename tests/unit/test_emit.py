"""Blocks, nesting, decorators, error status, cardinality guard, never-raise, clock, events."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading

import prometheus_client
import pytest

from agentinsight import emit
from agentinsight.emit import _errors, _runtime
from tests.span_sink import CollectSpans


@pytest.fixture()
def spans():
    """emit configured with a fresh registry; returns a function giving the finished spans."""
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    sink = CollectSpans()
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    _runtime.get().provider.add_span_processor(SimpleSpanProcessor(sink))
    _errors._warned.clear()
    yield lambda: {s.name: s for s in sink.spans}
    emit.use_clock(None)


def value(name: str, **labels: str) -> float | None:
    return emit.get_registry().get_sample_value(name, labels)


def test_agent_run_records_metrics_and_span(spans):
    with emit.agent_run("planner", task_type="research"):
        assert value("agent_active", agent="planner") == 1.0
    assert value("agent_active", agent="planner") == 0.0
    assert value("agent_execution_total", agent="planner", status="success") == 1.0
    assert value("agent_execution_duration_seconds_count", agent="planner", status="success") == 1
    assert value("task_total", task_type="research", status="success") == 1.0
    span = spans()["invoke_agent planner"]
    assert span.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert span.attributes["gen_ai.agent.name"] == "planner"


def test_llm_and_tool_calls_nest_under_the_agent(spans):
    with emit.agent_run("planner") as run:
        with emit.llm_call(model="gpt-4o", provider="openai") as call:
            call.record_usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000,
                              response_model="gpt-4o-2024-08-06")
        with emit.tool_call("web_search"):
            pass
    tokens = {t: value("llm_tokens_used_total", agent="planner", provider="openai",
                       model="gpt-4o", token_type=t) for t in ("input", "output", "cache_read")}
    assert tokens == {"input": 1200.0, "output": 300.0, "cache_read": 1000.0}
    assert value("tool_usage_total", agent="planner", tool="web_search", status="success") == 1
    assert value("tool_execution_duration_seconds_count", tool="web_search", status="success") == 1
    assert value("llm_request_duration_seconds_count", provider="openai", model="gpt-4o",
                 status="success") == 1
    assert value("gen_ai_client_token_usage_sum", gen_ai_operation_name="chat",
                 gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o",
                 gen_ai_token_type="input") == 1200
    assert value("gen_ai_client_operation_duration_seconds_count", gen_ai_operation_name="chat",
                 gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o", error_type="") == 1
    got = spans()
    root, chat = got["invoke_agent planner"], got["chat gpt-4o"]
    tool = got["execute_tool web_search"]
    assert chat.parent.span_id == root.context.span_id == tool.parent.span_id
    assert chat.context.trace_id == root.context.trace_id
    assert run.trace_id == format(root.context.trace_id, "032x")
    assert chat.attributes["gen_ai.usage.input_tokens"] == 1200
    assert chat.attributes["gen_ai.usage.cache_read.input_tokens"] == 1000
    assert chat.attributes["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert chat.attributes["gen_ai.provider.name"] == "openai"


def test_provider_prefix_is_split_and_date_suffix_kept(spans):
    with emit.llm_call(model="anthropic/claude-sonnet-4-20250514") as call:
        pass
    assert (call.provider, call.model) == ("anthropic", "claude-sonnet-4-20250514")
    assert "chat claude-sonnet-4-20250514" in spans()


def test_record_response_normalises_openai_and_anthropic_usage(spans):
    class Obj:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    openai = Obj(model="gpt-4o-2024-08-06", usage=Obj(
        prompt_tokens=1200, completion_tokens=300,
        prompt_tokens_details=Obj(cached_tokens=1000),
        completion_tokens_details=Obj(reasoning_tokens=50)))
    anthropic = Obj(model="claude-sonnet-4-20250514", usage=Obj(
        input_tokens=200, output_tokens=300, cache_read_input_tokens=1000,
        cache_creation_input_tokens=0))
    with emit.llm_call(model="gpt-4o") as a:
        a.record_response(openai)
    with emit.llm_call(model="claude-sonnet-4") as b:
        b.record_response(anthropic)
    assert a.usage == emit.TokenUsage(1200, 300, 1000, 0, 50)
    assert b.usage == emit.TokenUsage(1200, 300, 1000, 0, 0)  # input includes cache reads
    assert b.provider == "anthropic"
    assert spans()["chat claude-sonnet-4"].attributes["gen_ai.response.model"] == (
        "claude-sonnet-4-20250514")


def test_negative_or_non_integer_tokens_are_dropped_with_a_warning(spans, caplog):
    with caplog.at_level(logging.WARNING, "agentinsight.emit"), emit.llm_call("gpt-4o") as call:
        call.record_usage(input_tokens=-5, output_tokens=3)
        call.record_usage(input_tokens="12", output_tokens=3)
    assert call.usage is None
    assert value("llm_tokens_used_total", agent="", provider="openai", model="gpt-4o",
                 token_type="output") is None
    assert "non-negative integers" in caplog.text


def test_agent_exception_marks_error_and_propagates_unchanged(spans):
    class Boom(Exception):
        pass

    err = Boom("no route")
    with pytest.raises(Boom) as caught, emit.agent_run("planner"), emit.tool_call("web_search"):
        raise err
    assert caught.value is err
    assert value("agent_execution_total", agent="planner", status="error") == 1
    assert value("tool_usage_total", agent="planner", tool="web_search", status="error") == 1
    span = spans()["invoke_agent planner"]
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"].endswith("Boom")
    assert value("agent_active", agent="planner") == 0


def test_llm_error_sets_error_type_label(spans):
    with pytest.raises(TimeoutError), emit.llm_call("gpt-4o", "openai"):
        raise TimeoutError("slow")
    assert value("gen_ai_client_operation_duration_seconds_count", gen_ai_operation_name="chat",
                 gen_ai_provider_name="openai", gen_ai_request_model="gpt-4o",
                 error_type="TimeoutError") == 1
    assert value("llm_request_duration_seconds_count", provider="openai", model="gpt-4o",
                 status="error") == 1


def test_nesting_follows_threads_started_with_copied_context(spans):
    def work():
        with emit.tool_call("fetch"):
            pass

    with emit.agent_run("crawler"):
        ctx = contextvars.copy_context()
        thread = threading.Thread(target=ctx.run, args=(work,))
        thread.start()
        thread.join()
    assert value("tool_usage_total", agent="crawler", tool="fetch", status="success") == 1
    got = spans()
    assert got["execute_tool fetch"].parent.span_id == got["invoke_agent crawler"].context.span_id


async def test_nesting_follows_asyncio_tasks(spans):
    async def call(tool):
        with emit.tool_call(tool):
            await asyncio.sleep(0)

    async def run(agent):
        with emit.agent_run(agent):
            await asyncio.gather(call(f"{agent}-a"), call(f"{agent}-b"))

    await asyncio.gather(run("alpha"), run("beta"))
    got = spans()
    for agent in ("alpha", "beta"):
        for suffix in ("a", "b"):
            tool = f"{agent}-{suffix}"
            assert value("tool_usage_total", agent=agent, tool=tool, status="success") == 1
            assert (got[f"execute_tool {tool}"].parent.span_id
                    == got[f"invoke_agent {agent}"].context.span_id)


async def test_decorators_on_sync_and_async_functions(spans):
    @emit.agent("planner")
    def plan(goal):
        return search_sync(goal)

    @emit.tool("web_search")
    def search_sync(query):
        return [query]

    @emit.agent
    async def researcher(goal):
        return await search_async(goal)

    @emit.tool()
    async def search_async(query):
        raise LookupError(query)

    assert plan("tea") == ["tea"]
    with pytest.raises(LookupError):
        await researcher("coffee")
    assert value("agent_execution_total", agent="planner", status="success") == 1
    assert value("tool_usage_total", agent="planner", tool="web_search", status="success") == 1
    assert value("agent_execution_total", agent="researcher", status="error") == 1
    assert value("tool_usage_total", agent="researcher", tool="search_async", status="error") == 1
    assert plan.__name__ == "plan"


def test_cardinality_guard_records_other_and_warns_once(caplog):
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                   label_value_limit=3)
    with caplog.at_level(logging.WARNING, "agentinsight.emit"):
        for i in range(10):
            with emit.tool_call(f"tool-{i}"):
                pass
    assert [value("tool_usage_total", agent="", tool=f"tool-{i}", status="success")
            for i in range(4)] == [1, 1, 1, None]
    assert value("tool_usage_total", agent="", tool="other", status="success") == 7
    assert caplog.text.count("reached its limit") == 1


def test_non_string_label_value_is_dropped_with_a_warning(spans, caplog):
    with caplog.at_level(logging.WARNING, "agentinsight.emit"):
        with emit.agent_run(42):  # type: ignore[arg-type]
            pass
        emit.set_queue_size("default", "lots")  # type: ignore[arg-type]
    assert value("agent_execution_total", agent="42", status="success") is None
    assert "not a string" in caplog.text and "not a number" in caplog.text


def test_gauges_task_and_memory(spans):
    emit.set_queue_size("default", 12)
    emit.set_db_connections("postgres", "active", 7)
    with emit.task("summarise"):
        pass
    with emit.memory_operation("vector_search"):
        pass
    assert value("task_queue_size", queue="default") == 12
    assert value("database_connections", database="postgres", state="active") == 7
    assert value("task_total", task_type="summarise", status="success") == 1
    assert value("memory_operation_duration_seconds_count", operation="vector_search") == 1


def test_virtual_clock_drives_spans_and_durations(spans):
    now = [1_700_000_000 * 10**9]
    emit.use_clock(lambda: now[0])
    with emit.agent_run("planner"), emit.tool_call("web_search"):
        now[0] += 800_000_000
    assert value("tool_execution_duration_seconds_sum", tool="web_search", status="success") == (
        pytest.approx(0.8))
    span = spans()["execute_tool web_search"]
    assert span.start_time == 1_700_000_000 * 10**9
    assert span.end_time - span.start_time == 800_000_000


def test_subscribers_get_events_and_a_failing_one_never_breaks_the_agent(spans, caplog):
    seen: list[emit.Event] = []
    stop_seen = emit.subscribe(seen.append)

    def broken(event):
        raise RuntimeError("subscriber bug")

    stop_broken = emit.subscribe(broken)
    try:
        with caplog.at_level(logging.ERROR, "agentinsight.emit"), emit.agent_run("planner"):
            with emit.llm_call("gpt-4o") as call:
                call.record_usage(input_tokens=10, output_tokens=2)
            with emit.tool_call("web_search"):
                pass
    finally:
        stop_seen()
        stop_broken()
    assert [(e.kind, e.name, e.status) for e in seen] == [
        ("llm", "gpt-4o", "success"), ("tool", "web_search", "success"),
        ("agent", "planner", "success")]
    assert seen[0].usage == emit.TokenUsage(10, 2)
    assert seen[1].attributes["agent"] == "planner"
    assert len(seen[2].trace_id) == 32 and seen[0].trace_id == seen[2].trace_id
    assert len([r for r in caplog.records if "raised" in r.getMessage()]) == 1


def test_never_raise_outside_pytest_mode(spans, caplog, monkeypatch):
    monkeypatch.setattr(_errors, "STRICT", False)

    class BrokenTracer:
        def start_span(self, *a, **k):
            raise RuntimeError("tracer exploded")

    monkeypatch.setattr(_runtime.get(), "tracer", BrokenTracer())
    with caplog.at_level(logging.ERROR, "agentinsight.emit"):
        for _ in range(3):
            with emit.agent_run("planner"):
                result = "agent still ran"
    assert result == "agent still ran"
    assert caplog.text.count("internal error") == 1


def test_telemetry_failure_reraises_under_pytest(spans, monkeypatch):
    class BrokenTracer:
        def start_span(self, *a, **k):
            raise RuntimeError("tracer exploded")

    monkeypatch.setattr(_runtime.get(), "tracer", BrokenTracer())
    with pytest.raises(RuntimeError, match="tracer exploded"), emit.agent_run("planner"):
        pass


def test_configure_again_switches_registry_and_namespace():
    first = prometheus_client.CollectorRegistry()
    emit.configure(registry=first, traces_exporter="none")
    with emit.task("a"):
        pass
    second = prometheus_client.CollectorRegistry()
    emit.configure(registry=second, traces_exporter="none", metrics_namespace="acme")
    with emit.task("a"):
        pass
    assert emit.get_registry() is second
    assert first.get_sample_value("task_total", {"task_type": "a", "status": "success"}) == 1
    assert second.get_sample_value("acme_task_total", {"task_type": "a", "status": "success"}) == 1
    emit.configure(registry=first, traces_exporter="none")  # same registry again: no clash
    with emit.task("a"):
        pass
    assert first.get_sample_value("task_total", {"task_type": "a", "status": "success"}) == 2


def test_calls_work_before_configure_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "from agentinsight import emit\n"
        "import prometheus_client as p\n"
        "with emit.agent_run('planner'):\n"
        "    with emit.tool_call('web_search'): pass\n"
        "print(p.REGISTRY.get_sample_value('tool_usage_total',"
        " {'agent': 'planner', 'tool': 'web_search', 'status': 'success'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1.0"


def test_public_names_are_sorted_and_exported():
    assert emit.__all__ == sorted(emit.__all__)
    assert all(hasattr(emit, name) for name in emit.__all__)


def test_metrics_only_mode_makes_no_spans_but_honours_a_sampled_caller():
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    sink = InMemorySpanExporter()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink,
                   sample_ratio=0.0)
    with emit.agent_run("planner") as run:
        pass
    caller = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
    with emit.extract(caller), emit.agent_run("worker") as child:
        pass
    emit.flush()
    assert value("agent_execution_total", agent="planner", status="success") == 1
    assert run.trace_id == ""
    assert child.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert [s.name for s in sink.get_finished_spans()] == ["invoke_agent worker"]


def test_inject_carries_the_current_trace(spans):
    with emit.agent_run("planner") as run:
        headers = emit.inject({})
    assert headers["traceparent"].split("-")[1] == run.trace_id
    with emit.extract(headers), emit.agent_run("remote") as remote:
        pass
    assert remote.trace_id == run.trace_id
    assert spans()["invoke_agent remote"].parent.is_remote
