"""``agentinsight demo`` end to end, run the way a newcomer runs it: as the installed command.

On files: two days of simulated history, the daily and cost reports, the printed summary; a second
run reuses the data. With ``--stack``: the same history backfilled into a real Prometheus, loaded
into Jaeger over OTLP/HTTP, and the findings pushed to a real Alertmanager.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

REPORT_FILES = ["findings.json", "params.json", "report.html", "report.ipynb"]


def _command() -> list[str]:
    script = Path(sys.executable).with_name("agentinsight")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "agentinsight"]


@dataclass
class DemoRun:
    returncode: int
    output: str

    def path(self, label: str) -> Path:
        """The path printed after ``label:`` (daily report, cost report, all reports)."""
        found = re.search(rf"^{re.escape(label)}:\s+(\S+)$", self.output, re.MULTILINE)
        assert found, f"the demo did not print '{label}: PATH':\n{self.output}"
        return Path(found.group(1))

    def caught(self) -> tuple[int, int, dict[str, str]]:
        """(caught, judged, kind -> 'caught'/'missed'/'learning') from the printed summary;
        incidents in the detectors' learning period are listed but not judged."""
        found = re.search(r"labelled incidents caught: (\d+) of (\d+)", self.output)
        assert found, f"the demo did not say which incidents it caught:\n{self.output}"
        lines = re.findall(r"^\s+(caught|missed|learning)\s+(\w+) \(", self.output,
                           re.MULTILINE)
        return int(found.group(1)), int(found.group(2)), {kind: state for state, kind in lines}


def _demo(workdir: Path, *args: str, timeout: float = 900) -> DemoRun:
    done = subprocess.run([*_command(), "demo", "--workdir", str(workdir), *args],
                          capture_output=True, text=True, timeout=timeout)
    return DemoRun(done.returncode, done.stdout + done.stderr)


def _assert_complete_run(html: Path, report: str, *, latest: bool = True) -> dict[str, Any]:
    folder = html.parent
    assert html.name == "report.html" and folder.parent.parent.name == report
    assert sorted(p.name for p in folder.iterdir()) == REPORT_FILES
    if latest:
        assert (folder.parent.parent / "latest").resolve() == folder.resolve()
    params = json.loads((folder / "params.json").read_text())
    assert params["report"] == report
    findings = json.loads((folder / "findings.json").read_text())
    assert isinstance(findings, list)
    return {"params": params, "findings": findings}


@pytest.fixture(scope="module")
def demo_twice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, DemoRun, float, DemoRun]:
    """The demo run twice in one folder: (workdir, first run, metrics.om mtime, second run)."""
    workdir = tmp_path_factory.mktemp("demo")
    first = _demo(workdir, "--days", "2")
    assert first.returncode == 0, first.output
    metrics = workdir / "data" / "demo" / "metrics.om"
    written = metrics.stat().st_mtime_ns
    second = _demo(workdir, "--days", "2")
    return workdir, first, written, second


def test_demo_writes_both_reports_and_names_what_it_found(demo_twice) -> None:
    workdir, run, _, _ = demo_twice
    assert run.returncode == 0, run.output
    assert "simulating 2 days" in run.output
    truth = json.loads((workdir / "data" / "demo" / "truth.json").read_text())

    daily_html, cost_html = run.path("daily report"), run.path("cost report")
    assert daily_html.is_relative_to(workdir / "reports")
    # (the fixture's second run has since become "latest": see the next test)
    daily = _assert_complete_run(daily_html, "daily_report", latest=False)
    _assert_complete_run(cost_html, "cost_report", latest=False)
    # the daily report covers the history after the detectors' first day
    assert daily["params"]["resolved"]["end"].startswith(truth["end"][:16])
    assert f"{len(daily['findings'])} finding(s)" in run.output

    index_path = run.path("all reports")
    assert index_path == workdir / "reports" / "index.html"
    index = index_path.read_text()
    for html in (daily_html, cost_html):
        assert html.relative_to(index_path.parent).as_posix() in index

    page = daily_html.read_text(encoding="utf-8")
    for heading in ("Headline", "Anomalies", "Performance", "Cost"):
        assert f">{heading}" in page, f"the daily report has no {heading} section"
    assert "plotly-graph-div" in page and "Traceback" not in page

    caught, labelled, states = run.caught()
    assert len(states) == len(truth["incidents"])
    assert labelled == len([s for s in states.values() if s != "learning"])
    assert set(states) == {i["kind"] for i in truth["incidents"]}
    assert caught == list(states.values()).count("caught")
    assert caught >= 1, f"the demo's report caught none of the labelled incidents:\n{run.output}"


def test_second_demo_run_reuses_the_data_and_adds_runs(demo_twice) -> None:
    workdir, first, written, second = demo_twice
    assert second.returncode == 0, second.output
    assert "reusing the simulated history" in second.output
    assert "simulate:" not in second.output
    assert (workdir / "data" / "demo" / "metrics.om").stat().st_mtime_ns == written

    index = (workdir / "reports" / "index.html").read_text()
    for label, report in (("daily report", "daily_report"), ("cost report", "cost_report")):
        before, after = first.path(label), second.path(label)
        assert before != after and before.is_file()
        _assert_complete_run(after, report)  # latest now points at the second run
        assert index.count(f"{report}/") == 2
    # the same data and period give the same findings
    assert (json.loads((first.path("daily report").parent / "findings.json").read_text())
            == json.loads((second.path("daily report").parent / "findings.json").read_text()))


# -- against real servers ----------------------------------------------------------------------


def _get(url: str, timeout: float = 30) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


class _Lines:
    """Collects a process's output lines in a thread, so the test can wait for one of them."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float) -> str:
        """Everything printed up to the line holding ``marker``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(marker in line for line in self.lines):
                return self.text()
            if not self.thread.is_alive():
                break
            time.sleep(0.5)
        raise AssertionError(f"no {marker!r} from the demo:\n{self.text()}")


def test_demo_on_the_stack_backfills_prometheus_loads_jaeger_and_alerts(
        tmp_path: Path, require_program) -> None:
    for program in ("prometheus", "promtool", "alertmanager", "jaeger"):
        require_program(program)
    process = subprocess.Popen(
        [*_command(), "demo", "--workdir", str(tmp_path), "--days", "1", "--stack", "--keep"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines = _Lines(process)
    try:
        output = lines.wait_for("Ctrl-C stops them.", timeout=900)
        urls = dict(part.split(" ", 1) for part in
                    re.search(r"servers are running: (.+)$", output, re.MULTILINE)
                    .group(1).split(", "))
        truth = json.loads((tmp_path / "data" / "demo" / "truth.json").read_text())

        # Prometheus serves the backfilled history: the run totals of the truth file
        end = truth["end"].replace("Z", "+00:00")
        answer = _get(f"{urls['prometheus']}/api/v1/query?" + urllib.parse.urlencode(
            {"query": "sum(agent_execution_total)", "time": end}))
        runs = sum(sum(c.values()) for c in truth["totals"]["runs"].values())
        assert float(answer["data"]["result"][0]["value"][1]) == runs
        # Jaeger holds the fleet's spans, loaded over OTLP/HTTP
        services = _get(f"{urls['jaeger']}/api/services")["data"]
        assert "agent-fleet" in services

        # the reports ran on the servers, not on the files
        daily_html = Path(re.search(r"^daily report:\s+(\S+)$", output, re.MULTILINE).group(1))
        daily = _assert_complete_run(daily_html, "daily_report")
        assert daily["params"]["resolved"]["prometheus_url"] == urls["prometheus"]
        assert daily["params"]["resolved"]["jaeger_url"] == urls["jaeger"]
        assert daily["params"]["resolved"]["source_dir"] == ""
        cost_html = Path(re.search(r"^cost report:\s+(\S+)$", output, re.MULTILINE).group(1))
        _assert_complete_run(cost_html, "cost_report")

        # every finding reached Alertmanager; the firing ones are listed there
        pushed = re.search(r"alerts pushed to (\S+): (\d+) firing sent, (\d+) resolved sent, "
                           r"(\d+) spooled, (\d+) rejected", output)
        assert pushed, output
        assert pushed.group(1) == urls["alertmanager"]
        firing, resolved, spooled, rejected = map(int, pushed.groups()[1:])
        assert (spooled, rejected) == (0, 0)
        assert firing + resolved == len(daily["findings"]) > 0
        alerts = _get(f"{urls['alertmanager']}/api/v2/alerts")
        assert len(alerts) == firing
        assert all(a["labels"].get("alertname") for a in alerts)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        lines.thread.join(timeout=10)
    rest = lines.text()
    # Ctrl-C stops the servers and the demo still finishes cleanly
    assert process.returncode == 0, rest
    assert "demo finished" in rest
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{urls['prometheus']}/-/ready", timeout=5)
