"""OTLP JSON lines → spans frame: spans per second, against json.loads + pandas.json_normalize.

Run: ``python benchmarks/otlp_parse.py [--traces 20000]``. Writes a synthetic file of GenAI agent
traces (one TracesData per line, 8 spans per trace, ids in hex, int64 as strings as OTLP/JSON
exporters write them), then times, on the same file and in the same run:

- agentinsight: ``agentinsight.sources.otlp.read_otlp_jsonl`` (the spans frame, every column);
- baseline: ``json.loads`` per line + ``pandas.json_normalize(record_path=resourceSpans.scopeSpans
  .spans)``, which only flattens span fields (attributes stay a list of key/value dicts).

Each is run 5 times, interleaved; the best process CPU time counts (the reference machine is
shared, and wall time under load swings both sides alike).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time

import pandas as pd

from agentinsight.sources.otlp import read_otlp_jsonl

AGENTS = ["planner", "researcher", "coder", "reviewer", "writer", "tester"]
MODELS = [("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"), ("google", "gemini-2.5-pro")]
TOOLS = ["web_search", "code_exec", "read_file", "vector_search"]


def _kv(key, value):
    if isinstance(value, str):
        return {"key": key, "value": {"stringValue": value}}
    return {"key": key, "value": {"intValue": str(value)}}


def _span(rng, trace_id, parent, name, start, dur, attrs, kind=1):
    span_id = f"{rng.getrandbits(64):016x}"
    return span_id, {
        "traceId": trace_id, "spanId": span_id, "parentSpanId": parent, "name": name,
        "kind": kind, "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + dur),
        "attributes": [_kv(k, v) for k, v in attrs.items()],
        "status": {"code": 2 if rng.random() < 0.05 else 1},
    }


def make_file(path: str, traces: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    t0 = 1_764_000_000 * 10**9
    n = 0
    with open(path, "w") as fh:
        for i in range(traces):
            trace_id = f"{rng.getrandbits(128):032x}"
            agent = rng.choice(AGENTS)
            start = t0 + i * 3 * 10**9
            root, span = _span(rng, trace_id, "", f"invoke_agent {agent}", start, 9 * 10**9,
                               {"gen_ai.agent.name": agent, "gen_ai.operation.name":
                                "invoke_agent", "session.id": f"s{i % 97}"})
            spans = [span]
            for j in range(7):
                provider, model = rng.choice(MODELS)
                if j % 2:
                    tool = rng.choice(TOOLS)
                    _, s = _span(rng, trace_id, root, f"execute_tool {tool}", start + j * 10**9,
                                 rng.randrange(10**7, 10**9),
                                 {"gen_ai.tool.name": tool, "gen_ai.operation.name":
                                  "execute_tool", "gen_ai.agent.name": agent}, kind=1)
                else:
                    _, s = _span(rng, trace_id, root, f"chat {model}", start + j * 10**9,
                                 rng.randrange(10**8, 10**9),
                                 {"gen_ai.operation.name": "chat", "gen_ai.provider.name":
                                  provider, "gen_ai.request.model": model,
                                  "gen_ai.response.model": model, "gen_ai.agent.name": agent,
                                  "gen_ai.usage.input_tokens": rng.randrange(100, 5000),
                                  "gen_ai.usage.output_tokens": rng.randrange(10, 900),
                                  "gen_ai.usage.cache_read.input_tokens": rng.randrange(0, 100),
                                  "server.address": "api.example.com"}, kind=3)
                spans.append(s)
            doc = {"resourceSpans": [{"resource": {"attributes": [
                _kv("service.name", "support-bot"), _kv("service.version", "1.2.3")]},
                "scopeSpans": [{"scope": {"name": "agentinsight"}, "spans": spans}]}]}
            fh.write(json.dumps(doc, separators=(",", ":")) + "\n")
            n += len(spans)
    return n


def baseline(path: str) -> pd.DataFrame:
    with open(path, "rb") as fh:
        docs = [json.loads(line) for line in fh]
    return pd.json_normalize(docs, record_path=["resourceSpans", "scopeSpans", "spans"])


def timed(fn, path: str) -> tuple[float, pd.DataFrame]:
    t = time.process_time()
    out = fn(path)
    return time.process_time() - t, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spans.jsonl")
        n = make_file(path, args.traces)
        size_mb = os.path.getsize(path) / 1e6
        ours = base = float("inf")
        for _ in range(5):
            t, frame = timed(read_otlp_jsonl, path)
            ours = min(ours, t)
            t, flat = timed(baseline, path)
            base = min(base, t)
    assert len(frame) == len(flat) == n
    print(f"file: {args.traces} traces, {n} spans, {size_mb:.1f} MB")
    print(f"agentinsight read_otlp_jsonl: {ours:.3f} CPU s  ({n / ours:,.0f} spans/s)")
    print(f"json.loads + json_normalize:  {base:.3f} CPU s  ({n / base:,.0f} spans/s)")
    print(f"ratio: {base / ours:.2f}x")


if __name__ == "__main__":
    main()
