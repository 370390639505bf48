"""The README's walkthrough ("From zero: your agent on a local stack"), run as written.

Its ``python`` block that starts with ``# agent.py`` is saved as ``agent.py``; every other
``python`` block runs in a fresh interpreter; each ``bash`` block's lines run in order in one
folder as the installed ``agentinsight`` command (``export`` sets a variable for the lines after
it, a line ending in ``&`` starts a background process, ``kill %1`` stops it, ``sleep`` sleeps).
The ``text`` block after a block is its expected output: each of its lines must appear in what
the block printed, in order, with ``<...>`` standing for any text and runs of spaces counting as
one. The ``sh`` block (the one-time set-up) is not run: this suite's own set-up did that.

The stack runs on its usual ports. Where this machine already uses one, ``stack up`` takes a free
port and prints a ``note:``; the test then moves that port in every later command and expected
line, as a reader would. The agent's port 9464 is moved to a free port the same way.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentinsight.stack import ProgramNotFoundError, find_program, free_port
from tests.conftest import program_missing

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2]
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")


def _walkthrough() -> list[tuple[str, str]]:
    """(language, text) of each fenced block of the walkthrough section, in order."""
    match = re.search(r"^## From zero.*?(?=^## )", README, flags=re.MULTILINE | re.DOTALL)
    assert match, "the README has no 'From zero' section"
    return re.findall(r"^```(\w+)\n(.*?)^```", match.group(0), flags=re.MULTILINE | re.DOTALL)


def _pattern(line: str) -> re.Pattern[str]:
    parts = re.split(r"<[^>]+>", " ".join(line.split()))
    return re.compile(".+?".join(re.escape(p) for p in parts))


def _assert_shows(expected: str, output: str, moves: dict[str, str], logs: Path) -> None:
    lines = [" ".join(x.split()) for x in output.splitlines()]
    at = 0
    for want in expected.splitlines():
        if not want.strip():
            continue
        pattern = _pattern(_moved(want, moves))
        while at < len(lines) and not pattern.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            background = "".join(f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}\n"
                                 for p in sorted(logs.glob("background-*.log")))
            pytest.fail(f"expected a line like {want!r} in:\n{output}\n{background}")
        at += 1


def _moved(text: str, moves: dict[str, str]) -> str:
    for old, new in moves.items():
        text = re.sub(rf"(?<=[:=]){old}\b", new, text)
    return text


def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    try:
        for program in ("prometheus", "alertmanager", "jaeger"):
            find_program(program)
    except ProgramNotFoundError as exc:
        program_missing(str(exc))
    blocks = _walkthrough()
    assert [lang for lang, _ in blocks if lang != "text"] == [
        "sh", "python", "bash", "bash", "python", "bash", "bash", "bash"]
    script = Path(sys.executable).with_name("agentinsight")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "agentinsight"]
    # The stack's state and log go where the README says (~/.cache/agentinsight/stack), under a
    # cache folder of this test's own; the Jaeger binary is the one this suite found.
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / ".cache"),
           "AGENTINSIGHT_JAEGER_BIN": find_program("jaeger"),
           "AGENTINSIGHT_ALERT_SPOOL": str(tmp_path / "spool"),
           "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    moves = {"9464": str(free_port())}
    background: list[subprocess.Popen[bytes]] = []
    stack_started = False
    output = ""
    timings: dict[str, float] = {}
    try:
        for lang, text in blocks:
            if lang == "text":
                _assert_shows(text, output, moves, tmp_path)
                continue
            output = ""
            if lang == "sh":
                continue
            if lang == "python" and text.startswith("# agent.py"):
                (tmp_path / "agent.py").write_text(_moved(text, moves), encoding="utf-8")
                continue
            if lang == "python":
                done = subprocess.run([sys.executable, "-c", _moved(text, moves)], cwd=tmp_path,
                                      env=env, capture_output=True, text=True, timeout=300)
                assert done.returncode == 0, done.stderr[-4000:]
                output = done.stdout
                continue
            for line in re.split(r"(?<!\\)\n", text):
                argv = shlex.split(_moved(line.replace("\\\n", " "), moves), comments=True)
                if not argv:
                    continue
                if argv[0] == "export":
                    name, _, value = argv[1].partition("=")
                    env[name] = value
                elif argv[0] == "sleep":
                    time.sleep(float(argv[1]))
                elif argv == ["kill", "%1"]:
                    background.pop(0).terminate()
                elif argv[-1] == "&":
                    assert argv[0] == "python", argv
                    with open(tmp_path / f"background-{len(background)}.log", "wb") as log:
                        background.append(subprocess.Popen(
                            [sys.executable, *argv[1:-1]], cwd=tmp_path, env=env,
                            stdout=log, stderr=subprocess.STDOUT))
                else:
                    assert argv[0] == "agentinsight", argv
                    began = time.monotonic()
                    done = subprocess.run([*command, *argv[1:]], cwd=tmp_path, env=env,
                                          capture_output=True, text=True, timeout=900)
                    timings[" ".join(argv[1:3])] = time.monotonic() - began
                    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr[-4000:]}"
                    output += done.stdout
                    if argv[1:3] == ["stack", "up"]:
                        stack_started = True
                        for wanted, used in re.findall(
                                r"^note: port (\d+) for \w+ is taken; using (\d+) instead",
                                done.stdout, flags=re.MULTILINE):
                            moves[wanted] = used
    finally:
        for process in background:
            process.terminate()
        if stack_started:
            subprocess.run([*command, "stack", "down"], env=env, capture_output=True,
                           timeout=120)
    # the report came from the live agent's data on the stack
    (report,) = (tmp_path / "reports" / "daily_report").glob("*/*/report.html")
    assert "support-bot" in report.read_text(encoding="utf-8") or "planner" in report.read_text(
        encoding="utf-8")
    print("walkthrough timings (s):", {k: round(v, 1) for k, v in timings.items()})
