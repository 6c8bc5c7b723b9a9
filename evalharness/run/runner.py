"""The run around the instances: resume, progress, the one writer of results.

Every instance ends as exactly one record with a status; no failure of one instance
stops the run. Records already on disk are skipped (resume) unless `redo` is set.
The instances themselves run in an executor (local threads, or Ray tasks); the runner
drives it and alone writes the run's files as results arrive.

Crashes: one process at a time runs a run (a lock on its folder, which dies with the
process). A process killed outright (SIGKILL, OOM, power) can't clean up after itself, so
the next one, on resume, removes what it left: temp files of interrupted writes, the run's
containers, and the logs of the instances it did not finish (they run again from scratch).
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import docker
from tqdm import tqdm

from evalharness.agents.base import Agent
from evalharness.core.errors import UserError
from evalharness.run.executors.base import Executor, Finished
from evalharness.env.images import ImageBuilder
from evalharness.run.config import RunConfig
from evalharness.run.pipeline import InstanceLogs, InstancePipeline
from evalharness.tasks.predictions import records_to_predictions, write_predictions
from evalharness.core.results import InstanceRecord, ResultStore, atomic_write, safe_name
from evalharness.core.run_meta import RUN_JSON, RunMeta
from evalharness.scorers.base import Scorer
from evalharness.tasks.specs import SpecRegistry
from evalharness.core.status import Status

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"  # in the run folder: held (flock) by the process running the run

__all__ = ["InstanceLogs", "RunConfig", "RunOutcome", "Runner", "lock_if_idle", "run_is_running", "summarize"]


@dataclass
class RunOutcome:
    run_dir: Path
    records: list[InstanceRecord]  # every record of the run, old and new
    ran: int  # instances run by this invocation
    skipped: int  # instances already done (resumed)


class Runner:
    """Drives an executor over the tasks not yet done, writing each result as it arrives.

    Without `executor`, instances run here as threads (`LocalExecutor`) using the given
    client, builder, agent and scorer. With an executor, `config.test_env` is what run.json
    records of the scorer (the executor's nodes build their own).
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        client: docker.DockerClient | None = None,
        builder: ImageBuilder | None = None,
        specs: SpecRegistry | None = None,
        agent: Agent | None = None,
        scorer: Scorer | None = None,
        executor: Executor | None = None,
    ):
        if scorer is not None:  # run.json says what the scorer's test runs get
            config = dataclasses.replace(config, test_env=dict(scorer.test_env))
        self.config = config
        if executor is None:
            from evalharness.run.executors.local import LocalExecutor

            pipeline = InstancePipeline(config, client=client, builder=builder, specs=specs, agent=agent, scorer=scorer)
            executor = LocalExecutor(pipeline, sessions=config.workers, eval_slots=config.eval_workers,
                                     start_rate=config.start_rate)
        self.executor = executor
        self.store = ResultStore(config.run_dir)

    def run(self, tasks: Iterable, progress: bool = True) -> RunOutcome:
        tasks = list(tasks)
        with _run_lock(self.config.run_dir, self.config.run_id):
            return self._run(tasks, progress)

    def _run(self, tasks: list, progress: bool) -> RunOutcome:
        resumed = (self.config.run_dir / "run.json").exists()  # an earlier process started this run
        self._write_metadata(len(tasks))
        done = self.store.load()
        todo = [t for t in tasks if self.config.redo or t.instance_id not in done]
        skipped = len(tasks) - len(todo)
        if skipped:
            log.info("resuming run %s: %d of %d instances already done", self.config.run_id, skipped, len(tasks))
        logs_root = self.config.run_dir / "logs"
        if resumed:
            self._clear_leftovers([t for t in todo if t.instance_id not in done], logs_root)
        resolved = sum(1 for t in tasks if t.instance_id in done and done[t.instance_id].resolved and not self.config.redo)
        bar = tqdm(total=len(tasks), initial=skipped, desc=self.config.run_id, unit="inst", disable=not progress)
        bar.set_postfix(resolved=resolved)
        stream = self.executor.run(todo, logs_root)
        try:
            for finished in stream:
                self._keep(finished, logs_root)
                resolved += finished.record.resolved
                bar.update(1)
                bar.set_postfix(resolved=resolved)
        except KeyboardInterrupt:
            # The executor has stopped: nothing new started, the run's containers are gone,
            # and no record is kept for the instances that were in flight (they run on resume).
            # One line for the user (cli.main prints it), however many Ctrl-Cs it took.
            raise KeyboardInterrupt(f"run {self.config.run_id} keeps the {len(self.store.load())} instance(s) "
                                    "that finished") from None
        finally:
            try:
                stream.close()  # left early (Ctrl-C while a result was being kept): the executor stops
            finally:
                bar.close()
                self.store.compact()
                self._export_predictions()
        records = self.store.load()
        wanted = [records[t.instance_id] for t in tasks if t.instance_id in records]
        return RunOutcome(self.config.run_dir, wanted, ran=len(todo), skipped=skipped)

    def _clear_leftovers(self, unfinished: list, logs_root: Path) -> None:
        """What a killed earlier process of this run left: temp files, its containers (a SIGKILLed process
        can't remove them), and the logs of the instances it did not finish (they run again from scratch).

        Safe because the run is locked: no other process is writing it or running its instances.
        """
        temp = self.store.remove_temp_files()
        remove = getattr(self.executor, "remove_leftovers", None)  # Ray cleans its nodes after each run
        containers = remove() if remove is not None else 0
        for task in unfinished:
            shutil.rmtree(logs_root / safe_name(task.instance_id), ignore_errors=True)
        if temp or containers:
            log.info("run %s: removed %d leftover container(s) and %d temp file(s) of an earlier process",
                     self.config.run_id, containers, temp)

    def _keep(self, finished: Finished, logs_root: Path) -> None:
        """Logs first, then the record: a record on disk means the instance is complete."""
        folder = logs_root / safe_name(finished.record.instance_id)
        for name, data in finished.files.items():
            target = (folder / name).resolve()
            if not target.is_relative_to(folder.resolve()):  # a name from elsewhere must not escape
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        self.store.add(finished.record)

    def _export_predictions(self) -> None:
        """predictions.jsonl of every finished instance, for the official harness (also after Ctrl-C)."""
        name = self.config.model or self.config.agent
        write_predictions(records_to_predictions(self.store.load().values(), name),
                          self.config.run_dir / "predictions.jsonl")

    def _write_metadata(self, n_tasks: int) -> None:
        path = self.config.run_dir / RUN_JSON
        meta = self.config.meta(n_tasks)
        if path.exists():
            old = RunMeta.read(path).identity
            clash = {k: (old.get(k), v) for k, v in meta.identity.items() if old.get(k) != v}
            if clash:
                detail = ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in clash.items())
                raise UserError(f"run {self.config.run_id!r} exists with other settings ({detail}); pick another --run-id")
            return
        atomic_write(path, meta.to_json())


@contextmanager
def _run_lock(run_dir: Path, run_id: str) -> Iterator[None]:
    """One process at a time per run folder: a second would run the same instances, write the same
    files and, on resume, remove the first one's containers. The kernel releases the lock when its
    process ends, however it ends (SIGKILL included), so a crash never leaves a run locked."""
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"run {run_id!r} is being run by another process right now ({run_dir} is locked); "
                            "wait for it to end, or pick another --run-id") from None
        except OSError as exc:  # a file system without locks: go on unlocked
            log.debug("could not lock %s: %s", run_dir, exc)
        yield
    finally:
        os.close(fd)


@contextmanager
def lock_if_idle(run_dir: Path) -> Iterator[bool]:
    """True (and the run's lock held until the block ends) when no process is running the run:
    its process ended, however it ended. False while one runs it. Creates no lock file (a run
    folder without one has never been run by this harness's runner, or predates the lock)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            idle = False
        except OSError:  # a file system without locks: nobody can be holding one
            idle = True
        else:
            idle = True
        yield idle
    finally:
        os.close(fd)


def run_is_running(run_dir: Path) -> bool:
    """Whether a process is running the run in `run_dir` right now (it holds the run's lock)."""
    with lock_if_idle(run_dir) as idle:
        return not idle


def summarize(records: list[InstanceRecord]) -> str:
    """The table printed at the end of a run: resolved/total and counts per status."""
    total = len(records)
    resolved = sum(r.resolved for r in records)
    counts: dict[str, int] = {}
    for r in records:
        counts[r.status] = counts.get(r.status, 0) + 1
    pct = f"{100 * resolved / total:.1f}%" if total else "n/a"
    lines = [f"resolved {resolved}/{total} ({pct})", "", f"{'status':<20} {'count':>6}", f"{'-' * 20} {'-' * 6}"]
    for status in Status:
        if counts.get(status.value):
            lines.append(f"{status.value:<20} {counts[status.value]:>6}")
    return "\n".join(lines)
