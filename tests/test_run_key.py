"""Two runs with the same id in different reports folders (two `validate`s both run "gold")
share a Docker engine without removing each other's containers."""

from __future__ import annotations

import pickle
import uuid
from pathlib import Path

import pytest

from evalharness.env.docker import remove_run_containers, running_container
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.run.pipeline import RunConfig


def test_the_run_key_names_the_run_folder_and_travels_with_the_config(tmp_path):
    a = RunConfig(run_id="gold", dataset="d", agent="gold", reports_dir=tmp_path / "a")
    b = RunConfig(run_id="gold", dataset="d", agent="gold", reports_dir=tmp_path / "b")
    again = RunConfig(run_id="gold", dataset="d", agent="gold", reports_dir=tmp_path / "a")
    assert a.run_key != b.run_key and a.run_key == again.run_key and len(a.run_key) == 16
    assert pickle.loads(pickle.dumps(a)).run_key == a.run_key  # a Ray node keeps the driver's
    assert RunConfig(run_id="gold", dataset="d", agent="gold", reports_dir=Path("x"), run_key="k").run_key == "k"


@pytest.mark.docker
def test_sweeping_one_run_leaves_the_same_id_in_another_folder_alone(docker_client, cache_dir):
    image = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), []).base_image("3.11", print)
    run_id = f"same-{uuid.uuid4().hex[:8]}"
    with running_container(docker_client, image, run_id=run_id, run_key="folder-a", instance_id="i",
                           purpose="agent") as mine, \
            running_container(docker_client, image, run_id=run_id, run_key="folder-b", instance_id="i",
                              purpose="agent") as theirs:
        assert remove_run_containers(docker_client, run_id, run_key="folder-b") == 1
        mine.container.reload()
        assert mine.container.status == "running"
        assert not docker_client.containers.list(all=True, filters={"id": theirs.container.id})
