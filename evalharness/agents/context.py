"""Keeping the history inside the model's context window.

As the history nears the window, the oldest tool observations are replaced by a short
note (the system prompt and the task are never touched, nor the most recent turns).
Elision is done in place, so the prefix stays stable afterwards (prefix caches keep
working) and each observation is elided at most once.
"""

from __future__ import annotations

import json
from typing import Any

CHARS_PER_TOKEN = 3.0  # conservative for code: real tokenizers average 3.5-4 characters
MESSAGE_OVERHEAD = 8  # tokens of role markers and separators per message
ELIDED = "[this output was elided to fit the context window; run the command again if you need it]"


def estimate_tokens(messages: list[dict[str, Any]], tools: list[dict] | None = None) -> int:
    chars = sum(len(_text(m)) for m in messages) + (len(json.dumps(tools)) if tools else 0)
    return int(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages)


def observation_indexes(messages: list[dict[str, Any]], keep_first: int = 2) -> list[int]:
    """Messages that carry tool output: `tool` messages, and the user turns that carry
    <tool_response> blocks in text mode. The first `keep_first` (system, task) never count."""
    found = []
    for i, m in enumerate(messages[keep_first:], keep_first):
        if m.get("role") == "tool" or (m.get("role") == "user" and m.get("is_observation")):
            found.append(i)
    return found


def elide_to_fit(messages: list[dict[str, Any]], budget: int, tools: list[dict] | None = None,
                 keep_recent: int = 2) -> tuple[int, bool]:
    """Elide the oldest observations until the estimate fits `budget` tokens.

    Returns (how many were elided now, whether it fits). The last `keep_recent`
    observations are kept: the model needs what it just saw.
    """
    elided = 0
    candidates = observation_indexes(messages)
    candidates = candidates[:-keep_recent] if keep_recent else candidates
    for i in candidates:
        if estimate_tokens(messages, tools) <= budget:
            break
        if messages[i].get("elided"):
            continue
        messages[i]["content"] = ELIDED
        messages[i]["elided"] = True
        elided += 1
    return elided, estimate_tokens(messages, tools) <= budget


def for_api(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages without the harness's own bookkeeping keys."""
    return [{k: v for k, v in m.items() if k not in ("elided", "is_observation")} for m in messages]


def _text(message: dict[str, Any]) -> str:
    text = message.get("content") or ""
    for call in message.get("tool_calls") or ():
        text += json.dumps(call)
    return text
