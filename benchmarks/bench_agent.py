"""Agent throughput with a fake model of fixed latency, at 1 to 256 concurrent sessions.

Each session is the real LLM agent (`LLMAgent`, one thread per session, one shared
`LLMClient`, as the local executor runs them) in a real container of a built-in task's
instance image, with its persistent shell and real tool calls, talking over real sockets to
a chat-completions server (tests/fake_llm.py `--asyncio --turns N`) that runs in a process
of its own, answers every request after a fixed delay, and scripts `turns - 1` `bash` calls
(`echo step k && ls | head -3`: two programs started, as most agent commands start some),
then `submit`.

    efficiency = ideal wall time / measured wall time,  ideal = turns x model latency

so everything the harness adds (opening the shell session, the tool calls, the HTTP client,
collecting the patch, closing the session, waiting for the GIL or a CPU) shows as
efficiency below 1. The measured wall time runs from the level's start to the end of its
last session, so it includes the start ramp: the sessions start as the local executor
starts a run's first wave, `--start-rate` a second (16 by default, as `eval`; 0 starts them
all in the same instant, which keeps fixed-latency sessions in step turn after turn, their
tool calls landing on the machine together). "session efficiency" is the ideal over the
mean session's own wall time (the ramp left out).

30 turns per session by default: the published SWE-bench Verified runs of Qwen3-Coder-480B
average ~64 turns (an independent re-run: 64.3; mini-swe-agent ~65 calls). Fewer turns
weigh the per-session costs (opening the shell, the patch) and the ramp more, so the
figures are conservative.

Two latencies by default. 0.5 s is a harsh setting (four times the request rate per session
of the real case) that finds the harness's limits. 2 s is the realistic lower end for a
480B coding model (Qwen3-Coder-480B-A35B): a turn writes ~100-200 tokens (one tool call
and a sentence) at ~60-100 tokens/s per stream on a loaded 8-GPU server or a hosted API,
after ~0.3-0.5 s to the first token with the prefix cached. Real turns are often slower
(long thoughts, whole files written), and slower turns only shrink the harness's share.

The containers (as many as the largest level) are started before any clock runs, are
shared by the levels (level n uses the first n), and are removed at the end. Each level
runs in a fresh harness process, so its CPU time and memory are its own. Columns:

- harness CPU ms/turn: the harness process's CPU time (all its threads) over the level / turns
- shim CPU ms/turn: the containerd-shims of the level's containers (they relay the exec streams)
- dockerd+containerd CPU ms/turn: the Docker engine's daemons (shared with anyone else using it)
- container CPU ms/turn: inside the level's containers (their cgroups): the tool commands,
  the shells, the `docker exec` start-ups and the patch's git commands
- fake LLM CPU ms/turn: the model server's process (to show it is not the bottleneck)
- machine busy: all CPUs during the level; "before": the second before it (other work)
- stolen: the share of the CPUs' time the hypervisor gave to other machines during the level
  (a VM on a shared host: a busy neighbour makes every figure here worse)
- harness MB/session: (peak RSS during the level, sampled every 0.25 s - RSS before it) / sessions
- container MB: median working set of the level's containers mid-run, from the memory
  cgroup as `docker stats` computes it (usage - inactive file cache)
- tool ms: seconds per `bash` call as the agent timed it (median / p95 over all calls)
- model-call overhead ms: a model call's time minus the model latency (median)

Before the levels, a table of unit costs (one session, no concurrency): CPU per model
call, per tool call, and per session for opening the shell, collecting the patch and
closing the shell. docs/SCALING.md builds its model from these figures.

Run: .venv/bin/python -m benchmarks.bench_agent [--latency 0.5,2] [--turns 30] [--start-rate 16]
                                                 [--concurrency 1,8,32,64,128,256]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench_gateway import Child
from evalharness.run.pipeline import DEFAULT_START_RATE

ROOT = Path(__file__).resolve().parents[1]
FAKE_LLM = ROOT / "tests" / "fake_llm.py"
RUN_ID = "bench-agent"
INSTANCE = "evalharness__confini-1"
COMMAND = "echo step {turn} && ls | head -3"
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# ---- measuring ---------------------------------------------------------------------------------
def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far; 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_bytes(pid: int | str = "self") -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def steal() -> tuple[int, int]:
    """(stolen, total) jiffies of all CPUs since boot: time the hypervisor gave this VM's CPUs to others."""
    values = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return values[7], sum(values[:8])


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def _processes() -> dict[int, tuple[str, str, int]]:
    """pid -> (comm, cmdline, ppid) of every process we can see."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            found[int(entry.name)] = (comm, cmdline, int(stat.rsplit(")", 1)[1].split()[1]))
    return found


def engine_pids(container_ids: list[str]) -> tuple[list[int], list[int]]:
    """(the containerd-shims of these containers, the dockerd and containerd that run them).

    A machine may run several engines (tests start their own): the daemons are the
    containerd our shims talk to and its parent dockerd, else every dockerd and containerd.
    """
    procs, wanted = _processes(), set(container_ids)
    shims, addresses = [], set()
    for pid, (comm, cmdline, _) in procs.items():
        if comm.startswith("containerd-shim"):
            args = cmdline.split()
            ident = args[args.index("-id") + 1] if "-id" in args[:-1] else ""
            if ident in wanted:
                shims.append(pid)
                if "-address" in args[:-1]:
                    addresses.add(os.path.dirname(args[args.index("-address") + 1]))
    daemons = [pid for pid, (comm, cmdline, _) in procs.items()
               if comm == "containerd" and addresses and any(a in cmdline for a in addresses)]
    daemons += [procs[pid][2] for pid in daemons if procs.get(procs[pid][2], ("",))[0] == "dockerd"]
    if not daemons:
        daemons = [pid for pid, (comm, _, _) in procs.items() if comm in ("dockerd", "containerd")]
    return shims, daemons


def _cgroup_dir(controller: str, container_id: str) -> Path | None:
    for candidate in (Path(f"/sys/fs/cgroup/{controller}/docker/{container_id}"),  # v1, cgroupfs driver
                      Path(f"/sys/fs/cgroup/{controller}/system.slice/docker-{container_id}.scope"),  # v1, systemd
                      Path(f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope"),  # v2, systemd
                      Path(f"/sys/fs/cgroup/docker/{container_id}")):  # v2, cgroupfs
        if candidate.is_dir():
            return candidate
    return None


def container_memory(container_id: str) -> int | None:
    """The container's working set in bytes, as `docker stats` shows it; None if unreadable."""
    cg = _cgroup_dir("memory", container_id)
    if cg is None:
        return None
    try:
        if (cg / "memory.usage_in_bytes").exists():  # cgroup v1
            usage = int((cg / "memory.usage_in_bytes").read_text())
            key = "total_inactive_file"
        else:
            usage = int((cg / "memory.current").read_text())
            key = "inactive_file"
        stat = dict(line.split() for line in (cg / "memory.stat").read_text().splitlines())
        return usage - int(stat.get(key, 0))
    except (OSError, ValueError):
        return None


def container_cpu(container_id: str) -> float:
    """CPU seconds used inside the container so far (its cgroup); 0 if unreadable."""
    cg = _cgroup_dir("cpuacct", container_id) or _cgroup_dir("cpu", container_id)
    try:
        if cg is not None and (cg / "cpuacct.usage").exists():
            return int((cg / "cpuacct.usage").read_text()) / 1e9
        if cg is not None and (cg / "cpu.stat").exists():
            stat = dict(line.split() for line in (cg / "cpu.stat").read_text().splitlines())
            return int(stat.get("usage_usec", 0)) / 1e6
    except (OSError, ValueError):
        pass
    return 0.0


class CPUMeter:
    """CPU seconds of the harness (this process), the containers' shims, the engine's daemons,
    inside the containers, and of one more process (the fake model server)."""

    def __init__(self, container_ids: list[str], server_pid: int | None = None):
        self.ids, self.server_pid = container_ids, server_pid
        self.shims, self.daemons = engine_pids(container_ids)

    def read(self) -> dict[str, float]:
        return {"harness": time.process_time(), "shim": sum(map(proc_cpu, self.shims)),
                "daemons": sum(map(proc_cpu, self.daemons)), "container": sum(map(container_cpu, self.ids)),
                "server": proc_cpu(self.server_pid) if self.server_pid else 0.0, "wall": time.monotonic()}

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {key: after[key] - before[key] for key in before}


def fds_and_threads(pid: int) -> tuple[int, int]:
    """(open file descriptors, threads) of process `pid`; (0, 0) if it is gone."""
    try:
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fds, int(stat[17])
    except (OSError, IndexError, ValueError):
        return 0, 0


def all_threads() -> int:
    """Threads of every process on the machine (they count against kernel.pid_max)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((entry / "stat").read_text().rsplit(")", 1)[1].split()[17])
    return total


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        want = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        if want < needed:
            raise SystemExit(f"bench: {needed} open files needed, the hard limit is {hard} (ulimit -Hn)")


# ---- one level, in its own harness process ------------------------------------------------------
def run_level(spec: dict) -> dict:
    """Run one agent per container in `spec`, all at once; the measurements (printed as JSON)."""
    import docker

    from evalharness.agents.llm_agent import AgentLimits, LLMAgent
    from evalharness.agents.tools import TOOLS
    from evalharness.env.docker import DockerEnvironment
    from evalharness.tasks.datasets import load_tasks
    from evalharness.model.llm import LLMClient
    from evalharness.model.registry import ModelConfig
    from evalharness.core.trajectory import Trajectory

    from evalharness.run.executors.local import first_start_delay

    ids, turns, latency = spec["containers"], spec["turns"], spec["latency"]
    raise_fd_limit(4 * len(ids) + 256)
    client = docker.from_env(timeout=600)
    by_id = {c.id: c for c in client.containers.list(filters={"label": f"evalharness.run_id={RUN_ID}"})}
    envs = [DockerEnvironment(by_id[cid]) for cid in ids]
    task = next(t for t in load_tasks("builtin") if t.instance_id == INSTANCE)
    model = ModelConfig(name="fake", base_url=spec["base_url"], model="m", max_tokens=1000)
    agent = LLMAgent(model, LLMClient(model, "k"), AgentLimits(max_turns=turns + 5))
    # Warm-up, before the clock: the SDK's lazy imports and first connection, the prompt templates.
    agent.client.complete(agent._initial_messages(task, envs[0], Trajectory()), TOOLS)
    meter = CPUMeter(ids, spec["server_pid"])
    gc.collect()

    rss0, peak, done = rss_bytes(), [0], threading.Event()

    def sample_rss() -> None:  # ru_maxrss would count the warm-up too
        while not done.wait(0.25):
            peak[0] = max(peak[0], rss_bytes())

    sampler = threading.Thread(target=sample_rss, daemon=True)
    sampler.start()
    machine0, steal0, cpu0 = machine_cpu(), steal(), meter.read()
    print("started", flush=True)  # the parent reads the containers' memory mid-run
    session_seconds: list[float] = []

    def session(index: int):  # started as the local executor starts its first wave
        time.sleep(first_start_delay(index, spec["start_rate"]))
        began = time.monotonic()
        result = agent.run(task, envs[index])
        session_seconds.append(time.monotonic() - began)
        return result

    with ThreadPoolExecutor(max_workers=len(envs)) as pool:
        results = list(pool.map(session, range(len(envs))))
    cpu = CPUMeter.since(cpu0, meter.read())
    busy, stolen = busy_fraction(machine0, machine_cpu()), busy_fraction(steal0, steal())
    done.set()
    sampler.join()

    bad = [f"{r.exit_reason}: {r.error}" for r in results if r.exit_reason != "submitted"]
    n, all_turns, wall = len(envs), max(1, sum(r.turns for r in results)), cpu["wall"]
    tool = [e["seconds"] for r in results for e in r.trajectory if e["type"] == "tool" and e["name"] == "bash"] or [0.0]
    llm = [e["llm_seconds"] - latency for r in results for e in r.trajectory if e["type"] == "assistant"] or [0.0]
    ms = 1000 / all_turns
    return {
        "n": n, "turns": all_turns, "wall": wall, "ideal": turns * latency, "eff": turns * latency / wall,
        "session_eff": turns * latency / statistics.mean(session_seconds), "steal": stolen,
        "turns_per_s": all_turns / wall, **{f"{key}_ms": value * ms for key, value in cpu.items() if key != "wall"},
        "busy": busy, "rss_mb": max(0, peak[0] - rss0) / n / 2**20, "tool_ms": 1000 * statistics.median(tool),
        "tool_p95_ms": 1000 * p95(tool), "llm_ms": 1000 * statistics.median(llm),
        "failed": len(bad), "failure": bad[0] if bad else "",
    }


# ---- the whole benchmark -------------------------------------------------------------------------
class FakeModel(Child):
    """tests/fake_llm.py in its own process: `--asyncio --turns N --latency L`."""

    def __init__(self, latency: float, turns: int):
        super().__init__([sys.executable, str(FAKE_LLM), "--asyncio", "--port", "0", "--latency", str(latency),
                          "--turns", str(turns), "--command", COMMAND], r" at (http\S+)")
        self.base_url = self.found.group(1)


class Containers:
    """`count` containers of `image` (the harness's own `running_container`), started in parallel."""

    def __init__(self, client, image: str, count: int, workers: int = 8):
        from evalharness.env.docker import running_container

        self._lock = threading.Lock()
        self._open: list[tuple[contextlib.AbstractContextManager, object]] = []

        def start(i: int) -> None:
            cm = running_container(client, image, run_id=RUN_ID, instance_id=f"b{i}", purpose="bench")
            env = cm.__enter__()
            with self._lock:
                self._open.append((cm, env))

        began = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                list(pool.map(start, range(count)))
        except BaseException:
            self.remove()
            raise
        self.start_seconds = time.monotonic() - began
        self.envs = [env for _, env in self._open]
        self.ids = [env.container.id for env in self.envs]

    def remove(self, workers: int = 8) -> None:
        with self._lock:
            opened, self._open = self._open, []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda pair: pair[0].__exit__(None, None, None), opened))


def measure_level(containers: list[str], server: FakeModel, latency: float, turns: int, start_rate: float) -> dict:
    spec = {"containers": containers, "base_url": server.base_url, "server_pid": server.proc.pid,
            "latency": latency, "turns": turns, "start_rate": start_rate}
    before = machine_cpu()
    time.sleep(1)
    background = busy_fraction(before, machine_cpu())
    child = subprocess.Popen([sys.executable, "-m", "benchmarks.bench_agent", "--level", json.dumps(spec)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        memory: list[int] = []
        limits: dict = {}
        for line in child.stdout:
            if line.strip() == "started":
                time.sleep(turns * latency / 2)
                memory = [m for m in map(container_memory, containers) if m is not None]
                shims, daemons = engine_pids(containers)
                procs = _processes()
                engine = {procs[pid][0]: fds_and_threads(pid) for pid in daemons if pid in procs}
                limits = {"harness": fds_and_threads(child.pid), "shim": fds_and_threads(shims[0]) if shims else (0, 0),
                          "machine_threads": all_threads(), **engine}
            elif line.startswith("{"):
                row = json.loads(line)
                break
        else:
            raise SystemExit(f"bench: the level with {len(containers)} sessions failed (exit {child.wait()})")
    finally:
        if child.poll() is None:
            child.wait(timeout=120)
    row["container_mb"] = statistics.median(memory) / 2**20 if memory else float("nan")
    row["background"] = background
    row["limits"] = limits
    return row


def unit_costs(env, task, turns: int, repeats: int = 3) -> list[tuple[str, int, dict[str, float]]]:
    """CPU per step of one session, alone: (step, how many timed, CPU ms each by kind, and wall ms).

    Each step is timed `repeats` times in batches; the cheapest batch is kept (the least
    disturbed by other work on the machine; the engine's CPU clock ticks every 10 ms).
    """
    from evalharness.agents.llm_agent import LLMAgent
    from evalharness.agents.patch import collect_patch
    from evalharness.agents.tools import TOOLS
    from evalharness.model.llm import LLMClient
    from evalharness.model.registry import ModelConfig
    from evalharness.core.trajectory import Trajectory

    server = FakeModel(0.0, turns)
    try:
        meter = CPUMeter([env.container.id], server.proc.pid)
        model = ModelConfig(name="fake", base_url=server.base_url, model="m", max_tokens=1000)
        agent = LLMAgent(model, LLMClient(model, "k"))
        messages = agent._initial_messages(task, env, Trajectory())
        for k in range(turns // 2):  # the history of a session half-way through
            call = {"id": f"call_{k}", "type": "function",
                    "function": {"name": "bash", "arguments": json.dumps({"command": COMMAND.format(turn=k)})}}
            messages += [{"role": "assistant", "content": "", "tool_calls": [call]},
                         {"role": "tool", "tool_call_id": f"call_{k}", "content": "step\nREADME.md\nconfini\n"}]
        shell = env.open_shell()

        def batch(step, count: int) -> dict[str, float]:
            best: dict[str, float] | None = None
            for _ in range(repeats):
                before = meter.read()
                for i in range(count):
                    step(i)
                used = CPUMeter.since(before, meter.read())
                if best is None or sum(used.values()) < sum(best.values()):
                    best = used
            return {key: 1000 * value / count for key, value in best.items()}

        opened = []

        rows = [
            ("model call (fake model, no delay)", 50, batch(lambda i: agent.client.complete(messages, TOOLS), 50)),
            (f"tool call `{COMMAND.format(turn=0)}`", 50, batch(lambda i: shell.run(COMMAND.format(turn=i)), 50)),
            ("tool call `true`", 50, batch(lambda i: shell.run("true"), 50)),
            ("collect the patch (one round trip: git add, git diff, base64)", 5,
             batch(lambda i: collect_patch(lambda c: shell.run(c, timeout=300), task.base_commit), 5)),
            ("open a shell session (a `docker exec`)", 5, batch(lambda i: opened.append(env.open_shell()), 5)),
            ("close it (the kill script, run by its own shell)", 5, batch(lambda i: opened.pop().close(), 5)),
        ]
        shell.close()
        agent.client.close()
        return rows
    finally:
        server.stop()


def header() -> str:
    import docker

    engine = docker.from_env().version().get("Version", "?")
    mem = PAGE * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.node()}: {os.cpu_count()} CPUs, {mem:.0f} GiB, Docker {engine}, Python {platform.python_version()}"


def footer(n: int, limits: dict) -> str:
    def pair(name: str) -> str:
        fds, threads = limits.get(name, (0, 0))
        return f"{fds} fds, {threads} threads"

    return (f"\nMid-run at {n} sessions: the harness process {pair('harness')}; dockerd {pair('dockerd')}; "
            f"containerd {pair('containerd')}; a containerd-shim {pair('shim')}; "
            f"{limits.get('machine_threads', 0)} threads on the machine (kernel.pid_max "
            f"{Path('/proc/sys/kernel/pid_max').read_text().strip()}).")


TABLE_HEAD = (
    "| sessions | wall s | efficiency | session efficiency | turns/s | harness CPU ms/turn | shim CPU ms/turn "
    "| dockerd+containerd CPU ms/turn | container CPU ms/turn | fake LLM CPU ms/turn | machine busy (before) "
    "| stolen | harness MB/session | container MB | tool ms median / p95 | model-call overhead ms |\n"
    "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", default="0.5,2", help="model latencies per turn, seconds (one table each)")
    parser.add_argument("--turns", type=int, default=30, help="model calls per session (the last one submits)")
    parser.add_argument("--start-rate", type=float, default=DEFAULT_START_RATE,
                        help=f"sessions started per second, as `eval --start-rate` (default {DEFAULT_START_RATE:g}; "
                             "0: all at once)")
    parser.add_argument("--concurrency", default="1,8,32,64,128,256")
    parser.add_argument("--no-unit-costs", action="store_true", help="skip the table of unit costs")
    parser.add_argument("--level", help=argparse.SUPPRESS)  # internal: one level, in a child process
    args = parser.parse_args(argv)
    if args.level:
        print(json.dumps(run_level(json.loads(args.level))), flush=True)
        return 0

    from benchmarks.common import builtin_instance_image, docker_client
    from evalharness.env.docker import remove_run_containers

    levels = [int(x) for x in args.concurrency.split(",")]
    latencies = [float(x) for x in args.latency.split(",")]
    client = docker_client()
    image, task = builtin_instance_image(client, INSTANCE)
    remove_run_containers(client, RUN_ID)  # left over by a killed run
    raise_fd_limit(4 * max(levels) + 256)
    print(f"\n## Agent throughput: {header()}\n", flush=True)
    containers = Containers(client, image, max(levels))
    try:
        idle = [m for m in map(container_memory, containers.ids) if m is not None]
        shims, _ = engine_pids(containers.ids)
        print(f"{max(levels)} containers started in {containers.start_seconds:.0f} s (before the clocks); "
              f"an idle container {statistics.median(idle) / 2**20:.1f} MB (cgroup working set), "
              f"its containerd-shim {statistics.median(map(rss_bytes, shims)) / 2**20:.1f} MB RSS.", flush=True)
        if not args.no_unit_costs:
            print("\nUnit costs, one session alone (CPU ms each; the cheapest of 3 batches):\n")
            print("| step | timed | harness | shim | dockerd+containerd | container | fake LLM | wall ms |")
            print("|---|---:|---:|---:|---:|---:|---:|---:|")
            for name, count, c in unit_costs(containers.envs[0], task, args.turns):
                print(f"| {name} | {count} | {c['harness']:.2f} | {c['shim']:.1f} | {c['daemons']:.1f} | "
                      f"{c['container']:.1f} | {c['server']:.2f} | {c['wall']:.1f} |", flush=True)
        for latency in latencies:
            server = FakeModel(latency, args.turns)
            try:
                print(f"\nFake model {latency:g} s per call, {args.turns} calls per session "
                      f"(ideal {args.turns * latency:g} s), sessions started {args.start_rate:g} a second:\n"
                      if args.start_rate > 0 else f"\nFake model {latency:g} s per call, {args.turns} calls per "
                      f"session (ideal {args.turns * latency:g} s), sessions all started at once:\n")
                print(TABLE_HEAD, flush=True)
                failed = []
                for n in levels:
                    r = last = measure_level(containers.ids[:n], server, latency, args.turns, args.start_rate)
                    failed += [r] if r["failed"] else []
                    print(f"| {r['n']}{'*' if r['failed'] else ''} | {r['wall']:.2f} | {r['eff']:.2f} | "
                          f"{r['session_eff']:.2f} | {r['turns_per_s']:.1f} | "
                          f"{r['harness_ms']:.1f} | {r['shim_ms']:.1f} | {r['daemons_ms']:.1f} | "
                          f"{r['container_ms']:.1f} | {r['server_ms']:.2f} | "
                          f"{100 * r['busy']:.0f}% ({100 * r['background']:.0f}%) | {100 * r['steal']:.0f}% | "
                          f"{r['rss_mb']:.2f} | "
                          f"{r['container_mb']:.1f} | {r['tool_ms']:.1f} / {r['tool_p95_ms']:.0f} | "
                          f"{r['llm_ms']:.1f} |", flush=True)
                for r in failed:
                    print(f"\n{r['failed']} of the {r['n']} sessions did not submit (the row's figures count "
                          f"only what they did); the first: {r['failure'][:300]}", flush=True)
                print(footer(last["n"], last["limits"]), flush=True)
            finally:
                server.stop()
    finally:
        began = time.monotonic()
        containers.remove()
        remove_run_containers(client, RUN_ID)
        print(f"\n(containers removed in {time.monotonic() - began:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
