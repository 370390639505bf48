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
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, NamedTuple

__all__ = [
    "AGENT_OPERATIONS",
    "BATCH_ATTRIBUTES",
    "CALL_AGENT_ALIASES",
    "CALL_MODEL_ALIASES",
    "CALL_OPERATION_HINTS",
    "CALL_PROVIDER_ALIASES",
    "CALL_RESPONSE_ID_ALIASES",
    "CALL_TOKEN_ALIASES",
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
    "Operation",
    "PRICE_PROVIDER_ALIASES",
    "SEMCONV_STABILITY_OPT_IN",
    "SERVER_ADDRESS",
    "SERVER_PORT",
    "SERVICE_TIER_ATTRIBUTES",
    "TASK_TYPE",
    "TASK_TYPE_ATTRIBUTES",
    "TOKEN_ATTRIBUTES",
    "TOKEN_FIELDS",
    "TOOL_OPERATIONS",
    "URL_PATH",
    "agent_span_name",
    "call_operation",
    "call_usage",
    "llm_span_name",
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


# == emit: newest names, other instrumentations' usage, pricing ================================
# (kept in one block at the end; the readers' alias tables live above)
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


def wants_latest_genai(opt_in: str | None) -> bool:
    """True when an ``OTEL_SEMCONV_STABILITY_OPT_IN`` value opts into the latest GenAI names.

    >>> wants_latest_genai("http, gen_ai_latest_experimental"), wants_latest_genai("http")
    (True, False)
    """
    if not opt_in:
        return False
    return GEN_AI_LATEST_EXPERIMENTAL in (part.strip().lower() for part in opt_in.split(","))


# -- one model call's usage, whoever recorded the span ------------------------------------------
#: Where a span's usage and call identity are read, first present wins: the current GenAI name,
#: then older GenAI names, OpenLLMetry's and OpenInference's (and the anthropic SDK's
#: ``cache_write``). Read by :func:`call_usage`, which emit's span processor uses.
CALL_TOKEN_ALIASES: Final[tuple[tuple[str, ...], ...]] = (
    (GEN_AI_USAGE_INPUT_TOKENS, "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens",
     "llm.token_count.prompt"),
    (GEN_AI_USAGE_OUTPUT_TOKENS, "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens",
     "llm.token_count.completion"),
    (GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, "gen_ai.usage.cache_read_input_tokens",
     "llm.usage.cache_read_input_tokens", "llm.token_count.prompt_details.cache_read"),
    (GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, "gen_ai.usage.cache_write.input_tokens",
     "gen_ai.usage.cache_creation_input_tokens", "llm.usage.cache_creation_input_tokens",
     "llm.token_count.prompt_details.cache_write"),
    (GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, "gen_ai.usage.reasoning_tokens",
     "gen_ai.usage.details.reasoning_tokens", "llm.usage.reasoning_tokens",
     "llm.token_count.completion_details.reasoning"),
)
CALL_PROVIDER_ALIASES: Final = (GEN_AI_PROVIDER_NAME, GEN_AI_SYSTEM, "llm.provider", "llm.system")
CALL_MODEL_ALIASES: Final = (GEN_AI_REQUEST_MODEL, "llm.request.model", "llm.model_name",
                             "embedding.model_name", GEN_AI_RESPONSE_MODEL, "llm.response.model")
CALL_AGENT_ALIASES: Final = (GEN_AI_AGENT_NAME, "agent.name")
CALL_RESPONSE_ID_ALIASES: Final = ("gen_ai.response.id", "llm.response.id")
#: The operation of a span without ``gen_ai.operation.name``: attribute -> value (lower case) ->
#: operation. Only model calls are listed: an agent or tool span's usage is not a call's.
CALL_OPERATION_HINTS: Final[dict[str, dict[str, str]]] = {
    "llm.request.type": {"chat": Operation.CHAT.value,
                         "completion": Operation.TEXT_COMPLETION.value,
                         "embedding": Operation.EMBEDDINGS.value,
                         "embeddings": Operation.EMBEDDINGS.value},
    "openinference.span.kind": {"llm": Operation.CHAT.value,
                                "embedding": Operation.EMBEDDINGS.value},
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
