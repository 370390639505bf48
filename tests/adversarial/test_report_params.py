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


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:{closed}",            # nothing listens: refused
    "http://user:secret@127.0.0.1:{closed}/prometheus",
])
def test_an_unreachable_source_fails_at_once_before_a_kernel_starts(
        url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket
    import time

    with socket.socket() as sock:  # a port that was just free and now has no listener
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    given = url.format(closed=closed)
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "pull.py").write_text((NOTEBOOKS / "chart.py").read_text().replace(
        "# %% tags=[\"parameters\"]\n", "# %% tags=[\"parameters\"]\nprometheus_url = \"\"\n", 1))
    out = tmp_path / "reports"
    began = time.monotonic()
    code = main(["report", "run", "pull", "--notebooks", str(folder), "--out", str(out),
                 "-p", f"prometheus_url={given}"])
    took = time.monotonic() - began
    err = capsys.readouterr().err
    assert code == 1
    assert took < 3, f"took {took:.1f}s"  # no kernel was started (that takes 10 s and more)
    assert f"cannot connect to 127.0.0.1:{closed} (Connection refused)" in err
    assert "prometheus_url=" in err and "secret" not in err
    assert not list(out.rglob("*failed*")) and not list(out.rglob(".tmp-*"))


def test_a_source_behind_a_proxy_is_probed_through_the_proxy(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{closed}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "pull.py").write_text((NOTEBOOKS / "chart.py").read_text().replace(
        "# %% tags=[\"parameters\"]\n", "# %% tags=[\"parameters\"]\nprometheus_url = \"\"\n", 1))
    code = main(["report", "run", "pull", "--notebooks", str(folder), "--out",
                 str(tmp_path / "reports"), "-p", "prometheus_url=http://prometheus.example:9090"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot connect to the proxy 127.0.0.1:{closed} ($http_proxy)" in err
