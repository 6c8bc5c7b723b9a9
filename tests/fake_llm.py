"""A real HTTP server that speaks the chat-completions protocol and replays scripted replies.

Tests and benchmarks point the real client (the `openai` SDK over real sockets) at it, so
retries, timeouts and dropped connections are exercised for real, with no internet.

    with FakeLLM(script=[Reply(tool_calls=[("bash", {"command": "ls"})]), Reply("done")]) as server:
        client = LLMClient(replace(config, base_url=server.base_url), "EMPTY")
        ...
        server.requests[0]["model"]

`script` is a list of replies served in order, or a callable(request_json) -> Reply. When a
list runs out the server answers 500 (with x-should-retry: false, so the client does not
retry) and a message saying so: a test that talks more than it scripted fails loudly.

Standalone (the `vllm` stand-in in tests/test_serve.py runs it this way):
    python tests/fake_llm.py --port 8000 --model Qwen/Qwen3-Coder-30B-A3B-Instruct
"""

from __future__ import annotations

import argparse
import json
import signal
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer: content and/or tool calls, or an error, a delay, a dropped connection."""

    content: str = ""
    tool_calls: Sequence[tuple[str, dict | str]] = ()  # (name, arguments dict, or a raw str for malformed JSON)
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: dict | str | None = None  # for errors; None = an OpenAI-style error object
    delay: float = 0.0  # seconds before answering
    drop_connection: bool = False  # close the socket without answering
    prompt_tokens: int | None = None  # default: estimated from the request (~4 characters a token)
    completion_tokens: int | None = None  # default: estimated from the reply
    finish_reason: str | None = None  # default: "tool_calls" if there are calls, else "stop"
    include_usage: bool = True  # False: no `usage` in the response (some servers omit it)


Script = Sequence[Reply] | Callable[[dict], Reply]


class Headers(dict):
    """Request headers; keys lower case, looked up case-insensitively ("Authorization" works)."""

    def __init__(self, items=()):
        super().__init__((k.lower(), v) for k, v in items)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class FakeLLM:
    """Threaded, so it serves many concurrent requests (benchmarks use `latency`)."""

    def __init__(self, script: Script = (), *, model: str = "m", host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0):
        self.model = model
        self.latency = latency
        self.requests: list[dict] = []
        self.request_headers: list[Headers] = []
        self._script = script if callable(script) else list(script)
        self._next = 0
        self._lock = threading.Lock()
        self._httpd = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._httpd.server_address[0]}:{self.port}/v1"

    def start(self) -> FakeLLM:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fake-llm-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=10)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.2)

    # -- called from handler threads ---------------------------------------------------------
    def _record_and_pick(self, request: dict, headers: Headers) -> tuple[int, Reply | None]:
        """(1-based request number, the reply; None when the script is exhausted)."""
        with self._lock:
            self.requests.append(request)
            self.request_headers.append(headers)
            number = len(self.requests)
            if callable(self._script):
                script = self._script
            elif self._next < len(self._script):
                self._next += 1
                return number, self._script[self._next - 1]
            else:
                return number, None
        return number, script(request)  # outside the lock: a callable may be slow on purpose

    def _exhausted_message(self, number: int) -> str:
        return f"FakeLLM script exhausted: it has {len(self._script)} replies and this is request #{number}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512  # benchmarks open many connections at once
    allow_reuse_address = True


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # headers and body are separate writes: no 40 ms delayed-ACK stall

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send_json(200, {"object": "list", "data": [
                    {"id": fake.model, "object": "model", "created": 0, "owned_by": "fake-llm"}]})
            else:
                self._send_json(404, _error(f"no route GET {self.path}", "not_found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send_json(404, _error(f"no route POST {self.path}", "not_found"))
                return
            try:
                request = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                self._send_json(400, _error(f"request body is not JSON: {exc}", "invalid_request_error"))
                return
            if request.get("stream"):
                self._send_json(400, _error("FakeLLM does not stream", "invalid_request_error"))
                return
            number, reply = fake._record_and_pick(request, Headers(self.headers.items()))
            if reply is None:
                self._send_json(500, _error(fake._exhausted_message(number), "script_exhausted"),
                                {"x-should-retry": "false"})
                return
            wait = reply.delay + fake.latency
            if wait > 0:
                time.sleep(wait)
            if reply.drop_connection:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if reply.status != 200:
                body = reply.body if reply.body is not None else _error(
                    f"fake error {reply.status}", "server_error" if reply.status >= 500 else "invalid_request_error")
                self._send_json(reply.status, body, reply.headers)
                return
            self._send_json(200, _completion(request, reply, fake, number), reply.headers)

        def _send_json(self, status: int, body: dict | str, headers: dict[str, str] | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, str) else "text/plain")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (its timeout): nothing to answer

    return Handler


def _error(message: str, type_: str) -> dict:
    return {"error": {"message": message, "type": type_, "param": None, "code": None}}


def _completion(request: dict, reply: Reply, fake: FakeLLM, number: int) -> dict:
    calls = []
    for i, (name, arguments) in enumerate(reply.tool_calls):
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
        calls.append({"id": f"call_{number}_{i}", "type": "function", "function": {"name": name, "arguments": raw}})
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = max(1, len(json.dumps(request.get("messages", []))) // 4)
    completion = reply.completion_tokens
    if completion is None:
        completion = max(1, (len(reply.content) + sum(len(c["function"]["arguments"]) for c in calls)) // 4)
    body: dict[str, Any] = {
        "id": f"chatcmpl-fake-{number}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", fake.model),
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": reply.finish_reason or ("tool_calls" if calls else "stop"),
        }],
    }
    if reply.include_usage:
        body["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion,
                         "total_tokens": prompt + completion}
    return body


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; every chat request gets `--reply` as its content."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model", default="m")
    parser.add_argument("--reply", default="ok")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    server = FakeLLM(lambda request: Reply(args.reply), model=args.model, host=args.host, port=args.port,
                     latency=args.latency)

    def stop(signum: int, frame: object) -> None:
        threading.Thread(target=server._httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake LLM serving {args.model} at {server.base_url}", flush=True)
    server.serve_forever()
    server._httpd.server_close()


if __name__ == "__main__":
    main()
