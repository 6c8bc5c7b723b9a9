"""Secrets (API keys) kept out of everything a run writes: records, logs, trajectories, reports.

A key is registered once, where it is read (`LLMClient`); from then on `redact` replaces it,
in any text, with `[REDACTED]` — as is, URL-encoded, and base64-encoded (also inside a longer
base64 string, e.g. HTTP basic auth), which is how servers echo credentials back in error
bodies and headers. The harness applies `redact` where text leaves the process for a file:
error messages (`LLMError`), the model's replies, the instance's logs and record
(pipeline.py). Log records of every logger (the `openai` SDK's debug log included) are
redacted as they are made, once a secret is registered.

Registering is process-wide and keys are never unregistered; placeholders such as the
"EMPTY" of keyless local servers are too short to count as secrets (`MIN_SECRET_CHARS`).
"""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "[REDACTED]"
MIN_SECRET_CHARS = 8  # shorter values ("EMPTY", "none") are placeholders, not secrets

_lock = threading.Lock()
_secrets: set[str] = set()
_forms: tuple[str, ...] = ()  # every form of every secret, longest first
_logging_installed = False


def register_secret(value: str | None) -> None:
    """From now on, `value` (and its encoded forms) is redacted everywhere in this process."""
    global _forms
    value = (value or "").strip()
    if len(value) < MIN_SECRET_CHARS:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        forms = set(_forms) | secret_forms(value)
        _forms = tuple(sorted(forms, key=lambda f: (-len(f), f)))
    _install_logging()


def secret_forms(value: str) -> set[str]:
    """The strings that give `value` away: itself, URL-encoded, and base64 at each alignment.

    A secret inside a longer base64 text starts at any of three byte offsets; for each, the
    characters that encode the secret's bytes alone are a fixed string (the first and last
    characters, shared with neighbouring bytes, are left out).
    """
    forms = {value, quote(value, safe=""), quote_plus(value)}
    data = value.encode()
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + data).decode().rstrip("=")
            first = -(-offset * 8 // 6)  # the first character made of the secret's bits only
            last = ((offset + len(data)) * 8) // 6  # one past the last such character
            fragment = text[first:last]
            if len(fragment) >= MIN_SECRET_CHARS:
                forms.add(fragment)
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def redact(text: Any) -> Any:
    """`text` with every registered secret replaced by [REDACTED]; non-strings are returned as they are."""
    if not isinstance(text, str) or not _forms:
        return text
    for form in _forms:
        if form in text:
            text = text.replace(form, MASK)
    return text


def redact_bytes(data: bytes) -> bytes:
    if not _forms:
        return data
    text = data.decode("utf-8", errors="surrogateescape")
    red = redact(text)
    return data if red is text else red.encode("utf-8", errors="surrogateescape")


def contains_secret(text: str) -> bool:
    return any(form in text for form in _forms)


# ---- logging ---------------------------------------------------------------------------------
def _install_logging() -> None:
    """Redact every log record as it is made (whatever logger, handler or formatter handles it)."""
    global _logging_installed
    with _lock:
        if _logging_installed:
            return
        _logging_installed = True
        previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if _forms:
            _scrub(record)
        return record

    logging.setLogRecordFactory(factory)


def _scrub(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is the logging module's to report
        message = None
    if message is not None and contains_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        text = logging.Formatter().formatException(record.exc_info)
        if contains_secret(text):
            record.exc_text = redact(text)  # formatters use exc_text when it is set
    if record.stack_info and contains_secret(record.stack_info):
        record.stack_info = redact(record.stack_info)
