"""The workload each producer records: run inside that producer's own virtual environment.

``tools/capture_producers.py`` runs this file with the producer's interpreter; it imports only
what that environment has (the provider SDKs, the OpenTelemetry SDK and the producer's
instrumentation), never agentinsight. It

1. installs an OpenTelemetry ``TracerProvider`` whose exporter writes OTLP/JSON
   ``ExportTraceServiceRequest`` documents, one per line (the SDK's own protobuf encoder turned
   into JSON with hex ids, as the OTLP/JSON specification and the Collector's file exporter
   write them);
2. switches on the producer's instrumentation(s) (``--instrument``, in the order given: the last
   one wraps outermost);
3. runs one small agent turn against the fake server at ``--base-url``: a call offering a tool and
   answered with a tool call, the tool executed in a span of the producer's own kind (OpenInference
   ``TOOL`` spans through its ``OITracer``, GenAI ``execute_tool`` spans otherwise), a streamed
   follow-up call and, for OpenAI, an embeddings call. With ``--instrument pydantic-ai`` a
   pydantic-ai agent runs the turn instead (model call, its own tool span, model call).

Usage: ``python producer_workload.py --provider openai --instrument openllmetry-openai
--base-url http://127.0.0.1:PORT --out spans.jsonl``
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

TOOL = "get_weather"
# the span vocabulary of a GenAI tool execution (spelled out here: this file runs outside the
# package, in the producer's environment)
OPERATION_KEY, TOOL_KEY, TOOL_OPERATION = "gen_ai.operation.name", "gen_ai.tool.name", (
    "execute" + "_tool")


class JsonLinesExporter(SpanExporter):
    """Each export as one OTLP/JSON ``ExportTraceServiceRequest`` line."""

    def __init__(self, path: str) -> None:
        self._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

        doc = _hex_ids(MessageToDict(encode_spans(spans)))
        self._fh.write(json.dumps(doc, separators=(",", ":"), sort_keys=True) + "\n")
        self._fh.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._fh.close()


def _hex_ids(node: Any) -> Any:
    """The protobuf JSON mapping writes bytes as base64; OTLP/JSON writes trace and span ids as
    hex."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("traceId", "spanId", "parentSpanId") and isinstance(value, str):
                out[key] = base64.b64decode(value).hex()
            else:
                out[key] = _hex_ids(value)
        return out
    if isinstance(node, list):
        return [_hex_ids(v) for v in node]
    return node


# --- instrumentations ------------------------------------------------------------------------
def instrument(name: str, provider: TracerProvider) -> None:
    if name == "openai-v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
        OpenAIInstrumentor().instrument(tracer_provider=provider)
    elif name == "openllmetry-openai":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as LLMetryOpenAI
        LLMetryOpenAI().instrument(tracer_provider=provider)
    elif name == "openllmetry-anthropic":
        from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor
        AnthropicInstrumentor().instrument(tracer_provider=provider)
    elif name == "openinference-openai":
        from openinference.instrumentation.openai import OpenAIInstrumentor as OIOpenAI
        OIOpenAI().instrument(tracer_provider=provider)
    elif name == "openinference-anthropic":
        from openinference.instrumentation.anthropic import AnthropicInstrumentor as OIAnthropic
        OIAnthropic().instrument(tracer_provider=provider)
    elif name == "pydantic-ai":
        from pydantic_ai import Agent
        from pydantic_ai.models.instrumented import InstrumentationSettings
        Agent.instrument_all(InstrumentationSettings(tracer_provider=provider))
    elif name == "openlit":
        import openlit
        # openlit reuses the TracerProvider already installed
        openlit.init(service_name="weather-agent", disable_metrics=True, disable_events=True)
    else:
        raise SystemExit(f"unknown instrumentation {name!r}")


@contextmanager
def tool_span(tracer: trace.Tracer, kind: str) -> Iterator[None]:
    """The tool execution, in a span of the producer's own kind."""
    if kind == "openinference":
        from openinference.instrumentation import OITracer, TraceConfig
        oi = OITracer(tracer, config=TraceConfig())
        with oi.start_as_current_span(TOOL, openinference_span_kind="tool") as span:
            span.set_tool(name=TOOL, description="Current weather of a city",
                          parameters={"city": "Paris"})
            span.set_input({"city": "Paris"})
            yield
            span.set_output("sunny, 21 C")
        return
    with tracer.start_as_current_span(f"{TOOL_OPERATION} {TOOL}", attributes={
            OPERATION_KEY: TOOL_OPERATION, TOOL_KEY: TOOL}):
        yield


# --- workloads -------------------------------------------------------------------------------
def openai_turn(base_url: str, tracer: trace.Tracer, tool_kind: str) -> None:
    import openai
    client = openai.OpenAI(base_url=base_url + "/v1", api_key="sk-fake", max_retries=0)
    tools = [{"type": "function", "function": {
        "name": TOOL, "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                       "required": ["city"]}}}]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    with tool_span(tracer, tool_kind):
        result = "sunny, 21 C"
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call.id, "type": "function",
             "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": result},
    ]
    stream = client.chat.completions.create(model="o4-mini", messages=messages, stream=True,
                                            stream_options={"include_usage": True})
    for _ in stream:
        pass
    client.embeddings.create(model="text-embedding-3-small", input="weather in Paris")


def anthropic_turn(base_url: str, tracer: trace.Tracer, tool_kind: str) -> None:
    import anthropic
    client = anthropic.Anthropic(base_url=base_url, api_key="sk-ant-fake", max_retries=0)
    tools = [{"name": TOOL, "description": "Current weather of a city",
              "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]}}]
    messages: list[Any] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = client.messages.create(model="claude-sonnet-4-5", max_tokens=256, tools=tools,
                                   messages=messages)
    use = next(block for block in first.content if block.type == "tool_use")
    with tool_span(tracer, tool_kind):
        result = "sunny, 21 C"
    messages += [
        {"role": "assistant", "content": [{"type": "tool_use", "id": use.id, "name": use.name,
                                           "input": use.input}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                      "content": result}]},
    ]
    stream = client.messages.create(model="claude-3-5-haiku-latest", max_tokens=256,
                                    messages=messages, stream=True)
    for _ in stream:
        pass


def pydantic_ai_turn(provider_name: str, base_url: str) -> None:
    """The same turn run by a pydantic-ai agent: it calls the model, runs the tool in a span of
    its own and calls the model again with the result."""
    from pydantic_ai import Agent

    model: Any
    if provider_name == "openai":
        from pydantic_ai.models.openai import OpenAIChatModel
        from pydantic_ai.providers.openai import OpenAIProvider
        model = OpenAIChatModel("gpt-4o-mini", provider=OpenAIProvider(
            base_url=base_url + "/v1", api_key="sk-fake"))
    else:
        from pydantic_ai.models.anthropic import AnthropicModel
        from pydantic_ai.providers.anthropic import AnthropicProvider
        model = AnthropicModel("claude-sonnet-4-5", provider=AnthropicProvider(
            base_url=base_url, api_key="sk-ant-fake"))
    agent = Agent(model, name="weather", model_settings={"max_tokens": 256})

    @agent.tool_plain
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        return "sunny, 21 C"

    agent.run_sync("What is the weather in Paris?")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--provider", choices=("openai", "anthropic"), required=True)
    parser.add_argument("--instrument", action="append", default=[])
    parser.add_argument("--tool-span", choices=("genai", "openinference"), default="genai")
    parser.add_argument("--service", default="weather-agent")
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)

    provider = TracerProvider(resource=Resource.create({"service.name": args.service}))
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(args.out)))
    trace.set_tracer_provider(provider)
    for name in args.instrument:
        instrument(name, provider)
    tracer = provider.get_tracer("weather-agent")
    with tracer.start_as_current_span("weather turn"):
        if "pydantic-ai" in args.instrument:
            pydantic_ai_turn(args.provider, args.base_url)
        else:
            turn = openai_turn if args.provider == "openai" else anthropic_turn
            turn(args.base_url, tracer, args.tool_span)
    provider.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
