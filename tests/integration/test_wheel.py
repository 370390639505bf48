"""The package as a user installs it: a wheel built from the repository, in a fresh virtual
environment, run from a folder outside the checkout.

This catches what an editable install hides: notebooks, templates or other package data that the
wheel does not carry, and code that finds its files relative to the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2]


def _run(cmd: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    assert done.returncode == 0, (
        f"{' '.join(cmd)} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
        f"\n--- stderr\n{done.stderr[-4000:]}")
    return done


def _not_sources(folder: str, names: list[str]) -> set[str]:
    """What a checkout holds besides its sources: outputs at the top, caches anywhere."""
    top = {".git", ".venv", "build", "dist", "data", "reports"} if Path(folder) == REPOSITORY \
        else set()
    return {n for n in names if n in top or n == "__pycache__" or n.endswith((".egg-info",
                                                                                "_cache"))}


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ``bin`` folder of a fresh virtual environment holding the wheel and its dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    # A copy of the sources, so no build/ left in the checkout by an earlier build (which
    # setuptools reuses, deleted modules and all) can reach the wheel.
    source = root / "source"
    shutil.copytree(REPOSITORY, source, symlinks=True, ignore=_not_sources)
    wheels = root / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
          "-w", str(wheels), str(source)], cwd=root, timeout=600)
    (wheel,) = wheels.glob("agentinsight-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    # The dependencies usually come from pip's cache (the test environment installed them).
    _run([str(python), "-m", "pip", "install", "-q", f"{wheel}[all]"], cwd=root, timeout=1800)
    return env_dir / "bin"


def _clean_env(bin_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AGENTINSIGHT_NOTEBOOKS")}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def test_the_wheel_imports_from_its_own_site_packages(installed: Path, tmp_path: Path) -> None:
    done = _run([str(installed / "python"), "-c",
                 "import agentinsight, agentinsight.reports as r; "
                 "print(agentinsight.__file__); print(r.list_reports())"],
                cwd=tmp_path, timeout=120, env=_clean_env(installed))
    where, reports = done.stdout.splitlines()[:2]
    assert "site-packages" in where and str(REPOSITORY) not in where
    assert {"daily_report", "cost_report", "anomaly_review", "explore"} <= set(eval(reports))


def test_demo_and_a_report_run_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    env = _clean_env(installed)
    command = str(installed / "agentinsight")
    demo = _run([command, "demo", "--workdir", str(tmp_path), "--days", "2"], cwd=tmp_path,
                timeout=1200, env=env)
    daily = tmp_path / "reports" / "daily_report"
    assert list(daily.glob("*/*/report.html")), demo.stdout
    assert "labelled incidents caught" in demo.stdout

    out = tmp_path / "again"
    run = _run([command, "report", "run", "daily_report", "--out", str(out),
                "-p", f"source_dir={tmp_path / 'data' / 'demo'}", "-p", "start=now-1d"],
               cwd=tmp_path, timeout=900, env=env)
    (html,) = out.glob("daily_report/*/*/report.html")
    assert str(html) in run.stdout
    assert "plotly" in html.read_text(encoding="utf-8")
    params = json.loads(html.with_name("params.json").read_text(encoding="utf-8"))
    assert params
