"""A kernel that dies or a cell that runs past its timeout fails the run like any failing cell:
a ``ReportError`` naming the cell, and the partial notebook kept in the ``.failed`` folder."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from agentinsight.exceptions import ReportError
from agentinsight.reports import run_report

NOW = dt.datetime(2026, 11, 27, 6, 15, 0, tzinfo=dt.UTC)

HEADER = """\
# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
# ---

# %% tags=["parameters"]
title = "default title"

# %%
print("before the failure")

"""


def _notebook(folder: Path, name: str, cell: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(HEADER + "# %%\n" + cell + "\n\n# %%\nprint('never')\n")
    return folder


def _failed_notebook(out: Path, name: str) -> dict:
    failed = out / name / "2026-11-27" / "061500Z.failed"
    assert (failed / "params.json").exists()
    assert not (failed.parent / "061500Z").exists()
    assert not (out / name / "latest").exists()
    return json.loads((failed / "report.ipynb").read_text())


def _stdout(nb: dict) -> str:
    return "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code"
                   for o in c.get("outputs", []) if o.get("output_type") == "stream")


def test_dead_kernel_names_the_cell_and_keeps_the_notebook(tmp_path: Path) -> None:
    notebooks = _notebook(tmp_path / "nb", "dies", "import os; os._exit(1)")
    out = tmp_path / "reports"
    with pytest.raises(ReportError) as info:
        run_report("dies", out=out, notebooks=notebooks, now=NOW)
    message = str(info.value)
    assert "import os; os._exit(1)" in message
    assert "kernel died" in message
    assert "061500Z.failed/report.ipynb" in message
    nb = _failed_notebook(out, "dies")
    assert "before the failure" in _stdout(nb)
    assert "never" not in _stdout(nb)
    assert any("papermill-error-cell" in json.dumps(c) for c in nb["cells"])
    assert "failed" in (out / "index.html").read_text()


def test_cell_timeout_names_the_cell_and_keeps_the_notebook(tmp_path: Path) -> None:
    notebooks = _notebook(tmp_path / "nb", "slow", "import time; time.sleep(60)")
    out = tmp_path / "reports"
    started = dt.datetime.now()
    with pytest.raises(ReportError) as info:
        run_report("slow", out=out, notebooks=notebooks, now=NOW, timeout=3)
    assert (dt.datetime.now() - started).total_seconds() < 45
    message = str(info.value)
    assert "import time; time.sleep(60)" in message
    assert "3 s" in message
    nb = _failed_notebook(out, "slow")
    assert "before the failure" in _stdout(nb)
    assert any("papermill-error-cell" in json.dumps(c) for c in nb["cells"])


def test_a_run_talks_to_its_kernel_over_private_sockets_and_prints_no_warning(
        tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    notebooks = _notebook(tmp_path / "nb", "quiet", "print('fine')")
    (tmp_path / "tmp").mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "agentinsight", "report", "run", "quiet", "--notebooks",
         str(notebooks), "--out", str(tmp_path / "reports")],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
        env={**os.environ, "TMPDIR": str(tmp_path / "tmp"),
             "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0, done.stderr
    assert "report.html" in done.stdout
    # The kernel used to say on every run: "Kernel is running over TCP without encryption".
    assert "WARNING" not in done.stderr, done.stderr
    assert "without encryption" not in done.stderr
    # its Unix sockets lived in a private temporary folder, removed after the run
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb", "reports", "tmp"]
    assert list((tmp_path / "tmp").iterdir()) == []
