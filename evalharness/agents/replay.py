"""Replay another system's predictions: its patches are graded as if an agent had written them.

An instance the predictions file does not name is graded as `empty_patch` (exit reason
`no_prediction`), so a run's resolved rate keeps the whole selection as its denominator,
as SWE-bench's leaderboard does. Predictions for instances outside the selection are
reported by `outside` (the CLI warns) and never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from evalharness.agents.base import AgentResult
from evalharness.env.base import Environment
from evalharness.core.errors import UserError
from evalharness.tasks.predictions import Prediction, read_predictions
from evalharness.core.task import Task
from evalharness.core.trajectory import Trajectory

NO_PREDICTION = "no_prediction"


class ReplayAgent:
    name = "replay"

    def __init__(self, predictions: Mapping[str, Prediction], source: str = ""):
        self.predictions = dict(predictions)
        self.source = source

    @classmethod
    def from_file(cls, path: Path | str | None) -> "ReplayAgent":
        if not path:
            raise UserError("--agent replay needs --predictions FILE (SWE-bench predictions, JSONL or JSON)")
        predictions = read_predictions(Path(path))
        if not predictions:  # every instance would be graded empty_patch: surely not what was meant
            raise UserError(f"{path}: no predictions in it (SWE-bench predictions: one "
                            '{"instance_id", "model_name_or_path", "model_patch"} object per line)')
        return cls(predictions, source=str(path))

    @property
    def model_name(self) -> str:
        """The predictions' model_name_or_path when they share one, else ""."""
        names = {p.model_name_or_path for p in self.predictions.values() if p.model_name_or_path}
        return names.pop() if len(names) == 1 else ""

    def outside(self, tasks: Iterable[Task]) -> list[str]:
        """Ids with a prediction but no task in `tasks` (unknown instances, or filtered out)."""
        known = {t.instance_id for t in tasks}
        return sorted(i for i in self.predictions if i not in known)

    def settings(self) -> dict[str, str]:
        return {"predictions": self.source, "model_name_or_path": self.model_name}

    def run(self, task: Task, env: Environment) -> AgentResult:
        traj = Trajectory()
        prediction = self.predictions.get(task.instance_id)
        if prediction is None:
            traj.add("exit", exit_reason=NO_PREDICTION, patch_chars=0)
            return AgentResult(patch="", trajectory=traj.events, exit_reason=NO_PREDICTION)
        traj.add("exit", exit_reason="submitted", patch_chars=len(prediction.model_patch),
                 model_name_or_path=prediction.model_name_or_path)
        return AgentResult(patch=prediction.model_patch, trajectory=traj.events, exit_reason="submitted")
