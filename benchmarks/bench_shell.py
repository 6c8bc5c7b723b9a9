"""Per-command latency: the persistent shell session vs one `docker exec` per command.

Both run `true` in the same container of a built-in task's instance image, in one run, so
the figures compare like with like:

    .venv/bin/python -m benchmarks.bench_shell [--shell-calls 300] [--exec-calls 60]

Prints a markdown table (median and p95 per call, in milliseconds) and the speed-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from typing import Callable

from benchmarks.common import builtin_instance_image, docker_client
from evalharness.env.docker import running_container
from evalharness.env.shell import open_shell


def timings(call: Callable[[], object], n: int, warmup: int = 5) -> list[float]:
    """Seconds per call, `n` calls after `warmup` untimed ones."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shell-calls", type=int, default=300)
    parser.add_argument("--exec-calls", type=int, default=60)
    args = parser.parse_args(argv)

    client = docker_client()
    image, task = builtin_instance_image(client)
    with running_container(client, image, run_id="bench-shell", instance_id=task.instance_id, purpose="bench") as env:
        start = time.perf_counter()
        shell = open_shell(env)
        opened = time.perf_counter() - start
        with shell:
            if not shell.run("true").ok:
                raise SystemExit("the shell session does not run `true`")
            shell_times = timings(lambda: shell.run("true"), args.shell_calls)
            exec_times = timings(lambda: env.exec("true"), args.exec_calls)
            start = time.perf_counter()
        closed = time.perf_counter() - start

    rows = [("shell session (`ShellSession.run`)", shell_times), ("`docker exec` (`DockerEnvironment.exec`)", exec_times)]
    print(f"Per-command latency of `true`, {platform.node()}, {os.cpu_count()} CPUs, image {image}\n")
    print("| method | calls | median ms | p95 ms |")
    print("|---|---:|---:|---:|")
    for name, values in rows:
        print(f"| {name} | {len(values)} | {statistics.median(values) * 1000:.2f} | {p95(values) * 1000:.2f} |")
    speedup = statistics.median(exec_times) / statistics.median(shell_times)
    print(f"\nspeed-up (median): {speedup:.0f}x; opening a session {opened * 1000:.0f} ms, closing it {closed * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
