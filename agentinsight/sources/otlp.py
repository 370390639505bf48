"""The one OTLP JSON parser: OTLP ``TracesData`` documents into the spans frame.

It serves OTLP JSON-lines files (one ``TracesData`` per line, as the simulator and OTLP file
exporters write them) and Jaeger's api_v3 responses (``{"result": TracesData}``, possibly several
JSON documents streamed back to back).

Both OTLP JSON flavours are accepted: ids as lower- or upper-case hex (the OTLP/JSON spec) or as
base64 (what a generic protobuf-to-JSON mapping emits), 64-bit integers as strings or numbers, and
enums (``kind``, ``status.code``) as numbers or as their proto names (``"SPAN_KIND_SERVER"``).

Columns follow :mod:`agentinsight.frames`; the GenAI attributes promoted to columns are mapped
in :data:`GENAI_ATTRIBUTES` and :data:`TOKEN_ATTRIBUTES`, by the names ``emit`` writes (its
:mod:`agentinsight.semconv` is the one place those names are spelled).
"""

from __future__ import annotations

import base64
import contextlib
import gc
import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentinsight import semconv as attr
from agentinsight.exceptions import ConfigurationError, ParseError
from agentinsight.frames import SPANS_COLUMNS, empty_spans_frame

__all__ = [
    "GENAI_ATTRIBUTES",
    "SERVICE_ATTRIBUTE",
    "TOKEN_ATTRIBUTES",
    "parse_otlp_text",
    "read_otlp_jsonl",
    "spans_from_otlp",
]

#: Resource attribute that names the service.
SERVICE_ATTRIBUTE = "service.name"
#: Span attribute → spans-frame string column. ``model`` falls back to ``gen_ai.response.model``.
GENAI_ATTRIBUTES: dict[str, str] = {
    attr.GEN_AI_AGENT_NAME: "agent",
    attr.GEN_AI_OPERATION_NAME: "operation",
    attr.GEN_AI_PROVIDER_NAME: "provider",
    attr.GEN_AI_REQUEST_MODEL: "model",
    attr.GEN_AI_TOOL_NAME: "tool",
}
RESPONSE_MODEL_ATTRIBUTE = attr.GEN_AI_RESPONSE_MODEL
#: Span attribute → spans-frame token column (float64, NaN where absent).
TOKEN_ATTRIBUTES: dict[str, str] = {
    attr.GEN_AI_USAGE_INPUT_TOKENS: "input_tokens",
    attr.GEN_AI_USAGE_OUTPUT_TOKENS: "output_tokens",
    attr.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: "cache_read_tokens",
    attr.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: "cache_write_tokens",
    attr.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: "reasoning_tokens",
}

_KINDS: dict[int | str, str] = {0: "unspecified", 1: "internal", 2: "server", 3: "client",
                                 4: "producer", 5: "consumer"}
_KINDS.update({f"SPAN_KIND_{v.upper()}": v for v in list(_KINDS.values())})
_STATUSES: dict[int | str, str] = {0: "unset", 1: "ok", 2: "error", "STATUS_CODE_UNSET": "unset",
             "STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error"}
_STRING_COLUMNS = tuple(GENAI_ATTRIBUTES.values())
_TOKEN_COLUMNS = tuple(TOKEN_ATTRIBUTES.values())


def _hex_id(value: Any, hex_len: int) -> str:
    """A lower-case hex id from hex or base64 text ('' for empty or all-zero ids)."""
    if not value:
        return ""
    if len(value) != hex_len:
        try:
            value = base64.b64decode(value, validate=True).hex()
        except ValueError:
            raise ValueError(f"id {value!r} is neither {hex_len}-digit hex nor base64") from None
        if len(value) != hex_len:
            raise ValueError(f"id decodes to {len(value) // 2} bytes, expected {hex_len // 2}")
    else:
        value = value.lower()
    return "" if value.count("0") == hex_len else value


def _any_value(value: dict[str, Any]) -> Any:
    """The Python value of an OTLP ``AnyValue``."""
    for key, inner in value.items():
        if key == "stringValue" or key == "boolValue" or key == "doubleValue":
            return inner
        if key == "intValue":
            return int(inner)
        if key == "arrayValue":
            return [_any_value(v) for v in inner.get("values", ())]
        if key == "kvlistValue":
            return {kv["key"]: _any_value(kv.get("value", {})) for kv in inner.get("values", ())}
        if key == "bytesValue":
            return base64.b64decode(inner)
    return None


class SpanColumns:
    """Column lists filled span by span, turned into the frame at the end."""

    def __init__(self) -> None:
        self.ids: list[list[str]] = [[], [], []]
        self.service: list[str | None] = []
        self.name: list[str] = []
        self.kind: list[str] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.status: list[str] = []
        self.status_message: list[str] = []
        self.strings: dict[str, list[Any]] = {c: [] for c in _STRING_COLUMNS}
        self.tokens: dict[str, list[float]] = {c: [] for c in _TOKEN_COLUMNS}
        self.attributes: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.name)

    def add_document(self, doc: dict[str, Any]) -> None:
        """Append every span of one ``TracesData`` document."""
        # The hot loop of every trace read: bound methods and column lists are hoisted into
        # locals, and well-formed lower-case hex ids skip the general id conversion.
        nan = float("nan")
        add_trace, add_span_id, add_parent = (ids.append for ids in self.ids)
        add_service, add_name, add_kind = (self.service.append, self.name.append,
                                           self.kind.append)
        add_start, add_end = self.start.append, self.end.append
        add_status, add_message = self.status.append, self.status_message.append
        add_attrs = self.attributes.append
        promoted = [(key, self.strings[col].append) for key, col in GENAI_ATTRIBUTES.items()]
        counted = [(key, self.tokens[col].append) for key, col in TOKEN_ATTRIBUTES.items()]
        models = self.strings["model"]
        kinds, statuses, hex_id = _KINDS, _STATUSES, _hex_id
        for rs in doc.get("resourceSpans") or ():
            service = None
            for kv in (rs.get("resource") or {}).get("attributes") or ():
                if kv["key"] == SERVICE_ATTRIBUTE:
                    service = _any_value(kv.get("value") or {})
            for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or ():
                for span in ss.get("spans") or ():
                    attrs = {}
                    for kv in span.get("attributes") or ():
                        value = kv.get("value") or {}
                        if "stringValue" in value:
                            attrs[kv["key"]] = value["stringValue"]
                        elif "intValue" in value:
                            attrs[kv["key"]] = int(value["intValue"])
                        else:
                            attrs[kv["key"]] = _any_value(value)
                    trace_id, span_id = span["traceId"], span["spanId"]
                    parent = span.get("parentSpanId") or ""
                    add_trace(trace_id if len(trace_id) == 32 and trace_id.islower()
                              else hex_id(trace_id, 32))
                    add_span_id(span_id if len(span_id) == 16 and span_id.islower()
                                else hex_id(span_id, 16))
                    add_parent(hex_id(parent, 16) if parent else "")
                    add_service(service)
                    add_name(span.get("name", ""))
                    add_kind(kinds.get(span.get("kind", 0), "unspecified"))
                    start = span["startTimeUnixNano"]
                    add_start(int(start))
                    add_end(int(span.get("endTimeUnixNano") or start))
                    status = span.get("status") or {}
                    add_status(statuses.get(status.get("code", 0), "unset"))
                    add_message(status.get("message", ""))
                    pop = attrs.pop
                    for key, add in promoted:
                        add(pop(key, None))
                    if models[-1] is None:
                        models[-1] = attrs.get(RESPONSE_MODEL_ATTRIBUTE)
                    for key, add in counted:
                        add(pop(key, nan))
                    add_attrs(attrs)

    def add_span(self, trace_id: str, span_id: str, parent_span_id: str, service: str | None,
                 name: str, kind: str, start_ns: int, end_ns: int, status: str,
                 status_message: str, attrs: dict[str, Any]) -> None:
        """Append one span given field by field (``attrs`` is consumed: promoted keys are
        removed from it)."""
        self.ids[0].append(trace_id)
        self.ids[1].append(span_id)
        self.ids[2].append(parent_span_id)
        self.service.append(service)
        self.name.append(name)
        self.kind.append(kind)
        self.start.append(start_ns)
        self.end.append(end_ns)
        self.status.append(status)
        self.status_message.append(status_message)
        nan = float("nan")
        for key, col in GENAI_ATTRIBUTES.items():
            self.strings[col].append(attrs.pop(key, None))
        if self.strings["model"][-1] is None:
            self.strings["model"][-1] = attrs.get(RESPONSE_MODEL_ATTRIBUTE)
        for key, col in TOKEN_ATTRIBUTES.items():
            self.tokens[col].append(attrs.pop(key, nan))
        self.attributes.append(attrs)

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
        data["start"] = _utc(start)
        data["end"] = _utc(end)
        data["duration_ms"] = (end - start) / 1e6
        for col in _TOKEN_COLUMNS:
            data[col] = np.array(self.tokens[col], dtype="float64")
        frame = pd.DataFrame(data, copy=False)
        return frame[list(SPANS_COLUMNS)]


def _objects(values: list[Any]) -> pd.Series:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return pd.Series(out, dtype=object, copy=False)


def _utc(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.view("datetime64[ns]"), dtype="datetime64[ns, UTC]", copy=False)


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
        cols.add_document(doc)
    return cols.frame()


def _documents(text: str) -> Iterator[Any]:
    """Each JSON document in ``text`` (one, or several back to back as a stream sends them)."""
    decoder = json.JSONDecoder()
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return
        doc, pos = decoder.raw_decode(text, pos)
        yield doc


def parse_otlp_text(text: str | bytes, *, where: str = "response") -> pd.DataFrame:
    """The spans frame of OTLP JSON text: a ``TracesData``, an api_v3 ``{"result": ...}``
    wrapper, or several such documents streamed back to back.

    >>> parse_otlp_text('{"result": {"resourceSpans": []}}').shape[0]
    0
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    cols = SpanColumns()
    try:
        with _gc_paused():
            for doc in _documents(text):
                if not isinstance(doc, dict):
                    raise ValueError(f"expected a JSON object, got {type(doc).__name__}")
                cols.add_document(doc.get("result", doc))
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
                cols.add_document(doc)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                _truncate(cols, mark)
                if errors == "raise":
                    raise ParseError(f"corrupt OTLP JSON line: {_describe(exc)}",
                                     path=str(path), line=lineno) from None
                bad.append(lineno)


def _truncate(cols: SpanColumns, n: int) -> None:
    """Drop spans appended after position ``n`` (a document that failed half-way)."""
    lists: tuple[list[Any], ...] = (
        *cols.ids, cols.service, cols.name, cols.kind, cols.start, cols.end, cols.status,
        cols.status_message, cols.attributes, *cols.strings.values(), *cols.tokens.values())
    for lst in lists:
        del lst[n:]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__
