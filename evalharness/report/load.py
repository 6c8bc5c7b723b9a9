"""Reading run folders (reports/<run_id>/) for reports and comparisons.

A finished run is its `results.parquet`. A run still being written has per-instance
records newer than the Parquet (or no Parquet yet): it is read from those records and
marked in progress, never treated as an error. Trajectories are read per instance on
demand, tolerating lines and event types this code does not know.
"""

from __future__ import annotations

import json
import logging
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from evalharness.core.errors import UserError
from evalharness.core.results import InstanceRecord, ResultStore, safe_name
from evalharness.core.run_meta import RunMeta

log = logging.getLogger(__name__)

COMPLETE, IN_PROGRESS, INCOMPLETE = "complete", "in progress", "incomplete"


@dataclass
class RunData:
    path: Path
    meta: RunMeta
    records: list[InstanceRecord]  # sorted by instance_id
    state: str = COMPLETE  # COMPLETE | IN_PROGRESS | INCOMPLETE
    by_id: dict[str, InstanceRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.records = sorted(self.records, key=lambda r: r.instance_id)
        self.by_id = {r.instance_id: r for r in self.records}

    @property
    def label(self) -> str:
        return self.meta.model or self.meta.agent

    @property
    def planned(self) -> int:
        return max(self.meta.instances, len(self.records))

    @property
    def done(self) -> int:
        """Instances with a record (finished, whatever their status)."""
        return len(self.records)

    @property
    def partial(self) -> bool:
        """Fewer records than the run set out to do (killed, still running, or resumable):
        its rate is over a subset and must not be ranked beside whole runs."""
        return self.done < self.planned

    def logs_dir(self, instance_id: str) -> Path:
        return self.path / "logs" / safe_name(instance_id)


def load_run(path: Path) -> RunData:
    """One run folder; a folder that is not a run is a UserError naming it."""
    path = Path(path)
    meta_path = path / "run.json"
    if not meta_path.is_file():
        raise UserError(f"{path}: not a run folder (no run.json)")
    meta = RunMeta.read(meta_path)
    parquet = path / "results.parquet"
    store = ResultStore(path)
    record_files = list(store.records_dir.glob("*.json")) if store.records_dir.is_dir() else []
    if parquet.is_file():
        stamp = parquet.stat().st_mtime
        stale = any(p.stat().st_mtime > stamp for p in record_files)
    else:
        stale = True
    if stale:
        records = list(store.load().values())
        state = IN_PROGRESS
    else:
        records = read_parquet_records(parquet)
        state = COMPLETE if len(records) >= meta.instances else INCOMPLETE
    return RunData(path=path, meta=meta, records=records, state=state)


def expand_run_dirs(paths: Iterable[Path]) -> list[Path]:
    """Run folders as given; a folder of run folders (e.g. reports/) stands for its runs."""
    out: list[Path] = []
    for path in map(Path, paths):
        if (path / "run.json").is_file():
            out.append(path)
        elif path.is_dir():
            children = sorted(p for p in path.iterdir() if (p / "run.json").is_file())
            if not children:
                raise UserError(f"{path}: neither a run folder (no run.json) nor a folder of runs")
            out.extend(children)
        else:
            raise UserError(f"no run at {path}")
    return out


def read_parquet_records(path: Path) -> list[InstanceRecord]:
    try:
        rows = pq.read_table(path).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        raise UserError(f"{path}: unreadable results file ({exc})") from None
    return [record_from_row(row) for row in rows]


def record_from_row(row: dict[str, Any]) -> InstanceRecord:
    """An InstanceRecord from a row of any harness version: unknown columns dropped, nulls defaulted."""
    values: dict[str, Any] = {}
    for f in fields(InstanceRecord):
        value = row.get(f.name)
        if value is None:
            value = f.default if f.default is not MISSING else (False if f.name == "resolved" else "")
        values[f.name] = value
    return InstanceRecord(**values)


def read_trajectory(run: RunData, instance_id: str) -> list[dict[str, Any]]:
    """The agent's events for one instance; [] when there is none, bad lines skipped."""
    path = run.logs_dir(instance_id) / "trajectory.jsonl"
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    events = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


@dataclass(frozen=True)
class TaskInfo:
    """What the pages show of a task beside its record: the statement and the listed tests."""

    problem_statement: str
    fail_to_pass: tuple[str, ...]
    pass_to_pass: tuple[str, ...]


def load_task_info(dataset: str, cache: dict[str, dict[str, TaskInfo]] | None = None) -> dict[str, TaskInfo]:
    """instance_id -> TaskInfo, when the run's dataset can be read here without a network.

    Only `builtin` and local files are tried (a Hugging Face name would mean a download);
    anything that fails gives {} and the pages say the statement and test lists are unavailable.
    """
    if cache is not None and dataset in cache:
        return cache[dataset]
    info: dict[str, TaskInfo] = {}
    local = dataset == "builtin" or (bool(dataset) and Path(dataset).expanduser().exists())
    if local:
        from evalharness.tasks.datasets import load_tasks

        try:
            info = {t.instance_id: TaskInfo(t.problem_statement, tuple(t.FAIL_TO_PASS), tuple(t.PASS_TO_PASS))
                    for t in load_tasks(dataset)}
        except Exception as exc:  # a report must render even when the dataset moved or broke
            log.warning("tasks of %s unavailable: %s", dataset, exc)
    if cache is not None:
        cache[dataset] = info
    return info


def load_problem_statements(dataset: str, cache: dict[str, dict[str, TaskInfo]] | None = None) -> dict[str, str]:
    """instance_id -> problem statement (see load_task_info)."""
    return {iid: t.problem_statement for iid, t in load_task_info(dataset, cache).items()}
