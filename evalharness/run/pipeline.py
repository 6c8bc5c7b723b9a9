"""One instance end to end: environment -> agent -> scorer -> record.

`InstancePipeline` is what an executor runs for each task, on this machine or on a Ray
node. It never raises: every failure of one instance becomes that instance's record.
`PipelineRecipe` is the picklable description a Ray node builds its pipeline from.

Docker failures are not the instance's (`docker_failure` names them): the daemon going away
or restarting, a container killed or removed while in use, an image removed between its
build and its use, a full disk. After each phase that used a container the pipeline checks
that the container is still running, so a container that died under an agent (which may
just see failing commands) is noticed too. Such a failure ends as `harness_error` with an
error saying what happened and in which phase (a failed image build, a full disk included,
is `env_build_failed`, see env/images/), never as the agent's or the tests' fault.

Retry policy: when another try can help (the daemon unreachable or restarted, a container
that stopped while in use, an image that is gone), the instance is tried again, at most
`infra_retries` times (default 1), after the daemon answers a ping again (waiting at most
`docker_wait` seconds; once one instance waited in vain, the others check once and don't
wait). The retry starts at the environment phase (a removed image is rebuilt, an existing
one costs a lookup), the try's leftover containers removed first; when only the test run
failed, the agent's result is kept and only the tests run again. Not retried: a container
removed while in use (the harness's own Ctrl-C, or an operator meant it), a full disk, an
instance the executor is stopping (`stop`), and any other error. Retries are logged in the
instance's infrastructure.log and counted in the record's `attempt`. An agent that kills
its own container (`kill 1`) therefore costs at most one more try.

Nothing an instance writes (its record, logs, trajectory) holds a registered API key:
`InstanceLogs` and the record pass through `evalharness.core.redact`.
"""

from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
import traceback
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Sequence

import docker
import docker.errors

from evalharness import __version__
from evalharness.agents.base import Agent, AgentResult
from evalharness.core.errors import EnvBuildError, InfrastructureError, UserError
from evalharness.core.redact import redact
from evalharness.core.results import InstanceRecord, safe_name
from evalharness.core.run_meta import now
from evalharness.core.status import Status
from evalharness.core.task import Task
from evalharness.env.limit_hits import format_limit_hits, read_limit_hits
from evalharness.env.docker import (
    SocketMount,
    remove_run_containers,
    running_container,
    sandbox_options,
)
from evalharness.env.failures import container_problem, docker_failure, failure_under
from evalharness.env.images import BuildConfig, ImageBuilder
from evalharness.env.sidecars import SIDECARS, check_specs, sidecar_image, sidecar_network
from evalharness.run.config import DEFAULT_START_RATE, RunConfig
from evalharness.scorers.base import Scorer
from evalharness.tasks.repos import RepoSource
from evalharness.tasks.specs import SpecRegistry, fallback_spec

# RunConfig, DEFAULT_START_RATE and the Docker failure readers are imported from here by older code.
__all__ = ["DEFAULT_START_RATE", "InstanceLogs", "InstancePipeline", "PhaseGates", "PipelineRecipe", "RunConfig",
           "container_problem", "docker_failure"]


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
        self._build.write(redact(line).rstrip("\n") + "\n")
        self._build.flush()

    def write(self, name: str, text: str) -> None:
        (self.root / name).write_text(redact(text), encoding="utf-8", errors="replace")

    def append(self, name: str, text: str) -> None:
        with open(self.root / name, "a", encoding="utf-8", errors="replace") as f:
            f.write(redact(text).rstrip("\n") + "\n")

    def close(self) -> None:
        if self._build is not None:
            self._build.close()


INFRA_RETRIES = 1  # more tries of an instance a Docker failure ended (see the module docstring)
DOCKER_WAIT = 300.0  # seconds to wait for the daemon to answer again before a retry


@dataclass
class _Progress:
    """Where one instance got to, across its tries."""

    phase: str = "environment"
    agent: AgentResult | None = None  # the agent's result, kept when only the test run failed
    retries: int = 0


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
        infra_retries: int = INFRA_RETRIES,
        docker_wait: float = DOCKER_WAIT,
    ):
        self.config = config
        self.client = client
        self.builder = builder
        check_specs(specs)  # a spec naming a sidecar no one can start fails the run before it starts
        self.specs = specs
        self.agent = agent
        self.scorer = scorer
        self.gates = gates or PhaseGates()
        self.infra_retries = max(0, infra_retries)
        self.docker_wait = docker_wait
        self._stopping = threading.Event()
        self._wait_lock = threading.Lock()
        self._gave_up_waiting = False  # the daemon did not come back within docker_wait: don't wait again

    def stop(self, stopping: bool = True) -> None:
        """The run is being stopped: no instance in flight is retried, none waits for the daemon
        (an executor calls this from its own `stop`; `stop(False)` before running again)."""
        if stopping:
            self._stopping.set()
        else:
            self._stopping.clear()

    def run(self, task: Task, logs_root: Path, *, attempt: int = 1, worker: str = "",
            agent_result: AgentResult | None = None) -> InstanceRecord:
        """Run one task end to end; always returns a record (never raises). `agent_result`: a patch
        made elsewhere (an RL episode, evalharness/rl/): the agent phase is skipped, the rest is as for eval."""
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
            started_at=now(),
            attempt=attempt,
            worker=worker or socket.gethostname(),
        )
        start = time.monotonic()
        hits: dict[str, int] = {}
        progress = _Progress(agent=agent_result)
        try:
            if attempt > 1:  # an earlier try died with its containers still up
                remove_run_containers(self.client, self.config.run_id, task.instance_id, run_key=self.config.run_key)
            while True:
                try:
                    self._stages(task, record, logs, hits, progress)
                    break
                except Exception as exc:
                    failure = docker_failure(exc)
                    if failure is None:
                        raise
                    logs.append("infrastructure.log", f"{now()} try {progress.retries + 1}, {progress.phase} phase: "
                                f"{failure}\n{traceback.format_exc()}")
                    why_not = self._retry(task, failure, progress, logs)
                    if why_not is not None:
                        record.status = Status.HARNESS_ERROR.value
                        record.resolved = False
                        record.error = f"Docker failure in the {progress.phase} phase: {failure}{why_not}"
                        try:  # what the try left (a container stopped with the daemon), if Docker answers
                            remove_run_containers(self.client, self.config.run_id, task.instance_id, run_key=self.config.run_key)
                        except Exception:  # noqa: BLE001 - the record says what went wrong already
                            pass
                        break
                    record.attempt += 1
        except Exception as exc:  # a harness bug must cost one instance, not the run
            record.status = Status.HARNESS_ERROR.value
            record.resolved = False
            record.error = f"{type(exc).__name__}: {exc}"
            logs.write("harness_error.txt", traceback.format_exc())
        finally:
            logs.close()
        record.error = redact(record.error)
        record.patch = redact(record.patch)
        record.limit_hits = format_limit_hits(hits)
        if hits and not record.resolved:  # the likely cause of what failed, so it goes first
            record.error = f"hit container limits ({record.limit_hits})" + (f"; {record.error}" if record.error else "")
        record.total_seconds = round(time.monotonic() - start, 3)
        record.finished_at = now()
        return record

    def _retry(self, task: Task, failure: InfrastructureError, progress: _Progress, logs: InstanceLogs) -> str | None:
        """Get ready to try the instance again; None if it is, else why not (appended to the error)."""
        if not failure.retry:
            return ""
        if self._stopping.is_set():
            return " (not retried: the run is stopping)"
        if progress.retries >= self.infra_retries:
            if not progress.retries:
                return ""
            return f" (also after {progress.retries} retr{'y' if progress.retries == 1 else 'ies'})"
        waited = self._await_docker()
        if waited is None:
            return f" (not retried: the Docker daemon did not answer again within {self.docker_wait:g} s)"
        try:
            remove_run_containers(self.client, self.config.run_id, task.instance_id, run_key=self.config.run_key)
        except Exception as exc:  # noqa: BLE001 - the retry meets whatever is still wrong
            logs.append("infrastructure.log", f"could not remove the try's containers: {exc}")
        progress.retries += 1
        logs.append("infrastructure.log", f"{now()} the Docker daemon answers (after {waited:.1f} s): "
                                          f"retry {progress.retries} of {self.infra_retries}")
        return None

    def _await_docker(self) -> float | None:
        """Seconds until the daemon answered a ping (at most docker_wait), or None if it did not."""
        with self._wait_lock:  # one instance polls; the others then see its outcome at once
            start = time.monotonic()
            deadline = start + (0.0 if self._gave_up_waiting else self.docker_wait)
            while True:
                try:
                    # A daemon shutting down closes its socket but still serves connections already
                    # open (it stops the containers after that): ask on a fresh one.
                    self.client.api.close()
                    self.client.ping()
                    self._gave_up_waiting = False
                    return time.monotonic() - start
                except Exception:  # noqa: BLE001 - down, restarting, or a stale pooled connection
                    pass
                if time.monotonic() >= deadline or self._stopping.is_set():
                    self._gave_up_waiting = True
                    return None
                self._stopping.wait(0.5)

    def _stages(self, task: Task, record: InstanceRecord, logs: InstanceLogs, hits: dict[str, int],
                progress: _Progress | None = None) -> None:
        progress = progress if progress is not None else _Progress()
        # 1. environment
        progress.phase = "environment"
        with _timer(record, "env_seconds"), _enter(self.gates.build):
            try:
                # The official image when there is one (then a spec is optional), else a local build.
                spec = self.specs.get(task.repo, task.version) if (task.repo, task.version) in self.specs else None
                image = self.builder.image_for(task, spec, logs.build_line).tag
                spec = spec or fallback_spec(task)
                # An installed agent runs from a layer of its own on top of the instance image.
                layered = getattr(self.agent, "agent_image", None)
                agent_image = layered(self.builder, task, image, logs.build_line) if layered else image
                needed = self.scorer.sidecars(spec, network=self.config.limits.network)
                for name in needed:  # built now, so a failed one is the environment's failure
                    sidecar_image(self.builder, SIDECARS[name], logs.build_line)
            except (EnvBuildError, UserError) as exc:
                record.status = Status.ENV_BUILD_FAILED.value
                record.error = str(exc)
                if isinstance(exc, EnvBuildError) and exc.log:
                    logs.write("build_failure.log", exc.log)
                return

        # 2. agent (a retry after a failed test run keeps the agent's result)
        if progress.agent is None:
            progress.phase = "agent"
            with _timer(record, "agent_seconds"):
                progress.agent = self._run_agent(task, image, agent_image, logs, hits)
        result = progress.agent
        record.take(result)
        logs.write("patch.diff", result.patch)
        logs.write("trajectory.jsonl", "".join(json.dumps(step, default=str) + "\n" for step in result.trajectory))
        for name, text in result.logs.items():
            logs.write(name, text)
        if result.error:
            record.status = Status.AGENT_ERROR.value  # its error is the record's already
            return
        if not result.patch.strip():
            record.status = Status.EMPTY_PATCH.value
            return

        # 3. scorer, in a fresh container so nothing the agent left running can interfere
        progress.phase = "eval"
        with _timer(record, "eval_seconds"), _enter(self.gates.eval):
            sandbox = sandbox_options(self.client, self.config.limits)
            record.cpus = sandbox.get("nano_cpus", 0) / 1e9
            needed = self.scorer.sidecars(spec, network=self.config.limits.network)
            with sidecar_network(self.client, self.builder, needed, run_id=self.config.run_id,
                                 run_key=self.config.run_key, instance_id=task.instance_id, sandbox=sandbox, sink=logs.build_line) as sidecars, \
                    self._container(task, image, "eval", hits, network=sidecars and sidecars.name) as env:
                trust = sidecars.trust(env) if sidecars else None
                if trust:
                    spec = dataclasses.replace(spec, pre_test=(*spec.pre_test, trust))
                score = self.scorer.score(task, result.patch, env, spec)
        record.take(score)
        logs.write("apply.log", score.apply_log)
        logs.write("test_output.txt", score.test_output)
        logs.write("test_statuses.json", json.dumps(score.test_statuses, indent=1, sort_keys=True))

    def _run_agent(self, task: Task, image: str, agent_image: str, logs: InstanceLogs,
                   hits: dict[str, int]) -> AgentResult:
        try:
            session = getattr(self.agent, "session", None)
            if session is None:
                with self._container(task, image, "agent", hits) as env:
                    return self.agent.run(task, env)
            with session(task) as running, self._container(task, agent_image, "agent", hits, mounts=running.mounts,
                                                           env_of=image) as env:
                return running.run(env)
        except (InfrastructureError, docker.errors.DockerException):
            raise  # infrastructure, not the agent: retried or harness_error
        except Exception as exc:
            logs.write("agent_error.txt", traceback.format_exc())
            return AgentResult(patch="", exit_reason="error", error=f"{type(exc).__name__}: {exc}")

    @contextmanager
    def _container(self, task: Task, image: str, purpose: str, hits: dict[str, int], *,
                   mounts: Sequence[SocketMount] = (), env_of: str | None = None, network: str | None = None):
        """A container for one phase; Docker's failures (starting it, under the phase, or a
        container found dead when the phase ends) come out as InfrastructureError. `env_of`: the
        instance image `image` is a layer on (its commands run as that image's do)."""
        own: list[BaseException] = []  # the phase's own error (its container and the daemon were fine)
        try:
            with running_container(self.client, image, run_id=self.config.run_id, run_key=self.config.run_key,
                                   instance_id=task.instance_id,
                                   purpose=purpose, limits=self.config.limits, mounts=mounts,
                                   network=network) as env:
                try:
                    # official images: commands run in conda's testbed
                    yield self.builder.environment(env_of or image, env)
                except Exception as exc:
                    failure = failure_under(env.container, purpose, exc)
                    if failure is None:
                        own.append(exc)
                        raise
                    raise failure from exc
                else:  # an agent may end "normally" after its commands failed on a dead container
                    failure = container_problem(env.container, purpose)
                    if failure is not None:
                        raise failure
                finally:
                    for name, count in read_limit_hits(env).items():
                        hits[name] = hits.get(name, 0) + count
        except Exception as exc:
            if (own and exc is own[0]) or isinstance(exc, InfrastructureError):
                raise
            failure = docker_failure(exc)  # starting or removing the container failed
            if failure is None:
                raise
            raise failure from exc


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


def _enter(gate) -> ContextManager:
    return gate() if callable(gate) else gate


class _timer:
    def __init__(self, record: InstanceRecord, attr: str):
        self.record, self.attr = record, attr

    def __enter__(self) -> None:
        self.start = time.monotonic()

    def __exit__(self, *exc) -> None:
        setattr(self.record, self.attr, round(time.monotonic() - self.start, 3))

