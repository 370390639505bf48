"""Load recorded history into real servers, the way operators do it.

* :func:`backfill_prometheus` — ``promtool tsdb create-blocks-from openmetrics`` writes TSDB
  blocks into a Prometheus data directory; a Prometheus started on it serves the history.
* :func:`import_victoriametrics` — VictoriaMetrics' ``/api/v1/import/prometheus`` (exposition
  text, timestamps in milliseconds), then ``/internal/force_flush`` so queries see it at once.
* :func:`load_jaeger_otlp` — OTLP JSON lines POSTed to ``{otlp_http_url}/v1/traces``.

The files are what :func:`agentinsight.simulate.simulate` writes (and what emit's file exporter
writes), but any timestamped OpenMetrics file and any OTLP JSON lines file will do.

Errors name the file (and line), the URL and the server's own words:
:class:`~agentinsight.exceptions.ParseError` for a bad line,
:class:`~agentinsight.exceptions.SourceConnectionError` for an unreachable server,
:class:`~agentinsight.exceptions.ServerError` / :class:`~agentinsight.exceptions.QueryError` for a
refusal, :class:`~agentinsight.exceptions.StackError` when promtool fails.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentinsight._http import Client
from agentinsight.exceptions import ConfigurationError, ParseError, ServerError

__all__ = ["backfill_prometheus", "import_victoriametrics", "load_jaeger_otlp"]

PathLike = str | os.PathLike[str]


def _input_file(path: PathLike, what: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise ConfigurationError(f"{what}: no such file: {p}")
    return p


def _check_eof(path: Path) -> None:
    """promtool insists on the OpenMetrics terminator; say so before it does, more clearly."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 64))
        tail = fh.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    if tail.strip() != b"# EOF":
        raise ParseError(
            "an OpenMetrics file must end with a '# EOF' line (promtool refuses it otherwise)",
            path=str(path), line=_count_lines(path),
        )


def _count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return n


def backfill_prometheus(
    metrics_om_path: PathLike, data_dir: PathLike, *, max_block_duration: str = "162h",
    timeout: float = 1800.0,
) -> Path:
    """Write TSDB blocks for an OpenMetrics file into a Prometheus data directory.

    Runs ``promtool tsdb create-blocks-from openmetrics FILE DIR``. promtool reads the file once
    per block, so ``max_block_duration`` is large (promtool rounds it down to 2h x 3^n: 162h
    covers a week in one or two blocks). Start ``agentinsight.stack.Prometheus(data_dir=DIR)``
    (or any Prometheus with ``--storage.tsdb.path=DIR`` and a retention longer than the history)
    afterwards. Returns ``data_dir``.

    >>> from agentinsight.stack.load import backfill_prometheus
    >>> from agentinsight.stack import Prometheus
    >>> backfill_prometheus("data/demo/metrics.om", "tsdb")  # doctest: +SKIP
    PosixPath('tsdb')
    >>> with Prometheus(data_dir="tsdb") as prom:  # doctest: +SKIP
    ...     prom.query("sum(agent_execution_total)")
    """
    from agentinsight.stack import promtool

    source = _input_file(metrics_om_path, "backfill_prometheus")
    _check_eof(source)
    target = Path(data_dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigurationError(f"backfill_prometheus: cannot create {target}: {exc}") from exc
    promtool("tsdb", "create-blocks-from", "openmetrics", "--quiet",
             f"--max-block-duration={max_block_duration}", source.resolve(), target.resolve(),
             timeout=timeout)
    return target


# -- HTTP --
def _client(timeout: float) -> Client:
    # One keep-alive connection for all batches; a batch is not re-sent (no retries), so a
    # failure says exactly which lines did not arrive.
    return Client(timeout=timeout, retries=0, pool_size=1)


def _post(client: Client, url: str, body: bytes, content_type: str, *, what: str,
          method: str = "POST") -> bytes:
    """Send ``body``; return the answer's body, or raise the ``SourceError`` that fits (the
    message starts with ``what`` and carries the URL and the server's own words)."""
    response = client.request(method, url, body=body if method == "POST" else None,
                              headers={"Content-Type": content_type}, ok=range(200, 300),
                              what=what)
    return response.content


# -- VictoriaMetrics --
def _ms_line(line: str, path: Path, lineno: int) -> str:
    """One exposition line with its timestamp turned from seconds into milliseconds."""
    cut = line.find(" # ")
    if cut >= 0:  # an OpenMetrics exemplar: the Prometheus text format has none
        line = line[:cut]
    close = line.rfind("}")
    tail = line[close + 1:] if close >= 0 else line
    parts = tail.split()
    if close < 0:
        parts = parts[1:]  # drop the metric name
    if len(parts) == 1:
        return line  # no timestamp: the server stamps it
    if len(parts) != 2:
        raise ParseError(f"expected 'name{{labels}} value [timestamp]', got {line[:200]!r}",
                         path=str(path), line=lineno)
    head, ts = line.rsplit(" ", 1)
    if ts.isdigit():
        return f"{head} {ts}000"
    try:
        return f"{head} {round(float(ts) * 1000)}"
    except ValueError:
        raise ParseError(f"bad timestamp {ts!r}", path=str(path), line=lineno) from None


def _vm_batches(path: Path, batch_bytes: int) -> Iterator[tuple[int, bytes, int]]:
    out: list[str] = []
    size = 0
    samples = 0
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            converted = _ms_line(line, path, lineno)
            out.append(converted)
            size += len(converted) + 1
            samples += 1
            if size >= batch_bytes:
                yield lineno, ("\n".join(out) + "\n").encode(), samples
                out, size, samples = [], 0, 0
    if out:
        yield lineno, ("\n".join(out) + "\n").encode(), samples


def import_victoriametrics(
    metrics_om_path: PathLike, vm_url: str, *, batch_bytes: int = 32 << 20, timeout: float = 300.0,
) -> int:
    """Import a timestamped OpenMetrics file into VictoriaMetrics; returns the samples sent.

    Lines go to ``{vm_url}/api/v1/import/prometheus`` in batches of about ``batch_bytes``, with
    timestamps converted to the milliseconds that endpoint expects (comments, ``# EOF`` and
    exemplars are left out); then ``/internal/force_flush`` makes them queryable at once.

    >>> from agentinsight.stack.load import import_victoriametrics
    >>> import_victoriametrics("data/demo/metrics.om", "http://127.0.0.1:8428")  # doctest: +SKIP
    11612160
    """
    source = _input_file(metrics_om_path, "import_victoriametrics")
    base = vm_url.rstrip("/")
    url = f"{base}/api/v1/import/prometheus"
    total = 0
    with _client(timeout) as client:
        for lineno, body, samples in _vm_batches(source, batch_bytes):
            _post(client, url, body, "text/plain",
                  what=f"import_victoriametrics({source}, lines up to {lineno})")
            total += samples
        _post(client, f"{base}/internal/force_flush", b"", "text/plain", method="GET",
              what="import_victoriametrics: force_flush")
    return total


# -- Jaeger (OTLP/HTTP) --
def load_jaeger_otlp(
    spans_jsonl_path: PathLike, otlp_http_url: str, *, batch_bytes: int = 4 << 20,
    timeout: float = 60.0,
) -> int:
    """POST every ``TracesData`` line of an OTLP JSON file to ``{otlp_http_url}/v1/traces``.

    Lines are merged into requests of about ``batch_bytes`` (``application/json``). Returns the
    number of spans sent. A corrupt line raises ``ParseError`` naming file and line before
    anything of its batch is sent; a refusal (or spans the server reports rejected) raises
    ``ServerError``/``QueryError`` naming the file, the lines and the server's reply.

    >>> from agentinsight.stack.load import load_jaeger_otlp
    >>> load_jaeger_otlp("data/demo/spans.jsonl", "http://127.0.0.1:4318")  # doctest: +SKIP
    264512
    """
    source = _input_file(spans_jsonl_path, "load_jaeger_otlp")
    url = otlp_http_url.rstrip("/")
    if not url.endswith("/v1/traces"):
        url += "/v1/traces"
    total = 0
    batch: list[Any] = []
    first = size = spans = 0
    lineno = 0

    def send(last: int) -> None:
        what = f"load_jaeger_otlp({source}, lines {first}-{last})"
        reply = _post(client, url,
                      json.dumps({"resourceSpans": batch}, separators=(",", ":")).encode(),
                      "application/json", what=what)
        try:
            answer = json.loads(reply) if reply.strip() else {}
        except ValueError:
            answer = {}
        partial = answer.get("partialSuccess") or {}
        if int(partial.get("rejectedSpans") or 0):
            raise ServerError(f"{what}: {partial['rejectedSpans']} spans were rejected", url=url,
                              server_message=partial.get("errorMessage") or reply.decode()[:500])

    client = _client(timeout)
    with client, open(source, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
                resource_spans = doc["resourceSpans"]
                if not isinstance(resource_spans, list):
                    raise TypeError("resourceSpans is not a list")
            except (ValueError, KeyError, TypeError) as exc:
                raise ParseError(f"not an OTLP JSON TracesData line ({exc})", path=str(source),
                                 line=lineno) from None
            if not batch:
                first = lineno
            batch.extend(resource_spans)
            size += len(line)
            spans += sum(len(ss.get("spans", ())) for rs in resource_spans
                         for ss in rs.get("scopeSpans", ()))
            if size >= batch_bytes:
                send(lineno)
                total += spans
                batch, size, spans = [], 0, 0
        if batch:
            send(lineno)
            total += spans
    return total
