"""Settings outside emit: argument > environment > default; a bad value names its origin."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from agentinsight._settings import (
    PROGRAMS,
    SETTINGS,
    SETTINGS_BY_NAME,
    Setting,
    folder,
    positive_int,
    program_setting,
    resolve_table,
)
from agentinsight.alerts import default_spool_dir
from agentinsight.exceptions import ConfigurationError
from agentinsight.reports import notebooks_dir
from agentinsight.stack import ProgramNotFoundError, find_program, jaeger_cache_path


def _executable(path: Path) -> Path:
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_every_setting_is_declared_once_with_its_variable_and_doc():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    variables = [v for s in SETTINGS for v in s.env]
    assert len(variables) == len(set(variables))
    assert all(v.startswith("AGENTINSIGHT_") for v in variables)
    assert all(s.doc for s in SETTINGS)
    assert {"AGENTINSIGHT_NOTEBOOKS", "AGENTINSIGHT_ALERT_SPOOL", "AGENTINSIGHT_CACHE",
            "AGENTINSIGHT_JAEGER_BIN", "AGENTINSIGHT_PROMETHEUS_BIN",
            "AGENTINSIGHT_VICTORIA_METRICS_BIN"} <= set(variables)


def test_argument_wins_over_environment_which_wins_over_default():
    spool = SETTINGS_BY_NAME["alert_spool"]
    env = {"AGENTINSIGHT_ALERT_SPOOL": "/env/spool", "XDG_CACHE_HOME": "/xdg"}
    assert spool.resolve("/arg/spool", environ=env) == Path("/arg/spool")
    assert spool.resolve(environ=env) == Path("/env/spool")
    assert spool.resolve(environ={"XDG_CACHE_HOME": "/xdg"}) == Path(
        "/xdg/agentinsight/alert-spool")
    home_default = spool.resolve(environ={})
    assert home_default == Path.home() / ".cache" / "agentinsight" / "alert-spool"


def test_a_blank_variable_counts_as_unset():
    cache = SETTINGS_BY_NAME["cache"]
    assert cache.resolve(environ={"AGENTINSIGHT_CACHE": "  ", "XDG_CACHE_HOME": "/xdg"}) == Path(
        "/xdg/agentinsight")


def test_the_first_set_variable_of_a_setting_wins():
    setting = Setting("limit", ("FIRST", "SECOND"), 3, positive_int, "a limit")
    assert setting.resolve(environ={"FIRST": "1", "SECOND": "2"}) == 1
    assert setting.resolve(environ={"SECOND": "2"}) == 2
    assert setting.resolve(environ={}) == 3


def test_a_bad_environment_value_names_the_variable():
    setting = Setting("limit", ("AGENTINSIGHT_TEST_LIMIT",), 3, positive_int, "a limit")
    with pytest.raises(ConfigurationError, match="environment variable AGENTINSIGHT_TEST_LIMIT"):
        setting.resolve(environ={"AGENTINSIGHT_TEST_LIMIT": "many"})
    with pytest.raises(ConfigurationError, match=r"limit=0 \(argument\)"):
        setting.resolve(0, environ={})


def test_a_program_path_that_is_not_executable_names_the_variable(tmp_path):
    setting = program_setting("prometheus")
    bad = str(tmp_path / "nope")
    with pytest.raises(ConfigurationError, match="AGENTINSIGHT_PROMETHEUS_BIN.*not an executable"):
        setting.resolve(environ={"AGENTINSIGHT_PROMETHEUS_BIN": bad})
    good = _executable(tmp_path / "prometheus")
    assert setting.resolve(environ={"AGENTINSIGHT_PROMETHEUS_BIN": str(good)}) == str(good)


def test_an_empty_folder_argument_is_refused():
    with pytest.raises(ConfigurationError, match="notebooks=''"):
        folder("", "notebooks", "argument")


def test_a_table_refuses_unknown_settings():
    with pytest.raises(ConfigurationError, match="unknown report setting"):
        resolve_table(SETTINGS, {"notebook": "x"}, {}, what="report")
    values = resolve_table(SETTINGS, {"notebooks": "nb"}, {"XDG_CACHE_HOME": "/xdg"})
    assert values["notebooks"] == Path("nb") and values["cache"] == Path("/xdg/agentinsight")
    assert values["jaeger_bin"] is None


def test_notebooks_dir_reads_through_the_table(monkeypatch, tmp_path):
    monkeypatch.setenv("AGENTINSIGHT_NOTEBOOKS", str(tmp_path / "env"))
    assert notebooks_dir(tmp_path / "arg") == tmp_path / "arg"
    assert notebooks_dir() == tmp_path / "env"
    monkeypatch.delenv("AGENTINSIGHT_NOTEBOOKS")
    assert (notebooks_dir() / "daily_report.py").is_file()  # the shipped notebooks


def test_spool_and_cache_folders_read_through_the_table(monkeypatch, tmp_path):
    monkeypatch.delenv("AGENTINSIGHT_ALERT_SPOOL", raising=False)
    monkeypatch.delenv("AGENTINSIGHT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_spool_dir() == tmp_path / "agentinsight" / "alert-spool"
    assert jaeger_cache_path().parent.parent == tmp_path / "agentinsight"
    monkeypatch.setenv("AGENTINSIGHT_ALERT_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("AGENTINSIGHT_CACHE", str(tmp_path / "cache"))
    assert default_spool_dir() == tmp_path / "spool"
    assert jaeger_cache_path().parent.parent == tmp_path / "cache"


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_program_override_is_honoured_by_find_program(name, monkeypatch, tmp_path):
    variable = program_setting(name).env[0]
    monkeypatch.setenv(variable, str(tmp_path / "missing"))
    with pytest.raises(ProgramNotFoundError, match=variable):
        find_program(name)
    binary = _executable(tmp_path / "bin")
    monkeypatch.setenv(variable, str(binary))
    assert find_program(name) == str(binary)
