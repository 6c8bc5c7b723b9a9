"""SWE tasks behind reset / step / reward, for RL trainers.

`EnvHub` serves a set of tasks: it owns the Docker client, the image builder, the warm pool
(rl/pool.py) and the grading pipeline. `hub.make()` gives an `SWEEnv`, one environment a
trainer drives like a Gym one:

    obs = env.reset("evalharness__confini-1")      # the task prompt and the tool schemas
    result = env.step({"tool": "bash", "arguments": {"command": "ls"}})
    result = env.step({"tool": "submit"})          # done; reward 1.0 resolved, else 0.0

A step runs the call through the built-in agent's own ToolBox (agents/tools.py), in one
persistent shell in the task's container. The episode ends at `submit` or after `max_steps`
(truncated). Its patch is collected as the built-in agent's is (agents/patch.py) and graded
by InstancePipeline with that patch as the agent's result: the same code as `eval`, in a
fresh container of the instance image, FAIL_TO_PASS / PASS_TO_PASS of the task's own tests
(test files reset and test_patch applied by the eval script), so a policy that edits or
deletes tests grades against the originals.
"""

from __future__ import annotations

import itertools
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import docker
import jinja2

from evalharness.agents.base import AgentResult
from evalharness.agents.llm_agent import PROMPTS
from evalharness.agents.patch import collect_patch
from evalharness.agents.tools import TOOLS, ToolBox
from evalharness.core.task import Task
from evalharness.env.docker import ContainerLimits, remove_run_containers
from evalharness.env.images import ImageBuilder
from evalharness.env.transport import ShellError
from evalharness.rl.live import LiveEnv, start_live
from evalharness.rl.pool import WarmPool
from evalharness.rl.types import (
    Action,
    ClosedEnvError,
    ForeignActionError,
    Grade,
    Observation,
    StepResult,
    UnknownTaskError,
)
from evalharness.run.config import RunConfig
from evalharness.run.pipeline import InstancePipeline, PhaseGates
from evalharness.scorers import get_scorer
from evalharness.tasks.specs import SpecRegistry


@dataclass(frozen=True)
class EnvConfig:
    """How a hub's environments behave (plain data: a Ray node builds its hub from it too)."""

    run_id: str = "rl"
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    pool_size: int = 8  # environments alive at most (ready + in use)
    warm: int = 1  # ready environments kept per instance in use
    idle_timeout: float = 300.0  # a ready environment unused this long is removed
    acquire_timeout: float = 600.0  # a reset waits this long for room before EnvBusyError
    max_steps: int = 100  # then the episode is graded as it stands (truncated)
    command_timeout: float = 120.0
    max_output_chars: int = 10_000
    eval_workers: int = 2  # test runs at once
    logs_dir: Path | None = None  # per-episode grading logs; None: a temporary folder removed on close


class _Policy:
    """The agent slot of the grading pipeline: the episode's patch is given, nothing runs."""

    name = "rl-policy"

    def run(self, task: Task, env: Any) -> AgentResult:  # never called: the pipeline gets the result
        raise RuntimeError("the RL policy runs outside the pipeline")


class EnvHub:
    def __init__(self, tasks: Sequence[Task], *, client: docker.DockerClient, builder: ImageBuilder,
                 specs: SpecRegistry, config: EnvConfig = EnvConfig()):
        self.config = config
        self.tasks = {t.instance_id: t for t in tasks}
        self.client, self.builder, self.specs = client, builder, specs
        self._temp = None if config.logs_dir else tempfile.mkdtemp(prefix="evalharness-rl-")
        self.logs_dir = Path(config.logs_dir or self._temp)
        run = RunConfig(run_id=config.run_id, dataset="rl", agent=_Policy.name, reports_dir=self.logs_dir,
                        limits=config.limits)
        self.run_key = run.run_key
        self.pipeline = InstancePipeline(run, client=client, builder=builder, specs=specs, agent=_Policy(),
                                         scorer=get_scorer("tests"), gates=PhaseGates.threads(config.eval_workers))
        self._images: dict[str, str] = {}
        self._images_lock = threading.Lock()
        self.pool = WarmPool(self._start, size=config.pool_size, warm=config.warm, idle_timeout=config.idle_timeout,
                             acquire_timeout=config.acquire_timeout)
        self._templates = jinja2.Environment(loader=jinja2.FileSystemLoader(str(PROMPTS)),
                                             undefined=jinja2.StrictUndefined, autoescape=False)
        self._episodes = itertools.count(1)

    # ---- public --------------------------------------------------------------------------
    def make(self) -> "SWEEnv":
        return SWEEnv(self)

    def task(self, instance_id: str) -> Task:
        try:
            return self.tasks[instance_id]
        except KeyError:
            some = ", ".join(sorted(self.tasks)[:5])
            raise UnknownTaskError(f"unknown task {instance_id!r}: these environments serve {len(self.tasks)} "
                                   f"tasks ({some}{', ...' if len(self.tasks) > 5 else ''})") from None

    def image(self, task: Task) -> str:
        """The instance image (built once, cached like eval's)."""
        with self._images_lock:
            if task.instance_id not in self._images:
                spec = self.specs.get(task.repo, task.version) if (task.repo, task.version) in self.specs else None
                self._images[task.instance_id] = self.builder.image_for(task, spec).tag
            return self._images[task.instance_id]

    def prewarm(self, instance_id: str, n: int = 1) -> None:
        self.image(self.task(instance_id))
        self.pool.prewarm(instance_id, n)

    def grade(self, task: Task, patch: str, episode_id: str) -> Grade:
        """The eval's verdict on `patch` (a fresh container; the pipeline's retries and statuses)."""
        record = self.pipeline.run(task, self.logs_dir / episode_id, agent_result=AgentResult(patch=patch))
        return Grade.from_record(record, patch)

    def new_episode_id(self) -> str:
        return f"ep{next(self._episodes)}-{secrets.token_hex(4)}"

    def first_observation(self, task: Task, episode_id: str, workdir: str) -> Observation:
        system = self._templates.get_template("system.j2").render(workdir=workdir, tools_prompt=None)
        user = self._templates.get_template("instance.j2").render(
            problem_statement=task.problem_statement, workdir=workdir, max_turns=self.config.max_steps)
        return Observation(episode_id=episode_id, instance_id=task.instance_id, text=user, tools=TOOLS,
                           messages=[{"role": "system", "content": system}, {"role": "user", "content": user}],
                           problem_statement=task.problem_statement, workdir=workdir)

    def close(self) -> None:
        """Remove every environment of the hub (ready or in use) and its temporary logs."""
        self.pool.close()
        self.pipeline.stop()
        remove_run_containers(self.client, self.config.run_id, run_key=self.run_key)
        if self._temp:
            shutil.rmtree(self._temp, ignore_errors=True)

    def __enter__(self) -> "EnvHub":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self, instance_id: str) -> LiveEnv:
        task = self.task(instance_id)
        return start_live(self.client, self.builder, self.image(task), instance_id, run_id=self.config.run_id,
                          run_key=self.run_key, limits=self.config.limits)


class SWEEnv:
    """One environment: reset to a task, step tool calls, get the reward at the end. Not thread-safe."""

    def __init__(self, hub: EnvHub):
        self.hub = hub
        self.episode_id: str | None = None
        self.task: Task | None = None
        self.steps = 0
        self._live: LiveEnv | None = None
        self._box: ToolBox | None = None
        self._closed = False
        self._began = 0.0
        self._tool_seconds = 0.0

    def reset(self, task: str | Task) -> Observation:
        """Start an episode of `task` (an instance id) in a clean environment; the last one, if any, is dropped."""
        if self._closed:
            raise ClosedEnvError("this environment was closed; make another with hub.make()")
        task = self.hub.task(task.instance_id if isinstance(task, Task) else task)
        self._end()
        began = time.monotonic()
        live = self.hub.pool.acquire(task.instance_id)
        self._live, self.task, self.steps = live, task, 0
        cfg = self.hub.config
        self._box = ToolBox(live.shell, live.env.workdir, command_timeout=cfg.command_timeout,
                            max_output_chars=cfg.max_output_chars)
        self.episode_id = self.hub.new_episode_id()
        self._began, self._tool_seconds = began, 0.0
        self.reset_seconds = time.monotonic() - began
        return self.hub.first_observation(task, self.episode_id, live.env.workdir)

    def step(self, action: Any) -> StepResult:
        """Run one tool call (see rl/types.py for what an action may be)."""
        action = Action.parse(action)
        if self._closed:
            raise ClosedEnvError("this environment was closed; make another with hub.make()")
        if self._live is None:
            raise ClosedEnvError("no episode is running: call reset(task) first" if self.episode_id is None else
                                 f"episode {self.episode_id} is over; call reset(task) for another")
        if action.episode_id is not None and action.episode_id != self.episode_id:
            raise ForeignActionError(f"the action is for episode {action.episode_id}, but this environment runs "
                                     f"episode {self.episode_id}")
        self.steps += 1
        try:
            obs = self._box.call(action.tool, action.arguments)
        except ShellError as exc:  # the container is gone (the policy stopped it): the episode ends, unsolved
            text = f"Error: the environment's shell failed ({exc}); the episode ends"
            return self._finish(Observation(episode_id=self.episode_id, instance_id=self.task.instance_id,
                                            text=text, step=self.steps), truncated=False, broken=str(exc))
        self._tool_seconds += obs.seconds
        observation = Observation(episode_id=self.episode_id, instance_id=self.task.instance_id, text=obs.output,
                                  step=self.steps, exit_code=obs.exit_code)
        truncated = not obs.submitted and self.steps >= self.hub.config.max_steps
        if not (obs.submitted or truncated):
            return StepResult(observation, info={"tool_seconds": round(obs.seconds, 4)})
        return self._finish(observation, truncated)

    def close(self) -> None:
        """Give the environment back (its container is removed); safe to call more than once."""
        self._end()
        self._closed = True

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> "SWEEnv":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _finish(self, observation: Observation, truncated: bool, broken: str | None = None) -> StepResult:
        live, task = self._live, self.task
        began = time.monotonic()
        patch, problem = "", (f"the environment's shell failed: {broken}" if broken else None)
        if broken is None:
            try:
                patch = collect_patch(lambda cmd: live.shell.run(cmd, timeout=300), task.base_commit)
            except (RuntimeError, ShellError) as exc:
                problem = f"could not collect the patch: {exc}"
        self._end()  # the episode's container goes back before the (slow) test run
        grade = self.hub.grade(task, patch, self.episode_id)
        info = {**asdict(grade), "truncated": truncated, "steps": self.steps,
                "tool_seconds": round(self._tool_seconds, 3), "grade_seconds": round(time.monotonic() - began, 3),
                "episode_seconds": round(time.monotonic() - self._began, 3)}
        if problem:
            info["error"] = problem
        return StepResult(observation, reward=grade.reward, done=True, truncated=truncated, info=info)

    def _end(self) -> None:
        live, self._live, self._box = self._live, None, None
        if live is not None:
            self.hub.pool.release(live)
