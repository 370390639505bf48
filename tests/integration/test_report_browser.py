"""The daily report opened in headless Chromium: every chart draws, nothing comes off the network,
and label values that are HTML payloads are shown as text, never run.

The report is the real ``daily_report`` notebook run with papermill over a simulated day and a
half; the hostile variant is the same data with an agent, a tool and a model renamed to payloads
that would set the page's title if the browser ran them. Chromium (the Debian package) is driven
over the Chrome DevTools Protocol: every request the page makes is recorded from the ``Network``
domain, and the page is asked whether each plotly chart container holds the SVG plotly draws
into. On failure a screenshot is saved next to the test's temporary files.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from agentinsight.reports import run_report
from agentinsight.simulate import simulate
from tests.conftest import program_missing

pytestmark = [pytest.mark.integration, pytest.mark.browser]

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--remote-debugging-port=0", "--window-size=1280,2000",
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    program_missing("chromium is not installed (Debian package `chromium`)")


class DevTools:
    """A minimal Chrome DevTools Protocol client: one browser, one page session."""

    def __init__(self, binary: str, profile: Path) -> None:
        import websocket  # websocket-client, in the dev extra

        # Chromium's log goes to a file: an undrained pipe would stall it once full.
        self.log = profile.parent / "chromium.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
                stdout=log, stderr=subprocess.STDOUT)
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chromium did not start within 60 s:\n{tail}")
            time.sleep(0.1)
        port, path = port_file.read_text().splitlines()[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60,
                                              suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its answer; events that arrive meanwhile are kept."""
        msg_id = next(self.ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == msg_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self.events.append(reply)

    def page(self, method: str, **params: Any) -> dict[str, Any]:
        return self.call(method, self.session, **params)

    def wait_for_event(self, method: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(e["method"] == method for e in self.events):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {method} within {timeout:g} s")
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            reply = json.loads(self.ws.recv())
            if "method" in reply:
                self.events.append(reply)

    def evaluate(self, expression: str) -> Any:
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path) -> Path:
        data = self.page("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    binary = _chromium()
    # Chromium's profile and log get their own short-lived folder (not the test's tmp dir, where
    # a failure's screenshot should be easy to find).
    home = Path(tempfile.mkdtemp(prefix="agentinsight-chromium-"))
    tools = None
    try:
        tools = DevTools(binary, home / "profile")
        yield tools
    finally:
        if tools is not None:
            tools.close()
        shutil.rmtree(home, ignore_errors=True)


#: Simulated names and what the hostile report calls them: payloads without spaces, quotes or
#: backslashes, so they stay valid OpenMetrics label values and JSON strings unchanged.
PWNED = "pwned"
PAYLOADS = {
    "summariser": f"<svg/onload=document.title='{PWNED}'>",
    "web_search": f"<script>document.title='{PWNED}'</script>",
    "o3-mini": f"o3-mini<svg/onload=document.title='{PWNED}'>",
}


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Any:
    _chromium()  # no browser: skip (fail in CI) before spending time on the data
    return simulate(tmp_path_factory.mktemp("browser") / "data", days=1.5,
                    start="2026-11-02T00:00:00Z", seed=1)


def _daily_report(history: Any, data: Path, out: Path) -> Path:
    begin = pd.Timestamp(history.truth["start"])
    run = run_report("daily_report", {
        "source_dir": str(data),
        "start": (begin + pd.Timedelta(hours=12)).isoformat(),
        "end": history.truth["end"], "history": "12h",
    }, out=out)
    return run.html


@pytest.fixture(scope="module")
def daily_report(history: Any) -> Path:
    """report.html of the real daily report over a simulated day and a half."""
    root = history.metrics_path.parent.parent
    return _daily_report(history, history.metrics_path.parent, root / "reports")


@pytest.fixture(scope="module")
def hostile_report(history: Any) -> Path:
    """The daily report over the same data with names replaced by :data:`PAYLOADS`."""
    root = history.metrics_path.parent.parent
    data = root / "hostile"
    data.mkdir()
    for name in ("metrics.om", "spans.jsonl", "truth.json"):
        with open(history.metrics_path.parent / name, encoding="utf-8") as src, \
                open(data / name, "w", encoding="utf-8") as dst:
            for line in src:
                for plain, payload in PAYLOADS.items():
                    line = line.replace(plain, payload)
                dst.write(line)
    return _daily_report(history, data, root / "hostile-reports")


def _load(browser: DevTools, page: Path) -> None:
    browser.page("Page.enable")
    browser.page("Runtime.enable")
    browser.page("Page.navigate", url=page.as_uri())
    browser.wait_for_event("Page.loadEventFired", timeout=120)


def test_report_charts_render_offline_in_chromium(daily_report: Path, browser: DevTools,
                                                  tmp_path: Path) -> None:
    browser.page("Network.enable")
    browser.page("Page.enable")
    browser.page("Runtime.enable")
    try:
        browser.page("Page.navigate", url=daily_report.as_uri())
        browser.wait_for_event("Page.loadEventFired", timeout=120)
        # plotly draws each chart after load; give the slowest one a moment
        count_js = """(() => {
            const divs = [...document.querySelectorAll('.plotly-graph-div')];
            return {charts: divs.length,
                    drawn: divs.filter(d => d.querySelector('svg.main-svg')).length,
                    missing: divs.filter(d => !d.querySelector('svg.main-svg')).map(d => d.id)};
        })()"""
        deadline = time.monotonic() + 60
        state = browser.evaluate(count_js)
        while state["drawn"] < state["charts"] and time.monotonic() < deadline:
            time.sleep(0.5)
            state = browser.evaluate(count_js)

        # the daily report's charts: findings timeline, three time series, waterfall, cost area
        assert state["charts"] >= 5, f"expected the report's charts, found {state}"
        assert state["drawn"] == state["charts"], f"charts without an SVG: {state['missing']}"
        assert browser.evaluate("typeof Plotly") == "object"

        requests = [e["params"]["request"]["url"] for e in browser.events
                    if e["method"] == "Network.requestWillBeSent"]
        assert requests, "the browser recorded no request at all (Network domain not working)"
        external = [u for u in requests if not u.startswith(("file:", "data:"))]
        assert external == [], f"the report fetched external resources: {external}"

        errors = [e["params"]["exceptionDetails"] for e in browser.events
                  if e["method"] == "Runtime.exceptionThrown"]
        assert errors == [], f"JavaScript errors on the page: {errors}"
    except BaseException:
        shot = browser.screenshot(tmp_path / "report.png")
        print(f"screenshot of the page: {shot}")
        raise


def test_browser_check_notices_a_chart_that_cannot_draw(daily_report: Path, browser: DevTools,
                                                        tmp_path: Path) -> None:
    # A negative control: the same report without the plotly.js in its head draws no chart, and
    # the check used above sees that.
    page = daily_report.read_text(encoding="utf-8")
    opening = '<script type="text/javascript">/**'
    head, sep, rest = page.partition(opening)
    assert sep, "plotly.js is not embedded in the report's head"
    broken = tmp_path / "without_plotly.html"
    broken.write_text(head + rest.split("</script>", 1)[1], encoding="utf-8")
    browser.page("Page.enable")
    browser.page("Page.navigate", url=broken.as_uri())
    browser.wait_for_event("Page.loadEventFired", timeout=120)
    time.sleep(1)
    charts = browser.evaluate("document.querySelectorAll('.plotly-graph-div').length")
    drawn = browser.evaluate("document.querySelectorAll('.plotly-graph-div svg.main-svg').length")
    assert charts >= 5
    assert drawn == 0


def test_hostile_label_values_are_shown_as_text_and_never_run(hostile_report: Path,
                                                             browser: DevTools,
                                                             tmp_path: Path) -> None:
    page = hostile_report.read_text(encoding="utf-8")
    assert "&lt;svg/onload=" in page, "the renamed agent does not appear in the report at all"
    try:
        _load(browser, hostile_report)
        # plotly draws (and would parse its strings) after load; let every chart finish
        deadline = time.monotonic() + 60
        drawn_js = ("[...document.querySelectorAll('.plotly-graph-div')]"
                    ".every(d => d.querySelector('svg.main-svg'))")
        while not browser.evaluate(drawn_js) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1)
        assert browser.evaluate("document.title") != PWNED, "an injected script ran"
        injected = browser.evaluate(
            "document.querySelectorAll('svg[onload], img[onerror]').length + [...document.scripts]"
            ".filter(s => s.textContent.trim().startsWith('document.title')).length")
        assert injected == 0, "a payload became an element of the page"
        text = browser.evaluate("document.body.innerText")
        for payload in PAYLOADS.values():
            assert payload in text, f"{payload!r} is not shown as text"
    except BaseException:
        shot = browser.screenshot(tmp_path / "hostile.png")
        print(f"screenshot of the page: {shot}")
        raise


# --- a page an SRE forwards: each shipped report at 1,280 px -------------------------------------

#: What is measured on a report page once its charts are drawn (see :func:`_page_problems`).
PAGE_CHECK_JS = r"""(() => {
    const problems = [];
    const doc = document.documentElement;
    if (doc.scrollWidth > window.innerWidth) {
        problems.push(`the page scrolls sideways: ${doc.scrollWidth} px wide in a `
                      + `${window.innerWidth} px window`);
    }
    const charts = [...document.querySelectorAll('.plotly-graph-div')];
    charts.forEach((gd, i) => {
        const layout = gd._fullLayout || {};
        const title = (layout.title && layout.title.text) || `chart ${i + 1}`;
        const count = a => Array.from(a || []).filter(v => v !== null).length;
        const points = (gd.data || []).reduce((n, t) => n + Math.max(
            count(t.x), count(t.y), count(t.z), count((t.link || {}).value)), 0);
        if (!points) problems.push(`"${title}" has no data points`);
        const y = layout.yaxis;
        const text = y && y.visible !== false && y.type !== 'category' && y.tickmode !== 'array'
            ? ((y.title && y.title.text) || '') : null;
        if (text !== null && !/\(.+\)/.test(text)) {
            problems.push(`"${title}": y-axis titled "${text}", without a unit`);
        }
        const x = layout.xaxis;
        if (x && x.type === 'date' && x.range) {
            const span = new Date(x.range[1]) - new Date(x.range[0]);
            if (span < 60000) problems.push(`"${title}": x-axis spans only ${span} ms`);
        }
    });
    document.querySelectorAll('table').forEach((table, i) => {
        const head = table.querySelector('tr');
        if (head && head.cells.length > 1 && !head.cells[0].textContent.trim()) {
            problems.push(`table ${i + 1} has an unnamed index column`);
        }
        for (const cell of table.querySelectorAll('td, th')) {
            const m = cell.textContent.match(/\d\.?\d*e[+-]\d+/i);
            if (m) { problems.push(`table ${i + 1}: ${m[0]} in scientific notation`); break; }
            const sign = cell.textContent.match(/\$-\d[\d.,]*/);
            if (sign) { problems.push(`table ${i + 1}: ${sign[0]}, sign after the $`); break; }
            const ns = cell.textContent.match(/\d\d:\d\d:\d\d\.\d+/);
            if (ns) { problems.push(`table ${i + 1}: ${ns[0]}, a time below the second`); break; }
        }
    });
    return {charts: charts.length, problems};
})()"""


def _page_problems(browser: DevTools, page: Path) -> dict[str, Any]:
    """Load ``page`` in a 1,280 px wide window once its charts are drawn and list what a reader
    would trip over."""
    browser.page("Emulation.setDeviceMetricsOverride", width=1280, height=1000,
                 deviceScaleFactor=1, mobile=False)
    browser.events.clear()  # a load event of an earlier page must not count for this one
    _load(browser, page)
    deadline = time.monotonic() + 60
    drawn_js = ("[...document.querySelectorAll('.plotly-graph-div')]"
                ".every(d => d.querySelector('svg.main-svg'))")
    while not browser.evaluate(drawn_js) and time.monotonic() < deadline:
        time.sleep(0.5)
    return browser.evaluate(PAGE_CHECK_JS)


@pytest.fixture(scope="module")
def all_reports(history: Any, daily_report: Path) -> dict[str, Path]:
    """report.html of every shipped report over the simulated history (the daily one reused),
    and of the daily report over the history's first hour."""
    root = history.metrics_path.parent.parent
    begin = pd.Timestamp(history.truth["start"]) + pd.Timedelta(hours=12)
    pages = {"daily_report": daily_report}
    for name, extra in (("cost_report", {}), ("anomaly_review", {"history": "12h"}),
                        ("explore", {})):
        run = run_report(name, {"source_dir": str(history.metrics_path.parent),
                                "start": begin.isoformat(), "end": history.truth["end"], **extra},
                         out=root / "reports")
        pages[name] = run.html
    # A live agent's first hour: too short for hourly charts.
    first = pd.Timestamp(history.truth["start"])
    pages["first_hour"] = run_report("daily_report", {
        "source_dir": str(history.metrics_path.parent), "start": first.isoformat(),
        "end": (first + pd.Timedelta(hours=1)).isoformat(), "history": "0s"},
        out=root / "first-hour").html
    return pages


@pytest.mark.parametrize("report", ["daily_report", "cost_report", "anomaly_review", "explore",
                                    "first_hour"])
def test_report_reads_well_at_1280_px(report: str, all_reports: dict[str, Path],
                                      browser: DevTools, tmp_path: Path) -> None:
    page = all_reports[report]
    if report != "explore":  # a report opens with its headline, before any table or chart
        text = page.read_text(encoding="utf-8")
        first = min(text.find(m, text.find("<body")) for m in ("<table", "plotly-graph-div"))
        assert "agentinsight-headline" in text[:first], f"{report} does not open with a headline"
    try:
        state = _page_problems(browser, page)
        assert state["charts"] >= 1, f"{report}: no chart on the page"
        assert state["problems"] == [], f"{report}: " + "; ".join(state["problems"])
    except BaseException:
        shot = browser.screenshot(tmp_path / f"{report}.png")
        print(f"screenshot of the page: {shot}")
        raise


def test_page_check_notices_overflow_and_scientific_notation(daily_report: Path,
                                                             browser: DevTools,
                                                             tmp_path: Path) -> None:
    # A negative control: a wide table of raw floats appended to a good report is reported.
    wide = "".join(f"<td>{1.647920e+07 * i:e}</td>" for i in range(1, 60))
    page = daily_report.read_text(encoding="utf-8").replace(
        "</body>", f"<table><tr><th></th><th>x</th></tr><tr>{wide}</tr></table></body>")
    bad = tmp_path / "bad.html"
    bad.write_text(page, encoding="utf-8")
    problems = " ".join(_page_problems(browser, bad)["problems"])
    assert "scrolls sideways" in problems
    assert "scientific notation" in problems
    assert "unnamed index column" in problems
