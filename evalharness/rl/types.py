"""The typed seam between a trainer and an environment: actions, observations, step results, rewards.

An action is one call of the built-in agent's tools (`bash`, `str_replace_editor`, `submit`,
agents/tools.py), as a trainer's policy emits it: `{"tool": name, "arguments": {...}}`, or an
OpenAI tool call (`{"name": ..., "arguments": "<json>"}` or `{"function": {...}}`). A malformed
envelope (not a mapping, no tool name, arguments that are not a JSON object) is the trainer's
bug and raises `MalformedActionError`; a well-formed call the tools refuse (an unknown tool, a
missing `command`) is the policy's mistake and comes back as an observation saying why, exactly
as the built-in agent's model would see it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from evalharness.core.errors import UserError


class EnvError(UserError):
    """A trainer's misuse of an environment: one clear line, the environment left as it was."""


class UnknownTaskError(EnvError):
    """reset() named a task the environments do not serve."""


class ClosedEnvError(EnvError):
    """An action for an episode that is over, or an environment that was closed."""


class ForeignActionError(EnvError):
    """An action that names another episode than the one the environment runs."""


class MalformedActionError(EnvError):
    """An action whose envelope cannot be read as one tool call."""


class EnvBusyError(EnvError):
    """No environment came free within the wait (the pool's size limit, back-pressure)."""


@dataclass(frozen=True)
class Action:
    """One tool call. `episode_id`, when given, must be the environment's current episode."""

    tool: str
    arguments: dict[str, Any] = field(default_factory=dict)
    episode_id: str | None = None

    @classmethod
    def parse(cls, value: Any) -> "Action":
        """An Action from what a trainer sends (see the module docstring); MalformedActionError if unreadable."""
        if isinstance(value, Action):
            return value
        if not isinstance(value, Mapping):
            raise MalformedActionError(f"an action is a mapping like {{'tool': 'bash', 'arguments': {{...}}}}, "
                                       f"got {type(value).__name__}")
        body = value.get("function") if isinstance(value.get("function"), Mapping) else value
        tool = body.get("tool", body.get("name"))
        if not isinstance(tool, str) or not tool:
            raise MalformedActionError("an action needs a tool name (`tool` or `name`), e.g. 'bash'")
        arguments = body.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise MalformedActionError(f"the arguments of {tool!r} are not valid JSON ({exc.msg})") from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise MalformedActionError(f"the arguments of {tool!r} must be a JSON object, got {type(arguments).__name__}")
        episode = value.get("episode_id")
        if episode is not None and not isinstance(episode, str):
            raise MalformedActionError("episode_id must be a string")
        return cls(tool=tool, arguments=dict(arguments), episode_id=episode)


@dataclass(frozen=True)
class Observation:
    """What the policy sees. After reset: the task (`text` is the built-in agent's task prompt,
    `messages` its system and user messages) and `tools` (the OpenAI tool schemas); after a
    step: the tool's output, cut as the built-in agent's are."""

    episode_id: str
    instance_id: str
    text: str
    step: int = 0
    exit_code: int | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    problem_statement: str = ""
    workdir: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Grade:
    """The episode's verdict, from the eval's own grading in a fresh container (see rl/env.py)."""

    reward: float  # 1.0 resolved, else 0.0
    resolved: bool
    status: str  # evalharness.core.status values: resolved, unresolved, empty_patch, patch_apply_failed, ...
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    eval_seconds: float = 0.0
    patch_chars: int = 0
    error: str | None = None

    @classmethod
    def from_record(cls, record: Any, patch: str) -> "Grade":
        """From the pipeline's InstanceRecord of the graded patch."""
        return cls(reward=1.0 if record.resolved else 0.0, resolved=bool(record.resolved), status=record.status,
                   f2p_passed=record.f2p_passed, f2p_total=record.f2p_total, p2p_passed=record.p2p_passed,
                   p2p_total=record.p2p_total, eval_seconds=record.eval_seconds or 0.0, patch_chars=len(patch),
                   error=record.error)


@dataclass(frozen=True)
class StepResult:
    """One step's outcome. `reward` is None until `done`; `info` holds the grade's fields
    (status, F2P/P2P counts, eval_seconds) when done, and timings always."""

    observation: Observation
    reward: float | None = None
    done: bool = False
    truncated: bool = False  # the episode hit max_steps and was graded as it stood
    info: dict[str, Any] = field(default_factory=dict)
