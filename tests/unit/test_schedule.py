"""The scheduler: what is due under a fake clock, catch-up once, overlap prevention, bad input."""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentinsight.exceptions import ConfigurationError
from agentinsight.reports import load_schedules, run_once

NOTEBOOKS = Path(__file__).parent.parent / "data" / "notebooks"


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _config(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "schedules.yaml"
    path.write_text(body)
    return path


DAILY = """
out: out
schedules:
  - name: daily
    report: chart
    cron: "0 6 * * *"
    params: {title: nightly, start: now-1d}
  - name: hourly
    report: chart
    cron: "0 * * * *"
"""


def test_fake_clock_decides_what_is_due_and_catches_up_once(tmp_path):
    config = _config(tmp_path, DAILY)
    ran: list[str] = []

    def runner(schedule, out):
        ran.append(schedule.name)
        return 0

    run_once(config, now=_t("2026-11-27T06:30:00"), runner=runner)
    assert ran == ["daily", "hourly"]  # never ran before: both run for their latest slot
    ran.clear()
    run_once(config, now=_t("2026-11-27T06:59:00"), runner=runner)
    assert ran == []  # nothing new is due
    run_once(config, now=_t("2026-11-27T07:00:00"), runner=runner)
    assert ran == ["hourly"]
    ran.clear()
    # three days down: each schedule catches up exactly once
    run_once(config, now=_t("2026-11-30T09:10:00"), runner=runner)
    assert ran == ["daily", "hourly"]
    state = json.loads((tmp_path / "out" / ".schedule" / "state.json").read_text())
    assert state["daily"]["last_slot"] == "2026-11-30T06:00:00+00:00"
    assert state["hourly"]["last_slot"] == "2026-11-30T09:00:00+00:00"
    log = (tmp_path / "out" / ".schedule" / "schedule.log").read_text().splitlines()
    assert sum(json.loads(line)["event"] == "finished" for line in log) == 5


def test_failed_run_is_recorded_and_not_retried_for_the_same_slot(tmp_path):
    config = _config(tmp_path, DAILY)
    outcomes = run_once(config, now=_t("2026-11-27T06:30:00"), runner=lambda s, o: 1)
    assert {o["status"] for o in outcomes} == {"failed"}
    assert run_once(config, now=_t("2026-11-27T06:40:00"), runner=lambda s, o: 0) == []


def test_runs_of_one_schedule_never_overlap(tmp_path):
    config = _config(tmp_path, DAILY)
    home = tmp_path / "out" / ".schedule"
    home.mkdir(parents=True)
    with open(home / "daily.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a run in progress elsewhere would
        ran: list[str] = []
        outcomes = run_once(config, now=_t("2026-11-27T06:30:00"),
                            runner=lambda s, o: ran.append(s.name) or 0)
    assert ran == ["hourly"]
    assert {o["schedule"]: o["status"] for o in outcomes} == {"daily": "skipped", "hourly": "ok"}
    # the skipped slot is still due once the lock is free
    assert [o["schedule"] for o in run_once(config, now=_t("2026-11-27T06:31:00"),
                                            runner=lambda s, o: 0)] == ["daily"]


@pytest.mark.parametrize("body, message", [
    ("schedules:\n  - {name: a, report: chart, cron: '61 * * * *'}", "invalid cron expression"),
    ("schedules:\n  - {name: a, report: chart}", "missing \\['cron'\\]"),
    ("schedules:\n  - {name: a, report: chart, cron: '@daily', colour: red}", "unknown key"),
    ("schedules: 3", "'schedules' list"),
    ("schedules: [", "not valid YAML"),
])
def test_bad_schedules_file(tmp_path, body, message):
    with pytest.raises(ConfigurationError, match=message):
        load_schedules(_config(tmp_path, body))


def _cli(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "AGENTINSIGHT_NOTEBOOKS": str(NOTEBOOKS)}
    return subprocess.Popen([sys.executable, "-m", "agentinsight", "schedule", *args], cwd=cwd,
                            env=env, stderr=subprocess.PIPE, text=True)


def test_once_mode_runs_the_real_report(tmp_path):
    config = _config(tmp_path, """
out: out
schedules:
  - {name: daily, report: chart, cron: "0 6 * * *", params: {title: from-cron, n_points: 3}}
""")
    proc = _cli("--config", str(config), "--once", "--now", "2026-11-27T06:00:05Z", cwd=tmp_path)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    folder = tmp_path / "out" / "chart" / "latest"
    assert json.loads((folder / "findings.json").read_text())[0]["summary"] == "from-cron"
    assert json.loads((folder / "params.json").read_text())["given"]["n_points"] == 3


def test_sigterm_abandons_the_current_run_cleanly(tmp_path):
    slow = tmp_path / "notebooks"
    slow.mkdir()
    (slow / "slow.py").write_text(
        '# %% tags=["parameters"]\nseconds = 60\n\n# %%\nimport time\ntime.sleep(seconds)\n')
    config = _config(tmp_path,
                     "out: out\nschedules:\n  - {name: s, report: slow, cron: '* * * * *'}\n")
    env = {**os.environ, "AGENTINSIGHT_NOTEBOOKS": str(slow)}
    proc = subprocess.Popen([sys.executable, "-m", "agentinsight", "schedule", "--config",
                             str(config)], cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "out" / ".schedule" / "schedule.log"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if log.exists() and '"started"' in log.read_text() and list(
                (tmp_path / "out" / "slow").glob(".tmp-*")):
            break
        time.sleep(0.5)
    time.sleep(3)  # let the kernel start
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()]
    assert "abandoned" in events, err
    report_dir = tmp_path / "out" / "slow"
    assert not list(report_dir.glob(".tmp-*")), "temporary run folder left behind"
    assert not list(report_dir.glob("20*")), "an abandoned run looks complete"
    state = tmp_path / "out" / ".schedule" / "state.json"
    assert not state.exists() or "s" not in json.loads(state.read_text())


DEPLOY_SCHEDULES = Path(__file__).parents[2] / "deploy" / "schedules.yaml"


def test_the_shipped_schedules_point_at_a_local_stack_unless_the_environment_says_otherwise():
    schedules, out = load_schedules(DEPLOY_SCHEDULES, environ={})
    daily = schedules[0]
    assert daily.params["prometheus_url"] == "http://localhost:9090"
    assert daily.params["jaeger_url"] == "http://localhost:16686"
    assert daily.alertmanager == "http://localhost:9093"
    assert out == DEPLOY_SCHEDULES.parent / ".." / "reports"

    env = {"PROMETHEUS_URL": "http://prom.internal:9090", "ALERTMANAGER_URL": ""}
    schedules, _ = load_schedules(DEPLOY_SCHEDULES, environ=env)
    assert {s.params["prometheus_url"] for s in schedules} == {"http://prom.internal:9090"}
    assert schedules[0].params["jaeger_url"] == "http://localhost:16686"
    assert schedules[0].alertmanager is None  # set but empty: no alerts pushed


def test_an_unset_variable_without_a_default_is_named(tmp_path):
    body = ("schedules:\n  - name: daily\n    report: chart\n    cron: '0 6 * * *'\n"
            "    params: {prometheus_url: '${PROM_URL}/x'}\n")
    with pytest.raises(ConfigurationError) as info:
        load_schedules(_config(tmp_path, body), environ={})
    message = str(info.value)
    assert "schedules[0] (daily): params.prometheus_url" in message
    assert "environment variable PROM_URL is not set" in message
    schedules, _ = load_schedules(_config(tmp_path, body), environ={"PROM_URL": "http://p:1"})
    assert schedules[0].params["prometheus_url"] == "http://p:1/x"
