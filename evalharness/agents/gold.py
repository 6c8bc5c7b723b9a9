"""Oracle and negative-control agents: they bound what a scorer can say."""

from __future__ import annotations

import shlex

from evalharness.agents.base import AgentResult
from evalharness.agents.patch import collect_patch
from evalharness.env.base import Environment
from evalharness.env.images import PRE_INSTALL_DIFF
from evalharness.core.task import Task
from evalharness.core.trajectory import Trajectory

GOLD_PATH = "/tmp/gold.patch"


class GoldAgent:
    """Applies the dataset's own patch in the container and returns the harness's diff.

    Going through the container (not returning task.patch verbatim) checks the whole
    path an agent's edits take: a gold patch that does not resolve is a dataset or
    harness problem.
    """

    name = "gold"

    def run(self, task: Task, env: Environment) -> AgentResult:
        traj = Trajectory()
        env.write_file(GOLD_PATH, task.patch if task.patch.endswith("\n") else task.patch + "\n")
        applied = env.exec(self.apply_command())
        _tool_event(traj, self.apply_command(), applied)
        if not applied.ok:
            return AgentResult(patch="", trajectory=traj.events, turns=1, exit_reason="error",
                               error=f"gold patch does not apply: {applied.output.strip()[-500:]}")
        try:
            patch = self.diff(env, task)
        except RuntimeError as exc:
            return AgentResult(patch="", trajectory=traj.events, turns=1, exit_reason="error",
                               error=f"git diff failed: {exc}")
        traj.add("exit", exit_reason="submitted", patch_chars=len(patch))
        return AgentResult(patch=patch, trajectory=traj.events, turns=1, exit_reason="submitted",
                           tool_seconds=applied.seconds)

    def apply_command(self) -> str:
        return f"git apply --verbose {GOLD_PATH} && rm -f {GOLD_PATH}"

    def diff(self, env: Environment, task: Task) -> str:
        return collect_patch(lambda command: env.exec(command, timeout=300), task.base_commit)


class OfficialFormGoldAgent(GoldAgent):
    """Gold as an agent working in SWE-bench's official image submits it.

    There the setup's edits of tracked files (pre_install: sphinx's `-rA` in tox.ini, its
    setup.py pins) are in /testbed, and an agent's `git add -A && git diff --cached
    <base_commit>` also picks up what the install left untracked (build/, *.egg-info). This
    agent makes that tree (setup edits applied, gold on top, nothing excluded but binaries),
    so a run with it shows whether such patches grade as gold does.
    """

    name = "gold-official"

    def apply_command(self) -> str:
        setup = shlex.quote(PRE_INSTALL_DIFF)
        return (f"{{ [ ! -s {setup} ] || git apply --index {setup}; }} && "
                f"git apply --verbose --3way {GOLD_PATH} && git reset -q && rm -f {GOLD_PATH}")

    def diff(self, env: Environment, task: Task) -> str:
        return collect_patch(lambda command: env.exec(command, timeout=300), task.base_commit, junk=())


def _tool_event(traj: Trajectory, command: str, result) -> None:
    traj.add("tool", tool_call_id=None, name="bash", arguments={"command": command},
             output=result.output[-2000:], exit_code=result.exit_code, seconds=round(result.seconds, 3))


class EmptyAgent:
    """Changes nothing: its patch is empty, so no instance may come out resolved."""

    name = "empty"

    def run(self, task: Task, env: Environment) -> AgentResult:
        return AgentResult(patch="", trajectory=[], turns=0, exit_reason="submitted")
