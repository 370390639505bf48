"""``traces_exporter="file:PATH"``: OTLP JSON lines, one ``TracesData`` object per line.

Each exported batch becomes one line in the form the Collector's file exporter writes, encoded by
:func:`agentinsight.formats.otlp_json.traces_data_line` straight from the SDK's spans.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentinsight.formats.otlp_json import traces_data_line


class FileSpanExporter(SpanExporter):
    """Appends each exported batch to ``path`` as one OTLP JSON line."""

    def __init__(self, path: str) -> None:
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for speed
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = traces_data_line(spans)
        with self._lock:
            if self._file.closed:
                return SpanExportResult.FAILURE
            self._file.write(line + "\n")
            self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        with self._lock:
            self._file.close()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True
