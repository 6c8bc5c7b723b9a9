"""RL environments: reset latency (warm pool vs a cold container), step overhead (serve-envs vs the
in-process API), and what one environment costs, on a built-in task's image, in one run:

    .venv/bin/python -m benchmarks.bench_rl [--resets 10] [--steps 100]

Each section is a function printing a markdown table; main() calls them in order (add a section
as one more function and one more call).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import sys
import time

from benchmarks.common import CACHE, docker_client
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.rl.env import EnvConfig, EnvHub
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.tasks.repos import BuiltinRepos
from evalharness.tasks.specs import SpecRegistry

TASK = "evalharness__confini-1"
TRUE = {"tool": "bash", "arguments": {"command": "true"}}


def make_hub(client, run_id: str, **config) -> EnvHub:
    builder = ImageBuilder(client, BuildConfig(cache_dir=CACHE), [BuiltinRepos(default_tasks_dir() / "repos", CACHE)])
    specs = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    return EnvHub(load_tasks("builtin"), client=client, builder=builder, specs=specs,
                  config=EnvConfig(run_id=run_id, **config))


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} | {max(values) * 1000:.1f}"


def reset_latency(client, n: int) -> dict[str, list[float]]:
    """reset() from a ready environment of the pool vs one that starts its container and shell."""
    out: dict[str, list[float]] = {"warm pool": [], "cold container": []}
    with make_hub(client, "bench-rl-warm", pool_size=2, warm=1) as hub:
        hub.prewarm(TASK)
        env = hub.make()
        for _ in range(n):
            hub.pool.wait_ready(TASK, 1, timeout=120)
            start = time.perf_counter()
            env.reset(TASK)
            out["warm pool"].append(time.perf_counter() - start)
        env.close()
    with make_hub(client, "bench-rl-cold", pool_size=2, warm=0) as hub:
        hub.image(hub.task(TASK))
        env = hub.make()
        for _ in range(n):
            start = time.perf_counter()
            env.reset(TASK)
            out["cold container"].append(time.perf_counter() - start)
        env.close()
    print(f"reset latency, {n} resets each (`{TASK}`)\n")
    print("| reset | median ms | max ms |\n|---|---:|---:|")
    for name, values in out.items():
        print(f"| {name} | {ms(values)} |")
    print()
    return out


def reuse_alternatives(client, n: int) -> None:
    """What the reset policies cost: a fresh container (the pool's choice, off the critical path)
    vs recycling one in place (kill its processes, git reset/clean), and one environment's memory."""
    recycle, fresh, memory = [], [], []
    cleanup = ("for p in /proc/[0-9]*; do p=${p#/proc/}; [ $p -gt 1 ] && [ $p != $$ ] && [ $p != $keep ] "
               "&& kill -9 $p 2>/dev/null; done; git reset -q --hard && git clean -fdq")
    with make_hub(client, "bench-rl-reuse", pool_size=2, warm=0) as hub:
        task = hub.task(TASK)
        for _ in range(n):
            start = time.perf_counter()
            live = hub._start(TASK)
            fresh.append(time.perf_counter() - start)
            inner = getattr(live.env, "inner", live.env)
            keep = inner.exec("cat /proc/1/task/1/children").output.split()[0]
            live.shell.run("echo x > dirt && (setsid sleep 999 &)")
            start = time.perf_counter()
            inner.exec(f"keep={keep}; {cleanup}")
            recycle.append(time.perf_counter() - start)
            stats = inner.container.stats(stream=False)["memory_stats"]
            memory.append((stats.get("usage", 0) - stats.get("stats", {}).get("inactive_file", 0)) / 2**20)
            live.close()
        del task
    print("reset policies (one environment each time)\n")
    print("| policy | median ms | max ms |\n|---|---:|---:|")
    print(f"| fresh container + shell (pool refill, in the background) | {ms(fresh)} |")
    print(f"| recycle in place: kill processes, git reset --hard, git clean (one exec) | {ms(recycle)} |")
    print(f"\nmemory of an idle environment (container with its shell, working set): "
          f"median {statistics.median(memory):.1f} MiB, max {max(memory):.1f} MiB\n")


def step_overhead(client, n: int) -> None:
    """env.step(bash `true`) in process vs through serve-envs with OpenEnv's client (WebSocket)."""
    from openenv.core.generic_client import GenericEnvClient

    from evalharness.rl.server import EnvServer

    def timed(step) -> list[float]:
        for _ in range(5):
            step(TRUE)
        out = []
        for _ in range(n):
            start = time.perf_counter()
            step(TRUE)
            out.append(time.perf_counter() - start)
        return out

    with make_hub(client, "bench-rl-step", pool_size=2, warm=0, max_steps=10**9) as hub:
        with hub.make() as env:
            env.reset(TASK)
            local = timed(env.step)
        token = secrets.token_hex(8)
        server = EnvServer(hub, token=token, port=0, max_envs=2).start()
        try:
            with GenericEnvClient(base_url=f"http://rl:{token}@127.0.0.1:{server.port}").sync() as remote:
                remote.reset(instance_id=TASK)
                served = timed(remote.step)
        finally:
            server.stop()
    print(f"step latency of bash `true`, {n} steps each\n")
    print("| step | median ms | max ms |\n|---|---:|---:|")
    print(f"| in-process API (`SWEEnv.step`) | {ms(local)} |")
    print(f"| serve-envs, OpenEnv client over WebSocket | {ms(served)} |")
    print(f"\nserver overhead (median difference): {(statistics.median(served) - statistics.median(local)) * 1000:.1f} ms\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args(argv)
    client = docker_client()
    print(f"RL environments, {platform.node()}, {os.cpu_count()} CPUs\n")
    reset_latency(client, args.resets)
    reuse_alternatives(client, max(3, args.resets // 2))
    step_overhead(client, args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
