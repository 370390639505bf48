"""Run report notebooks with papermill and publish them as self-contained HTML.

A report is a notebook in ``notebooks/`` kept as a jupytext percent-format ``.py`` file; the
``.ipynb`` is generated from it (kernel set) into a temporary folder just before papermill runs it.
Each run lands in ``<out>/<name>/<YYYY-MM-DD>/<HHMMSSZ>/``::

    report.ipynb    the executed notebook
    report.html     the same, rendered; plotly.js embedded so charts work offline
    params.json     the parameters as given and as resolved (relative times made absolute);
                    a password in a URL is kept as ``***`` here and in the notebook
    findings.json   the anomaly findings the notebook wrote (a JSON list, possibly empty)

The folder is assembled under a hidden temporary name and renamed when complete, so a folder with
that layout is always a finished run. ``<out>/<name>/latest`` points at the newest good run and
``<out>/index.html`` lists every run. A failing cell still leaves the executed notebook (with
papermill's error banner and anchor) in ``<HHMMSSZ>.failed/``; the error names the cell, the
exception and its value. A kernel that dies (``os._exit``, out of memory) or a cell that runs past
``timeout`` fails the same way, naming the cell that was running. A server named by a ``*_url``
parameter (``prometheus_url``, ``jaeger_url``) that refuses connections fails the run within a
second, before a kernel starts, and leaves no folder at all. The kernel is reached over Unix
sockets in a private temporary folder, not over TCP.

Example::

    >>> params = {"source_dir": "data/demo", "start": "now-1d"}
    >>> run = run_report("daily_report", params)  # doctest: +SKIP
    >>> run.html  # doctest: +SKIP
    PosixPath('reports/daily_report/2026-11-27/061500Z/report.html')
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentinsight._fs import atomic_symlink, atomic_write, locked
from agentinsight._http import redact_url
from agentinsight._time import now as now_utc
from agentinsight._time import utc
from agentinsight.exceptions import ReportError
from agentinsight.reports._index import read_findings, source_of, write_index

__all__ = [
    "RUNNER_PARAMETERS",
    "ReportRun",
    "declared_parameters",
    "enable_offline_plotly",
    "list_reports",
    "notebooks_dir",
    "parse_param",
    "run_report",
    "write_index",
]

#: Parameters holding times; relative values (``now-1d``) are resolved when the run starts.
TIME_PARAMETERS = ("start", "end")
#: Parameters the runner fills in itself (output paths inside the run folder).
RUNNER_PARAMETERS = ("findings_path", "output_dir")

_TEMPLATE_DIR = Path(__file__).parent / "templates"
#: The notebooks the package ships (the checkout's top-level ``notebooks/`` is the same folder).
_SHIPPED_NOTEBOOKS = Path(__file__).parent / "notebooks"


@dataclass
class ReportRun:
    """The outcome of one report run."""

    name: str
    folder: Path
    params: dict[str, Any]
    ok: bool
    error: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def html(self) -> Path:
        return self.folder / "report.html"

    @property
    def notebook(self) -> Path:
        return self.folder / "report.ipynb"

    @property
    def findings_path(self) -> Path:
        return self.folder / "findings.json"

    def _repr_html_(self) -> str:
        state = "ok" if self.ok else f"failed: {html.escape(self.error or '')}"
        return (f"<b>{html.escape(self.name)}</b> ({state}) — "
                f"<a href='{self.html}'>{html.escape(str(self.html))}</a>, "
                f"{len(self.findings)} finding(s)")


# --- inside the notebook --------------------------------------------------------------------


def enable_offline_plotly() -> None:
    """Make plotly figures render in exported HTML with no internet access.

    Call it in a report notebook's first code cell. Plotly's default renderer inside a papermill
    kernel leaves nothing that nbconvert can show; this one emits each figure as an HTML ``div``
    (drawn by the plotly.js that ``report.html`` embeds once in its head) together with plotly's
    own JSON mimetype, which JupyterLab renders interactively.
    """
    import plotly.io as pio
    from plotly.io._base_renderers import MimetypeRenderer

    class _OfflineHTML(MimetypeRenderer):
        def to_mimebundle(self, fig_dict: dict[str, Any]) -> dict[str, Any]:
            plain = json.loads(pio.to_json(fig_dict, validate=False, remove_uids=False))
            div = pio.to_html(plain, full_html=False, include_plotlyjs=False,
                              validate=False, config={"displaylogo": False})
            return {"text/html": div, "application/vnd.plotly.v1+json": plain}

    pio.renderers["agentinsight"] = _OfflineHTML()
    pio.renderers.default = "agentinsight"


# --- finding notebooks and their parameters ---------------------------------------------------


def notebooks_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """The folder holding report notebooks: ``path`` > ``$AGENTINSIGHT_NOTEBOOKS`` > the notebooks
    the package ships (in a checkout, the top-level ``notebooks/`` folder is the same files)."""
    from agentinsight._settings import SETTINGS_BY_NAME

    folder: Path | None = SETTINGS_BY_NAME["notebooks"].resolve(path or None)
    return folder if folder is not None else _SHIPPED_NOTEBOOKS


def list_reports(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Names of the report notebooks available (``notebooks/<name>.py``)."""
    folder = notebooks_dir(path)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.py") if not p.name.startswith("_"))


def _name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a report or a schedule, or ``None`` when it can.

    A name becomes one path component (``notebooks/<name>.py``, ``<out>/<name>/``), so it has no
    path separator, is not empty, does not start with a dot (``..``, hidden files) and holds no
    control character.

    >>> _name_problem("daily_report") is None
    True
    >>> _name_problem("../outside/evil")
    'a name cannot contain a path separator'
    """
    if not isinstance(name, str) or not name:
        return "a name is a non-empty string"
    if "/" in name or "\\" in name:
        return "a name cannot contain a path separator"
    if name.startswith("."):
        return "a name cannot start with a dot"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "a name cannot contain control characters"
    return None


def _check_name(name: str) -> None:
    problem = _name_problem(name)
    if problem is not None:
        raise ReportError(f"bad report name {name!r}: {problem}")


def _inside(path: Path, root: Path, what: str) -> Path:
    """``path`` when it resolves (links followed) to a place inside ``root``."""
    resolved, top = path.resolve(), root.resolve()
    if resolved != top and top not in resolved.parents:
        raise ReportError(f"{what} {path} resolves to {resolved}, outside {top}; refusing to "
                          "write there")
    return path


def _notebook_source(name: str, folder: Path) -> Path:
    _check_name(name)
    source = folder / f"{name}.py"
    if not source.is_file():
        known = ", ".join(list_reports(folder)) or "none"
        raise ReportError(f"unknown report {name!r}: no notebook {source} (reports: {known})")
    return source


def _materialise(source: Path, target: Path, kernel_name: str) -> Path:
    """Write the .ipynb for a jupytext percent-format source, with a kernel spec set."""
    import jupytext

    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata.setdefault("language_info", {"name": "python"})
    nb.metadata["title"] = source.stem.replace("_", " ")
    jupytext.write(nb, target, fmt="ipynb")
    return target


def declared_parameters(notebook: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The parameters a notebook (``.ipynb``, or a report's jupytext ``.py`` source) declares in
    its cell tagged ``parameters``: name → papermill's inferred
    ``{"name", "inferred_type_name", "default", "help"}``.

    >>> declared_parameters(notebooks_dir() / "daily_report.py")["start"]["default"]
    '"now-1d"'
    """
    import papermill

    path = Path(notebook)
    if path.suffix == ".py":
        with tempfile.TemporaryDirectory(prefix="agentinsight-") as tmp:
            ipynb = _materialise(path, Path(tmp) / f"{path.stem}.ipynb", "python3")
            return declared_parameters(ipynb)
    return {p["name"]: dict(p) for p in papermill.inspect_notebook(str(path)).values()}


def parse_param(text: str, *, raw: bool = False) -> tuple[str, Any]:
    """Parse a ``key=value`` command-line parameter; the value is read as YAML (numbers, booleans,
    lists), so ``budget_usd=50`` is a number and ``agents=[planner, coder]`` a list. Text that
    YAML would cut short (a ``#`` starts a YAML comment) stays whole; ``raw=True`` (``-r`` on the
    command line, as in papermill) keeps any value as the literal string.

    >>> parse_param("budget_usd=50")
    ('budget_usd', 50)
    >>> parse_param("start=now-1d")
    ('start', 'now-1d')
    >>> parse_param("title=Report #5"), parse_param("label=yes"), parse_param("label=yes", raw=True)
    (('title', 'Report #5'), ('label', True), ('label', 'yes'))
    """
    import yaml

    key, sep, text_value = text.partition("=")
    if not sep or not key.strip():
        raise ReportError(f"parameter {text!r} is not of the form key=value")
    if raw:
        return key.strip(), text_value
    try:
        value = yaml.safe_load(text_value) if text_value.strip() else ""
    except yaml.YAMLError:
        value = text_value
    if isinstance(value, (dt.date, dt.datetime)):  # YAML reads ISO times; keep the text
        value = text_value
    elif "#" in text_value and (value is None or isinstance(value, str)):
        value = text_value  # YAML read part of it as a comment
    return key.strip(), value


def _resolve_params(
    given: Mapping[str, Any], declared: Mapping[str, Any], now: dt.datetime
) -> dict[str, Any]:
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ReportError(
            f"parameter(s) {unknown} not declared by the notebook; it declares "
            f"{sorted(p for p in declared if p not in RUNNER_PARAMETERS)}"
        )
    resolved = dict(given)
    if any(t in declared for t in TIME_PARAMETERS):
        from agentinsight.sources import parse_time

        for key in TIME_PARAMETERS:
            if key not in declared:
                continue
            value = given.get(key, _literal_default(declared[key]))
            if value in (None, ""):
                continue
            try:
                stamp = parse_time(value, now=now)
            except Exception as exc:  # the source's InvalidTimeError, with its own wording
                raise ReportError(f"parameter {key}={value!r}: {exc}") from exc
            resolved[key] = stamp.isoformat()
        if resolved.get("start") and resolved.get("end") and resolved["start"] > resolved["end"]:
            raise ReportError(f"start {resolved['start']} is after end {resolved['end']}")
    return resolved


#: How long the pre-flight probe waits for a source server to accept a connection.
PROBE_TIMEOUT_S = 5.0


def _probe_sources(params: Mapping[str, Any]) -> None:
    """Fail in a second, before a kernel starts (and leaving no ``.failed`` folder), when a
    server named by a ``*_url`` parameter refuses connections, does not resolve or does not
    answer within :data:`PROBE_TIMEOUT_S`. Only reachability is checked: what the server says
    is left to the notebook, whose errors carry the server's own message.

    >>> _probe_sources({"prometheus_url": "localhost:9090"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    agentinsight.exceptions.ReportError: parameter prometheus_url='localhost:9090': expected ...
    """
    import socket
    import urllib.parse
    import urllib.request

    for key in sorted(params):
        value = params[key]
        if not key.endswith("_url") or not isinstance(value, str) or not value.strip():
            continue
        try:
            url = urllib.parse.urlsplit(value.strip())
            port = url.port or {"http": 80, "https": 443}.get(url.scheme)
        except ValueError as exc:
            raise ReportError(
                f"parameter {key}={redact_url(value)!r}: not a URL ({exc})") from None
        if url.scheme not in ("http", "https") or not url.hostname or port is None:
            raise ReportError(f"parameter {key}={redact_url(value)!r}: expected an http(s) URL "
                              "such as http://localhost:9090")
        host, what = url.hostname, f"{url.hostname}:{port}"
        proxy = urllib.request.getproxies().get(url.scheme)
        if proxy and not urllib.request.proxy_bypass(host):  # the sources go through it too
            proxied = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
            host, port = proxied.hostname or "", proxied.port or 80
            what = f"the proxy {host}:{port} (${url.scheme}_proxy)"
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                pass
        except OSError as exc:
            reason = (f"no answer within {PROBE_TIMEOUT_S:g} s" if isinstance(exc, TimeoutError)
                      else exc.strerror or str(exc))
            raise ReportError(
                f"parameter {key}={redact_url(value)!r}: cannot connect to {what} ({reason}); "
                "is the server running? (`agentinsight stack status` shows a local stack)"
            ) from None


def _literal_default(spec: Mapping[str, Any]) -> Any:
    import ast

    try:
        return ast.literal_eval(spec.get("default", "None"))
    except (ValueError, SyntaxError):
        return None


# --- running ---------------------------------------------------------------------------------


def run_report(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    out: str | os.PathLike[str] = "reports",
    notebooks: str | os.PathLike[str] | None = None,
    now: dt.datetime | None = None,
    kernel_name: str = "python3",
    timeout: float | None = 900,
    alertmanager_url: str | None = None,
) -> ReportRun:
    """Execute report ``name`` and publish it under ``out``; see the module docstring.

    Raises ``ReportError`` before any kernel starts for an unknown report, an undeclared
    parameter, an unparseable time, a ``*_url`` parameter whose server cannot be reached or an
    output folder that cannot be written (leaving no run folder); raises
    ``ReportError`` naming the failing cell after a failed run (the executed notebook is kept).
    With ``alertmanager_url``, the findings are pushed as alerts after a good run.
    """
    now = now or now_utc()
    _check_name(name)
    folder = notebooks_dir(notebooks)
    source = _notebook_source(name, folder)
    _probe_sources(params or {})  # before the notebook tooling is even imported
    out_root = Path(out)
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        probe = out_root / f".write-test-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise ReportError(f"cannot write reports to {out_root}: {exc.strerror or exc}") from exc

    stamp = utc(now)
    # A link at <out>/<name> (or a day folder) must not carry the run outside --out.
    report_root = _inside(out_root / name, out_root, "report folder")
    final = report_root / stamp.strftime("%Y-%m-%d") / stamp.strftime("%H%M%SZ")
    work = report_root / f".tmp-{stamp:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    _inside(final.parent, out_root, "day folder")
    work.mkdir(parents=True)
    try:
        notebook = _materialise(source, work / "input.ipynb", kernel_name)
        declared = declared_parameters(notebook)
        resolved = _resolve_params(dict(params or {}), declared, now)
        _probe_sources({k: _literal_default(v) for k, v in declared.items() if k not in resolved})
        for key, value in (("findings_path", work / "findings.json"), ("output_dir", work)):
            if key in declared:
                resolved[key] = str(value.resolve())
        error = _execute(notebook, work / "report.ipynb", resolved, kernel_name, timeout)
        target = final if error is None else final.with_name(final.name + ".failed")
        target.parent.mkdir(parents=True, exist_ok=True)
        _inside(target.parent, out_root, "day folder")
        if target.exists():  # two runs in the same second: keep both
            target = target.with_name(f"{target.name}-{uuid.uuid4().hex[:6]}")
        # What is kept names the folder the run ends up in, not the temporary one.
        resolved = _moved(resolved, work, target)
        record = {"report": name, "given": _redacted(dict(params or {})),
                  "resolved": _redacted(resolved), "run_at": stamp.isoformat()}
        defaults = {k: _literal_default(v) for k, v in declared.items()}
        record["source"] = source_of({**defaults, **_redacted(resolved)})
        if error is not None:
            record["error"] = error
        # What is kept (params.json, the notebook, its HTML) shows URLs' passwords as ***.
        (work / "params.json").write_text(json.dumps(record, indent=2, default=str))
        for kept in ("report.ipynb", "findings.json"):
            _redact_file(work / kept, (work, target))
        if (work / "report.ipynb").exists():
            _export_html(work / "report.ipynb", work / "report.html")
        notebook.unlink(missing_ok=True)
        if error is None and not (work / "findings.json").exists():
            (work / "findings.json").write_text("[]\n")
        work.rename(target)  # a whole folder appears at once; the name was checked free above
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    findings = read_findings(target / "findings.json")
    result = ReportRun(name, target, _redacted(resolved), ok=error is None, error=error,
                       findings=findings)
    with locked(out_root / ".index.lock"):
        if result.ok:
            _point_latest(out_root / name, target)
        write_index(out_root)
    if not result.ok:
        raise ReportError(f"report {name!r} failed: {error}; executed notebook kept at "
                          f"{result.notebook}")
    if alertmanager_url:
        from agentinsight import alerts

        alerts.push(alerts.load_findings(result.findings_path), alertmanager_url,
                    spool_dir=out_root / ".alert-spool", report_url=str(result.html.resolve()))
    return result


def _execute(notebook: Path, output: Path, params: dict[str, Any], kernel_name: str,
             timeout: float | None) -> str | None:
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError
    from traitlets.config import Config

    # The kernel talks to us over Unix sockets in a private folder rather than plain TCP on
    # loopback, which any local user could connect to (the kernel warns about it on every run).
    sockets = Path(tempfile.mkdtemp(prefix="agentinsight-kernel-"))
    kernel = Config({"KernelManager": {"transport": "ipc", "ip": str(sockets / "k")}})
    try:
        try:
            papermill.execute_notebook(
                str(notebook), str(output), parameters=params, kernel_name=kernel_name,
                # The caller's folder: relative paths in parameters mean what they meant where
                # the command was typed (the notebook itself sits in a temporary folder).
                progress_bar=False, cwd=os.getcwd(), execution_timeout=timeout, config=kernel,
            )
        except DeadKernelError:
            _record_cell_failure(output, "DeadKernelError",
                                 "the kernel died (os._exit, out of memory or a crash)")
        except CellTimeoutError:
            limit = f"within {timeout:g} s" if timeout is not None else "in time"
            _record_cell_failure(output, "CellTimeoutError",
                                 f"the cell did not finish {limit} (timeout)")
    except PapermillExecutionError as exc:
        first_line = next((ln for ln in exc.source.splitlines() if ln.strip()), "")
        value = exc.evalue if len(exc.evalue) <= 300 else exc.evalue[:300] + " …"
        return redact_url(
            f"cell {exc.exec_count} (`{first_line.strip()[:80]}`) raised {exc.ename}: {value}")
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    return None


def _record_cell_failure(output: Path, ename: str, evalue: str) -> None:
    """Turn a failure papermill does not record (the kernel died, a cell timed out) into one it
    does: an error output on the cell that was running, then papermill's own banner and anchor
    and its ``PapermillExecutionError``. The notebook papermill saved cell by cell keeps the
    cells executed before."""
    import nbformat
    from papermill.exceptions import PapermillExecutionError
    from papermill.execute import raise_for_execution_errors

    if not output.exists():  # the kernel went before papermill saved anything
        raise PapermillExecutionError(cell_index=0, exec_count=None, source="", ename=ename,
                                      evalue=evalue, traceback=[])
    nb = nbformat.read(output, as_version=4)
    started = [c for c in nb.cells if c.cell_type == "code"
               and c.get("metadata", {}).get("papermill", {}).get("start_time")]
    cell = started[-1] if started else next(c for c in nb.cells if c.cell_type == "code")
    if cell.get("execution_count") is None:  # no reply came: count on from the cell before
        counts = [c.execution_count for c in started[:-1] if c.get("execution_count")]
        cell.execution_count = (max(counts) if counts else 0) + 1
    # Ahead of the KeyboardInterrupt a timed-out cell may show (the kernel was interrupted):
    # the first error in the notebook is the one papermill reports.
    first_error = next((i for i, o in enumerate(cell.outputs) if o.output_type == "error"),
                       len(cell.outputs))
    cell.outputs.insert(first_error, nbformat.v4.new_output(
        "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))
    cell.metadata.setdefault("papermill", {})["exception"] = True
    nb.metadata.setdefault("papermill", {})["exception"] = True
    raise_for_execution_errors(nb, str(output))


def _redacted(value: Any) -> Any:
    """``value`` with every URL password in its strings (nested too) shown as ``***``."""
    if isinstance(value, str):
        return redact_url(value)
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def _moved(value: Any, work: Path, target: Path) -> Any:
    """``value`` with every string naming the temporary run folder naming ``target`` instead."""
    old, new = str(work.resolve()), str(target.resolve())
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, Mapping):
        return {k: _moved(v, work, target) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_moved(v, work, target) for v in value]
    return value


def _redact_file(path: Path, moved: tuple[Path, Path] | None = None) -> None:
    """Rewrite a JSON file of the run with URL passwords shown as ``***`` in every string: papermill
    records the parameters in the notebook (an injected cell and its metadata), and outputs and
    findings may quote them. With ``moved`` (temporary folder, final folder), paths into the
    temporary folder name the final one."""
    try:
        text = path.read_text(encoding="utf-8")
        if "@" not in text and (moved is None or str(moved[0].resolve()) not in text):
            return
        data = json.loads(text)
    except (OSError, ValueError):  # missing, or not JSON: nothing of ours to rewrite
        return
    if moved is not None:
        data = _moved(data, *moved)
    atomic_write(path, json.dumps(_redacted(data), indent=1, ensure_ascii=False) + "\n")


def _export_html(notebook: Path, target: Path) -> None:
    import nbformat
    import plotly.offline
    from nbconvert import HTMLExporter

    # A report reads as a document: code cells and prompts are left out of the HTML (the
    # executed notebook beside it keeps them).
    exporter = HTMLExporter(template_name="agentinsight_report",
                            extra_template_basedirs=[str(_TEMPLATE_DIR)],
                            exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(
        nbformat.read(notebook, as_version=4),
        resources={"plotly_js": plotly.offline.get_plotlyjs()},
    )
    target.write_text(body, encoding="utf-8")


# --- publishing ------------------------------------------------------------------------------


def _point_latest(report_root: Path, target: Path) -> None:
    atomic_symlink(report_root / "latest", os.path.relpath(target, report_root))
