"""Per-instance results: one record per instance, safe against crashes.

Each finished instance is written as its own JSON file (write to a temp file, fsync,
atomic rename), so a crash loses at most the instance in flight and never leaves a
half-written record. `results.parquet` is compacted from those records, again with an
atomic replace, so readers always see a whole file.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass
class InstanceRecord:
    run_id: str
    model: str
    agent: str
    dataset: str
    instance_id: str
    repo: str
    version: str
    status: str
    resolved: bool
    patch: str = ""
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    apply_method: str | None = None
    exit_reason: str | None = None
    env_seconds: float = 0.0
    agent_seconds: float = 0.0
    eval_seconds: float = 0.0
    total_seconds: float = 0.0
    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    llm_seconds: float = 0.0  # agent time spent waiting on the model
    tool_seconds: float = 0.0  # agent time spent running tools in the container
    format_errors: int = 0  # malformed tool calls the agent was told to fix
    api_retries: int = 0  # model requests retried after a 429, 5xx, timeout or dropped connection
    limit_hits: str = ""  # container limits the instance ran into, e.g. "memory=1,pids=3" (not fatal)
    cpus: float = 0.0  # the CPU quota its tests ran under, as the container's cgroup shows it (0: none)
    host_sensitive_tests: int = 0  # tests of its FAIL_TO_PASS / PASS_TO_PASS the spec names host-sensitive
    host_sensitive_failed: str = ""  # of those, the ones that failed, "id (why)" one per line
    flaky_tests: int = 0  # tests of its FAIL_TO_PASS / PASS_TO_PASS in the run's flaky list (eval --flaky)
    flaky_failed: str = ""  # of those, the ones that failed and counted (policy "flag"), one per line
    attempt: int = 1  # which try produced this record (Ray retries an instance whose worker died)
    worker: str = ""  # host (and Ray node) that ran the instance
    error: str | None = None
    harness_version: str = ""
    started_at: str = ""
    finished_at: str = ""

    def take(self, result: Any) -> None:
        """Fill the record from an agent's or a scorer's result (any dataclass): every field of the
        result that the record has under the same name, then what the result's `record_fields()`
        derives (sums, rounding, lists joined). So a new metric is a field of the result and one
        of the record, and nothing in between changes."""
        mine = {f.name for f in fields(self)}
        values = {f.name: getattr(result, f.name) for f in fields(result) if f.name in mine}
        derive = getattr(result, "record_fields", None)
        if derive is not None:
            values.update(derive())
        unknown = sorted(set(values) - mine)
        if unknown:
            raise TypeError(f"{type(result).__name__} fills fields the record lacks: {', '.join(unknown)}")
        for name, value in values.items():
            setattr(self, name, value)


_ARROW_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}


def _arrow_schema() -> pa.Schema:
    cols = []
    for f in fields(InstanceRecord):
        base = f.type.split(" |")[0] if isinstance(f.type, str) else f.type
        py = {"bool": bool, "int": int, "float": float, "str": str}[base]
        cols.append(pa.field(f.name, _ARROW_TYPES[py], nullable=True))
    return pa.schema(cols)


SCHEMA = _arrow_schema()


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the new one, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)  # the rename itself survives a crash of the machine, not just of this process


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a platform or file system that can't open folders: the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def is_temp_file(path: Path) -> bool:
    """Whether `path` is a temp file of `atomic_write` (`.<name>.<random>.tmp`)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def safe_name(instance_id: str) -> str:
    """A file name for an instance id (ids are free text in user datasets)."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", instance_id)[:200] or "_"


class ResultStore:
    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.records_dir = self.run_dir / "records"
        self.parquet_path = self.run_dir / "results.parquet"
        self._lock = threading.Lock()

    def load(self) -> dict[str, InstanceRecord]:
        """All records on disk; temp files from a crash are ignored."""
        records: dict[str, InstanceRecord] = {}
        if not self.records_dir.is_dir():
            return records
        known = {f.name for f in fields(InstanceRecord)}
        for path in sorted(self.records_dir.glob("*.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError):
                continue  # cannot happen with atomic writes; never let one file stop a resume
            record = InstanceRecord(**{k: v for k, v in data.items() if k in known})
            records[record.instance_id] = record
        return records

    def remove_temp_files(self) -> int:
        """Delete the temp files a killed writer left (only safe while no other process writes this run)."""
        removed = 0
        for folder in (self.run_dir, self.records_dir):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                if is_temp_file(path) and path.is_file():
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed

    def add(self, record: InstanceRecord) -> None:
        data = json.dumps(asdict(record), indent=1, ensure_ascii=False).encode()
        with self._lock:
            atomic_write(self.records_dir / f"{safe_name(record.instance_id)}.json", data)

    def compact(self) -> Path:
        """Rewrite results.parquet from the records (atomic replace)."""
        with self._lock:
            records = sorted(self.load().values(), key=lambda r: r.instance_id)
            write_parquet(records, self.parquet_path)
        return self.parquet_path


def write_parquet(records: Iterable[InstanceRecord], path: Path) -> None:
    rows = [asdict(r) for r in records]
    table = pa.Table.from_pylist(rows, schema=SCHEMA) if rows else SCHEMA.empty_table()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write(Path(path), sink.getvalue().to_pybytes())

