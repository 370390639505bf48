"""Every report notebook runs top to bottom on the simulator's files and on real servers.

One simulated day and a half is written once for the module; the same history is backfilled into
a real Prometheus with promtool and loaded into a real Jaeger over OTLP/HTTP. Each notebook in
``notebooks/`` then runs through the report runner twice with the same parameters except the
source, and the numbers that both sources must agree on are compared.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentinsight.exceptions import ReportError
from agentinsight.reports import ReportRun, list_reports, notebooks_dir, run_report
from agentinsight.simulate import SimulationResult, simulate
from agentinsight.stack import Jaeger, ProgramNotFoundError, Prometheus, find_program
from agentinsight.stack.load import backfill_prometheus, load_jaeger_otlp
from tests.conftest import program_missing

pytestmark = pytest.mark.integration

NOTEBOOKS = list_reports()
SOURCES = ("files", "servers")


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    return simulate(tmp_path_factory.mktemp("notebooks-history"), days=1.5,
                    start="2026-11-02T00:00:00Z", seed=1)


@pytest.fixture(scope="module")
def servers(history: SimulationResult, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[Prometheus, Jaeger]]:
    """A Prometheus serving the backfilled history and a Jaeger holding its spans (this module's
    own Jaeger: the notebooks read every service it knows)."""
    try:
        for program in ("promtool", "prometheus", "jaeger"):
            find_program(program)
    except ProgramNotFoundError as exc:
        program_missing(str(exc))
    tsdb = backfill_prometheus(history.metrics_path, tmp_path_factory.mktemp("tsdb"))
    prometheus = Prometheus(data_dir=tsdb)
    jaeger = Jaeger()
    try:
        prometheus.start()
        jaeger.start()
        load_jaeger_otlp(history.metrics_path.with_name("spans.jsonl"), jaeger.otlp_http_url)
        yield prometheus, jaeger
    finally:
        jaeger.stop()
        prometheus.stop()


def _declares(name: str, parameter: str) -> bool:
    source = (notebooks_dir() / f"{name}.py").read_text()
    return re.search(rf"^{parameter}\s*=", source, re.MULTILINE) is not None


class Runs:
    """Each (notebook, source) run once for the module, on demand."""

    def __init__(self, history: SimulationResult, request: pytest.FixtureRequest,
                 out: Path) -> None:
        self.history = history
        self.request = request
        self.out = out
        self.done: dict[tuple[str, str], ReportRun] = {}

    def params(self, name: str, source: str) -> dict[str, Any]:
        begin = pd.Timestamp(self.history.truth["start"])
        params: dict[str, Any] = {"start": (begin + pd.Timedelta(hours=12)).isoformat(),
                                  "end": self.history.truth["end"]}
        if _declares(name, "history"):
            params["history"] = "12h"
        if source == "files":
            params["source_dir"] = str(self.history.metrics_path.parent)
        else:
            prometheus, jaeger = self.request.getfixturevalue("servers")
            params.update(source_dir="", prometheus_url=prometheus.url,
                          jaeger_url=jaeger.query_url)
        return params

    def get(self, name: str, source: str) -> ReportRun:
        if (name, source) not in self.done:
            self.done[name, source] = run_report(name, self.params(name, source),
                                                 out=self.out / source)
        return self.done[name, source]


@pytest.fixture(scope="module")
def runs(history: SimulationResult, request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(history, request, tmp_path_factory.mktemp("notebook-reports"))


def _outputs(run: ReportRun) -> list[dict[str, Any]]:
    notebook = json.loads(run.notebook.read_text())
    return [o for cell in notebook["cells"] if cell["cell_type"] == "code"
            for o in cell.get("outputs", [])]


def test_every_notebook_is_covered() -> None:
    assert {"anomaly_review", "cost_report", "daily_report", "explore"} <= set(NOTEBOOKS)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_top_to_bottom(runs: Runs, name: str, source: str) -> None:
    try:
        run = runs.get(name, source)
    except ReportError as exc:
        pytest.fail(f"{name} on {source}: {exc}", pytrace=False)
    assert run.ok
    outputs = _outputs(run)
    assert not [o for o in outputs if o["output_type"] == "error"]
    # the notebook says where its data came from (printed, or in its headline table), and it
    # is the source it was given
    page = run.html.read_text(encoding="utf-8")
    said = "".join("".join(o.get("text", "")) for o in outputs if o["output_type"] == "stream")
    said += html.unescape(page)
    expected = run.params["prometheus_url"] if source == "servers" else run.params["source_dir"]
    assert f"metrics from {expected}" in said
    if source == "servers":
        assert f"spans from {run.params['jaeger_url']}" in said
    assert "Traceback" not in page
    assert isinstance(json.loads(run.findings_path.read_text()), list)


def _headline(run: ReportRun) -> dict[str, str]:
    """The daily report's headline table as {row: value} from the executed notebook."""
    for output in _outputs(run):
        text = "".join(output.get("data", {}).get("text/plain", ""))
        if "agent runs" in text and "traces" in text:
            rows = {}
            for line in text.splitlines()[1:]:
                label, _, value = line.rstrip().rpartition("  ")
                rows[label.strip()] = value.strip()
            return rows
    raise AssertionError("no headline table in the daily report")


def test_daily_report_tells_the_same_story_on_both_sources(runs: Runs) -> None:
    on_files, on_servers = runs.get("daily_report", "files"), runs.get("daily_report", "servers")
    files, servers = _headline(on_files), _headline(on_servers)
    # spans are the same spans, whether read from the file or searched in Jaeger
    for row in ("traces", "agent runs", "LLM calls", "tokens (input + output)",
                "cost (USD, priced calls)"):
        assert servers[row] == files[row], row
    # The findings come from PromQL on one side and from the files' own evaluation of the same
    # helpers on the other (Prometheus 3 window semantics, where the Debian server is 2.x), so
    # scores differ in detail; the labelled incidents the report catches must not.
    caught = [_caught(run.findings, runs.history.truth["incidents"])
              for run in (on_files, on_servers)]
    assert caught[0], "the daily report on files caught none of the labelled incidents"
    assert caught[1] == caught[0]


def _caught(findings: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> set[str]:
    """Kinds of the incidents that some finding overlaps in time and on one of their labels."""
    kinds = set()
    for incident in incidents:
        lo, hi = pd.Timestamp(incident["start"]), pd.Timestamp(incident["end"])
        wanted = {str(v) for v in incident.get("labels", {}).values()}
        for finding in findings:
            labels = {str(v) for v in (finding.get("series") or {}).values()}
            if (pd.Timestamp(finding["start"]) <= hi and pd.Timestamp(finding["end"]) >= lo
                    and (not wanted or wanted & labels)):
                kinds.add(incident["kind"])
    return kinds
