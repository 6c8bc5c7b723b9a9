"""Crash safety (issue 7): SIGKILL at random points then resume; Ctrl-C stops cleanly.

The Docker tests run `evalharness eval --agent gold` over the built-in tasks as a subprocess,
as a user does, and kill or interrupt it: every instance must end exactly once in the run's
files, every file whole, nothing from before a kill changed by the resume, and no container
of the run left. The store test kills a writer inside `ResultStore`'s own steps, many times.
Kill points are drawn from a seeded generator: a failure names its seed and plan.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from evalharness.tasks.datasets import load_tasks
from evalharness.env.images import LABEL
from evalharness.core.results import InstanceRecord, ResultStore, is_temp_file, safe_name, write_parquet

ROOT = Path(__file__).resolve().parents[1]
TASKS = load_tasks("builtin")
SEED = 20240611
HANG = 240  # seconds: a guard against a hung process, not a measure of anything
INTERRUPTED = re.compile(r"evalharness: interrupted: (.*); run the same command to resume")


# ---------------------------------------------------------------- the store alone, killed inside its writes

STORE_IDS = 8
PATCH_CHARS = 20_000  # a write of some size (the kills inside it are placed by hooks)


def _store_record(i: int) -> InstanceRecord:
    return InstanceRecord(run_id="crash", model="", agent="gold", dataset="builtin", instance_id=f"o__r-{i}",
                          repo="o/r", version="1.0", status="resolved" if i % 3 else "unresolved",
                          resolved=bool(i % 3), patch=chr(ord("a") + i) * (PATCH_CHARS + i), f2p_passed=i,
                          error=None if i % 2 else f"error {i}")


def _store_hooks():
    from evalharness.core import results

    return {"mkstemp": (results.tempfile, "mkstemp"), "fdopen": (results.os, "fdopen"),
            "fsync": (results.os, "fsync"), "replace": (results.os, "replace"),
            "write_table": (results.pq, "write_table"), "dumps": (results.json, "dumps")}


def _store_child(run_dir: str, ids: list[int], primitive: str | None, nth: int, when: str) -> None:
    """What the runner does with the store (add each record, compact now and then), SIGKILLed at the
    `nth` call of `primitive`, just before or just after it (a forked child: the patch is its own).

    fsync is a kill point but flushes nothing here: it matters when the machine crashes, not the
    process (what a killed process wrote is in the page cache), and a busy disk makes it slow."""
    from evalharness.core import results

    results.os.fsync = lambda fd: None
    if primitive:
        owner, attr = _store_hooks()[primitive]
        original = getattr(owner, attr)
        calls = 0

        def hooked(*args, **kwargs):
            nonlocal calls
            calls += 1
            if calls == nth and when == "before":
                os.kill(os.getpid(), signal.SIGKILL)
            result = original(*args, **kwargs)
            if calls == nth and when == "after":
                os.kill(os.getpid(), signal.SIGKILL)
            return result

        setattr(owner, attr, hooked)
    store = ResultStore(Path(run_dir))
    for n, i in enumerate(ids):
        store.add(_store_record(i))
        if n % 2:
            store.compact()
    store.compact()


def _check_store_files(run_dir: Path, seen: dict[str, bytes]) -> int:
    """Every record and the Parquet file are whole and right; records seen before are unchanged.
    Returns how many temp files a killed writer left."""
    expected = {f"o__r-{i}": asdict(_store_record(i)) for i in range(STORE_IDS)}
    temp = 0
    for path in sorted((run_dir / "records").glob("*")) if (run_dir / "records").is_dir() else []:
        if is_temp_file(path):
            temp += 1
            continue
        data = path.read_bytes()
        record = json.loads(data)
        assert record == expected[path.stem], path
        assert seen.setdefault(path.name, data) == data, f"{path.name} changed after a kill"
    parquet = run_dir / "results.parquet"
    if parquet.exists():
        rows = pq.read_table(parquet).to_pylist()
        ids = [r["instance_id"] for r in rows]
        assert len(ids) == len(set(ids)), ids
        for row in rows:
            assert row == expected[row["instance_id"]]
    temp += sum(1 for p in run_dir.glob("*") if is_temp_file(p))
    assert {p.name for p in run_dir.glob("*") if not is_temp_file(p)} <= {"records", "results.parquet"}
    return temp


def test_store_survives_sigkill_inside_its_writes_and_resumes(tmp_path):
    """Kill a writer at each step of atomic_write and compaction (seeded), resuming after each kill;
    a run that is complete is finished by a process that is not killed, and the next round starts."""
    rng = random.Random(SEED)
    plan = [(primitive, when, rng.randint(1, 6)) for primitive in _store_hooks() for when in ("before", "after")]
    plan = plan * 2 + [(None, "", 0)] * 10  # None: killed from outside after a random delay
    rng.shuffle(plan)
    # Forked children start at once and inherit what the store has loaded (pyarrow loads pandas on first use),
    # so a kill after a random delay lands in the store's work, not in a child's start-up.
    write_parquet([_store_record(0)], tmp_path / "warm-up.parquet")
    ctx = multiprocessing.get_context("fork")

    def resume(run_dir: Path, primitive: str | None, nth: int, when: str, kill_after: float | None) -> int:
        store = ResultStore(run_dir)
        store.remove_temp_files()  # what the runner does on resume
        assert not any(is_temp_file(p) for p in run_dir.rglob("*"))
        todo = [i for i in range(STORE_IDS) if f"o__r-{i}" not in store.load()]
        child = ctx.Process(target=_store_child, args=(str(run_dir), todo, primitive, nth, when))
        child.start()
        if kill_after is not None:
            time.sleep(kill_after)
            os.kill(child.pid, signal.SIGKILL)
        child.join(HANG)
        assert child.exitcode is not None, "the writer hung"
        return child.exitcode

    def finish(run_dir: Path, seen: dict[str, bytes]) -> None:
        assert resume(run_dir, None, 0, "", None) == 0
        assert _check_store_files(run_dir, seen) == 0
        assert sorted(ResultStore(run_dir).load()) == sorted(f"o__r-{i}" for i in range(STORE_IDS))
        assert pq.read_table(run_dir / "results.parquet").num_rows == STORE_IDS

    rounds, seen, temp_left, killed = 0, {}, 0, 0
    for primitive, when, nth in plan:
        run_dir = tmp_path / f"run-{rounds}"
        code = resume(run_dir, primitive, nth, when, rng.uniform(0, 0.03) if primitive is None else None)
        killed += code == -signal.SIGKILL
        temp_left += _check_store_files(run_dir, seen)
        if len(ResultStore(run_dir).load()) == STORE_IDS:
            finish(run_dir, seen)
            rounds, seen = rounds + 1, {}
    finish(tmp_path / f"run-{rounds}", seen)
    assert killed >= len(plan) // 2, f"only {killed} of {len(plan)} writers were killed mid-way"
    assert temp_left, "no kill landed inside an atomic write"


# ---------------------------------------------------------------- the runner's resume, without Docker

class FakeExecutor:
    """Finishes every task at once (gold-like records); counts the calls the runner makes."""

    def __init__(self):
        self.leftover_calls, self.ran, self.stopped = 0, [], False

    def remove_leftovers(self) -> int:
        self.leftover_calls += 1
        return 2

    def run(self, tasks, logs_root):
        from evalharness.run.executors.base import Finished

        try:
            for task in tasks:
                self.ran.append(task.instance_id)
                yield Finished(InstanceRecord(run_id="r", model="", agent="gold", dataset="builtin",
                                              instance_id=task.instance_id, repo=task.repo, version=task.version,
                                              status="resolved", resolved=True))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.stopped = True


def _runner(tmp_path, executor):
    from evalharness.run.runner import RunConfig, Runner

    return Runner(RunConfig(run_id="r", dataset="builtin", agent="gold", reports_dir=tmp_path), executor=executor)


def test_resume_clears_what_a_killed_process_left(tmp_path):
    """Temp files, the run's containers (via the executor) and the logs of unfinished instances go;
    finished instances and their logs stay. A new run has nothing to clear."""
    first = FakeExecutor()
    _runner(tmp_path, first).run(TASKS[:1], progress=False)
    assert first.leftover_calls == 0 and first.ran == [TASKS[0].instance_id]
    run_dir = tmp_path / "r"
    done_logs = run_dir / "logs" / safe_name(TASKS[0].instance_id)
    done_logs.mkdir(parents=True)
    (done_logs / "patch.diff").write_text("kept")
    stale = run_dir / "logs" / safe_name(TASKS[1].instance_id)
    stale.mkdir(parents=True)
    (stale / "harness_error.txt").write_text("from the killed attempt")
    (run_dir / "records" / f".{safe_name(TASKS[1].instance_id)}.json.x1.tmp").write_text('{"half')
    (run_dir / ".results.parquet.x2.tmp").write_bytes(b"PAR1")
    before = _records(run_dir)
    second = FakeExecutor()
    outcome = _runner(tmp_path, second).run(TASKS[:3], progress=False)
    assert second.leftover_calls == 1
    assert second.ran == [t.instance_id for t in TASKS[1:3]] and outcome.skipped == 1
    assert not stale.exists() and (done_logs / "patch.diff").read_text() == "kept"
    assert [p for p in run_dir.rglob("*") if is_temp_file(p)] == []
    assert all(_records(run_dir)[name] == data for name, data in before.items())
    assert pq.read_table(run_dir / "results.parquet").num_rows == 3


def test_a_run_in_progress_is_locked_against_a_second_process(tmp_path):
    from evalharness.core.errors import UserError

    class Nested(FakeExecutor):
        def run(self, tasks, logs_root):
            with pytest.raises(UserError, match="being run by another process"):
                _runner(tmp_path, FakeExecutor()).run(TASKS[:1], progress=False)
            yield from super().run(tasks, logs_root)

    _runner(tmp_path, Nested()).run(TASKS[:2], progress=False)
    _runner(tmp_path, FakeExecutor()).run(TASKS[:2], progress=False)  # released when the run ended


def test_ctrl_c_while_a_result_is_kept_stops_the_executor(tmp_path, monkeypatch):
    """A Ctrl-C that lands in the runner (writing a record), not in the executor's wait, still stops it;
    the one-line message says what was kept."""
    from evalharness.core.results import ResultStore

    executor = FakeExecutor()
    runner = _runner(tmp_path, executor)
    calls = []

    def add(record):
        calls.append(record.instance_id)
        if len(calls) == 2:
            raise KeyboardInterrupt
        ResultStore.add(runner.store, record)

    monkeypatch.setattr(runner.store, "add", add)
    try:
        runner.run(TASKS[:3], progress=False)
    except KeyboardInterrupt as exc:  # checked here, while the exception still holds the runner's frame
        assert str(exc) == "run r keeps the 1 instance(s) that finished"
        assert executor.stopped, "the executor was left running"
    else:
        pytest.fail("Ctrl-C was swallowed")
    assert len(executor.ran) == 2
    assert pq.read_table(tmp_path / "r" / "results.parquet").num_rows == 1  # compacted on the way out


# ---------------------------------------------------------------- the local executor's Ctrl-C, without Docker

class FakeEngine:
    """The two calls the executor's sweep makes (`client.api`), over a set of container ids."""

    def __init__(self):
        self.lock = threading.Lock()
        self.running: set[str] = set()
        self.sweeps = 0

    def start(self, cid: str) -> None:
        with self.lock:
            self.running.add(cid)

    def containers(self, all=False, quiet=False, filters=None):
        with self.lock:
            self.sweeps += 1
            return [{"Id": cid} for cid in sorted(self.running)]

    def networks(self, filters=None):  # a run without sidecars has no networks to sweep
        return []

    def remove_container(self, cid, force=False, v=False):
        with self.lock:
            self.running.discard(cid)


class FakePipeline:
    """An instance that ends when its container is removed, after starting a second one once
    (an instance between its agent and its test container), or never (`stuck`, until released)."""

    def __init__(self, stuck: bool = False):
        from types import SimpleNamespace

        from evalharness.run.pipeline import PhaseGates

        self.engine = FakeEngine()
        self.client = SimpleNamespace(api=self.engine)
        self.config = SimpleNamespace(run_id="r", run_key="k")
        self.gates = PhaseGates()
        self.stuck = stuck
        self.release = threading.Event()
        self.started = threading.Event()
        self.ended = threading.Event()

    def run(self, task, logs_root):
        try:
            for phase in ("agent", "eval"):
                cid = f"{task.instance_id}-{phase}"
                self.engine.start(cid)
                self.started.set()
                while cid in self.engine.running or self.stuck:
                    if self.release.wait(0.01):
                        return
        finally:
            self.ended.set()


def _interrupt_main_thread_when(condition) -> threading.Thread:
    main = threading.main_thread().ident

    def watch():
        deadline = time.monotonic() + HANG
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.01)
        signal.pthread_kill(main, signal.SIGINT)  # what Ctrl-C sends, to the thread that gets it

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_ctrl_c_sweeps_containers_until_every_instance_in_flight_ended():
    from evalharness.run.executors.local import LocalExecutor

    pipeline = FakePipeline()
    executor = LocalExecutor(pipeline, sessions=2)
    _interrupt_main_thread_when(lambda: len(pipeline.engine.running) == 2)
    with pytest.raises(KeyboardInterrupt):
        for _ in executor.run(TASKS[:4], Path("unused")):
            pytest.fail("an instance finished though every one was interrupted")
    # each instance started a second container after the first sweep: those went too, and nothing is left
    assert pipeline.engine.running == set()
    assert executor._active == 0  # every instance thread has ended
    assert pipeline.engine.sweeps >= 2


def test_second_ctrl_c_ends_the_wait_for_an_instance_that_does_not_end():
    from evalharness.run.executors.local import LocalExecutor

    pipeline = FakePipeline(stuck=True)
    executor = LocalExecutor(pipeline, sessions=1)
    _interrupt_main_thread_when(lambda: pipeline.started.is_set())
    second = _interrupt_main_thread_when(lambda: pipeline.engine.sweeps >= 3)  # the first Ctrl-C is sweeping
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in executor.run(TASKS[:2], Path("unused")):
                pytest.fail("nothing finishes here")
        second.join()
        assert not pipeline.ended.is_set() and executor._active == 1  # not waited for any more ...
        assert executor._threads[0].daemon  # ... and a daemon thread, so the process can exit
        assert pipeline.engine.running == set()  # swept once more on the way out
    finally:
        pipeline.release.set()


# ---------------------------------------------------------------- the whole run, as a subprocess

def _eval(reports: Path, run_id: str, cache_dir: Path, tasks=None) -> list[str]:
    args = [sys.executable, "-m", "evalharness.cli", "eval", "--agent", "gold", "--dataset", "builtin",
            "--workers", "2", "--reports-dir", str(reports), "--run-id", run_id, "--cache-dir", str(cache_dir),
            "--no-progress"]
    if tasks is not None:
        args += ["--instance-ids", ",".join(t.instance_id for t in tasks)]
    return args


class Proc:
    """A harness process in its own session (so a signal to its group is what Ctrl-C in a terminal sends)."""

    def __init__(self, args: list[str], folder: Path):
        folder.mkdir(parents=True, exist_ok=True)
        self.out_path, self.err_path = folder / "stdout", folder / "stderr"
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.popen = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=err, start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def wait_for(self, condition) -> bool:
        """Poll until `condition()` holds (True) or the process ends (False)."""
        deadline = time.monotonic() + HANG
        while self.alive():
            if condition():
                return True
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("the harness process hung")
            time.sleep(0.02)
        return False

    def signal(self, sig: int, group: bool = True) -> bool:
        """Send `sig` to the process group (else the harness process alone); False if it had already ended."""
        if not self.alive():
            return False
        (os.killpg if group else os.kill)(self.popen.pid, sig)
        return True

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait()

    def finish(self) -> tuple[int, str, str]:
        try:
            code = self.popen.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("the harness process did not exit")
        return code, self.out_path.read_text(), self.err_path.read_text()


def _run(args: list[str], folder: Path) -> tuple[int, str, str]:
    return Proc(args, folder).finish()


@pytest.fixture(scope="module")
def images(cache_dir, tmp_path_factory):
    """The built-in tasks' images, built once (not under kills: these tests are about runs)."""
    code, out, err = _run([sys.executable, "-m", "evalharness.cli", "build", "--dataset", "builtin",
                           "--cache-dir", str(cache_dir)], tmp_path_factory.mktemp("build"))
    assert code == 0, out + err
    return cache_dir


def _containers(docker_client, run_id: str) -> list[str]:
    return [c["Id"] for c in docker_client.api.containers(all=True, filters={"label": f"{LABEL}.run_id={run_id}"})]


def _records(run_dir: Path) -> dict[str, bytes]:
    folder = run_dir / "records"
    return {p.name: p.read_bytes() for p in folder.glob("*.json")} if folder.is_dir() else {}


def _check_whole(run_dir: Path) -> None:
    """Every file of the run that exists is whole (right after a kill, temp files may be there too)."""
    for name, data in _records(run_dir).items():
        record = json.loads(data)
        assert safe_name(record["instance_id"]) + ".json" == name
    if (run_dir / "run.json").exists():
        json.loads((run_dir / "run.json").read_text())
    if (run_dir / "results.parquet").exists():
        pq.read_table(run_dir / "results.parquet")
    if (run_dir / "predictions.jsonl").exists():
        for line in (run_dir / "predictions.jsonl").read_text().splitlines():
            json.loads(line)


def _check_run(run_dir: Path, run_id: str, tasks, kept: dict[str, bytes], complete: bool = True) -> set[str]:
    """The run's files: whole, each finished instance exactly once everywhere, no temp file; returns the ids."""
    _check_whole(run_dir)
    wanted = sorted(t.instance_id for t in tasks)
    records = _records(run_dir)
    ids = sorted(json.loads(data)["instance_id"] for data in records.values())
    assert len(ids) == len(set(ids)) == len(records)
    if complete:
        assert ids == wanted
    assert set(ids) <= set(wanted)
    for name, data in kept.items():
        assert records.get(name) == data, f"record {name} changed (or vanished) after a kill and a resume"
    rows = pq.read_table(run_dir / "results.parquet").to_pylist()
    assert sorted(r["instance_id"] for r in rows) == ids
    for row in rows:
        assert row["status"] == "resolved", (row["instance_id"], row["error"])
    predictions = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["instance_id"] for p in predictions) == ids
    assert json.loads((run_dir / "run.json").read_text())["run_id"] == run_id
    assert [str(p) for p in run_dir.rglob("*") if is_temp_file(p)] == []
    assert {p.name for p in run_dir.iterdir()} <= {"run.json", "results.parquet", "predictions.jsonl", ".lock",
                                                   "records", "logs"}
    logs = run_dir / "logs"
    if complete:  # the logs of killed attempts were replaced: one folder per instance, from its finished run
        assert sorted(p.name for p in logs.iterdir()) == sorted(safe_name(i) for i in ids)
    for iid in ids:
        assert json.loads((logs / safe_name(iid) / "test_statuses.json").read_text())
    return set(ids)


def _kill_plan(rng: random.Random) -> list[tuple[str, list, str, float]]:
    """(phase, tasks, trigger, delay): most kills on a subset, then on every task, ending with live containers.

    Triggers: "start" (delay after launch: imports, loading, run.json, the resume's clean-up;
    on a finished selection, compaction and the predictions export), "record" (delay after a
    new record appears: writing logs and records, starting the next instance), "last" (delay
    after the selection's last record: compaction, predictions), "mid" (delay after launch,
    instances in flight), "container" (as soon as a container of the run exists, so that the
    resume finds orphans)."""
    subset = TASKS[:6]
    first = ["start", "start", "record", "record", "record", "mid", "mid", "container"]
    rng.shuffle(first)
    delays = {"start": lambda: rng.uniform(0.0, 2.5), "record": lambda: rng.uniform(0.0, 0.4),
              "last": lambda: rng.uniform(0.0, 0.15), "mid": lambda: rng.uniform(1.5, 6.0),
              "container": lambda: 0.0}
    plan = [("subset", subset, trigger, delays[trigger]()) for trigger in first]
    plan += [("subset", subset, "last", delays["last"]()), ("subset", subset, "start", rng.uniform(1.0, 2.5))]
    plan += [("all", TASKS, trigger, delays[trigger]()) for trigger in ("record", "mid", "container")]
    return plan


@pytest.mark.docker
def test_sigkill_at_random_points_then_resume(tmp_path, images, docker_client, session_trace):
    run_id = f"test-crash-kill-{uuid.uuid4().hex[:8]}"
    session_trace.run_ids.add(run_id)
    reports = tmp_path / "reports"
    run_dir = reports / run_id
    rng = random.Random(SEED)
    plan = _kill_plan(rng)
    kept: dict[str, bytes] = {}
    live_kills, orphaned, log = 0, 0, []
    try:
        for n, (phase, tasks, trigger, delay) in enumerate(plan):
            attempts = 3 if trigger == "container" else 1  # until a kill leaves containers behind
            for _ in range(attempts):
                before = len(_records(run_dir))
                proc = Proc(_eval(reports, run_id, images, tasks), tmp_path / f"kill-{n}")
                if trigger == "record":
                    proc.wait_for(lambda before=before: len(_records(run_dir)) > before)
                elif trigger == "last":
                    proc.wait_for(lambda tasks=tasks: len(_records(run_dir)) >= len(tasks))
                elif trigger == "container":
                    proc.wait_for(lambda: bool(_containers(docker_client, run_id)))
                time.sleep(delay)
                live = proc.signal(signal.SIGKILL)
                proc.kill()
                left = _containers(docker_client, run_id)
                live_kills += live
                orphaned += bool(left)
                log.append(f"{phase} {trigger} +{delay:.2f}s: {'killed' if live else 'had ended'}, "
                           f"{len(_records(run_dir))} records, {len(left)} containers left")
                _check_whole(run_dir)
                for name, data in _records(run_dir).items():  # records from before this kill are unchanged
                    assert kept.setdefault(name, data) == data, f"{name} changed after a kill"
                if left:
                    break
        # resume until done: one process that is not killed
        code, out, err = _run(_eval(reports, run_id, images), tmp_path / "resume")
        assert code == 0, out + err
        assert f"resolved {len(TASKS)}/{len(TASKS)}" in out, out
        _check_run(run_dir, run_id, TASKS, kept)
        assert _containers(docker_client, run_id) == [], "the resume left the killed processes' containers"
        assert live_kills >= len(plan) // 2, "\n".join(log)
        assert orphaned, "no kill left a container behind, so the resume's clean-up went untested:\n" + "\n".join(log)
    finally:
        _remove(docker_client, run_id)


def _remove(docker_client, run_id: str) -> None:
    for cid in _containers(docker_client, run_id):
        docker_client.api.remove_container(cid, force=True, v=True)


def _interrupted_line(err: str) -> str:
    """stderr after Ctrl-C: log lines only, no traceback, and one 'interrupted' line, the last."""
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines and all(line.startswith("evalharness: ") for line in lines), err
    assert sum("interrupted" in line for line in lines) == 1, err
    match = INTERRUPTED.fullmatch(lines[-1])
    assert match, err
    return match.group(1)


@pytest.mark.docker
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_sigint_or_sigterm_stops_cleanly_keeps_what_finished_and_resumes(tmp_path, images, docker_client,
                                                                         session_trace, sig):
    """Ctrl-C (SIGINT to the process group) and SIGTERM (to the harness alone, as `kill` or a
    scheduler sends it) both stop the run cleanly."""
    run_id = f"test-crash-int-{uuid.uuid4().hex[:8]}"
    session_trace.run_ids.add(run_id)
    reports = tmp_path / "reports"
    run_dir = reports / run_id
    try:
        proc = Proc(_eval(reports, run_id, images), tmp_path / "first")
        started = proc.wait_for(lambda: _records(run_dir) and _containers(docker_client, run_id))
        assert started, "the run ended before one instance finished with others in flight"
        before = _records(run_dir)
        assert proc.signal(sig, group=sig == signal.SIGINT)
        code, out, err = proc.finish()
        assert code == 130, out + err
        kept_line = _interrupted_line(err)
        assert "409" not in err and "Conflict" not in err, err  # a container being removed twice is no news
        assert _containers(docker_client, run_id) == [], "Ctrl-C left containers of the run"
        after = _records(run_dir)
        assert kept_line == f"run {run_id} keeps the {len(after)} instance(s) that finished"
        assert 0 < len(after) < len(TASKS)
        for name, data in before.items():
            assert after[name] == data
        done = _check_run(run_dir, run_id, TASKS, before, complete=False)
        assert len(done) == len(after)
        # the same command resumes: the rest runs, what finished is kept as it was
        code, out, err = _run(_eval(reports, run_id, images), tmp_path / "resume")
        assert code == 0, out + err
        assert f", {len(after)} already done in {run_dir}" in out.splitlines()[-1]
        _check_run(run_dir, run_id, TASKS, after)
        assert _containers(docker_client, run_id) == []
    finally:
        _remove(docker_client, run_id)


@pytest.mark.docker
def test_second_sigint_during_clean_up_still_exits_without_traceback(tmp_path, images, docker_client,
                                                                     session_trace):
    """Ctrl-C twice: the second ends the wait for the instances in flight; the process still exits
    with one line, and whatever a thread started in the last instant is removed by the resume."""
    run_id = f"test-crash-int2-{uuid.uuid4().hex[:8]}"
    session_trace.run_ids.add(run_id)
    reports = tmp_path / "reports"
    run_dir = reports / run_id
    tasks = TASKS[:6]
    try:
        delivered = False
        for attempt in range(3):  # until the second Ctrl-C reaches a process still cleaning up
            kept = _records(run_dir)
            proc = Proc(_eval(reports, run_id, images, tasks), tmp_path / f"attempt-{attempt}")
            assert proc.wait_for(lambda: bool(_containers(docker_client, run_id))), "no instance was in flight"
            assert proc.signal(signal.SIGINT)
            time.sleep(0.3)  # the first one is being handled: containers going, threads ending
            delivered = proc.signal(signal.SIGINT)
            code, out, err = proc.finish()
            assert code == 130, out + err
            _interrupted_line(err)
            _check_whole(run_dir)  # the second Ctrl-C may have cut compaction short: the resume redoes it
            for name, data in kept.items():
                assert _records(run_dir)[name] == data
            if delivered:
                break
        assert delivered, "the second Ctrl-C never found the process still running"
        code, out, err = _run(_eval(reports, run_id, images, tasks), tmp_path / "resume")
        assert code == 0, out + err
        _check_run(run_dir, run_id, tasks, kept)
        assert _containers(docker_client, run_id) == []
    finally:
        _remove(docker_client, run_id)
