"""Executors without Docker: concurrency of sessions vs test runs, and per-node slots across processes."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from evalharness.run.executors.local import LocalExecutor
from evalharness.run.executors.ray import NodeSlots
from evalharness.run.pipeline import PhaseGates, RunConfig, _enter
from evalharness.core.results import InstanceRecord


class Peak:
    def __init__(self):
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def __enter__(self):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc):
        with self.lock:
            self.now -= 1


class FakePipeline:
    """Stands in for InstancePipeline: an 'agent' phase, then an 'eval' phase inside the eval gate."""

    def __init__(self, agent_seconds: float = 0.05):
        self.config = RunConfig(run_id="r", dataset="d", agent="a")
        self.client = SimpleNamespace(api=SimpleNamespace(containers=lambda **_: [], networks=lambda **_: []))  # nothing to sweep
        self.gates = PhaseGates()
        self.sessions, self.evals = Peak(), Peak()
        self.agent_seconds = agent_seconds
        self.started: dict[str, float] = {}
        self.first_by_worker: dict[str, float] = {}

    def run(self, task, logs_root):
        self.started[task.instance_id] = now = time.monotonic()
        self.first_by_worker.setdefault(threading.current_thread().name, now)
        with self.sessions:
            time.sleep(self.agent_seconds)
            with _enter(self.gates.eval), self.evals:
                time.sleep(0.05)
        return InstanceRecord(run_id="r", model="", agent="a", dataset="d", instance_id=task.instance_id,
                              repo="o/r", version="1", status="resolved", resolved=True)


def _tasks(n: int) -> list:
    return [SimpleNamespace(instance_id=f"t{i}") for i in range(n)]


def test_sessions_and_test_runs_have_separate_limits(tmp_path):
    pipeline = FakePipeline()
    executor = LocalExecutor(pipeline, sessions=6, eval_slots=2, start_rate=0)
    ids = sorted(f.record.instance_id for f in executor.run(_tasks(24), tmp_path))
    assert ids == sorted(f"t{i}" for i in range(24))  # each exactly once
    assert pipeline.sessions.peak == 6  # agent sessions overlap up to --workers
    assert pipeline.evals.peak == 2  # test runs never more than --eval-workers


def test_the_first_wave_starts_at_the_start_rate(tmp_path):
    pipeline = FakePipeline(agent_seconds=0.2)
    executor = LocalExecutor(pipeline, sessions=4, eval_slots=4, start_rate=10)
    began = time.monotonic()
    assert len(list(executor.run(_tasks(8), tmp_path))) == 8
    firsts = {int(name.rsplit("-", 1)[1]): at - began for name, at in pipeline.first_by_worker.items()}
    assert sorted(firsts) == [0, 1, 2, 3]
    assert all(at >= k / 10 for k, at in firsts.items()), firsts  # worker k starts k/10 s after the run began
    assert pipeline.sessions.peak >= 2  # and the sessions still overlap


def test_start_rate_zero_starts_the_first_wave_at_once(tmp_path):
    pipeline = FakePipeline(agent_seconds=1.5)  # long enough to overlap on a loaded machine
    executor = LocalExecutor(pipeline, sessions=4, eval_slots=4, start_rate=0)
    assert len(list(executor.run(_tasks(4), tmp_path))) == 4
    assert pipeline.sessions.peak == 4


def test_stopping_during_the_ramp_starts_nothing_more(tmp_path):
    pipeline = FakePipeline(agent_seconds=0.0)
    executor = LocalExecutor(pipeline, sessions=3, eval_slots=3, start_rate=0.1)  # 10 s between first starts
    plain_run = pipeline.run

    def run(task, logs_root):  # after the first, an instance runs until the stop (as Docker's removal ends it)
        if task.instance_id != "t0":
            pipeline.started[task.instance_id] = time.monotonic()
            assert executor._stopping.wait(30)
            raise RuntimeError("its container was removed")
        return plain_run(task, logs_root)

    pipeline.run = run
    results = executor.run(_tasks(3), tmp_path)
    assert next(results).record.instance_id == "t0"  # worker 0 starts at once, then takes t1
    executor.stop()  # workers 1 and 2 are still waiting for their turn: they start nothing
    assert sorted(pipeline.started) == ["t0", "t1"]
    assert not any(thread.is_alive() for thread in executor._threads)


def test_eval_slots_default_to_the_cores(tmp_path):
    executor = LocalExecutor(FakePipeline(), sessions=4)
    assert executor.eval_slots == (os.cpu_count() or 1)


def _hold(directory: str, n: int, log: str, seconds: float) -> None:
    with NodeSlots("t", n, directory)():
        with open(log, "a") as f:
            f.write(f"+{os.getpid()} {time.monotonic()}\n")
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"-{os.getpid()} {time.monotonic()}\n")


def test_node_slots_hold_across_processes(tmp_path):
    log = tmp_path / "log"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hold, args=(str(tmp_path), 2, str(log), 0.3)) for _ in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    held = peak = 0
    for line in log.read_text().splitlines():  # appends are ordered: replay them
        held += 1 if line.startswith("+") else -1
        peak = max(peak, held)
    assert peak == 2 and held == 0


def _hold_forever(directory: str, ready: str) -> None:
    with NodeSlots("k", 1, directory)():
        Path(ready).write_text("held")
        time.sleep(600)


def test_a_killed_holder_frees_its_slot(tmp_path):
    ready = tmp_path / "ready"
    proc = multiprocessing.get_context("spawn").Process(target=_hold_forever, args=(str(tmp_path), str(ready)))
    proc.start()
    while not ready.exists():
        time.sleep(0.05)
    got = threading.Event()

    def take():
        with NodeSlots("k", 1, str(tmp_path))():
            got.set()

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    assert not got.wait(0.5)  # the only slot is held
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert got.wait(30)  # the lock died with its holder
