"""The model gateway over real sockets: clients (httpx, the openai SDK) on its Unix socket, or
through its forward.py on TCP, and tests/fake_llm.py as the upstream endpoint."""

from __future__ import annotations

import ast
import json
import os
import re
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import anthropic
import openai
import pytest
from fake_llm import AsyncFakeLLM, FakeLLM, Reply

from evalharness.model import gateway as gateway_module
from evalharness.model.gateway import CONTAINER_DIR, FORWARDER_SOURCE, SOCKET_NAME, GatewaySession, ModelGateway
from evalharness.core.errors import UserError
from evalharness.model.registry import ModelConfig, ModelRegistry
from evalharness.model.ratelimit import RequestLimiter

httpx = gateway_module.httpx  # the openai SDK's HTTP library (httpx2, or httpx for older SDKs)

KEY = "sk-real-upstream-key-0123456789"
FORWARDER = Path(gateway_module.__file__).with_name("forward.py")  # beside the package's __init__.py
MESSAGES = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix it."}]
BASH = {"type": "function", "function": {"name": "bash", "parameters": {
    "type": "object", "properties": {"command": {"type": "string"}}}}}


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def config_for(server: FakeLLM | AsyncFakeLLM, **changes) -> ModelConfig:
    """The packaged qwen3-coder entry (sampling, prices), both its endpoints pointed at the fake server."""
    changes = {"anthropic_base_url": server.anthropic_base_url, **changes}
    return replace(ModelRegistry.load(environ={}).get("qwen3-coder"), base_url=server.base_url, **changes)


@contextmanager
def gateway_session(server: FakeLLM, *, max_cost: float = 0.0, config_changes: dict | None = None,
                    **kw) -> Iterator[tuple[ModelGateway, GatewaySession]]:
    kw.setdefault("sleep", Sleeps())
    with ModelGateway(config_for(server, **(config_changes or {})), KEY, **kw) as gateway:
        yield gateway, gateway.open_session("demo__demo-1", max_cost=max_cost)


def http_client(session: GatewaySession, **kw) -> httpx.Client:
    """A plain HTTP client on the session's socket, with its token."""
    return httpx.Client(transport=httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME)),
                        base_url="http://gateway/v1", headers={"Authorization": f"Bearer {session.token}"},
                        timeout=30, **kw)


def sdk_client(session: GatewaySession) -> openai.OpenAI:
    """The openai SDK as a CLI agent would use it, over the session's socket."""
    transport = httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))
    return openai.OpenAI(base_url="http://gateway/v1", api_key=session.token, max_retries=0,
                         http_client=httpx.Client(transport=transport, timeout=30))


def chat(client: httpx.Client, messages=MESSAGES, **body) -> httpx.Response:
    return client.post("/chat/completions", json={"model": "whatever", "messages": messages, **body})


@pytest.fixture
def short_root() -> Iterator[Path]:
    """A folder whose socket paths fit sun_path (pytest's tmp_path may be too deep)."""
    with tempfile.TemporaryDirectory(prefix="gw-test-") as name:
        yield Path(name)


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# ---- auth and the key ------------------------------------------------------------------------
def test_a_wrong_or_missing_token_is_refused_and_the_upstream_never_sees_it():
    with FakeLLM([Reply("hi")]) as server, gateway_session(server) as (_, session):
        with http_client(session) as client:
            wrong = client.post("/chat/completions", json={"messages": MESSAGES},
                                headers={"Authorization": "Bearer eh-not-the-token"})
            missing = httpx.Client(transport=httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))).post(
                "http://gateway/v1/chat/completions", json={"messages": MESSAGES})
            real_key = client.post("/chat/completions", json={"messages": MESSAGES},
                                   headers={"Authorization": f"Bearer {KEY}"})
            assert (wrong.status_code, missing.status_code, real_key.status_code) == (401, 401, 401)
            assert wrong.json()["error"]["code"] == "invalid_api_key"
            assert server.requests == []
            ok = chat(client)
        assert ok.status_code == 200 and ok.json()["choices"][0]["message"]["content"] == "hi"
        assert session.token.startswith("eh-") and session.token != KEY
        assert server.request_headers[0]["authorization"] == f"Bearer {KEY}"  # the real key, upstream only
        assert KEY not in ok.text
        assert session.usage.refused == 3 and session.usage.requests == 4
        assert [line["status"] for line in session.requests_log()] == [401, 401, 401, 200]


def test_the_key_is_redacted_from_what_upstream_echoes_back():
    echo = Reply(status=400, body={"error": {"message": f"bad request from Bearer {KEY}"}})
    with FakeLLM([echo]) as server, gateway_session(server) as (_, session), http_client(session) as client:
        answer = chat(client)
    assert answer.status_code == 400
    assert KEY not in answer.text and "[REDACTED]" in answer.text
    (error,) = [e for e in session.events() if e["type"] == "api_error"]
    assert KEY not in json.dumps(session.events()) + json.dumps(session.requests_log())
    assert "HTTP 400" in error["message"] and "[REDACTED]" in error["message"]


def test_no_authorization_header_upstream_when_the_key_is_empty():
    with FakeLLM([Reply("hi")]) as server:
        with ModelGateway(config_for(server), "") as gateway, http_client(gateway.open_session("a")) as client:
            assert chat(client).status_code == 200
    assert "authorization" not in server.request_headers[0]


# ---- the request as sent upstream --------------------------------------------------------------
def test_model_id_and_registry_sampling_replace_the_clients_and_its_max_tokens_stay():
    with FakeLLM([Reply("a"), Reply("b"), Reply("c")], model="qwen3-coder-plus") as server:
        with gateway_session(server, config_changes={"extra_body": {"chat_template_kwargs": {"x": 1}}}) as (_, s):
            with http_client(s) as client:
                chat(client, temperature=0.0, top_p=0.1, top_k=3, max_tokens=100, tools=[BASH], seed=7)
                chat(client)
                chat(client, max_completion_tokens=50)
    first, second, third = server.requests
    assert first["model"] == "qwen3-coder-plus"  # the registry's id, not "whatever"
    assert (first["temperature"], first["top_p"], first["top_k"], first["repetition_penalty"]) == (0.7, 0.8, 20, 1.05)
    assert first["chat_template_kwargs"] == {"x": 1}
    assert first["max_tokens"] == 100 and first["tools"] == [BASH] and first["seed"] == 7
    assert first["messages"] == MESSAGES
    assert second["max_tokens"] == 8192  # the registry's, as the client sent none
    assert third["max_completion_tokens"] == 50 and "max_tokens" not in third


def test_unset_registry_sampling_leaves_the_clients_values():
    with FakeLLM([Reply("a")]) as server:
        unset = {"temperature": None, "top_k": None, "max_tokens": None}
        with gateway_session(server, config_changes=unset) as (_, session), http_client(session) as client:
            chat(client, temperature=0.2, top_k=5)
    (request,) = server.requests
    assert (request["temperature"], request["top_k"], request["top_p"]) == (0.2, 5, 0.8)
    assert "max_tokens" not in request


# ---- accounting ---------------------------------------------------------------------------------
def test_usage_and_cost_are_counted_per_session():
    prices = {"input_price": 2.0, "output_price": 10.0}
    script = [Reply("a", prompt_tokens=1000, completion_tokens=100),
              Reply("b", prompt_tokens=3000, completion_tokens=50)]
    with FakeLLM(script) as server, gateway_session(server, config_changes=prices) as (_, session):
        with http_client(session) as client:
            chat(client)
            chat(client)
    usage = session.usage
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (2, 4000, 150)
    assert usage.cost == pytest.approx((4000 * 2.0 + 150 * 10.0) / 1e6)
    assert usage.model_seconds > 0 and usage.retries == usage.errors == usage.refused == 0
    costs = [e["cost"] for e in session.events() if e["type"] == "assistant"]
    assert costs == pytest.approx([(1000 * 2 + 100 * 10) / 1e6, (3000 * 2 + 50 * 10) / 1e6])
    assert [line["prompt_tokens"] for line in session.requests_log()] == [1000, 3000]


def test_max_cost_refuses_with_402_once_spent():
    prices = {"input_price": 1000.0, "output_price": 0.0}  # 1000 prompt tokens = $1
    script = [Reply("a", prompt_tokens=1000, completion_tokens=1), Reply("b", prompt_tokens=1000, completion_tokens=1)]
    with FakeLLM(script) as server:
        with gateway_session(server, max_cost=1.5, config_changes=prices) as (_, session):
            with http_client(session) as client:
                answers = [chat(client) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 402]  # $1 < $1.5 after the first; $2 after the second
    assert answers[2].json() == {"error": {
        "message": "evalharness gateway: this instance's cost limit of $1.5 is spent",
        "type": "insufficient_quota", "code": "max_cost"}}
    assert len(server.requests) == 2
    assert session.usage.refused == 1 and session.usage.requests == 3 and session.usage.cost == pytest.approx(2.0)
    assert session.events()[-1]["type"] == "api_error" and session.events()[-1]["status"] == 402


# ---- retries and limits -----------------------------------------------------------------------------
def test_429_with_retry_after_and_500_are_retried_with_the_llm_clients_policy():
    script = [Reply(status=429, headers={"retry-after": "7"}), Reply(status=500), Reply("finally")]
    sleeps = Sleeps()
    with FakeLLM(script) as server, gateway_session(server, sleep=sleeps, rng=lambda: 0.0) as (_, session):
        with http_client(session) as client:
            answer = chat(client)
    assert answer.status_code == 200 and answer.json()["choices"][0]["message"]["content"] == "finally"
    assert len(server.requests) == 3
    assert sleeps == [7.0, 0.0]  # Retry-After honoured; then full jitter (rng = 0)
    assert session.usage.retries == 2 and session.usage.errors == 0
    (assistant,) = [e for e in session.events() if e["type"] == "assistant"]
    assert assistant["retries"] == 2 and session.requests_log()[0]["retries"] == 2


def test_giving_up_relays_the_upstreams_last_status_and_body():
    script = [Reply(status=503, body={"error": {"message": f"overloaded {i}"}}) for i in range(3)]
    with FakeLLM(script) as server, gateway_session(server, max_attempts=3) as (_, session):
        with http_client(session) as client:
            answer = chat(client)
    assert answer.status_code == 503 and answer.json()["error"]["message"] == "overloaded 2"
    assert answer.headers["x-should-retry"] == "false"  # the gateway retried already
    assert len(server.requests) == 3
    assert session.usage.errors == 1 and session.usage.retries == 2
    (error,) = [e for e in session.events() if e["type"] == "api_error"]
    assert error["message"] == "HTTP 503 after 3 attempts: overloaded 2"


def test_client_errors_are_relayed_at_once_and_the_retry_budget_bounds_waits():
    script = [Reply(status=400, body={"error": {"message": "maximum context length is 10"}}),
              Reply(status=429, headers={"retry-after": "100"})]
    with FakeLLM(script) as server, gateway_session(server, retry_budget=60) as (_, session):
        with http_client(session) as client:
            bad = chat(client)
            limited = chat(client)
    assert bad.status_code == 400 and "maximum context length" in bad.json()["error"]["message"]
    assert limited.status_code == 429 and len(server.requests) == 2  # Retry-After 100 > the 60 s budget
    messages = [e["message"] for e in session.events() if e["type"] == "api_error"]
    assert messages[0].startswith("HTTP 400:") and "retry budget of 60s spent" in messages[1]


def test_an_unreachable_upstream_is_a_502_naming_the_cause():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once closed
    config = replace(ModelRegistry.load(environ={}).get("qwen3-coder"), base_url=f"http://127.0.0.1:{port}/v1")
    with ModelGateway(config, KEY, max_attempts=2, sleep=Sleeps()) as gateway:
        session = gateway.open_session("a")
        with http_client(session) as client:
            answer = chat(client)
    assert answer.status_code == 502
    assert "connection error after 2 attempts" in answer.json()["error"]["message"]
    assert session.usage.retries == 1 and session.usage.errors == 1


def test_a_timeout_is_retried():
    with FakeLLM([Reply("slow", delay=1.0), Reply("quick")]) as server:
        with gateway_session(server, config_changes={"request_timeout": 0.3}) as (_, session):
            with http_client(session) as client:
                answer = chat(client)
    assert answer.json()["choices"][0]["message"]["content"] == "quick"
    assert session.usage.retries == 1


def test_every_upstream_attempt_takes_a_limiter_slot():
    limiter = RequestLimiter(max_concurrent=1)
    with FakeLLM([Reply("a", delay=0.3), Reply("b", delay=0.3)]) as server:
        with gateway_session(server, limiter=limiter) as (gateway, session):
            other = gateway.open_session("demo__demo-2")
            clients = [http_client(session), http_client(other)]
            start = time.monotonic()
            threads = [threading.Thread(target=chat, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.monotonic() - start
            for c in clients:
                c.close()
    stats = limiter.stats()
    assert stats.requests == 2 and stats.waited == 1 and stats.in_flight == 0
    assert elapsed >= 0.55  # one after the other
    assert session.usage.requests == other.usage.requests == 1


# ---- streaming -----------------------------------------------------------------------------------
def _collect(stream) -> tuple[str, dict[int, dict], str, list]:
    content, finish = "", ""
    calls: dict[int, dict] = {}
    usage_chunks: list = []
    for chunk in stream:
        if not chunk.choices:
            usage_chunks.append(chunk.usage)
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for part in delta.tool_calls or []:
            call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += part.id or ""
            call["name"] += (part.function.name or "") if part.function else ""
            call["arguments"] += (part.function.arguments or "") if part.function else ""
        finish = chunk.choices[0].finish_reason or finish
    return content, calls, finish, usage_chunks


def test_streams_are_relayed_to_the_sdk_and_reassembled_for_the_record():
    reply = Reply("Let me look at the files.", tool_calls=[("bash", {"command": "ls -la /testbed"}),
                                                          ("bash", {"command": "git status"})],
                  prompt_tokens=500, completion_tokens=40)
    with FakeLLM([reply, reply]) as server, gateway_session(server) as (_, session):
        sdk = sdk_client(session)
        hidden = _collect(sdk.chat.completions.create(model="x", messages=MESSAGES, tools=[BASH], stream=True))
        shown = _collect(sdk.chat.completions.create(model="x", messages=MESSAGES, tools=[BASH], stream=True,
                                                     stream_options={"include_usage": True}))
    content, calls, finish, usage_chunks = hidden
    assert content == "Let me look at the files." and finish == "tool_calls"
    assert [(c["id"], c["name"], json.loads(c["arguments"])) for c in calls.values()] == [
        ("call_1_0", "bash", {"command": "ls -la /testbed"}), ("call_1_1", "bash", {"command": "git status"})]
    assert usage_chunks == []  # not asked for: the gateway's own usage chunk is not relayed
    assert [u.prompt_tokens for u in shown[3]] == [500]  # asked for: relayed
    assert all(r["stream_options"] == {"include_usage": True} for r in server.requests)
    assert session.usage.prompt_tokens == 1000 and session.usage.completion_tokens == 80
    first = [e for e in session.events() if e["type"] == "assistant"][0]
    assert first["stream"] is True and first["content"] == "Let me look at the files."
    assert first["tool_calls"] == [{"id": "call_1_0", "name": "bash", "arguments": {"command": "ls -la /testbed"}},
                                   {"id": "call_1_1", "name": "bash", "arguments": {"command": "git status"}}]
    assert first["usage"] == {"prompt_tokens": 500, "completion_tokens": 40} and first["finish_reason"] == "tool_calls"


def test_a_stream_is_retried_before_its_first_event_and_cut_off_after():
    script = [Reply(status=429), Reply("x", stream_drop_after=0), Reply("hello world again"),
              Reply("partial answer here", stream_drop_after=3)]
    with FakeLLM(script) as server, gateway_session(server) as (_, session):
        sdk = sdk_client(session)
        content, *_ = _collect(sdk.chat.completions.create(model="x", messages=MESSAGES, stream=True))
        assert content == "hello world again" and len(server.requests) == 3
        with pytest.raises((openai.APIError, httpx.HTTPError)):
            _collect(sdk.chat.completions.create(model="x", messages=MESSAGES, stream=True))
    assert len(server.requests) == 4  # relayed already: not retried
    assert session.usage.retries == 2 and session.usage.errors == 1
    assert "stream broke" in session.events()[-1]["message"]


def test_a_client_leaving_mid_stream_closes_the_upstream_stream_and_the_gateway_serves_on():
    long = Reply(" ".join(["word"] * 60), chunk_delay=0.05)
    limiter = RequestLimiter(max_concurrent=4)
    with FakeLLM([long, Reply("next")]) as server, gateway_session(server, limiter=limiter) as (_, session):
        client = http_client(session)
        with client.stream("POST", "/chat/completions", json={"messages": MESSAGES, "stream": True}) as response:
            first = next(response.iter_bytes())
            assert first.startswith(b"data: ")
        client.close()  # gone, with most of the stream unsent
        wait_for(lambda: server.aborted_streams == 1)  # the gateway closed its upstream stream
        wait_for(lambda: session.usage.errors == 1)
        with http_client(session) as again:
            assert chat(again).json()["choices"][0]["message"]["content"] == "next"
    assert limiter.stats().in_flight == 0
    errors = [e for e in session.events() if e["type"] == "api_error"]
    assert errors[0]["message"] == "the client disconnected mid-stream"


# ---- the trajectory ------------------------------------------------------------------------------
def test_events_record_each_requests_new_messages_and_the_answers():
    script = [Reply("Looking.", tool_calls=[("bash", {"command": "ls"})], prompt_tokens=100, completion_tokens=10),
              Reply(tool_calls=[("submit", "not json")]), Reply("ok")]
    with FakeLLM(script) as server, gateway_session(server) as (_, session), http_client(session) as client:
        history = list(MESSAGES)
        first = chat(client, history).json()["choices"][0]["message"]
        history += [first, {"role": "tool", "tool_call_id": first["tool_calls"][0]["id"], "content": "a.py\nb.py"}]
        second = chat(client, history).json()["choices"][0]["message"]
        history += [second, {"role": "tool", "tool_call_id": second["tool_calls"][0]["id"],
                             "content": [{"type": "text", "text": "submitted"}]},
                    {"role": "user", "content": "Anything else?"}]
        chat(client, history)
    events = session.events()
    assert [(e["type"], e["turn"]) for e in events] == [
        ("system", 1), ("user", 1), ("assistant", 1), ("tool", 2), ("assistant", 2), ("tool", 3), ("user", 3),
        ("assistant", 3)]
    system, user, answer, tool, answer2, tool2, user2, _ = events
    assert system["content"] == "You fix bugs." and user["content"] == "Fix it."
    assert answer["content"] == "Looking." and answer["tool_calls"] == [
        {"id": "call_1_0", "name": "bash", "arguments": {"command": "ls"}}]
    assert answer["usage"] == {"prompt_tokens": 100, "completion_tokens": 10} and answer["stream"] is False
    assert answer["status"] == 200 and answer["llm_seconds"] >= 0 and answer["retries"] == 0
    assert (tool["tool_call_id"], tool["name"], tool["arguments"], tool["output"]) == (
        "call_1_0", "bash", {"command": "ls"}, "a.py\nb.py")
    assert answer2["tool_calls"] == [{"id": "call_2_0", "name": "submit", "arguments": "not json"}]
    assert (tool2["name"], tool2["output"]) == ("submit", "submitted") and user2["content"] == "Anything else?"
    assert all(isinstance(e["t"], float) for e in events)


def test_a_rewritten_history_is_recorded_again_from_where_it_changed_and_side_requests_do_not_repeat_it():
    replies = [Reply(tool_calls=[("bash", {"command": f"step {i}"})]) for i in range(5)]
    with FakeLLM(replies) as server, gateway_session(server) as (_, session), http_client(session) as client:
        history = list(MESSAGES)
        for i in range(2):
            answer = chat(client, history).json()["choices"][0]["message"]
            history += [answer, {"role": "tool", "tool_call_id": answer["tool_calls"][0]["id"], "content": f"out {i}"}]
        side = [MESSAGES[0], {"role": "user", "content": "Is the task done? Answer yes or no."}]
        chat(client, side)  # a side request: another history
        chat(client, history)  # the main thread goes on: only its new tool output is recorded
        compressed = [MESSAGES[0], {"role": "user", "content": "Summary: ran step 0 and step 1."}]
        chat(client, compressed)
    by_turn = {}
    for e in session.events():
        if e["type"] != "assistant":
            by_turn.setdefault(e["turn"], []).append((e["type"], e.get("content") or e.get("output")))
    assert by_turn == {
        1: [("system", "You fix bugs."), ("user", "Fix it.")],
        2: [("tool", "out 0")],
        3: [("user", "Is the task done? Answer yes or no.")],
        4: [("tool", "out 1")],
        5: [("user", "Summary: ran step 0 and step 1.")],  # the system prompt did not change
    }
    assert len([e for e in session.events() if e["type"] == "assistant"]) == 5


# ---- HTTP edges ----------------------------------------------------------------------------------
def test_bodies_over_32_mib_get_413_and_the_connection_lives_on():
    with FakeLLM([Reply("small")]) as server, gateway_session(server) as (_, session), http_client(session) as client:
        big = client.post("/chat/completions", content=b"x" * (32 * 1024 * 1024 + 1),
                          headers={"Content-Type": "application/json"})
        small = chat(client)
    assert big.status_code == 413 and big.json()["error"]["code"] == "too_large"
    assert small.status_code == 200 and len(server.requests) == 1
    assert session.usage.errors == 1


def test_unknown_routes_get_404_models_lists_the_configured_model_and_bad_json_400():
    with FakeLLM([]) as server, gateway_session(server) as (_, session), http_client(session) as client:
        missing = client.get("/completions")
        post_missing = client.post("/embeddings", json={"input": "x"})
        models = client.get("/models")
        bare = client.post("http://gateway/chat/completions", content=b"{not json")
    assert missing.status_code == post_missing.status_code == 404
    assert missing.json()["error"]["message"] == "evalharness gateway: no route GET /v1/completions"
    assert [m["id"] for m in models.json()["data"]] == ["qwen3-coder-plus"]
    assert bare.status_code == 400 and "not JSON" in bare.json()["error"]["message"]  # the route without /v1
    assert server.requests == []


def test_a_chunked_request_body_is_read():
    with FakeLLM([Reply("chunked ok")]) as server, gateway_session(server) as (_, s), http_client(s) as client:
        body = json.dumps({"messages": MESSAGES}).encode()
        answer = client.post("/chat/completions", content=iter([body[:10], body[10:]]))  # no length: chunked
    assert answer.json()["choices"][0]["message"]["content"] == "chunked ok"
    assert server.requests[0]["messages"] == MESSAGES


# ---- sessions, files ------------------------------------------------------------------------------
def test_session_files_modes_and_cleanup(short_root):
    root = short_root / "gw"
    with FakeLLM([]) as server:
        gateway = ModelGateway(config_for(server), KEY, root=root)
        one, two = gateway.open_session("a__a-1"), gateway.open_session("a__a-1")
        sock = one.directory / SOCKET_NAME
        assert one.directory != two.directory and one.token != two.token
        assert one.directory.parent == gateway.directory and gateway.directory.parent == root
        assert stat.S_ISSOCK(sock.stat().st_mode) and stat.S_IMODE(sock.stat().st_mode) == 0o666
        assert stat.S_IMODE(one.directory.stat().st_mode) == 0o755
        with http_client(two) as client:  # one session's token is no good on another's socket
            assert client.get("/models", headers={"Authorization": f"Bearer {one.token}"}).status_code == 401
        with http_client(one) as client:
            assert client.get("/models").status_code == 200
            one.close()
            one.close()  # idempotent
            assert not one.directory.exists()
            with pytest.raises(httpx.TransportError):
                client.get("/models")
        gateway.close()
    assert not gateway.directory.exists() and not two.directory.exists()
    assert CONTAINER_DIR == "/run/evalharness-gateway" and SOCKET_NAME == "gateway.sock"


def test_a_gateway_folder_left_by_a_killed_process_is_removed_by_the_next_gateway(short_root):
    dead = short_root / "evalharness-gateway-dead"
    (dead / "abcd").mkdir(parents=True)
    (dead / ".evalharness-owner").touch()  # its lock is free: no process holds it
    with FakeLLM([]) as server:
        with ModelGateway(config_for(server), KEY, root=short_root) as gateway:
            assert not dead.exists()
            with ModelGateway(config_for(server), KEY, root=short_root) as other:  # a live one is kept
                assert gateway.directory.exists() and other.directory.exists()


def test_a_root_deeper_than_a_socket_path_may_be_still_works(tmp_path):
    root = tmp_path / ("d" * 120)
    with FakeLLM([Reply("deep")]) as server:
        with ModelGateway(config_for(server), KEY, root=root) as gateway:
            session = gateway.open_session("a")
            assert len(str(session.directory / SOCKET_NAME)) > 108
            fd = os.open(session.directory, os.O_PATH)
            try:  # a host client needs a short path as well; the container's is always short
                uds = f"/proc/self/fd/{fd}/{SOCKET_NAME}"
                with httpx.Client(transport=httpx.HTTPTransport(uds=uds), base_url="http://gateway/v1",
                                  headers={"Authorization": f"Bearer {session.token}"}) as client:
                    assert chat(client).json()["choices"][0]["message"]["content"] == "deep"
            finally:
                os.close(fd)
        assert list(root.iterdir()) == []


# ---- the forwarder -------------------------------------------------------------------------------
def test_forwarder_source_is_the_file_python3_6_syntax_and_its_default_socket_matches():
    assert FORWARDER_SOURCE == FORWARDER.read_text()
    tree = ast.parse(FORWARDER_SOURCE, feature_version=(3, 6))
    annotated = [node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
                 and (node.returns or any(a.annotation for a in node.args.args))]
    assert annotated == []  # type comments only: nothing evaluated at run time on an old Python
    imports = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names}
    imports |= {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imports <= set(sys.stdlib_module_names)
    assert f'CONTAINER_SOCKET = "{CONTAINER_DIR}/{SOCKET_NAME}"' in FORWARDER_SOURCE


@contextmanager
def forwarder(session: GatewaySession) -> Iterator[tuple[subprocess.Popen, int]]:
    proc = subprocess.Popen([sys.executable, str(FORWARDER), "--listen", "127.0.0.1:0",
                             "--socket", str(session.directory / SOCKET_NAME)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"listening on 127\.0\.0\.1:(\d+) ", line)
        assert found, line
        yield proc, int(found.group(1))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_the_forwarder_pipes_tcp_to_the_socket_both_ways_and_exits_on_sigterm():
    reply = Reply("through the forwarder", tool_calls=[("bash", {"command": "pwd"})])
    with FakeLLM([reply, reply, Reply("raw")]) as server, gateway_session(server) as (_, session):
        with forwarder(session) as (proc, port):
            sdk = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key=session.token, max_retries=0)
            whole = sdk.chat.completions.create(model="x", messages=MESSAGES)
            streamed = _collect(sdk.chat.completions.create(model="x", messages=MESSAGES, stream=True))
            with socket.create_connection(("127.0.0.1", port)) as raw:  # HTTP/1.0, half-closed after the request
                body = json.dumps({"messages": MESSAGES}).encode()
                raw.sendall(b"POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer " + session.token.encode()
                            + b"\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                raw.shutdown(socket.SHUT_WR)
                answer = b""
                while data := raw.recv(65536):
                    answer += data
            proc.terminate()
            assert proc.wait(timeout=5) == 0
            assert proc.stdout.read() == "" and proc.stderr.read() == ""  # nothing but the one line
    assert whole.choices[0].message.content == "through the forwarder"
    assert whole.choices[0].message.tool_calls[0].function.name == "bash"
    assert streamed[0] == "through the forwarder" and streamed[1][0]["name"] == "bash"
    assert answer.startswith(b"HTTP/1.1 200") and b'"content": "raw"' in answer
    assert session.usage.requests == 3


def test_the_forwarder_drops_a_connection_when_the_gateway_is_gone():
    with FakeLLM([]) as server, gateway_session(server) as (_, session):
        with forwarder(session) as (proc, port):
            session.close()
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(b"GET /v1/models HTTP/1.1\r\n\r\n")
                raw.settimeout(5)
                try:
                    assert raw.recv(100) == b""  # closed, not hung
                except ConnectionResetError:  # closed with the request unread
                    pass
            assert proc.poll() is None  # and it serves on
            assert "cannot connect" in proc.stderr.readline()


# ---- the fake server's streaming ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_both_fake_servers_stream_the_same_protocol(kind):
    reply = Reply("abc def", tool_calls=[("bash", {"command": "ls"})], prompt_tokens=9, completion_tokens=3)
    if kind == "threads":
        server = FakeLLM([reply, reply]).start()
        stop = server.stop
    else:
        server = AsyncFakeLLM([reply, reply])
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        stop = server.shutdown
    try:
        sdk = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
        plain = _collect(sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True))
        usage = _collect(sdk.chat.completions.create(model="m", messages=MESSAGES, stream=True,
                                                     stream_options={"include_usage": True}))
    finally:
        stop()
    assert plain[:3] == ("abc def", {0: {"id": "call_1_0", "name": "bash", "arguments": '{"command": "ls"}'}},
                         "tool_calls")
    assert plain[3] == [] and [(u.prompt_tokens, u.completion_tokens) for u in usage[3]] == [(9, 3)]


def test_no_temporary_files_are_left(short_root):
    with FakeLLM([Reply("a")]) as server:
        with ModelGateway(config_for(server), KEY, root=short_root) as gateway:
            with gateway.open_session("a") as session, http_client(session) as client:
                chat(client)
            gateway.open_session("b")  # left open: the gateway closes it
    assert list(short_root.iterdir()) == []


# ---- the Anthropic Messages API (Claude Code's) ------------------------------------------------------
SYSTEM = [{"type": "text", "text": "You fix bugs.", "cache_control": {"type": "ephemeral"}}]
PROMPT = [{"role": "user", "content": "Fix it."}]
BASH_TOOL = {"name": "Bash", "description": "Run a command",
             "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}


def anthropic_sdk(session: GatewaySession, *, header: str = "x-api-key", token: str | None = None,
                  **kw) -> anthropic.Anthropic:
    """The official SDK as Claude Code uses it, over the session's socket: the token as
    `x-api-key` (ANTHROPIC_API_KEY) or as `Authorization: Bearer` (ANTHROPIC_AUTH_TOKEN)."""
    token = session.token if token is None else token
    auth = {"api_key": token} if header == "x-api-key" else {"auth_token": token, "api_key": None}
    transport = httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))
    return anthropic.Anthropic(base_url="http://gateway", max_retries=0,
                               http_client=httpx.Client(transport=transport, timeout=30), **auth, **kw)


def messages(client: httpx.Client, history=PROMPT, **body) -> httpx.Response:
    """A raw Messages request on http_client's connection (its Bearer token)."""
    return client.post("http://gateway/v1/messages", json={"model": "claude-whatever", "max_tokens": 100,
                                                          "system": SYSTEM, "messages": history, **body})


def test_anthropic_messages_take_the_token_as_x_api_key_or_bearer_and_send_the_real_key_both_ways():
    with FakeLLM([Reply("one"), Reply("two"), Reply("three")]) as server, gateway_session(server) as (_, session):
        by_key = anthropic_sdk(session, header="x-api-key")
        by_bearer = anthropic_sdk(session, header="bearer")
        first = by_key.messages.create(model="claude-x", max_tokens=50, messages=PROMPT)
        second = by_bearer.messages.create(model="claude-x", max_tokens=50, messages=PROMPT)
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))) as raw:
            third = raw.post("http://gateway/v1/messages?beta=true",  # as Claude Code's SDK asks
                             json={"model": "claude-x", "max_tokens": 50, "messages": PROMPT},
                             headers={"x-api-key": session.token, "anthropic-version": "2023-06-01",
                                      "anthropic-beta": "interleaved-thinking-2025-05-14"}).json()
        refused = []
        for client in (anthropic_sdk(session, token="eh-not-the-token"), anthropic_sdk(session, token=KEY),
                       anthropic_sdk(session, header="bearer", token="eh-wrong")):
            with pytest.raises(anthropic.AuthenticationError) as caught:
                client.messages.create(model="claude-x", max_tokens=50, messages=PROMPT)
            refused.append(caught.value)
    assert [first.content[0].text, second.content[0].text, third["content"][0]["text"]] == ["one", "two", "three"]
    assert refused[0].body == {"type": "error", "error": {
        "type": "authentication_error",
        "message": "evalharness gateway: invalid API key (expected this session's token)"}}
    assert len(server.requests) == 3 and session.usage.refused == 3 and session.usage.requests == 6
    for headers in server.request_headers:  # the real key, both ways; the client's version header
        assert headers["x-api-key"] == KEY and headers["authorization"] == f"Bearer {KEY}"
    assert [h["anthropic-version"] for h in server.request_headers] == [
        by_key.default_headers["anthropic-version"]] * 2 + ["2023-06-01"]
    assert "anthropic-beta" not in server.request_headers[0]
    assert server.request_headers[2]["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert server.request_paths == ["/v1/messages", "/v1/messages", "/v1/messages?beta=true"]  # the query goes on
    assert [line["path"] for line in session.requests_log()[:3]] == ["/v1/messages", "/v1/messages",
                                                                    "/v1/messages?beta=true"]


def test_anthropic_messages_get_the_registry_model_and_sampling_and_keep_the_clients_max_tokens():
    with FakeLLM([Reply("a"), Reply("b")], model="qwen3-coder-plus") as server:
        with gateway_session(server) as (_, session), http_client(session) as client:
            messages(client, temperature=0.0, top_k=3, tools=[BASH_TOOL], thinking={"type": "disabled"})
            bare = client.post("/messages", json={"model": "claude-x", "messages": PROMPT},
                               headers={"anthropic-version": "2099-01-01"})
    first, second = server.requests
    assert first["model"] == "qwen3-coder-plus" and bare.json()["model"] == "qwen3-coder-plus"
    assert (first["temperature"], first["top_p"], first["top_k"]) == (0.7, 0.8, 20)
    assert "repetition_penalty" not in first  # not an Anthropic parameter
    assert first["max_tokens"] == 100 and first["tools"] == [BASH_TOOL] and first["thinking"] == {"type": "disabled"}
    assert first["system"] == SYSTEM and first["messages"] == PROMPT  # the rest as the client sent it
    assert second["max_tokens"] == 8192  # the registry's: the client sent none
    assert server.request_headers[1]["anthropic-version"] == "2099-01-01"
    assert server.request_headers[0]["anthropic-version"] == "2023-06-01"  # the default, none sent


def test_anthropic_usage_counts_cache_tokens_as_input_and_prices_it_whole_and_streamed():
    prices = {"input_price": 2.0, "output_price": 10.0}
    reply = Reply("ok", prompt_tokens=1000, completion_tokens=100, cache_read_tokens=500, cache_creation_tokens=200)
    with FakeLLM([reply, reply]) as server, gateway_session(server, config_changes=prices) as (_, session):
        sdk = anthropic_sdk(session)
        whole = sdk.messages.create(model="x", max_tokens=50, messages=PROMPT)
        with sdk.messages.stream(model="x", max_tokens=50, messages=PROMPT) as stream:
            streamed = stream.get_final_message()
    assert whole.usage.input_tokens == 1000 and streamed.usage.output_tokens == 100  # relayed as they came
    usage = session.usage
    assert (usage.requests, usage.prompt_tokens, usage.completion_tokens) == (2, 3400, 200)
    assert usage.cost == pytest.approx(2 * (1700 * 2.0 + 100 * 10.0) / 1e6)
    answers = [e for e in session.events() if e["type"] == "assistant"]
    assert [a["usage"] for a in answers] == [{"prompt_tokens": 1700, "completion_tokens": 100}] * 2
    assert [a["stream"] for a in answers] == [False, True]
    assert [line["prompt_tokens"] for line in session.requests_log()] == [1700, 1700]


def test_anthropic_streams_are_relayed_to_the_sdk_and_reassembled_for_the_record():
    reply = Reply("Let me look.", tool_calls=[("Bash", {"command": "ls -la /testbed"}), ("Read", {"file_path": "/a"})],
                  prompt_tokens=500, completion_tokens=40, chunk_delay=0.01)
    with FakeLLM([reply]) as server, gateway_session(server) as (_, session):
        with anthropic_sdk(session).messages.stream(model="x", max_tokens=50, messages=PROMPT, system=SYSTEM,
                                                    tools=[BASH_TOOL]) as stream:
            kinds = [event.type for event in stream]
            final = stream.get_final_message()
            counted = (session.usage.requests, session.usage.completion_tokens, session.events()[-1]["type"])
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop" and "content_block_delta" in kinds
    assert counted == (1, 40, "assistant")  # message_stop was held back until the request was recorded
    assert final.content[0].text == "Let me look."
    assert [(b.id, b.name, b.input) for b in final.content[1:]] == [
        ("toolu_1_0", "Bash", {"command": "ls -la /testbed"}), ("toolu_1_1", "Read", {"file_path": "/a"})]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == 40
    assert server.requests[0]["stream"] is True and "stream_options" not in server.requests[0]
    (answer,) = [e for e in session.events() if e["type"] == "assistant"]
    assert answer["content"] == "Let me look." and answer["stream"] is True and answer["finish_reason"] == "tool_use"
    assert answer["tool_calls"] == [{"id": "toolu_1_0", "name": "Bash", "arguments": {"command": "ls -la /testbed"}},
                                    {"id": "toolu_1_1", "name": "Read", "arguments": {"file_path": "/a"}}]
    assert answer["usage"] == {"prompt_tokens": 500, "completion_tokens": 40}


def test_anthropic_max_cost_refuses_with_402_in_anthropics_error_shape():
    prices = {"input_price": 1000.0, "output_price": 0.0}  # 1000 input tokens = $1
    script = [Reply("a", prompt_tokens=1000, completion_tokens=1), Reply("b", prompt_tokens=1000, completion_tokens=1)]
    with FakeLLM(script) as server:
        with gateway_session(server, max_cost=1.5, config_changes=prices) as (_, session):
            sdk = anthropic_sdk(session)
            for _ in range(2):
                sdk.messages.create(model="x", max_tokens=50, messages=PROMPT)
            with pytest.raises(anthropic.APIStatusError) as caught:
                sdk.messages.create(model="x", max_tokens=50, messages=PROMPT)
    assert caught.value.status_code == 402
    assert caught.value.body == {"type": "error", "error": {
        "type": "billing_error", "message": "evalharness gateway: this instance's cost limit of $1.5 is spent"}}
    assert len(server.requests) == 2 and session.usage.refused == 1 and session.usage.requests == 3
    assert session.events()[-1]["type"] == "api_error" and session.events()[-1]["status"] == 402


def test_anthropic_histories_are_recorded_in_the_trajectory_format_of_chat_completions():
    script = [Reply("Looking.", tool_calls=[("Bash", {"command": "ls"})], prompt_tokens=100, completion_tokens=10),
              Reply(tool_calls=[("Read", {"file_path": "/testbed/a.py"}), ("Bash", {"command": "pwd"})]),
              Reply("Done.")]
    with FakeLLM(script) as server, gateway_session(server) as (_, session), http_client(session) as client:
        history: list = [{"role": "user", "content": [{"type": "text", "text": "<reminder>ctx</reminder>"},
                                                      {"type": "text", "text": "Fix it.",
                                                       "cache_control": {"type": "ephemeral"}}]}]
        first = messages(client, history).json()
        history = [{"role": "user", "content": [{"type": "text", "text": "<reminder>ctx</reminder>"},
                                                {"type": "text", "text": "Fix it."}]},  # its cache mark moved on
                   {"role": "assistant", "content": first["content"]},
                   {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first["content"][1]["id"],
                                                 "content": "a.py\nb.py", "cache_control": {"type": "ephemeral"}}]}]
        second = messages(client, history).json()
        history[-1]["content"][0].pop("cache_control")
        history += [{"role": "assistant", "content": second["content"]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": second["content"][0]["id"],
                         "content": [{"type": "text", "text": "print('a')"}]},
                        {"type": "tool_result", "tool_use_id": second["content"][1]["id"], "content": "/testbed",
                         "is_error": False},
                        {"type": "text", "text": "Anything else?"}]}]
        messages(client, history)
    events = session.events()
    assert [(e["type"], e["turn"]) for e in events] == [
        ("system", 1), ("user", 1), ("assistant", 1), ("tool", 2), ("assistant", 2), ("tool", 3), ("tool", 3),
        ("user", 3), ("assistant", 3)]
    system, user, answer, tool, answer2, read, pwd, user2, last = events
    assert system["content"] == "You fix bugs." and user["content"] == "<reminder>ctx</reminder>\nFix it."
    assert answer["content"] == "Looking." and answer["tool_calls"] == [
        {"id": "toolu_1_0", "name": "Bash", "arguments": {"command": "ls"}}]
    assert answer["usage"] == {"prompt_tokens": 100, "completion_tokens": 10} and answer["finish_reason"] == "tool_use"
    assert (tool["tool_call_id"], tool["name"], tool["arguments"], tool["output"]) == (
        "toolu_1_0", "Bash", {"command": "ls"}, "a.py\nb.py")
    assert [c["name"] for c in answer2["tool_calls"]] == ["Read", "Bash"] and answer2["content"] == ""
    assert (read["name"], read["arguments"], read["output"]) == ("Read", {"file_path": "/testbed/a.py"}, "print('a')")
    assert (pwd["name"], pwd["output"]) == ("Bash", "/testbed") and user2["content"] == "Anything else?"
    assert last["content"] == "Done." and last["finish_reason"] == "end_turn"


def test_anthropic_errors_retries_and_a_broken_stream_keep_anthropics_shapes():
    script = [Reply(status=529, body={"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}),
              Reply("after the retry"), Reply("partial answer here", stream_drop_after=4)]
    sleeps = Sleeps()
    with FakeLLM(script) as server, gateway_session(server, sleep=sleeps, rng=lambda: 0.0) as (_, session):
        sdk = anthropic_sdk(session)
        assert sdk.messages.create(model="x", max_tokens=9, messages=PROMPT).content[0].text == "after the retry"
        with pytest.raises(anthropic.APIError) as caught:
            with sdk.messages.stream(model="x", max_tokens=9, messages=PROMPT) as stream:
                stream.get_final_message()
    assert len(server.requests) == 3 and session.usage.retries == 1 and sleeps == [0.0]
    assert "upstream stream broke" in str(caught.value)  # the gateway's error event, as the SDK reads them
    assert "stream broke" in session.events()[-1]["message"] and session.usage.errors == 1


def test_a_model_without_an_anthropic_endpoint_answers_404_saying_so_and_its_body_errors_are_anthropic():
    with FakeLLM([]) as server, gateway_session(server, config_changes={"anthropic_base_url": ""}) as (_, session):
        with http_client(session) as client:
            missing = messages(client)
            bad = client.post("http://gateway/v1/messages", content=b"{not json")
    assert missing.status_code == 404 and missing.headers["x-should-retry"] == "false"
    assert missing.json()["error"] == {"type": "not_found_error", "message": (
        "evalharness gateway: model 'qwen3-coder' has no Anthropic-compatible endpoint: set anthropic_base_url "
        "in its models.toml entry")}
    assert bad.status_code == 400 and bad.json()["type"] == "error" and "not JSON" in bad.json()["error"]["message"]
    assert server.requests == [] and session.usage.errors == 2
    assert session.events()[-1]["type"] == "api_error" and "anthropic_base_url" in session.events()[-1]["message"]
    assert gateway_module.APIS == ("openai", "anthropic")


def test_anthropic_base_url_is_read_from_models_toml_and_checked():
    registry = ModelRegistry.from_layers([("test.toml", {"models": {"m": {
        "base_url": "http://h/v1", "model": "m", "anthropic_base_url": "https://h/apps/anthropic"}}})])
    assert registry.get("m").anthropic_base_url == "https://h/apps/anthropic"
    assert ModelRegistry.load(environ={}).get("qwen3-coder").anthropic_base_url == (
        "https://dashscope-intl.aliyuncs.com/apps/anthropic")
    with pytest.raises(UserError, match="anthropic_base_url must start with http"):
        ModelRegistry.from_layers([("test.toml", {"models": {"m": {
            "base_url": "http://h/v1", "model": "m", "anthropic_base_url": "h/apps/anthropic"}}})])
    with pytest.raises(UserError, match="anthropic_base_url must be str"):
        ModelRegistry.from_layers([("test.toml", {"models": {"m": {
            "base_url": "http://h/v1", "model": "m", "anthropic_base_url": 3}}})])


@pytest.mark.parametrize("kind", ["threads", "asyncio"])
def test_both_fake_servers_answer_the_messages_api(kind):
    reply = Reply("abc def", tool_calls=[("Bash", {"command": "ls"})], prompt_tokens=9, completion_tokens=3)
    if kind == "threads":
        server = FakeLLM([reply, reply, Reply(status=400)]).start()
        stop = server.stop
    else:
        server = AsyncFakeLLM([reply, reply, Reply(status=400)])
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        stop = server.shutdown
    try:
        sdk = anthropic.Anthropic(base_url=server.anthropic_base_url, api_key="k", max_retries=0)
        whole = sdk.messages.create(model="m", max_tokens=9, messages=PROMPT)
        with sdk.messages.stream(model="m", max_tokens=9, messages=PROMPT) as stream:
            streamed = stream.get_final_message()
        with pytest.raises(anthropic.BadRequestError) as caught:
            sdk.messages.create(model="m", max_tokens=9, messages=PROMPT)
    finally:
        stop()
    for answer, number in ((whole, 1), (streamed, 2)):
        assert answer.content[0].text == "abc def" and answer.stop_reason == "tool_use"
        assert (answer.content[1].id, answer.content[1].name, answer.content[1].input) == (
            f"toolu_{number}_0", "Bash", {"command": "ls"})
        assert (answer.usage.input_tokens, answer.usage.output_tokens) == (9, 3)
    assert caught.value.body["type"] == "error"
