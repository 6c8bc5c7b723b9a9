"""One rollout as an ATIF trajectory (Harbor's Agent Trajectory Interchange Format, v1.4), for
tools that read that format.

From the gateway's events (core/trajectory.py's format): a `system` or `user` event is a step
of that source; an `assistant` event is an `agent` step with its text, reasoning, tool calls
and metrics (prompt/completion tokens, cost, and, when the policy server returned them, the
prompt and completion token ids and the logprobs); the `tool` events that answer its calls are
that step's observation (`source_call_id` = the call's id). The reward and the rollout's
identity go in the root's `extra`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

SCHEMA_VERSION = "ATIF-v1.4"
_METRIC_KEYS = ("prompt_token_ids", "completion_token_ids", "logprobs")


def to_atif(events: Iterable[dict[str, Any]], *, session_id: str, agent: str, version: str, model: str,
            started_at: str = "", extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ATIF object of one rollout's events."""
    start = _time(started_at)
    steps: list[dict[str, Any]] = []
    last_agent: dict[str, Any] | None = None
    totals = {"prompt": 0, "completion": 0, "cost": 0.0}
    for event in events:
        kind = event.get("type")
        if kind in ("system", "user"):
            steps.append(_step(steps, kind, str(event.get("content") or ""), start, event))
            last_agent = None
        elif kind == "assistant":
            usage = event.get("usage") or {}
            metrics: dict[str, Any] = {"prompt_tokens": int(usage.get("prompt_tokens") or 0),
                                       "completion_tokens": int(usage.get("completion_tokens") or 0),
                                       "cost_usd": float(event.get("cost") or 0.0)}
            metrics.update({k: event[k] for k in _METRIC_KEYS if event.get(k) is not None})
            step = _step(steps, "agent", str(event.get("content") or ""), start, event)
            step["model_name"] = model
            if event.get("reasoning"):
                step["reasoning_content"] = str(event["reasoning"])
            calls = [{"tool_call_id": str(c.get("id") or ""), "function_name": str(c.get("name") or ""),
                      "arguments": c.get("arguments") if isinstance(c.get("arguments"), dict)
                      else {"raw": c.get("arguments")}} for c in event.get("tool_calls") or []]
            if calls:
                step["tool_calls"] = calls
            step["metrics"] = metrics
            step["extra"] = {k: event[k] for k in ("finish_reason", "llm_seconds", "stream") if k in event}
            steps.append(step)
            last_agent = step
            totals["prompt"] += metrics["prompt_tokens"]
            totals["completion"] += metrics["completion_tokens"]
            totals["cost"] += metrics["cost_usd"]
        elif kind == "tool":
            result = {"source_call_id": str(event.get("tool_call_id") or ""), "content": str(event.get("output") or "")}
            if last_agent is None:  # an answer to no recorded call: its own step, as the user saw it
                steps.append(_step(steps, "user", result["content"], start, event))
            else:
                last_agent.setdefault("observation", {"results": []})["results"].append(result)
    return {
        "schema_version": SCHEMA_VERSION,
        "session_id": session_id,
        "agent": {"name": agent, "version": version, "model_name": model},
        "steps": steps,
        "final_metrics": {"total_prompt_tokens": totals["prompt"], "total_completion_tokens": totals["completion"],
                          "total_cost_usd": round(totals["cost"], 6), "total_steps": len(steps)},
        "extra": dict(extra or {}),
    }


def _step(steps: list[dict[str, Any]], source: str, message: str, start: datetime | None,
          event: dict[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = {"step_id": len(steps) + 1, "source": source, "message": message}
    if start is not None and isinstance(event.get("t"), (int, float)):
        step["timestamp"] = (start + timedelta(seconds=float(event["t"]))).isoformat().replace("+00:00", "Z")
    return step


def _time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None
