"""The run around the instances: resume, progress, the one writer of results.

Every instance ends as exactly one record with a status; no failure of one instance
stops the run. Records already on disk are skipped (resume) unless `redo` is set.
The instances themselves run in an executor (local threads, or Ray tasks); the runner
drives it and alone writes the run's files as results arrive.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import docker
from tqdm import tqdm

from evalharness import __version__
from evalharness.agents.base import Agent
from evalharness.errors import UserError
from evalharness.executors.base import Executor, Finished
from evalharness.images import ImageBuilder
from evalharness.pipeline import InstanceLogs, InstancePipeline, RunConfig, _now
from evalharness.predictions import records_to_predictions, write_predictions
from evalharness.results import InstanceRecord, ResultStore, atomic_write, safe_name
from evalharness.scorers.base import Scorer
from evalharness.specs import SpecRegistry
from evalharness.status import Status

log = logging.getLogger(__name__)

__all__ = ["InstanceLogs", "RunConfig", "RunOutcome", "Runner", "summarize"]


@dataclass
class RunOutcome:
    run_dir: Path
    records: list[InstanceRecord]  # every record of the run, old and new
    ran: int  # instances run by this invocation
    skipped: int  # instances already done (resumed)


class Runner:
    """Drives an executor over the tasks not yet done, writing each result as it arrives.

    Without `executor`, instances run here as threads (`LocalExecutor`) using the given
    client, builder, agent and scorer.
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
        self.config = config
        if executor is None:
            from evalharness.executors.local import LocalExecutor

            pipeline = InstancePipeline(config, client=client, builder=builder, specs=specs, agent=agent, scorer=scorer)
            executor = LocalExecutor(pipeline, sessions=config.workers, eval_slots=config.eval_workers)
        self.executor = executor
        self.store = ResultStore(config.run_dir)

    def run(self, tasks: Iterable, progress: bool = True) -> RunOutcome:
        tasks = list(tasks)
        self._write_metadata(len(tasks))
        done = self.store.load()
        todo = [t for t in tasks if self.config.redo or t.instance_id not in done]
        skipped = len(tasks) - len(todo)
        if skipped:
            log.info("resuming run %s: %d of %d instances already done", self.config.run_id, skipped, len(tasks))
        resolved = sum(1 for t in tasks if t.instance_id in done and done[t.instance_id].resolved and not self.config.redo)
        bar = tqdm(total=len(tasks), initial=skipped, desc=self.config.run_id, unit="inst", disable=not progress)
        bar.set_postfix(resolved=resolved)
        logs_root = self.config.run_dir / "logs"
        try:
            for finished in self.executor.run(todo, logs_root):
                self._keep(finished, logs_root)
                resolved += finished.record.resolved
                bar.update(1)
                bar.set_postfix(resolved=resolved)
        except KeyboardInterrupt:
            # The executor has stopped: nothing new started, the run's containers are gone,
            # and no record is kept for the instances that were in flight (they run on resume).
            log.warning("interrupted: run %s keeps the %d instance(s) that finished", self.config.run_id,
                        len(self.store.load()))
            raise
        finally:
            bar.close()
            self.store.compact()
            self._export_predictions()
        records = self.store.load()
        wanted = [records[t.instance_id] for t in tasks if t.instance_id in records]
        return RunOutcome(self.config.run_dir, wanted, ran=len(todo), skipped=skipped)

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
        path = self.config.run_dir / "run.json"
        identity = {"dataset": self.config.dataset, "agent": self.config.agent, "model": self.config.model}
        if path.exists():
            old = json.loads(path.read_text())
            clash = {k: (old.get(k), v) for k, v in identity.items() if old.get(k) != v}
            if clash:
                detail = ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in clash.items())
                raise UserError(f"run {self.config.run_id!r} exists with other settings ({detail}); pick another --run-id")
            return
        meta = {
            "run_id": self.config.run_id,
            **identity,
            "workers": self.config.workers,
            "instances": n_tasks,
            "settings": dict(self.config.settings),
            "harness_version": __version__,
            "created_at": _now(),
        }
        atomic_write(path, json.dumps(meta, indent=2).encode())


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
