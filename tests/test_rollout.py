"""`evalharness rollout`: K rollouts per built-in task against the fake policy server, every
request through the gateway, rewarded by the tests scorer; the outputs a trainer reads
(rollouts.parquet, per-turn JSONL with the token ids the server sent, ATIF); bad input as
one line before any work."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from fake_llm import FakeLLM, fake_token_ids
from rollout_policies import CLIGoldPolicy, GoldPolicy, IdlePolicy

from evalharness.cli import main
from evalharness.core.task import Task
from evalharness.rl.atif import SCHEMA_VERSION, to_atif
from evalharness.rl.rollout import RolloutSpec, expand
from evalharness.rl.rollout_output import turn_lines
from evalharness.tasks.datasets import load_tasks

TASKS = [t.instance_id for t in load_tasks("builtin")]  # all of them, 4 rollouts each


def _rollout(tmp_path, cache_dir, server, run_id: str, *extra: str) -> int:
    return main(["rollout", "--policy-url", server.base_url, "--group-size", "4", "--dataset", "builtin",
                 "--reports-dir", str(tmp_path), "--run-id", run_id, "--cache-dir", str(cache_dir),
                 "--no-progress", "--workers", "8", *extra])


@pytest.mark.docker
def test_gold_policy_gets_reward_1_and_idle_policy_0_with_the_token_ids_it_was_sent(tmp_path, cache_dir,
                                                                                   docker_client, capsys):
    with FakeLLM(GoldPolicy(), model="policy") as server:
        assert _rollout(tmp_path, cache_dir, server, "gold", "--token-ids", "vllm") == 0
        sent, requests = dict(server.sent_tokens), list(server.requests)
    out = capsys.readouterr().out
    assert f"reward {4 * len(TASKS)}/{4 * len(TASKS)} over {len(TASKS)} group(s)" in out
    rows = pq.read_table(tmp_path / "gold" / "rollouts.parquet").to_pylist()
    assert [(r["task_id"], r["group"], r["rollout"]) for r in rows] == [
        (task, g, k) for g, task in enumerate(TASKS) for k in range(4)]
    assert {r["reward"] for r in rows} == {1.0} and {r["status"] for r in rows} == {"resolved"}
    assert all(r["turns"] == 2 and r["token_id_turns"] == 2 and r["agent_seconds"] > 0 for r in rows)
    assert all(r["return_token_ids"] is True and r["logprobs"] is True for r in requests)

    # every turn's ids are the ones the server sent for that request, none lost, none made up
    recorded = []
    for row in rows:
        lines = [json.loads(line) for line in (tmp_path / "gold" / row["turns_file"]).read_text().splitlines()]
        assert [line["turn"] for line in lines] == [1, 2]
        assert lines[0]["messages"][0]["role"] == "system" and lines[1]["messages"][0]["role"] == "tool"
        assert lines[0]["assistant"]["tool_calls"][0]["name"] == "bash"
        recorded += [(tuple(line["prompt_token_ids"]), tuple(line["completion_token_ids"])) for line in lines]
        for line in lines:
            assert len(line["completion_token_ids"]) == len(line["logprobs"]) == line["usage"]["completion_tokens"]
        atif = json.loads((tmp_path / "gold" / row["atif_file"]).read_text())
        assert atif["schema_version"] == SCHEMA_VERSION and atif["extra"]["reward"] == 1.0
        agent_steps = [s for s in atif["steps"] if s["source"] == "agent"]
        assert [s["metrics"]["completion_token_ids"] for s in agent_steps] == [
            line["completion_token_ids"] for line in lines]
        assert agent_steps[0]["observation"]["results"][0]["source_call_id"] == \
            agent_steps[0]["tool_calls"][0]["tool_call_id"]
    expected = [(tuple(t["prompt_token_ids"]), tuple(t["token_ids"])) for t in sent.values()]
    assert len(recorded) == len(requests) == 8 * len(TASKS) and sorted(recorded) == sorted(expected)
    first = next(iter(sent))
    assert sent[first]["token_ids"] == fake_token_ids(first, 60, 9)["token_ids"]

    with FakeLLM(IdlePolicy(), model="policy") as server:
        assert _rollout(tmp_path, cache_dir, server, "idle") == 0
        assert not any("return_token_ids" in r for r in server.requests)  # not asked for: not sent
    rows = pq.read_table(tmp_path / "idle" / "rollouts.parquet").to_pylist()
    assert len(rows) == 4 * len(TASKS) and {r["reward"] for r in rows} == {0.0}
    assert {r["status"] for r in rows} == {"empty_patch"} and {r["token_id_turns"] for r in rows} == {0}

    # the same command again resumes: nothing runs, the outputs stay whole
    with FakeLLM(IdlePolicy(), model="policy") as server:
        assert _rollout(tmp_path, cache_dir, server, "idle") == 0
        assert server.requests == []
    assert f"resumed: {4 * len(TASKS)} rollout(s)" in capsys.readouterr().out
    assert len(pq.read_table(tmp_path / "idle" / "rollouts.parquet")) == 4 * len(TASKS)


@pytest.mark.docker
@pytest.mark.parametrize("agent, policy, streams", [
    ("qwen-code", CLIGoldPolicy("run_shell_command"), True),
    ("mini-swe-agent", CLIGoldPolicy("bash", ("bash", {"command": "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"})),
     False),
])
def test_installed_agents_roll_out_through_the_gateway_with_token_ids(agent, policy, streams, tmp_path, cache_dir,
                                                                      docker_client):
    """Qwen Code streams its requests, mini-swe-agent does not: the ids are recorded either way."""
    with FakeLLM(policy, model="policy") as server:
        code = main(["rollout", "--policy-url", server.base_url, "--agent", agent, "--group-size", "2",
                     "--token-ids", "vllm", "--instance-ids", "evalharness__confini-1", "--reports-dir", str(tmp_path),
                     "--run-id", agent, "--cache-dir", str(cache_dir), "--no-progress", "--workers", "2"])
        sent, requests = dict(server.sent_tokens), list(server.requests)
    assert code == 0
    assert {bool(r.get("stream")) for r in requests} == {streams}
    rows = pq.read_table(tmp_path / agent / "rollouts.parquet").to_pylist()
    assert [r["reward"] for r in rows] == [1.0, 1.0] and all(r["token_id_turns"] == r["turns"] == 2 for r in rows)
    recorded = sorted(tuple(json.loads(line)["completion_token_ids"]) for r in rows
                      for line in (tmp_path / agent / r["turns_file"]).read_text().splitlines())
    assert recorded == sorted(tuple(t["token_ids"]) for t in sent.values()) and len(recorded) == 4


@pytest.mark.parametrize("args, message", [
    (["--group-size", "0"], "--group-size must be a whole number of at least 1"),
    (["--group-size", "four"], "--group-size must be a whole number of at least 1"),
    (["--agent", "claude-code"], "unknown rollout agent 'claude-code'; rollouts run: llm, qwen-code, mini-swe-agent"),
    (["--token-ids", "tgi"], "--token-ids must be one of none, vllm, sglang"),
    (["--policy-url", "gpu-box:8000"], "--policy-url must be an http(s) URL"),
    (["--policy-key-env", "EVALHARNESS_TEST_UNSET_KEY"], "--policy-key-env EVALHARNESS_TEST_UNSET_KEY: the variable"),
])
def test_bad_input_is_one_line_before_any_work(args, message, tmp_path, capsys):
    argv = ["rollout", "--policy-url", "http://127.0.0.1:9/v1", "--reports-dir", str(tmp_path), *args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # no run folder, no image work


def test_an_unreachable_policy_server_is_one_line(tmp_path, capsys):
    with FakeLLM() as server:
        url = server.base_url
    assert main(["rollout", "--policy-url", url, "--reports-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"cannot reach the policy server at {url}" in err and err.count("\n") == 1
    assert not any(tmp_path.iterdir())


def test_the_model_is_the_one_the_server_lists_unless_named():
    from evalharness.rl.rollout import policy_model

    with FakeLLM(model="Qwen/Qwen3-Coder-30B-A3B-Instruct") as server:
        config, key = policy_model(RolloutSpec(policy_url=server.base_url, token_ids="sglang"))
        named, _ = policy_model(RolloutSpec(policy_url=server.base_url, model="other"))
    assert config.model == "Qwen/Qwen3-Coder-30B-A3B-Instruct" and key == "EMPTY"
    assert config.extra_body["return_meta_info"] is True and named.model == "other"
    assert "return_meta_info" not in named.extra_body


def test_rollout_tasks_are_the_task_under_k_ids():
    task = Task(instance_id="o__r-1", repo="o/r", base_commit="a" * 40, patch="", test_patch="",
                problem_statement="p", version="1", FAIL_TO_PASS=("t",), PASS_TO_PASS=())
    rollouts, originals, where = expand([task], 3)
    assert [t.instance_id for t in rollouts] == ["o__r-1#0", "o__r-1#1", "o__r-1#2"]
    assert all(originals[t.instance_id] is task and t.FAIL_TO_PASS == task.FAIL_TO_PASS for t in rollouts)
    assert where["o__r-1#2"] == (0, 2)


def test_turns_and_atif_from_gateway_events():
    events = [{"type": "system", "turn": 1, "t": 0.0, "content": "sys"},
              {"type": "user", "turn": 1, "t": 0.0, "content": "task"},
              {"type": "assistant", "turn": 1, "t": 0.5, "content": "", "reasoning": "think",
               "tool_calls": [{"id": "c1", "name": "bash", "arguments": {"command": "ls"}}],
               "usage": {"prompt_tokens": 3, "completion_tokens": 2}, "cost": 0.25,
               "prompt_token_ids": [1, 2, 3], "completion_token_ids": [7, 8], "logprobs": [-0.1, -0.2]},
              {"type": "tool", "turn": 2, "t": 0.6, "tool_call_id": "c1", "name": "bash", "output": "a.py"},
              {"type": "api_error", "turn": 2, "t": 0.9, "message": "HTTP 500"}]
    lines = turn_lines(events)
    assert [line["turn"] for line in lines] == [1, 2]
    assert lines[0]["completion_token_ids"] == [7, 8] and lines[0]["assistant"]["reasoning"] == "think"
    assert lines[1]["messages"] == [{"role": "tool", "tool_call_id": "c1", "name": "bash", "content": "a.py"}]
    assert lines[1]["error"] == "HTTP 500" and "completion_token_ids" not in lines[1]
    atif = to_atif(events, session_id="s", agent="llm", version="1", model="m", started_at="2026-01-01T00:00:00+00:00")
    assert [s["source"] for s in atif["steps"]] == ["system", "user", "agent"]
    agent = atif["steps"][2]
    assert agent["metrics"] == {"prompt_tokens": 3, "completion_tokens": 2, "cost_usd": 0.25,
                                "prompt_token_ids": [1, 2, 3], "completion_token_ids": [7, 8],
                                "logprobs": [-0.1, -0.2]}
    assert agent["observation"] == {"results": [{"source_call_id": "c1", "content": "a.py"}]}
    assert agent["timestamp"] == "2026-01-01T00:00:00.500000Z" and agent["reasoning_content"] == "think"
    assert atif["final_metrics"]["total_steps"] == 3 and atif["final_metrics"]["total_completion_tokens"] == 2
