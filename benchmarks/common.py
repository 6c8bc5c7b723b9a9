"""What the benchmarks share: the Docker client and a built-in task's instance image (built if missing)."""

from __future__ import annotations

import os
from pathlib import Path

import docker

from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry
from evalharness.core.task import Task

CACHE = Path(os.environ.get("EVALHARNESS_CACHE", Path.home() / ".cache" / "evalharness"))


def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        raise SystemExit(f"bench: no Docker engine ({exc}); run `make docker` first") from None
    return client


def builtin_instance_image(client: docker.DockerClient, instance_id: str = "evalharness__confini-1") -> tuple[str, Task]:
    task = next(t for t in load_tasks("builtin") if t.instance_id == instance_id)
    builder = ImageBuilder(client, BuildConfig(cache_dir=CACHE), [BuiltinRepos(default_tasks_dir() / "repos", CACHE)])
    spec = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]).get(task.repo, task.version)
    return builder.instance_image(task, spec, lambda _line: None), task
