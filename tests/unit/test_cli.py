"""The command line as a newcomer meets it: help that explains, lists that say what to pass."""

from __future__ import annotations

import pytest

from agentinsight.cli import main


def test_top_level_help_reads_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert "``" not in out and "demo" in out and "report" in out


@pytest.mark.parametrize("argv", [["stack", "up"], ["report", "run"], ["alerts", "push"],
                                  ["alerts", "rules"], ["report", "list"]])
def test_every_sub_command_describes_itself(argv: list[str],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    usage, _, rest = out.partition("\n\n")
    assert rest.split("\n\n")[0].strip() and not rest.startswith(("positional", "options")), out
    assert "FOR_" not in out


def test_report_list_shows_each_reports_parameters(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "list"]) == 0
    out = capsys.readouterr().out
    daily = out.split("daily_report\n", 1)[1].split("explore\n", 1)[0]
    assert '-p start="now-1d"' in daily and "-p prometheus_url=" in daily
    assert "findings_path" not in out  # the runner fills that one in itself


def test_demo_keep_without_stack_is_an_error_not_ignored(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    assert main(["demo", "--keep"]) == 1
    assert "--stack" in capsys.readouterr().err


def test_demo_seed_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    out = capsys.readouterr().out
    assert "random seed" in out
