"""The Ray executor on a local Ray cluster, with the real Docker engine: nothing mocked.

A local cluster is a real one (GCS, raylet, worker processes) on this machine; the node
advertises the `docker` resource as a cluster node with Docker would.
"""

from __future__ import annotations

import functools
import os
import signal
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import ray

from evalharness.cli import main
from evalharness.env.docker import running_container
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.run.executors.ray import RayExecutor, node_scratch
from evalharness.env.images import LABEL, BuildConfig, ImageBuilder
from evalharness.run.pipeline import PipelineRecipe, RunConfig
from evalharness.tasks.repos import BuiltinRepos
from evalharness.run.runner import Runner
from evalharness.scorers import get_scorer
from evalharness.tasks.specs import SpecRegistry

pytestmark = [pytest.mark.docker, pytest.mark.ray]

TESTS = Path(__file__).resolve().parent
TASKS = load_tasks("builtin")


@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster whose workers can import this folder's test agents."""
    path = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, resources={"docker": 4}, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield
    ray.shutdown()


def _leftovers(docker_client, run_id: str) -> list:
    return docker_client.containers.list(all=True, filters={"label": f"{LABEL}.run_id={run_id}"})


def test_no_docker_node_is_a_clear_error(tmp_path, cache_dir):
    """A cluster without any node offering `docker` fails at once, saying how to start one."""
    from evalharness.core.errors import UserError

    # A local cluster of its own, without the resource. It runs first in this file: ray.init is
    # process-wide, and the module's cluster (with the resource) starts with the next test.
    assert not ray.is_initialized()
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        config = RunConfig(run_id="r", dataset="builtin", agent="gold", reports_dir=tmp_path)
        recipe = PipelineRecipe(config=config, build=BuildConfig(cache_dir=cache_dir), specs=SpecRegistry(),
                                repo_sources=(), agent=lambda: None, scorer=lambda: None)
        with pytest.raises(UserError, match="docker"):
            RayExecutor(recipe)
    finally:
        ray.shutdown()


def test_cli_runs_builtin_tasks_on_ray(cluster, tmp_path, cache_dir, docker_client):
    """`eval --executor ray`: every built-in task a Ray task; the driver alone writes results and logs."""
    code = main(["eval", "--executor", "ray", "--agent", "gold", "--workers", "4", "--reports-dir", str(tmp_path),
                 "--run-id", "ray-gold", "--cache-dir", str(cache_dir), "--no-progress"])
    assert code == 0
    run = tmp_path / "ray-gold"
    rows = pq.read_table(run / "results.parquet").to_pylist()
    assert sorted(r["instance_id"] for r in rows) == sorted(t.instance_id for t in TASKS)
    for row in rows:
        assert row["status"] == "resolved", (row["instance_id"], row["error"])
        assert "ray node" in row["worker"] and row["attempt"] == 1
        logs = run / "logs" / row["instance_id"]  # written by the driver from what the task sent back
        assert (logs / "patch.diff").read_text() == row["patch"]
        assert ">>>>> Start Test Output" in (logs / "test_output.txt").read_text()
    assert _leftovers(docker_client, "ray-gold") == []
    assert not node_scratch("ray-gold").exists(), "a node left its temporary log folder"


def test_killed_worker_is_retried_and_recorded_once(cluster, tmp_path, cache_dir, docker_client):
    """SIGKILL the Ray worker in the middle of an instance: it runs again, and appears exactly once."""
    from ray_agents import StallOnceAgent

    tasks = [t for t in TASKS if t.repo == "evalharness/confini"][:3]
    victim = tasks[1].instance_id
    config = RunConfig(run_id="ray-kill", dataset="builtin", agent="gold", workers=3, reports_dir=tmp_path)
    recipe = PipelineRecipe(
        config=config,
        build=BuildConfig(cache_dir=cache_dir),
        specs=SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]),
        repo_sources=(BuiltinRepos(default_tasks_dir() / "repos", cache_dir),),
        agent=functools.partial(StallOnceAgent, victim, str(tmp_path)),
        scorer=functools.partial(get_scorer, "tests"),
    )
    killed: list[int] = []

    def kill_when_stalled():
        marker = tmp_path / "victim.pid"
        deadline = time.monotonic() + 240
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # the stalled attempt holds a running agent container now
        pid = int(marker.read_text())
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_when_stalled, daemon=True)
    killer.start()
    outcome = Runner(config, executor=RayExecutor(recipe)).run(tasks, progress=False)
    killer.join(5)
    assert killed, "the victim never stalled"
    rows = pq.read_table(tmp_path / "ray-kill" / "results.parquet").to_pylist()
    assert sorted(r["instance_id"] for r in rows) == sorted(t.instance_id for t in tasks)  # each exactly once
    by_id = {r["instance_id"]: r for r in rows}
    assert by_id[victim]["status"] == "resolved", by_id[victim]["error"]
    assert by_id[victim]["attempt"] == 2
    assert all(by_id[t.instance_id]["attempt"] == 1 for t in tasks if t.instance_id != victim)
    assert [r.instance_id for r in outcome.records].count(victim) == 1
    assert _leftovers(docker_client, "ray-kill") == []  # the dead attempt's container was cleaned up
    assert not node_scratch("ray-kill").exists()  # and its scratch folder


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry (the distribution registry) on a free loopback port."""
    from evalharness.run.cluster import scratch_registry

    with scratch_registry(tmp_path) as addr:
        yield f"{addr}/evalharness-test"


def test_nodes_share_built_images_through_the_registry(registry, tmp_path, cache_dir, docker_client):
    """Node A builds and pushes; node B (nothing cached) pulls the layers instead of building them."""
    import dataclasses

    task = next(t for t in TASKS if t.repo == "evalharness/textkit")
    base = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]).get(task.repo, task.version)
    spec = dataclasses.replace(base, env={**base.env, "REGISTRY_TEST": str(time.time_ns())})  # a fresh env layer
    sources = [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)]
    config = BuildConfig(cache_dir=cache_dir, registry=registry)
    lines_a: list[str] = []
    node_a = ImageBuilder(docker_client, config, sources)
    tag = node_a.instance_image(task, spec, lines_a.append)
    env_tag = node_a._env_tag(spec)
    assert any(line.startswith(f"pushed {registry}/{tag}") for line in lines_a), lines_a
    assert any(line.startswith(f"pushed {registry}/{env_tag}") for line in lines_a), lines_a

    for name in (tag, env_tag, f"{registry}/{tag}", f"{registry}/{env_tag}"):  # node B has none of them
        docker_client.images.remove(name, force=True)
    lines_b: list[str] = []
    node_b = ImageBuilder(docker_client, config, sources)
    assert node_b.instance_image(task, spec, lines_b.append) == tag
    assert f"pulled {registry}/{tag} from the registry" in lines_b, lines_b
    assert not any("Step" in line or line.startswith("building") for line in lines_b), lines_b
    with running_container(docker_client, tag, run_id="test-registry", instance_id=task.instance_id,
                           purpose="check") as env:
        assert env.exec("git rev-parse HEAD").output.strip() == task.base_commit
    for name in (tag, env_tag, f"{registry}/{tag}", f"{registry}/{env_tag}"):
        docker_client.images.remove(name, force=True)


def test_llm_limit_is_shared_by_ray_workers(cluster, tmp_path, cache_dir, docker_client, capsys):
    """--llm-concurrency on Ray: one actor holds the limit for agents in separate worker processes."""
    from fake_llm import FakeLLM
    from test_backpressure import INSTANCES, HeldModel

    model = HeldModel()
    with FakeLLM(script=model, model="m") as server:
        code = main(["eval", "--executor", "ray", "--base-url", server.base_url, "--model", "m",
                     "--instance-ids", INSTANCES, "--llm-concurrency", "1", "--reports-dir", str(tmp_path),
                     "--run-id", "ray-limit", "--cache-dir", str(cache_dir), "--no-progress"])
    assert code == 0
    rows = pq.read_table(tmp_path / "ray-limit" / "results.parquet").to_pylist()
    assert len(rows) == 3 and all(r["exit_reason"] == "submitted" for r in rows), [r["error"] for r in rows]
    assert len({r["worker"] for r in rows}) >= 1 and all("ray node" in r["worker"] for r in rows)
    assert model.peak == 1
    assert "model requests: 9 under the limit of 1 in flight" in capsys.readouterr().out
