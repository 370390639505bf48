"""Parameters typed on the command line arrive in the notebook as the user wrote them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentinsight.cli import main

NOTEBOOKS = Path(__file__).parents[1] / "data" / "notebooks"


@pytest.mark.parametrize(("flag", "given", "arrives"), [
    ("-p", "title=Report #5", "Report #5"),      # YAML would read '#5' as a comment
    ("-r", "title=yes", "yes"),                  # YAML would read 'yes' as true
    ("-r", "title=[not, a, list]", "[not, a, list]"),
])
def test_parameter_text_arrives_whole(flag: str, given: str, arrives: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "reports"
    assert main(["report", "run", "chart", "--notebooks", str(NOTEBOOKS), "--out", str(out),
                 flag, given]) == 0
    (findings,) = out.glob("chart/*/*/findings.json")
    assert json.loads(findings.read_text())[0]["summary"] == arrives
