"""The environments over Ray: a hub on every node that offers the `docker` resource (as the Ray
executor's nodes do), the trainer's side unchanged.

`RayEnvHub(recipe)` starts one `NodeEnvs` actor per such node, pinned to it and holding that
node's `docker` slots for its life; each actor builds an `EnvHub` (its own warm pool, images
and grading) from the picklable `HubRecipe`. `make()` gives a `RayEnv` on the actor with the
fewest open environments: the same reset / step / close as `SWEEnv`, so the server
(rl/server.py) and a trainer's loop take either. Errors keep their type across Ray
(`ray.get` raises the actor's UserError subclass).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, replace
from typing import Any, Sequence

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from evalharness.core.errors import UserError
from evalharness.core.task import Task
from evalharness.env.images import BuildConfig
from evalharness.rl.env import EnvConfig
from evalharness.rl.types import ClosedEnvError, Observation, StepResult
from evalharness.run.executors.ray import RESOURCE
from evalharness.tasks.repos import RepoSource
from evalharness.tasks.specs import SpecRegistry


@dataclass(frozen=True)
class HubRecipe:
    """What a node builds its EnvHub from (paths in it are read on the node)."""

    tasks: Sequence[Task]
    build: BuildConfig
    specs: SpecRegistry
    repo_sources: Sequence[RepoSource]
    config: EnvConfig = EnvConfig()

    def hub(self, pool_size: int):
        import docker

        from evalharness.env.images import ImageBuilder
        from evalharness.rl.env import EnvHub

        client = docker.from_env(timeout=600)
        return EnvHub(self.tasks, client=client, builder=ImageBuilder(client, self.build, self.repo_sources),
                      specs=self.specs, config=replace(self.config, pool_size=pool_size))


class NodeEnvs:
    """A node's environments (a threaded Ray actor): env key -> SWEEnv of the node's hub."""

    def __init__(self, recipe: HubRecipe, slots: int):
        self.hub = recipe.hub(slots)
        self.envs: dict[str, Any] = {}
        self.lock = threading.Lock()

    def reset(self, key: str, instance_id: str) -> Observation:
        with self.lock:
            env = self.envs.get(key) or self.envs.setdefault(key, self.hub.make())
        return env.reset(instance_id)

    def step(self, key: str, action: Any) -> StepResult:
        env = self.envs.get(key)
        if env is None:
            raise ClosedEnvError("no episode is running in this environment: call reset(task) first")
        return env.step(action)

    def close(self, key: str) -> None:
        with self.lock:
            env = self.envs.pop(key, None)
        if env is not None:
            env.close()

    def shutdown(self) -> None:
        for key in list(self.envs):
            self.close(key)
        self.hub.close()


class RayEnvHub:
    def __init__(self, recipe: HubRecipe):
        nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(RESOURCE, 0) >= 1]
        if not nodes:
            raise UserError(f"no Ray node offers the `{RESOURCE}` resource: start nodes with "
                            f"ray start --resources='{{\"{RESOURCE}\": 64}}'")
        self.tasks = {t.instance_id: t for t in recipe.tasks}
        remote = ray.remote(NodeEnvs)
        self.actors = []
        for node in nodes:
            slots = int(node["Resources"][RESOURCE])
            self.actors.append(remote.options(
                num_cpus=0, resources={RESOURCE: slots}, max_concurrency=slots * 2 + 4,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node["NodeID"], soft=False),
            ).remote(recipe, slots))
        self._open = [0] * len(self.actors)
        self._keys = itertools.count(1)
        self._lock = threading.Lock()

    def make(self) -> "RayEnv":
        with self._lock:
            index = min(range(len(self.actors)), key=self._open.__getitem__)
            self._open[index] += 1
            return RayEnv(self, index, f"env{next(self._keys)}")

    def close(self) -> None:
        ray.get([actor.shutdown.remote() for actor in self.actors])
        for actor in self.actors:
            ray.kill(actor)

    def __enter__(self) -> "RayEnvHub":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _closed(self, index: int) -> None:
        with self._lock:
            self._open[index] -= 1


class RayEnv:
    """SWEEnv's interface, the environment living on a Ray node."""

    def __init__(self, hub: RayEnvHub, index: int, key: str):
        self.hub, self.index, self.key = hub, index, key
        self.actor = hub.actors[index]
        self._closed = False

    def reset(self, task: str | Task) -> Observation:
        if self._closed:
            raise ClosedEnvError("this environment was closed; make another with hub.make()")
        return ray.get(self.actor.reset.remote(self.key, task.instance_id if isinstance(task, Task) else task))

    def step(self, action: Any) -> StepResult:
        if self._closed:
            raise ClosedEnvError("this environment was closed; make another with hub.make()")
        return ray.get(self.actor.step.remote(self.key, action))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            ray.get(self.actor.close.remote(self.key))
            self.hub._closed(self.index)

    def __enter__(self) -> "RayEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
