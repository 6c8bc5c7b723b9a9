"""`ModelGateway`: one model (a registry entry and its key) shared by a run's sessions, and
the upstream side of each request: the body rewritten (`_Upstream`), the limiter, the
retries, one pooled HTTP client."""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.core.redact import redact, redact_bytes, register_secret
from evalharness.core.scratch import scratch_dir
from evalharness.model.gateway.relay import _Relay, _relay_stream
from evalharness.model.gateway.session import GatewaySession
from evalharness.model.gateway.wire import _error_text, _Failure, _Outcome, httpx
from evalharness.model.llm import RetriesExhausted, RetryPolicy, retry_after

if TYPE_CHECKING:
    from evalharness.model.gateway.protocol import _Protocol
    from evalharness.model.registry import ModelConfig


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
