"""The scheduler on a full disk or a read-only folder: a clear error naming the folder, never
a raw ``OSError`` traceback, and its state file intact.

A full disk is played by a file-size limit (``RLIMIT_FSIZE``) in a child process: a write past it
fails with EFBIG as a write to a full disk fails with ENOSPC (the child ignores SIGXFSZ, as a
process on a full disk gets no signal either).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CONFIG = """
out: out
schedules:
  - {name: daily, report: chart, cron: "0 6 * * *"}
"""
NOW = "2026-11-27T06:30:00+00:00"
# Other schedules' entries make the state file bigger than the limit, the log lines do not.
OLD_STATE = {f"other-{i}": {"last_slot": "2026-11-26T06:00:00+00:00", "status": "ok",
                            "finished_at": "2026-11-26T06:01:00+00:00"} for i in range(40)}
LIMIT = 4096


def _limited(limit: int):
    def apply() -> None:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def _folder(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "schedules.yaml").write_text(CONFIG)
    home = tmp_path / "out" / ".schedule"
    home.mkdir(parents=True)
    (home / "state.json").write_text(json.dumps(OLD_STATE, indent=2))
    assert (home / "state.json").stat().st_size > LIMIT
    return tmp_path / "schedules.yaml", home


RUN_ONCE = textwrap.dedent("""
    import datetime as dt, sys
    from agentinsight.exceptions import ReportError
    from agentinsight.reports import run_once
    try:
        run_once(sys.argv[1], now=dt.datetime.fromisoformat(sys.argv[2]),
                 runner=lambda schedule, out: 0)
    except ReportError as exc:
        print("ReportError:", exc)
""")


def test_a_full_disk_while_saving_state_is_a_clear_error_and_the_state_is_intact(tmp_path):
    config, home = _folder(tmp_path)
    before = (home / "state.json").read_bytes()
    done = subprocess.run([sys.executable, "-c", RUN_ONCE, str(config), NOW], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          preexec_fn=_limited(LIMIT))
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("ReportError: schedule: cannot write to "), done.stdout
    assert str(home) in done.stdout and "File too large" in done.stdout
    # the run finished, its record could not be written: the old state is whole, no temp files
    assert (home / "state.json").read_bytes() == before
    assert sorted(p.name for p in home.iterdir()) == ["daily.lock", "schedule.log",
                                                       "state.json", "state.lock"]
    assert '"event": "finished"' not in (home / "schedule.log").read_text()


def test_the_cli_on_a_full_disk_prints_one_line_naming_the_folder(tmp_path):
    config, home = _folder(tmp_path)
    (home / "schedule.log").write_text("x" * LIMIT)  # the log is already at the limit
    done = subprocess.run(
        [sys.executable, "-m", "agentinsight", "schedule", "--once", "--config", str(config),
         "--now", NOW], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        preexec_fn=_limited(LIMIT))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert f"agentinsight schedule: error: schedule: cannot write to {home}" in done.stderr
    assert (home / "state.json").read_text() == json.dumps(OLD_STATE, indent=2)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a read-only folder anyway")
def test_a_read_only_folder_is_a_clear_error(tmp_path):
    config, home = _folder(tmp_path)
    home.chmod(0o555)
    try:
        done = subprocess.run([sys.executable, "-c", RUN_ONCE, str(config), NOW],
                              cwd=tmp_path, capture_output=True, text=True, timeout=120)
    finally:
        home.chmod(0o755)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout.startswith("ReportError: schedule: cannot write to ")
    assert "Permission denied" in done.stdout
