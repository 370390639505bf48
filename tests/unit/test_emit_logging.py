"""emit.get_logger: JSON lines with trace ids and agent; rotated files with log_dir."""

from __future__ import annotations

import json
import logging

import prometheus_client

from agentinsight import emit


def test_json_lines_carry_trace_span_agent_and_extras(capsys):
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    log = emit.get_logger("support-bot.test-json")
    with emit.agent_run("planner") as run:
        log.info("planning %s", "tea", extra={"step": 1})
    log.warning("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    inside, outside = lines
    assert inside["message"] == "planning tea"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "support-bot.test-json"
    assert inside["agent"] == "planner"
    assert inside["trace_id"] == run.trace_id and len(inside["span_id"]) == 16
    assert inside["step"] == 1
    assert inside["timestamp"].endswith("Z")
    assert "trace_id" not in outside and "agent" not in outside


def test_log_dir_writes_main_and_error_files(tmp_path):
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none",
                   log_dir=tmp_path)
    try:
        log = emit.get_logger("support-bot.test-files")
        log.info("fine")
        log.error("broken", extra={"code": 7})
        emit.shutdown()
        main = [json.loads(line) for line in (tmp_path / "agentinsight.log").read_text()
                .splitlines()]
        errors = [json.loads(line) for line in (tmp_path / "agentinsight.error.log").read_text()
                  .splitlines()]
        assert [r["message"] for r in main] == ["fine", "broken"]
        assert [(r["message"], r["code"]) for r in errors] == [("broken", 7)]
    finally:
        emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")


def test_log_timestamps_follow_the_virtual_clock(capsys):
    emit.configure(registry=prometheus_client.CollectorRegistry(), traces_exporter="none")
    emit.use_clock(lambda: 1_700_000_000 * 10**9)
    try:
        emit.get_logger("support-bot.test-clock").log(logging.INFO, "tick")
    finally:
        emit.use_clock(None)
    record = json.loads(capsys.readouterr().err.splitlines()[-1])
    assert record["timestamp"] == "2023-11-14T22:13:20.000000Z"
