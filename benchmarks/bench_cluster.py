"""Ray across nodes on one machine: the built-in tasks on 1, 2 and 3 worker nodes, and what
moving images between nodes costs.

The cluster is scripts/cluster-up's (evalharness/run/cluster.py), with a prefix of its own:
the Ray head on this host, each node a container with its own dockerd and a Ray worker
offering `docker` (`--slots` per node), Debian's docker-registry between them. It starts
cold (empty node engines, an empty registry) and is taken down at the end.

1. Image distribution. The built-in tasks' images (Debian OS, base, env and 11 instance
   images) are built on node 1 and pushed, then pulled by the other nodes: all at once on
   N - 1 nodes, and on one node alone. "push once" is this host's engine pushing the same
   images to a fresh repository (its layers already built, so the push alone).
2. Runs. For 1, 2 and 3 nodes (every node warm: it holds every image), the `eval` command a
   user types, `--executor ray`: gold (the test runs: CPU-bound) and the LLM agent against
   tests/fake_llm.py on this host (`--turns` scripted turns of `--latency` s each: waits,
   mostly). Wall time from the command's start to its end, Ray's connection included.

This machine has 2 cores for the host, the nodes' engines and every container: more nodes
add session slots, not CPUs, so gold cannot go faster and the fake model goes faster only
while the cores are idle between its turns.

Run: .venv/bin/python -m benchmarks.bench_cluster [--nodes 1,2,3] [--slots 4] [--latency 0.5] [--turns 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
EVALHARNESS = str(Path(sys.prefix) / "bin" / "evalharness")


def warm(registry: str) -> None:
    """In a node (docker exec): every built-in image here, from the registry or built and pushed."""
    from evalharness.env.images import BuildConfig, ImageBuilder
    from evalharness.tasks.datasets import default_tasks_dir, load_tasks
    from evalharness.tasks.repos import BuiltinRepos
    from evalharness.tasks.specs import SpecRegistry

    import docker

    cache = Path(tempfile.gettempdir()) / "bench-cache"
    builder = ImageBuilder(docker.from_env(timeout=600), BuildConfig(cache_dir=cache, registry=registry),
                           [BuiltinRepos(default_tasks_dir() / "repos", cache)])
    specs = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    tags = set()
    for task in load_tasks("builtin"):
        spec = specs.get(task.repo, task.version)
        tags.add(builder.image_for(task, spec, lambda line: None).tag)
        tags.add(builder.existing_image(task, spec)[1])
    print(" ".join(sorted(tags)))


def _in_node(node: str, *cmd: str) -> tuple[float, str]:
    began = time.monotonic()
    out = subprocess.run(["docker", "exec", node, *cmd], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} on {node} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    return time.monotonic() - began, out.stdout


def _warm(node: str, registry: str) -> float:
    return _warmed(node, registry)[0]


def _warmed(node: str, registry: str) -> tuple[float, list[str]]:
    """Seconds to have every built-in image on `node`, and their tags (instance and env images)."""
    seconds, out = _in_node(node, sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                            f"from benchmarks.bench_cluster import warm; warm({registry!r})")
    return seconds, out.split()


def distribution(cluster, info, client) -> list[tuple[str, float]]:
    """Build+push on node 1, pull on the others (all at once, then one alone), push alone from here."""
    from evalharness.run.cluster import scratch_registry

    nodes = info.nodes
    seconds, tags = _warmed(nodes[0], info.registry)
    rows = [("build + push on node 1, cold (its OS image pulled)", seconds)]
    if len(nodes) > 1:
        with ThreadPoolExecutor(len(nodes) - 1) as pool:
            began = time.monotonic()
            list(pool.map(lambda n: _warm(n, info.registry), nodes[1:]))
            rows.append((f"pull on {len(nodes) - 1} node(s) at once", time.monotonic() - began))
        _in_node(nodes[1], "sh", "-c", "docker rmi -f $(docker images -q) >/dev/null 2>&1 || true")
        rows.append(("pull on 1 node alone", _warm(nodes[1], info.registry)))
    # push alone: this host's images of the same tags (content-hashed) into an empty registry
    # of its own (the cluster's has the layers already: a push there uploads nothing)
    wanted = [t for t in tags if _present(client, t)]
    with scratch_registry() as registry:  # empty: every layer is pushed
        began = time.monotonic()
        for tag in wanted:
            repo, version = f"{registry}/{tag}".rsplit(":", 1)
            client.images.get(tag).tag(repo, version)
            for line in client.images.push(repo, tag=version, stream=True, decode=True):
                if line.get("error"):
                    raise SystemExit(f"bench: push of {repo}:{version} failed: {line['error']}")
        rows.append((f"push once from this host to an empty registry ({len(wanted)} tags, layers shared)",
                     time.monotonic() - began))
        for tag in wanted:
            client.images.remove(f"{registry}/{tag}")
    return rows


def _present(client, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except Exception:
        return False


def _run(info, reports: Path, run_id: str, *agent: str) -> dict:
    cmd = [EVALHARNESS, "eval", "--dataset", "builtin", *agent, "--run-id", run_id, "--reports-dir", str(reports),
           "--no-progress", *info.eval_args()]
    began = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, env=info.driver_env())
    wall = time.monotonic() - began
    if out.returncode != 0:
        raise SystemExit(f"bench: {' '.join(cmd)} failed:\n{out.stdout[-2000:]}{out.stderr[-2000:]}")
    rows = pq.read_table(reports / run_id / "results.parquet").to_pylist()
    per_node: dict[str, int] = {}
    for r in rows:
        node = r["worker"].split(" (ray node")[0].rsplit("-", 1)[-1]
        per_node[node] = per_node.get(node, 0) + 1
    ok = sum(r["status"] in ("resolved", "unresolved", "empty_patch") or r["exit_reason"] == "submitted" for r in rows)
    return {"wall": wall, "n": len(rows), "ok": ok, "resolved": sum(r["resolved"] for r in rows),
            "spread": " / ".join(f"{per_node[k]}" for k in sorted(per_node))}


class FakeModel:
    """tests/fake_llm.py on all interfaces (the nodes reach it at the network's gateway)."""

    def __init__(self, latency: float, turns: int):
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_llm.py"), "--asyncio", "--host",
                                      "0.0.0.0", "--port", "0", "--latency", str(latency), "--turns", str(turns)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.proc.stdout.readline()
        found = re.search(r":(\d+)/v1", line)
        if not found:
            self.proc.kill()
            raise SystemExit(f"bench: the fake model did not start: {line}")
        self.port = int(found.group(1))

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def main(argv: list[str] | None = None) -> None:
    from benchmarks.common import docker_client
    from evalharness.run.cluster import Cluster, ClusterSpec

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", default="1,2,3")
    parser.add_argument("--slots", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--turns", type=int, default=10)
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.nodes.split(",")]
    client = docker_client()
    prefix = f"evalharness-bench-{uuid.uuid4().hex[:4]}"
    spec = ClusterSpec(nodes=max(levels), slots=args.slots, prefix=prefix, ray_port=6395, registry_port=5059,
                       state_dir=Path(tempfile.gettempdir()) / prefix)
    cluster = Cluster(spec, client, say=lambda line: None)
    reports = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    model = None
    try:
        began = time.monotonic()
        info = cluster.up()
        up_seconds = time.monotonic() - began
        dist = distribution(cluster, info, client)
        gateway = info.address.split(":")[0]
        model = FakeModel(args.latency, args.turns)
        llm = ["--agent", "llm", "--base-url", f"http://{gateway}:{model.port}/v1", "--model", "m",
               "--max-turns", str(args.turns + 5)]
        results = []
        for n in levels:
            cluster.spec = dataclasses.replace(spec, nodes=n)
            info = cluster.up()  # scaled to n (dropped nodes keep their volumes: warm when back)
            results.append((n, _run(info, reports, f"gold-{n}", "--agent", "gold"),
                            _run(info, reports, f"llm-{n}", *llm)))
    finally:
        if model is not None:
            model.close()
        cluster.spec = spec
        cluster.down()
        shutil.rmtree(reports, ignore_errors=True)
    print(f"\n### Cluster on one machine (2 cores): {max(levels)} nodes up cold in {up_seconds:.0f} s "
          f"(node image cached)\n")
    print("| image distribution (built-in tasks: OS, base, env, 11 instance images) | seconds |")
    print("|---|---:|")
    for what, seconds in dist:
        print(f"| {what} | {seconds:.1f} |")
    print(f"\n| nodes | slots | gold: wall s | gold: instances/s | gold: per node | fake model ({args.turns} turns x "
          f"{args.latency} s): wall s | instances/s | per node | submitted |")
    print("|---:|---:|---:|---:|---|---:|---:|---|---:|")
    for n, gold, fake in results:
        print(f"| {n} | {n * args.slots} | {gold['wall']:.1f} | {gold['n'] / gold['wall']:.3f} | {gold['spread']} "
              f"| {fake['wall']:.1f} | {fake['n'] / fake['wall']:.3f} | {fake['spread']} | {fake['ok']}/{fake['n']} |")
    print(f"\ngold resolved: {', '.join(str(g['resolved']) + '/' + str(g['n']) for _, g, _ in results)}")


if __name__ == "__main__":
    main()
