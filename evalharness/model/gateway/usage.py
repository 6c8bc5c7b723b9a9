"""Token usage as each wire API reports it, read into a `_Message`: chat completions'
prompt/completion tokens, and Anthropic's input, cache and output tokens (which a stream
reports in parts). The counters and the cost are the session's."""

from __future__ import annotations

from typing import Any

from evalharness.model.gateway.wire import _Message


def _take_usage(message: _Message, usage: Any) -> None:
    if isinstance(usage, dict):
        message.prompt_tokens = int(usage.get("prompt_tokens") or 0)
        message.completion_tokens = int(usage.get("completion_tokens") or 0)


_ANTHROPIC_INPUT = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def _take_anthropic_usage(message: _Message, usage: Any, seen: dict[str, int]) -> None:
    """Anthropic usage into the message: prompt = input + cache writes + cache reads (all
    input the model read), completion = output. A stream reports it twice (message_start: the
    input; message_delta: the output so far, cumulative, and on some servers the input too):
    `seen` keeps the latest value of each field across the events."""
    if not isinstance(usage, dict):
        return
    for key in (*_ANTHROPIC_INPUT, "output_tokens"):
        value = usage.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seen[key] = int(value)
    message.prompt_tokens = sum(seen.get(key, 0) for key in _ANTHROPIC_INPUT)
    message.completion_tokens = seen.get("output_tokens", 0)
