"""The simulator's span file: emit's OTLP JSON encoding, in lines of a fixed number of spans.

emit's own ``file:`` exporter writes one ``TracesData`` line per export batch, and batches end
wherever its background thread happened to wake; the OpenTelemetry SDK also gives every process a
random ``service.instance.id``. For a file that depends on the seed alone, this exporter encodes
each span exactly as emit's file exporter does (:mod:`agentinsight.formats.otlp_json`) and writes
lines of ``per_line`` spans in the order they ended, with the instance id named after the run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentinsight.formats.otlp_json import encode_attributes, encode_span

__all__ = ["SpanFile"]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


class SpanFile(SpanExporter):
    """OTLP JSON lines of ``per_line`` spans each; ``written`` counts the spans."""

    def __init__(self, path: str, *, instance_id: str, per_line: int = 1000) -> None:
        self.path = path
        self.instance_id = instance_id
        self.per_line = per_line
        self.written = 0
        self._fh: IO[str] | None = open(path, "w", encoding="utf-8")  # noqa: SIM115
        self._buffer: list[str] = []
        self._head = ""
        self._tail = "]}]}]}\n"

    def _make_head(self, span: ReadableSpan) -> str:
        resource: dict[str, Any] = dict(span.resource.attributes) if span.resource else {}
        if "service.instance.id" in resource:
            resource["service.instance.id"] = self.instance_id
        scope = span.instrumentation_scope
        scope_doc: dict[str, Any] = {"name": scope.name if scope else ""}
        if scope is not None and scope.version:
            scope_doc["version"] = scope.version
        head = _dumps({"resourceSpans": [{"resource": {"attributes": encode_attributes(resource)},
                                          "scopeSpans": [{"scope": scope_doc, "spans": []}]}]})
        return head[: -len(self._tail) + 1]  # everything up to the open spans array

    def _write(self, spans: list[str]) -> None:
        assert self._fh is not None
        self._fh.write(self._head)
        self._fh.write(",".join(spans))
        self._fh.write(self._tail)
        self.written += len(spans)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._fh is None:
            return SpanExportResult.FAILURE
        if spans and not self._head:
            self._head = self._make_head(spans[0])
        buffer = self._buffer
        buffer.extend(_dumps(encode_span(s)) for s in spans)
        n = self.per_line
        while len(buffer) >= n:
            self._write(buffer[:n])
            del buffer[:n]
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self._fh is None:
            return
        if self._buffer:
            self._write(self._buffer)
            self._buffer = []
        self._fh.close()
        self._fh = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
