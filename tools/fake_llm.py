"""A fake LLM server on loopback that answers like OpenAI and Anthropic, for capturing telemetry.

Producers (OpenLLMetry, openlit, OpenInference, the official OpenTelemetry instrumentations …)
read usage out of real SDK responses; this server gives them responses with every usage field
that changes a bill: OpenAI ``prompt_tokens_details.cached_tokens`` and
``completion_tokens_details.reasoning_tokens``, Anthropic ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` with ``input_tokens`` *excluding* the cache (as Anthropic counts).

Endpoints: ``POST /v1/chat/completions`` (streamed as SSE with ``stream_options.include_usage``,
or not; a request offering ``tools`` is answered with a tool call), ``POST /v1/embeddings``
(float or base64 encoding), ``POST /v1/messages`` (streamed as Anthropic SSE events, or not; with
``tools`` answered by a ``tool_use`` block). Once the tool's result is sent back, the answer is
text, so an agent framework's loop ends. Every answer is appended to :attr:`FakeLLM.calls`
with the usage exactly as returned, so the expected bill is computed from what the producer saw.

Only the standard library is used; the capture script runs it in its own process.

>>> with FakeLLM() as llm:
...     import json, urllib.request
...     req = urllib.request.Request(llm.url + "/v1/embeddings", method="POST",
...                                  data=json.dumps({"model": "text-embedding-3-small",
...                                                   "input": "hi"}).encode())
...     body = json.load(urllib.request.urlopen(req))
>>> body["usage"], llm.calls[0]["api"]
({'prompt_tokens': 8, 'total_tokens': 8}, 'openai.embeddings')
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeLLM", "RESPONSE_MODELS"]

#: Request model → the dated model the response names (as the real APIs do).
RESPONSE_MODELS = {
    "gpt-4o-mini": "gpt-4o-mini-2024-07-18",
    "o4-mini": "o4-mini-2025-04-16",
    "text-embedding-3-small": "text-embedding-3-small",
    "claude-sonnet-4-5": "claude-sonnet-4-5-20250929",
    "claude-3-5-haiku-latest": "claude-3-5-haiku-20241022",
}


def _openai_usage(n: int, stream: bool) -> dict[str, Any]:
    # distinct numbers per call, so a test can tell which call a span carries
    prompt, cached = 1400 + 10 * n, 1024
    completion, reasoning = (180 + n, 64) if stream else (40 + n, 0)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }


def _anthropic_usage(n: int) -> dict[str, Any]:
    # input_tokens excludes the cache, as Anthropic reports it
    return {"input_tokens": 300 + n, "cache_read_input_tokens": 2048,
            "cache_creation_input_tokens": 512, "output_tokens": 120 + n}


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def _send_json(self, payload: Any, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_sse(self, events: list[tuple[str | None, Any]]) -> None:
        chunks = []
        for event, payload in events:
            text = payload if isinstance(payload, str) else json.dumps(payload)
            chunks.append((f"event: {event}\n" if event else "") + f"data: {text}\n\n")
        data = "".join(chunks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        path = self.path.split("?")[0].rstrip("/")
        try:
            body = self._body()
        except ValueError:
            self._send_json({"error": {"message": "body is not JSON"}}, 400)
            return
        if path.endswith("/chat/completions"):
            self._chat(body)
        elif path.endswith("/embeddings"):
            self._embeddings(body)
        elif path.endswith("/messages"):
            self._messages(body)
        else:
            self._send_json({"error": {"message": f"no route {path}"}}, 404)

    # --- OpenAI -------------------------------------------------------------------------------
    def _chat(self, body: dict[str, Any]) -> None:
        n, stream = self.server.next_number(), bool(body.get("stream"))
        model = RESPONSE_MODELS.get(body.get("model", ""), body.get("model", ""))
        usage = _openai_usage(n, stream)
        rid = f"chatcmpl-fake{n:04d}"
        # a tool is called once: after its result comes back, the answer is text
        messages = body.get("messages") or [{}]
        wants_tool = bool(body.get("tools")) and not stream and messages[-1].get("role") != "tool"
        message: dict[str, Any] = {"role": "assistant", "content": None if wants_tool else
                                   "It is sunny in Paris.", "refusal": None}
        if wants_tool:
            message["tool_calls"] = [{"id": f"call_fake{n:04d}", "type": "function", "function": {
                "name": body["tools"][0]["function"]["name"], "arguments": '{"city": "Paris"}'}}]
        self.server.record("openai.chat", "openai", body, model, rid, stream, usage,
                           tool_calls=1 if wants_tool else 0)
        created = 1_764_000_000
        if not stream:
            self._send_json({
                "id": rid, "object": "chat.completion", "created": created, "model": model,
                "system_fingerprint": "fp_fake", "service_tier": "default",
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if wants_tool else "stop"}],
                "usage": usage})
            return
        base = {"id": rid, "object": "chat.completion.chunk", "created": created, "model": model,
                "system_fingerprint": "fp_fake", "service_tier": "default"}
        events: list[tuple[str | None, Any]] = [(None, {**base, "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})]
        for word in ("It ", "is ", "sunny."):
            events.append((None, {**base, "choices": [
                {"index": 0, "delta": {"content": word}, "finish_reason": None}]}))
        events.append((None, {**base, "choices": [
            {"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        include_usage = (body.get("stream_options") or {}).get("include_usage")
        if include_usage:
            events.append((None, {**base, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        self._send_sse(events)

    def _embeddings(self, body: dict[str, Any]) -> None:
        self.server.next_number()
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        usage = {"prompt_tokens": 8 * count, "total_tokens": 8 * count}
        model = RESPONSE_MODELS.get(body.get("model", ""), body.get("model", ""))
        self.server.record("openai.embeddings", "openai", body, model, None, False, usage)
        vector = [0.25, -0.5, 0.125, 1.0]
        data = []
        for i in range(count):
            emb: Any = vector
            if body.get("encoding_format") == "base64":
                emb = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": i, "embedding": emb})
        self._send_json({"object": "list", "data": data, "model": model, "usage": usage})

    # --- Anthropic ----------------------------------------------------------------------------
    def _messages(self, body: dict[str, Any]) -> None:
        n, stream = self.server.next_number(), bool(body.get("stream"))
        model = RESPONSE_MODELS.get(body.get("model", ""), body.get("model", ""))
        usage = _anthropic_usage(n)
        rid = f"msg_fake{n:04d}"
        last = (body.get("messages") or [{}])[-1].get("content")
        answered = isinstance(last, list) and any(
            isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
        wants_tool = bool(body.get("tools")) and not stream and not answered
        self.server.record("anthropic.messages", "anthropic", body, model, rid, stream, usage,
                           tool_calls=1 if wants_tool else 0)
        if wants_tool:
            content: list[dict[str, Any]] = [{"type": "tool_use", "id": f"toolu_fake{n:04d}",
                                              "name": body["tools"][0]["name"],
                                              "input": {"city": "Paris"}}]
        else:
            content = [{"type": "text", "text": "It is sunny in Paris."}]
        message = {"id": rid, "type": "message", "role": "assistant", "model": model,
                   "content": content, "stop_reason": "tool_use" if wants_tool else "end_turn",
                   "stop_sequence": None, "usage": {**usage, "service_tier": "standard"}}
        if not stream:
            self._send_json(message)
            return
        start_usage = {**usage, "output_tokens": 1}
        events: list[tuple[str | None, Any]] = [
            ("message_start", {"type": "message_start", "message": {
                **message, "content": [], "stop_reason": None, "usage": start_usage}}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
        ]
        for word in ("It is ", "sunny."):
            events.append(("content_block_delta", {"type": "content_block_delta", "index": 0,
                                                   "delta": {"type": "text_delta", "text": word}}))
        events += [
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta",
                               "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                               "usage": {"output_tokens": usage["output_tokens"]}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        self._send_sse(events)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._n = 0

    def next_number(self) -> int:
        with self._lock:
            self._n += 1
            return self._n

    def record(self, api: str, provider: str, body: dict[str, Any], model: str,
               response_id: str | None, stream: bool, usage: dict[str, Any],
               tool_calls: int = 0) -> None:
        with self._lock:
            self.calls.append({"api": api, "provider": provider,
                               "request_model": body.get("model"), "response_model": model,
                               "response_id": response_id, "stream": stream,
                               "tool_calls_returned": tool_calls, "usage": usage})


class FakeLLM:
    """The fake server, running in a thread on a free loopback port while the ``with`` lasts."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def calls(self) -> list[dict[str, Any]]:
        """Every answer given so far, with the usage exactly as returned."""
        return self._server.calls

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
