"""What the RL tests share: a hub over the built-in tasks (images built once per session, as in the e2e tests)."""

from __future__ import annotations

from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.rl.env import EnvConfig, EnvHub
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry

TASK = "evalharness__confini-1"


def make_hub(docker_client, cache_dir, **config) -> EnvHub:
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir),
                           [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])
    specs = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    return EnvHub(load_tasks("builtin"), client=docker_client, builder=builder, specs=specs,
                  config=EnvConfig(**config))


def gold_steps(task) -> list[dict]:
    """A scripted policy that applies the gold fix with the agent's own tools, then submits."""
    return [{"tool": "str_replace_editor", "arguments": {"command": "create", "path": "/tmp/fix.patch",
                                                         "file_text": task.patch}},
            {"tool": "bash", "arguments": {"command": "git apply /tmp/fix.patch && rm /tmp/fix.patch"}}]
