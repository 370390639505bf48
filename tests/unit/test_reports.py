"""The report runner: folder layout, atomicity, parameters, failures, offline HTML."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import socket
from pathlib import Path

import pytest

from agentinsight.exceptions import ReportError
from agentinsight.reports import list_reports, parse_param, run_report

NOTEBOOKS = Path(__file__).parent.parent / "data" / "notebooks"
NOW = dt.datetime(2026, 11, 27, 6, 15, 0, tzinfo=dt.UTC)


def _run(tmp_path: Path, name: str = "chart", **params):
    return run_report(name, params, out=tmp_path / "reports", notebooks=NOTEBOOKS, now=NOW)


def test_run_writes_complete_folder_with_resolved_params(tmp_path):
    run = _run(tmp_path, title="Weekly", start="now-7d")
    expected = tmp_path / "reports" / "chart" / "2026-11-27" / "061500Z"
    assert run.folder == expected
    assert sorted(p.name for p in expected.iterdir()) == [
        "findings.json", "params.json", "report.html", "report.ipynb"]
    params = json.loads((expected / "params.json").read_text())
    assert params["given"] == {"title": "Weekly", "start": "now-7d"}
    assert params["resolved"]["start"].startswith("2026-11-20T06:15:00")
    assert params["resolved"]["end"].startswith("2026-11-27T06:15:00")
    assert run.findings == [{"fingerprint": "abc", "summary": "Weekly"}]
    latest = tmp_path / "reports" / "chart" / "latest"
    assert latest.resolve() == expected.resolve()
    index = (tmp_path / "reports" / "index.html").read_text()
    assert "chart/2026-11-27/061500Z/report.html" in index
    # no temporary folder is left behind
    assert not [p for p in (tmp_path / "reports" / "chart").iterdir() if p.name.startswith(".")]


def test_html_is_self_contained_with_every_chart(tmp_path):
    html = _run(tmp_path).html.read_text()
    assert html.count('class="plotly-graph-div"') == 2
    assert "Plotly.newPlot" in html
    # plotly.js is embedded once, and nothing is fetched from the network
    assert html.count("plotly.js v") <= 2
    external = re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']?(?:https?:)?//", html)
    assert external == []


def test_failing_cell_keeps_executed_notebook_and_names_cell(tmp_path):
    with pytest.raises(ReportError) as info:
        _run(tmp_path, "failing")
    message = str(info.value)
    assert "ZeroDivisionError" in message and "division by zero" in message
    assert "ratio = 1 / divisor" in message
    failed = tmp_path / "reports" / "failing" / "2026-11-27" / "061500Z.failed"
    nb = json.loads((failed / "report.ipynb").read_text())
    assert any("papermill-error-cell" in json.dumps(c) for c in nb["cells"])
    assert (failed / "report.html").exists()
    # a failed run never looks complete and never becomes "latest"
    assert not (failed.parent / "061500Z").exists()
    assert not (tmp_path / "reports" / "failing" / "latest").exists()
    assert "failed" in (tmp_path / "reports" / "index.html").read_text()


def test_bad_input_fails_before_a_kernel_starts(tmp_path):
    with pytest.raises(ReportError, match="unknown report 'nope'.*chart"):
        _run(tmp_path, "nope")
    with pytest.raises(ReportError, match=r"not declared.*\['end', 'n_points', 'start', 'title'\]"):
        _run(tmp_path, colour="red")
    with pytest.raises(ReportError, match="start='yesterday-ish'"):
        _run(tmp_path, start="yesterday-ish")
    with pytest.raises(ReportError, match="after end"):
        _run(tmp_path, start="now", end="now-1d")
    assert not list((tmp_path / "reports" / "chart").glob("2026-*"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_output_folder(tmp_path):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    with pytest.raises(ReportError, match="cannot write reports"):
        run_report("chart", {}, out=out, notebooks=NOTEBOOKS, now=NOW)


def test_output_folder_that_is_a_file(tmp_path):
    out = tmp_path / "file"
    out.write_text("x")
    with pytest.raises(ReportError, match="cannot write reports"):
        run_report("chart", {}, out=out, notebooks=NOTEBOOKS, now=NOW)


def test_params_parse_as_yaml_values():
    assert parse_param("n_points=5") == ("n_points", 5)
    assert parse_param("agents=[planner, coder]") == ("agents", ["planner", "coder"])
    assert parse_param("start=2026-11-01T00:00:00Z") == ("start", "2026-11-01T00:00:00Z")
    with pytest.raises(ReportError, match="key=value"):
        parse_param("oops")


def test_list_reports():
    assert list_reports(NOTEBOOKS) == ["chart", "failing"]


RELATIVE_READER = '''# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
data_file = "data/numbers.txt"
findings_path = ""

# %%
import json

with open(data_file) as handle, open(findings_path, "w") as out:
    json.dump([{"fingerprint": "f", "summary": handle.read().strip()}], out)
'''


def test_relative_parameter_paths_resolve_where_the_command_was_typed(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "reader.py").write_text(RELATIVE_READER, encoding="utf-8")
    user = tmp_path / "user"
    (user / "data").mkdir(parents=True)
    (user / "data" / "numbers.txt").write_text("42 and 43\n", encoding="utf-8")
    monkeypatch.chdir(user)
    result = run_report("reader", {"data_file": "data/numbers.txt"}, out="reports",
                        notebooks=notebooks, now=NOW)
    assert [f["summary"] for f in result.findings] == ["42 and 43"]
    assert result.html.resolve().is_relative_to(user / "reports")


def test_params_json_names_the_final_folder_not_the_temporary_one(tmp_path):
    run = _run(tmp_path)
    params = json.loads((run.folder / "params.json").read_text())
    assert params["resolved"]["findings_path"] == str((run.folder / "findings.json").resolve())
    assert run.params["findings_path"] == params["resolved"]["findings_path"]
    assert Path(params["resolved"]["findings_path"]).is_file()
    assert ".tmp-" not in (run.folder / "report.ipynb").read_text()


SOURCED = '''# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["parameters"]
source_dir = "data/demo"
prometheus_url = ""
jaeger_url = ""
start = "now-1d"
end = "now"
divisor = 1
findings_path = ""

# %%
ratio = 1 / divisor
open(findings_path, "w").write("[]")
'''


def test_index_tells_runs_apart_by_source_and_period_and_shows_failures(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    (notebooks / "daily.py").write_text(SOURCED, encoding="utf-8")
    out = tmp_path / "reports"
    # the run checks that its servers accept a connection before it starts a kernel
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        runs = [({}, NOW), ({"prometheus_url": f"http://ops:hunter2@127.0.0.1:{port}",
                             "jaeger_url": f"http://127.0.0.1:{port}", "start": "now-6h"},
                            NOW + dt.timedelta(seconds=1))]
        for params, when in runs:
            run_report("daily", params, out=out, notebooks=notebooks, now=when)
    with pytest.raises(ReportError):
        run_report("daily", {"divisor": 0}, out=out, notebooks=notebooks,
                   now=NOW + dt.timedelta(seconds=2))
    index = (out / "index.html").read_text()
    rows = re.findall(r"<tr>(.*?)</tr>", index)[1:]
    assert len(rows) == 3
    failed, on_server, on_files = rows  # newest first
    assert "files data/demo" in on_files and "2026-11-26 06:15 → 2026-11-27 06:15" in on_files
    assert (f"prometheus http://ops:***@127.0.0.1:{port} + jaeger http://127.0.0.1:{port}"
            in on_server)
    assert "2026-11-27 00:15 → 2026-11-27 06:15" in on_server
    assert "hunter2" not in index
    assert "failed" in failed and "ZeroDivisionError" in failed
    assert not re.search(r">0</td>", failed)  # a failed run found nothing, it did not run
