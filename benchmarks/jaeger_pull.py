"""End to end: 10,000 traces pulled from a real Jaeger into a spans frame, and where time goes.

Run: ``python benchmarks/jaeger_pull.py [--traces 10000] [--page 1000]``. Starts a Jaeger v2
(in-memory) on loopback, loads synthetic GenAI agent traces (8 spans each, the generator of
``benchmarks/otlp_parse.py``) over OTLP/HTTP, then times ``JaegerSource.traces`` over the whole
window with api_v3 and with the v1 fallback, splitting the time into: waiting for the server
(query + transfer), parsing the answers into frames, and the rest (window bisection,
concatenation, de-duplication).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import pandas as pd
from otlp_parse import make_file

from agentinsight.sources import JaegerSource, _http, jaeger
from agentinsight.stack import Jaeger
from agentinsight.stack.load import load_jaeger_otlp

TIMERS = {"server": 0.0, "parse": 0.0}


def _timed(name, fn):
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            TIMERS[name] += time.perf_counter() - t
    return wrapper


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--page", type=int, default=1_000)
    args = parser.parse_args()
    # count time spent waiting for the server and parsing, inside the real code path
    _http.get = _timed("server", _http.get)
    jaeger.parse_otlp_text = _timed("parse", jaeger.parse_otlp_text)
    jaeger.spans_from_v1 = _timed("parse", jaeger.spans_from_v1)
    with tempfile.TemporaryDirectory() as tmp, Jaeger() as server:
        path = os.path.join(tmp, "spans.jsonl")
        spans = make_file(path, args.traces)
        t = time.perf_counter()
        load_jaeger_otlp(path, server.otlp_http_url)
        load = time.perf_counter() - t
        start = pd.Timestamp(1_764_000_000 - 60, unit="s", tz="UTC")
        end = start + pd.Timedelta(seconds=3 * args.traces + 120)
        source = JaegerSource(server.query_url, api="v3")
        for _ in range(50):  # the receiver batches: wait for the last trace
            if source.traces("support-bot", start=end - pd.Timedelta("10s"), end=end).size:
                break
            time.sleep(0.1)
        print(f"loaded {args.traces} traces ({spans} spans) over OTLP/HTTP in {load:.1f} s")
        for api in ("v3", "v1"):
            source = JaegerSource(server.query_url, api=api, page_traces=args.page)
            TIMERS.update(server=0.0, parse=0.0)
            t = time.perf_counter()
            frame = source.traces("support-bot", start=start, end=end)
            total = time.perf_counter() - t
            assert frame["trace_id"].nunique() == args.traces and len(frame) == spans
            rest = total - TIMERS["server"] - TIMERS["parse"]
            print(f"{api}: {total:.2f} s for {args.traces} traces / {spans} spans "
                  f"({spans / total:,.0f} spans/s) in {source.requests} requests: "
                  f"server {TIMERS['server']:.2f} s, parse {TIMERS['parse']:.2f} s, "
                  f"rest {rest:.2f} s")


if __name__ == "__main__":
    main()
