"""What a run is given: its identity, its concurrency, its container limits, where it writes.

`RunConfig` travels to every executor (Ray nodes too, so it is plain picklable data); the part
of it that describes the run for later readers is written once as run.json (`meta`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from evalharness import __version__
from evalharness.core.run_meta import RunMeta, now
from evalharness.env.docker import ContainerLimits

# Sessions that all start at the same instant stay in step (their model calls take about as long),
# so their tool calls land on the machine together, turn after turn; started a little apart, they
# spread over the turn. Later instances start as earlier ones end, apart already.
DEFAULT_START_RATE = 16.0


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    dataset: str
    agent: str
    model: str = ""
    workers: int = 1  # agent sessions at once (they mostly wait on the model)
    eval_workers: int = 0  # test runs at once (CPU-bound); 0: as many as the machine has cores
    start_rate: float = DEFAULT_START_RATE  # instances started per second as the run begins; 0: all at once
    redo: bool = False
    reports_dir: Path = Path("reports")
    limits: ContainerLimits = field(default_factory=ContainerLimits)
    settings: Mapping[str, Any] = field(default_factory=dict)  # the agent's model and limits, for run.json
    test_env: Mapping[str, str] = field(default_factory=dict)  # what the scorer's test runs get, for run.json
    # Tells this run's containers from those of a run with the same id in another reports folder
    # (two `validate`s both run "gold"): a hash of the run folder, fixed where the config is made,
    # so Ray nodes carry the driver's. Sweeps remove only containers with both labels.
    run_key: str = ""

    def __post_init__(self) -> None:
        if not self.run_key:
            folder = str((Path(self.reports_dir) / self.run_id).resolve())
            object.__setattr__(self, "run_key", hashlib.sha256(folder.encode()).hexdigest()[:16])

    @property
    def run_dir(self) -> Path:
        return Path(self.reports_dir) / self.run_id

    def meta(self, instances: int) -> RunMeta:
        """run.json for this run setting out to do `instances` instances, stamped now."""
        return RunMeta(run_id=self.run_id, dataset=self.dataset, agent=self.agent, model=self.model,
                       workers=self.workers, start_rate=self.start_rate, instances=instances,
                       settings=dict(self.settings), test_env=dict(self.test_env),
                       harness_version=__version__, created_at=now())
