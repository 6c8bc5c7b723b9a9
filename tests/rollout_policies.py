"""Scripted policies for rollout tests and the rollout bench: the fake model server answering
as a policy that applies each built-in task's gold fix, or one that does nothing."""

from __future__ import annotations

import json
from pathlib import Path

from fake_llm import Reply

TASKS = Path(__file__).resolve().parents[1] / "tasks" / "builtin.jsonl"


def gold_patches() -> dict[str, str]:
    """problem statement -> gold patch, for the built-in tasks."""
    rows = [json.loads(line) for line in TASKS.read_text().splitlines() if line.strip()]
    return {row["problem_statement"]: row["patch"] for row in rows}


def _turn(request: dict) -> int:
    return sum(1 for m in request.get("messages", ()) if m.get("role") == "assistant")


def _task_prompt(request: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in request.get("messages", ()) if m.get("role") == "user")


class GoldPolicy:
    """Turn 1: `git apply` the gold patch of the task named in the prompt; turn 2: submit."""

    def __init__(self, prompt_tokens: int = 60, completion_tokens: int = 9):
        self.patches = gold_patches()
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens

    def __call__(self, request: dict) -> Reply:
        if _turn(request) >= 1:
            return Reply("Submitting.", tool_calls=[("submit", {})], prompt_tokens=self.prompt_tokens,
                         completion_tokens=self.completion_tokens)
        prompt = _task_prompt(request)
        patch = next((p for statement, p in self.patches.items() if statement in prompt), None)
        if patch is None:
            return Reply("I do not know this task.", tool_calls=[("submit", {})])
        command = f"cd /testbed && git apply <<'EVALHARNESS_EOF'\n{patch}EVALHARNESS_EOF\ngit diff --stat"
        return Reply("Applying the fix.", tool_calls=[("bash", {"command": command})],
                     prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens)


class IdlePolicy:
    """Looks around once, changes nothing, submits."""

    def __call__(self, request: dict) -> Reply:
        if _turn(request) >= 1:
            return Reply("Nothing to do.", tool_calls=[("submit", {})], prompt_tokens=40, completion_tokens=5)
        return Reply("Looking.", tool_calls=[("bash", {"command": "git status --short"})], prompt_tokens=30,
                     completion_tokens=6)
