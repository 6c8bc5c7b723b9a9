"""Token-exact turns: the token ids and logprobs a policy server returns, read from its
answers so a trainer gets the sampled tokens without re-tokenising.

Servers return them only when asked, each in its own dialect (`TOKEN_ID_FIELDS`, the fields a
rollout adds to every request):
- vLLM: `return_token_ids: true` gives the answer's `prompt_token_ids` (top level; in a stream,
  on the first chunk) and each choice's `token_ids` (in a stream, each chunk's new ones);
  `logprobs: true` gives `choice.logprobs.content[i].logprob` (streamed chunk by chunk).
- SGLang: `return_prompt_token_ids: true` gives `choice.prompt_token_ids`; `return_meta_info:
  true` with `logprobs: true` gives `choice.meta_info.output_token_logprobs`, one entry per
  sampled token, `[logprob, token_id, text]` (or a dict with `logprob` and `token_id`), and
  `meta_info.output_ids` on some releases.

The reader takes whichever is there, from whole answers and from stream chunks alike, and
leaves a message's fields None when the server sent nothing (a server that ignores the
flags is recorded as such, never as empty token lists).
"""

from __future__ import annotations

from typing import Any

from evalharness.model.gateway.wire import _Message

TOKEN_ID_FIELDS: dict[str, dict[str, Any]] = {
    "vllm": {"return_token_ids": True, "logprobs": True},
    "sglang": {"return_prompt_token_ids": True, "return_meta_info": True, "logprobs": True},
}


def _ints(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    try:
        return [int(v) for v in value]
    except (TypeError, ValueError):
        return None


def _extend(message: _Message, name: str, values: list | None) -> None:
    if values is None:
        return
    current = getattr(message, name)
    setattr(message, name, (current or []) + list(values))


def take_tokens(message: _Message, answer: Any, choice: Any) -> None:
    """Fold the token ids and logprobs of one answer, or of one stream chunk, into `message`
    (a stream's chunks each add theirs, in order)."""
    if isinstance(answer, dict) and message.prompt_token_ids is None:
        message.prompt_token_ids = _ints(answer.get("prompt_token_ids"))
    if not isinstance(choice, dict):
        return
    if message.prompt_token_ids is None:
        message.prompt_token_ids = _ints(choice.get("prompt_token_ids"))
    _extend(message, "token_ids", _ints(choice.get("token_ids")))
    content = (choice.get("logprobs") or {}).get("content") if isinstance(choice.get("logprobs"), dict) else None
    if isinstance(content, list):
        _extend(message, "logprobs", [float(entry["logprob"]) for entry in content
                                      if isinstance(entry, dict) and isinstance(entry.get("logprob"), (int, float))])
    # SGLang's meta_info describes the whole answer so far: it replaces what chunks added.
    meta = choice.get("meta_info") if isinstance(choice.get("meta_info"), dict) else {}
    sampled = meta.get("output_token_logprobs")
    pairs = [_sampled(entry) for entry in sampled] if isinstance(sampled, list) else []
    if pairs and all(p is not None for p in pairs):
        message.token_ids = [p[1] for p in pairs]  # type: ignore[index]
        message.logprobs = [p[0] for p in pairs]  # type: ignore[index]
    elif _ints(meta.get("output_ids")) is not None:
        message.token_ids = _ints(meta.get("output_ids"))


def _sampled(entry: Any) -> tuple[float, int] | None:
    """(logprob, token id) of one `output_token_logprobs` entry, else None."""
    try:
        if isinstance(entry, dict):
            return float(entry["logprob"]), int(entry.get("token_id", entry.get("id")))
        return float(entry[0]), int(entry[1])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def token_fields(message: _Message) -> dict[str, Any]:
    """What the trajectory's `assistant` event carries of them (nothing when none came)."""
    out: dict[str, Any] = {}
    if message.prompt_token_ids is not None:
        out["prompt_token_ids"] = message.prompt_token_ids
    if message.token_ids is not None:
        out["completion_token_ids"] = message.token_ids
    if message.logprobs is not None:
        out["logprobs"] = message.logprobs
    return out
