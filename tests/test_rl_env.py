"""The RL environment API on the built-in tasks, real containers: rewards from eval's grading, clear errors."""

from __future__ import annotations

import pytest

from evalharness.rl.types import Action, ClosedEnvError, ForeignActionError, MalformedActionError, UnknownTaskError
from rl_fixtures import TASK, gold_steps, make_hub

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def hub(docker_client, cache_dir):
    hub = make_hub(docker_client, cache_dir, run_id="rl-env-test", pool_size=3)
    yield hub
    hub.close()
    assert not docker_client.containers.list(all=True, filters={"label": "evalharness.run_id=rl-env-test"})


def test_gold_policy_gets_reward_one(hub):
    task = hub.task(TASK)
    with hub.make() as env:
        obs = env.reset(TASK)
        assert obs.problem_statement == task.problem_statement and task.problem_statement in obs.text
        assert [t["function"]["name"] for t in obs.tools] == ["bash", "str_replace_editor", "submit"]
        assert [m["role"] for m in obs.messages] == ["system", "user"]
        for action in gold_steps(task):
            result = env.step(action)
            assert not result.done and result.reward is None, result
        result = env.step({"tool": "bash", "arguments": {"command": "git status --short"}})
        assert "confini" in result.observation.text
        result = env.step({"name": "submit", "arguments": "{}"})  # an OpenAI-style call
    assert result.done and result.reward == 1.0 and not result.truncated
    info = result.info
    assert info["status"] == "resolved" and info["resolved"] is True
    assert info["f2p_passed"] == info["f2p_total"] == len(task.FAIL_TO_PASS) > 0
    assert info["p2p_passed"] == info["p2p_total"] == len(task.PASS_TO_PASS)
    assert info["steps"] == 4 and info["eval_seconds"] > 0 and info["patch_chars"] > 0


def test_doing_nothing_gets_reward_zero(hub):
    with hub.make() as env:
        env.reset(TASK)
        result = env.step({"tool": "submit"})
    assert result.done and result.reward == 0.0 and result.info["status"] == "empty_patch"


def test_deleting_the_tests_does_not_change_the_reward(hub):
    """Gold fix plus every test deleted: still graded (and resolved) by the instance's own tests."""
    task = hub.task(TASK)
    with hub.make() as env:
        env.reset(TASK)
        for action in gold_steps(task) + [{"tool": "bash", "arguments": {"command": "rm -rf tests"}}]:
            env.step(action)
        result = env.step({"tool": "submit"})
    assert result.reward == 1.0
    assert result.info["f2p_passed"] == result.info["f2p_total"] == len(task.FAIL_TO_PASS)


def test_tests_edited_to_pass_still_get_reward_zero(hub):
    """No fix, the failing tests' file replaced by one that passes: the originals grade, and fail."""
    with hub.make() as env:
        env.reset(TASK)
        env.step({"tool": "bash", "arguments": {"command": "printf 'def test_ok():\\n    pass\\n' > tests/test_parser.py"}})
        result = env.step({"tool": "submit"})
    assert result.reward == 0.0 and result.info["status"] == "unresolved"
    assert result.info["f2p_total"] > result.info["f2p_passed"]


def test_bad_input_is_a_clear_error_and_nothing_breaks(hub):
    env = hub.make()
    with pytest.raises(UnknownTaskError, match="unknown task 'no-such-task'"):
        env.reset("no-such-task")
    with pytest.raises(ClosedEnvError, match="reset"):
        env.step({"tool": "bash", "arguments": {"command": "true"}})
    obs = env.reset(TASK)
    for bad, why in [("ls", "mapping"), ({"arguments": {}}, "tool name"),
                     ({"tool": "bash", "arguments": "{not json"}, "not valid JSON"),
                     ({"tool": "bash", "arguments": [1]}, "JSON object")]:
        with pytest.raises(MalformedActionError, match=why):
            env.step(bad)
    with pytest.raises(ForeignActionError, match="episode"):
        env.step(Action("bash", {"command": "true"}, episode_id="ep0-other"))
    # a call the tools refuse is the policy's mistake: an observation, as the agent's model sees it
    assert "unknown tool 'rm_rf'" in env.step({"tool": "rm_rf"}).observation.text
    assert "non-empty `command`" in env.step({"tool": "bash", "arguments": {}}).observation.text
    # the episode survived all of that
    result = env.step({"tool": "bash", "arguments": {"command": "echo still-here", "timeout": 10},
                       "episode_id": obs.episode_id})
    assert result.observation.text.strip() == "still-here" and result.observation.exit_code == 0
    assert env.step({"tool": "submit"}).done
    with pytest.raises(ClosedEnvError, match="over"):
        env.step({"tool": "bash", "arguments": {"command": "true"}})
    env.close()
    with pytest.raises(ClosedEnvError, match="closed"):
        env.reset(TASK)


def test_max_steps_ends_the_episode_graded(docker_client, cache_dir):
    with make_hub(docker_client, cache_dir, run_id="rl-env-steps", pool_size=1, max_steps=2) as hub:
        env = hub.make()
        env.reset(TASK)
        assert not env.step({"tool": "bash", "arguments": {"command": "true"}}).done
        result = env.step({"tool": "bash", "arguments": {"command": "true"}})
        assert result.done and result.truncated and result.reward == 0.0


def test_a_policy_that_stops_its_container_ends_the_episode_unsolved(hub, docker_client):
    with hub.make() as env:
        env.reset(TASK)
        result = env.step({"tool": "bash", "arguments": {"command": "kill 1; sleep 5"}})
        if not result.done:  # the shell answered before the container stopped: the next call finds it gone
            result = env.step({"tool": "bash", "arguments": {"command": "true"}})
    assert result.done and result.reward == 0.0
    assert "shell failed" in result.observation.text and "shell failed" in result.info["error"]
