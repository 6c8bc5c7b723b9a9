"""The agent interface: given a task and a live environment, produce a patch."""

from __future__ import annotations

from dataclasses import dataclass, field
from contextlib import AbstractContextManager
from typing import Any, Callable, Protocol, Sequence

from evalharness.env.base import Environment
from evalharness.core.task import Task


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost += cost


@dataclass
class AgentResult:
    patch: str
    trajectory: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    exit_reason: str = "submitted"
    llm_seconds: float = 0.0
    tool_seconds: float = 0.0
    format_errors: int = 0
    api_retries: int = 0
    # Set when the agent failed: the instance is recorded as agent_error with this reason.
    error: str | None = None
    # More files for the instance's log folder (name -> text), e.g. a CLI's output, the gateway's requests.
    logs: dict[str, str] = field(default_factory=dict)

    def record_fields(self) -> dict[str, Any]:
        """What the instance record takes beyond the fields of the same name (`InstanceRecord.take`)."""
        return {"prompt_tokens": self.usage.prompt_tokens, "completion_tokens": self.usage.completion_tokens,
                "cost": round(self.usage.cost, 6), "llm_seconds": round(self.llm_seconds, 3),
                "tool_seconds": round(self.tool_seconds, 3)}


class Agent(Protocol):
    name: str

    def run(self, task: Task, env: Environment) -> AgentResult:
        """Work on `task` inside `env` (repo at env.workdir, at task.base_commit)."""
        ...


class AgentSession(Protocol):
    """One instance's run of a container agent: the mounts its container needs, then the run."""

    mounts: Sequence[Any]  # containers.SocketMount

    def run(self, env: Environment) -> AgentResult: ...


class ContainerAgent(Agent, Protocol):
    """An agent that runs inside the task container from a layer of its own (installed CLI
    agents). The pipeline builds `agent_image` in the environment phase and runs the agent in
    a container of that image with the session's mounts; `run` is not called."""

    def agent_image(self, builder: Any, task: Task, image: str, sink: Callable[[str], None]) -> str: ...

    def session(self, task: Task) -> AbstractContextManager[AgentSession]: ...
