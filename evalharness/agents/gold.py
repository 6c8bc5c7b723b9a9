"""Oracle and negative-control agents: they bound what a scorer can say."""

from __future__ import annotations

from evalharness.agents.base import AgentResult
from evalharness.environment import Environment, git_diff_command
from evalharness.task import Task
from evalharness.trajectory import Trajectory


class GoldAgent:
    """Applies the dataset's own patch in the container and returns `git diff`.

    Going through the container (not returning task.patch verbatim) checks the whole
    path an agent's edits take: a gold patch that does not resolve is a dataset or
    harness problem.
    """

    name = "gold"

    def run(self, task: Task, env: Environment) -> AgentResult:
        traj = Trajectory()
        env.write_file("/tmp/gold.patch", task.patch if task.patch.endswith("\n") else task.patch + "\n")
        applied = env.exec("git apply --verbose /tmp/gold.patch && rm -f /tmp/gold.patch")
        _tool_event(traj, "git apply --verbose /tmp/gold.patch", applied)
        if not applied.ok:
            return AgentResult(patch="", trajectory=traj.events, turns=1, exit_reason="error",
                               error=f"gold patch does not apply: {applied.output.strip()[-500:]}")
        diff = env.exec(git_diff_command(task.base_commit))
        _tool_event(traj, "git diff", diff)
        if not diff.ok:
            return AgentResult(patch="", trajectory=traj.events, turns=1, exit_reason="error",
                               error=f"git diff failed: {diff.output.strip()[-500:]}")
        traj.add("exit", exit_reason="submitted", patch_chars=len(diff.output))
        return AgentResult(patch=diff.output, trajectory=traj.events, turns=1, exit_reason="submitted",
                           tool_seconds=applied.seconds + diff.seconds)


def _tool_event(traj: Trajectory, command: str, result) -> None:
    traj.add("tool", tool_call_id=None, name="bash", arguments={"command": command},
             output=result.output[-2000:], exit_code=result.exit_code, seconds=round(result.seconds, 3))


class EmptyAgent:
    """Changes nothing: its patch is empty, so no instance may come out resolved."""

    name = "empty"

    def run(self, task: Task, env: Environment) -> AgentResult:
        return AgentResult(patch="", trajectory=[], turns=0, exit_reason="submitted")
