"""Instances as threads of this process: many agent sessions, fewer CPU-bound test runs."""

from __future__ import annotations

import itertools
import logging
import os
import queue
import threading
from pathlib import Path
from typing import Iterator, Sequence

import docker.errors
import requests

from evalharness.env.docker import remove_run_containers
from evalharness.run.executors.base import Finished
from evalharness.run.pipeline import DEFAULT_START_RATE, InstancePipeline, PhaseGates
from evalharness.core.task import Task

log = logging.getLogger(__name__)

SWEEP_SECONDS = 0.5  # while stopping: how often the run's containers are removed again
HINT_AFTER_SWEEPS = 10  # then say what the wait is for


def first_start_delay(index: int, start_rate: float) -> float:
    """Seconds worker `index` waits before its first instance: the first wave starts
    `start_rate` a second (0: all at once), not all in the same instant (DEFAULT_START_RATE)."""
    return index / start_rate if start_rate > 0 else 0.0


class LocalExecutor:
    """`sessions` instances at once; of those, at most `eval_slots` run their tests at a time.

    Agent sessions mostly wait on the model, so they can far outnumber the cores; test runs
    and image builds (the ImageBuilder's own limit) are CPU-bound and get separate limits.
    The first wave of instances starts `start_rate` a second rather than all at once.

    The instances run in daemon threads: on Ctrl-C, `stop` ends them by removing the run's
    containers and waits until every one has ended (so none is left behind); a second
    Ctrl-C ends that wait, and the process can exit without joining them.
    """

    def __init__(self, pipeline: InstancePipeline, *, sessions: int = 1, eval_slots: int = 0,
                 start_rate: float = DEFAULT_START_RATE):
        self.sessions = max(1, sessions)
        self.start_rate = max(0.0, start_rate)  # the first `sessions` instances start this many a second
        self.eval_slots = eval_slots or os.cpu_count() or 1
        if pipeline.gates == PhaseGates():
            pipeline.gates = PhaseGates.threads(self.eval_slots)
        self.pipeline = pipeline
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._active = 0  # threads still working, under `_ended` (Thread.join misbehaves when Ctrl-C cuts it short)
        self._ended = threading.Condition()

    def run(self, tasks: Sequence[Task], logs_root: Path) -> Iterator[Finished]:
        self._stopping.clear()
        todo: queue.SimpleQueue = queue.SimpleQueue()
        for task in tasks:
            todo.put(task)
        results: queue.Queue = queue.Queue()
        self._threads = [threading.Thread(target=self._work, name=f"instance-{i}", daemon=True,
                                          args=(todo, results, logs_root, first_start_delay(i, self.start_rate)))
                         for i in range(min(self.sessions, len(tasks)))]
        self._active = 0
        try:  # a Ctrl-C may land while the threads start: some of them may be running already
            for thread in self._threads:
                thread.start()
            for _ in range(len(tasks)):
                outcome = results.get()  # a Ctrl-C interrupts the wait
                if isinstance(outcome, BaseException):  # the pipeline never raises: a harness bug
                    raise outcome
                yield Finished(outcome)
        except BaseException:  # Ctrl-C, or the driver closing us early: end the instances in flight now
            self.stop()
            raise

    def _work(self, todo: queue.SimpleQueue, results: queue.Queue, logs_root: Path, delay: float) -> None:
        with self._ended:  # counted before it looks at `_stopping`, so `stop` waits for it or it does nothing
            self._active += 1
        try:
            if delay > 0 and self._stopping.wait(delay):
                return
            while not self._stopping.is_set():  # after stop, nothing new starts
                try:
                    task = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    outcome = self.pipeline.run(task, logs_root)
                except BaseException as exc:  # noqa: BLE001 - handed to the driver, which raises it
                    outcome = exc
                if not self._stopping.is_set():  # an interrupted instance keeps no result: it runs again on resume
                    results.put(outcome)
        finally:
            with self._ended:
                self._active -= 1
                self._ended.notify_all()

    def stop(self) -> None:
        """Start nothing new and end the instances in flight; returns when none is left, nor its containers."""
        self._stopping.set()
        try:
            for sweep in itertools.count():
                # Removing the run's containers makes each instance in flight fail its next Docker call and end.
                # One between two containers (or building an image, or waiting on its model) can still start
                # another, so sweep again until every thread has ended; the sweep after the last one ended
                # leaves nothing behind.
                with self._ended:
                    active = self._active
                if self._sweep() is None or not active:
                    return
                if sweep == HINT_AFTER_SWEEPS:
                    log.warning("stopping: waiting for %d instance(s) in flight to end (Ctrl-C again to quit now)",
                                active)
                with self._ended:
                    self._ended.wait_for(lambda before=active: self._active < before, SWEEP_SECONDS)
        except KeyboardInterrupt:  # a second Ctrl-C: stop waiting; what is running now goes once more
            self._sweep()
            raise

    def remove_leftovers(self) -> int:
        """Remove the run's containers that an earlier, killed process left behind (call before `run`)."""
        return self._sweep() or 0

    def _sweep(self) -> int | None:
        """Force-remove every container of the run now; how many, or None when the engine can't be reached.

        A container whose removal is already under way (its instance's own clean-up, HTTP 409) or
        that fails to go does not stop the sweep (`containers.remove_run_containers`).
        """
        run_id = self.pipeline.config.run_id
        try:
            return remove_run_containers(self.pipeline.client, run_id, run_key=self.pipeline.config.run_key)
        except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
            log.warning("could not remove the containers of run %s: %s", run_id, exc)
            return None
