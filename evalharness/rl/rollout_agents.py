"""The agents of a rollout, each with every model request through the model gateway.

The installed CLIs (qwen-code, mini-swe-agent) go through it already. The built-in `llm`
agent normally talks to its endpoint itself (`LLMClient`); in a rollout, `GatewayLLMAgent`
opens a gateway session per rollout and points its client at that session's Unix socket, so
its requests are rewritten, limited, retried and recorded by the same code as a CLI's (token
ids and logprobs included), and a trainer reads one record format whatever the agent.

`RolloutAgent` wraps either for the rollout ids (`<instance>#<k>`): their images are the
instance's own (built once, whatever K), and each rollout leaves `model_turns.jsonl`, the
gateway's events (gateway/session.py, the format of core/trajectory.py), in its log folder.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable

from evalharness.agents.gateway_user import UsesGateway
from evalharness.agents.base import Agent, AgentResult
from evalharness.agents.llm_agent import AgentLimits, LLMAgent
from evalharness.core.task import Task
from evalharness.env.base import Environment
from evalharness.model.registry import ModelConfig

TURNS_LOG = "model_turns.jsonl"  # in each rollout's log folder: the gateway's events


def _jsonl(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e, default=str, ensure_ascii=False) + "\n" for e in events)


class GatewayLLMAgent(UsesGateway):
    """The built-in agent (`LLMAgent`) whose client talks to a gateway session of its own per
    run; shared by the rollout's workers (the gateway is this process's, started on first use)."""

    name = "llm"

    def __init__(self, model: ModelConfig, api_key: str, limits: AgentLimits = AgentLimits(), *,
                 limiter: Any = None, gateway_factory: Callable[[], Any] | None = None):
        self.model = model
        self.limits = limits
        self._api_key = api_key
        self._limiter = limiter
        self._gateway_factory = gateway_factory
        self._gateway: Any = None
        self._lock = threading.Lock()

    def settings(self) -> dict[str, Any]:
        return {**LLMAgent(self.model, None, self.limits).settings(), "gateway": True}  # type: ignore[arg-type]

    def close(self) -> None:
        with self._lock:
            gateway, self._gateway = self._gateway, None
        if gateway is not None:
            gateway.close()

    def run(self, task: Task, env: Environment) -> AgentResult:
        import openai

        from evalharness.model.gateway import httpx
        from evalharness.model.llm import LLMClient

        with self.gateway().open_session(task.instance_id, max_cost=self.limits.max_cost) as session:
            http = openai.DefaultHttpxClient(transport=httpx.HTTPTransport(uds=str(session.socket_path)),
                                             timeout=self.model.request_timeout)
            # The gateway retries by the same policy and says when not to (x-should-retry):
            # the client's own retries only cover the socket itself.
            client = LLMClient(replace(self.model, base_url="http://gateway/v1"), session.token,
                               max_attempts=2, http_client=http)
            try:
                result = LLMAgent(self.model, client, self.limits).run(task, env)
            finally:
                client.close()
            result.logs[TURNS_LOG] = _jsonl(session.events())
            result.logs["gateway.jsonl"] = _jsonl(session.requests_log())
        return result


@dataclass
class _TurnsSession:
    """An installed agent's session whose result also leaves the turns log."""

    inner: Any

    @property
    def mounts(self) -> Any:
        return self.inner.mounts

    def run(self, env: Environment) -> AgentResult:
        result = self.inner.run(env)
        result.logs[TURNS_LOG] = _jsonl([e for e in result.trajectory if e.get("type") != "exit"])
        return result


class RolloutAgent:
    """An agent run on rollout tasks: images from the instance the rollout is of
    (`originals`), and the turns log left by each rollout. Everything else is the agent's."""

    def __init__(self, inner: Agent, originals: Mapping[str, Task]):
        self.inner = inner
        self.name = inner.name
        self._originals = originals
        if hasattr(inner, "agent_image"):
            self.agent_image = self._agent_image
        if hasattr(inner, "session"):
            self.session = self._session

    def original(self, task: Task) -> Task:
        return self._originals.get(task.instance_id, task)

    def settings(self) -> dict[str, Any]:
        return getattr(self.inner, "settings", dict)()

    def run(self, task: Task, env: Environment) -> AgentResult:
        return self.inner.run(task, env)

    def _agent_image(self, builder: Any, task: Task, image: str, sink: Callable[[str], None]) -> str:
        return self.inner.agent_image(builder, self.original(task), image, sink)  # type: ignore[attr-defined]

    @contextmanager
    def _session(self, task: Task) -> Iterator[_TurnsSession]:
        with self.inner.session(task) as running:  # type: ignore[attr-defined]
            yield _TurnsSession(running)

    def close(self) -> None:
        """The agent's gateway, if it started one."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
        else:
            gateway = getattr(self.inner, "_gateway", None)
            if gateway is not None:
                gateway.close()


class SharedImages:
    """The image builder, seen by the pipeline of rollout tasks: a rollout's image is its
    instance's (one build for the K rollouts of a task); the rest is the builder's."""

    def __init__(self, builder: Any, originals: Mapping[str, Task]):
        self._builder = builder
        self._originals = originals

    def image_for(self, task: Task, spec: Any, log_sink: Callable[[str], None] | None = None) -> Any:
        return self._builder.image_for(self._originals.get(task.instance_id, task), spec, log_sink)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._builder, name)
