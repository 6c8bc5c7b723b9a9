"""The interface of a wire API: `_Protocol` (what differs between the APIs) and
`_StreamReader` (the base of the reader that folds a stream's events into the answer). The
APIs themselves are in `openai` and `anthropic`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from evalharness.model.gateway.wire import _Message

if TYPE_CHECKING:
    from evalharness.model.gateway.relay import _Relay
    from evalharness.model.registry import ModelConfig


class _Protocol:
    """What differs between the wire APIs: routes, upstream URL and headers, the body's
    rewrite, error bodies, and how answers, stream events and histories are read. The rest
    (auth, limiter, retries, relay, accounting, record) is the gateway's, shared."""

    name = ""
    routes: frozenset[str] = frozenset()
    answer_name = ""  # what a successful answer is called, for errors
    keeps_query = False  # the client's query string goes upstream too

    def url(self, config: ModelConfig) -> str:
        raise NotImplementedError

    def missing(self, config: ModelConfig) -> str:
        """Why this model cannot be asked over this API ("" when it can)."""
        return ""

    def headers(self, key: str, client_headers: Any) -> dict[str, str]:
        raise NotImplementedError

    def body(self, request: dict[str, Any], stream: bool, params: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def wants_usage(self, request: dict[str, Any], stream: bool) -> bool:
        """Whether the client gets the stream's usage (False: the gateway's own is not relayed)."""
        return True

    def error_body(self, message: str, type_: str, code: str | None, status: int) -> bytes:
        raise NotImplementedError

    def refusal(self, message: str) -> bytes:
        """The body of the 402 once the cost limit is spent."""
        raise NotImplementedError

    def message(self, answer: Any) -> _Message:
        """A whole answer's message; raises on anything else."""
        raise NotImplementedError

    def reader(self, relay: _Relay) -> _StreamReader:
        raise NotImplementedError

    def abort_event(self, reason: str) -> bytes:
        """The SSE event that tells a client why its stream was cut short."""
        raise NotImplementedError

    def history(self, request: dict[str, Any]) -> list[Any]:
        """The request's conversation as chat-completions messages (role, content, tool_calls,
        tool_call_id): what the session records, the same whatever the API."""
        raise NotImplementedError


class _StreamReader:
    """Folds a stream's events into the answer's message as they are relayed."""

    def __init__(self, relay: _Relay):
        self.relay = relay
        self.message = _Message()
        self.error = ""
        self.event = b""  # the event being folded

    def take(self, event: bytes) -> bool:
        """Fold one event in; False when it is not for the client. An event it cannot read is
        relayed as it is."""
        self.event = event
        data = b"\n".join(line[5:].lstrip(b" ") for line in event.splitlines() if line.startswith(b"data:"))
        if not data or data.strip() == b"[DONE]":
            return True
        try:
            chunk = json.loads(data)
            return self.fold(chunk, data) if isinstance(chunk, dict) else True
        except (ValueError, TypeError, AttributeError, KeyError, IndexError):
            return True

    def fold(self, chunk: dict[str, Any], data: bytes) -> bool:
        raise NotImplementedError

    def last(self, event: bytes) -> bool:
        """Whether this is the stream's last event (held back until the request is recorded)."""
        raise NotImplementedError

    def finish(self) -> _Message:
        return self.message
