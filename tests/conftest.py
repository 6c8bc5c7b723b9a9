"""Shared fixtures. Docker tests use the real engine; they fail (never skip) without one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def docker_client():
    import docker

    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.fail(f"Docker engine not reachable ({exc}); run scripts/docker-up (make test does)")
    return client


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """One cache for the whole session, so images and repos are built once."""
    return Path(os.environ.get("EVALHARNESS_TEST_CACHE") or tmp_path_factory.mktemp("cache"))
