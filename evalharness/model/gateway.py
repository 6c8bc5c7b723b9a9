"""The model gateway: how a CLI coding agent inside a task container reaches the model.

CLI agents (Qwen Code, mini-swe-agent, Claude Code) run *inside* the task container, which
has no network. The harness opens one `GatewaySession` per instance: an HTTP/1.1 server on a
Unix socket in a directory of its own, which the harness bind-mounts into the container at
`CONTAINER_DIR`. A tiny forwarder in the container (`gateway_forward.py`, stdlib only)
listens on 127.0.0.1:PORT and pipes each TCP connection to that socket, so the agent is
configured with an ordinary `OPENAI_BASE_URL=http://127.0.0.1:PORT/v1` (or
`ANTHROPIC_BASE_URL=http://127.0.0.1:PORT`). The gateway holds the real API key and sends
the requests on to the model's endpoint.

Two wire APIs are relayed (`APIS`), each by a small adapter (`_Protocol`): OpenAI chat
completions (`/v1/chat/completions`, upstream `ModelConfig.base_url`) and Anthropic Messages
(`/v1/messages`, upstream `ModelConfig.anthropic_base_url`, e.g. DashScope's
Anthropic-compatible endpoint). What they share is one code path: the token check, the
limiter, retries, the relay of whole answers and SSE streams, the counters, the record. What
differs is in the adapter: the route and upstream URL, the headers, how the registry's model
and sampling go into the body, and how an answer, its usage, a stream's events and a
request's history are read.

Why a Unix socket and not a Docker network:
- the container keeps `network=none`: no IP stack beyond loopback, no route anywhere, nothing
  to firewall, no DNS, so a task's code cannot reach the internet or the host's services;
- the socket is the instance: which container talks is known from which socket it used
  (no source addresses to map, no shared port), and closing the session cuts it off;
- it works the same on every node (local threads, Ray workers): no bridge, no iptables, no
  port allocation; nothing to clean up but a folder (a scratch folder: one a killed process
  left is removed by the next gateway).

The container never sees the key: it gets a per-session token (`GatewaySession.token`),
checked on every request (as `Authorization: Bearer` or `x-api-key`, the two ways SDKs send
a key); the real key is sent upstream only, registered with `evalharness.core.redact`, and
scrubbed from whatever goes back (bodies, SSE events, errors).

What the gateway adds to each request, so a CLI agent is measured like the built-in one:
- the registry's model id and sampling (`ModelConfig.request_params()`, applied exactly as
  `LLMClient` applies it, `llm.apply_request_params`; on the Anthropic API its own fields:
  temperature, top_p, top_k); a client's own max_tokens is kept;
- the run's back-pressure (`limiter.slot()` around each upstream attempt) and the same
  retry policy as `LLMClient` (`llm.RetryPolicy`); a stream is retried only until its first
  event reached the client;
- a per-instance cost limit (HTTP 402 once spent), usage and cost counters (`GatewayUsage`),
  the trajectory (`events()`, the format of `evalharness.core.trajectory`, the same for both
  APIs) and a request log, all updated before the answer's last bytes go out (a client that
  has its answer finds it counted).

Threads: one listener thread per session and one per client connection (daemons; CLI agents
keep a few keep-alive connections each); all sessions share one pooled `httpx.Client`.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import random
import re
import secrets
import selectors
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:  # the `openai` SDK's HTTP library: httpx2 in recent releases, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx  # type: ignore[no-redef]

from evalharness.model.llm import RetriesExhausted, RetryPolicy, apply_request_params, retry_after
from evalharness.core.redact import redact, redact_bytes, register_secret
from evalharness.core.scratch import scratch_dir
from evalharness.core.trajectory import Trajectory

if TYPE_CHECKING:
    from evalharness.model.registry import ModelConfig

log = logging.getLogger(__name__)

SOCKET_NAME = "gateway.sock"  # the socket file inside a session's directory
CONTAINER_DIR = "/run/evalharness-gateway"  # where the session directory is mounted in the container
FORWARDER_SOURCE: str = Path(__file__).with_name("gateway_forward.py").read_text(encoding="utf-8")

MAX_BODY_BYTES = 32 * 1024 * 1024  # a request body above this gets 413
_DRAIN_BYTES = 4 * MAX_BODY_BYTES  # an oversized body up to this is read and dropped (the connection lives on)
_MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path on Linux, less the NUL
_HISTORIES = 4  # message histories remembered per session (an agent's main thread and its side requests)
_MODELS_ROUTES = frozenset({"/v1/models", "/models"})
_EVENT_END = re.compile(rb"\r?\n\r?\n")  # the blank line that ends an SSE event
_DONE = re.compile(rb"data: ?\[DONE\]\s*$")  # a stream's last event


@dataclass
class GatewayUsage:
    """One session's counters. `requests` counts every model request answered (chat completions
    and Anthropic messages), refusals included;
    `refused` those the gateway answered itself (bad token, cost limit spent); `errors` those
    that ended in an error answer (upstream error, gateway error, a stream cut short)."""

    requests: int = 0  # model requests answered (any status)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0  # USD, from ModelConfig.cost(prompt, completion)
    model_seconds: float = 0.0  # wall time of upstream requests, retries included
    retries: int = 0  # upstream attempts retried
    refused: int = 0  # requests refused by the gateway (max cost spent, bad token)
    errors: int = 0  # requests that ended in an error answer to the client


@dataclass
class _Message:
    """The model's answer, from a JSON response or reassembled from a stream."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {id, name, arguments (raw JSON text)}
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class _Outcome:
    """How one chat request ended, for the counters, the trajectory and the request log."""

    status: int
    message: _Message | None = None  # None: no complete answer
    error: str = ""  # "" when the client got a whole, successful answer
    retries: int = 0
    seconds: float = 0.0  # upstream wall time, retries and waits included


@dataclass
class _Failure:
    """A failed upstream attempt that may be retried: what went wrong, and the answer the client
    gets if no retry follows (the upstream's own status and body, or a 502)."""

    what: str  # "HTTP 429", "timeout", "connection error"
    message: str
    wait_at_least: float | None = None
    status: int = 502
    body: bytes = b""
    content_type: str = "application/json"


class _ClientGone(Exception):
    """The client closed its connection while being answered."""


class ModelGateway:
    """One model (a registry entry and its key) shared by the sessions of a run: its
    OpenAI-compatible endpoint, and its Anthropic-compatible one where it has one."""

    def __init__(self, config: ModelConfig, api_key: str, *, limiter: Any = None, root: Path | None = None,
                 max_attempts: int = 8, backoff_base: float = 1.0, backoff_max: float = 60.0,
                 retry_budget: float = 900.0, sleep: Callable[[float], None] = time.sleep,
                 rng: Callable[[], float] | None = None):
        self.config = config
        self.retry = RetryPolicy(max_attempts, backoff_base, backoff_max, retry_budget, rng or random.random)
        self._sleep = sleep
        self._limiter = limiter
        register_secret(api_key)  # never written anywhere: see evalharness/redact.py
        self._key = api_key
        params = config.request_params()
        self._params = params
        self._params_keep_limit = {k: v for k, v in params.items() if k != "max_tokens"}
        # One connection pool for all sessions, measured in benchmarks/bench_gateway.py (gateway
        # CPU ~1.1 ms a request at 16 clients at once, ~1.7 ms at 128 on a loaded 2-CPU machine).
        # LLMClient keeps one pool per thread because with hundreds of threads on one pool the
        # pool's lock and scans cost CPU; if runs with hundreds of CLI agents show that here
        # too, give each session a client of its own.
        self._http = httpx.Client(timeout=httpx.Timeout(config.request_timeout), follow_redirects=False,
                                  limits=httpx.Limits(max_connections=None, max_keepalive_connections=256,
                                                      keepalive_expiry=60.0))
        # A scratch folder (scratch.py): locked while this process lives, so the next gateway
        # removes what a killed one left (its lock file is not in the session folders mounted).
        self._scratch = ExitStack()
        self.directory: Path = self._scratch.enter_context(scratch_dir("evalharness-gateway-", root))
        self._lock = threading.Lock()
        self._sessions: list[GatewaySession] = []
        self._closed = False

    def open_session(self, instance_id: str, *, max_cost: float = 0.0) -> GatewaySession:
        """Start serving a new session's socket; mount its `directory` at CONTAINER_DIR."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the model gateway is closed")
            directory = Path(tempfile.mkdtemp(prefix="", dir=self.directory))
            try:
                session = GatewaySession(self, instance_id, directory, max_cost=max_cost)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session, the upstream connections and the gateway's directory."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        self._http.close()
        self._scratch.close()

    def __enter__(self) -> ModelGateway:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _forget(self, session: GatewaySession) -> None:
        with self._lock:
            if session in self._sessions:
                self._sessions.remove(session)

    # -- the upstream side ----------------------------------------------------------------------
    def _upstream(self, protocol: _Protocol, request: dict[str, Any], stream: bool, query: str,
                  client_headers: Any) -> _Upstream:
        """The client's request as it goes upstream: the protocol's URL, the real key, the
        registry's model and sampling (a max_tokens the client sent stays)."""
        sent_limit = "max_tokens" in request or "max_completion_tokens" in request
        body = protocol.body(request, stream, self._params_keep_limit if sent_limit else self._params)
        url = protocol.url(self.config) + (f"?{query}" if query and protocol.keeps_query else "")
        headers = {**protocol.headers(self._key, client_headers), "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        return _Upstream(protocol, url, headers, payload, stream)

    def _slot(self) -> AbstractContextManager[Any]:
        return self._limiter.slot() if self._limiter is not None else nullcontext()

    def _exchange(self, call: _Upstream, relay: _Relay) -> _Outcome:
        """Send one model request upstream, retrying by the policy, and answer the client."""
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            with self._slot():
                result = self._attempt(call, relay)
            if isinstance(result, _Outcome):
                return replace(result, retries=attempt - 1, seconds=time.monotonic() - start)
            try:
                delay = self.retry.next_delay(attempt, time.monotonic() - start, result.wait_at_least)
            except RetriesExhausted as why:
                error = redact(f"{result.what} {why}: {result.message}")
                body = redact_bytes(result.body) if result.body else call.protocol.error_body(
                    f"evalharness gateway: upstream {error}", "upstream_error", "upstream_unavailable", 502)
                # The gateway retried already: tell the client's SDK not to pile more retries on.
                relay.send(result.status, body, result.content_type, {"x-should-retry": "false"})
                return _Outcome(result.status, error=error, retries=attempt - 1, seconds=time.monotonic() - start)
            self._sleep(delay)

    def _attempt(self, call: _Upstream, relay: _Relay) -> _Outcome | _Failure:
        """One upstream attempt: the final outcome (the client answered), or a retryable failure."""
        try:
            if not call.stream:
                response = self._http.post(call.url, content=call.payload, headers=call.headers)
                return self._finish(call, response, response.content, relay)
            with self._http.stream("POST", call.url, content=call.payload, headers=call.headers) as response:
                if response.status_code >= 300 or "event-stream" not in response.headers.get("content-type", ""):
                    return self._finish(call, response, response.read(), relay)
                return _relay_stream(response, relay, call.protocol.reader(relay))
        except httpx.TimeoutException:
            return _Failure("timeout", f"no answer within {self.config.request_timeout:g}s")
        except httpx.RequestError as exc:  # refused, reset, dropped, a protocol error
            return _Failure("connection error", f"{type(exc).__name__}: {exc}")

    def _finish(self, call: _Upstream, response: Any, content: bytes, relay: _Relay) -> _Outcome | _Failure:
        """A whole (non-streamed) upstream answer: relayed, unless it is an error worth retrying."""
        status = response.status_code
        content_type = response.headers.get("content-type", "application/json")
        if status >= 400:
            message = _error_text(content)
            if self.retry.retryable(status, response.headers):
                return _Failure(f"HTTP {status}", message, retry_after(response.headers), status, content,
                                content_type)
            relay.send(status, redact_bytes(content), content_type)
            return _Outcome(status, error=redact(f"HTTP {status}: {message}"))
        relay.send(status, redact_bytes(content), content_type)
        try:
            answer = json.loads(content)
        except ValueError:
            answer = None
        try:
            return _Outcome(status, message=call.protocol.message(answer))
        except (TypeError, AttributeError, KeyError, IndexError, ValueError):  # relayed as it came
            return _Outcome(status, error=f"HTTP {status} without {call.protocol.answer_name}: "
                                          f"{_error_text(content)}")


@dataclass(frozen=True)
class _Upstream:
    """One model request as it goes upstream (each attempt sends the same)."""

    protocol: _Protocol
    url: str
    headers: dict[str, str]
    payload: bytes
    stream: bool


# ---- the wire APIs ------------------------------------------------------------------------------
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
            return self.relay.wants_usage or "usage" not in chunk
        choice = choices[0] if isinstance(choices[0], dict) else {}
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


OPENAI, ANTHROPIC = _OpenAI(), _Anthropic()
_PROTOCOLS: dict[str, _Protocol] = {p.name: p for p in (OPENAI, ANTHROPIC)}
_BY_ROUTE: dict[str, _Protocol] = {route: p for p in _PROTOCOLS.values() for route in p.routes}
APIS: tuple[str, ...] = tuple(_PROTOCOLS)  # the wire APIs relayed: chat completions, Anthropic Messages
_ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
                          403: "permission_error", 404: "not_found_error", 413: "request_too_large",
                          429: "rate_limit_error", 529: "overloaded_error"}


def _relay_stream(response: Any, relay: _Relay, reader: _StreamReader) -> _Outcome | _Failure:
    """Relay an upstream SSE stream event by event, the reader reassembling the message on the
    way. Before the first event reached the client a failure is retryable; after it, it ends
    the request."""
    buffer = b""

    def events(data: bytes, last: bool = False) -> Iterator[bytes]:
        nonlocal buffer
        buffer += data
        while (end := _EVENT_END.search(buffer)) is not None:
            event, buffer = buffer[:end.end()], buffer[end.end():]
            yield event
        if last and buffer.strip():
            event, buffer = buffer + b"\n\n", b""
            yield event

    content_type = response.headers.get("content-type", "text/event-stream")

    def forward(batch: Iterator[bytes]) -> None:
        """The events of one upstream read, relayed in one chunk (one write)."""
        kept = [event for event in batch if reader.take(event)]
        if kept:
            relay.stream(redact_bytes(b"".join(kept)), content_type, last=reader.last(kept[-1]))

    try:
        for data in response.iter_bytes():
            forward(events(data))
        forward(events(b"", last=True))
    except _ClientGone:
        return _Outcome(200, error="the client disconnected mid-stream")
    except httpx.RequestError as exc:
        what = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection error"
        if not relay.started:
            return _Failure(what, f"the stream broke before its first event: {type(exc).__name__}: {exc}")
        reason = f"the upstream stream broke: {what} ({type(exc).__name__}: {exc})"
        relay.abort_stream(redact(reason))
        return _Outcome(200, error=redact(reason))
    relay.end_stream(content_type)  # held back with its last event until the request is recorded
    return _Outcome(200, message=reader.finish(), error=redact(reader.error))


class _Relay:
    """Writes the answer to the client's connection: a whole response, or a chunked stream whose
    head goes out with its first event (so nothing is sent before upstream produced something).

    The answer's last bytes (a whole response, or a stream's last event (`[DONE]`,
    `message_stop`) and final chunk) are held until `flush`, which the session calls once the
    request is accounted and recorded: when a client has its answer, `usage` and `events()`
    already include it."""

    def __init__(self, handler: _Handler, protocol: _Protocol, wants_usage: bool):
        self.handler = handler
        self.protocol = protocol
        self.wants_usage = wants_usage  # the client asked for the usage chunk of a stream
        self.started = False  # a stream's head went out: no retry from here on
        self.status = 0
        self._chunked = handler.request_version != "HTTP/1.0"
        self._pending = b""

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self._pending = self.handler.response_bytes(status, body, content_type, headers)

    def stream(self, event: bytes, content_type: str, last: bool = False) -> None:
        data = b"%x\r\n%s\r\n" % (len(event), event) if self._chunked else event
        if not self.started:
            data = self._head(content_type) + data
            self.started = True
        if last:
            self._pending += data
        else:
            self._write(self._pending + data)
            self._pending = b""

    def end_stream(self, content_type: str) -> None:
        if not self.started:  # an empty stream
            self._pending += self._head(content_type)
            self.started = True
        if self._chunked:
            self._pending += b"0\r\n\r\n"
        else:
            self.handler.close_connection = True

    def abort_stream(self, reason: str) -> None:
        """Tell the client why in an error event, then close without the final chunk: a stream
        cut short must never read as a complete answer."""
        try:
            self.stream(self.protocol.abort_event(reason), "text/event-stream")
        except _ClientGone:
            pass
        self.handler.close_connection = True

    def flush(self) -> None:
        """Write what is held back; a client gone by now is noted, not raised."""
        if self._pending:
            try:
                self._write(self._pending)
            except _ClientGone:
                pass
            self._pending = b""

    def _head(self, content_type: str) -> bytes:
        self.status = 200
        framing = "Transfer-Encoding: chunked" if self._chunked else "Connection: close"
        return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\n"
                f"{framing}\r\n\r\n").encode("latin-1")

    def _write(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(data)
        except OSError:
            self.handler.close_connection = True
            raise _ClientGone() from None


class GatewaySession:
    """One instance's endpoint: a Unix socket in `directory`, its token, counters and records."""

    def __init__(self, gateway: ModelGateway, instance_id: str, directory: Path, *, max_cost: float = 0.0):
        self.instance_id = instance_id
        self.token = "eh-" + secrets.token_urlsafe(24)
        self.directory = directory
        self.max_cost = max_cost
        self.usage = GatewayUsage()
        self._opened = time.monotonic()
        self._gateway = gateway
        self._lock = threading.Lock()
        self._trajectory = Trajectory()
        self._log: list[dict[str, Any]] = []
        self._number = 0  # chat requests accepted so far (the trajectory's turn)
        self._histories: list[list[Any]] = []  # recent request histories, most recent first
        self._calls: dict[str, tuple[str, Any]] = {}  # tool call id -> (name, arguments)
        self._closed = False
        self._connections: set[socket.socket] = set()
        path = directory / SOCKET_NAME
        directory.chmod(0o755)  # container root has no CAP_DAC_OVERRIDE: it needs the x bit
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            _bind_unix(self._listener, path)
        except BaseException:
            self._listener.close()
            raise
        path.chmod(0o666)  # any user in the container may connect
        self._listener.listen(128)
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"gateway-{instance_id}", daemon=True)
        self._thread.start()

    @property
    def socket_path(self) -> Path:
        return self.directory / SOCKET_NAME

    def events(self) -> list[dict[str, Any]]:
        """The trajectory events recorded so far (copies)."""
        with self._lock:
            return [dict(e) for e in self._trajectory.events]

    def requests_log(self) -> list[dict[str, Any]]:
        """One line per HTTP request: method, path, status, stream, seconds, retries, tokens, cost, error."""
        with self._lock:
            return [dict(line) for line in self._log]

    def close(self) -> None:
        """Stop serving: no new connections, open ones cut, the directory removed. Idempotent.
        A request already upstream finishes on its own thread (its answer goes nowhere)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = list(self._connections)
        self._wake_w.send(b"x")
        self._thread.join(timeout=10)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()
        shutil.rmtree(self.directory, ignore_errors=True)
        self._gateway._forget(self)

    def __enter__(self) -> GatewaySession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- serving ----------------------------------------------------------------------------------
    def _serve(self) -> None:
        """Accept connections until `close` writes to the wake-up socket (no polling while idle)."""
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, _ = self._listener.accept()
                    except OSError:
                        continue
                    threading.Thread(target=self._connection, args=(conn,), daemon=True,
                                     name=f"gateway-{self.instance_id}-conn").start()

    def _connection(self, conn: socket.socket) -> None:
        with self._lock:
            if self._closed:
                conn.close()
                return
            self._connections.add(conn)
        try:
            _Handler(conn, ("gateway", 0), self)  # type: ignore[arg-type]  # the session is its "server"
        except Exception as exc:  # a broken connection ends here, never the gateway
            log.debug("gateway %s: connection ended: %s", self.instance_id, redact(str(exc)))
        finally:
            with self._lock:
                self._connections.discard(conn)
            conn.close()

    def _authorized(self, headers: Any) -> bool:
        """The session's token as `Authorization: Bearer` (OpenAI SDKs, ANTHROPIC_AUTH_TOKEN) or
        `x-api-key` (Anthropic SDKs, ANTHROPIC_API_KEY)."""
        scheme, _, bearer = (headers.get("Authorization") or "").strip().partition(" ")
        offered = [bearer.strip()] if scheme.lower() == "bearer" else []
        offered += [key.strip() for key in headers.get_all("x-api-key") or []]
        token = self.token.encode()
        return any(hmac.compare_digest(t.encode(), token) for t in offered)

    def _note(self, line: dict[str, Any], event: dict[str, Any] | None = None, **counts: float) -> None:
        """Add a request-log line (and a trajectory event) and bump counters, as one step under
        the lock, so readers never see a request half counted."""
        with self._lock:
            if event is not None:
                self._trajectory.turn = line.get("turn", self._trajectory.turn)
                self._trajectory.add(event.pop("type"), **event)
            self._log.append(line)
            for name, value in counts.items():
                setattr(self.usage, name, getattr(self.usage, name) + value)

    def _line(self, method: str, path: str, status: int, start: float, **more: Any) -> dict[str, Any]:
        line = {"t": round(start - self._opened, 3), "method": method, "path": path, "status": status,
                "stream": False, "seconds": round(time.monotonic() - start, 4), "retries": 0,
                "prompt_tokens": 0, "completion_tokens": 0, "cost": 0.0, "error": ""}
        line.update(more)
        return line

    def _chat(self, handler: _Handler, raw: bytes, start: float, protocol: _Protocol) -> None:
        """One model request (either API): checked, recorded, forwarded, accounted."""
        method, path = handler.command, handler.path
        try:
            request = json.loads(raw or b"{}")
        except ValueError as exc:
            request, problem = None, f"the request body is not JSON: {exc}"
        else:
            problem = "" if isinstance(request, dict) else "the request body is not a JSON object"
        if problem or not isinstance(request, dict):
            self._note(self._line(method, path, 400, start, error=problem), requests=1, errors=1)
            handler.send_bytes(400, protocol.error_body(f"evalharness gateway: {problem}", "invalid_request_error",
                                                        None, 400))
            return
        stream = bool(request.get("stream"))
        missing = protocol.missing(self._gateway.config)
        if missing:  # a configuration error: said to the CLI (it prints it) and in the record
            message = f"evalharness gateway: {missing}"
            self._note(self._line(method, path, 404, start, stream=stream, error=message),
                       {"type": "api_error", "message": message, "status": 404, "stream": stream},
                       requests=1, errors=1)
            handler.send_bytes(404, protocol.error_body(message, "invalid_request_error", "no_endpoint", 404),
                               headers={"x-should-retry": "false"})
            return
        with self._lock:
            self._number += 1
            number = self._number
            self._record_messages(number, protocol.history(request))
        if self.max_cost > 0 and self.usage.cost >= self.max_cost:
            message = f"evalharness gateway: this instance's cost limit of ${self.max_cost:g} is spent"
            self._note(self._line(method, path, 402, start, stream=stream, error=message, turn=number),
                       {"type": "api_error", "message": message, "status": 402, "stream": stream},
                       requests=1, refused=1)
            handler.send_bytes(402, protocol.refusal(message))
            return
        relay = _Relay(handler, protocol, protocol.wants_usage(request, stream))
        try:
            query = path.partition("?")[2]
            outcome = self._gateway._exchange(
                self._gateway._upstream(protocol, request, stream, query, handler.headers), relay)
        except Exception as exc:  # a bug or a closed gateway: this request fails, the session serves on
            log.exception("gateway %s: request %d failed", self.instance_id, number)
            outcome = _Outcome(500, error=redact(f"evalharness gateway error: {type(exc).__name__}: {exc}"))
            if not relay.started and not relay.status:
                relay.send(500, protocol.error_body(outcome.error, "server_error", "gateway_error", 500),
                           "application/json")
            else:
                handler.close_connection = True
        self._account(number, outcome, relay.status or outcome.status, stream, method, path, start)
        relay.flush()

    def _account(self, number: int, outcome: _Outcome, status: int, stream: bool, method: str, path: str,
                 start: float) -> None:
        """Count the request and record its answer (an `assistant` event) or its failure (`api_error`)."""
        message = outcome.message
        prompt = message.prompt_tokens if message else 0
        completion = message.completion_tokens if message else 0
        cost = self._gateway.config.cost(prompt, completion)
        line = self._line(method, path, status, start, stream=stream, retries=outcome.retries,
                          prompt_tokens=prompt, completion_tokens=completion, cost=cost, error=outcome.error,
                          turn=number)
        timing = {"llm_seconds": round(outcome.seconds, 3), "retries": outcome.retries}
        if message is not None and not outcome.error and status < 400:
            calls = [{"id": c["id"], "name": c["name"], "arguments": _arguments(c["arguments"])}
                     for c in message.tool_calls]
            event: dict[str, Any] = {
                "type": "assistant", "content": redact(message.content), "tool_calls": calls,
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion}, "cost": cost, **timing,
                "status": status, "stream": stream, "finish_reason": message.finish_reason}
            if message.reasoning:
                event["reasoning"] = redact(message.reasoning)
            with self._lock:
                self._calls.update({c["id"]: (c["name"], c["arguments"]) for c in calls})
        else:
            event = {"type": "api_error", "message": outcome.error, "status": status, "stream": stream, **timing}
        self._note(line, event, requests=1, prompt_tokens=prompt, completion_tokens=completion, cost=cost,
                   model_seconds=outcome.seconds, retries=outcome.retries, errors=1 if outcome.error else 0)

    # -- the trajectory ---------------------------------------------------------------------------
    def _record_messages(self, number: int, messages: list[Any]) -> None:
        """Record the messages this request adds to what earlier requests sent (the lock held).

        CLI agents resend the whole history each time; the new part is what follows the
        longest history already seen that this one continues (agents also send side requests
        with other histories, so a few recent ones are kept). If none is a prefix, the history
        was rewritten (compressed, elided): it is recorded again from the first message that
        changed. Assistant messages are not recorded from the history: each is the answer
        already recorded as it came back (their tool calls are noted, to name the results).
        """
        best, matched = 0, -1
        for i, seen in enumerate(self._histories):
            if len(seen) <= len(messages) and len(seen) > best and messages[:len(seen)] == seen:
                best, matched = len(seen), i
        if matched < 0:  # a rewrite, or a side request: from where it departs from the closest history
            for seen in self._histories:
                same = next((k for k, (a, b) in enumerate(zip(seen, messages)) if a != b),
                            min(len(seen), len(messages)))
                best = max(best, same)
        else:
            del self._histories[matched]
        self._histories.insert(0, messages)
        del self._histories[_HISTORIES:]
        self._trajectory.turn = number
        for message in messages[best:]:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role == "assistant":
                for call in message.get("tool_calls") or []:
                    function = call.get("function") or {}
                    self._calls.setdefault(str(call.get("id") or ""), (
                        str(function.get("name") or ""), _arguments(_text(function.get("arguments")))))
            elif role in ("tool", "function"):
                call_id = str(message.get("tool_call_id") or "")
                name, arguments = self._calls.get(call_id, (str(message.get("name") or ""), None))
                self._trajectory.add("tool", tool_call_id=call_id, name=name, arguments=arguments,
                                     output=redact(_text(message.get("content"))), exit_code=None)
            else:
                kind = "system" if role in ("system", "developer") else "user"
                self._trajectory.add(kind, content=redact(_text(message.get("content"))))


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive on one client connection; the session does the work."""

    protocol_version = "HTTP/1.1"
    server_version = "evalharness-gateway"
    server: GatewaySession  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # the session keeps its own log
        pass

    def handle_expect_100(self) -> bool:
        if _length(self.headers.get("Content-Length")) > MAX_BODY_BYTES:
            self._too_large(time.monotonic(), close=True)
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._route(time.monotonic())

    def do_POST(self) -> None:
        self._route(time.monotonic())

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _route(self, start: float) -> None:
        session = self.server
        raw = self._read_body(start)
        if raw is None:
            return
        route = self.path.split("?", 1)[0].rstrip("/")
        protocol = self._protocol()
        # Each answer is noted before it is sent: a client that has its answer finds it counted.
        if not session._authorized(self.headers):
            session._note(session._line(self.command, self.path, 401, start, error="bad token"),
                          refused=1, requests=1 if protocol else 0)
            self.send_bytes(401, (protocol or OPENAI).error_body(
                "evalharness gateway: invalid API key (expected this session's token)", "invalid_request_error",
                "invalid_api_key", 401))
        elif protocol is not None:
            session._chat(self, raw, start, protocol)
        elif route in _MODELS_ROUTES and self.command == "GET":
            model = session._gateway.config.model
            session._note(session._line(self.command, self.path, 200, start))
            self.send_bytes(200, json.dumps({"object": "list", "data": [
                {"id": model, "object": "model", "created": 0, "owned_by": "evalharness-gateway"}]}).encode())
        else:
            error = f"no route {self.command} {self.path}"
            session._note(session._line(self.command, self.path, 404, start, error=error))
            self.send_bytes(404, _error_body(f"evalharness gateway: {error}", "invalid_request_error", "not_found"))

    def _read_body(self, start: float) -> bytes | None:
        """The request body, or None once the request was answered (too large, cut short)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(start)
        length = _length(self.headers.get("Content-Length"))
        if length > MAX_BODY_BYTES:
            if length > _DRAIN_BYTES:
                self._too_large(start, close=True)
                return None
            while length > 0:  # read and drop it, so the client reads the answer and the connection lives
                data = self.rfile.read(min(length, 1 << 20))
                if not data:
                    self.close_connection = True
                    return None
                length -= len(data)
            self._too_large(start)
            return None
        raw = self.rfile.read(length) if length > 0 else b""
        if len(raw) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return raw

    def _read_chunked(self, start: float) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self._too_large(start, close=True)
                return None
            data = self.rfile.read(size + 2)
            if len(data) < size + 2:
                self.close_connection = True
                return None
            parts.append(data[:size])

    def _too_large(self, start: float, close: bool = False) -> None:
        error = f"request body over {MAX_BODY_BYTES // (1024 * 1024)} MiB"
        protocol = self._protocol()
        self.server._note(self.server._line(self.command, self.path, 413, start, error=error), errors=1,
                          requests=1 if protocol else 0)
        self.send_bytes(413, (protocol or OPENAI).error_body(f"evalharness gateway: {error}", "invalid_request_error",
                                                             "too_large", 413), close=close)

    def _protocol(self) -> _Protocol | None:
        """The API of a model request (POST to one of its routes), else None."""
        return _BY_ROUTE.get(self.path.split("?", 1)[0].rstrip("/")) if self.command == "POST" else None

    def response_bytes(self, status: int, body: bytes, content_type: str = "application/json",
                       headers: dict[str, str] | None = None, close: bool = False) -> bytes:
        """A whole response, head and body, to be sent in one write."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def send_bytes(self, status: int, body: bytes, content_type: str = "application/json",
                   headers: dict[str, str] | None = None, close: bool = False) -> None:
        """A whole response in one write; a client gone is noted, not raised."""
        data = self.response_bytes(status, body, content_type, headers, close)
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


# ---- small helpers ------------------------------------------------------------------------------
def _bind_unix(sock: socket.socket, path: Path) -> None:
    """Bind at `path`, also past sun_path's 107 bytes (a deep `root`): through the directory's
    /proc/self/fd entry on Linux. Clients on the host then need a short path too; in the
    container the socket is always at CONTAINER_DIR/SOCKET_NAME."""
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        sock.bind(str(path))
        return
    try:
        fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    except (AttributeError, OSError) as exc:  # no O_PATH: not Linux
        raise ValueError(f"gateway socket path too long for a Unix socket: {path} ({exc})") from None
    try:
        sock.bind(f"/proc/self/fd/{fd}/{path.name}")
    except OSError as exc:
        raise ValueError(f"gateway socket path too long for a Unix socket: {path} ({exc})") from None
    finally:
        os.close(fd)


def _length(header: str | None) -> int:
    try:
        return max(0, int(header or 0))
    except ValueError:
        return 0


def _error_body(message: str, type_: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


def _error_text(content: bytes, limit: int = 500) -> str:
    """The upstream's own words: error.message from a JSON body, else the text (redacted, one line)."""
    text = content.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("detail") or text)
        elif isinstance(err, str):
            text = err
    text = " ".join(redact(text).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or f"[{part.get('type', 'part')}]" if isinstance(part, dict) else str(part)
                       for part in content)
    return json.dumps(content) if isinstance(content, dict) else str(content)


def _arguments(raw: str) -> Any:
    """A tool call's arguments: the decoded object, {} for none, else the raw text."""
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError:
        return raw
    return decoded if isinstance(decoded, dict) else raw


def _take_usage(message: _Message, usage: Any) -> None:
    if isinstance(usage, dict):
        message.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        message.completion_tokens = int(usage.get("completion_tokens") or 0)


_ANTHROPIC_INPUT = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _take_anthropic_usage(message: _Message, usage: Any, seen: dict[str, int]) -> None:
    """Anthropic usage into the message: prompt = input + cache writes + cache reads (all
    input the model read), completion = output. A stream reports it twice (message_start: the
    input; message_delta: the output so far, cumulative, and on some servers the input too):
    `seen` keeps the latest value of each field across the events."""
    if not isinstance(usage, dict):
        return
    for key in (*_ANTHROPIC_INPUT, "output_tokens"):
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seen[key] = int(value)
    message.prompt_tokens = sum(seen.get(key, 0) for key in _ANTHROPIC_INPUT)
    message.completion_tokens = seen.get("output_tokens", 0)


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
