"""`run.json`: what a run was (dataset, agent, model, settings), one type for writing and reading.

The runner writes it when a run starts and checks it on a resume (the same dataset, agent and
model, or the run id is someone else's); reports and comparisons read it back. A Ray run adds
`nodes` when it ends: per node, what ran there and what it built and pulled. Files written by
older versions, or by hand, may lack fields or hold odd values: reading fills defaults and turns
what cannot be read into a UserError naming the file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from evalharness.core.errors import UserError

RUN_JSON = "run.json"


def now() -> str:
    """The time stamps of records and run metadata: UTC, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class RunMeta:
    run_id: str
    dataset: str
    agent: str
    model: str = ""
    workers: int = 1
    start_rate: float = 0.0  # instances started per second as the run began
    instances: int = 0  # how many the run set out to do
    settings: dict[str, Any] = field(default_factory=dict, compare=False)  # the agent's model and limits
    test_env: dict[str, str] = field(default_factory=dict, compare=False)  # TZ, locale, hash seed of the test runs
    harness_version: str = ""
    created_at: str = ""
    # node -> {"instances": [...], "built": [...], "pulled": [...]}; a Ray run's placement, added to on resume
    nodes: dict[str, dict[str, list[str]]] = field(default_factory=dict, compare=False)

    @property
    def system(self) -> tuple[str, str, str]:
        """Runs of the same (model, agent, dataset) given together are attempts of one system."""
        return (self.model, self.agent, self.dataset)

    @property
    def identity(self) -> dict[str, str]:
        """What a resumed run must share with the run it resumes."""
        return {"dataset": self.dataset, "agent": self.agent, "model": self.model}

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2).encode()

    @classmethod
    def read(cls, path: Path) -> "RunMeta":
        """The run.json at `path`; missing fields get their defaults (the run id: the folder's name)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: unreadable run metadata ({exc})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: run metadata is not a JSON object")
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values.setdefault("run_id", Path(path).parent.name)
        values.setdefault("dataset", "")
        values.setdefault("agent", "")
        try:
            values["workers"] = int(values.get("workers", 1))
            values["instances"] = int(values.get("instances", 0))
            values["start_rate"] = float(values.get("start_rate", 0.0))
        except (TypeError, ValueError):
            raise UserError(f"{path}: 'workers', 'instances' and 'start_rate' must be numbers") from None
        for name in ("settings", "test_env", "nodes"):
            if not isinstance(values.get(name, {}), dict):
                values.pop(name)
        for name in ("run_id", "dataset", "agent", "model", "harness_version", "created_at"):
            if name in values:
                values[name] = str(values[name])
        return cls(**values)


def record_nodes(path: Path, nodes: dict[str, dict[str, list[str]]]) -> None:
    """Add one driver's placement to the run.json at `path` (an earlier driver's of the same run,
    which this one resumed, is kept: the lists are joined)."""
    from evalharness.core.results import atomic_write

    if not nodes:
        return
    data = json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).exists() else {}
    data = data if isinstance(data, dict) else {}
    old = data.get("nodes") if isinstance(data.get("nodes"), dict) else {}
    merged = {}
    for name in sorted(set(old) | set(nodes)):
        before, now_ = old.get(name) or {}, nodes.get(name) or {}
        keys = dict.fromkeys([*before, *now_])
        merged[name] = {key: list(before.get(key, [])) + list(now_.get(key, [])) for key in keys}
    data["nodes"] = merged
    atomic_write(Path(path), json.dumps(data, indent=2).encode())
