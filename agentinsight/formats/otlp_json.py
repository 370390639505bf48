"""OTLP JSON traces: the encoder emit's file exporter uses and the decoder every reader uses.

The format is the OpenTelemetry protobuf JSON mapping as the Collector's file exporter writes it:
``TracesData`` = ``resourceSpans → scopeSpans → spans``; ids as lower-case hex; 64-bit integers
(times, ``intValue``) as decimal strings; ``kind`` and ``status.code`` as integers; attributes as
``[{key, value: AnyValue}]`` where ``AnyValue`` holds one of ``stringValue``, ``intValue``,
``doubleValue``, ``boolValue``, ``bytesValue`` (base64), ``arrayValue`` or ``kvlistValue``.

Encoding works straight from the OpenTelemetry SDK's ``ReadableSpan`` (no protobuf round trip),
which keeps half a million spans cheap. Decoding accepts both OTLP JSON flavours: ids as lower-
or upper-case hex (the OTLP/JSON spec) or as base64 (what a generic protobuf-to-JSON mapping
emits), 64-bit integers as strings or numbers, and enums as numbers or as their proto names
(``"SPAN_KIND_SERVER"``). :class:`SpanColumns` turns decoded ``TracesData`` into one list per
spans-frame column, promoting the GenAI attributes through :func:`agentinsight.semconv.promote`
(whichever convention wrote them).

Only the standard library is imported here: emit encodes without pandas, and the readers in
:mod:`agentinsight.sources` build their frames from the column lists.

>>> decode_value(encode_value([1, "a", True]))
[1, 'a', True]
>>> decode_id("CvdlGRbNQ92ESOshHIAxnA==", 32)
'0af7651916cd43dd8448eb211c80319c'
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from agentinsight.semconv import COLUMN_ALIASES, TOKEN_FIELDS, promote

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan

__all__ = [
    "SERVICE_ATTRIBUTE",
    "SPAN_KINDS",
    "STATUS_CODES",
    "SpanColumns",
    "decode_id",
    "decode_value",
    "encode_attributes",
    "encode_span",
    "encode_traces_data",
    "encode_value",
    "iter_documents",
    "traces_data_line",
]

#: Resource attribute that names the service.
SERVICE_ATTRIBUTE: Final = "service.name"
#: ``kind`` (number or proto name) → the spans frame's ``kind``.
SPAN_KINDS: Final[dict[int | str, str]] = {
    0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
SPAN_KINDS.update({f"SPAN_KIND_{v.upper()}": v for v in list(SPAN_KINDS.values())})
#: ``status.code`` (number or proto name) → the spans frame's ``status``.
STATUS_CODES: Final[dict[int | str, str]] = {
    0: "unset", 1: "ok", 2: "error",
    "STATUS_CODE_UNSET": "unset", "STATUS_CODE_OK": "ok", "STATUS_CODE_ERROR": "error"}

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


# == encoding ===================================================================================
def encode_value(value: Any) -> dict[str, Any]:
    """The OTLP JSON ``AnyValue`` of a Python attribute value.

    >>> encode_value(3), encode_value(0.5)
    ({'intValue': '3'}, {'doubleValue': 0.5})
    """
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Sequence):
        return {"arrayValue": {"values": [encode_value(v) for v in value]}}
    return {"stringValue": str(value)}


def encode_attributes(attrs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """OTLP JSON key/value list of an attribute mapping.

    >>> encode_attributes({"gen_ai.agent.name": "planner"})
    [{'key': 'gen_ai.agent.name', 'value': {'stringValue': 'planner'}}]
    """
    if not attrs:
        return []
    return [{"key": k, "value": encode_value(v)} for k, v in attrs.items()]


def encode_span(span: ReadableSpan) -> dict[str, Any]:
    """One span in OTLP JSON form."""
    ctx = span.context
    out: dict[str, Any] = {
        "traceId": format(ctx.trace_id, "032x"),
        "spanId": format(ctx.span_id, "016x"),
    }
    trace_state = ctx.trace_state.to_header() if ctx.trace_state else ""
    if trace_state:
        out["traceState"] = trace_state
    if span.parent is not None:
        out["parentSpanId"] = format(span.parent.span_id, "016x")
    out["flags"] = int(ctx.trace_flags) | (
        0x300 if span.parent is not None and span.parent.is_remote else 0x100
    )
    out["name"] = span.name
    out["kind"] = span.kind.value + 1
    out["startTimeUnixNano"] = str(span.start_time)
    out["endTimeUnixNano"] = str(span.end_time)
    if span.attributes:
        out["attributes"] = encode_attributes(span.attributes)
    if span.dropped_attributes:
        out["droppedAttributesCount"] = span.dropped_attributes
    if span.events:
        out["events"] = [
            {"timeUnixNano": str(e.timestamp), "name": e.name,
             "attributes": encode_attributes(e.attributes)}
            for e in span.events
        ]
    if span.links:
        out["links"] = [
            {
                "traceId": format(link.context.trace_id, "032x"),
                "spanId": format(link.context.span_id, "016x"),
                "attributes": encode_attributes(link.attributes),
            }
            for link in span.links
        ]
    status = span.status
    code = status.status_code.value
    out["status"] = {"code": code, "message": status.description} if status.description else (
        {"code": code} if code else {}
    )
    return out


def _grouped(spans: Sequence[ReadableSpan], encode: Callable[[ReadableSpan], Any]
             ) -> list[tuple[Any, dict[tuple[str, str | None], list[Any]]]]:
    """``(resource, {(scope name, version): [encoded span, ...]})`` in first-seen order."""
    by_resource: dict[int, tuple[Any, dict[tuple[str, str | None], list[Any]]]] = {}
    for span in spans:
        resource = span.resource
        entry = by_resource.get(id(resource))
        if entry is None:
            entry = by_resource[id(resource)] = (resource, {})
        scope = span.instrumentation_scope
        key = (scope.name, scope.version) if scope is not None else ("", None)
        bucket = entry[1].get(key)
        if bucket is None:
            bucket = entry[1][key] = []
        bucket.append(encode(span))
    return list(by_resource.values())


def encode_traces_data(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """Group spans by resource and instrumentation scope into one ``TracesData`` object."""
    resource_spans = []
    for resource, scopes in _grouped(spans, encode_span):
        scope_spans = []
        for (name, version), encoded in scopes.items():
            scope: dict[str, Any] = {"name": name}
            if version:
                scope["version"] = version
            scope_spans.append({"scope": scope, "spans": encoded})
        resource_spans.append({
            "resource": {"attributes": encode_attributes(resource.attributes if resource
                                                         else None)},
            "scopeSpans": scope_spans,
        })
    return {"resourceSpans": resource_spans}


# -- the fast path: JSON text built directly (the file exporter writes ~10^5 spans a second) ----
_str = json.encoder.encode_basestring  # C-accelerated: '"escaped"'
_key_prefix: dict[str, str] = {}


def _value_text(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return '{"stringValue":' + _str(value) + "}"
    if kind is bool:
        return '{"boolValue":true}' if value else '{"boolValue":false}'
    if kind is int:
        return '{"intValue":"' + str(value) + '"}'
    if kind is float:
        return _dumps({"doubleValue": value})
    return _dumps(encode_value(value))


def _attributes_text(attrs: Any) -> str:
    parts = []
    for key, value in attrs.items():
        prefix = _key_prefix.get(key)
        if prefix is None:
            prefix = _key_prefix[key] = '{"key":' + _str(key) + ',"value":'
        parts.append(prefix + _value_text(value) + "}")
    return "[" + ",".join(parts) + "]"


def _span_text(span: ReadableSpan) -> str:
    ctx = span.context
    parent = span.parent
    flags = int(ctx.trace_flags) | (0x300 if parent is not None and parent.is_remote else 0x100)
    out = ['{"traceId":"', format(ctx.trace_id, "032x"), '","spanId":"',
           format(ctx.span_id, "016x"), '"']
    trace_state = ctx.trace_state.to_header() if ctx.trace_state else ""
    if trace_state:
        out.append(',"traceState":' + _str(trace_state))
    if parent is not None:
        out.append(',"parentSpanId":"' + format(parent.span_id, "016x") + '"')
    out.append(f',"flags":{flags},"name":{_str(span.name)},"kind":{span.kind.value + 1},'
               f'"startTimeUnixNano":"{span.start_time}","endTimeUnixNano":"{span.end_time}"')
    attrs = span.attributes
    if attrs:
        out.append(',"attributes":' + _attributes_text(attrs))
    if span.dropped_attributes:
        out.append(f',"droppedAttributesCount":{span.dropped_attributes}')
    if span.events or span.links:
        rest = encode_span(span)
        for field in ("events", "links"):
            if field in rest:
                out.append(f',"{field}":' + _dumps(rest[field]))
    status = span.status
    code = status.status_code.value
    if status.description:
        out.append(f',"status":{{"code":{code},"message":{_str(status.description)}}}}}')
    elif code:
        out.append(f',"status":{{"code":{code}}}}}')
    else:
        out.append(',"status":{}}')
    return "".join(out)


def traces_data_line(spans: Sequence[ReadableSpan]) -> str:
    """One ``TracesData`` JSON object (no newline) for ``spans``; same content as
    ``json.dumps(encode_traces_data(spans))``, built without intermediate dicts."""
    resource_parts = []
    for resource, scopes in _grouped(spans, _span_text):
        scope_parts = []
        for (name, version), texts in scopes.items():
            head = '{"name":' + _str(name) + (',"version":' + _str(version) if version else "")
            scope_parts.append('{"scope":' + head + '},"spans":[' + ",".join(texts) + "]}")
        resource_attrs = _attributes_text(resource.attributes) if resource else "[]"
        resource_parts.append('{"resource":{"attributes":' + resource_attrs
                              + '},"scopeSpans":[' + ",".join(scope_parts) + "]}")
    return '{"resourceSpans":[' + ",".join(resource_parts) + "]}"


# == decoding ===================================================================================
def decode_id(value: Any, hex_len: int) -> str:
    """A lower-case hex id from hex or base64 text ('' for empty or all-zero ids); ``hex_len``
    is 32 for trace ids and 16 for span ids.

    >>> decode_id("B7AD6B7169203331", 16), decode_id("0000000000000000", 16)
    ('b7ad6b7169203331', '')
    """
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


def decode_value(value: dict[str, Any]) -> Any:
    """The Python value of an OTLP ``AnyValue`` (None for an empty one).

    >>> decode_value({"kvlistValue": {"values": [{"key": "n", "value": {"intValue": "2"}}]}})
    {'n': 2}
    """
    for key, inner in value.items():
        if key == "stringValue" or key == "boolValue" or key == "doubleValue":
            return inner
        if key == "intValue":
            return int(inner)
        if key == "arrayValue":
            return [decode_value(v) for v in inner.get("values", ())]
        if key == "kvlistValue":
            return {kv["key"]: decode_value(kv.get("value", {})) for kv in inner.get("values", ())}
        if key == "bytesValue":
            return base64.b64decode(inner)
    return None


def iter_documents(text: str) -> Iterator[Any]:
    """Each JSON document in ``text`` (one, or several back to back as a stream sends them).

    >>> [d["n"] for d in iter_documents('{"n": 1} {"n": 2}')]
    [1, 2]
    """
    decoder = json.JSONDecoder()
    pos, n = 0, len(text)
    while True:
        while pos < n and text[pos] in " \t\r\n":
            pos += 1
        if pos >= n:
            return
        doc, pos = decoder.raw_decode(text, pos)
        yield doc


class SpanColumns:
    """The spans frame's columns as lists, filled span by span.

    ``strings`` holds the promoted GenAI columns and ``tokens`` the token columns (NaN where
    absent), both read by :func:`agentinsight.semconv.promote`; ``start``/``end`` epoch
    nanoseconds, ``attributes`` each span's remaining attributes.

    >>> cols = SpanColumns()
    >>> cols.add_document({"resourceSpans": [{"scopeSpans": [{"spans": [{
    ...     "traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
    ...     "name": "chat gpt-4o", "kind": "SPAN_KIND_CLIENT", "startTimeUnixNano": "5",
    ...     "attributes": [{"key": "gen_ai.usage.input_tokens", "value": {"intValue": "7"}}]}]}]}]})
    >>> len(cols), cols.kind, cols.tokens["input_tokens"], cols.end
    (1, ['client'], [7], [5])
    """

    def __init__(self) -> None:
        self.ids: list[list[str]] = [[], [], []]
        self.service: list[str | None] = []
        self.name: list[str] = []
        self.kind: list[str] = []
        self.start: list[int] = []
        self.end: list[int] = []
        self.status: list[str] = []
        self.status_message: list[str] = []
        self.strings: dict[str, list[Any]] = {c: [] for c in COLUMN_ALIASES}
        self.tokens: dict[str, list[float]] = {c: [] for c in TOKEN_FIELDS}
        self.attributes: list[dict[str, Any]] = []

    def __len__(self) -> int:
        return len(self.name)

    def add_document(self, doc: dict[str, Any], *, internal: bool = False) -> None:
        """Append every span of one ``TracesData`` document (``internal``: it may hold a
        backend's own attributes, ``@jaeger@...``, which are dropped)."""
        # The hot loop of every trace read: bound methods and column lists are hoisted into
        # locals, and well-formed lower-case hex ids skip the general id conversion.
        add_trace, add_span_id, add_parent = (ids.append for ids in self.ids)
        add_service, add_name, add_kind = (self.service.append, self.name.append,
                                           self.kind.append)
        add_start, add_end = self.start.append, self.end.append
        add_status, add_message = self.status.append, self.status_message.append
        add_attrs = self.attributes.append
        s0, s1, s2, s3, s4 = (self.strings[col].append for col in COLUMN_ALIASES)
        t0, t1, t2, t3, t4 = (self.tokens[col].append for col in TOKEN_FIELDS)
        read = promote
        kinds, statuses, hex_id, any_value = SPAN_KINDS, STATUS_CODES, decode_id, decode_value
        for rs in doc.get("resourceSpans") or ():
            service = None
            for kv in (rs.get("resource") or {}).get("attributes") or ():
                if kv["key"] == SERVICE_ATTRIBUTE:
                    service = any_value(kv.get("value") or {})
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
                            attrs[kv["key"]] = any_value(value)
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
                    strings, tokens = read(attrs, internal=internal)
                    s0(strings[0]), s1(strings[1]), s2(strings[2]), s3(strings[3])
                    s4(strings[4])
                    t0(tokens[0]), t1(tokens[1]), t2(tokens[2]), t3(tokens[3]), t4(tokens[4])
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
        strings, tokens = promote(attrs, internal=True)
        for col, value in zip(COLUMN_ALIASES, strings, strict=True):
            self.strings[col].append(value)
        for col, value in zip(TOKEN_FIELDS, tokens, strict=True):
            self.tokens[col].append(value)
        self.attributes.append(attrs)

    def truncate(self, n: int) -> None:
        """Drop the spans appended after the first ``n`` (a document that failed half-way)."""
        lists: tuple[list[Any], ...] = (
            *self.ids, self.service, self.name, self.kind, self.start, self.end, self.status,
            self.status_message, self.attributes, *self.strings.values(), *self.tokens.values())
        for lst in lists:
            del lst[n:]
