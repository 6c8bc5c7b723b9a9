"""Oracle and negative-control agents: they bound what a scorer can say."""

from __future__ import annotations

import time

from evalharness.agents.base import AgentResult
from evalharness.environment import Environment, git_diff_command
from evalharness.task import Task


class GoldAgent:
    """Applies the dataset's own patch in the container and returns `git diff`.

    Going through the container (not returning task.patch verbatim) checks the whole
    path an agent's edits take: a gold patch that does not resolve is a dataset or
    harness problem.
    """

    name = "gold"

    def run(self, task: Task, env: Environment) -> AgentResult:
        start = time.monotonic()
        env.write_file("/tmp/gold.patch", task.patch if task.patch.endswith("\n") else task.patch + "\n")
        applied = env.exec("git apply --verbose /tmp/gold.patch && rm -f /tmp/gold.patch")
        step = {"role": "tool", "tool": "bash", "command": "git apply --verbose /tmp/gold.patch",
                "output": applied.output, "exit_code": applied.exit_code, "seconds": applied.seconds}
        if not applied.ok:
            return AgentResult(patch="", trajectory=[step], turns=1, exit_reason="error",
                               error=f"gold patch does not apply: {applied.output.strip()[-500:]}")
        diff = env.exec(git_diff_command(task.base_commit))
        trajectory = [step, {"role": "tool", "tool": "bash", "command": "git diff",
                             "exit_code": diff.exit_code, "seconds": time.monotonic() - start}]
        if not diff.ok:
            return AgentResult(patch="", trajectory=trajectory, turns=1, exit_reason="error",
                               error=f"git diff failed: {diff.output.strip()[-500:]}")
        return AgentResult(patch=diff.output, trajectory=trajectory, turns=1, exit_reason="submitted")


class EmptyAgent:
    """Changes nothing: its patch is empty, so no instance may come out resolved."""

    name = "empty"

    def run(self, task: Task, env: Environment) -> AgentResult:
        return AgentResult(patch="", trajectory=[], turns=0, exit_reason="submitted")
