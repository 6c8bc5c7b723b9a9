"""Black-box rollouts: K runs of an agent on each task (a GRPO group), against a policy server,
every model request through the gateway, each rollout rewarded by the eval's own grading.

A rollout is an instance of an ordinary run: task `T` becomes the K rollout tasks `T#0` ..
`T#K-1` (the same task under another id), so the run machinery is used as it is: the
pipeline (environment, agent, a fresh container for the tests scorer), the local executor
(`--workers` rollouts at once), the runner (one record per rollout written when it ends,
resume by running the same command again, Ctrl-C keeping what finished). What a rollout adds
is around it: the images are the instance's (`SharedImages`: one build whatever K), every
agent's requests go through a gateway session (rollout_agents.py), the request fields that
ask a vLLM or SGLang server for token ids and logprobs (`--token-ids`, gateway/tokens.py),
and the outputs a trainer reads (rollout_output.py, atif.py): reward 1.0 when resolved, else
0.0.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from evalharness.core.errors import UserError
from evalharness.core.task import Task

ROLLOUT_AGENTS = ("llm", "qwen-code", "mini-swe-agent")  # agents that speak chat completions to the policy
TOKEN_DIALECTS = ("none", "vllm", "sglang")
ROLLOUT_SEPARATOR = "#"


@dataclass(frozen=True)
class RolloutSpec:
    """What a rollout run is asked to do, besides the tasks and the environment."""

    policy_url: str
    agent: str = "llm"
    group_size: int = 4
    model: str = ""  # a models.toml entry or the id the server serves ("": the first it lists)
    token_ids: str = "none"  # which server's fields ask for token ids and logprobs
    api_key_env: str = ""  # the policy server's key, if it wants one
    models_files: tuple[Path, ...] = ()
    tool_mode: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # AgentLimits fields (max_turns, ...)
    agent_disk_limit: str | None = None

    def check(self) -> None:
        """Bad input as one line, before any work."""
        if self.agent not in ROLLOUT_AGENTS:
            raise UserError(f"unknown rollout agent {self.agent!r}; rollouts run: {', '.join(ROLLOUT_AGENTS)}")
        if not isinstance(self.group_size, int) or self.group_size < 1:
            raise UserError(f"--group-size must be a whole number of at least 1 (rollouts per task), "
                            f"got {self.group_size!r}")
        if self.token_ids not in TOKEN_DIALECTS:
            raise UserError(f"--token-ids must be one of {', '.join(TOKEN_DIALECTS)}, got {self.token_ids!r}")
        if not self.policy_url.startswith(("http://", "https://")):
            raise UserError(f"--policy-url must be an http(s) URL of an OpenAI-compatible server (.../v1), "
                            f"got {self.policy_url!r}")


def rollout_id(instance_id: str, k: int) -> str:
    return f"{instance_id}{ROLLOUT_SEPARATOR}{k}"


def expand(tasks: Sequence[Task], group_size: int) -> tuple[list[Task], dict[str, Task], dict[str, tuple[int, int]]]:
    """(rollout tasks, rollout id -> its task, rollout id -> (group, rollout index)); groups are
    numbered in the selection's order, rollouts within a group from 0."""
    rollouts, originals, where = [], {}, {}
    for group, task in enumerate(tasks):
        for k in range(group_size):
            rid = rollout_id(task.instance_id, k)
            rollouts.append(dataclasses.replace(task, instance_id=rid))
            originals[rid] = task
            where[rid] = (group, k)
    return rollouts, originals, where


def served_model(policy_url: str, api_key: str = "", timeout: float = 10.0) -> list[str]:
    """The model ids the policy server lists (GET /models); UserError, in one line, when it
    does not answer as an OpenAI-compatible server."""
    from evalharness.model.gateway import httpx

    url = policy_url.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key and api_key != "EMPTY" else {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.HTTPError as exc:
        raise UserError(f"cannot reach the policy server at {policy_url} ({type(exc).__name__}: "
                        f"{str(exc)[:200] or 'no answer'}); is it running, and is the URL its .../v1?") from None
    if response.status_code >= 400:
        raise UserError(f"the policy server at {policy_url} answered GET /models with HTTP {response.status_code}; "
                        "is the URL its OpenAI-compatible .../v1 (and --policy-key-env its key)?")
    try:
        data = response.json().get("data") or []
        return [str(m["id"]) for m in data if isinstance(m, dict) and m.get("id")]
    except (ValueError, AttributeError, TypeError):
        raise UserError(f"the policy server at {policy_url} did not answer GET /models with a model list") from None


def policy_model(spec: RolloutSpec) -> tuple[Any, str]:
    """(ModelConfig, key) of the policy: its server checked and, without --model, the model it serves."""
    import os

    from evalharness.model.gateway.tokens import TOKEN_ID_FIELDS
    from evalharness.model.registry import ModelRegistry, resolve_endpoint

    key = ""
    if spec.api_key_env:
        key = os.environ.get(spec.api_key_env, "").strip()
        if not key:
            raise UserError(f"--policy-key-env {spec.api_key_env}: the variable is not set")
    served = served_model(spec.policy_url, key)
    model = spec.model or (served[0] if served else "")
    if not model:
        raise UserError(f"the policy server at {spec.policy_url} lists no model; name one with --model")
    registered = model in ModelRegistry.load(spec.models_files).names()
    config, found_key = resolve_endpoint(model if registered else "", base_url=spec.policy_url,
                                         model_id=None if registered else model, tool_mode=spec.tool_mode,
                                         models_files=spec.models_files)
    if spec.token_ids != "none":
        config = dataclasses.replace(config, extra_body={**config.extra_body, **TOKEN_ID_FIELDS[spec.token_ids]})
    return config, key or found_key


def make_agent(spec: RolloutSpec, config: Any, key: str, limiter: Any = None) -> Any:
    """The rollout's agent on the policy, every request through the gateway."""
    from evalharness.agents.llm_agent import AgentLimits
    from evalharness.rl.rollout_agents import GatewayLLMAgent

    known = {f.name for f in dataclasses.fields(AgentLimits)}
    limits = AgentLimits(**{k: v for k, v in spec.limits.items() if k in known})
    if spec.agent == "llm":
        return GatewayLLMAgent(config, key, limits, limiter=limiter)
    from evalharness.agents.installed import DISK_LIMIT, InstalledAgent
    from evalharness.agents.cli_agents import CLI_AGENTS

    return InstalledAgent(CLI_AGENTS[spec.agent], config, key, limits, disk_limit=spec.agent_disk_limit or DISK_LIMIT,
                          limiter=limiter)


@dataclass
class RolloutOutcome:
    run_dir: Path
    rows: list[dict[str, Any]]  # rollouts.parquet's rows, in group and rollout order
    ran: int
    skipped: int


def run_rollouts(spec: RolloutSpec, tasks: Sequence[Task], config: Any, *, client: Any, builder: Any, specs: Any,
                 scorer: Any, model: Any, key: str, limiter: Any = None, progress: bool = True) -> RolloutOutcome:
    """The rollouts of `tasks` as one run (`config`, a RunConfig), then its outputs written."""
    from evalharness.rl.rollout_agents import RolloutAgent, SharedImages
    from evalharness.rl.rollout_output import write_outputs
    from evalharness.run.runner import Runner

    rollouts, originals, where = expand(tasks, spec.group_size)
    agent = RolloutAgent(make_agent(spec, model, key, limiter), originals)
    config = dataclasses.replace(config, settings={**config.settings, **agent.settings(), "rollout": _describe(spec)})
    runner = Runner(config, client=client, builder=SharedImages(builder, originals), specs=specs, agent=agent,
                    scorer=scorer)
    try:
        outcome = runner.run(rollouts, progress=progress)
    finally:
        agent.close()
    rows = write_outputs(config.run_dir, outcome.records, where, agent_name=spec.agent, model=model.model)
    return RolloutOutcome(outcome.run_dir, rows, outcome.ran, outcome.skipped)


def _describe(spec: RolloutSpec) -> dict[str, Any]:
    return json.loads(json.dumps({"policy_url": spec.policy_url, "group_size": spec.group_size,
                                  "token_ids": spec.token_ids, "agent": spec.agent}))


def group_table(rows: list[dict[str, Any]]) -> str:
    """Per task: the group's mean reward and its rewards, as printed at the end."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["task_id"], []).append(row)
    width = max([len("task")] + [len(t) for t in groups])
    lines = [f"{'task':<{width}}  mean  rewards", f"{'-' * width}  ----  -------"]
    for task_id, members in groups.items():
        rewards = [r["reward"] for r in sorted(members, key=lambda r: r["rollout"])]
        lines.append(f"{task_id:<{width}}  {sum(rewards) / len(rewards):.2f}  {' '.join(f'{x:g}' for x in rewards)}")
    total = sum(r["reward"] for r in rows)
    lines.append(f"\nreward {total:g}/{len(rows)} over {len(groups)} group(s)")
    return "\n".join(lines)
