"""A chat-completions client for OpenAI-compatible endpoints (hosted or locally served).

The `openai` SDK does the HTTP; this module does the retrying itself (the SDK's retries are
off) so that every wait is bounded by one budget, honours the server's Retry-After, and is
counted in the trajectory. Persistent failures become `LLMError` with a one-line reason, so
one instance ends with `agent_error` and the run goes on.
"""

from __future__ import annotations

import email.utils
import json
import random
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import openai
from openai.types.chat import ChatCompletion

from evalharness.core.redact import redact, register_secret

if TYPE_CHECKING:
    from evalharness.model.registry import ModelConfig


@dataclass
class ToolCall:
    """One call the model asked for. `arguments` is None when they could not be parsed
    (malformed JSON in native mode); `raw_arguments` keeps what the model sent."""

    name: str
    arguments: dict[str, Any] | None
    id: str = ""
    raw_arguments: str = ""


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0  # wall time of the request, retries and backoff included
    retries: int = 0
    finish_reason: str = ""


class LLMError(Exception):
    """The endpoint failed for good (after retries) or refused the request; `reason` says why."""

    def __init__(self, reason: str):
        reason = redact(reason)  # servers echo the request (its Authorization header) in errors
        super().__init__(reason)
        self.reason = reason


class ContextOverflowError(LLMError):
    """The server says the prompt does not fit the model's context window."""


# Retried: rate limits, request timeout / conflict reported by the server, server errors.
RETRYABLE_STATUS = frozenset({408, 409, 429})


class RetriesExhausted(Exception):
    """`RetryPolicy.next_delay` says stop; the message says why ("after 8 attempts", ...)."""


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry a failed model request and how long to wait first: one policy for
    `LLMClient` (the built-in agent) and the model gateway (CLI agents), so both treat an
    endpoint the same way. Retried: `retryable` statuses, timeouts, dropped connections."""

    max_attempts: int = 8
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    budget: float = 900.0  # seconds from the first attempt after which no retry starts
    rng: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def retryable(self, status: int, headers: Mapping[str, str]) -> bool:
        """Whether an HTTP error status may succeed if asked again."""
        should = (headers.get("x-should-retry") or "").lower()
        if should == "false":  # the server says a retry cannot help (OpenAI's convention)
            return False
        return status in RETRYABLE_STATUS or status >= 500

    def delay(self, attempt: int, wait_at_least: float | None) -> float:
        """Exponential backoff with full jitter; never shorter than the server asked."""
        ceiling = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        delay = self.rng() * ceiling
        if wait_at_least is not None:
            delay = max(delay, wait_at_least)
        return delay

    def next_delay(self, attempt: int, spent: float, wait_at_least: float | None) -> float:
        """The wait before attempt `attempt + 1`, `spent` seconds after the first began; raises
        RetriesExhausted when the attempts or the budget are used up."""
        if attempt >= self.max_attempts:
            raise RetriesExhausted(f"after {attempt} attempts")
        delay = self.delay(attempt, wait_at_least)
        if spent + delay > self.budget:
            asked = f"; the server asked to wait {wait_at_least:g}s" if wait_at_least else ""
            raise RetriesExhausted(f"after {attempt} attempts (retry budget of {self.budget:g}s spent{asked})")
        return delay


def apply_request_params(body: dict[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """`body` (changed in place) with `ModelConfig.request_params()` applied as
    `chat.completions.create(**params)` would send them: each parameter at the top level, then
    the `extra_body` fields merged over the result (the SDK's rule, so they win)."""
    for key, value in params.items():
        if key != "extra_body":
            body[key] = value
    body.update(params.get("extra_body") or {})
    return body


# How servers word "the prompt does not fit" (vLLM, OpenAI, SGLang, DashScope), lower case.
_OVERFLOW_PHRASES = (
    "maximum context length",
    "context_length_exceeded",
    "context length",
    "prompt is too long",
    "too many tokens",
    "range of input length",
    "input is too long",
    "exceeds the model's",
)


class LLMClient:
    """One model endpoint. `complete` is thread-safe: workers share one client."""

    def __init__(
        self,
        config: ModelConfig,
        api_key: str,
        *,
        max_attempts: int = 8,
        backoff_base: float = 1.0,
        backoff_max: float = 60.0,
        retry_budget: float = 900.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        limiter: Any = None,
        http_client: Any = None,
    ):
        """`http_client`: the SDK's HTTP client to use, e.g. one on a model-gateway session's
        Unix socket (rollouts); then every thread shares it."""
        self.config = config
        self.retry = RetryPolicy(max_attempts, backoff_base, backoff_max, retry_budget, rng)
        self._sleep = sleep
        self._limiter = limiter
        self._params = config.request_params()
        register_secret(api_key)  # never written anywhere: see evalharness/redact.py
        self._client = openai.OpenAI(
            base_url=config.base_url,
            api_key=api_key,
            max_retries=0,
            timeout=config.request_timeout,
            **({"http_client": http_client} if http_client is not None else {}),
        )
        # One connection pool per worker thread, not one for all: the HTTP library takes the
        # pool's lock and scans every connection of the pool on each request and response, so
        # with hundreds of workers on one pool a request cost ~5 ms of CPU instead of ~3 and
        # queued on that lock (benchmarks/bench_agent.py). The threads' clients are copies of
        # this one that share its TLS context (building one loads the CA store: ~80 ms, ~1 MB).
        self._tls = _tls_context(self._client) if http_client is None else None
        self._local = threading.local()
        self._thread_clients: dict[threading.Thread, openai.OpenAI] = {}
        self._clients_lock = threading.Lock()

    def close(self) -> None:
        with self._clients_lock:
            clients, self._thread_clients = list(self._thread_clients.values()), {}
        for client in clients:
            client.close()
        self._client.close()

    def _sdk(self) -> openai.OpenAI:
        """The calling thread's SDK client (the shared one where the TLS context cannot be shared)."""
        client = getattr(self._local, "client", None)
        if client is not None:
            return client
        if self._tls is None:
            return self._client
        client = self._client.with_options(http_client=openai.DefaultHttpxClient(verify=self._tls))
        with self._clients_lock:
            for thread in [t for t in self._thread_clients if not t.is_alive()]:
                self._thread_clients.pop(thread).close()  # a finished worker's connection
            self._thread_clients[threading.current_thread()] = client
        self._local.client = client
        return client

    def complete(self, messages: list[dict], tools: list[dict] | None = None) -> Completion:
        """One chat completion, retried on transient failures; raises LLMError when it gives up."""
        # The body `chat.completions.create(**params, messages=..., tools=...)` would send, posted
        # as is: create() first walks every message through the SDK's type-driven transform,
        # which does nothing to plain JSON dicts but costs CPU in proportion to the history
        # (about 12 ms a request at 18 messages, growing every turn; see benchmarks/bench_agent.py).
        body: dict[str, Any] = {"messages": messages}
        if tools:
            body["tools"] = tools
        apply_request_params(body, self._params)
        start = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._limiter.slot() if self._limiter is not None else nullcontext():
                    response = self._sdk().post("/chat/completions", body=body, cast_to=ChatCompletion)
                break
            except openai.APIStatusError as exc:
                status = exc.status_code
                message = _error_message(exc)
                if _is_context_overflow(exc, message):
                    raise ContextOverflowError(f"context overflow (HTTP {status}): {message}") from None
                if status == 401:
                    raise LLMError(
                        f"HTTP 401: the API key was rejected by {self.config.base_url}"
                        f"{f' (check {self.config.api_key_env})' if self.config.api_key_env else ''}: {message}"
                    ) from None
                if not self.retry.retryable(status, exc.response.headers):
                    raise LLMError(f"HTTP {status}: {message}") from None
                what, wait_at_least = f"HTTP {status}", retry_after(exc.response.headers)
            except openai.APITimeoutError:
                what, message, wait_at_least = "timeout", f"no answer within {self.config.request_timeout:g}s", None
            except openai.APIConnectionError as exc:
                cause = exc.__cause__ or exc.__context__
                what, wait_at_least = "connection error", None
                message = f"{type(cause).__name__}: {cause}" if cause else str(exc)
            except openai.APIResponseValidationError as exc:
                raise LLMError(f"invalid response from {self.config.base_url}: {exc}") from None

            try:
                delay = self.retry.next_delay(attempt, time.monotonic() - start, wait_at_least)
            except RetriesExhausted as why:
                raise LLMError(f"{what} {why}: {message}") from None
            self._sleep(delay)
        return self._completion(response, seconds=time.monotonic() - start, retries=attempt - 1)

    def _completion(self, response: Any, *, seconds: float, retries: int) -> Completion:
        if not response.choices:
            raise LLMError(f"the server at {self.config.base_url} returned no choices")
        choice = response.choices[0]
        message = choice.message
        calls = [_tool_call(tc) for tc in (message.tool_calls or [])]
        usage = response.usage
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0) if usage is not None else 0
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0) if usage is not None else 0
        return Completion(
            content=redact(message.content or ""),  # a server echoing the key must not carry it on
            tool_calls=calls,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=self.config.cost(prompt_tokens, completion_tokens),
            seconds=seconds,
            retries=retries,
            finish_reason=choice.finish_reason or "",
        )


def _tls_context(client: openai.OpenAI) -> ssl.SSLContext | None:
    """The TLS context the SDK's default HTTP client built (found through the HTTP library's
    internals; None where they differ, and then all threads share that client)."""
    try:
        context = client._client._transport._pool._ssl_context
    except AttributeError:
        return None
    return context if isinstance(context, ssl.SSLContext) else None


def _tool_call(tc: Any) -> ToolCall:
    """A native tool call; arguments decoded from JSON, kept raw (arguments=None) if malformed."""
    function = getattr(tc, "function", None)
    if function is None:  # a "custom" (free-text) tool call: nothing to decode
        custom = getattr(tc, "custom", None)
        return ToolCall(
            name=getattr(custom, "name", "") or "",
            arguments=None,
            id=tc.id or "",
            raw_arguments=getattr(custom, "input", "") or "",
        )
    raw = redact(function.arguments or "")
    arguments: dict[str, Any] | None
    if not raw.strip():
        arguments = {}  # some servers send "" for a call without parameters
    else:
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError:
            decoded = None
        arguments = decoded if isinstance(decoded, dict) else None
    return ToolCall(name=function.name or "", arguments=arguments, id=tc.id or "", raw_arguments=raw)


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked to wait: `retry-after-ms`, or `retry-after` as seconds or an
    HTTP date; None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    text = headers.get("retry-after")
    if text is None:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _is_context_overflow(exc: openai.APIStatusError, message: str) -> bool:
    if exc.status_code not in (400, 413):
        return False
    if exc.code == "context_length_exceeded":
        return True
    text = message.lower()
    return any(phrase in text for phrase in _OVERFLOW_PHRASES)


def _error_message(exc: openai.APIStatusError, limit: int = 500) -> str:
    """The server's own words: error.message from a JSON body, else the raw text."""
    body = exc.body
    text = ""
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("detail") or "")
        elif isinstance(err, str):
            text = err
        if not text:
            text = str(body.get("message") or body.get("detail") or "")
    elif isinstance(body, str):
        text = body
    if not text:
        text = exc.response.text if exc.response is not None else exc.message
    text = " ".join(str(text).split())
    return text[:limit] + ("..." if len(text) > limit else "")
