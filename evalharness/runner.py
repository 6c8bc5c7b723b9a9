"""The per-instance pipeline (env -> agent -> scorer -> record) and the run around it.

Every instance ends as exactly one record with a status; no failure of one instance
stops the run. Records already on disk are skipped (resume) unless `redo` is set.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

import docker
from tqdm import tqdm

from evalharness import __version__
from evalharness.agents.base import Agent, AgentResult
from evalharness.containers import ContainerLimits, remove_run_containers, running_container
from evalharness.errors import EnvBuildError, UserError
from evalharness.images import ImageBuilder
from evalharness.predictions import records_to_predictions, write_predictions
from evalharness.results import InstanceRecord, ResultStore, atomic_write, safe_name
from evalharness.scorers.base import Scorer
from evalharness.scorers.tests_scorer import fallback_spec
from evalharness.specs import SpecRegistry
from evalharness.status import Status
from evalharness.task import Task

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    dataset: str
    agent: str
    model: str = ""
    workers: int = 1
    redo: bool = False
    reports_dir: Path = Path("reports")
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    settings: Mapping[str, Any] = field(default_factory=dict)  # the agent's model and limits, for run.json

    @property
    def run_dir(self) -> Path:
        return Path(self.reports_dir) / self.run_id


@dataclass
class RunOutcome:
    run_dir: Path
    records: list[InstanceRecord]  # every record of the run, old and new
    ran: int  # instances run by this invocation
    skipped: int  # instances already done (resumed)


class InstanceLogs:
    """reports/<run>/logs/<instance>/: build.log, agent trajectory, patch, eval script, test output."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._build = None

    def build_line(self, line: str) -> None:
        if self._build is None:
            self._build = open(self.root / "build.log", "a", encoding="utf-8")
        self._build.write(line.rstrip("\n") + "\n")
        self._build.flush()

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(text, encoding="utf-8", errors="replace")

    def close(self) -> None:
        if self._build is not None:
            self._build.close()


class Runner:
    def __init__(
        self,
        config: RunConfig,
        *,
        client: docker.DockerClient,
        builder: ImageBuilder,
        specs: SpecRegistry,
        agent: Agent,
        scorer: Scorer,
    ):
        self.config = config
        self.client = client
        self.builder = builder
        self.specs = specs
        self.agent = agent
        self.scorer = scorer
        self.store = ResultStore(config.run_dir)
        self._stopping = threading.Event()

    # ---- the run ------------------------------------------------------------------------
    def run(self, tasks: Iterable[Task], progress: bool = True) -> RunOutcome:
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
        try:
            with ThreadPoolExecutor(max_workers=max(1, self.config.workers), thread_name_prefix="instance") as pool:
                pending: set[Future] = {pool.submit(self.run_instance, t) for t in todo}
                try:
                    while pending:
                        finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in finished:
                            record = future.result()  # run_instance never raises
                            resolved += record.resolved
                            bar.update(1)
                            bar.set_postfix(resolved=resolved)
                except KeyboardInterrupt:
                    # Stop cleanly: nothing new starts, this run's containers go (which ends the
                    # instances in flight quickly), and no record is kept for those.
                    self._stopping.set()
                    for future in pending:
                        future.cancel()
                    removed = remove_run_containers(self.client, self.config.run_id)
                    log.warning("interrupted: removed %d container(s) of run %s", removed, self.config.run_id)
                    raise
        finally:
            bar.close()
            self.store.compact()
            self._export_predictions()
        records = self.store.load()
        wanted = [records[t.instance_id] for t in tasks if t.instance_id in records]
        return RunOutcome(self.config.run_dir, wanted, ran=len(todo), skipped=skipped)

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

    # ---- one instance -------------------------------------------------------------------
    def run_instance(self, task: Task) -> InstanceRecord:
        """Run one task end to end; always returns a record, stored unless the run was interrupted."""
        logs = InstanceLogs(self.config.run_dir / "logs" / safe_name(task.instance_id))
        record = InstanceRecord(
            run_id=self.config.run_id,
            model=self.config.model,
            agent=self.config.agent,
            dataset=self.config.dataset,
            instance_id=task.instance_id,
            repo=task.repo,
            version=task.version,
            status=Status.HARNESS_ERROR.value,
            resolved=False,
            harness_version=__version__,
            started_at=_now(),
        )
        start = time.monotonic()
        try:
            self._pipeline(task, record, logs)
        except Exception as exc:  # a harness bug must cost one instance, not the run
            record.status = Status.HARNESS_ERROR.value
            record.resolved = False
            record.error = f"{type(exc).__name__}: {exc}"
            logs.write("harness_error.txt", traceback.format_exc())
        finally:
            logs.close()
        record.total_seconds = round(time.monotonic() - start, 3)
        record.finished_at = _now()
        if not self._stopping.is_set():  # an interrupted instance is run again on resume
            self.store.add(record)
        return record

    def _pipeline(self, task: Task, record: InstanceRecord, logs: InstanceLogs) -> None:
        # 1. environment
        with _timer(record, "env_seconds"):
            try:
                # The official image when there is one (then a spec is optional), else a local build.
                spec = self.specs.get(task.repo, task.version) if (task.repo, task.version) in self.specs else None
                image = self.builder.image_for(task, spec, logs.build_line).tag
                spec = spec or fallback_spec(task)
            except (EnvBuildError, UserError) as exc:
                record.status = Status.ENV_BUILD_FAILED.value
                record.error = str(exc)
                if isinstance(exc, EnvBuildError) and exc.log:
                    logs.write("build_failure.log", exc.log)
                return

        # 2. agent
        with _timer(record, "agent_seconds"):
            result = self._run_agent(task, image, logs)
        record.patch = result.patch
        record.turns = result.turns
        record.exit_reason = result.exit_reason
        record.prompt_tokens = result.usage.prompt_tokens
        record.completion_tokens = result.usage.completion_tokens
        record.cost = round(result.usage.cost, 6)
        record.llm_seconds = round(result.llm_seconds, 3)
        record.tool_seconds = round(result.tool_seconds, 3)
        record.format_errors = result.format_errors
        record.api_retries = result.api_retries
        logs.write("patch.diff", result.patch)
        logs.write("trajectory.jsonl", "".join(json.dumps(step, default=str) + "\n" for step in result.trajectory))
        if result.error:
            record.status = Status.AGENT_ERROR.value
            record.error = result.error
            return
        if not result.patch.strip():
            record.status = Status.EMPTY_PATCH.value
            return

        # 3. scorer, in a fresh container so nothing the agent left running can interfere
        with _timer(record, "eval_seconds"):
            with self._container(task, image, "eval") as env:
                score = self.scorer.score(task, result.patch, env, spec)
        record.status = score.status.value
        record.resolved = score.resolved
        record.f2p_passed, record.f2p_total = score.f2p_passed, score.f2p_total
        record.p2p_passed, record.p2p_total = score.p2p_passed, score.p2p_total
        record.apply_method = score.apply_method
        record.error = score.error
        logs.write("apply.log", score.apply_log)
        logs.write("test_output.txt", score.test_output)
        logs.write("test_statuses.json", json.dumps(score.test_statuses, indent=1, sort_keys=True))

    def _run_agent(self, task: Task, image: str, logs: InstanceLogs) -> AgentResult:
        try:
            with self._container(task, image, "agent") as env:
                return self.agent.run(task, env)
        except docker.errors.DockerException:
            raise  # infrastructure, not the agent: harness_error
        except Exception as exc:
            logs.write("agent_error.txt", traceback.format_exc())
            return AgentResult(patch="", exit_reason="error", error=f"{type(exc).__name__}: {exc}")

    @contextmanager
    def _container(self, task: Task, image: str, purpose: str):
        with running_container(self.client, image, run_id=self.config.run_id,
                               instance_id=task.instance_id, purpose=purpose, limits=self.config.limits) as env:
            yield self.builder.environment(image, env)  # official images: commands run in conda's testbed


class _timer:
    def __init__(self, record: InstanceRecord, attr: str):
        self.record, self.attr = record, attr

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc) -> None:
        setattr(self.record, self.attr, round(time.monotonic() - self.start, 3))


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


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

