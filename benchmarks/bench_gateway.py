"""What the model gateway adds to a model call: the same requests straight to a chat server,
through the gateway's Unix socket, and through the gateway via the in-container forwarder.

Four processes, as in a run: the fake model (tests/fake_llm.py `--asyncio`, answering at
once, so every millisecond measured is transport and proxy), the gateway (a `ModelGateway`
with one session per client thread, as the harness runs it), the forwarder
(evalharness/gateway_forward.py on 127.0.0.1, as in a container) and the client (httpx, the
HTTP library of the `openai` SDK, with keep-alive). Each path sends `--requests` sequential
chat requests with a small body after a warm-up; the stream rows ask for `stream: true` and
time the whole stream. The concurrent rows run `--concurrency` clients at once (one gateway
session each, all sharing the gateway's one upstream connection pool). Columns: median and
p95 ms a request; the overhead is the median minus the direct path's median (the stream rows
against the direct stream); gateway CPU is the gateway process's CPU time over the requests.

    .venv/bin/python -m benchmarks.bench_gateway [--requests 500] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.bench_shell import p95, timings

ROOT = Path(__file__).resolve().parents[1]
FAKE_LLM = ROOT / "tests" / "fake_llm.py"
FORWARDER = ROOT / "evalharness" / "gateway_forward.py"
BODY = {"model": "m", "messages": [{"role": "system", "content": "You fix bugs."},
                                   {"role": "user", "content": "Fix the failing test in tests/test_x.py."}]}
KEY = "sk-bench-0123456789abcdef"  # registered for redaction, as a real key is
TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Child:
    """A helper process whose first line of output (stdout or stderr) says where it serves."""

    def __init__(self, argv: list[str], pattern: str, *, stderr: bool = False):
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE if stderr else None, text=True)
        out = self.proc.stderr if stderr else self.proc.stdout
        assert out is not None
        line = out.readline()
        found = re.search(pattern, line)
        if not found:
            self.stop()
            raise SystemExit(f"bench: {argv[1]} did not start: {line!r}")
        self.found = found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def serve_gateway(base_url: str, sessions: int) -> None:
    """The gateway process: `sessions` sessions on `base_url`, described on stdout, served until
    stdin closes."""
    from evalharness.model.gateway import SOCKET_NAME, ModelGateway
    from evalharness.model.registry import ModelConfig

    config = ModelConfig(name="bench", base_url=base_url, model="m")
    with ModelGateway(config, KEY) as gateway:
        opened = [gateway.open_session(f"bench__bench-{i}") for i in range(sessions)]
        print(json.dumps({"sessions": [{"socket": str(s.directory / SOCKET_NAME), "token": s.token} for s in opened]}),
              flush=True)
        sys.stdin.read()
        failed = sum(s.usage.errors for s in opened)
    if failed:
        print(f"bench: the gateway answered {failed} requests with errors", file=sys.stderr)


def timed(client, n: int, stream: bool, warmup: int = 30) -> list[float]:
    """Seconds per request, `n` requests after `warmup` untimed ones."""
    body = {**BODY, "stream": True} if stream else BODY

    def once() -> None:
        if stream:
            with client.stream("POST", "/chat/completions", json=body) as response:
                for _ in response.iter_bytes():
                    pass
        else:
            response = client.post("/chat/completions", json=body)
        if response.status_code != 200:
            raise SystemExit(f"bench: HTTP {response.status_code}: {response.read()[:300]!r}")

    return timings(once, n, warmup)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="sequential requests per path")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once in the concurrent rows (0: none)")
    parser.add_argument("--serve", metavar="BASE_URL", help=argparse.SUPPRESS)  # the gateway process
    parser.add_argument("--sessions", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve_gateway(args.serve, args.sessions)
        return 0

    from evalharness.model.gateway import httpx

    n, k = args.requests, max(0, args.concurrency)
    fake = Child([sys.executable, str(FAKE_LLM), "--asyncio", "--port", "0", "--reply", "ok"], r" at (http\S+)")
    base_url = fake.found.group(1)
    gateway = Child([sys.executable, "-m", "benchmarks.bench_gateway", "--serve", base_url,
                     "--sessions", str(max(1, k))], r"^(\{.*\})$")
    sessions = json.loads(gateway.found.group(1))["sessions"]
    forwarder = Child([sys.executable, str(FORWARDER), "--listen", "127.0.0.1:0", "--socket", sessions[0]["socket"]],
                      r"listening on 127\.0\.0\.1:(\d+) ", stderr=True)
    port = int(forwarder.found.group(1))

    def direct() -> httpx.Client:
        return httpx.Client(base_url=base_url, timeout=30)

    def via_socket(i: int = 0) -> httpx.Client:
        return httpx.Client(transport=httpx.HTTPTransport(uds=sessions[i]["socket"]), base_url="http://gateway/v1",
                            headers={"Authorization": f"Bearer {sessions[i]['token']}"}, timeout=30)

    def via_forwarder() -> httpx.Client:
        return httpx.Client(base_url=f"http://127.0.0.1:{port}/v1", timeout=30,
                            headers={"Authorization": f"Bearer {sessions[0]['token']}"})

    rows: list[tuple[str, int, list[float], str, float | None]] = []  # path, requests, times, baseline, CPU ms
    plain = "direct (TCP to the model server)"

    def measure(name: str, make, stream: bool = False, baseline: str = plain, gateway_cpu: bool = True) -> None:
        with make() as client:
            before = proc_cpu(gateway.proc.pid)
            times = timed(client, n, stream)
            cpu = 1000 * (proc_cpu(gateway.proc.pid) - before) / (n + 30) if gateway_cpu else None
        rows.append((name, n, times, baseline, cpu))

    def measure_concurrent(name: str, make, gateway_cpu: bool) -> None:
        clients = [make(i) for i in range(k)]
        per = max(1, n // k)
        barrier = threading.Barrier(k)

        def run(i: int) -> list[float]:
            barrier.wait()
            return timed(clients[i], per, False, warmup=5)

        before = proc_cpu(gateway.proc.pid)
        with ThreadPoolExecutor(max_workers=k) as pool:
            times = [t for chunk in pool.map(run, range(k)) for t in chunk]
        cpu = 1000 * (proc_cpu(gateway.proc.pid) - before) / (k * (per + 5)) if gateway_cpu else None
        for client in clients:
            client.close()
        rows.append((name, len(times), times, f"direct, {k} at once", cpu))

    try:
        measure(plain, direct, gateway_cpu=False)
        measure("gateway (Unix socket)", via_socket)
        measure("gateway via forwarder (TCP in, Unix socket)", via_forwarder)
        measure("direct, stream", direct, stream=True, baseline="direct, stream", gateway_cpu=False)
        measure("gateway (Unix socket), stream", via_socket, stream=True, baseline="direct, stream")
        if k > 1:
            measure_concurrent(f"direct, {k} at once", lambda i: direct(), gateway_cpu=False)
            measure_concurrent(f"gateway (Unix socket), {k} at once", via_socket, gateway_cpu=True)
    finally:
        forwarder.stop()
        if gateway.proc.stdin:
            gateway.proc.stdin.close()
        gateway.proc.wait(timeout=30)
        fake.stop()

    medians = {name: statistics.median(times) for name, _, times, _, _ in rows}
    print(f"\nModel gateway overhead: {n} sequential requests per path, small body, fake model answering at once "
          f"({platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs)\n")
    print("| path | requests | median ms | p95 ms | overhead median vs direct | gateway CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, count, times, baseline, cpu in rows:
        median = medians[name]
        overhead = "" if name == baseline else f"{1000 * (median - medians[baseline]):+.2f} ms"
        print(f"| {name} | {count} | {1000 * median:.2f} | {1000 * p95(times):.2f} | {overhead} | "
              f"{'' if cpu is None else f'{cpu:.2f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
