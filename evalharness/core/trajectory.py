"""An agent's trajectory: every step it took, as JSON lines (reports/<run>/logs/<id>/trajectory.jsonl).

One event per line, each with `type`, `turn` (0 before the first model call) and `t`
(seconds since the agent started). The types, and the keys each carries besides those:

- `system`, `user`:  `content` (the prompts the model was given)
- `assistant`:       `content` (text), `tool_calls` [{id, name, arguments}], `usage`
                     {prompt_tokens, completion_tokens}, `cost`, `llm_seconds`, `retries`; from
                     the model gateway also `prompt_token_ids`, `completion_token_ids`, `logprobs`
                     when the server returned them (model/gateway/tokens.py)
- `tool`:            `tool_call_id`, `name`, `arguments`, `output` (as the model saw it),
                     `exit_code` (bash only, else null), `seconds`
- `format_error`:    `message` (the correction sent back to the model), `content` (what it wrote)
- `elided`:          `count` (old observations shortened to fit the context window)
- `api_error`:       `message`
- `exit`:            `exit_reason`, `patch_chars`

Readers (the HTML report) must ignore keys and types they do not know.
"""

from __future__ import annotations

import json
import time
from typing import Any


class Trajectory:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self._start = time.monotonic()
        self.turn = 0

    def add(self, type: str, **fields: Any) -> dict[str, Any]:
        event = {"type": type, "turn": self.turn, "t": round(time.monotonic() - self._start, 3), **fields}
        self.events.append(event)
        return event

    def to_jsonl(self) -> str:
        return "".join(json.dumps(e, default=str, ensure_ascii=False) + "\n" for e in self.events)
