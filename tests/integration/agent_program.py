"""A small instrumented agent with a known workload, run as a separate program by the tests.

It configures ``agentinsight.emit`` from the standard ``OTEL_*`` environment variables only
(``OTEL_SERVICE_NAME``, ``OTEL_EXPORTER_OTLP_ENDPOINT``), serves ``/metrics`` on a free port,
runs the workload below, exports its spans, and keeps serving until stdin closes or SIGTERM.

It talks to the test on stdout, one JSON object a line:
``{"port": 40123}`` once it serves, then ``{"runs": [{"trace_id": ..., "status": ...}, ...]}``
when the workload is done and its spans are exported.

The workload: 5 runs of agent ``planner`` (task_type ``research``). Each run makes one
``chat gpt-4o`` call (provider ``openai``) with the usage in ``USAGE`` and one ``web_search``
tool call; runs 0 and 2 also call ``calculator``. In runs 1 and 3 ``web_search`` raises
``TimeoutError``, which fails the tool call and the run.

Run it by hand: ``OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python agent_program.py``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentinsight import emit

RUNS = 5
FAILING_RUNS = (1, 3)
CALCULATOR_RUNS = (0, 2)
#: run -> (input, output, cache_read, cache_write, reasoning) tokens; input includes cache
USAGE = {
    0: (1000, 200, 800, 0, 0),
    1: (1100, 250, 0, 100, 0),
    2: (1200, 300, 800, 0, 0),
    3: (1300, 350, 0, 0, 0),
    4: (1400, 400, 800, 0, 64),
}


def _say(message: dict) -> None:
    print(json.dumps(message), flush=True)


def run_once(i: int, runs: list[dict]) -> None:
    """One planner run, noted in ``runs``; raises TimeoutError in the failing runs."""
    with emit.agent_run("planner", task_type="research") as run:
        runs.append({"run": i, "trace_id": run.trace_id, "status": "error"})
        with emit.llm_call(model="gpt-4o", provider="openai") as call:
            time.sleep(0.01)
            inp, out, cache_read, cache_write, reasoning = USAGE[i]
            call.record_usage(input_tokens=inp, output_tokens=out, cache_read_tokens=cache_read,
                              cache_write_tokens=cache_write, reasoning_tokens=reasoning,
                              response_model="gpt-4o-2024-08-06")
        with emit.tool_call("web_search"):
            time.sleep(0.01)
            if i in FAILING_RUNS:
                raise TimeoutError("search backend did not answer within 10 s")
        if i in CALCULATOR_RUNS:
            with emit.tool_call("calculator"):
                time.sleep(0.005)


def main() -> int:
    emit.configure()  # service name and endpoint come from OTEL_* variables
    server = emit.serve(port=0)
    _say({"port": server.port})

    runs: list[dict] = []
    for i in range(RUNS):
        try:
            run_once(i, runs)
            runs[-1]["status"] = "success"
        except TimeoutError:
            pass
    if not emit.flush(timeout_s=10):
        print("span export did not finish", file=sys.stderr)
        return 1
    _say({"runs": runs})

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    server.close()
    emit.shutdown()
    return 0


class Launched:
    """The running program, as seen by a test: its /metrics port and its stdout messages."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.port = int(self._read("port", 30))

    def _read(self, key: str, timeout: float) -> object:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if line:
                    message = json.loads(line)
                    if key in message:
                        return message[key]
                    continue
            if self.process.poll() is not None:
                break
        raise AssertionError(
            f"agent program gave no {key!r} within {timeout}s (exit code "
            f"{self.process.poll()}); its stderr:\n{self.stderr()}"
        )

    def runs(self, timeout: float = 60) -> list[dict]:
        """Wait for the workload to finish; return its runs (trace_id, status) in order."""
        return list(self._read("runs", timeout))  # type: ignore[call-overload]

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()


@contextmanager
def launched(env: dict[str, str]) -> Iterator[Launched]:
    """Run this program with extra environment ``env``; stop it on exit."""
    process = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve())],
        env={**os.environ, **env}, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )
    try:
        yield Launched(process)
    finally:
        if process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    sys.exit(main())
