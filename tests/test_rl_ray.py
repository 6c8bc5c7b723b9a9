"""The RL environments on a local Ray cluster (a node offering `docker`), real containers, served too."""

from __future__ import annotations

import secrets

import pytest
import ray
from openenv.core.generic_client import GenericEnvClient

from evalharness.env.images import BuildConfig
from evalharness.rl.env import EnvConfig
from evalharness.rl.ray_envs import HubRecipe, RayEnvHub
from evalharness.rl.server import EnvServer
from evalharness.rl.types import UnknownTaskError
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry
from rl_fixtures import TASK, gold_steps

pytestmark = [pytest.mark.docker, pytest.mark.ray]
RUN = "rl-ray-test"


def test_environments_on_a_ray_node_reward_and_clean_up(cache_dir, docker_client):
    tasks = load_tasks("builtin")
    recipe = HubRecipe(tasks=tasks, build=BuildConfig(cache_dir=cache_dir),
                       specs=SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]),
                       repo_sources=[BuiltinRepos(default_tasks_dir() / "repos", cache_dir)],
                       config=EnvConfig(run_id=RUN, warm=0))
    ray.init(num_cpus=2, resources={"docker": 2}, include_dashboard=False, log_to_driver=False)
    try:
        hub = RayEnvHub(recipe)
        try:
            task = hub.tasks[TASK]
            with hub.make() as env:
                with pytest.raises(UnknownTaskError, match="unknown task"):
                    env.reset("no-such-task")
                obs = env.reset(TASK)
                assert obs.instance_id == TASK and obs.tools
                for action in gold_steps(task):
                    assert not env.step(action).done
                result = env.step({"tool": "submit"})
                assert result.done and result.reward == 1.0 and result.info["status"] == "resolved"
            token = secrets.token_hex(8)  # the same server over the Ray hub
            server = EnvServer(hub, token=token, port=0, max_envs=2).start()
            try:
                with GenericEnvClient(base_url=f"http://rl:{token}@127.0.0.1:{server.port}").sync() as client:
                    client.reset(instance_id=TASK)
                    assert client.step({"tool": "submit"}).reward == 0.0
            finally:
                server.stop()
        finally:
            hub.close()
    finally:
        ray.shutdown()
    assert not docker_client.containers.list(all=True, filters={"label": f"evalharness.run_id={RUN}"})
