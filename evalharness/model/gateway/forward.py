#!/usr/bin/env python3
"""TCP to Unix-socket forwarder, run inside a task container (the model gateway's far end).

    python3 forward.py --listen 127.0.0.1:4000 --socket /run/evalharness-gateway/gateway.sock

The container has no network; the harness mounts the gateway's socket into it. CLI agents
speak HTTP to a TCP address, so this accepts TCP connections on the loopback and pipes each,
both ways, to a new connection on the socket (the gateway does all the HTTP). Half-closes
are passed on (EOF on one side shuts the other side's writing), so a request body's end and
a response's end are seen as sent. It exits on SIGTERM or SIGINT.

Stdlib only, and Python 3.6+ syntax at run time: it is copied into containers whose Python
is whatever the task's image has. It prints one line to stderr once listening (the port,
useful with --listen 127.0.0.1:0) and nothing else unless it fails.
"""

import argparse
import signal
import socket
import sys
import threading
from typing import List, Optional, Tuple

CONTAINER_SOCKET = "/run/evalharness-gateway/gateway.sock"  # gateway.CONTAINER_DIR / gateway.SOCKET_NAME
BUFFER = 256 * 1024


def parse_listen(text):
    # type: (str) -> Tuple[str, int]
    """"HOST:PORT", ":PORT" or "PORT" -> (host, port); the host defaults to 127.0.0.1."""
    host, _, port = text.rpartition(":")
    return (host.strip("[]") or "127.0.0.1", int(port))


def _shutdown(sock, how):
    # type: (socket.socket, int) -> None
    try:
        sock.shutdown(how)
    except OSError:
        pass


def _pump(src, dst, both):
    # type: (socket.socket, socket.socket, Tuple[socket.socket, socket.socket]) -> None
    """Copy src to dst until EOF (then half-close dst); on an error cut both connections."""
    try:
        while True:
            data = src.recv(BUFFER)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        for sock in both:
            _shutdown(sock, socket.SHUT_RDWR)
        return
    _shutdown(dst, socket.SHUT_WR)


def _connection(client, path):
    # type: (socket.socket, str) -> None
    """One client connection: a new socket connection, two pumps, both closed at the end."""
    upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        upstream.connect(path)
    except OSError as exc:
        sys.stderr.write("gateway_forward: cannot connect to %s: %s\n" % (path, exc))
        upstream.close()
        client.close()
        return
    both = (client, upstream)
    back = threading.Thread(target=_pump, args=(upstream, client, both))
    back.daemon = True
    back.start()
    try:
        _pump(client, upstream, both)
        back.join()
    finally:
        client.close()
        upstream.close()


def serve(listen, path):
    # type: (Tuple[str, int], str) -> None
    server = socket.socket(socket.AF_INET6 if ":" in listen[0] else socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(listen)
    server.listen(128)
    host, port = server.getsockname()[:2]
    sys.stderr.write("gateway_forward: listening on %s:%d -> %s\n" % (host, port, path))
    sys.stderr.flush()
    while True:
        client, _ = server.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle/delayed-ACK stalls
        worker = threading.Thread(target=_connection, args=(client, path))
        worker.daemon = True
        worker.start()


def main(argv=None):
    # type: (Optional[List[str]]) -> int
    parser = argparse.ArgumentParser(description="Pipe TCP connections to the model gateway's Unix socket.")
    parser.add_argument("--listen", default="127.0.0.1:4000", help="HOST:PORT to accept on (port 0: any)")
    parser.add_argument("--socket", default=CONTAINER_SOCKET, help="the gateway's Unix socket")
    args = parser.parse_args(argv)

    def stop(signum, frame):
        # type: (int, object) -> None
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        serve(parse_listen(args.listen), args.socket)
    except SystemExit:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
