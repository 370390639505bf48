"""Telemetry never raises into an agent that merely has pytest installed and imported.

Strict mode (telemetry errors re-raise) is for the test suite only: on while pytest runs a test
(``PYTEST_CURRENT_TEST``) or with ``AGENTINSIGHT_STRICT=true``; never because a module named
``pytest`` happens to be imported by some dependency.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

# An agent whose dependencies import pytest, with a tracer that breaks inside telemetry.
AGENT = textwrap.dedent("""
    import json, logging, sys
    import pytest  # imported by some dependency, not running any test
    from agentinsight import emit
    from agentinsight.emit import _runtime

    logging.basicConfig(level=logging.CRITICAL)

    class BrokenTracer:
        def start_span(self, *args, **kwargs):
            raise TypeError("tracer exploded")

    emit.configure("agent", traces_exporter="none")
    _runtime.get().tracer = BrokenTracer()
    outcome = {}
    try:
        with emit.agent_run("planner"):
            outcome["body"] = "ran"
        outcome["plain"] = "no exception"
    except BaseException as exc:
        outcome["plain"] = f"{type(exc).__name__}: {exc}"
    try:
        with emit.agent_run("planner"):
            raise ValueError("the agent's own error")
    except BaseException as exc:
        outcome["own"] = f"{type(exc).__name__}: {exc}"
    print(json.dumps(outcome))
""")


def _run(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTEST_CURRENT_TEST", "AGENTINSIGHT_STRICT")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    env.update(extra)
    done = subprocess.run([sys.executable, "-c", AGENT], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_importing_pytest_does_not_make_telemetry_raise():
    outcome = _run()
    assert outcome == {"body": "ran", "plain": "no exception",
                       "own": "ValueError: the agent's own error"}


def test_strict_mode_is_an_explicit_switch():
    outcome = _run(AGENTINSIGHT_STRICT="true")
    assert outcome["plain"] == "TypeError: tracer exploded"
    # under pytest's own test run, strict mode is on without any switch
    assert _run(PYTEST_CURRENT_TEST="t.py::test (call)")["plain"] == "TypeError: tracer exploded"
    assert _run(PYTEST_CURRENT_TEST="t.py::test (call)", AGENTINSIGHT_STRICT="false") == {
        "body": "ran", "plain": "no exception", "own": "ValueError: the agent's own error"}
