"""What every part of the gateway shares: the HTTP library, the records of one request's
answer (`_Message`, `_Outcome`, `_Failure`), and the small helpers that write error bodies
and read error and message text. It imports no other module of the package (`httpx` is
imported here once, for `relay` and `upstream`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

try:  # the `openai` SDK's HTTP library: httpx2 in recent releases, httpx before
    import httpx2 as httpx
except ImportError:  # pragma: no cover - depends on the installed openai
    import httpx  # type: ignore[no-redef]

from evalharness.core.redact import redact


@dataclass
class _Message:
    """The model's answer, from a JSON response or reassembled from a stream."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {id, name, arguments (raw JSON text)}
    finish_reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # What a policy server returned of the tokens, when asked (gateway/tokens.py); None: nothing.
    prompt_token_ids: list[int] | None = None
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None


@dataclass
class _Outcome:
    """How one chat request ended, for the counters, the trajectory and the request log."""

    status: int
    message: _Message | None = None  # None: no complete answer
    error: str = ""  # "" when the client got a whole, successful answer
    retries: int = 0
    seconds: float = 0.0  # upstream wall time, retries and waits included


@dataclass
class _Failure:
    """A failed upstream attempt that may be retried: what went wrong, and the answer the client
    gets if no retry follows (the upstream's own status and body, or a 502)."""

    what: str  # "HTTP 429", "timeout", "connection error"
    message: str
    wait_at_least: float | None = None
    status: int = 502
    body: bytes = b""
    content_type: str = "application/json"


class _ClientGone(Exception):
    """The client closed its connection while being answered."""


def _error_body(message: str, type_: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": type_, "param": None, "code": code}}).encode()


def _error_text(content: bytes, limit: int = 500) -> str:
    """The upstream's own words: error.message from a JSON body, else the text (redacted, one line)."""
    text = content.decode("utf-8", errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            text = str(err.get("message") or err.get("detail") or text)
        elif isinstance(err, str):
            text = err
    text = " ".join(redact(text).split())
    return text[:limit] + ("..." if len(text) > limit else "")


def _text(content: Any) -> str:
    """A message's content as text: a string, or the text parts of a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text") or f"[{part.get('type', 'part')}]" if isinstance(part, dict) else str(part)
                       for part in content)
    return json.dumps(content) if isinstance(content, dict) else str(content)


def _arguments(raw: str) -> Any:
    """A tool call's arguments: the decoded object, {} for none, else the raw text."""
    if not raw.strip():
        return {}
    try:
        decoded = json.loads(raw)
    except ValueError:
        return raw
    return decoded if isinstance(decoded, dict) else raw
