"""Every span attribute and span-name template emit writes, in one place.

The OpenTelemetry GenAI semantic conventions are still moving; when they rename an attribute,
this module is the one edit.
"""

from __future__ import annotations

# Operation names (``gen_ai.operation.name``) and the span names built from them.
OP_INVOKE_AGENT = "invoke_agent"
OP_EXECUTE_TOOL = "execute_tool"
OP_CHAT = "chat"
OP_TASK = "task"
OP_MEMORY = "memory"

GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
ERROR_TYPE = "error.type"

# Not (yet) in the GenAI conventions: our own, namespaced.
TASK_TYPE = "agentinsight.task.type"
MEMORY_OPERATION = "agentinsight.memory.operation"

# HTTP server spans (stable HTTP semantic conventions).
HTTP_REQUEST_METHOD = "http.request.method"
HTTP_ROUTE = "http.route"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
URL_PATH = "url.path"


def agent_span_name(agent: str) -> str:
    """``invoke_agent planner``."""
    return f"{OP_INVOKE_AGENT} {agent}"


def tool_span_name(tool: str) -> str:
    """``execute_tool web_search``."""
    return f"{OP_EXECUTE_TOOL} {tool}"


def llm_span_name(operation: str, model: str) -> str:
    """``chat gpt-4o``."""
    return f"{operation} {model}"
