"""The LLM agent loop against a real HTTP chat-completions server (tests/fake_llm.py), on a host repo.

No Docker here: the agent's shell runs in a host folder (LocalEnvironment). The docker
end-to-end solve is in test_agent_docker.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess

import pytest

from evalharness.agents.llm_agent import AgentLimits, LLMAgent
from evalharness.cli import main
from evalharness.env.local import LocalEnvironment
from evalharness.model.llm import LLMClient
from evalharness.model.registry import ModelConfig, ModelRegistry
from evalharness.core.task import Task
from fake_llm import FakeLLM, Reply


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    return root, head


def make_task(head: str, problem: str = "add() subtracts; it should add.") -> Task:
    return Task(instance_id="local__calc-1", repo="local/calc", base_commit=head, patch="", test_patch="",
                problem_statement=problem, version="1.0", FAIL_TO_PASS=("t",), PASS_TO_PASS=())


def make_agent(server: FakeLLM, tool_mode: str = "native", limits: AgentLimits = AgentLimits(), **config) -> LLMAgent:
    model = ModelConfig(name="fake", base_url=server.base_url, model="fake-model", tool_mode=tool_mode,
                        input_price=1.0, output_price=2.0, **config)
    client = LLMClient(model, "test-key", backoff_base=0.01, backoff_max=0.05, max_attempts=4)
    return LLMAgent(model, client, limits)


FIX = ("str_replace_editor", {"command": "str_replace", "path": "calc.py", "old_str": "a - b", "new_str": "a + b"})


def test_native_solve_collects_the_diff_and_accounts_tokens(repo):
    root, head = repo
    script = [Reply(tool_calls=[("bash", {"command": "cat calc.py"})], prompt_tokens=100, completion_tokens=10),
              Reply(tool_calls=[FIX, ("submit", {})], prompt_tokens=200, completion_tokens=20)]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "submitted" and result.error is None
    assert "+    return a + b" in result.patch and result.turns == 2
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (300, 30)
    assert result.usage.cost == pytest.approx((300 * 1.0 + 30 * 2.0) / 1e6)
    tools = [e for e in result.trajectory if e["type"] == "tool"]
    assert "return a - b" in tools[0]["output"] and tools[-1]["name"] == "submit"


def test_request_carries_model_id_tools_and_qwen_sampling_parameters(repo):
    """The registry's qwen3-coder entry, pointed at the fake server: what DashScope would receive."""
    root, head = repo
    qwen = ModelRegistry.load().get("qwen3-coder")
    with FakeLLM(script=[Reply(tool_calls=[("submit", {})])]) as server:
        model = dataclasses.replace(qwen, base_url=server.base_url)
        LLMAgent(model, LLMClient(model, "sk-test")).run(make_task(head), LocalEnvironment(root))
        body, headers = server.requests[0], server.request_headers[0]
    assert body["model"] == qwen.model
    assert (body["temperature"], body["top_p"], body["top_k"], body["repetition_penalty"]) == (0.7, 0.8, 20, 1.05)
    assert [t["function"]["name"] for t in body["tools"]] == ["bash", "str_replace_editor", "submit"]
    assert body["messages"][0]["role"] == "system" and "add() subtracts" in body["messages"][1]["content"]
    assert headers.get("Authorization") == "Bearer sk-test"


def test_missing_key_fails_at_once_naming_the_variable(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here

    def no_docker(*_, **__):
        raise AssertionError("the key must be checked before Docker is touched")

    monkeypatch.setattr("docker.from_env", no_docker)
    assert main(["eval", "--model", "qwen3-coder", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "DASHSCOPE_API_KEY" in err and "Traceback" not in err


def test_xml_mode_parses_calls_from_text_and_corrects_malformed_ones(repo):
    root, head = repo
    script = [
        Reply(content="Let me look.\n<tool_call>\n<function=bash>\n<parameter=command>\ncat calc.py\n"
                      "</parameter>\n</function>\n</tool_call>"),
        Reply(content="<tool_call>\n<function=no_such_tool>\n</function>\n</tool_call>"),  # malformed
        Reply(content="<tool_call>\n<function=str_replace_editor>\n<parameter=command>\nstr_replace\n</parameter>\n"
                      "<parameter=path>\ncalc.py\n</parameter>\n<parameter=old_str>\na - b\n</parameter>\n"
                      "<parameter=new_str>\na + b\n</parameter>\n</function>\n</tool_call>\n"
                      "<tool_call>\n<function=submit>\n</function>\n</tool_call>"),
    ]
    with FakeLLM(script=script) as server:
        result = make_agent(server, tool_mode="qwen3_xml").run(make_task(head), LocalEnvironment(root))
        requests = list(server.requests)
    assert result.exit_reason == "submitted" and result.format_errors == 1
    assert "+    return a + b" in result.patch
    assert "tools" not in requests[0]
    correction = requests[2]["messages"][-1]
    assert correction["role"] == "user" and "no_such_tool" in correction["content"]
    assert "<tool_response>" in requests[1]["messages"][-1]["content"]
    assert any(e["type"] == "format_error" for e in result.trajectory)


def test_native_calls_left_in_the_text_are_recovered(repo):
    root, head = repo
    script = [Reply(content="<tool_call>\n<function=submit>\n</function>\n</tool_call>")]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "submitted" and result.format_errors == 0


def test_three_malformed_replies_in_a_row_end_with_format_errors(repo):
    root, head = repo
    script = [Reply(content="I think the fix is easy."),
              Reply(tool_calls=[("bash", '{"command": "ls"')]),  # broken JSON
              Reply(content="still no call")]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
        last = server.requests[-1]["messages"][-1]["content"]
    assert result.exit_reason == "format_errors" and result.format_errors == 3
    assert "not valid JSON" in last
    assert result.patch == "" and result.error is None


def test_rate_limits_and_server_errors_are_retried(repo):
    root, head = repo
    script = [Reply(status=429, headers={"Retry-After": "0"}), Reply(status=500), Reply(drop_connection=True),
              Reply(tool_calls=[("submit", {})])]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "submitted" and result.api_retries == 3


def test_persistent_api_failure_is_an_agent_error_with_the_reason(repo):
    root, head = repo
    with FakeLLM(script=[Reply(status=503)] * 4) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "api_error"
    assert result.error and "503" in result.error


def test_slow_reply_past_the_request_timeout_is_retried(repo):
    root, head = repo
    script = [Reply(delay=2.0, tool_calls=[("submit", {})]), Reply(tool_calls=[("submit", {})])]
    with FakeLLM(script=script) as server:
        result = make_agent(server, request_timeout=0.5).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "submitted" and result.api_retries == 1


def test_old_observations_are_elided_near_the_context_window(repo):
    root, head = repo
    big = ("bash", {"command": "python3 -c \"print('x' * 6000)\""})
    script = [Reply(tool_calls=[big]) for _ in range(4)] + [Reply(tool_calls=[("submit", {})])]
    with FakeLLM(script=script) as server:
        agent = make_agent(server, context_window=9000, max_tokens=1000,
                           limits=AgentLimits(max_output_chars=7000))
        result = agent.run(make_task(head), LocalEnvironment(root))
        last_messages = server.requests[-1]["messages"]
    assert result.exit_reason == "submitted"
    assert any(e["type"] == "elided" for e in result.trajectory)
    assert "elided" in last_messages[3]["content"]  # the first observation
    assert "add() subtracts" in last_messages[1]["content"]  # the task is kept


def test_history_that_cannot_fit_ends_with_context_exceeded(repo):
    root, head = repo
    with FakeLLM(script=[]) as server:
        agent = make_agent(server, context_window=1500, max_tokens=200)
        result = agent.run(make_task(head, problem="describe " * 3000), LocalEnvironment(root))
    assert result.exit_reason == "context_exceeded" and result.turns == 0


def test_server_context_overflow_elides_and_retries(repo):
    root, head = repo
    overflow = Reply(status=400, body={"error": {"message": "This model's maximum context length is 8192 tokens",
                                                 "type": "BadRequestError"}})
    big = ("bash", {"command": "python3 -c \"print('y' * 3000)\""})
    script = [Reply(tool_calls=[big]), Reply(tool_calls=[big]), Reply(tool_calls=[big]), overflow,
              Reply(tool_calls=[("submit", {})])]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == "submitted"
    assert any(e["type"] == "elided" for e in result.trajectory)


@pytest.mark.parametrize("limits, reason", [
    (AgentLimits(max_turns=2), "max_turns"),
    (AgentLimits(max_cost=0.0001), "max_cost"),
    (AgentLimits(max_seconds=0.5), "timeout"),
])
def test_limits_end_the_loop_with_their_exit_reason(repo, limits, reason):
    root, head = repo
    step = Reply(tool_calls=[("bash", {"command": "sleep 0.3; echo step >> notes.txt"})],
                 prompt_tokens=50_000, completion_tokens=1000)
    with FakeLLM(script=[step] * 10) as server:
        result = make_agent(server, limits=limits).run(make_task(head), LocalEnvironment(root))
    assert result.exit_reason == reason
    assert "notes.txt" in result.patch  # work done before the limit is still collected
    assert result.error is None


def test_trajectory_is_json_lines_with_every_step(repo):
    root, head = repo
    script = [Reply(content="Looking.", tool_calls=[("bash", {"command": "echo hi"})]),
              Reply(tool_calls=[("submit", {})])]
    with FakeLLM(script=script) as server:
        result = make_agent(server).run(make_task(head), LocalEnvironment(root))
    types = [e["type"] for e in result.trajectory]
    assert types == ["system", "user", "assistant", "tool", "assistant", "tool", "exit"]
    for event in result.trajectory:
        json.dumps(event)
        assert "turn" in event and "t" in event
    assistant = result.trajectory[2]
    assert assistant["content"] == "Looking." and assistant["tool_calls"][0]["arguments"] == {"command": "echo hi"}
    assert result.trajectory[3]["output"].strip() == "hi" and result.trajectory[3]["exit_code"] == 0


def test_settings_for_run_json_hold_no_serve_env_values():
    """run.json keeps the model's settings; a [serve] env value may be a token (HF_TOKEN), so only its name."""
    from evalharness.model.registry import ServeConfig

    serve = ServeConfig(hf_model="Qwen/Qwen3-Coder", env={"HF_TOKEN": "hf_secret_value", "VLLM_X": "1"})
    model = ModelConfig(name="m", base_url="http://127.0.0.1:1/v1", model="m", serve=serve)
    agent = LLMAgent(model, LLMClient(model, "k"), AgentLimits())
    text = json.dumps(agent.settings(), default=str)
    assert "hf_secret_value" not in text
    assert agent.settings()["model"]["serve"]["env"] == {"HF_TOKEN": "<set>", "VLLM_X": "<set>"}
