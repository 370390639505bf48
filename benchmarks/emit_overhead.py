"""Cost of one instrumented agent step through ``agentinsight.emit`` versus the same metrics and
spans written by hand with bare prometheus_client and the OpenTelemetry SDK.

One step = an agent run holding one LLM call (with token usage) and one tool call: 3 spans,
3 counters' worth of tokens, 6 histogram observations with exemplars, a gauge up and down.
Tracing is on with a batch processor exporting to a no-op sink, so the network is not measured.
Figures are the best of several interleaved rounds, in CPU microseconds per step.

With pricing on (``emit.configure(cost=True)``: ``llm_cost_usd_total`` priced with genai-prices
at the call's time) the same step is timed against itself without pricing, in the same rounds
(target: priced <= 1.3x unpriced), traced and metrics only. ``GenAIMetricsProcessor`` is timed
on another instrumentation's model-call span (openai-v2's attributes) against the same span on a
provider without it.

It also times the ``file:PATH`` exporter's encoding (OTLP JSON built straight from the SDK's
spans) against the protobuf route (``encode_spans`` + ``MessageToJson``), in spans per second.

    python benchmarks/emit_overhead.py [--steps 10000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import gc
import time

import prometheus_client
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind

from agentinsight import catalog, emit


class NoopExporter(SpanExporter):
    def export(self, spans):
        return SpanExportResult.SUCCESS


def emit_step() -> None:
    with emit.agent_run("planner"):
        with emit.llm_call(model="gpt-4o", provider="openai") as call:
            call.record_usage(input_tokens=1200, output_tokens=300, cache_read_tokens=1000)
        with emit.tool_call("web_search"):
            pass


def hand_written(registry: prometheus_client.CollectorRegistry, *, tracing: bool):
    """The same telemetry written directly against prometheus_client and the OTel SDK."""

    def make(name):
        spec = catalog.by_name(name)
        kind = {"counter": prometheus_client.Counter, "gauge": prometheus_client.Gauge,
                "histogram": prometheus_client.Histogram}[spec.kind]
        extra = {"buckets": spec.buckets} if spec.kind == "histogram" else {}
        return kind(spec.base_name, spec.help, spec.labels, registry=registry, **extra)

    agent_total, agent_duration = make("agent_execution_total"), make(
        "agent_execution_duration_seconds")
    agent_active, tool_total = make("agent_active"), make("tool_usage_total")
    tool_duration, tokens = make("tool_execution_duration_seconds"), make("llm_tokens_used_total")
    llm_duration = make("llm_request_duration_seconds")
    genai_tokens = make("gen_ai_client_token_usage")
    genai_duration = make("gen_ai_client_operation_duration_seconds")
    provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
    if tracing:
        # same queue bound as emit's run below, so neither side drops spans
        provider.add_span_processor(BatchSpanProcessor(NoopExporter(), max_queue_size=1 << 20))
    tracer = provider.get_tracer("bench")
    perf = time.perf_counter

    def exemplar(span):
        ctx = span.get_span_context()
        return {"trace_id": format(ctx.trace_id, "032x")} if ctx.trace_flags & 1 else None

    def step() -> None:
        t0 = perf()
        with tracer.start_as_current_span(
            "invoke_agent planner",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
        ) as agent_span:
            agent_active.labels("planner").inc()
            t1 = perf()
            with tracer.start_as_current_span(
                "chat gpt-4o", kind=SpanKind.CLIENT,
                attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                            "gen_ai.request.model": "gpt-4o"},
            ) as llm:
                llm.set_attribute("gen_ai.usage.input_tokens", 1200)
                llm.set_attribute("gen_ai.usage.output_tokens", 300)
                llm.set_attribute("gen_ai.usage.cache_read.input_tokens", 1000)
            d1 = perf() - t1
            tokens.labels("planner", "openai", "gpt-4o", "input").inc(1200)
            tokens.labels("planner", "openai", "gpt-4o", "output").inc(300)
            tokens.labels("planner", "openai", "gpt-4o", "cache_read").inc(1000)
            genai_tokens.labels("chat", "openai", "gpt-4o", "input").observe(1200)
            genai_tokens.labels("chat", "openai", "gpt-4o", "output").observe(300)
            ex = exemplar(llm)
            llm_duration.labels("openai", "gpt-4o", "success").observe(d1, ex)
            genai_duration.labels("chat", "openai", "gpt-4o", "").observe(d1, ex)
            t2 = perf()
            with tracer.start_as_current_span(
                "execute_tool web_search",
                attributes={"gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": "web_search"},
            ) as tool:
                pass
            d2 = perf() - t2
            tool_total.labels("planner", "web_search", "success").inc()
            tool_duration.labels("web_search", "success").observe(d2, exemplar(tool))
            agent_active.labels("planner").dec()
        d0 = perf() - t0
        agent_total.labels("planner", "success").inc()
        agent_duration.labels("planner", "success").observe(d0, exemplar(agent_span))

    return step, provider


def best_us(step, steps: int, flush=None) -> float:
    """CPU microseconds per step, this process, all threads: the batch processor's export work
    counts too (``flush`` drains it inside the timed region).

    CPU time rather than wall time, so other processes on a shared machine do not inflate it.
    """
    gc.collect()
    started = time.process_time()
    for _ in range(steps):
        step()
    if flush is not None:
        flush()
    return (time.process_time() - started) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    floor_traced, floor_provider = hand_written(prometheus_client.CollectorRegistry(),
                                                tracing=True)
    floor_metrics_only = _metrics_only_floor()

    def traced_emit():
        emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=NoopExporter(),
                       max_queue_size=1 << 20)

    def metrics_emit(cost: bool = False):
        emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                       sample_ratio=0.0, cost=cost)

    def priced_traced_emit():
        emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=NoopExporter(),
                       max_queue_size=1 << 20, cost=True)

    results: dict[str, list[float]] = {k: [] for k in (
        "emit_traced", "floor_traced", "emit_metrics_only", "floor_metrics_only",
        "priced_traced", "priced_metrics_only")}
    for _ in range(args.rounds):
        traced_emit()
        best_us(emit_step, 1000)
        results["emit_traced"].append(best_us(emit_step, args.steps, emit.flush))
        results["floor_traced"].append(best_us(floor_traced, args.steps,
                                               floor_provider.force_flush))
        priced_traced_emit()
        best_us(emit_step, 1000)  # the first call imports genai-prices and resolves the price
        results["priced_traced"].append(best_us(emit_step, args.steps, emit.flush))
        metrics_emit()
        results["emit_metrics_only"].append(best_us(emit_step, args.steps))
        results["floor_metrics_only"].append(best_us(floor_metrics_only, args.steps))
        metrics_emit(cost=True)
        best_us(emit_step, 1000)
        results["priced_metrics_only"].append(best_us(emit_step, args.steps))
    best = {k: min(v) for k, v in results.items()}
    print(f"steps per round: {args.steps}, rounds: {args.rounds} (best round shown)")
    print(f"emit, tracing on (batch -> no-op sink):  {best['emit_traced']:7.1f} us/step")
    print(f"hand-written prometheus_client + OTel:   {best['floor_traced']:7.1f} us/step")
    traced_ratio = best["emit_traced"] / best["floor_traced"]
    print(f"ratio traced:                            {traced_ratio:7.2f}x  (target <= 1.3x)")
    print(f"emit, metrics only (sample_ratio=0):     {best['emit_metrics_only']:7.1f} us/step")
    print(f"hand-written prometheus_client only:     {best['floor_metrics_only']:7.1f} us/step")
    print(f"ratio metrics only:                      "
          f"{best['emit_metrics_only']/best['floor_metrics_only']:7.2f}x")
    print(f"emit traced, pricing on (cost=True):     {best['priced_traced']:7.1f} us/step")
    print(f"ratio priced / unpriced, traced:         "
          f"{best['priced_traced'] / best['emit_traced']:7.2f}x  (target <= 1.3x)")
    print(f"emit metrics only, pricing on:           {best['priced_metrics_only']:7.1f} us/step")
    print(f"ratio priced / unpriced, metrics only:   "
          f"{best['priced_metrics_only'] / best['emit_metrics_only']:7.2f}x")
    span_processor(args.steps, args.rounds)
    file_encoding(args.rounds)


def span_processor(steps: int, rounds: int) -> None:
    """CPU per foreign model-call span: a provider with GenAIMetricsProcessor vs without."""
    attrs = {"gen_ai.operation.name": "chat", "gen_ai.system": "openai",
             "gen_ai.request.model": "gpt-4o-mini"}
    usage = {"gen_ai.usage.input_tokens": 1410, "gen_ai.usage.output_tokens": 41}

    def make(with_processor: bool):
        provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
        if with_processor:
            provider.add_span_processor(emit.GenAIMetricsProcessor())
        tracer = provider.get_tracer("opentelemetry.instrumentation.openai_v2")
        counter = iter(range(1 << 62))

        def step() -> None:
            with tracer.start_as_current_span("chat gpt-4o-mini", kind=SpanKind.CLIENT,
                                              attributes=attrs) as span:
                span.set_attributes(usage)
                span.set_attribute("gen_ai.response.id", f"chatcmpl-{next(counter)}")

        return step

    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    bare, processed = make(False), make(True)
    times: dict[str, list[float]] = {"bare": [], "processed": []}
    for _ in range(rounds):
        times["bare"].append(best_us(bare, steps))
        times["processed"].append(best_us(processed, steps))
    b, p = min(times["bare"]), min(times["processed"])
    print(f"foreign span, GenAIMetricsProcessor:     {p:7.1f} us/span")
    print(f"the same span, no processor:             {b:7.1f} us/span")
    print(f"processor adds:                          {p - b:7.1f} us/span ({p / b:.2f}x)")


def file_encoding(rounds: int) -> None:
    """Spans per CPU second: emit's direct OTLP JSON text vs protobuf + MessageToJson."""
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agentinsight.formats.otlp_json import traces_data_line

    sink = InMemorySpanExporter()
    emit.configure(registry=prometheus_client.CollectorRegistry(), span_exporter=sink,
                   max_queue_size=1 << 20)
    for _ in range(5000):
        emit_step()
    emit.flush()
    spans = sink.get_finished_spans()
    batches = [spans[i:i + 512] for i in range(0, len(spans), 512)]
    direct, protobuf = [], []
    for _ in range(rounds):
        started = time.process_time()
        for batch in batches:
            traces_data_line(batch)
        direct.append(len(spans) / (time.process_time() - started))
        started = time.process_time()
        for batch in batches:
            MessageToJson(encode_spans(batch), indent=None)
        protobuf.append(len(spans) / (time.process_time() - started))
    print(f"file exporter encoding, direct:          {max(direct):9.0f} spans/CPU-s")
    print(f"protobuf encode_spans + MessageToJson:   {max(protobuf):9.0f} spans/CPU-s")
    print(f"speed-up:                                {max(direct) / max(protobuf):7.2f}x")


def _metrics_only_floor():
    """Bare prometheus_client: the same observations, no spans, no exemplars."""
    registry = prometheus_client.CollectorRegistry()

    def make(name):
        spec = catalog.by_name(name)
        kind = {"counter": prometheus_client.Counter, "gauge": prometheus_client.Gauge,
                "histogram": prometheus_client.Histogram}[spec.kind]
        extra = {"buckets": spec.buckets} if spec.kind == "histogram" else {}
        return kind(spec.base_name, spec.help, spec.labels, registry=registry, **extra)

    m = {name: make(name) for name in (
        "agent_execution_total", "agent_execution_duration_seconds", "agent_active",
        "tool_usage_total", "tool_execution_duration_seconds", "llm_tokens_used_total",
        "llm_request_duration_seconds", "gen_ai_client_token_usage",
        "gen_ai_client_operation_duration_seconds")}
    perf = time.perf_counter

    def step() -> None:
        t0 = perf()
        m["agent_active"].labels("planner").inc()
        t1 = perf()
        d1 = perf() - t1
        for token_type, n in (("input", 1200), ("output", 300), ("cache_read", 1000)):
            m["llm_tokens_used_total"].labels("planner", "openai", "gpt-4o", token_type).inc(n)
        m["gen_ai_client_token_usage"].labels("chat", "openai", "gpt-4o", "input").observe(1200)
        m["gen_ai_client_token_usage"].labels("chat", "openai", "gpt-4o", "output").observe(300)
        m["llm_request_duration_seconds"].labels("openai", "gpt-4o", "success").observe(d1)
        m["gen_ai_client_operation_duration_seconds"].labels(
            "chat", "openai", "gpt-4o", "").observe(d1)
        t2 = perf()
        d2 = perf() - t2
        m["tool_usage_total"].labels("planner", "web_search", "success").inc()
        m["tool_execution_duration_seconds"].labels("web_search", "success").observe(d2)
        m["agent_active"].labels("planner").dec()
        m["agent_execution_total"].labels("planner", "success").inc()
        m["agent_execution_duration_seconds"].labels("planner", "success").observe(perf() - t0)

    return step


if __name__ == "__main__":
    main()
