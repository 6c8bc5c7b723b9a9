"""What a rollout run leaves for a trainer, beside the run's own files (results.parquet, logs/):

- `rollouts.parquet`: one row per rollout (`RolloutRow`): its task, group and index in the
  group, reward (1.0 resolved, else 0.0), status, turns, tokens and timings;
- `rollouts/<rollout>.jsonl`: one line per model turn (`turn_lines`): the messages the turn
  added (system, user, tool results), the answer (text, reasoning, tool calls), usage, and the
  token ids and logprobs exactly as the policy server returned them (absent when it did not);
- `atif/<rollout>.json`: the same rollout as an ATIF trajectory (atif.py).

All are rebuilt from the records and the gateway's turns logs at the end of every invocation,
so a resumed run's outputs cover all its rollouts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Mapping

import pyarrow as pa
import pyarrow.parquet as pq

from evalharness import __version__
from evalharness.core.results import InstanceRecord, atomic_write, safe_name
from evalharness.rl.atif import to_atif
from evalharness.rl.rollout_agents import TURNS_LOG

PARQUET = "rollouts.parquet"


@dataclass
class RolloutRow:
    run_id: str
    task_id: str
    group: int  # the task's place in the selection: rollouts of one group share a task
    rollout: int  # 0 .. group size - 1
    rollout_id: str  # <task_id>#<rollout>: the run's instance id (records/, logs/)
    reward: float
    status: str
    resolved: bool
    exit_reason: str
    turns: int
    prompt_tokens: int
    completion_tokens: int
    token_id_turns: int  # turns whose completion token ids the policy server returned
    cost: float
    env_seconds: float
    agent_seconds: float
    eval_seconds: float
    total_seconds: float
    llm_seconds: float
    tool_seconds: float
    f2p_passed: int
    f2p_total: int
    p2p_passed: int
    p2p_total: int
    error: str
    turns_file: str  # relative to the run folder
    atif_file: str


_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_()}
SCHEMA = pa.schema([pa.field(f.name, _TYPES[str(f.type)]) for f in fields(RolloutRow)])


def read_turn_events(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def turn_lines(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per model turn: what it was sent that earlier turns were not, and its answer."""
    lines: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("type")
        if kind in ("system", "user"):
            pending.append({"role": kind, "content": event.get("content", "")})
        elif kind == "tool":
            pending.append({"role": "tool", "tool_call_id": event.get("tool_call_id", ""),
                            "name": event.get("name", ""), "content": event.get("output", "")})
        elif kind in ("assistant", "api_error"):
            line: dict[str, Any] = {"turn": event.get("turn", len(lines) + 1), "messages": pending}
            if kind == "assistant":
                line["assistant"] = {k: event.get(k) for k in ("content", "reasoning", "tool_calls", "finish_reason")
                                     if event.get(k) is not None}
                line["usage"] = event.get("usage") or {}
                for key in ("prompt_token_ids", "completion_token_ids", "logprobs"):
                    if event.get(key) is not None:
                        line[key] = event[key]
            else:
                line["error"] = event.get("message", "")
            line["llm_seconds"] = event.get("llm_seconds", 0.0)
            lines.append(line)
            pending = []
    return lines


def write_outputs(run_dir: Path, records: Iterable[InstanceRecord], where: Mapping[str, tuple[int, int]], *,
                  agent_name: str, model: str) -> list[dict[str, Any]]:
    """rollouts.parquet, rollouts/*.jsonl and atif/*.json of the finished rollouts; the rows."""
    rows: list[RolloutRow] = []
    for record in records:
        if record.instance_id not in where:
            continue
        group, k = where[record.instance_id]
        name = safe_name(record.instance_id)
        events = read_turn_events(run_dir / "logs" / name / TURNS_LOG)
        lines = turn_lines(events)
        turns_file, atif_file = f"rollouts/{name}.jsonl", f"atif/{name}.json"
        reward = 1.0 if record.resolved else 0.0
        atomic_write(run_dir / turns_file, "".join(json.dumps(line, ensure_ascii=False) + "\n"
                                                   for line in lines).encode())
        atif = to_atif(events, session_id=f"{record.run_id}/{record.instance_id}", agent=agent_name,
                       version=__version__, model=model, started_at=_agent_start(record),
                       extra={"task_id": record.instance_id.rsplit("#", 1)[0], "group": group, "rollout": k,
                              "reward": reward, "status": record.status, "exit_reason": record.exit_reason})
        atomic_write(run_dir / atif_file, json.dumps(atif, ensure_ascii=False, indent=1).encode())
        rows.append(RolloutRow(
            run_id=record.run_id, task_id=record.instance_id.rsplit("#", 1)[0], group=group, rollout=k,
            rollout_id=record.instance_id, reward=reward, status=record.status, resolved=record.resolved,
            exit_reason=record.exit_reason or "", turns=record.turns, prompt_tokens=record.prompt_tokens,
            completion_tokens=record.completion_tokens,
            token_id_turns=sum(1 for line in lines if line.get("completion_token_ids") is not None),
            cost=record.cost, env_seconds=record.env_seconds, agent_seconds=record.agent_seconds,
            eval_seconds=record.eval_seconds, total_seconds=record.total_seconds, llm_seconds=record.llm_seconds,
            tool_seconds=record.tool_seconds, f2p_passed=record.f2p_passed, f2p_total=record.f2p_total,
            p2p_passed=record.p2p_passed, p2p_total=record.p2p_total, error=record.error or "",
            turns_file=turns_file, atif_file=atif_file))
    rows.sort(key=lambda r: (r.group, r.rollout))
    table = pa.Table.from_pylist([asdict(r) for r in rows], schema=SCHEMA) if rows else SCHEMA.empty_table()
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    atomic_write(run_dir / PARQUET, sink.getvalue().to_pybytes())
    return [asdict(r) for r in rows]


def _agent_start(record: InstanceRecord) -> str:
    """When the agent phase began (the gateway's event times count from there), roughly."""
    try:
        start = datetime.fromisoformat(record.started_at)
    except ValueError:
        return ""
    return (start + timedelta(seconds=record.env_seconds)).isoformat()
