"""RL environments: reset latency (warm pool vs a cold container), step overhead (serve-envs vs the
in-process API), and what one environment costs, on a built-in task's image; then rollouts per
minute of `evalharness rollout` at 64 concurrent environments; in one run:

    .venv/bin/python -m benchmarks.bench_rl [--resets 10] [--steps 100] [--rollout-concurrency 64]

Each section is a function printing a markdown table; main() calls them in order (add a section
as one more function and one more call).
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


# ---- rollouts: the `rollout` command at 64 concurrent environments --------------------------------
ROLLOUT_COMMAND = "echo step {turn} >> bench_notes.txt && ls | head -3"  # leaves a patch: each rollout is graded


def rollouts_per_minute(concurrency: int = 64, latency: float = 2.0, turns: int = 10, group_size: int = 8,
                        tasks: int = 8) -> dict:
    """`evalharness rollout` as a trainer runs it (its own process, the real pipeline: a container
    per rollout, the llm agent through the gateway with token ids asked for, the tests in a fresh
    container) against tests/fake_llm.py answering after `latency` s and scripting `turns` turns
    (`turns - 1` bash calls that leave a patch, then submit). `tasks` x `group_size` rollouts
    (the built-in tasks), `concurrency` at once. Ideal: every rollout takes turns x latency and
    the waves follow each other with nothing in between; efficiency = ideal / measured wall time."""
    import math
    import tempfile

    import pyarrow.parquet as pq

    from benchmarks.bench_agent import FAKE_LLM, ROOT, busy_fraction, machine_cpu, steal
    from benchmarks.bench_gateway import Child

    server = Child([sys.executable, str(FAKE_LLM), "--asyncio", "--port", "0", "--latency", str(latency),
                    "--turns", str(turns), "--command", ROLLOUT_COMMAND, "--model", "policy"], r" at (http\S+)")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-rollout-") as reports:
            ids = ",".join(t.instance_id for t in load_tasks("builtin")[:tasks])
            argv = [sys.executable, "-m", "evalharness.cli", "rollout", "--policy-url", server.found.group(1),
                    "--group-size", str(group_size), "--workers", str(concurrency), "--token-ids", "vllm",
                    "--max-turns", str(turns + 5), "--instance-ids", ids, "--reports-dir", reports,
                    "--run-id", "bench-rollout", "--no-progress"]
            before = machine_cpu()
            time.sleep(1)
            background = busy_fraction(before, machine_cpu())
            machine0, steal0, began = machine_cpu(), steal(), time.monotonic()
            child = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.monotonic() - began
            busy, stolen = busy_fraction(machine0, machine_cpu()), busy_fraction(steal0, steal())
            child.returncode = os.waitstatus_to_exitcode(status)
            if child.returncode:
                raise SystemExit(f"bench: the rollout run failed (exit {child.returncode}): "
                                 f"{child.stderr.read()[-2000:] if child.stderr else ''}")
            rows = pq.read_table(Path(reports) / "bench-rollout" / "rollouts.parquet").to_pylist()
    finally:
        server.stop()
    n = len(rows)
    ideal = math.ceil(n / concurrency) * turns * latency
    agent = statistics.mean(r["agent_seconds"] for r in rows)
    return {"rollouts": n, "concurrency": concurrency, "latency": latency, "turns": turns, "wall": wall,
            "per_minute": 60 * n / wall, "ideal_per_minute": 60 * n / ideal, "efficiency": ideal / wall,
            "agent_efficiency": turns * latency / agent, "agent_s": agent,
            "env_s": statistics.median(r["env_seconds"] for r in rows),
            "eval_s": statistics.median(r["eval_seconds"] for r in rows),
            "harness_cpu_ms": 1000 * (usage.ru_utime + usage.ru_stime) / n,
            "token_id_turns": sum(r["token_id_turns"] for r in rows), "model_turns": sum(r["turns"] for r in rows),
            "statuses": sorted({r["status"] for r in rows}), "background": background, "busy": busy,
            "steal": stolen}


def print_rollouts(row: dict) -> None:
    print(f"\nrollouts per minute, {row['concurrency']} concurrent environments, fixed-latency fake policy "
          f"({row['latency']:g} s a turn, {row['turns']} turns; {row['rollouts']} rollouts of the built-in tasks, "
          "each graded in a fresh container)")
    print("| rollouts/min | ideal | efficiency | agent-phase efficiency | env / eval s (median) | harness CPU ms/rollout "
          "| turns with token ids |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {row['per_minute']:.1f} | {row['ideal_per_minute']:.1f} | {row['efficiency']:.2f} | "
          f"{row['agent_efficiency']:.2f} | {row['env_s']:.1f} / {row['eval_s']:.1f} | {row['harness_cpu_ms']:.0f} | "
          f"{row['token_id_turns']}/{row['model_turns']} |")
    print(f"statuses: {', '.join(row['statuses'])}; machine busy {row['busy']:.0%} (the second before: "
          f"{row['background']:.0%}), stolen {row['steal']:.0%}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resets", type=int, default=10)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rollout-concurrency", type=int, default=64, help="rollouts at once (8 x 8 of them if 64)")
    args = parser.parse_args(argv)
    client = docker_client()
    print(f"RL environments, {platform.node()}, {os.cpu_count()} CPUs\n")
    reset_latency(client, args.resets)
    reuse_alternatives(client, max(3, args.resets // 2))
    step_overhead(client, args.steps)
    side = max(1, round(args.rollout_concurrency ** 0.5))
    print_rollouts(rollouts_per_minute(args.rollout_concurrency, group_size=side,
                                       tasks=max(1, -(-args.rollout_concurrency // side))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
