"""The README's examples, run as written against real servers.

The Python blocks run in order in one fresh interpreter (the agent's emit block sends its spans to a
real Jaeger, the pull block reads them back with a real Prometheus holding a simulated day, the
analysis block works on what was pulled); the shell lines run as the installed command. The only
changes made to the text are the servers' addresses (free loopback ports instead of the default
ones) and the LLM client, which the README leaves to the reader.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from agentinsight.simulate import SimulationResult, simulate
from agentinsight.stack import (
    Alertmanager,
    Jaeger,
    ProgramNotFoundError,
    Prometheus,
    find_program,
    free_port,
)
from agentinsight.stack.load import backfill_prometheus, load_jaeger_otlp
from tests.conftest import program_missing

pytestmark = pytest.mark.integration

REPOSITORY = Path(__file__).resolve().parents[2]
# The walkthrough ("From zero") has its own test, test_walkthrough.py, against a local stack.
README = re.sub(r"^## From zero.*?(?=^## )", "",
                (REPOSITORY / "README.md").read_text(encoding="utf-8"),
                flags=re.MULTILINE | re.DOTALL)

# What the README's code leaves to the reader: an LLM client with an OpenAI-shaped answer.
CLIENT = textwrap.dedent("""
    class _Completions:
        def create(self, *args, **kwargs):
            return {"model": "gpt-4o-2024-08-06",
                    "usage": {"prompt_tokens": 1200, "completion_tokens": 300,
                              "prompt_tokens_details": {"cached_tokens": 200}}}

    class _Chat:
        completions = _Completions()

    class _Client:
        chat = _Chat()

    client = _Client()
""")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.MULTILINE | re.DOTALL)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> SimulationResult:
    # Ends now, so the README's relative windows (now-1d, now-7d) hold data.
    return simulate(tmp_path_factory.mktemp("readme-history"), days=1, seed=3)


@pytest.fixture(scope="module")
def servers(history: SimulationResult, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[dict[str, str]]:
    try:
        for program in ("promtool", "prometheus", "alertmanager", "jaeger"):
            find_program(program)
    except ProgramNotFoundError as exc:
        program_missing(str(exc))
    tsdb = backfill_prometheus(history.metrics_path, tmp_path_factory.mktemp("readme-tsdb"))
    # Configured with the interval the history was scraped at, as the server that wrote it was.
    interval = f"{history.truth['scrape_interval_s']:g}s"
    prometheus = Prometheus(data_dir=tsdb, scrape_interval=interval)
    jaeger, alertmanager = Jaeger(), Alertmanager()
    try:
        for server in (prometheus, jaeger, alertmanager):
            server.start()
        load_jaeger_otlp(history.spans_path, jaeger.otlp_http_url)
        yield {
            "http://localhost:9090": prometheus.url,
            "http://localhost:16686": jaeger.url,
            "http://localhost:9093": alertmanager.url,
            "otlp": jaeger.otlp_http_url,
        }
    finally:
        for server in (alertmanager, jaeger, prometheus):
            server.stop()


@pytest.fixture(scope="module")
def workdir(history: SimulationResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's folder: ``data/demo`` holds the simulated files, as after ``make demo``."""
    folder = tmp_path_factory.mktemp("readme-user")
    (folder / "data").mkdir()
    (folder / "data" / "demo").symlink_to(history.metrics_path.parent)
    return folder


def _addresses(text: str, servers: dict[str, str]) -> str:
    for default, url in servers.items():
        text = text.replace(default, url)
    return text.replace("port=9464", f"port={free_port()}")


def test_the_python_examples_run_in_order(servers: dict[str, str], workdir: Path) -> None:
    blocks = _blocks("python")

    def block(marker: str) -> str:
        (found,) = [b for b in blocks if marker in b]
        return found

    emit_block, cost_block = block("emit.agent_run("), block("cost=True")
    pull_block, analyse_block = block("PrometheusSource("), block("anomaly.detect(")
    assert len(blocks) == 4, "a new README example needs a place in this test"
    jaeger = servers["http://localhost:16686"]
    cost_port = free_port()
    script = "\n".join([
        CLIENT,
        _addresses(emit_block, servers),
        # The agent's spans reach Jaeger before the analyst looks for them.
        "emit.flush()",
        "from agentinsight.sources import JaegerSource as _J",
        "import time as _t",
        "_deadline = _t.monotonic() + 60",
        f"while 'support-bot' not in _J({jaeger!r}).services() and _t.monotonic() < _deadline:",
        "    _t.sleep(0.5)",
        _addresses(pull_block, servers),
        _addresses(analyse_block, servers),
        textwrap.dedent("""
            import json as _json
            print("RESULT", _json.dumps({
                "p95_rows": len(p95), "token_rows": len(tokens),
                "span_names": sorted(set(spans["name"])),
                "file_tokens": len(files.token_usage(by=["model"], start="now-1d", end="now")),
                "priced_usd": float(priced["cost_usd"].sum()),
                "figure_traces": len(plots.timeseries(p95, findings).data),
                "findings_columns": list(findings.columns),
            }))
        """),
        # The cost counter's three lines, then one call: its spend is served on /metrics.
        cost_block.replace("port=9464", f"port={cost_port}"),
        textwrap.dedent(f"""
            import urllib.request as _u
            with emit.llm_call(model="gpt-4o", provider="openai") as _call:
                _call.record_response(client.chat.completions.create())
            _text = _u.urlopen("http://127.0.0.1:{cost_port}/metrics").read().decode()
            print("COST", _json.dumps(sum(float(x.rsplit(" ", 1)[1]) for x in _text.splitlines()
                                          if x.startswith("llm_cost_usd_total{{"))))
        """),
    ])
    env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": servers["otlp"],
           "OTEL_BSP_SCHEDULE_DELAY": "200"}
    done = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"README examples failed:\n{done.stderr[-6000:]}"
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    result = json.loads(line.removeprefix("RESULT "))
    # The emit example's three spans came back from Jaeger, named as the README's comments say.
    assert {"invoke_agent planner", "chat gpt-4o", "execute_tool web_search"} <= set(
        result["span_names"])
    assert result["p95_rows"] > 0 and result["token_rows"] > 0 and result["file_tokens"] > 0
    assert result["figure_traces"] >= 1
    assert "fingerprint" in result["findings_columns"]
    # gpt-4o's call from the emit example is priced (the simulated spans are in another service)
    assert result["priced_usd"] > 0
    # with the cost counter on, the same call's spend is a series: what genai-prices charges
    # for it (1,000 input, 200 cached and 300 output tokens of gpt-4o)
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("COST ")]
    spend = json.loads(line.removeprefix("COST "))
    from genai_prices import Usage, calc_price
    expected = float(calc_price(Usage(input_tokens=1200, cache_read_tokens=200, output_tokens=300),
                                "gpt-4o-2024-08-06", provider_id="openai").total_price)
    assert spend == pytest.approx(expected, rel=1e-6)


def test_the_shell_examples_run_against_the_local_servers(servers: dict[str, str], workdir: Path
                                                          ) -> None:
    (shell,) = [b for b in _blocks("bash") if "agentinsight report run" in b]
    commands = [shlex.split(c.replace("\\\n", " "), comments=True)
                for c in re.split(r"(?<!\\)\n", shell) if c.strip()]
    commands = [c for c in commands if c]
    # deploy/schedules.yaml as shipped; its servers default to localhost's usual ports and are
    # moved, as a user would move them, through the environment.
    deploy = workdir / "deploy"
    deploy.mkdir(exist_ok=True)
    shutil.copy(REPOSITORY / "deploy" / "schedules.yaml", deploy / "schedules.yaml")
    (workdir / "reports").mkdir(exist_ok=True)
    script = Path(sys.executable).with_name("agentinsight")
    command = [str(script)] if script.is_file() else [sys.executable, "-m", "agentinsight"]
    env = {**os.environ, "AGENTINSIGHT_ALERT_SPOOL": str(workdir / "alert-spool"),
           "PROMETHEUS_URL": servers["http://localhost:9090"],
           "JAEGER_URL": servers["http://localhost:16686"],
           "ALERTMANAGER_URL": servers["http://localhost:9093"]}
    outputs = []
    for argv in commands:
        assert argv[0] == "agentinsight", argv
        argv = [_addresses(a, servers) for a in argv[1:]]
        done = subprocess.run([*command, *argv], cwd=workdir, capture_output=True, text=True,
                              timeout=900, env=env)
        assert done.returncode == 0, f"agentinsight {' '.join(argv)}:\n{done.stderr[-4000:]}"
        outputs.append(done.stdout)
    report_out, _, push_out = outputs
    assert "report.html" in report_out
    assert list((workdir / "reports" / "daily_report").glob("*/*/report.html"))
    findings = json.loads((workdir / "reports" / "daily_report" / "latest" / "findings.json")
                          .read_text(encoding="utf-8"))
    # Every finding of the report reached the real Alertmanager: still firing, or resolved.
    counts = re.search(r"(\d+) firing sent, (\d+) resolved sent, (\d+) spooled, (\d+) rejected",
                       push_out)
    assert counts, push_out
    firing, resolved, spooled, rejected = map(int, counts.groups())
    assert (firing + resolved, spooled, rejected) == (len(findings), 0, 0), push_out
    with urllib.request.urlopen(f"{servers['http://localhost:9093']}/api/v2/alerts",
                                timeout=10) as answer:
        shown = [a for a in json.load(answer) if a["labels"].get("fingerprint")]
    assert len(shown) == firing
