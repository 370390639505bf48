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

from enum import StrEnum
from typing import Final

__all__ = [
    "AGENT_OPERATIONS",
    "BATCH_ATTRIBUTES",
    "ERROR_TYPE",
    "GENAI_COLUMNS",
    "GEN_AI_AGENT_NAME",
    "GEN_AI_CLIENT_OPERATION_DURATION",
    "GEN_AI_CLIENT_TOKEN_USAGE",
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_RESPONSE_MODEL",
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
    "MEMORY_OPERATION",
    "MESSAGING_DESTINATION_NAME",
    "NON_LLM_OPERATIONS",
    "Operation",
    "PRICE_PROVIDER_ALIASES",
    "SERVICE_TIER_ATTRIBUTES",
    "TASK_TYPE",
    "TASK_TYPE_ATTRIBUTES",
    "TOKEN_ATTRIBUTES",
    "TOKEN_FIELDS",
    "TOOL_OPERATIONS",
    "URL_PATH",
    "agent_span_name",
    "llm_span_name",
    "tool_span_name",
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
