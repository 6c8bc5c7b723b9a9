"""One instance end to end: environment -> agent -> scorer -> record.

`InstancePipeline` is what an executor runs for each task, on this machine or on a Ray
node. It never raises: every failure of one instance becomes that instance's record.
`PipelineRecipe` is the picklable description a Ray node builds its pipeline from.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, ContextManager, Mapping, Sequence

import docker
import docker.errors

from evalharness import __version__
from evalharness.agents.base import Agent, AgentResult
from evalharness.containers import ContainerLimits, format_limit_hits, read_limit_hits, running_container
from evalharness.errors import EnvBuildError, UserError
from evalharness.images import LABEL, BuildConfig, ImageBuilder
from evalharness.repos import RepoSource
from evalharness.results import InstanceRecord, safe_name
from evalharness.scorers.base import Scorer
from evalharness.scorers.tests_scorer import fallback_spec
from evalharness.specs import SpecRegistry
from evalharness.status import Status
from evalharness.task import Task


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    dataset: str
    agent: str
    model: str = ""
    workers: int = 1  # agent sessions at once (they mostly wait on the model)
    eval_workers: int = 0  # test runs at once (CPU-bound); 0: as many as the machine has cores
    redo: bool = False
    reports_dir: Path = Path("reports")
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    settings: Mapping[str, Any] = field(default_factory=dict)  # the agent's model and limits, for run.json

    @property
    def run_dir(self) -> Path:
        return Path(self.reports_dir) / self.run_id


@dataclass(frozen=True)
class PhaseGates:
    """Separate concurrency limits for the CPU-bound phases; agent sessions are limited by the executor."""

    eval: ContextManager | Callable[[], ContextManager] = field(default_factory=lambda: nullcontext)
    build: ContextManager | Callable[[], ContextManager] = field(default_factory=lambda: nullcontext)

    @staticmethod
    def threads(eval_slots: int) -> "PhaseGates":
        """For threads of one process (the local executor); builds are limited by the ImageBuilder."""
        sem = threading.BoundedSemaphore(max(1, eval_slots))
        return PhaseGates(eval=lambda: sem)


class InstanceLogs:
    """<logs root>/<instance>/: build.log, agent trajectory, patch, eval script, test output."""

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


class InstancePipeline:
    def __init__(
        self,
        config: RunConfig,
        *,
        client: docker.DockerClient,
        builder: ImageBuilder,
        specs: SpecRegistry,
        agent: Agent,
        scorer: Scorer,
        gates: PhaseGates | None = None,
    ):
        self.config = config
        self.client = client
        self.builder = builder
        self.specs = specs
        self.agent = agent
        self.scorer = scorer
        self.gates = gates or PhaseGates()

    def run(self, task: Task, logs_root: Path, *, attempt: int = 1, worker: str = "") -> InstanceRecord:
        """Run one task end to end; always returns a record (never raises)."""
        logs = InstanceLogs(Path(logs_root) / safe_name(task.instance_id))
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
            attempt=attempt,
            worker=worker or socket.gethostname(),
        )
        start = time.monotonic()
        hits: dict[str, int] = {}
        try:
            if attempt > 1:  # an earlier try died with its containers still up
                remove_instance_containers(self.client, self.config.run_id, task.instance_id)
            self._stages(task, record, logs, hits)
        except Exception as exc:  # a harness bug must cost one instance, not the run
            record.status = Status.HARNESS_ERROR.value
            record.resolved = False
            record.error = f"{type(exc).__name__}: {exc}"
            logs.write("harness_error.txt", traceback.format_exc())
        finally:
            logs.close()
        record.limit_hits = format_limit_hits(hits)
        if hits and not record.resolved:  # the likely cause of what failed, so it goes first
            record.error = f"hit container limits ({record.limit_hits})" + (f"; {record.error}" if record.error else "")
        record.total_seconds = round(time.monotonic() - start, 3)
        record.finished_at = _now()
        return record

    def _stages(self, task: Task, record: InstanceRecord, logs: InstanceLogs, hits: dict[str, int]) -> None:
        # 1. environment
        with _timer(record, "env_seconds"), _enter(self.gates.build):
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
            result = self._run_agent(task, image, logs, hits)
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
        with _timer(record, "eval_seconds"), _enter(self.gates.eval):
            with self._container(task, image, "eval", hits) as env:
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

    def _run_agent(self, task: Task, image: str, logs: InstanceLogs, hits: dict[str, int]) -> AgentResult:
        try:
            with self._container(task, image, "agent", hits) as env:
                return self.agent.run(task, env)
        except docker.errors.DockerException:
            raise  # infrastructure, not the agent: harness_error
        except Exception as exc:
            logs.write("agent_error.txt", traceback.format_exc())
            return AgentResult(patch="", exit_reason="error", error=f"{type(exc).__name__}: {exc}")

    @contextmanager
    def _container(self, task: Task, image: str, purpose: str, hits: dict[str, int]):
        with running_container(self.client, image, run_id=self.config.run_id,
                               instance_id=task.instance_id, purpose=purpose, limits=self.config.limits) as env:
            try:
                yield self.builder.environment(image, env)  # official images: commands run in conda's testbed
            finally:
                for name, count in read_limit_hits(env).items():
                    hits[name] = hits.get(name, 0) + count


@dataclass(frozen=True)
class PipelineRecipe:
    """Everything a node needs to build the pipeline itself: plain data and picklable factories.

    Paths in it (cache dir, repo mirrors, CA bundle) are read on the node that runs the task.
    """

    config: RunConfig
    build: BuildConfig
    specs: SpecRegistry
    repo_sources: Sequence[RepoSource]
    agent: Callable[[], Agent]
    scorer: Callable[[], Scorer]

    def pipeline(self, gates: PhaseGates | None = None) -> InstancePipeline:
        client = docker.from_env(timeout=600)
        builder = ImageBuilder(client, self.build, self.repo_sources)
        return InstancePipeline(self.config, client=client, builder=builder, specs=self.specs,
                                agent=self.agent(), scorer=self.scorer(), gates=gates)


def remove_instance_containers(client: docker.DockerClient, run_id: str, instance_id: str) -> int:
    """Force-remove the containers an earlier attempt of this instance left behind."""
    removed = 0
    filters = {"label": [f"{LABEL}.run_id={run_id}", f"{LABEL}.instance={instance_id}"]}
    for container in client.containers.list(all=True, filters=filters):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed


def _enter(gate) -> ContextManager:
    return gate() if callable(gate) else gate


class _timer:
    def __init__(self, record: InstanceRecord, attr: str):
        self.record, self.attr = record, attr

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc) -> None:
        setattr(self.record, self.attr, round(time.monotonic() - self.start, 3))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
