"""The chat-completions client against a real HTTP server (tests/fake_llm.py) on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from fake_llm import FakeLLM, Reply

from evalharness.model.llm import ContextOverflowError, LLMClient, LLMError, retry_after
from evalharness.model.registry import ModelConfig, ModelRegistry

MESSAGES = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix it."}]
BASH_TOOL = {"type": "function", "function": {
    "name": "bash", "description": "run a command",
    "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}}


class Sleeps(list):
    """Records the waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def config_for(server: FakeLLM, **changes) -> ModelConfig:
    """The packaged qwen3-coder entry, pointed at the fake server."""
    base = ModelRegistry.load(environ={}).get("qwen3-coder")
    return replace(base, base_url=server.base_url, **changes)


def client_for(server: FakeLLM, *, sleeps: Sleeps | None = None, rng=lambda: 1.0, config_changes=None, **kw):
    config = config_for(server, **(config_changes or {}))
    return LLMClient(config, "sk-test", sleep=sleeps if sleeps is not None else Sleeps(), rng=rng, **kw)


def test_request_carries_model_id_tools_and_sampling_parameters():
    with FakeLLM([Reply("hello")], model="qwen3-coder-plus") as server:
        completion = client_for(server).complete(MESSAGES, tools=[BASH_TOOL])
    (request,) = server.requests
    assert request["model"] == "qwen3-coder-plus"
    assert request["messages"] == MESSAGES
    assert request["tools"] == [BASH_TOOL]
    assert (request["temperature"], request["top_p"], request["max_tokens"]) == (0.7, 0.8, 8192)
    assert (request["top_k"], request["repetition_penalty"]) == (20, 1.05)  # extra body: top level of the JSON
    assert server.request_headers[0]["authorization"] == "Bearer sk-test"
    assert completion.content == "hello" and completion.tool_calls == [] and completion.retries == 0
    assert completion.finish_reason == "stop"


def test_no_tools_key_when_no_tools_and_unset_parameters_are_not_sent():
    with FakeLLM([Reply("a")]) as server:
        unset = {"top_k": None, "repetition_penalty": None, "temperature": None}
        client_for(server, config_changes=unset).complete(MESSAGES)
    (request,) = server.requests
    assert "tools" not in request and "top_k" not in request and "repetition_penalty" not in request
    assert "temperature" not in request and request["top_p"] == 0.8


def test_native_tool_calls_are_parsed_and_malformed_arguments_kept_raw():
    script = [Reply(tool_calls=[
        ("bash", {"command": "ls -la"}),
        ("str_replace_editor", '{"command": "view", "path": "/testbed/a.py"'),  # truncated JSON
        ("submit", ""),
        ("bash", '["not", "an", "object"]'),
    ], prompt_tokens=1200, completion_tokens=80)]
    with FakeLLM(script) as server:
        completion = client_for(server).complete(MESSAGES, tools=[BASH_TOOL])
    assert completion.content == ""  # the server sent null
    assert completion.finish_reason == "tool_calls"
    first, second, third, fourth = completion.tool_calls
    assert (first.name, first.arguments, first.id) == ("bash", {"command": "ls -la"}, "call_1_0")
    assert first.raw_arguments == json.dumps({"command": "ls -la"})
    assert second.name == "str_replace_editor" and second.arguments is None
    assert second.raw_arguments == '{"command": "view", "path": "/testbed/a.py"'
    assert third.arguments == {}  # a call with no parameters
    assert fourth.arguments is None and fourth.raw_arguments == '["not", "an", "object"]'
    assert (completion.prompt_tokens, completion.completion_tokens) == (1200, 80)
    assert completion.cost == pytest.approx((1200 * 1.0 + 80 * 5.0) / 1e6)


def test_missing_usage_counts_zero():
    with FakeLLM([Reply("x", include_usage=False)]) as server:
        completion = client_for(server).complete(MESSAGES)
    assert (completion.prompt_tokens, completion.completion_tokens, completion.cost) == (0, 0, 0.0)


def test_429_retry_after_is_honoured():
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    script = [
        Reply(status=429, headers={"Retry-After": "7"}, body={"error": {"message": "Requests rate limit exceeded"}}),
        Reply(status=429, headers={"retry-after-ms": "1500"}),
        Reply(status=429, headers={"Retry-After": later}),
        Reply(status=429),  # no header: backoff
        Reply("finally"),
    ]
    sleeps = Sleeps()
    with FakeLLM(script) as server:
        completion = client_for(server, sleeps=sleeps, rng=lambda: 0.0).complete(MESSAGES)
    assert completion.content == "finally" and completion.retries == 4
    assert len(server.requests) == 5
    assert sleeps[0] == 7.0 and sleeps[1] == 1.5
    assert 25 <= sleeps[2] <= 30  # an HTTP date: the time left until then
    assert sleeps[3] == 0.0  # full jitter with rng() = 0


def test_retry_after_is_never_shortened_by_backoff_max_and_backoff_is_capped():
    script = [Reply(status=503, headers={"Retry-After": "90"})] + [Reply(status=500)] * 4 + [Reply("ok")]
    sleeps = Sleeps()
    with FakeLLM(script) as server:
        completion = client_for(server, sleeps=sleeps, backoff_base=1.0, backoff_max=5.0).complete(MESSAGES)
    assert completion.content == "ok" and completion.retries == 5
    # rng() = 1.0: the top of each jitter window: 1, 2, 4, 8 -> capped at 5; Retry-After 90 kept
    assert sleeps == [90.0, 2.0, 4.0, 5.0, 5.0]


def test_full_jitter_spreads_waits_within_the_window():
    draws = iter([0.25, 0.5, 0.75])
    sleeps = Sleeps()
    with FakeLLM([Reply(status=502)] * 3 + [Reply("ok")]) as server:
        client_for(server, sleeps=sleeps, rng=lambda: next(draws), backoff_base=2.0).complete(MESSAGES)
    assert sleeps == [0.25 * 2, 0.5 * 4, 0.75 * 8]


def test_500s_then_success_and_408_409_are_retried():
    with FakeLLM([Reply(status=500), Reply(status=408), Reply(status=409), Reply(status=504), Reply("ok")]) as server:
        completion = client_for(server).complete(MESSAGES)
    assert completion.content == "ok" and completion.retries == 4 and len(server.requests) == 5


def test_a_slow_reply_past_the_timeout_is_retried():
    with FakeLLM([Reply("too late", delay=2.0), Reply("in time")]) as server:
        completion = client_for(server, config_changes={"request_timeout": 0.3}).complete(MESSAGES)
    assert completion.content == "in time" and completion.retries == 1
    assert completion.seconds >= 0.3  # the wall time includes the attempt that timed out
    assert len(server.requests) == 2


def test_a_dropped_connection_is_retried():
    with FakeLLM([Reply(drop_connection=True), Reply(drop_connection=True), Reply("ok")]) as server:
        completion = client_for(server).complete(MESSAGES)
    assert completion.content == "ok" and completion.retries == 2


def test_persistent_failure_raises_llm_error_with_the_reason():
    body = {"error": {"message": "The engine is currently overloaded", "type": "server_error"}}
    sleeps = Sleeps()
    with FakeLLM([Reply(status=503, body=body)] * 8) as server:
        with pytest.raises(LLMError) as exc:
            client_for(server, sleeps=sleeps).complete(MESSAGES)
    assert exc.value.reason == "HTTP 503 after 8 attempts: The engine is currently overloaded"
    assert len(server.requests) == 8 and len(sleeps) == 7


def test_timeouts_every_time_give_a_timeout_reason():
    with FakeLLM([Reply(delay=1.0)] * 2) as server:
        with pytest.raises(LLMError) as exc:
            client_for(server, max_attempts=2, config_changes={"request_timeout": 0.2}).complete(MESSAGES)
    assert exc.value.reason.startswith("timeout after 2 attempts")


def test_nothing_listening_is_a_connection_error_after_the_attempts():
    with FakeLLM() as server:
        config = config_for(server)
    # the server is gone: connection refused
    with pytest.raises(LLMError) as exc:
        LLMClient(config, "k", max_attempts=3, sleep=Sleeps(), rng=lambda: 0.0).complete(MESSAGES)
    assert exc.value.reason.startswith("connection error after 3 attempts")


def test_retry_budget_bounds_the_total_wait():
    sleeps = Sleeps()
    with FakeLLM([Reply(status=429, headers={"Retry-After": "120"})] * 2) as server:
        with pytest.raises(LLMError) as exc:
            client_for(server, sleeps=sleeps, retry_budget=60).complete(MESSAGES)
    assert sleeps == [] and len(server.requests) == 1  # giving up beats sleeping past the budget
    assert "HTTP 429 after 1 attempts (retry budget of 60s spent; the server asked to wait 120s)" in exc.value.reason


@pytest.mark.parametrize("message, code", [
    ("This model's maximum context length is 131072 tokens. However, you requested 140000 tokens "
     "(131000 in the messages, 9000 in the completion). Please reduce the length of the messages or completion.", None),
    ("Input too long", "context_length_exceeded"),
    ("<400> InternalError.Algo.InvalidParameter: Range of input length should be [1, 997952]", "InvalidParameter"),
])
def test_context_overflow_is_its_own_error_and_not_retried(message, code):
    body = {"error": {"message": message, "type": "BadRequestError", "param": None, "code": code}}
    with FakeLLM([Reply(status=400, body=body)]) as server:
        with pytest.raises(ContextOverflowError) as exc:
            client_for(server).complete(MESSAGES)
    assert isinstance(exc.value, LLMError) and "context overflow (HTTP 400)" in exc.value.reason
    assert len(server.requests) == 1


@pytest.mark.parametrize("status, needle", [
    (400, "HTTP 400: unknown field 'tools'"),
    (401, "HTTP 401: the API key was rejected"),
    (403, "HTTP 403: unknown field 'tools'"),
    (404, "HTTP 404: unknown field 'tools'"),
])
def test_client_errors_are_not_retried(status, needle):
    sleeps = Sleeps()
    with FakeLLM([Reply(status=status, body={"error": {"message": "unknown field 'tools'"}})] * 3) as server:
        with pytest.raises(LLMError) as exc:
            client_for(server, sleeps=sleeps).complete(MESSAGES)
    assert needle in exc.value.reason and not isinstance(exc.value, ContextOverflowError)
    assert len(server.requests) == 1 and sleeps == []
    if status == 401:
        assert "DASHSCOPE_API_KEY" in exc.value.reason


def test_an_exhausted_script_fails_loudly_and_at_once():
    sleeps = Sleeps()
    with FakeLLM([Reply("one")]) as server:
        client = client_for(server, sleeps=sleeps)
        client.complete(MESSAGES)
        with pytest.raises(LLMError) as exc:
            client.complete(MESSAGES)
    assert "FakeLLM script exhausted: it has 1 replies and this is request #2" in exc.value.reason
    assert sleeps == []


def test_limiter_slot_wraps_every_attempt():
    class Limiter:
        def __init__(self):
            self.entered = self.exited = 0

        @contextmanager
        def slot(self):
            self.entered += 1
            try:
                yield
            finally:
                self.exited += 1

    limiter = Limiter()
    with FakeLLM([Reply(status=429), Reply(drop_connection=True), Reply("ok")]) as server:
        client_for(server, limiter=limiter).complete(MESSAGES)
    assert limiter.entered == limiter.exited == 3


def test_one_client_serves_concurrent_workers():
    def answer(request):
        return Reply(content=request["messages"][-1]["content"].upper(), delay=0.05)

    with FakeLLM(answer) as server:
        client = client_for(server)
        with ThreadPoolExecutor(16) as pool:
            results = list(pool.map(
                lambda i: client.complete([{"role": "user", "content": f"task {i}"}]).content, range(48)))
    assert results == [f"TASK {i}" for i in range(48)]
    assert len(server.requests) == 48
    assert threading.active_count() < 100


def test_retry_after_header_forms():
    assert retry_after({"retry-after": "3"}) == 3.0
    assert retry_after({"retry-after": "0.5"}) == 0.5
    assert retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # in the past
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_fake_server_records_headers_case_insensitively_and_lists_its_model():
    import urllib.request

    with FakeLLM([Reply("x")], model="org/model") as server:
        client_for(server).complete(MESSAGES)
        with urllib.request.urlopen(f"{server.base_url}/models") as response:
            listed = json.loads(response.read())
    headers = server.request_headers[0]
    assert headers["Authorization"] == headers.get("authorization") == "Bearer sk-test"
    assert "Content-Type" in headers and headers.get("X-Missing") is None
    assert [m["id"] for m in listed["data"]] == ["org/model"]
