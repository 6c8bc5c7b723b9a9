"""Agent throughput with a fake model of fixed latency, at 1, 8, 32 and 64 concurrent instances.

Each instance is the real LLM agent in a real container (persistent shell, real tool
calls) talking to a real HTTP chat-completions server that answers after a fixed delay
with one `bash` call per turn, then `submit`. Containers are started before the clock
runs: this measures the agent loop, not container start-up.

    efficiency = ideal wall time / measured wall time,  ideal = turns x model latency

Run: .venv/bin/python -m benchmarks.bench_agent [--latency 0.5] [--turns 10] [--concurrency 1,8,32,64]
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake model server lives with the tests

from fake_llm import FakeLLM, Reply  # noqa: E402

from benchmarks.common import builtin_instance_image, docker_client  # noqa: E402
from evalharness.agents.llm_agent import AgentLimits, LLMAgent  # noqa: E402
from evalharness.containers import running_container  # noqa: E402
from evalharness.llm import LLMClient  # noqa: E402
from evalharness.models import ModelConfig  # noqa: E402


def scripted(turns: int, latency: float):
    """A model that runs `turns - 1` cheap commands, then submits; every reply takes `latency` s."""

    def reply(request: dict) -> Reply:
        done = sum(1 for m in request["messages"] if m["role"] == "assistant")
        if done + 1 >= turns:
            return Reply(delay=latency, tool_calls=[("submit", {})], prompt_tokens=1000, completion_tokens=50)
        return Reply(delay=latency, tool_calls=[("bash", {"command": f"echo step {done} && ls | head -3"})],
                     prompt_tokens=1000, completion_tokens=50)

    return reply


def run_level(client, image: str, task, concurrency: int, turns: int, latency: float) -> dict:
    with FakeLLM(script=scripted(turns, latency)) as server, contextlib.ExitStack() as stack:
        envs = [stack.enter_context(running_container(client, image, run_id="bench-agent", instance_id=f"b{i}",
                                                      purpose="bench"))
                for i in range(concurrency)]
        model = ModelConfig(name="fake", base_url=server.base_url, model="m", max_tokens=1000)
        agent = LLMAgent(model, LLMClient(model, "k"), AgentLimits(max_turns=turns + 5))
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(lambda env: agent.run(task, env), envs))
        wall = time.monotonic() - start
    bad = [r.exit_reason for r in results if r.exit_reason != "submitted"]
    if bad:
        raise SystemExit(f"bench: {len(bad)} agent(s) did not submit: {bad[:3]}")
    ideal = turns * latency
    tool = statistics.median(r.tool_seconds / turns for r in results)
    return {"n": concurrency, "wall": wall, "ideal": ideal, "eff": ideal / wall, "tool_ms": 1000 * tool,
            "turns_per_s": concurrency * turns / wall}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.5, help="model latency per turn, seconds")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--concurrency", default="1,8,32,64")
    args = parser.parse_args(argv)
    client = docker_client()
    image, task = builtin_instance_image(client)
    print(f"\n## Agent throughput: fake model, {args.latency:.2f} s per turn, {args.turns} turns per instance\n")
    print("| concurrent | wall s | ideal s | efficiency | turns/s | tool ms/turn (median) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in (int(x) for x in args.concurrency.split(",")):
        row = run_level(client, image, task, n, args.turns, args.latency)
        print(f"| {row['n']} | {row['wall']:.2f} | {row['ideal']:.2f} | {row['eff']:.2f} | "
              f"{row['turns_per_s']:.1f} | {row['tool_ms']:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
