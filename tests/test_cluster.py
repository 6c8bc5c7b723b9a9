"""Ray across nodes: a 2-node cluster of Docker-in-Docker worker nodes (scripts/cluster-up's),
the CLI as a user runs it, and the faults of issue 21 (a node killed, the registry down, the
driver killed). Nothing mocked; the module brings the cluster up and takes it down.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalharness.core.errors import EnvBuildError
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.run.cluster import Cluster, ClusterSpec
from evalharness.agents import get_agent
from evalharness.run.pipeline import RunConfig
from evalharness.run.runner import Runner
from evalharness.scorers import get_scorer
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry

pytestmark = [pytest.mark.docker, pytest.mark.ray, pytest.mark.cluster]

TASKS = load_tasks("builtin")
EVALHARNESS = str(Path(sys.prefix) / "bin" / "evalharness")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """Two worker nodes, a head and a registry of this module's own (names and ports)."""
    prefix = f"evalharness-test-{uuid.uuid4().hex[:6]}"
    spec = ClusterSpec(nodes=2, prefix=prefix, ray_port=_free_port(), registry_port=_free_port(),
                       state_dir=Path(tempfile.gettempdir()) / prefix)
    c = Cluster(spec)
    try:
        c.info = c.up()
        yield c
    finally:
        c.down()


def _eval(cluster, reports: Path, run_id: str, *extra: str) -> subprocess.Popen:
    cmd = [EVALHARNESS, "eval", "--dataset", "builtin", "--agent", "gold", "--run-id", run_id,
           "--reports-dir", str(reports), "--no-progress", *cluster.info.eval_args(), *extra]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=cluster.info.driver_env())


def _rows(reports: Path, run_id: str) -> list[dict]:
    return pq.read_table(reports / run_id / "results.parquet").to_pylist()


def _node_of(row: dict) -> str:
    return row["worker"].split(" (ray node")[0]


def _running_on(cluster, node: str, run_id: str) -> bool:
    out = subprocess.run(["docker", "exec", node, "docker", "ps", "-q", "--filter",
                          f"label=evalharness.run_id={run_id}"], capture_output=True, text=True)
    return bool(out.stdout.strip())


def test_gold_resolves_every_builtin_task_on_two_nodes_each_image_built_once(cluster, tmp_path):
    proc = _eval(cluster, tmp_path, "gold-2nodes")
    out, _ = proc.communicate(timeout=1500)
    assert proc.returncode == 0, out
    rows = _rows(tmp_path, "gold-2nodes")
    assert sorted(r["instance_id"] for r in rows) == sorted(t.instance_id for t in TASKS)
    assert all(r["status"] == "resolved" for r in rows), [(r["instance_id"], r["error"]) for r in rows]
    assert {_node_of(r) for r in rows} == set(cluster.info.nodes)  # both nodes ran instances
    nodes = json.loads((tmp_path / "gold-2nodes" / "run.json").read_text())["nodes"]  # which node ran what
    assert {n: sorted(v["instances"]) for n, v in nodes.items()} == {
        n: sorted(r["instance_id"] for r in rows if _node_of(r) == n) for n in cluster.info.nodes}
    built = Counter(tag for v in nodes.values() for tag in v["built"])
    assert built and max(built.values()) == 1, built  # no layer built twice, on any node
    for layer in ("evalharness-base:", "evalharness-env:"):  # built on one node, pulled by the other
        (tag,) = {t for t in built if t.startswith(layer)}
        builder = next(n for n, v in nodes.items() if tag in v["built"])
        others = [n for n in nodes if n != builder]
        assert all(tag in nodes[n]["pulled"] for n in others), nodes


def test_a_node_killed_mid_run_loses_and_duplicates_nothing(cluster, tmp_path):
    victim = cluster.info.nodes[1]
    proc = _eval(cluster, tmp_path, "node-killed")
    try:
        deadline = time.monotonic() + 600
        while not _running_on(cluster, victim, "node-killed"):
            assert proc.poll() is None and time.monotonic() < deadline, "no instance ever ran on " + victim
            time.sleep(0.3)
        cluster.kill_node(2)
        out, _ = proc.communicate(timeout=1500)
    finally:
        if proc.poll() is None:
            proc.kill()
        cluster.info = cluster.up()  # the node back, for the next tests
    assert proc.returncode == 0, out
    rows = _rows(tmp_path, "node-killed")
    assert Counter(r["instance_id"] for r in rows) == Counter(t.instance_id for t in TASKS)  # each exactly once
    assert all(r["status"] == "resolved" for r in rows), [(r["instance_id"], r["status"], r["error"]) for r in rows]
    rerun = [r for r in rows if r["attempt"] > 1]
    assert rerun and all(_node_of(r) != victim for r in rerun), [(r["instance_id"], r["worker"]) for r in rows]


def test_a_killed_driver_resumes_with_the_same_command(cluster, tmp_path):
    proc = _eval(cluster, tmp_path, "driver-killed")
    records = tmp_path / "driver-killed" / "records"
    deadline = time.monotonic() + 600
    while len(list(records.glob("*.json"))) < 2 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(records.glob("*.json")))
    assert 0 < done_before < len(TASKS)
    again = _eval(cluster, tmp_path, "driver-killed")
    out, _ = again.communicate(timeout=1500)
    assert again.returncode == 0, out
    rows = _rows(tmp_path, "driver-killed")
    assert Counter(r["instance_id"] for r in rows) == Counter(t.instance_id for t in TASKS)
    assert all(r["status"] == "resolved" for r in rows), [(r["instance_id"], r["error"]) for r in rows]


def test_pulls_retry_while_the_registry_is_down_then_fail_the_instance(cluster, tmp_path, docker_client):
    """Against the cluster's registry from this host's engine: down for a while, a pull waits
    and succeeds; down for longer than registry_wait, the layer fails as an EnvBuildError (the
    pipeline's env_build_failed for that instance), and the caller carries on."""
    tag = f"evalharness-test-registry-wait:{uuid.uuid4().hex[:8]}"
    docker_client.images.get("evalharness-os:bookworm").tag(*tag.split(":"))
    registry = cluster.info.local_registry
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=tmp_path, registry=registry, registry_wait=60), [])
    lines: list[str] = []
    try:
        builder._registry.push_shared(tag, lines.append)
        docker_client.images.remove(tag)
        cluster.stop_registry()
        restart = threading.Timer(8.0, cluster.start_registry)
        restart.start()
        assert builder._registry.pull_shared(tag, lines.append)  # waited, then pulled
        restart.join()
        assert any("does not answer" in line for line in lines), lines
        assert f"pulled {registry}/{tag} from the registry" in lines
        docker_client.images.remove(tag)
        cluster.stop_registry()
        quick = ImageBuilder(docker_client, BuildConfig(cache_dir=tmp_path, registry=registry, registry_wait=3), [])
        with pytest.raises(EnvBuildError, match="did not answer"):
            quick._registry.pull_shared(tag, lines.append)
        # As a run sees it: the instance is env_build_failed, saying why, and the run completes.
        # (A base image of its own makes every tag new, so nothing is found locally.)
        task = TASKS[0]
        config = BuildConfig(cache_dir=tmp_path, registry=registry, registry_wait=3, base_image=f"{tag}-none")
        builder = ImageBuilder(docker_client, config, [BuiltinRepos(default_tasks_dir() / "repos", tmp_path)])
        run = RunConfig(run_id=f"registry-down-{uuid.uuid4().hex[:6]}", dataset="builtin", agent="gold",
                        reports_dir=tmp_path / "reports")
        outcome = Runner(run, client=docker_client, builder=builder, specs=SpecRegistry.from_files(
            [default_tasks_dir() / "specs.toml"]), agent=get_agent("gold"), scorer=get_scorer("tests")).run(
            [task], progress=False)
        (record,) = outcome.records
        assert record.status == "env_build_failed" and "did not answer" in record.error, record.error
    finally:
        cluster.start_registry()
        for name in (tag, f"{registry}/{tag}"):
            try:
                docker_client.images.remove(name)
            except Exception:
                pass
    assert os.path.exists(cluster.state / "registry.pid")
