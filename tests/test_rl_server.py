"""`serve-envs`'s server driven by OpenEnv's own client over WebSocket: rewards, token, limit, reclamation."""

from __future__ import annotations

import asyncio
import secrets
import time

import pytest

from openenv.core.generic_client import GenericEnvClient
from websockets.exceptions import ConnectionClosed

from evalharness.rl.server import EnvServer
from rl_fixtures import TASK, gold_steps, make_hub

pytestmark = pytest.mark.docker
RUN = "rl-server-test"
REAP = 2.0


@pytest.fixture(scope="module")
def served(docker_client, cache_dir):
    hub = make_hub(docker_client, cache_dir, run_id=RUN, pool_size=2, warm=0)  # no ready ones: every container is a session's
    token = secrets.token_hex(16)
    server = EnvServer(hub, token=token, port=0, max_envs=2, reap_timeout=REAP).start()
    yield hub, f"http://rl:{token}@127.0.0.1:{server.port}", server.port
    server.stop()
    hub.close()


def _containers(docker_client) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"evalharness.run_id={RUN}"})


def test_gold_and_empty_policies_through_the_openenv_client(served):
    hub, url, _ = served
    task = hub.task(TASK)
    with GenericEnvClient(base_url=url).sync() as env:
        first = env.reset(instance_id=TASK)
        assert first.observation["instance_id"] == TASK and not first.done
        assert task.problem_statement in first.observation["text"]
        assert [t["function"]["name"] for t in first.observation["tools"]] == ["bash", "str_replace_editor", "submit"]
        for action in gold_steps(task):
            assert not env.step(action).done
        result = env.step({"tool": "submit"})
        assert result.done and result.reward == 1.0
        assert result.observation["info"]["f2p_passed"] == result.observation["info"]["f2p_total"] > 0
        env.reset(instance_id=TASK)  # the same session, a new episode
        result = env.step({"tool": "submit"})
        assert result.done and result.reward == 0.0 and result.observation["info"]["status"] == "empty_patch"
        with pytest.raises(RuntimeError, match="over"):  # an action for the closed episode
            env.step({"tool": "bash", "arguments": {"command": "true"}})
        with pytest.raises(RuntimeError, match="unknown task"):
            env.reset(instance_id="no-such-task")
        with pytest.raises(RuntimeError, match="VALIDATION_ERROR"):  # malformed: no tool
            env.step({"arguments": {}})


def test_wrong_token_is_refused(served):
    _, _, port = served
    for url in (f"http://127.0.0.1:{port}", f"http://rl:wrong@127.0.0.1:{port}"):
        with pytest.raises(ConnectionError):
            with GenericEnvClient(base_url=url).sync() as env:
                env.reset(instance_id=TASK)


def test_sessions_beyond_the_limit_are_refused(served):
    _, url, _ = served
    with GenericEnvClient(base_url=url).sync() as a, GenericEnvClient(base_url=url).sync() as b:
        a.reset(instance_id=TASK)
        b.reset(instance_id=TASK)
        # the server sends CAPACITY_REACHED and closes at once: the client reads the error, or (its
        # reset sent after the close arrived) finds the connection closed
        with pytest.raises((RuntimeError, ConnectionClosed)) as refused:
            with GenericEnvClient(base_url=url).sync() as c:
                c.reset(instance_id=TASK)
        assert isinstance(refused.value, ConnectionClosed) or "CAPACITY_REACHED" in str(refused.value)
        assert a.step({"tool": "bash", "arguments": {"command": "echo ok"}}).observation["text"].strip() == "ok"


def _wait_gone(docker_client, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not [c for c in _containers(docker_client) if c.labels.get("evalharness.purpose") == "rl"]:
            return True
        time.sleep(0.2)
    return False


def test_a_vanished_client_loses_its_container(served, docker_client):
    """One client drops its connection mid-episode, one goes silent: both containers are removed."""
    _, url, _ = served
    assert _wait_gone(docker_client, 30)  # the earlier tests' sessions ended

    async def dropped():
        env = GenericEnvClient(base_url=url)
        await env.connect()
        await env.reset(instance_id=TASK)
        env._ws.transport.abort()  # no close message: the process died

    asyncio.run(dropped())
    assert _wait_gone(docker_client, 30)

    async def silent():
        env = GenericEnvClient(base_url=url)
        await env.connect()
        await env.reset(instance_id=TASK)
        return env

    loop = asyncio.new_event_loop()
    try:
        env = loop.run_until_complete(silent())
        assert _containers(docker_client)
        assert _wait_gone(docker_client, REAP + 20)  # the reaper's period is max(timeout / 4, 5 s)
        loop.run_until_complete(env.disconnect())
    finally:
        loop.close()


def test_cli_refuses_bad_limits_in_one_line(capsys):
    from evalharness.cli import main

    assert main(["serve-envs", "--max-envs", "0"]) == 2
    assert "--max-envs must be positive" in capsys.readouterr().err
