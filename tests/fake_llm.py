"""A real HTTP server that speaks the chat-completions protocol (and Anthropic's Messages API)
and replays scripted replies.

Tests and benchmarks point the real client (the `openai` SDK over real sockets) at it, so
retries, timeouts and dropped connections are exercised for real, with no internet.

    with FakeLLM(script=[Reply(tool_calls=[("bash", {"command": "ls"})]), Reply("done")]) as server:
        client = LLMClient(replace(config, base_url=server.base_url), "EMPTY")
        ...
        server.requests[0]["model"]

`script` is a list of replies served in order, or a callable(request_json) -> Reply. When a
list runs out the server answers 500 (with x-should-retry: false, so the client does not
retry) and a message saying so: a test that talks more than it scripted fails loudly.

`"stream": true` is answered as servers do (Server-Sent Events, chunked): a role chunk, the
content in a few pieces, each tool call as a first delta (id, type, name, empty arguments)
and then its arguments in pieces, a chunk with the finish_reason, a usage chunk with no
choices when `stream_options.include_usage` was asked, then `data: [DONE]`. `Reply.chunk_delay`
spaces the chunks; `Reply.stream_drop_after` drops the connection after that many events.
`aborted_streams` counts streams whose client went away before the end.

`POST /v1/messages` (Anthropic's Messages API; `anthropic_base_url` is the server's root)
answers from the same replies: the content as a `text` block, each tool call as a `tool_use`
block (id `toolu_<request>_<i>`, its arguments as `input`), the usage as input/output tokens
(plus `Reply.cache_read_tokens` / `cache_creation_tokens`), stop_reason `tool_use` or
`end_turn`; errors as Anthropic error objects. Streamed as Anthropic streams: message_start
(input usage), ping, per block content_block_start / _delta (text_delta or input_json_delta
pieces) / _stop, message_delta (stop reason, output usage), message_stop; each event as an
`event:` line and a `data:` line.

Token ids and logprobs, as policy servers return them when asked (deterministic, a function of
the request's number and the usage counts; each request's are kept in `sent_tokens[number]`, so a
test can compare what was recorded with what was sent): vLLM's `return_token_ids: true` gives
`prompt_token_ids` at the top level and `token_ids` per choice, streamed as the first chunk's
`prompt_token_ids` and each delta chunk's new `token_ids`; `logprobs: true` adds
`choice.logprobs.content` (split over the chunks likewise). SGLang's `return_prompt_token_ids`
gives `choice.prompt_token_ids` and `return_meta_info` gives `choice.meta_info` (with
`output_token_logprobs` [logprob, id, text] under `logprobs`, else `output_ids`), streamed on
the chunk with the finish_reason. There are as many ids as the usage's prompt/completion tokens.

Standalone (the `vllm` stand-in in tests/test_serve.py runs it this way):
    python tests/fake_llm.py --port 8000 --model Qwen/Qwen3-Coder-30B-A3B-Instruct

and as the agent benchmark's model (benchmarks/bench_agent.py), in a process of its own so
that it never competes with the harness for the GIL: `--asyncio` serves from one event loop
(hundreds of concurrent delayed requests cost a few KB each, no thread each), `--turns N`
scripts an agent that runs `--command` N-1 times, then calls `submit`:
    python tests/fake_llm.py --asyncio --port 0 --latency 0.5 --turns 10
"""

from __future__ import annotations

import argparse
import asyncio
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
    chunk_delay: float = 0.0  # streaming: seconds between two events
    stream_drop_after: int | None = None  # streaming: drop the connection after this many events
    cache_read_tokens: int = 0  # Anthropic usage: cache_read_input_tokens
    cache_creation_tokens: int = 0  # Anthropic usage: cache_creation_input_tokens


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
        self.request_paths: list[str] = []  # each request's path and query, as sent
        self.aborted_streams = 0
        self.sent_tokens: dict[int, dict[str, list]] = {}  # request number -> the token ids/logprobs sent
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

    @property
    def anthropic_base_url(self) -> str:
        """The root, as ANTHROPIC_BASE_URL takes it (the client appends /v1/messages)."""
        return f"http://{self._httpd.server_address[0]}:{self.port}"

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
    def _record_and_pick(self, request: dict, headers: Headers, path: str = "") -> tuple[int, Reply | None]:
        """(1-based request number, the reply; None when the script is exhausted)."""
        with self._lock:
            self.requests.append(request)
            self.request_headers.append(headers)
            self.request_paths.append(path)
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
            api = _APIS.get(self.path.split("?", 1)[0].rstrip("/"))
            if api is None:
                self._send_json(404, _error(f"no route POST {self.path}", "not_found"))
                return
            try:
                request = json.loads(raw or b"{}")
            except json.JSONDecodeError as exc:
                self._send_json(400, api.error(f"request body is not JSON: {exc}", "invalid_request_error"))
                return
            number, reply = fake._record_and_pick(request, Headers(self.headers.items()), self.path)
            if reply is None:
                self._send_json(500, api.error(fake._exhausted_message(number), "script_exhausted"),
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
                body = reply.body if reply.body is not None else api.error(
                    f"fake error {reply.status}", "server_error" if reply.status >= 500 else "invalid_request_error")
                self._send_json(reply.status, body, reply.headers)
                return
            if request.get("stream"):
                self._stream(api.events(request, reply, fake, number), reply)
                return
            self._send_json(200, api.whole(request, reply, fake, number), reply.headers)

        def _stream(self, events: list[bytes], reply: Reply) -> None:
            self.send_response(200)
            for key, value in {**_SSE_HEADERS, **reply.headers}.items():
                self.send_header(key, value)
            self.end_headers()
            try:
                for i, event in enumerate(events):
                    if reply.stream_drop_after is not None and i >= reply.stream_drop_after:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if i and reply.chunk_delay:
                        time.sleep(reply.chunk_delay)
                    self.wfile.write(_chunk(event))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:  # the client went away mid-stream
                self.close_connection = True
                with fake._lock:
                    fake.aborted_streams += 1

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
    _add_tokens(body, request, fake, number, prompt, completion)
    return body


def fake_token_ids(number: int, prompt: int, completion: int) -> dict[str, list]:
    """The ids and logprobs the fake sends for request `number` (1-based) with these counts."""
    return {"prompt_token_ids": [(number * 1_000_003 + i * 7919) % 151_643 for i in range(prompt)],
            "token_ids": [(number * 31_337 + i * 104_729 + 17) % 151_643 for i in range(completion)],
            "logprobs": [-(((number + i) % 97) / 64) for i in range(completion)]}


def _add_tokens(body: dict, request: dict, fake: Any, number: int, prompt: int, completion: int) -> None:
    """The token fields a vLLM or SGLang server adds when the request asks for them."""
    vllm = bool(request.get("return_token_ids"))
    sglang_prompt, sglang_meta = bool(request.get("return_prompt_token_ids")), bool(request.get("return_meta_info"))
    logprobs = bool(request.get("logprobs"))
    if not (vllm or sglang_prompt or sglang_meta or logprobs):
        return
    sent = fake_token_ids(number, prompt, completion)
    choice = body["choices"][0]
    if logprobs:
        choice["logprobs"] = {"content": [
            {"token": f"<{i}>", "logprob": lp, "bytes": None, "top_logprobs": [],
             **({"token_id": i} if sglang_meta else {})} for i, lp in zip(sent["token_ids"], sent["logprobs"])]}
    if vllm:
        body["prompt_token_ids"] = sent["prompt_token_ids"]
        choice["token_ids"] = sent["token_ids"]
    if sglang_prompt:
        choice["prompt_token_ids"] = sent["prompt_token_ids"]
    if sglang_meta:
        meta: dict[str, Any] = {"id": body["id"], "prompt_tokens": prompt, "completion_tokens": completion}
        if logprobs:
            meta["output_token_logprobs"] = [[lp, i, None] for i, lp in zip(sent["token_ids"], sent["logprobs"])]
        else:
            meta["output_ids"] = sent["token_ids"]
        choice["meta_info"] = meta
    if getattr(fake, "record", True):
        with fake._lock:
            fake.sent_tokens[number] = {k: v for k, v in sent.items() if k != "logprobs" or logprobs}


def _stream_tokens(full: dict, chunks: list[dict]) -> None:
    """The token fields of a whole answer spread over its stream: vLLM's prompt ids on the first
    chunk and the sampled ids and logprobs over the delta chunks; SGLang's on the last choice chunk."""
    choice = full["choices"][0]
    if "prompt_token_ids" in full:
        chunks[0]["prompt_token_ids"] = full["prompt_token_ids"]
    for key in ("prompt_token_ids", "meta_info"):
        if key in choice:
            chunks[-1]["choices"][0][key] = choice[key]
    ids = choice.get("token_ids")
    content = (choice.get("logprobs") or {}).get("content")
    if ids is None and content is None:
        return
    deltas = chunks[1:-1] or chunks[-1:]
    count = len(ids if ids is not None else content)
    size = -(-count // len(deltas)) if count else 0
    for k, chunk in enumerate(deltas):
        part = slice(k * size, (k + 1) * size)
        if ids is not None:
            chunk["choices"][0]["token_ids"] = ids[part]
        if content is not None:
            chunk["choices"][0]["logprobs"] = {"content": content[part]}


_SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"}


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def _pieces(text: str, count: int = 3) -> list[str]:
    """`text` cut in up to `count` pieces (none for ""), as a server streams tokens."""
    size = max(1, -(-len(text) // count))
    return [text[i:i + size] for i in range(0, len(text), size)]


def _sse_events(request: dict, reply: Reply, fake: Any, number: int) -> list[bytes]:
    """The streamed form of `_completion`: its SSE events, `data: [DONE]` last."""
    full = _completion(request, reply, fake, number)
    choice = full["choices"][0]
    base = {k: full[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}

    def chunk(delta: dict, finish_reason: str | None = None) -> dict:
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}

    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": piece}) for piece in _pieces(reply.content)]
    for i, call in enumerate(choice["message"].get("tool_calls") or []):
        chunks.append(chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function", "function": {
            "name": call["function"]["name"], "arguments": ""}}]}))
        chunks += [chunk({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
                   for piece in _pieces(call["function"]["arguments"])]
    chunks.append(chunk({}, choice["finish_reason"]))
    _stream_tokens(full, chunks)
    if (request.get("stream_options") or {}).get("include_usage") and "usage" in full:
        chunks.append({**base, "choices": [], "usage": full["usage"]})
    return [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]


def _anthropic_error(message: str, type_: str) -> dict:
    kind = {"server_error": "api_error", "not_found": "not_found_error"}.get(type_, type_)
    return {"type": "error", "error": {"type": kind, "message": message}}


def _anthropic_message(request: dict, reply: Reply, fake: Any, number: int) -> dict:
    """A Messages API answer (a `message` object) for `reply`."""
    content: list[dict[str, Any]] = []
    if reply.content:
        content.append({"type": "text", "text": reply.content})
    for i, (name, arguments) in enumerate(reply.tool_calls):  # a str stays a str: malformed input
        content.append({"type": "tool_use", "id": f"toolu_{number}_{i}", "name": name, "input": arguments})
    prompt = reply.prompt_tokens
    if prompt is None:
        prompt = max(1, len(json.dumps([request.get("system"), request.get("messages", [])])) // 4)
    completion = reply.completion_tokens
    if completion is None:
        completion = max(1, len(json.dumps(content)) // 4)
    body: dict[str, Any] = {
        "id": f"msg_fake_{number}", "type": "message", "role": "assistant",
        "model": request.get("model", fake.model), "content": content,
        "stop_reason": reply.finish_reason or ("tool_use" if reply.tool_calls else "end_turn"),
        "stop_sequence": None,
    }
    if reply.include_usage:
        body["usage"] = {"input_tokens": prompt, "output_tokens": completion,
                         "cache_creation_input_tokens": reply.cache_creation_tokens,
                         "cache_read_input_tokens": reply.cache_read_tokens}
    return body


def _anthropic_events(request: dict, reply: Reply, fake: Any, number: int) -> list[bytes]:
    """The streamed form of `_anthropic_message`: its SSE events, message_stop last."""
    full = _anthropic_message(request, reply, fake, number)
    usage = full.get("usage")
    start = {**full, "content": [], "stop_reason": None}
    if usage:
        start["usage"] = {**usage, "output_tokens": 1}
    events: list[tuple[str, dict]] = [("message_start", {"type": "message_start", "message": start}),
                                      ("ping", {"type": "ping"})]
    for index, block in enumerate(full["content"]):
        if block["type"] == "text":
            opened = {"type": "text", "text": ""}
            deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
        else:
            opened = {**block, "input": {}}
            raw = block["input"] if isinstance(block["input"], str) else json.dumps(block["input"])
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _pieces(raw)]
        events.append(("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": opened}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
                   for delta in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": full["stop_reason"],
                                                                "stop_sequence": None}}
    if usage:
        delta["usage"] = {"output_tokens": usage["output_tokens"]}
    events += [("message_delta", delta), ("message_stop", {"type": "message_stop"})]
    return [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]


@dataclass(frozen=True)
class _API:
    """How one route answers: a whole response, its streamed events, an error object."""

    whole: Callable[[dict, Reply, Any, int], dict]
    events: Callable[[dict, Reply, Any, int], list[bytes]]
    error: Callable[[str, str], dict]


_APIS = {"/v1/chat/completions": _API(_completion, _sse_events, _error),
         "/v1/messages": _API(_anthropic_message, _anthropic_events, _anthropic_error)}


def agent_script(turns: int, command: str = "echo step {turn} && ls | head -3", *,
                 prompt_tokens: int | None = 1000, completion_tokens: int | None = 50) -> Callable[[dict], Reply]:
    """A model that calls `bash` with `command` (formatted with `turn`, 0-based) on its first
    `turns - 1` turns and `submit` on the last. It keeps no state: the turn is the number of
    assistant messages in the request, so any number of agents can share one server."""

    def reply(request: dict) -> Reply:
        done = sum(1 for m in request.get("messages", ()) if m.get("role") == "assistant")
        if done + 1 >= turns:
            call = ("submit", {})
        else:
            call = ("bash", {"command": command.format(turn=done)})
        return Reply(tool_calls=[call], prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)

    return reply


class AsyncFakeLLM:
    """FakeLLM's protocol served from one asyncio event loop (standalone `--asyncio`).

    Each connection is a coroutine and a delay is `asyncio.sleep`, so hundreds of concurrent
    delayed requests cost next to nothing. HTTP/1.1 keep-alive; no chunked request bodies
    (the openai SDK sends Content-Length). `record=False` keeps no copy of the requests.
    """

    def __init__(self, script: Script = (), *, model: str = "m", host: str = "127.0.0.1", port: int = 0,
                 latency: float = 0.0, record: bool = True):
        self.model = model
        self.latency = latency
        self.record = record
        self.requests: list[dict] = []
        self.request_headers: list[Headers] = []
        self.request_paths: list[str] = []
        self.served = 0
        self.aborted_streams = 0
        self.sent_tokens: dict[int, dict[str, list]] = {}
        self._script = script if callable(script) else list(script)
        self._next = 0
        self._lock = threading.Lock()
        self._sock = socket.create_server((host, port), backlog=4096)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopping = False

    port = property(lambda self: self._sock.getsockname()[1])
    base_url = property(lambda self: f"http://{self._sock.getsockname()[0]}:{self.port}/v1")
    anthropic_base_url = property(lambda self: f"http://{self._sock.getsockname()[0]}:{self.port}")

    def serve_forever(self) -> None:
        asyncio.run(self._main())

    def shutdown(self) -> None:
        """Stop serving (from any thread or a signal handler, also before serving began)."""
        self._stopping = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        if self._stopping:
            return
        server = await asyncio.start_server(self._connection, sock=self._sock, limit=1 << 24)
        async with server:
            await self._stop.wait()

    def _record_and_pick(self, request: dict, headers: Headers, path: str = "") -> tuple[int, Reply | None]:
        if self.record:
            return FakeLLM._record_and_pick(self, request, headers, path)  # type: ignore[arg-type]
        self.served += 1
        if callable(self._script):
            return self.served, self._script(request)
        if self._next < len(self._script):
            self._next += 1
            return self.served, self._script[self._next - 1]
        return self.served, None

    _exhausted_message = FakeLLM._exhausted_message

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path, version = (lines[0].split(" ", 2) + ["", ""])[:3]
                headers = Headers(tuple(part.strip() for part in line.split(":", 1))
                                  for line in lines[1:] if ":" in line)
                length = int(headers.get("content-length") or 0)
                raw = await reader.readexactly(length) if length else b""
                keep_alive = version.strip() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
                if not await self._answer(writer, method, path, headers, raw):
                    return
                if not keep_alive:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            return  # the client went away, or the server is stopping
        finally:
            writer.close()

    async def _answer(self, writer: asyncio.StreamWriter, method: str, path: str, headers: Headers,
                      raw: bytes) -> bool:
        """Answer one request; False when the connection is to be closed without more."""
        route = path.split("?", 1)[0].rstrip("/")
        if method == "GET":
            if route == "/v1/models":
                return await _write(writer, 200, {"object": "list", "data": [
                    {"id": self.model, "object": "model", "created": 0, "owned_by": "fake-llm"}]})
            return await _write(writer, 404, _error(f"no route GET {path}", "not_found"))
        api = _APIS.get(route)
        if method != "POST" or api is None:
            return await _write(writer, 404, _error(f"no route {method} {path}", "not_found"))
        try:
            request = json.loads(raw or b"{}")
        except json.JSONDecodeError as exc:
            return await _write(writer, 400, api.error(f"request body is not JSON: {exc}", "invalid_request_error"))
        number, reply = self._record_and_pick(request, headers, path)
        if reply is None:
            return await _write(writer, 500, api.error(self._exhausted_message(number), "script_exhausted"),
                                {"x-should-retry": "false"})
        wait = reply.delay + self.latency
        if wait > 0:
            await asyncio.sleep(wait)
        if reply.drop_connection:
            writer.transport.abort()
            return False
        if reply.status != 200:
            body = reply.body if reply.body is not None else api.error(
                f"fake error {reply.status}", "server_error" if reply.status >= 500 else "invalid_request_error")
            return await _write(writer, reply.status, body, reply.headers)
        if request.get("stream"):
            return await self._stream(writer, api.events(request, reply, self, number), reply)
        return await _write(writer, 200, api.whole(request, reply, self, number), reply.headers)

    async def _stream(self, writer: asyncio.StreamWriter, events: list[bytes], reply: Reply) -> bool:
        head = ["HTTP/1.1 200 OK"] + [f"{k}: {v}" for k, v in {**_SSE_HEADERS, **reply.headers}.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        try:
            for i, event in enumerate(events):
                if reply.stream_drop_after is not None and i >= reply.stream_drop_after:
                    writer.transport.abort()
                    return False
                if i and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                writer.write(_chunk(event))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            self.aborted_streams += 1
            return False
        return True


async def _write(writer: asyncio.StreamWriter, status: int, body: dict | str,
                 headers: dict[str, str] | None = None) -> bool:
    from http import HTTPStatus

    data = (body if isinstance(body, str) else json.dumps(body)).encode()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    head = [f"HTTP/1.1 {status} {phrase}",
            f"Content-Type: {'text/plain' if isinstance(body, str) else 'application/json'}",
            f"Content-Length: {len(data)}"]
    head += [f"{key}: {value}" for key, value in (headers or {}).items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
    try:
        await writer.drain()
    except ConnectionError:
        return False  # the client gave up (its timeout): nothing to answer
    return True


def main(argv: list[str] | None = None) -> None:
    """Serve until SIGTERM/SIGINT; every chat request gets `--reply` as its content (or, with
    `--turns N`, the scripted agent of `agent_script`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    parser.add_argument("--model", default="m")
    parser.add_argument("--reply", default="ok")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--asyncio", action="store_true",
                        help="serve from one asyncio event loop (keeps no copy of the requests)")
    parser.add_argument("--turns", type=int, default=0,
                        help="scripted agent: `bash` with --command on turns 1..N-1, `submit` on turn N")
    parser.add_argument("--command", default="echo step {turn} && ls | head -3",
                        help="the scripted agent's command; {turn} is the 0-based turn")
    parser.add_argument("--prompt-tokens", type=int, default=1000, help="usage reported per scripted reply")
    parser.add_argument("--completion-tokens", type=int, default=50, help="usage reported per scripted reply")
    args = parser.parse_args(argv)
    if args.turns > 0:
        script = agent_script(args.turns, args.command, prompt_tokens=args.prompt_tokens,
                              completion_tokens=args.completion_tokens)
    else:
        def script(request: dict) -> Reply:
            return Reply(args.reply)

    server: FakeLLM | AsyncFakeLLM
    if args.asyncio:
        server = AsyncFakeLLM(script, model=args.model, host=args.host, port=args.port, latency=args.latency,
                              record=False)
        stop_server = server.shutdown
    else:
        server = FakeLLM(script, model=args.model, host=args.host, port=args.port, latency=args.latency)

        def stop_server() -> None:
            threading.Thread(target=server._httpd.shutdown, daemon=True).start()

    def stop(signum: int, frame: object) -> None:
        stop_server()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fake LLM serving {args.model} at {server.base_url}", flush=True)
    server.serve_forever()
    if isinstance(server, FakeLLM):
        server._httpd.server_close()


if __name__ == "__main__":
    main()
