"""Instances as threads of this process: many agent sessions, fewer CPU-bound test runs."""

from __future__ import annotations

import os
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Iterator, Sequence

from evalharness.containers import remove_run_containers
from evalharness.executors.base import Finished
from evalharness.pipeline import InstancePipeline, PhaseGates
from evalharness.task import Task


class LocalExecutor:
    """`sessions` instances at once; of those, at most `eval_slots` run their tests at a time.

    Agent sessions mostly wait on the model, so they can far outnumber the cores; test runs
    and image builds (the ImageBuilder's own limit) are CPU-bound and get separate limits.
    """

    def __init__(self, pipeline: InstancePipeline, *, sessions: int = 1, eval_slots: int = 0):
        self.sessions = max(1, sessions)
        self.eval_slots = eval_slots or os.cpu_count() or 1
        if pipeline.gates == PhaseGates():
            pipeline.gates = PhaseGates.threads(self.eval_slots)
        self.pipeline = pipeline
        self._stopping = threading.Event()
        self._pending: set[Future] = set()

    def run(self, tasks: Sequence[Task], logs_root: Path) -> Iterator[Finished]:
        with ThreadPoolExecutor(max_workers=self.sessions, thread_name_prefix="instance") as pool:
            self._pending = {pool.submit(self.pipeline.run, task, logs_root) for task in tasks}
            try:
                while self._pending:
                    done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        if future.cancelled():
                            continue
                        record = future.result()  # the pipeline never raises
                        if not self._stopping.is_set():  # an interrupted instance runs again on resume
                            yield Finished(record)
            except BaseException:  # Ctrl-C (or the driver closing us): end the instances in flight now
                self.stop()
                raise

    def stop(self) -> None:
        self._stopping.set()
        for future in self._pending:
            future.cancel()
        # Removing the run's containers ends the instances in flight quickly.
        remove_run_containers(self.pipeline.client, self.pipeline.config.run_id)
