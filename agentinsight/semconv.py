"""The span vocabulary: the OpenTelemetry GenAI attributes and span names agentinsight uses.

The GenAI semantic conventions are still moving; when they rename an attribute, this module is the
one edit. emit writes these names, the readers in :mod:`agentinsight.sources` map them onto the
spans frame's columns, and :mod:`agentinsight.analysis` selects spans by :class:`Operation`. Only
the standard library is imported here, so the emit path stays light.

>>> agent_span_name("planner"), tool_span_name("web_search")
('invoke_agent planner', 'execute_tool web_search')
>>> llm_span_name(Operation.CHAT, "gpt-4o")
'chat gpt-4o'
>>> TOKEN_ATTRIBUTES[GEN_AI_USAGE_INPUT_TOKENS]
'input_tokens'

Other instrumentations name the same things differently (older GenAI conventions, OpenLLMetry,
OpenInference). :func:`promote` is the one reading of all of them that every reader uses:

>>> attrs = {"openinference.span.kind": "LLM", "llm.model_name": "gpt-4o",
...          "llm.token_count.prompt": 12, "llm.token_count.completion": 3}
>>> strings, tokens = promote(attrs)
>>> strings, tokens[:2]  # agent, operation, provider, model, tool; input and output tokens
([None, 'chat', None, 'gpt-4o', None], [12, 3])
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "AGENT_ID_ATTRIBUTES",
    "AGENT_OPERATIONS",
    "BATCH_ATTRIBUTES",
    "CALL_AGENT_ALIASES",
    "CALL_MODEL_ALIASES",
    "CALL_OPERATION_HINTS",
    "CALL_PROVIDER_ALIASES",
    "CALL_RESPONSE_ID_ALIASES",
    "CALL_TOKEN_ALIASES",
    "COLUMN_ALIASES",
    "CONVERSATION_ID_ATTRIBUTES",
    "CallUsage",
    "ERROR_TYPE",
    "GENAI_COLUMNS",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CLIENT_OPERATION_DURATION",
    "GEN_AI_CLIENT_TOKEN_USAGE",
    "GEN_AI_LATEST_EXPERIMENTAL",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_ID",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_TOOL_NAME",
    "GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS",
    "GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "GEN_AI_USAGE_REASONING_OUTPUT_TOKENS",
    "HTTP_REQUEST_METHOD",
    "HTTP_RESPONSE_STATUS_CODE",
    "HTTP_ROUTE",
    "LLM_OPERATIONS",
    "MAX_CALL_TOKENS",
    "MEMORY_OPERATION",
    "MESSAGING_DESTINATION_NAME",
    "NON_LLM_OPERATIONS",
    "OPERATION_HINTS",
    "Operation",
    "PRICE_PROVIDER_ALIASES",
    "RESPONSE_ID_ATTRIBUTES",
    "SEMCONV_STABILITY_OPT_IN",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_TIER_ATTRIBUTES",
    "TASK_TYPE",
    "TASK_TYPE_ATTRIBUTES",
    "TOKEN_ALIASES",
    "TOKEN_ATTRIBUTES",
    "TOKEN_FIELDS",
    "TOOL_OPERATIONS",
    "TOTAL_TOKENS_ATTRIBUTES",
    "URL_PATH",
    "agent_span_name",
    "call_operation",
    "call_usage",
    "is_internal_attribute",
    "llm_span_name",
    "price_provider_key",
    "promote",
    "token_count",
    "tool_span_name",
    "wants_latest_genai",
]


class Operation(StrEnum):
    """Values of ``gen_ai.operation.name`` (and agentinsight's own for tasks and memory)."""

    INVOKE_AGENT = "invoke_agent"
    EXECUTE_TOOL = "execute_tool"
    CHAT = "chat"
    TEXT_COMPLETION = "text_completion"
    EMBEDDINGS = "embeddings"
    GENERATE_CONTENT = "generate_content"
    CREATE_AGENT = "create_agent"
    INVOKE_WORKFLOW = "invoke_workflow"
    TASK = "task"
    MEMORY = "memory"


#: Operations whose spans are agent runs, and those that are tool executions.
AGENT_OPERATIONS: Final = frozenset({Operation.INVOKE_AGENT.value})
TOOL_OPERATIONS: Final = frozenset({Operation.EXECUTE_TOOL.value})

# -- GenAI span attributes --------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
ERROR_TYPE: Final = "error.type"

#: Attributes that mark a batch (discounted) request.
BATCH_ATTRIBUTES: Final = ("gen_ai.request.batch", "gen_ai.batch")

# -- GenAI metric instruments (OpenTelemetry names; Prometheus names are in the catalogue) -----
GEN_AI_CLIENT_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
GEN_AI_CLIENT_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"

# -- agentinsight's own, namespaced (not in the GenAI conventions) -----------------------------
TASK_TYPE: Final = "agentinsight.task.type"
MEMORY_OPERATION: Final = "agentinsight.memory.operation"

# -- HTTP server spans (stable HTTP semantic conventions) --------------------------------------
HTTP_REQUEST_METHOD: Final = "http.request.method"
HTTP_ROUTE: Final = "http.route"
HTTP_RESPONSE_STATUS_CODE: Final = "http.response.status_code"
URL_PATH: Final = "url.path"

# -- how the spans frame names them ------------------------------------------------------------
#: The token usage fields, in the order of the spans frame's token columns.
TOKEN_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
)
#: Usage attribute -> spans frame column.
TOKEN_ATTRIBUTES: Final[dict[str, str]] = {
    GEN_AI_USAGE_INPUT_TOKENS: "input_tokens",
    GEN_AI_USAGE_OUTPUT_TOKENS: "output_tokens",
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: "cache_read_tokens",
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: "cache_write_tokens",
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: "reasoning_tokens",
}
#: Promoted GenAI attribute -> spans frame column.
GENAI_COLUMNS: Final[dict[str, str]] = {
    GEN_AI_AGENT_NAME: "agent",
    GEN_AI_OPERATION_NAME: "operation",
    GEN_AI_PROVIDER_NAME: "provider",
    GEN_AI_REQUEST_MODEL: "model",
    GEN_AI_TOOL_NAME: "tool",
}


def agent_span_name(agent: str) -> str:
    """The span name of an agent run: ``invoke_agent planner``."""
    return f"{Operation.INVOKE_AGENT.value} {agent}"


def tool_span_name(tool: str) -> str:
    """The span name of a tool execution: ``execute_tool web_search``."""
    return f"{Operation.EXECUTE_TOOL.value} {tool}"


def llm_span_name(operation: str, model: str) -> str:
    """The span name of a model call: ``chat gpt-4o``."""
    return f"{operation} {model}"


# -- what analysis reads: operation groups, and attributes in the order they are looked up ----
#: Operations whose spans are a call to a model.
LLM_OPERATIONS: Final = frozenset({
    Operation.CHAT.value,
    Operation.TEXT_COMPLETION.value,
    Operation.GENERATE_CONTENT.value,
    Operation.EMBEDDINGS.value,
})
#: Operations whose spans are never a model call, even when they name a model.
NON_LLM_OPERATIONS: Final = AGENT_OPERATIONS | TOOL_OPERATIONS | frozenset({
    Operation.CREATE_AGENT.value,
    Operation.INVOKE_WORKFLOW.value,
})
#: Where the service tier is read, first hit wins: the response before the request, each in the
#: OpenAI instrumentations' own spelling first.
SERVICE_TIER_ATTRIBUTES: Final = (
    "openai.response.service_tier",
    "gen_ai.openai.response.service_tier",
    "gen_ai.response.service_tier",
    "openai.request.service_tier",
    "gen_ai.openai.request.service_tier",
    "gen_ai.request.service_tier",
)
#: Where a task type is read, first hit wins, ours first.
TASK_TYPE_ATTRIBUTES: Final = (TASK_TYPE, "agentinsight.task_type", "task_type", "task.type",
                            "gen_ai.task.type")
#: The queue a messaging span sent to or received from (OTel messaging conventions).
MESSAGING_DESTINATION_NAME: Final = "messaging.destination.name"


# -- other instrumentations' names: one reading of every convention in use ------------------------
#: Spans-frame string column -> the attributes it is read from, first present wins: the current
#: GenAI name, then older GenAI names, then OpenLLMetry's and OpenInference's. ``model`` falls
#: back to the response model (left in ``attributes`` too); ``tool`` is kept only on tool
#: executions (openlit sets ``gen_ai.tool.name`` on chat spans that merely offer a tool).
COLUMN_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "agent": (GEN_AI_AGENT_NAME, "agent.name"),
    "operation": (GEN_AI_OPERATION_NAME,),
    "provider": (GEN_AI_PROVIDER_NAME, "gen_ai.system", "llm.provider", "llm.system"),
    "model": (GEN_AI_REQUEST_MODEL, GEN_AI_RESPONSE_MODEL, "llm.model_name",
              "embedding.model_name", "llm.request.model", "llm.response.model"),
    "tool": (GEN_AI_TOOL_NAME, "tool.name"),
}
#: Spans-frame token column -> the attributes it is read from, first present wins.
TOKEN_ALIASES: Final[dict[str, tuple[str, ...]]] = {
    "input_tokens": (GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens",
                     "llm.usage.prompt_tokens", "llm.token_count.prompt"),
    "output_tokens": (GEN_AI_USAGE_OUTPUT_TOKENS, "gen_ai.usage.completion_tokens",
                      "llm.usage.completion_tokens", "llm.token_count.completion"),
    "cache_read_tokens": (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
                          "gen_ai.usage.cache_read_input_tokens",
                          "llm.usage.cache_read_input_tokens",
                          "llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": (GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
                           "gen_ai.usage.cache_write.input_tokens",
                           "gen_ai.usage.cache_creation_input_tokens",
                           "llm.usage.cache_creation_input_tokens",
                           "llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": (GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "gen_ai.usage.reasoning_tokens",
                         "gen_ai.usage.details.reasoning_tokens", "llm.usage.reasoning_tokens",
                         "llm.token_count.completion_details.reasoning"),
}
#: A total token count: not a column (it cannot be priced), read to recognise raw counts.
TOTAL_TOKENS_ATTRIBUTES: Final = ("gen_ai.usage.total_tokens", "llm.usage.total_tokens",
                                  "llm.token_count.total")
#: The provider's id of a response: two spans with the same one (and provider) are one call.
RESPONSE_ID_ATTRIBUTES: Final = (GEN_AI_RESPONSE_ID,)
CONVERSATION_ID_ATTRIBUTES: Final = ("gen_ai.conversation.id", "session.id")
AGENT_ID_ATTRIBUTES: Final = ("gen_ai.agent.id", "agent.id")
#: Where the operation is inferred from when ``gen_ai.operation.name`` is missing: attribute ->
#: its value (lower-cased) -> operation.
OPERATION_HINTS: Final[dict[str, dict[str, str]]] = {
    "llm.request.type": {"chat": Operation.CHAT.value,
                         "completion": Operation.TEXT_COMPLETION.value,
                         "embedding": Operation.EMBEDDINGS.value,
                         "embeddings": Operation.EMBEDDINGS.value},
    "openinference.span.kind": {"llm": Operation.CHAT.value,
                                "embedding": Operation.EMBEDDINGS.value,
                                "tool": Operation.EXECUTE_TOOL.value,
                                "agent": Operation.INVOKE_AGENT.value,
                                "chain": Operation.INVOKE_WORKFLOW.value},
    "traceloop.span.kind": {"agent": Operation.INVOKE_AGENT.value,
                            "tool": Operation.EXECUTE_TOOL.value,
                            "workflow": Operation.INVOKE_WORKFLOW.value},
}
#: OpenLLMetry names its agent and tool spans' subject here.
_ENTITY_NAME: Final = "traceloop.entity.name"
#: Attributes a backend adds for itself (Jaeger's ``@jaeger@warnings``): not the span's.
_INTERNAL_PREFIX: Final = "@jaeger@"

#: Every name read besides the current ones (and the response model, read as before): a span
#: holding none of them takes the fast path.
_OTHER_NAMES: Final = frozenset(
    name for names in (*COLUMN_ALIASES.values(), *TOKEN_ALIASES.values()) for name in names[1:]
    if name != GEN_AI_RESPONSE_MODEL) | frozenset(OPERATION_HINTS)
_TOKEN_NAMES: Final = tuple(TOKEN_ALIASES.values())
_STRING_NAMES: Final = tuple(COLUMN_ALIASES.values())
_TOOL_SLOT: Final = 4


def is_internal_attribute(key: str) -> bool:
    """True for an attribute a trace backend added for itself (``@jaeger@warnings``).

    >>> is_internal_attribute("@jaeger@warnings"), is_internal_attribute("gen_ai.system")
    (True, False)
    """
    return key.startswith(_INTERNAL_PREFIX)


def token_count(value: object) -> float:
    """A token count as a float: an int, a finite float or numeric text; NaN for anything else.

    >>> token_count(12), token_count("7"), token_count("lots"), token_count(True)
    (12.0, 7.0, nan, nan)
    """
    kind = type(value)
    if kind is int:
        return float(value)  # type: ignore[arg-type]
    if kind is str:
        try:
            number = float(value)  # type: ignore[arg-type]
        except ValueError:
            return float("nan")
    elif kind is float:
        number = value  # type: ignore[assignment]
    else:
        return float("nan")
    return number if number - number == 0 else float("nan")  # NaN and inf are no count


def promote(attrs: dict[str, Any], *, internal: bool = False
            ) -> tuple[list[Any], list[Any]]:
    """Read a span's promoted columns out of its attributes, whatever convention wrote them.

    Returns ``(strings, tokens)``: the values of :data:`COLUMN_ALIASES`' columns (``agent``,
    ``operation``, ``provider``, ``model``, ``tool``; ``None`` where absent) and of
    :data:`TOKEN_FIELDS` (NaN where absent; values as given, :func:`token_count` tells a
    count from anything else). ``attrs`` is changed in place: each attribute read into a column
    is removed (the response model and a tool name on a span that is not a tool execution
    stay), and with ``internal=True`` a backend's own attributes (``@jaeger@...``) too. The
    operation, when ``gen_ai.operation.name`` is missing, is inferred from
    :data:`OPERATION_HINTS`, else ``execute_tool`` for a span naming a tool and no model.

    >>> attrs = {"gen_ai.system": "Anthropic", "llm.request.type": "chat",
    ...          "gen_ai.usage.prompt_tokens": 10, "gen_ai.tool.name": "search"}
    >>> promote(attrs)[0]
    [None, 'chat', 'Anthropic', None, None]
    >>> attrs  # a chat span offering a tool is not a tool call
    {'llm.request.type': 'chat', 'gen_ai.tool.name': 'search'}
    """
    # The hot path of every trace read: the current names are popped as they always were, and
    # only a span holding another convention's names pays for reading them.
    nan = float("nan")
    pop = attrs.pop
    strings: list[Any] = [pop(GEN_AI_AGENT_NAME, None), pop(GEN_AI_OPERATION_NAME, None),
                          pop(GEN_AI_PROVIDER_NAME, None), pop(GEN_AI_REQUEST_MODEL, None),
                          pop(GEN_AI_TOOL_NAME, None)]
    tokens: list[Any] = [pop(GEN_AI_USAGE_INPUT_TOKENS, nan), pop(GEN_AI_USAGE_OUTPUT_TOKENS, nan),
                         pop(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, nan),
                         pop(GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, nan),
                         pop(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, nan)]
    if strings[3] is None:
        strings[3] = attrs.get(GEN_AI_RESPONSE_MODEL)
    if internal:
        for key in [k for k in attrs if k.startswith(_INTERNAL_PREFIX)]:
            del attrs[key]
    tool_key = GEN_AI_TOOL_NAME if strings[_TOOL_SLOT] is not None else None
    if not _OTHER_NAMES.isdisjoint(attrs):
        tool_key = _read_other_names(attrs, strings, tokens, tool_key)
    if strings[_TOOL_SLOT] is not None:
        operation = strings[1]
        if operation is None and strings[3] is None:
            strings[1] = Operation.EXECUTE_TOOL.value
        elif operation not in TOOL_OPERATIONS:  # offered to a model, not executed: an attribute
            if tool_key == GEN_AI_TOOL_NAME:
                attrs[GEN_AI_TOOL_NAME] = strings[_TOOL_SLOT]
            strings[_TOOL_SLOT] = None
        elif tool_key != GEN_AI_TOOL_NAME and tool_key is not None:
            attrs.pop(tool_key, None)
    return strings, tokens


def _read_other_names(attrs: dict[str, Any], strings: list[Any], tokens: list[Any],
                      tool_key: str | None) -> str | None:
    """Fill what the current names left empty from the other conventions' names; return the
    attribute the tool name came from (left in ``attrs`` until the operation is known)."""
    get = attrs.get
    for slot, names in enumerate(_STRING_NAMES):
        if strings[slot] is not None:
            continue
        for name in names[1:]:
            value = get(name)
            if value is not None and value != "":
                strings[slot] = value
                if slot == _TOOL_SLOT:
                    tool_key = name
                elif name != GEN_AI_RESPONSE_MODEL:
                    del attrs[name]
                break
    for slot, names in enumerate(_TOKEN_NAMES):
        if tokens[slot] == tokens[slot]:  # the current name held a value
            continue
        for name in names[1:]:
            value = get(name)
            if value is not None and token_count(value) == token_count(value):
                tokens[slot] = value
                del attrs[name]
                break
    if strings[1] is None:
        for hint, values in OPERATION_HINTS.items():
            given = get(hint)
            operation = values.get(str(given).lower()) if given is not None else None
            if operation is not None:
                strings[1] = operation
                if hint == "traceloop.span.kind":
                    slot = 0 if operation == Operation.INVOKE_AGENT else _TOOL_SLOT
                    if strings[slot] is None:
                        strings[slot] = get(_ENTITY_NAME)
                break
    return tool_key


# == emit: newest names, other instrumentations' usage, pricing ================================
#: ``gen_ai.provider.name`` values (lower case) -> genai-prices provider ids, where genai-prices'
#: own matching misses them.
PRICE_PROVIDER_ALIASES: Final[dict[str, str]] = {
    "azure.ai.inference": "azure",
    "gcp.gen_ai": "google",
    "x_ai": "x-ai",
    "xai": "x-ai",
    "google_genai": "google",
    "vertex_ai": "google",
}

# -- the newest conventions, opted into the standard way ----------------------------------------
#: Deprecated since the 1.37 conventions for ``gen_ai.provider.name``; still what instrumentations
#: following 1.36 or earlier write (and read) by default.
GEN_AI_SYSTEM: Final = "gen_ai.system"
#: The OpenTelemetry variable that opts into newer conventions, a comma-separated list ...
SEMCONV_STABILITY_OPT_IN: Final = "OTEL_SEMCONV_STABILITY_OPT_IN"
#: ... and its value for the latest experimental GenAI conventions, without the old names.
GEN_AI_LATEST_EXPERIMENTAL: Final = "gen_ai_latest_experimental"
#: ``server.address`` / ``server.port`` of a remote agent (an ``invoke_agent`` CLIENT span).
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"


def price_provider_key(provider: object) -> str | None:
    """A provider name as genai-prices knows it: lower case, OpenTelemetry's names mapped through
    :data:`PRICE_PROVIDER_ALIASES`; ``None`` for none at all (``None``, NaN, empty, ``*``).

    >>> price_provider_key(" Vertex_AI "), price_provider_key(float("nan")), price_provider_key("")
    ('google', None, None)
    """
    if provider is None or (isinstance(provider, float) and provider != provider):
        return None
    text = str(provider).strip().lower()
    if not text or text in ("*", "none", "nan"):
        return None
    return PRICE_PROVIDER_ALIASES.get(text, text)


def wants_latest_genai(opt_in: str | None) -> bool:
    """True when an ``OTEL_SEMCONV_STABILITY_OPT_IN`` value opts into the latest GenAI names.

    >>> wants_latest_genai("http, gen_ai_latest_experimental"), wants_latest_genai("http")
    (True, False)
    """
    if not opt_in:
        return False
    return GEN_AI_LATEST_EXPERIMENTAL in (part.strip().lower() for part in opt_in.split(","))


# -- one model call's usage, whoever recorded the span ------------------------------------------
#: The readers' alias tables as :func:`call_usage` (emit's span processor) reads them: token
#: aliases in the order of TOKEN_FIELDS, and the operation hints that name a model call (an agent
#: or tool span's usage is not a call's).
CALL_TOKEN_ALIASES: Final = tuple(TOKEN_ALIASES[field] for field in TOKEN_FIELDS)
CALL_PROVIDER_ALIASES: Final = COLUMN_ALIASES["provider"]
CALL_MODEL_ALIASES: Final = COLUMN_ALIASES["model"]
CALL_AGENT_ALIASES: Final = COLUMN_ALIASES["agent"]
CALL_RESPONSE_ID_ALIASES: Final = (*RESPONSE_ID_ATTRIBUTES, "llm.response.id")
CALL_OPERATION_HINTS: Final[dict[str, dict[str, str]]] = {
    hint: calls for hint, values in OPERATION_HINTS.items()
    if (calls := {value: op for value, op in values.items() if op in LLM_OPERATIONS})
}


class CallUsage(NamedTuple):
    """One model call read off a span: identity, and tokens with the GenAI meaning (input counts
    cache reads and writes, output counts reasoning)."""

    operation: str
    provider: str
    model: str
    agent: str | None
    response_id: str | None
    tokens: tuple[int, int, int, int, int]  # in the order of TOKEN_FIELDS
    raw_input: bool  # input excluded the cache (raw Anthropic counts) and was corrected


def _first(attrs: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


#: More tokens than any one call can use: a count above it is garbage, read as 0.
MAX_CALL_TOKENS: Final = 2**40


def _tokens(value: Any) -> int:
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float or kind is str:
        try:
            number = int(float(value))
        except (ValueError, OverflowError):
            return 0
    else:
        return 0
    return number if 0 < number <= MAX_CALL_TOKENS else 0


def call_operation(attrs: Mapping[str, Any]) -> str | None:
    """The model-call operation a span records (``chat``, ``embeddings``, ...), else ``None``.

    >>> call_operation({"openinference.span.kind": "LLM"}), call_operation({"x": 1})
    ('chat', None)
    """
    operation = attrs.get(GEN_AI_OPERATION_NAME)
    if operation is not None:
        return str(operation) if operation in LLM_OPERATIONS else None
    for hint, values in CALL_OPERATION_HINTS.items():
        given = attrs.get(hint)
        if given is not None:
            return values.get(str(given).lower())
    return None


def call_usage(attrs: Mapping[str, Any]) -> CallUsage | None:
    """The model call a finished span records, whichever instrumentation wrote it, or ``None``
    (not a model call, or no model named). Tokens it does not carry are 0.

    Provider names are lower-cased; raw counts whose input excludes the cache (cache reads plus
    writes above the input) are corrected to the GenAI meaning and marked ``raw_input``.

    >>> u = call_usage({"gen_ai.system": "OpenAI", "llm.request.type": "chat",
    ...                 "gen_ai.request.model": "gpt-4o", "gen_ai.usage.prompt_tokens": 1410,
    ...                 "gen_ai.usage.completion_tokens": 41,
    ...                 "gen_ai.usage.cache_read_input_tokens": 1024})
    >>> u.operation, u.provider, u.model, u.tokens
    ('chat', 'openai', 'gpt-4o', (1410, 41, 1024, 0, 0))
    """
    operation = call_operation(attrs)
    if operation is None:
        return None
    model = _first(attrs, CALL_MODEL_ALIASES)
    if model is None:
        return None
    counts = [_tokens(_first(attrs, names)) for names in CALL_TOKEN_ALIASES]
    raw = counts[2] + counts[3] > counts[0]
    if raw:
        counts[0] += counts[2] + counts[3]
    provider = _first(attrs, CALL_PROVIDER_ALIASES)
    agent = _first(attrs, CALL_AGENT_ALIASES)
    response_id = _first(attrs, CALL_RESPONSE_ID_ALIASES)
    return CallUsage(
        operation, str(provider).strip().lower() if provider is not None else "", str(model),
        None if agent is None else str(agent), None if response_id is None else str(response_id),
        (counts[0], counts[1], counts[2], counts[3], counts[4]), raw,
    )
