"""A chat-completions client for OpenAI-compatible endpoints (hosted or locally served).

The data types at the seam between the model and the agent are defined here; the client
itself (retries, backoff, Retry-After, cost) is being written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """One call the model asked for. `arguments` is None when they could not be parsed
    (malformed JSON in native mode); `raw_arguments` keeps what the model sent."""

    name: str
    arguments: dict[str, Any] | None
    id: str = ""
    raw_arguments: str = ""


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    seconds: float = 0.0  # wall time of the request, retries and backoff included
    retries: int = 0
    finish_reason: str = ""


class LLMError(Exception):
    """The endpoint failed for good (after retries) or refused the request; `reason` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ContextOverflowError(LLMError):
    """The server says the prompt does not fit the model's context window."""
