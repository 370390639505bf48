"""Token usage: the record, model-name normalisation, and reading SDK responses (duck-typed)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Provider names as the GenAI conventions spell them, inferred from well-known model families
# when the caller gives none.
_FAMILIES = (
    (("gpt-", "o1", "o3", "o4", "chatgpt-", "text-embedding-"), "openai"),
    (("claude",), "anthropic"),
    (("gemini",), "gcp.gemini"),
    (("mistral", "mixtral", "codestral"), "mistral_ai"),
    (("command",), "cohere"),
    (("deepseek",), "deepseek"),
    (("grok",), "x_ai"),
)


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one LLM call, OpenTelemetry GenAI semantics.

    ``input_tokens`` counts all input (cache reads and writes included); ``cache_read_tokens``
    and ``cache_write_tokens`` are parts of it; ``reasoning_tokens`` is part of ``output_tokens``.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0


def normalise_model(model: str, provider: str | None) -> tuple[str, str]:
    """``("openai/gpt-4o", None)`` → ``("gpt-4o", "openai")``; date suffixes are kept.

    >>> normalise_model("anthropic/claude-sonnet-4-20250514", None)
    ('claude-sonnet-4-20250514', 'anthropic')
    """
    model = model.strip()
    if "/" in model:
        prefix, _, rest = model.partition("/")
        if rest:
            model = rest
            if not provider:
                provider = prefix.strip().lower()
    if not provider:
        lowered = model.lower()
        provider = "unknown"
        for prefixes, name in _FAMILIES:
            if lowered.startswith(prefixes):
                provider = name
                break
    return model, provider.strip().lower()


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def usage_from_response(response: Any) -> tuple[TokenUsage, str | None]:
    """Usage and response model of an OpenAI or Anthropic response, or of its usage object.

    Anthropic reports ``input_tokens`` *excluding* cache reads and writes; OpenAI includes cached
    tokens in ``prompt_tokens``/``input_tokens``. Both come out with the GenAI meaning.
    """
    usage = _get(response, "usage")
    model = _get(response, "model")
    if usage is None:
        usage, model = response, None
    if _get(usage, "cache_read_input_tokens") is not None or _get(
        usage, "cache_creation_input_tokens"
    ) is not None:
        cache_read = _int(_get(usage, "cache_read_input_tokens"))
        cache_write = _int(_get(usage, "cache_creation_input_tokens"))
        return TokenUsage(
            input_tokens=_int(_get(usage, "input_tokens")) + cache_read + cache_write,
            output_tokens=_int(_get(usage, "output_tokens")),
            cache_read_tokens=cache_read,
            cache_write_tokens=cache_write,
        ), model
    if _get(usage, "prompt_tokens") is not None:  # OpenAI Chat Completions
        return TokenUsage(
            input_tokens=_int(_get(usage, "prompt_tokens")),
            output_tokens=_int(_get(usage, "completion_tokens")),
            cache_read_tokens=_int(_get(_get(usage, "prompt_tokens_details"), "cached_tokens")),
            reasoning_tokens=_int(
                _get(_get(usage, "completion_tokens_details"), "reasoning_tokens")
            ),
        ), model
    if _get(usage, "input_tokens") is not None:  # OpenAI Responses API (or Anthropic, no cache)
        return TokenUsage(
            input_tokens=_int(_get(usage, "input_tokens")),
            output_tokens=_int(_get(usage, "output_tokens")),
            cache_read_tokens=_int(_get(_get(usage, "input_tokens_details"), "cached_tokens")),
            reasoning_tokens=_int(_get(_get(usage, "output_tokens_details"), "reasoning_tokens")),
        ), model
    raise TypeError(
        f"record_response() got {type(response).__name__}: no usage with prompt_tokens/"
        "input_tokens found (expected an OpenAI or Anthropic response or its usage)"
    )
