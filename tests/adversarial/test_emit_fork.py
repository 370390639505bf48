"""emit survives ``fork``: a worker forked after ``configure()`` exports its own spans.

gunicorn, celery and ``multiprocessing`` with the fork start method copy the configured process
without its threads. Spans ended in such a child must still reach the exporter, and a child that
ends more spans than the queue holds must not wait for ever for a worker that is not there.
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from pathlib import Path

import prometheus_client
import pytest

from agentinsight import emit

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
    reason="needs the fork start method",
)

CHILDREN = 3
SPANS_PER_CHILD = 3000  # more than the default queue of 2,048 spans


def _child(index: int) -> None:
    for _ in range(SPANS_PER_CHILD):
        with emit.tool_call(f"child-{index}"):
            pass
    # the exit code says whether flush() finished: 0 = every span written
    sys.exit(0 if emit.flush(timeout_s=30) else 3)


def _span_counts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    counts[span["name"]] = counts.get(span["name"], 0) + 1
    return counts


def test_forked_children_write_all_their_spans_to_the_file_and_none_hangs(tmp_path) -> None:
    path = tmp_path / "spans.jsonl"
    emit.configure("forking-agent", traces_exporter=f"file:{path}",
                   registry=prometheus_client.CollectorRegistry())
    try:
        with emit.tool_call("parent-before-fork"):
            pass
        ctx = multiprocessing.get_context("fork")
        children = [ctx.Process(target=_child, args=(i,)) for i in range(CHILDREN)]
        for child in children:
            child.start()
        deadline = time.monotonic() + 60
        for child in children:
            child.join(timeout=max(0.1, deadline - time.monotonic()))
        hung = [c.pid for c in children if c.is_alive()]
        for child in children:
            if child.is_alive():
                child.kill()
                child.join()
        assert not hung, f"forked children {hung} hung exporting their spans"
        assert [c.exitcode for c in children] == [0] * CHILDREN, "emit.flush() failed in a child"
        assert emit.flush()
        counts = _span_counts(path)
        for i in range(CHILDREN):
            assert counts.get(f"execute_tool child-{i}") == SPANS_PER_CHILD
        # the parent's span is written once, not once more by every child
        assert counts.get("execute_tool parent-before-fork") == 1
    finally:
        emit.configure(traces_exporter="none", registry=prometheus_client.CollectorRegistry())
