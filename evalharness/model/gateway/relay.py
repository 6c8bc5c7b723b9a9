"""Writing the answer to the client's connection: `_Relay` (a whole response, or a chunked
stream, with the last bytes held until the request is recorded) and `_relay_stream` (an
upstream SSE stream relayed event by event while its reader reassembles the message)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from evalharness.core.redact import redact, redact_bytes
from evalharness.model.gateway.wire import _ClientGone, _Failure, _Outcome, httpx

if TYPE_CHECKING:
    from evalharness.model.gateway.protocol import _Protocol, _StreamReader
    from evalharness.model.gateway.server import _Handler

_EVENT_END = re.compile(rb"\r?\n\r?\n")  # the blank line that ends an SSE event


def _relay_stream(response: Any, relay: _Relay, reader: _StreamReader) -> _Outcome | _Failure:
    """Relay an upstream SSE stream event by event, the reader reassembling the message on the
    way. Before the first event reached the client a failure is retryable; after it, it ends
    the request."""
    buffer = b""

    def events(data: bytes, last: bool = False) -> Iterator[bytes]:
        nonlocal buffer
        buffer += data
        while (end := _EVENT_END.search(buffer)) is not None:
            event, buffer = buffer[:end.end()], buffer[end.end():]
            yield event
        if last and buffer.strip():
            event, buffer = buffer + b"\n\n", b""
            yield event

    content_type = response.headers.get("content-type", "text/event-stream")

    def forward(batch: Iterator[bytes]) -> None:
        """The events of one upstream read, relayed in one chunk (one write)."""
        kept = [event for event in batch if reader.take(event)]
        if kept:
            relay.stream(redact_bytes(b"".join(kept)), content_type, last=reader.last(kept[-1]))

    try:
        for data in response.iter_bytes():
            forward(events(data))
        forward(events(b"", last=True))
    except _ClientGone:
        return _Outcome(200, error="the client disconnected mid-stream")
    except httpx.RequestError as exc:
        what = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection error"
        if not relay.started:
            return _Failure(what, f"the stream broke before its first event: {type(exc).__name__}: {exc}")
        reason = f"the upstream stream broke: {what} ({type(exc).__name__}: {exc})"
        relay.abort_stream(redact(reason))
        return _Outcome(200, error=redact(reason))
    relay.end_stream(content_type)  # held back with its last event until the request is recorded
    return _Outcome(200, message=reader.finish(), error=redact(reader.error))


class _Relay:
    """Writes the answer to the client's connection: a whole response, or a chunked stream whose
    head goes out with its first event (so nothing is sent before upstream produced something).

    The answer's last bytes (a whole response, or a stream's last event (`[DONE]`,
    `message_stop`) and final chunk) are held until `flush`, which the session calls once the
    request is accounted and recorded: when a client has its answer, `usage` and `events()`
    already include it."""

    def __init__(self, handler: _Handler, protocol: _Protocol, wants_usage: bool):
        self.handler = handler
        self.protocol = protocol
        self.wants_usage = wants_usage  # the client asked for the usage chunk of a stream
        self.started = False  # a stream's head went out: no retry from here on
        self.status = 0
        self._chunked = handler.request_version != "HTTP/1.0"
        self._pending = b""

    def send(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self._pending = self.handler.response_bytes(status, body, content_type, headers)

    def stream(self, event: bytes, content_type: str, last: bool = False) -> None:
        data = b"%x\r\n%s\r\n" % (len(event), event) if self._chunked else event
        if not self.started:
            data = self._head(content_type) + data
            self.started = True
        if last:
            self._pending += data
        else:
            self._write(self._pending + data)
            self._pending = b""

    def end_stream(self, content_type: str) -> None:
        if not self.started:  # an empty stream
            self._pending += self._head(content_type)
            self.started = True
        if self._chunked:
            self._pending += b"0\r\n\r\n"
        else:
            self.handler.close_connection = True

    def abort_stream(self, reason: str) -> None:
        """Tell the client why in an error event, then close without the final chunk: a stream
        cut short must never read as a complete answer."""
        try:
            self.stream(self.protocol.abort_event(reason), "text/event-stream")
        except _ClientGone:
            pass
        self.handler.close_connection = True

    def flush(self) -> None:
        """Write what is held back; a client gone by now is noted, not raised."""
        if self._pending:
            try:
                self._write(self._pending)
            except _ClientGone:
                pass
            self._pending = b""

    def _head(self, content_type: str) -> bytes:
        self.status = 200
        framing = "Transfer-Encoding: chunked" if self._chunked else "Connection: close"
        return (f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nCache-Control: no-cache\r\n"
                f"{framing}\r\n\r\n").encode("latin-1")

    def _write(self, data: bytes) -> None:
        try:
            self.handler.wfile.write(data)
        except OSError:
            self.handler.close_connection = True
            raise _ClientGone() from None
