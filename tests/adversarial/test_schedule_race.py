"""Two schedulers started one after the other never run the same slot twice."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from pathlib import Path

from agentinsight.reports import run_once

NOW = dt.datetime(2026, 11, 27, 6, 30, tzinfo=dt.UTC)
CONFIG = """
out: out
schedules:
  - {name: first, report: chart, cron: "0 6 * * *"}
  - {name: second, report: chart, cron: "0 6 * * *"}
  - {name: third, report: chart, cron: "0 6 * * *"}
"""


def test_a_second_once_run_does_not_repeat_a_slot_the_first_finished(tmp_path: Path):
    config = tmp_path / "schedules.yaml"
    config.write_text(CONFIG)
    ran: Counter[str] = Counter()
    b_in_second = threading.Event()
    a_done = threading.Event()
    a_in_first = threading.Event()
    errors: list[BaseException] = []

    # A starts, runs "first" slowly; B starts meanwhile, so both see all three schedules as
    # due. B skips "first" (A holds it) and runs "second"; A skips "second" (B holds it), runs
    # "third" and finishes. B then reaches "third", which A has already run for this slot.
    def runner_a(schedule, out):
        ran[schedule.name] += 1
        if schedule.name == "first":
            a_in_first.set()
            assert b_in_second.wait(30)
        return 0

    def runner_b(schedule, out):
        ran[schedule.name] += 1
        if schedule.name == "second":
            b_in_second.set()
            assert a_done.wait(30)
        return 0

    def run(runner, done=None):
        try:
            run_once(config, now=NOW, runner=runner)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            if done is not None:
                done.set()

    a = threading.Thread(target=run, args=(runner_a, a_done))
    a.start()
    assert a_in_first.wait(30)
    b = threading.Thread(target=run, args=(runner_b,))
    b.start()
    a.join(60)
    b.join(60)
    assert not errors
    assert ran == {"first": 1, "second": 1, "third": 1}
    log = [json.loads(line) for line in
           (tmp_path / "out" / ".schedule" / "schedule.log").read_text().splitlines()]
    finished = Counter(e["schedule"] for e in log if e["event"] == "finished")
    assert finished == {"first": 1, "second": 1, "third": 1}
    assert any(e["event"] == "skipped" and e["schedule"] == "third" for e in log)
