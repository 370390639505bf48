"""Cost analysis over one million spans: pricing throughput and the tables built on it.

Builds a synthetic spans frame (traces of one ``invoke_agent`` span carrying the sum of its
LLM calls, LLM calls over 12 models and 3 providers, tool calls, 30 days, 5 % batch calls),
then times ``price_spans`` and ``cost_table``. Baseline, measured in the same run: calling
``genai_prices.calc_price`` once per billable span on a random sample, which is what a
straightforward implementation does; the ratio compares throughput per billable span.

Run: ``python benchmarks/cost.py [--spans 1000000] [--sample 5000]``

``--compare REV`` times ``price_spans`` of the package as it was at git revision ``REV`` against
this tree's on one generated frame: two child processes (the older code taken with
``git archive`` into a temporary folder) price it in turns, call by call, so both see the same
load, and each call's process CPU time is counted, so other jobs on a loaded machine count for
little. Both sides must also bill the same total.

Run: ``python benchmarks/cost.py --compare REV [--spans 300000] [--rounds 20] [--response-ids]``
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from genai_prices import Usage, calc_price

from agentinsight.analysis import cost
from agentinsight.frames import TOKEN_COLUMNS
from agentinsight.semconv import (
    BATCH_ATTRIBUTES,
    GEN_AI_RESPONSE_ID,
    SERVER_ADDRESS,
    TOTAL_TOKENS_ATTRIBUTES,
    Operation,
)

MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("openai", "o3"), ("openai", "gpt-5"),
          ("openai", "gpt-4.1"), ("anthropic", "claude-sonnet-4-5"),
          ("anthropic", "claude-haiku-4-5"), ("anthropic", "claude-opus-4-6"),
          ("google", "gemini-2.5-pro"), ("google", "gemini-2.5-flash"),
          ("deepseek", "deepseek-chat"), ("openai", "in-house-finetune")]
AGENTS = ["planner", "coder", "researcher", "reviewer", "support", "triage"]


def synthetic_spans(n_spans: int, seed: int = 0, response_ids: bool = False) -> pd.DataFrame:
    """Traces of 20 spans: 1 agent span (summed usage), 14 LLM calls, 5 tool calls.

    With ``response_ids`` every LLM call also carries its response id and total token count
    (and the server's address), as the spans of instrumented provider SDKs do.
    """
    rng = np.random.default_rng(seed)
    per_trace = 20
    n_traces = n_spans // per_trace
    n = n_traces * per_trace
    trace = np.repeat(np.arange(n_traces), per_trace)
    pos = np.tile(np.arange(per_trace), n_traces)
    is_agent, is_tool = pos == 0, pos >= 15
    is_llm = ~is_agent & ~is_tool
    span_ids = np.array([f"{i:016x}" for i in range(n)], dtype=object)
    trace_ids = np.array([f"{t:032x}" for t in range(n_traces)], dtype=object)[trace]
    parent = np.where(is_agent, "", span_ids[trace * per_trace])
    t0 = pd.Timestamp("2026-10-01T00:00:00Z").value
    trace_start = t0 + rng.integers(0, 30 * 86400, n_traces) * 10**9
    start = trace_start[trace] + pos * 2 * 10**9
    model_idx = rng.integers(0, len(MODELS), n)
    inp = np.where(is_llm, rng.integers(200, 60_000, n), np.nan)
    cache = np.where(is_llm, np.floor(inp * rng.random(n) * 0.6), np.nan)
    out = np.where(is_llm, rng.integers(10, 4_000, n), np.nan)
    reasoning = np.where(is_llm & (model_idx == 2), np.floor(out * 0.5), np.nan)
    tokens = {"input_tokens": inp, "output_tokens": out, "cache_read_tokens": cache,
              "cache_write_tokens": np.full(n, np.nan), "reasoning_tokens": reasoning}
    for values in tokens.values():  # the agent span repeats the sum of its calls
        sums = np.bincount(trace, weights=np.nan_to_num(values), minlength=n_traces)
        values[is_agent] = sums
    batch = is_llm & (rng.random(n) < 0.05)
    empty: dict = {}
    attributes = [{BATCH_ATTRIBUTES[0]: True} if b else empty for b in batch]
    if response_ids:
        total = np.nan_to_num(inp) + np.nan_to_num(out)
        attributes = [{**a, GEN_AI_RESPONSE_ID: f"resp-{i:x}",
                       TOTAL_TOKENS_ATTRIBUTES[0]: int(total[i]), SERVER_ADDRESS: "api.example"}
                      if is_llm[i] else a for i, a in enumerate(attributes)]
    op = np.where(is_agent, Operation.INVOKE_AGENT.value,
                  np.where(is_tool, Operation.EXECUTE_TOOL.value, Operation.CHAT.value))
    providers = np.array([m[0] for m in MODELS], dtype=object)[model_idx]
    models = np.array([m[1] for m in MODELS], dtype=object)[model_idx]
    agent = np.array(AGENTS, dtype=object)[rng.integers(0, len(AGENTS), n_traces)][trace]
    frame = pd.DataFrame({
        "trace_id": trace_ids, "span_id": span_ids, "parent_span_id": parent,
        "service": "bench", "name": op, "kind": "internal",
        "start": pd.to_datetime(start, utc=True), "end": pd.to_datetime(start + 10**9, utc=True),
        "duration_ms": 1000.0, "status": "ok", "status_message": "",
        "agent": np.where(is_agent, agent, None), "operation": op,
        "provider": np.where(is_llm, providers, None), "model": np.where(is_llm, models, None),
        "tool": np.where(is_tool, "web_search", None), **tokens, "attributes": attributes,
    })
    for col in TOKEN_COLUMNS:
        frame[col] = frame[col].astype("float64")
    return frame


def per_call_baseline(priced: pd.DataFrame, sample: int, seed: int = 1) -> tuple[float, float]:
    """Seconds per billable span with one calc_price call each, and the largest difference."""
    rows = priced.loc[priced["billable"] & priced["priced"]]
    rows = rows.sample(min(sample, len(rows)), random_state=seed)
    worst = 0.0
    began = time.perf_counter()
    for r in rows.itertuples():
        usage = Usage(input_tokens=int(r.input_tokens), output_tokens=int(r.output_tokens),
                      cache_read_tokens=int(np.nan_to_num(r.cache_read_tokens)),
                      output_reasoning_tokens=int(np.nan_to_num(r.reasoning_tokens)))
        context = {"processing": "batch"} if r.attributes else None
        price = calc_price(usage, r.model, provider_id=r.provider,
                           genai_request_timestamp=r.start.to_pydatetime(),
                           price_context=context)
        worst = max(worst, abs(float(price.total_price) - r.cost_usd))
    return (time.perf_counter() - began) / len(rows), worst


ROOT = Path(__file__).resolve().parents[1]

# A child process with one tree's package first on the path: it loads the pickled frame, prices
# it once to warm up, says where its package came from, then prices it once per line it reads
# and answers each with the call's CPU time. Two such children take turns call by call, so both
# see the same load.
_CHILD = """
import json, pickle, sys, time, warnings
import numpy as np
import agentinsight
from agentinsight.analysis import cost
with open(sys.argv[1], "rb") as f:
    spans = pickle.load(f)
def run():
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        began = time.process_time()
        priced = cost.price_spans(spans)
        return time.process_time() - began, priced
_, priced = run()
print(json.dumps({"package": agentinsight.__file__, "billable": int(priced["billable"].sum()),
                  "cost_usd": float(priced["cost_usd"].sum())}), flush=True)
del priced
for line in sys.stdin:
    print(json.dumps(run()[0]), flush=True)
"""


def export_tree(rev: str, folder: Path) -> str:
    """Write the package as it was at ``rev`` into ``folder``; the full commit id."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
                            capture_output=True, text=True)
    if commit.returncode:
        raise SystemExit(f"--compare: {rev!r} is not a commit of this repository: "
                         f"{commit.stderr.strip()}")
    archive = folder / "tree.tar"
    with archive.open("wb") as f:
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar",
                        commit.stdout.strip(), "agentinsight"], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "tree", filter="data")
    return commit.stdout.strip()


class Child:
    """One child process pricing ``frame`` with the package in ``tree``, a call per request."""

    def __init__(self, tree: Path, frame: Path) -> None:
        self.tree = tree
        self.proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(frame)], cwd=tree,
                                     env={**os.environ, "PYTHONPATH": str(tree)}, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.first = self._answer()
        if not Path(self.first["package"]).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"the child imported {self.first['package']}, not {tree}'s package")

    def _answer(self) -> Any:
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line:
            raise SystemExit(f"price_spans failed with the package in {self.tree} "
                             f"(exit status {self.proc.wait()})")
        return json.loads(line)

    def call(self) -> float:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return float(self._answer())

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait()


def compare(rev: str, spans: pd.DataFrame, rounds: int) -> None:
    """CPU time of ``price_spans`` at ``rev`` and in this tree, the two taking turns."""
    with tempfile.TemporaryDirectory(prefix="agentinsight-cost-") as tmp:
        folder = Path(tmp)
        commit = export_tree(rev, folder)
        frame = folder / "spans.pickle"
        with frame.open("wb") as f:
            pickle.dump(spans, f, protocol=pickle.HIGHEST_PROTOCOL)
        children = {"before": Child(folder / "tree", frame), "after": Child(ROOT, frame)}
        try:
            times: dict[str, list[float]] = {"before": [], "after": []}
            for i in range(rounds):
                for side in ("before", "after") if i % 2 == 0 else ("after", "before"):
                    times[side].append(children[side].call())
        finally:
            for child in children.values():
                child.close()
    bills = {(c.first["billable"], round(c.first["cost_usd"], 6)) for c in children.values()}
    before, after = np.array(times["before"]), np.array(times["after"])
    ratios = after / before
    print(f"price_spans on {len(spans):,} spans: {commit[:7]} ({rev}) against this tree, "
          f"process CPU time, {rounds} calls each, taking turns call by call")
    for side, values in (("before", before), ("after", after)):
        print(f"  {side + ':':7s} best {values.min():.3f} s, median {np.median(values):.3f} s, "
              f"range {values.min():.3f}-{values.max():.3f} s")
    print(f"  after / before: {after.min() / before.min():.3f} (best against best), "
          f"{np.median(ratios):.3f} (median of the {rounds} turns; quartiles "
          f"{np.quantile(ratios, 0.25):.3f}-{np.quantile(ratios, 0.75):.3f})")
    if len(bills) != 1:
        raise SystemExit(f"the two trees billed differently: {sorted(bills)}")
    billable, total = bills.pop()
    print(f"  both bill {billable:,} calls, {total:,.6f} USD")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=5_000)
    parser.add_argument("--compare", metavar="REV",
                        help="time price_spans at this git revision against this tree")
    parser.add_argument("--response-ids", action="store_true",
                        help="every LLM call carries a response id and a total token count")
    parser.add_argument("--rounds", type=int, default=20,
                        help="calls on each side, taking turns (--compare)")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, synthetic_spans(args.spans, response_ids=args.response_ids),
                args.rounds)
        return

    began = time.perf_counter()
    spans = synthetic_spans(args.spans, response_ids=args.response_ids)
    print(f"built {len(spans):,} spans in {time.perf_counter() - began:.1f} s")

    began = time.perf_counter()
    with np.errstate(all="ignore"):
        priced = cost.price_spans(spans)
    price_s = time.perf_counter() - began
    billable = int(priced["billable"].sum())
    print(f"price_spans: {price_s:.2f} s for {len(spans):,} spans ({billable:,} billable calls, "
          f"{int(priced['priced'].sum()):,} priced): {len(spans) / price_s:,.0f} spans/s, "
          f"{billable / price_s:,.0f} billable spans/s")

    began = time.perf_counter()
    table = cost.cost_table(priced, by=["agent", "model", "day"])
    print(f"cost_table(by=agent, model, day): {time.perf_counter() - began:.2f} s, "
          f"{len(table):,} rows")
    began = time.perf_counter()
    cost.cost_table(priced, by=["task_type", "tool_chain"])
    print(f"cost_table(by=task_type, tool_chain): {time.perf_counter() - began:.2f} s")
    began = time.perf_counter()
    cost.top_traces(priced, 10)
    print(f"top_traces(10): {time.perf_counter() - began:.2f} s")

    per_call, worst = per_call_baseline(priced, args.sample)
    vector_per_call = price_s / billable
    print(f"baseline calc_price per span: {per_call * 1e6:,.0f} us/span "
          f"({1 / per_call:,.0f} spans/s) on {args.sample:,} sampled billable spans; "
          f"largest difference {worst:.2e} USD")
    print(f"ratio: price_spans is {per_call / vector_per_call:,.0f}x faster per billable span "
          f"(baseline would take {per_call * billable:,.0f} s for these {billable:,} calls)")


if __name__ == "__main__":
    main()
