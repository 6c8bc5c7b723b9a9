"""One instance's endpoint: `GatewaySession` (its socket and serving threads, the token
check, each model request checked, forwarded and accounted, the trajectory and request log)
and its counters, `GatewayUsage`."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import selectors
import shutil
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.core.redact import redact
from evalharness.core.trajectory import Trajectory
from evalharness.model.gateway.relay import _Relay
from evalharness.model.gateway.server import SOCKET_NAME, _bind_unix, _Handler
from evalharness.model.gateway.tokens import token_fields
from evalharness.model.gateway.wire import _arguments, _Outcome, _text

if TYPE_CHECKING:
    from evalharness.model.gateway.protocol import _Protocol
    from evalharness.model.gateway.upstream import ModelGateway

log = logging.getLogger(__name__)

_HISTORIES = 4  # message histories remembered per session (an agent's main thread and its side requests)


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
            event.update(token_fields(message))
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
