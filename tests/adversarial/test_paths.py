"""Names given on the command line (reports, schedules) never leave their folder."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agentinsight.exceptions import ConfigurationError, ReportError
from agentinsight.reports import load_schedules, run_report

NOW = dt.datetime(2026, 11, 27, 6, 15, 0, tzinfo=dt.UTC)

# A notebook that leaves a mark when it runs: proof that a kernel executed it.
EVIL = """# %% tags=["parameters"]
marker = {marker!r}

# %%
open(marker, "w").write("ran")
"""


@pytest.fixture()
def layout(tmp_path: Path) -> dict[str, Path]:
    notebooks = tmp_path / "nb"
    (notebooks / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    marker = tmp_path / "ran.txt"
    evil = EVIL.format(marker=str(marker))
    # Every bad name below would find one of these notebooks if it were used as a path.
    for where in (outside / "evil.py", notebooks / ".hidden.py", notebooks / "sub" / "evil.py",
                  notebooks / "...py", notebooks / "..py", notebooks / ".py",
                  notebooks / "a\\b.py"):
        where.write_text(evil)
    return {"root": tmp_path, "notebooks": notebooks, "outside": outside, "marker": marker,
            "out": tmp_path / "out"}


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", [
    "../outside/evil", "OUTSIDE/evil", "..", ".", "", ".hidden", "sub/evil", "a\\b",
])
def test_a_report_name_is_a_name(layout, name):
    name = name.replace("OUTSIDE", str(layout["outside"]))  # an absolute path
    before = _files(layout["root"])
    with pytest.raises(ReportError) as info:
        run_report(name, {}, out=layout["out"], notebooks=layout["notebooks"], now=NOW)
    assert repr(name) in str(info.value)
    assert not layout["marker"].exists()  # no kernel ran a notebook the name pointed at
    assert _files(layout["root"]) == before  # nothing written anywhere


def test_cli_refuses_a_traversing_report_name(layout):
    result = subprocess.run(
        [sys.executable, "-m", "agentinsight", "report", "run", "../outside/evil",
         "--notebooks", str(layout["notebooks"]), "--out", str(layout["out"])],
        capture_output=True, text=True, cwd=layout["root"], timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert result.returncode == 1
    assert "'../outside/evil'" in result.stderr and "Traceback" not in result.stderr
    assert not layout["marker"].exists()
    assert not (layout["root"] / "outside" / "evil").exists()


def test_a_report_folder_linked_outside_out_is_refused(layout):
    (layout["notebooks"] / "chart.py").write_text(EVIL.format(marker=str(layout["marker"])))
    layout["out"].mkdir()
    elsewhere = layout["root"] / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, layout["out"] / "chart")
    with pytest.raises(ReportError, match="outside"):
        run_report("chart", {}, out=layout["out"], notebooks=layout["notebooks"], now=NOW)
    assert list(elsewhere.iterdir()) == []
    assert not layout["marker"].exists()


@pytest.mark.parametrize("field, value", [
    ("name", "../../escape"), ("name", ".hidden"), ("report", "../outside/evil"),
    ("report", "sub/report"), ("name", ".."),
])
def test_schedule_and_report_names_in_schedules_file_are_names(tmp_path, field, value):
    entry = {"name": "daily", "report": "chart", "cron": "0 6 * * *", field: value}
    body = "schedules:\n  - {" + ", ".join(f"{k}: {v!r}" for k, v in entry.items()) + "}\n"
    path = tmp_path / "schedules.yaml"
    path.write_text(body)
    with pytest.raises(ConfigurationError) as info:
        load_schedules(path)
    assert repr(value) in str(info.value) and field in str(info.value)
