"""The HTTP side of a session's socket: `_Handler` (one client connection: routes, bodies,
responses) and `_bind_unix` (binding the socket, also at a long path), with the constants
of the socket and the container's view of it."""

from __future__ import annotations

import json
import os
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalharness.model.gateway.apis import _BY_ROUTE, OPENAI
from evalharness.model.gateway.wire import _error_body

if TYPE_CHECKING:
    from evalharness.model.gateway.protocol import _Protocol
    from evalharness.model.gateway.session import GatewaySession

SOCKET_NAME = "gateway.sock"  # the socket file inside a session's directory
CONTAINER_DIR = "/run/evalharness-gateway"  # where the session directory is mounted in the container
FORWARDER_SOURCE: str = Path(__file__).with_name("forward.py").read_text(encoding="utf-8")

MAX_BODY_BYTES = 32 * 1024 * 1024  # a request body above this gets 413
_DRAIN_BYTES = 4 * MAX_BODY_BYTES  # an oversized body up to this is read and dropped (the connection lives on)
_MAX_SOCKET_PATH = 107  # sockaddr_un.sun_path on Linux, less the NUL
_MODELS_ROUTES = frozenset({"/v1/models", "/models"})


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive on one client connection; the session does the work."""

    protocol_version = "HTTP/1.1"
    server_version = "evalharness-gateway"
    server: GatewaySession  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:  # the session keeps its own log
        pass

    def handle_expect_100(self) -> bool:
        if _length(self.headers.get("Content-Length")) > MAX_BODY_BYTES:
            self._too_large(time.monotonic(), close=True)
            return False
        return super().handle_expect_100()

    def do_GET(self) -> None:
        self._route(time.monotonic())

    def do_POST(self) -> None:
        self._route(time.monotonic())

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _route(self, start: float) -> None:
        session = self.server
        raw = self._read_body(start)
        if raw is None:
            return
        route = self.path.split("?", 1)[0].rstrip("/")
        protocol = self._protocol()
        # Each answer is noted before it is sent: a client that has its answer finds it counted.
        if not session._authorized(self.headers):
            session._note(session._line(self.command, self.path, 401, start, error="bad token"),
                          refused=1, requests=1 if protocol else 0)
            self.send_bytes(401, (protocol or OPENAI).error_body(
                "evalharness gateway: invalid API key (expected this session's token)", "invalid_request_error",
                "invalid_api_key", 401))
        elif protocol is not None:
            session._chat(self, raw, start, protocol)
        elif route in _MODELS_ROUTES and self.command == "GET":
            model = session._gateway.config.model
            session._note(session._line(self.command, self.path, 200, start))
            self.send_bytes(200, json.dumps({"object": "list", "data": [
                {"id": model, "object": "model", "created": 0, "owned_by": "evalharness-gateway"}]}).encode())
        else:
            error = f"no route {self.command} {self.path}"
            session._note(session._line(self.command, self.path, 404, start, error=error))
            self.send_bytes(404, _error_body(f"evalharness gateway: {error}", "invalid_request_error", "not_found"))

    def _read_body(self, start: float) -> bytes | None:
        """The request body, or None once the request was answered (too large, cut short)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(start)
        length = _length(self.headers.get("Content-Length"))
        if length > MAX_BODY_BYTES:
            if length > _DRAIN_BYTES:
                self._too_large(start, close=True)
                return None
            while length > 0:  # read and drop it, so the client reads the answer and the connection lives
                data = self.rfile.read(min(length, 1 << 20))
                if not data:
                    self.close_connection = True
                    return None
                length -= len(data)
            self._too_large(start)
            return None
        raw = self.rfile.read(length) if length > 0 else b""
        if len(raw) < length:  # the client went away mid-body
            self.close_connection = True
            return None
        return raw

    def _read_chunked(self, start: float) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                return None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                self._too_large(start, close=True)
                return None
            data = self.rfile.read(size + 2)
            if len(data) < size + 2:
                self.close_connection = True
                return None
            parts.append(data[:size])

    def _too_large(self, start: float, close: bool = False) -> None:
        error = f"request body over {MAX_BODY_BYTES // (1024 * 1024)} MiB"
        protocol = self._protocol()
        self.server._note(self.server._line(self.command, self.path, 413, start, error=error), errors=1,
                          requests=1 if protocol else 0)
        self.send_bytes(413, (protocol or OPENAI).error_body(f"evalharness gateway: {error}", "invalid_request_error",
                                                             "too_large", 413), close=close)

    def _protocol(self) -> _Protocol | None:
        """The API of a model request (POST to one of its routes), else None."""
        return _BY_ROUTE.get(self.path.split("?", 1)[0].rstrip("/")) if self.command == "POST" else None

    def response_bytes(self, status: int, body: bytes, content_type: str = "application/json",
                       headers: dict[str, str] | None = None, close: bool = False) -> bytes:
        """A whole response, head and body, to be sent in one write."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {status} {phrase}", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
        lines += [f"{key}: {value}" for key, value in (headers or {}).items()]
        if close or self.close_connection:
            lines.append("Connection: close")
            self.close_connection = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body

    def send_bytes(self, status: int, body: bytes, content_type: str = "application/json",
                   headers: dict[str, str] | None = None, close: bool = False) -> None:
        """A whole response in one write; a client gone is noted, not raised."""
        data = self.response_bytes(status, body, content_type, headers, close)
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True


def _bind_unix(sock: socket.socket, path: Path) -> None:
    """Bind at `path`, also past sun_path's 107 bytes (a deep `root`): through the directory's
    /proc/self/fd entry on Linux. Clients on the host then need a short path too; in the
    container the socket is always at CONTAINER_DIR/SOCKET_NAME."""
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        sock.bind(str(path))
        return
    try:
        fd = os.open(path.parent, os.O_PATH | os.O_DIRECTORY)
    except (AttributeError, OSError) as exc:  # no O_PATH: not Linux
        raise ValueError(f"gateway socket path too long for a Unix socket: {path} ({exc})") from None
    try:
        sock.bind(f"/proc/self/fd/{fd}/{path.name}")
    except OSError as exc:
        raise ValueError(f"gateway socket path too long for a Unix socket: {path} ({exc})") from None
    finally:
        os.close(fd)


def _length(header: str | None) -> int:
    try:
        return max(0, int(header or 0))
    except ValueError:
        return 0
