"""The OTLP JSON reader: OTLP ``TracesData`` documents into the spans frame.

It serves OTLP JSON-lines files (one ``TracesData`` per line, as the simulator and OTLP file
exporters write them) and Jaeger's api_v3 responses (``{"result": TracesData}``, possibly several
JSON documents streamed back to back).

How ids, values, attributes and the resource/scope grouping are encoded, and which GenAI
attributes become columns, is :mod:`agentinsight.formats.otlp_json`'s knowledge (both OTLP JSON
flavours are accepted there); this module turns its column lists into the frame of
:mod:`agentinsight.frames` and reports bad input as :class:`ParseError`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentinsight import semconv
from agentinsight.exceptions import ConfigurationError, ParseError
from agentinsight.formats import otlp_json
from agentinsight.frames import SPANS_COLUMNS, TOKEN_COLUMNS, empty_spans_frame, utc_from_ns

__all__ = [
    "GENAI_ATTRIBUTES",
    "SERVICE_ATTRIBUTE",
    "SpanColumns",
    "TOKEN_ATTRIBUTES",
    "parse_otlp_text",
    "read_otlp_jsonl",
    "spans_from_otlp",
]

#: Resource attribute that names the service.
SERVICE_ATTRIBUTE = otlp_json.SERVICE_ATTRIBUTE
#: Span attribute (every alias in ``semconv.COLUMN_ALIASES``) → spans-frame string column.
GENAI_ATTRIBUTES = {name: col for col, names in semconv.COLUMN_ALIASES.items() for name in names}
#: Span attribute (every alias in ``semconv.TOKEN_ALIASES``) → spans-frame token column
#: (float64, NaN where absent).
TOKEN_ATTRIBUTES = {name: col for col, names in semconv.TOKEN_ALIASES.items() for name in names}


class SpanColumns(otlp_json.SpanColumns):
    """The format's column lists, turned into the spans frame by :meth:`frame`."""

    def frame(self) -> pd.DataFrame:
        if not self.name:
            return empty_spans_frame()
        start = np.array(self.start, dtype="int64")
        end = np.array(self.end, dtype="int64")
        # Text columns stay Python objects, like empty_spans_frame()'s: building Arrow strings
        # would cost more than the whole parse of the attributes.
        text: dict[str, list[Any]] = {
            "trace_id": self.ids[0], "span_id": self.ids[1], "parent_span_id": self.ids[2],
            "service": self.service, "name": self.name, "kind": self.kind,
            "status": self.status, "status_message": self.status_message,
            **self.strings, "attributes": self.attributes}
        data: dict[str, Any] = {col: _objects(values) for col, values in text.items()}
        data["start"] = utc_from_ns(start)
        data["end"] = utc_from_ns(end)
        data["duration_ms"] = (end - start) / 1e6
        for col in TOKEN_COLUMNS:
            data[col] = _counts(self.tokens[col])
        frame = pd.DataFrame(data, copy=False)
        return frame[list(SPANS_COLUMNS)]


def _counts(values: list[Any]) -> np.ndarray:
    """A token column as float64: what is not a count (text, a flag, a list, inf) is NaN."""
    try:
        out = np.array(values, dtype="float64")
        clean = out.ndim == 1 and not any(type(v) is bool for v in values)
    except (TypeError, ValueError):
        clean = False
    if not clean:
        out = np.array([semconv.token_count(v) for v in values], dtype="float64")
    finite = np.isfinite(out)
    if not finite.all():
        out[~finite] = np.nan
    return out


def _objects(values: list[Any]) -> pd.Series:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, dtype=object, copy=False)




def spans_from_otlp(documents: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """The spans frame of OTLP JSON ``TracesData`` documents (already decoded).

    >>> doc = {"resourceSpans": [{"resource": {"attributes": [
    ...     {"key": "service.name", "value": {"stringValue": "bot"}}]},
    ...     "scopeSpans": [{"spans": [{"traceId": "0af7651916cd43dd8448eb211c80319c",
    ...     "spanId": "b7ad6b7169203331", "name": "invoke_agent planner", "kind": 1,
    ...     "startTimeUnixNano": "1000000000", "endTimeUnixNano": "1500000000",
    ...     "attributes": [{"key": "gen_ai.agent.name", "value": {"stringValue": "planner"}}]}]}]}]}
    >>> row = spans_from_otlp([doc]).iloc[0]
    >>> row["service"], row["agent"], float(row["duration_ms"]), row["parent_span_id"]
    ('bot', 'planner', 500.0, '')
    """
    cols = SpanColumns()
    for doc in documents:
        cols.add_document(doc, internal=True)
    return cols.frame()


def parse_otlp_text(text: str | bytes, *, where: str = "response") -> pd.DataFrame:
    """The spans frame of OTLP JSON text: a ``TracesData``, an api_v3 ``{"result": ...}``
    wrapper, or several such documents streamed back to back.

    >>> parse_otlp_text('{"result": {"resourceSpans": []}}').shape[0]
    0
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    cols = SpanColumns()
    internal = "@jaeger@" in text  # one scan of the text instead of one test per attribute
    try:
        with _gc_paused():
            for doc in otlp_json.iter_documents(text):
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
                cols.add_document(doc.get("result", doc), internal=internal)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ParseError(f"not OTLP JSON traces: {_describe(exc)}", path=where) from None
    return cols.frame()


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic collector: parsing allocates millions of small, acyclic containers that
    it would rescan again and again for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def read_otlp_jsonl(path: str | Path, *, errors: str = "raise") -> pd.DataFrame:
    """The spans frame of an OTLP JSON-lines file (one ``TracesData`` per line).

    ``errors="raise"`` (default) stops at the first corrupt line with a :class:`ParseError`
    naming the file and line; ``errors="skip"`` reads past corrupt lines and warns once with
    their line numbers.

    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "spans.jsonl")
    >>> _ = open(p, "w").write('{"resourceSpans": []}\\n')
    >>> len(read_otlp_jsonl(p))
    0
    """
    if errors not in ("raise", "skip"):
        raise ConfigurationError(f"errors must be 'raise' or 'skip', got {errors!r}")
    path = Path(path)
    cols = SpanColumns()
    bad: list[int] = []
    loads = json.loads
    with _gc_paused():
        _read_lines(path, cols, bad, errors, loads)
    if bad:
        shown = ", ".join(map(str, bad[:20])) + (" ..." if len(bad) > 20 else "")
        warnings.warn(f"{path}: skipped {len(bad)} corrupt line(s): {shown}", stacklevel=2)
    return cols.frame()


def _read_lines(path: Path, cols: SpanColumns, bad: list[int], errors: str, loads: Any) -> None:
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            mark = len(cols)
            try:
                doc = loads(line)
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
                cols.add_document(doc, internal=b"@jaeger@" in line)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                cols.truncate(mark)
                if errors == "raise":
                    raise ParseError(f"corrupt OTLP JSON line: {_describe(exc)}",
                                     path=str(path), line=lineno) from None
                bad.append(lineno)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
