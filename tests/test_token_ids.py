"""Token-exact turns: the gateway records the token ids and logprobs a policy server returns
(vLLM's and SGLang's fields, whole answers and streams), and asks for them when the model's
extra_body carries the dialect's request fields. The fake server's ids are compared with the
record one for one."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fake_llm import FakeLLM, Reply, fake_token_ids

from evalharness.model import gateway as gateway_module
from evalharness.model.gateway import SOCKET_NAME, ModelGateway
from evalharness.model.gateway.tokens import TOKEN_ID_FIELDS, take_tokens
from evalharness.model.gateway.wire import _Message
from evalharness.model.registry import ModelConfig

httpx = gateway_module.httpx
MESSAGES = [{"role": "system", "content": "You fix bugs."}, {"role": "user", "content": "Fix it."}]
SCRIPT = [Reply("Looking.", tool_calls=[("bash", {"command": "ls -la"})], prompt_tokens=37, completion_tokens=11),
          Reply("Done, I think.", prompt_tokens=52, completion_tokens=7)]


def _config(server: FakeLLM, dialect: str | None) -> ModelConfig:
    return ModelConfig(name="policy", base_url=server.base_url, model="policy",
                       extra_body=dict(TOKEN_ID_FIELDS[dialect]) if dialect else {})


def _run(dialect: str | None, stream: bool) -> tuple[list[dict], dict, list[dict]]:
    """Two turns through a gateway session: (assistant events, the fake's sent tokens, requests)."""
    with FakeLLM(SCRIPT, model="policy") as server, ModelGateway(_config(server, dialect), "EMPTY") as gateway:
        session = gateway.open_session("t__t-1")
        transport = httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))
        with httpx.Client(transport=transport, base_url="http://gateway/v1", timeout=30,
                          headers={"Authorization": f"Bearer {session.token}"}) as client:
            for _ in SCRIPT:
                response = client.post("/chat/completions", json={"model": "x", "messages": MESSAGES,
                                                                  "stream": stream})
                assert response.status_code == 200, response.text
        events = [e for e in session.events() if e["type"] == "assistant"]
        return events, dict(server.sent_tokens), list(server.requests)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("dialect", ["vllm", "sglang"])
def test_the_recorded_token_ids_are_the_ones_the_server_sent(dialect, stream):
    events, sent, requests = _run(dialect, stream)
    for request in requests:  # the rollout's fields went upstream on every request
        assert {k: request.get(k) for k in TOKEN_ID_FIELDS[dialect]} == TOKEN_ID_FIELDS[dialect]
    assert len(events) == 2 and set(sent) == {1, 2}
    for number, (event, reply) in enumerate(zip(events, SCRIPT), start=1):
        expected = fake_token_ids(number, reply.prompt_tokens, reply.completion_tokens)
        assert sent[number]["token_ids"] == expected["token_ids"]
        assert event["prompt_token_ids"] == expected["prompt_token_ids"]
        assert event["completion_token_ids"] == expected["token_ids"]
        assert event["logprobs"] == pytest.approx(expected["logprobs"])
        assert len(event["completion_token_ids"]) == event["usage"]["completion_tokens"] == reply.completion_tokens
        assert len(event["prompt_token_ids"]) == event["usage"]["prompt_tokens"]
    assert events[0]["tool_calls"][0]["arguments"] == {"command": "ls -la"}  # the rest is read as before


def test_without_the_fields_nothing_is_asked_and_nothing_is_recorded():
    events, sent, requests = _run(None, stream=False)
    assert not any(k in r for r in requests for k in ("return_token_ids", "return_meta_info", "logprobs"))
    assert sent == {}
    assert all("completion_token_ids" not in e and "logprobs" not in e for e in events)


def test_the_reader_takes_each_shape_of_sglang_meta_info():
    tuples, dicts, ids_only = _Message(), _Message(), _Message()
    take_tokens(tuples, {}, {"meta_info": {"output_token_logprobs": [[-0.5, 7, "a"], [-1.0, 9, "b"]]}})
    take_tokens(dicts, {}, {"meta_info": {"output_token_logprobs": [{"logprob": -0.25, "token_id": 3}]}})
    take_tokens(ids_only, {}, {"meta_info": {"output_ids": [4, 5]}, "prompt_token_ids": [1, 2]})
    assert (tuples.token_ids, tuples.logprobs) == ([7, 9], [-0.5, -1.0])
    assert (dicts.token_ids, dicts.logprobs) == ([3], [-0.25])
    assert (ids_only.prompt_token_ids, ids_only.token_ids, ids_only.logprobs) == ([1, 2], [4, 5], None)
    broken = _Message()  # a malformed entry is not guessed at
    take_tokens(broken, {"prompt_token_ids": "nope"}, {"meta_info": {"output_token_logprobs": [["x"]]}})
    assert (broken.prompt_token_ids, broken.token_ids, broken.logprobs) == (None, None, None)


def test_a_stream_relayed_to_the_client_keeps_the_token_fields():
    """The client (a CLI agent, or a trainer's own reader) gets the server's fields as they came."""
    with FakeLLM(SCRIPT[:1], model="policy") as server, ModelGateway(_config(server, "vllm"), "EMPTY") as gateway:
        session = gateway.open_session("t__t-1")
        transport = httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))
        with httpx.Client(transport=transport, base_url="http://gateway/v1", timeout=30,
                          headers={"Authorization": f"Bearer {session.token}"}) as client:
            body = client.post("/chat/completions", json={"messages": MESSAGES, "stream": True}).text
    chunks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: {")]
    ids = [i for c in chunks for ch in c.get("choices", []) for i in ch.get("token_ids", [])]
    assert chunks[0]["prompt_token_ids"] == fake_token_ids(1, 37, 11)["prompt_token_ids"]
    assert ids == fake_token_ids(1, 37, 11)["token_ids"]


def test_a_config_change_keeps_other_extra_body_fields():
    with FakeLLM(SCRIPT[:1], model="policy") as server:
        config = replace(_config(server, "vllm"), extra_body={"top_k": 5, **TOKEN_ID_FIELDS["vllm"]})
        with ModelGateway(config, "EMPTY") as gateway:
            session = gateway.open_session("t__t-1")
            transport = httpx.HTTPTransport(uds=str(session.directory / SOCKET_NAME))
            with httpx.Client(transport=transport, base_url="http://gateway/v1", timeout=30,
                              headers={"Authorization": f"Bearer {session.token}"}) as client:
                client.post("/chat/completions", json={"messages": MESSAGES})
        assert server.requests[0]["top_k"] == 5 and server.requests[0]["return_token_ids"] is True
