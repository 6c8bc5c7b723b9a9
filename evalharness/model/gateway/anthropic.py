"""The Anthropic Messages API (`/v1/messages`): its adapter, its stream reader (message_start,
content blocks and their deltas, message_delta, message_stop), its error bodies, and how its
content blocks read as text and as a chat-completions history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalharness.model.gateway.protocol import _Protocol, _StreamReader
from evalharness.model.gateway.usage import _take_anthropic_usage
from evalharness.model.gateway.wire import _error_text, _Message, _text

if TYPE_CHECKING:
    from evalharness.model.gateway.relay import _Relay
    from evalharness.model.registry import ModelConfig


class _Anthropic(_Protocol):
    """Anthropic Messages: POST {anthropic_base_url}/v1/messages (the base as ANTHROPIC_BASE_URL
    takes it, without /v1). The key goes as `x-api-key` (Anthropic's header) and as
    `Authorization: Bearer` (what ANTHROPIC_AUTH_TOKEN sends, which compatible endpoints such as
    DashScope's document for Claude Code): each endpoint reads the one it knows. The client's
    `anthropic-version` and `anthropic-beta` go with it; its query (`?beta=true`) too."""

    name = "anthropic"
    routes = frozenset({"/v1/messages", "/messages"})
    answer_name = "a message"
    keeps_query = True
    version = "2023-06-01"  # when the client sends no anthropic-version
    sampling = ("temperature", "top_p", "top_k")  # the registry's sampling the Messages API takes

    def url(self, config: ModelConfig) -> str:
        return config.anthropic_base_url.rstrip("/") + "/v1/messages"

    def missing(self, config: ModelConfig) -> str:
        if config.anthropic_base_url:
            return ""
        return (f"model {config.name!r} has no Anthropic-compatible endpoint: set anthropic_base_url in its "
                "models.toml entry")

    def headers(self, key: str, client_headers: Any) -> dict[str, str]:
        headers = {"x-api-key": key, "Authorization": f"Bearer {key}"} if key else {}
        headers["anthropic-version"] = client_headers.get("anthropic-version") or self.version
        if client_headers.get("anthropic-beta"):
            headers["anthropic-beta"] = client_headers["anthropic-beta"]
        return headers

    def body(self, request: dict[str, Any], stream: bool, params: dict[str, Any]) -> dict[str, Any]:
        """The registry's model, its temperature/top_p/top_k, and its max_tokens when the client
        sent none. repetition_penalty and extra_body are OpenAI-endpoint fields: not sent."""
        body = dict(request)
        body["model"] = params["model"]
        extra = params.get("extra_body") or {}
        for key in (*self.sampling, "max_tokens"):
            if key in params:
                body[key] = params[key]
            elif key in extra:
                body[key] = extra[key]
        return body

    def error_body(self, message: str, type_: str, code: str | None, status: int) -> bytes:
        return _anthropic_error(message, _ANTHROPIC_ERROR_TYPES.get(status, "api_error"))

    def refusal(self, message: str) -> bytes:
        return _anthropic_error(message, "billing_error")

    def message(self, answer: Any) -> _Message:
        if not isinstance(answer, dict) or not isinstance(answer["content"], list):
            raise ValueError("not a message")
        message = _Message(finish_reason=str(answer.get("stop_reason") or ""))
        for block in answer["content"]:
            kind = block.get("type")
            if kind == "text":
                message.content += str(block.get("text") or "")
            elif kind == "thinking":
                message.reasoning += str(block.get("thinking") or "")
            elif kind in ("tool_use", "server_tool_use"):
                message.tool_calls.append({"id": str(block.get("id") or ""), "name": str(block.get("name") or ""),
                                           "arguments": _input_json(block.get("input"))})
        _take_anthropic_usage(message, answer.get("usage"), {})
        return message

    def reader(self, relay: _Relay) -> _StreamReader:
        return _AnthropicStream(relay)

    def abort_event(self, reason: str) -> bytes:
        return b"event: error\ndata: " + _anthropic_error(f"evalharness gateway: {reason}", "api_error") + b"\n\n"

    def history(self, request: dict[str, Any]) -> list[Any]:
        """The top-level `system` first; `tool_result` blocks as `tool` messages (named from
        the earlier `tool_use` ids), a message's other blocks as its text; `tool_use` blocks
        as an assistant's tool_calls. Block details (cache_control, signatures) are left out,
        so that a history that only moved its cache marks still continues the one before."""
        out: list[Any] = []
        if request.get("system"):
            out.append({"role": "system", "content": _blocks_text(request["system"])})
        for message in request.get("messages") or []:
            if not isinstance(message, dict):
                continue
            role, content = message.get("role"), message.get("content")
            blocks = content if isinstance(content, list) else [{"type": "text", "text": _text(content)}]
            if role == "assistant":
                calls = [{"id": str(b.get("id") or ""), "type": "function", "function": {
                    "name": str(b.get("name") or ""), "arguments": _input_json(b.get("input"))}}
                    for b in blocks if isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use")]
                out.append({"role": "assistant", "content": _blocks_text(
                    [b for b in blocks if isinstance(b, dict) and b.get("type") == "text"]), "tool_calls": calls})
                continue
            text: list[Any] = []
            for block in blocks:
                if isinstance(block, dict) and block.get("type") == "tool_result":
                    if text:
                        out.append({"role": role, "content": _blocks_text(text)})
                        text = []
                    out.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""),
                                "content": _blocks_text(block.get("content"))})
                else:
                    text.append(block)
            if text:
                out.append({"role": role, "content": _blocks_text(text)})
        return out


class _AnthropicStream(_StreamReader):
    """Messages events: message_start (input usage), content blocks and their deltas,
    message_delta (stop reason, output usage), message_stop; `error` events."""

    def __init__(self, relay: _Relay):
        super().__init__(relay)
        self.blocks: dict[int, dict[str, Any]] = {}
        self.usage: dict[str, int] = {}
        self.stop: bytes | None = None  # the message_stop event

    def fold(self, chunk: dict[str, Any], data: bytes) -> bool:
        kind = chunk.get("type")
        message = self.message
        if kind == "error" or chunk.get("error"):
            self.error = f"error event in the stream: {_error_text(data)}"
        elif kind == "message_start":
            _take_anthropic_usage(message, (chunk.get("message") or {}).get("usage"), self.usage)
        elif kind == "content_block_start":
            block = dict(chunk.get("content_block") or {})
            block["partial"] = ""
            self.blocks[int(chunk.get("index") or 0)] = block
        elif kind == "content_block_delta":
            block = self.blocks.setdefault(int(chunk.get("index") or 0), {"type": "text", "partial": ""})
            delta = chunk.get("delta") or {}
            part = delta.get("text") or delta.get("thinking") or delta.get("partial_json") or ""
            block["partial"] += str(part)
        elif kind == "message_delta":
            message.finish_reason = str((chunk.get("delta") or {}).get("stop_reason") or message.finish_reason)
            _take_anthropic_usage(message, chunk.get("usage"), self.usage)
        elif kind == "message_stop":
            self.stop = self.event
        return True

    def last(self, event: bytes) -> bool:
        return event is self.stop

    def finish(self) -> _Message:
        message = self.message
        for index in sorted(self.blocks):
            block = self.blocks[index]
            kind = block.get("type")
            if kind == "text":
                message.content += str(block.get("text") or "") + block["partial"]
            elif kind == "thinking":
                message.reasoning += str(block.get("thinking") or "") + block["partial"]
            elif kind in ("tool_use", "server_tool_use"):
                arguments = block["partial"] or (_input_json(block.get("input")) if block.get("input") else "")
                message.tool_calls.append({"id": str(block.get("id") or ""), "name": str(block.get("name") or ""),
                                           "arguments": arguments})
        return message


_ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                          403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                          429: "rate_limit_error", 529: "overloaded_error"}


def _blocks_text(content: Any) -> str:
    """Anthropic content (a string, or blocks) as text: text blocks one per line, others as
    `[type]` (an image, a document)."""
    if not isinstance(content, list):
        return _text(content)
    parts = []
    for block in content:
        if isinstance(block, dict):
            parts.append(str(block["text"]) if block.get("type", "text") == "text" and "text" in block
                         else _blocks_text(block["content"]) if block.get("type") == "tool_result"
                         else f"[{block.get('type', 'block')}]")
        else:
            parts.append(str(block))
    return "\n".join(parts)


def _input_json(value: Any) -> str:
    """A tool_use block's input as the raw JSON text of a chat completion's arguments."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _anthropic_error(message: str, type_: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": type_, "message": message}}).encode()
