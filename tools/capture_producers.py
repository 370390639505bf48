"""Capture real producers' GenAI telemetry into ``tests/data/producers/``.

Most users of agentinsight's analysis already run an instrumentation: the official OpenTelemetry
``opentelemetry-instrumentation-openai-v2``, OpenLLMetry (``opentelemetry-instrumentation-openai``
and ``-anthropic``, current and 0.40-era releases), openlit, OpenInference, the anthropic SDK's own
tracing, pydantic-ai. Their spans are
captured here, not written by hand, so the readers are held to what those packages really emit.

For each producer group this script

1. creates a virtual environment under ``~/.cache/agentinsight/producers/<group>`` (once; a
   ``.installed`` marker holds the requirement list, and a changed list reinstalls) and
   ``pip install``\\ s the group's packages from PyPI at the versions pinned in :data:`GROUPS`;
2. starts the fake LLM server of ``tools/fake_llm.py`` on a free loopback port (OpenAI chat
   completions streamed and not, with cached and reasoning tokens and a tool call; embeddings;
   Anthropic messages streamed and not, with cache reads and writes and ``input_tokens``
   excluding the cache);
3. runs ``tools/producer_workload.py`` with the group's interpreter and the producer's
   instrumentation(s) switched on, pointed at the fake server, writing OTLP/JSON
   ``ExportTraceServiceRequest`` lines to ``tests/data/producers/<producer>.jsonl``;
4. records in ``tests/data/producers/expected.json``, per producer: the installed versions of the
   packages that matter, every call the fake server answered with its usage exactly as returned
   (and the same usage in genai-prices' terms, ``input_tokens`` including the cache), the number
   of LLM calls and of tool executions in the workload.

Run it from the repository root (needs network access to PyPI the first time)::

    python tools/capture_producers.py                 # every producer
    python tools/capture_producers.py --only openlit-anthropic
    python tools/capture_producers.py --list

Producers whose packages cannot be installed, or that emit nothing for the workload, are listed
with the reason in ``tests/data/producers/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_llm import FakeLLM  # noqa: E402 - the tools folder is not a package

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "producers"
CACHE = Path(os.environ.get("AGENTINSIGHT_CACHE", Path.home() / ".cache" / "agentinsight"))
WORKLOAD = Path(__file__).resolve().parent / "producer_workload.py"

_OTEL = ["opentelemetry-sdk==1.45.2", "opentelemetry-exporter-otlp-proto-common==1.45.2",
         "protobuf==7.36.2"]
# openai 3.x no longer pulls in httpx, which openai-v2 imports; util-genai 1.x renamed the
# module openai-v2 2.4b0 imports, so both are pinned beside it
_OPENAI_V2 = ["opentelemetry-instrumentation-openai-v2==2.4b0",
              "opentelemetry-util-genai==0.4b0", "httpx==0.28.1"]
#: Virtual environment → its pinned requirements.
GROUPS: dict[str, list[str]] = {
    "openai-v2": [*_OTEL, "openai==3.57.0", *_OPENAI_V2],
    "openllmetry": [*_OTEL, "openai==3.57.0", "anthropic==2.14.0",
                    "opentelemetry-instrumentation-openai==0.62.4",
                    "opentelemetry-instrumentation-anthropic==0.62.4", *_OPENAI_V2],
    "openinference": [*_OTEL, "openai==3.57.0", "anthropic==2.14.0",
                      "openinference-instrumentation-openai==0.1.66",
                      "openinference-instrumentation-anthropic==3.1.0",
                      "opentelemetry-instrumentation-anthropic==0.62.4"],
    "openllmetry-0.40": [*_OTEL, "openai==1.109.1", "anthropic==0.59.0",
                         "opentelemetry-semantic-conventions-ai==0.4.9",
                         "opentelemetry-instrumentation-openai==0.40.14",
                         "opentelemetry-instrumentation-anthropic==0.40.14"],
    "pydantic-ai": [*_OTEL, "openai==3.57.0", "anthropic==2.14.0",
                    "pydantic-ai-slim[openai,anthropic]==2.68.0"],
    # openlit 1.45 caps openai below 3 and anthropic below 1 (and the SDK at 1.45.1)
    "openlit": ["opentelemetry-sdk==1.45.1", "opentelemetry-exporter-otlp-proto-common==1.45.1",
                "protobuf==7.36.2", "openai==2.54.0", "anthropic==0.125.0", "openlit==1.45.0"],
}

#: Producer → its group, provider, instrumentations in wrapping order, tool span kind, note.
#: The anthropic SDK's own tracing is switched off unless ``sdk_tracing`` is set, so that each
#: file holds what its producer emits.
PRODUCERS: dict[str, dict[str, Any]] = {
    "openai-v2": {"group": "openai-v2", "provider": "openai", "instrument": ["openai-v2"]},
    "openllmetry-openai": {"group": "openllmetry", "provider": "openai",
                           "instrument": ["openllmetry-openai"]},
    "openllmetry-anthropic": {"group": "openllmetry", "provider": "anthropic",
                              "instrument": ["openllmetry-anthropic"]},
    # the anthropic SDK (2.x) traces its own calls with OpenTelemetry, on by default
    "anthropic-sdk": {"group": "openllmetry", "provider": "anthropic", "instrument": [],
                      "sdk_tracing": True},
    "openllmetry-0.40-openai": {"group": "openllmetry-0.40", "provider": "openai",
                                "instrument": ["openllmetry-openai"]},
    "openllmetry-0.40-anthropic": {"group": "openllmetry-0.40", "provider": "anthropic",
                                   "instrument": ["openllmetry-anthropic"]},
    "openlit-openai": {"group": "openlit", "provider": "openai", "instrument": ["openlit"]},
    "openlit-anthropic": {"group": "openlit", "provider": "anthropic", "instrument": ["openlit"]},
    "openinference-openai": {"group": "openinference", "provider": "openai",
                             "instrument": ["openinference-openai"], "tool_span": "openinference"},
    "openinference-anthropic": {"group": "openinference", "provider": "anthropic",
                                "instrument": ["openinference-anthropic"],
                                "tool_span": "openinference"},
    # pydantic-ai's own instrumentation runs the turn as an agent (its own tool span)
    "pydantic-ai-openai": {"group": "pydantic-ai", "provider": "openai",
                           "instrument": ["pydantic-ai"]},
    "pydantic-ai-anthropic": {"group": "pydantic-ai", "provider": "anthropic",
                              "instrument": ["pydantic-ai"]},
    # the double-billing cases: one call recorded by two instrumentations
    "double-anthropic": {"group": "openinference", "provider": "anthropic",
                         "instrument": ["openllmetry-anthropic", "openinference-anthropic"],
                         "tool_span": "openinference",
                         "note": "OpenLLMetry and OpenInference both on; OpenInference wraps "
                                 "outermost"},
    "anthropic-sdk+openllmetry": {"group": "openllmetry", "provider": "anthropic",
                                  "instrument": ["openllmetry-anthropic"], "sdk_tracing": True,
                                  "note": "the anthropic SDK's own tracing and OpenLLMetry, "
                                          "both on as they are by default"},
    "nested-openai": {"group": "openllmetry", "provider": "openai",
                      "instrument": ["openai-v2", "openllmetry-openai"],
                      "note": "openai-v2 nested inside OpenLLMetry (OpenLLMetry wraps "
                              "outermost)"},
}

#: The distributions whose versions are recorded.
_WATCHED = ("openai", "anthropic", "opentelemetry-sdk", "opentelemetry-instrumentation-openai",
            "opentelemetry-instrumentation-anthropic", "opentelemetry-instrumentation-openai-v2",
            "opentelemetry-util-genai", "opentelemetry-semantic-conventions-ai",
            "openinference-instrumentation-openai", "openinference-instrumentation-anthropic",
            "openinference-semantic-conventions", "openlit", "pydantic-ai-slim")


def python_of(group: str) -> Path:
    """The group's interpreter, its environment created and installed when missing or stale."""
    env = CACHE / "producers" / group
    marker = env / ".installed"
    wanted = "\n".join(GROUPS[group])
    py = env / "bin" / "python"
    if py.exists() and marker.exists() and marker.read_text() == wanted:
        return py
    if not py.exists():
        venv.create(env, with_pip=True)
    print(f"[{group}] pip install {' '.join(GROUPS[group])}", flush=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                    *GROUPS[group]], check=True)
    marker.write_text(wanted)
    return py


def versions(py: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, json, sys\n"
            "out = {}\n"
            "for d in sys.argv[1:]:\n"
            "    try: out[d] = m.version(d)\n"
            "    except m.PackageNotFoundError: pass\n"
            "print(json.dumps(out))")
    done = subprocess.run([str(py), "-c", code, *_WATCHED], check=True, capture_output=True,
                          text=True)
    return dict(json.loads(done.stdout))


def priced_usage(call: dict[str, Any]) -> dict[str, int]:
    """A call's usage in genai-prices' terms: ``input_tokens`` counts cache reads and writes."""
    u = call["usage"]
    if call["provider"] == "anthropic":
        read, write = u.get("cache_read_input_tokens", 0), u.get("cache_creation_input_tokens", 0)
        return {"input_tokens": u["input_tokens"] + read + write, "output_tokens":
                u["output_tokens"], "cache_read_tokens": read, "cache_write_tokens": write,
                "reasoning_tokens": 0}
    return {"input_tokens": u["prompt_tokens"], "output_tokens": u.get("completion_tokens", 0),
            "cache_read_tokens": (u.get("prompt_tokens_details") or {}).get("cached_tokens", 0),
            "cache_write_tokens": 0,
            "reasoning_tokens": (u.get("completion_tokens_details") or {}).get(
                "reasoning_tokens", 0)}


def capture(name: str, out: Path) -> dict[str, Any]:
    spec = PRODUCERS[name]
    py = python_of(spec["group"])
    target = out / f"{name}.jsonl"
    with tempfile.TemporaryDirectory() as tmp, FakeLLM() as llm:
        spans = Path(tmp) / "spans.jsonl"
        cmd = [str(py), str(WORKLOAD), "--provider", spec["provider"], "--base-url", llm.url,
               "--out", str(spans), "--tool-span", spec.get("tool_span", "genai")]
        for inst in spec["instrument"]:
            cmd += ["--instrument", inst]
        env = {**os.environ,
               "ANTHROPIC_OPEN_TELEMETRY": "true" if spec.get("sdk_tracing") else "false",
               "OTEL_SDK_DISABLED": "false"}
        # every other setting stays at the producer's default, as a new user runs it (hiding
        # inputs would change what is recorded: OpenInference then drops the prompt token count)
        for var in ("TRACELOOP_TRACE_CONTENT", "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                    "OPENINFERENCE_HIDE_INPUTS", "OPENINFERENCE_HIDE_OUTPUTS"):
            env.pop(var, None)
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
        if done.returncode:
            raise RuntimeError(f"{name}: workload failed:\n{done.stderr[-4000:]}")
        calls = list(llm.calls)
        if not spans.exists() or not spans.read_text().strip():
            raise RuntimeError(f"{name}: the producer exported no spans")
        target.write_text(spans.read_text())
    return {
        "group": spec["group"], "provider": spec["provider"],
        "instrumentations": spec["instrument"],
        "anthropic_sdk_tracing": bool(spec.get("sdk_tracing")), "note": spec.get("note", ""),
        "versions": versions(py), "llm_calls": len(calls), "tool_calls": 1,
        "calls": [{**c, "priced_usage": priced_usage(c)} for c in calls],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(PRODUCERS),
                        help="capture only this producer (repeatable)")
    parser.add_argument("--list", action="store_true", help="list the producers and exit")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if args.list:
        for name, spec in PRODUCERS.items():
            recorders = [*spec["instrument"], *(["anthropic SDK tracing"]
                                                 if spec.get("sdk_tracing") else [])]
            print(f"{name:28} {spec['group']:18} {' + '.join(recorders)}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    expected_path = args.out / "expected.json"
    expected = json.loads(expected_path.read_text()) if expected_path.exists() else {}
    failed = {}
    for name in args.only or list(PRODUCERS):
        print(f"[{name}] capturing", flush=True)
        try:
            expected[name] = capture(name, args.out)
        except (RuntimeError, subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            failed[name] = str(exc)
            print(f"[{name}] FAILED: {exc}", file=sys.stderr, flush=True)
            continue
        expected_path.write_text(json.dumps(dict(sorted(expected.items())), indent=1) + "\n")
        print(f"[{name}] {expected[name]['llm_calls']} calls, versions "
              f"{expected[name]['versions']}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
