"""Agents: pluggable solvers. Add one by writing a class with `name` and `run(task, env)`
(see base.py) and registering a factory in AGENTS."""

from __future__ import annotations

from typing import Callable

from evalharness.agents.base import Agent, AgentResult, Usage
from evalharness.agents.cli_agents import CLI_AGENTS
from evalharness.agents.gold import EmptyAgent, GoldAgent, OfficialFormGoldAgent
from evalharness.agents.replay import ReplayAgent
from evalharness.core.errors import UserError


def _llm(**options) -> Agent:
    from evalharness.agents.llm_agent import make_llm_agent  # imports the openai SDK: only when asked

    return make_llm_agent(**options)


def _installed(name: str) -> Callable[..., Agent]:
    def make(**options) -> Agent:
        from evalharness.agents.installed import make_installed_agent

        return make_installed_agent(name, **options)

    return make


# The CLIs that run inside the task container, by the names users type: their one table is
# agents/cli_agents.py (adding a CLI there is all it takes).
INSTALLED = tuple(CLI_AGENTS)

AGENTS: dict[str, Callable[..., Agent]] = {
    "gold": lambda **_: GoldAgent(),
    "gold-official": lambda **_: OfficialFormGoldAgent(),  # gold plus the official image's setup edits and build outputs
    "empty": lambda **_: EmptyAgent(),
    "llm": _llm,
    "replay": lambda predictions=None, **_: ReplayAgent.from_file(predictions),  # --predictions FILE
    **{name: _installed(name) for name in INSTALLED},
}


def get_agent(name: str, **options) -> Agent:
    try:
        factory = AGENTS[name]
    except KeyError:
        raise UserError(f"unknown agent {name!r}; available: {', '.join(sorted(AGENTS))}") from None
    return factory(**options)


__all__ = ["AGENTS", "INSTALLED", "Agent", "AgentResult", "Usage", "get_agent"]
