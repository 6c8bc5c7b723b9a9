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


def _text(content) -> str:
    if isinstance(content, list):  # content parts, as CLI agents send them
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return str(content or "")


def _task_prompt(request: dict) -> str:
    return "\n".join(_text(m.get("content")) for m in request.get("messages", ()) if m.get("role") == "user")


def _fix_command(request: dict, patches: dict[str, str]) -> str | None:
    prompt = _task_prompt(request)
    patch = next((p for statement, p in patches.items() if statement in prompt), None)
    if patch is None:
        return None
    return f"cd /testbed && git apply <<'EVALHARNESS_EOF'\n{patch}EVALHARNESS_EOF\ngit diff --stat"


class GoldPolicy:
    """Turn 1: `git apply` the gold patch of the task named in the prompt; turn 2: submit."""

    def __init__(self, prompt_tokens: int = 60, completion_tokens: int = 9):
        self.patches = gold_patches()
        self.prompt_tokens, self.completion_tokens = prompt_tokens, completion_tokens

    def __call__(self, request: dict) -> Reply:
        if _turn(request) >= 1:
            return Reply("Submitting.", tool_calls=[("submit", {})], prompt_tokens=self.prompt_tokens,
                         completion_tokens=self.completion_tokens)
        command = _fix_command(request, self.patches)
        if command is None:
            return Reply("I do not know this task.", tool_calls=[("submit", {})])
        return Reply("Applying the fix.", tool_calls=[("bash", {"command": command})],
                     prompt_tokens=self.prompt_tokens, completion_tokens=self.completion_tokens)


class IdlePolicy:
    """Looks around once, changes nothing, submits."""

    def __call__(self, request: dict) -> Reply:
        if _turn(request) >= 1:
            return Reply("Nothing to do.", tool_calls=[("submit", {})], prompt_tokens=40, completion_tokens=5)
        return Reply("Looking.", tool_calls=[("bash", {"command": "git status --short"})], prompt_tokens=30,
                     completion_tokens=6)


class CLIGoldPolicy:
    """The gold fix for an installed CLI: its shell tool (`shell`: qwen-code's run_shell_command,
    mini-swe-agent's bash) applies the patch, then the CLI's own way to stop (`final`: a reply
    without a tool call, or a final shell command)."""

    def __init__(self, shell: str, final: tuple[str, dict] | None = None):
        self.patches = gold_patches()
        self.shell, self.final = shell, final

    def __call__(self, request: dict) -> Reply:
        command = _fix_command(request, self.patches) if _turn(request) == 0 else None
        if command is not None:
            return Reply("Applying the fix.", tool_calls=[(self.shell, {"command": command})],
                         prompt_tokens=80, completion_tokens=12)
        return Reply("Done.", tool_calls=[self.final] if self.final else [], prompt_tokens=90, completion_tokens=3)
