"""The fake LLM server the producer captures are recorded against (``tools/fake_llm.py``).

Producers read usage out of the SDK's parsed responses, so the server has to answer the way the
real APIs do: usage in the last streamed chunk only when asked for, Anthropic's counts split
between ``message_start`` and ``message_delta``, a tool called once and then text.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))
from fake_llm import FakeLLM  # noqa: E402 - the tools folder is not a package

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


def _post(url: str, body: dict[str, Any]) -> bytes:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return bytes(response.read())


def _sse(raw: bytes) -> list[Any]:
    return [json.loads(line[6:]) for line in raw.decode().splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"]


@pytest.fixture
def llm() -> Any:
    with FakeLLM() as server:
        yield server


def test_openai_chat_carries_cached_and_reasoning_tokens_and_calls_a_tool_once(llm) -> None:
    user = [{"role": "user", "content": "weather?"}]
    first = json.loads(_post(llm.url + "/v1/chat/completions",
                             {"model": "gpt-4o-mini", "messages": user, "tools": TOOLS}))
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert first["model"] == "gpt-4o-mini-2024-07-18"
    assert first["usage"]["prompt_tokens_details"]["cached_tokens"] == 1024
    answered = [*user, {"role": "assistant", "tool_calls": [call]},
                {"role": "tool", "tool_call_id": call["id"], "content": "sunny"}]
    second = json.loads(_post(llm.url + "/v1/chat/completions",
                              {"model": "gpt-4o-mini", "messages": answered, "tools": TOOLS}))
    assert second["choices"][0]["message"]["content"]
    assert "tool_calls" not in second["choices"][0]["message"]

    chunks = _sse(_post(llm.url + "/v1/chat/completions",
                        {"model": "o4-mini", "messages": user, "stream": True,
                         "stream_options": {"include_usage": True}}))
    assert [c for c in chunks if c.get("usage")] == [chunks[-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 64
    without = _sse(_post(llm.url + "/v1/chat/completions",
                         {"model": "o4-mini", "messages": user, "stream": True}))
    assert not any(c.get("usage") for c in without)
    assert [c["usage"] for c in llm.calls[:3]] == [first["usage"], second["usage"],
                                                   chunks[-1]["usage"]]


def test_anthropic_input_excludes_the_cache_and_streams_output_in_message_delta(llm) -> None:
    body = {"model": "claude-sonnet-4-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": "weather?"}]}
    message = json.loads(_post(llm.url + "/v1/messages", body))
    usage = message["usage"]
    assert (usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]) == (2048, 512)
    assert usage["input_tokens"] < usage["cache_read_input_tokens"]  # raw: cache excluded

    events = _sse(_post(llm.url + "/v1/messages", {**body, "stream": True}))
    start = next(e for e in events if e["type"] == "message_start")["message"]["usage"]
    delta = next(e for e in events if e["type"] == "message_delta")["usage"]
    assert start["output_tokens"] == 1
    assert delta["output_tokens"] == llm.calls[-1]["usage"]["output_tokens"]
    assert llm.calls[-1]["stream"]
    assert events[0]["message"]["id"] == llm.calls[-1]["response_id"]
