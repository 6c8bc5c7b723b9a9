"""The OpenAI chat-completions API (`/v1/chat/completions`): its adapter and its stream
reader (chunks of deltas, a usage chunk, `data: [DONE]`)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from evalharness.model.gateway.protocol import _Protocol, _StreamReader
from evalharness.model.gateway.tokens import take_tokens
from evalharness.model.gateway.usage import _take_usage
from evalharness.model.gateway.wire import _error_body, _error_text, _Message, _text
from evalharness.model.llm import apply_request_params

if TYPE_CHECKING:
    from evalharness.model.gateway.relay import _Relay
    from evalharness.model.registry import ModelConfig

_DONE = re.compile(rb"data: ?\[DONE\]\s*$")  # a stream's last event


class _OpenAI(_Protocol):
    """Chat completions: POST {base_url}/chat/completions, the key as a bearer token."""

    name = "openai"
    routes = frozenset({"/v1/chat/completions", "/chat/completions"})
    answer_name = "a chat completion"

    def url(self, config: ModelConfig) -> str:
        return config.base_url.rstrip("/") + "/chat/completions"

    def headers(self, key: str, client_headers: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {key}"} if key else {}

    def body(self, request: dict[str, Any], stream: bool, params: dict[str, Any]) -> dict[str, Any]:
        """The registry's model and sampling applied as LLMClient applies them, and usage
        asked for when streaming."""
        body = apply_request_params(dict(request), params)
        if stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        return body

    def wants_usage(self, request: dict[str, Any], stream: bool) -> bool:
        return bool((request.get("stream_options") or {}).get("include_usage")) if stream else True

    def error_body(self, message: str, type_: str, code: str | None, status: int) -> bytes:
        return _error_body(message, type_, code)

    def refusal(self, message: str) -> bytes:
        return json.dumps({"error": {"message": message, "type": "insufficient_quota", "code": "max_cost"}}).encode()

    def message(self, answer: Any) -> _Message:
        choice = answer["choices"][0]
        body = choice.get("message") or {}
        message = _Message(content=_text(body.get("content")),
                           reasoning=_text(body.get("reasoning_content") or body.get("reasoning")),
                           finish_reason=str(choice.get("finish_reason") or ""))
        for call in body.get("tool_calls") or []:
            function = call.get("function") or {}
            message.tool_calls.append({"id": str(call.get("id") or ""), "name": str(function.get("name") or ""),
                                       "arguments": _text(function.get("arguments"))})
        _take_usage(message, answer.get("usage"))
        take_tokens(message, answer, choice)
        return message

    def reader(self, relay: _Relay) -> _StreamReader:
        return _OpenAIStream(relay)

    def abort_event(self, reason: str) -> bytes:
        return b"data: " + json.dumps({"error": {"message": f"evalharness gateway: {reason}",
                                                 "type": "upstream_error", "code": "stream_broken"}}).encode() + b"\n\n"

    def history(self, request: dict[str, Any]) -> list[Any]:
        messages = request.get("messages")
        return messages if isinstance(messages, list) else []


class _OpenAIStream(_StreamReader):
    """Chat-completion chunks: content and tool-call deltas, a usage chunk, `data: [DONE]`."""

    def __init__(self, relay: _Relay):
        super().__init__(relay)
        self.calls: dict[int, dict[str, str]] = {}

    def fold(self, chunk: dict[str, Any], data: bytes) -> bool:
        message = self.message
        if chunk.get("error"):
            self.error = f"error event in the stream: {_error_text(data)}"
        if chunk.get("usage"):
            _take_usage(message, chunk["usage"])
        choices = chunk.get("choices")
        if not choices:
            take_tokens(message, chunk, None)
            return self.relay.wants_usage or "usage" not in chunk
        choice = choices[0] if isinstance(choices[0], dict) else {}
        take_tokens(message, chunk, choice)
        delta = choice.get("delta") or {}
        message.content += _text(delta.get("content"))
        message.reasoning += _text(delta.get("reasoning_content") or delta.get("reasoning"))
        for part in delta.get("tool_calls") or []:
            call = self.calls.setdefault(int(part.get("index") or 0), {"id": "", "name": "", "arguments": ""})
            call["id"] = call["id"] or str(part.get("id") or "")
            function = part.get("function") or {}
            call["name"] += str(function.get("name") or "")
            call["arguments"] += _text(function.get("arguments"))
        if choice.get("finish_reason"):
            message.finish_reason = str(choice["finish_reason"])
        return True

    def last(self, event: bytes) -> bool:
        return _DONE.match(event) is not None

    def finish(self) -> _Message:
        self.message.tool_calls = [self.calls[i] for i in sorted(self.calls)]
        return self.message
