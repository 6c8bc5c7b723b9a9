"""What an environment gives a shell session: a running bash, its stdin and its merged output.

Each environment kind supplies one (`Environment.shell_transport`: a container's exec
socket, a local pipe, a toy's own); shell.py runs its protocol over any of them and knows
no environment kind.
"""

from __future__ import annotations

import errno
import math
import select
from typing import Protocol

BASH_ARGV = ["bash", "--noprofile", "--norc"]


class ShellError(Exception):
    """The session could not be started, or it died in a way a fresh one cannot repair."""


class Transport(Protocol):
    """A running bash whose stdin we write and whose merged output we read."""

    def fileno(self) -> int: ...

    def send(self, data: bytes) -> None:
        """Write all of `data` to bash's stdin; raises OSError when bash is gone."""
        ...

    def recv(self) -> bytes | None:
        """Output available now (may be b""); None at end of stream. Call when fileno() is readable."""
        ...

    def exit_code(self) -> int | None:
        """Bash's exit status once its stream has ended (128+N when killed by signal N)."""
        ...

    def helper(self, argv: list[str]) -> str:
        """Run `argv` as a second process beside the shell (same machine or container)."""
        ...

    def close(self) -> None: ...


def readable(transport: Transport, timeout: float | None) -> bool:
    """Whether the transport has output (or its end) within `timeout` seconds (None: no limit).

    poll(), not select(): select() cannot watch a descriptor numbered 1024 or more, which a
    harness process with a few hundred sessions (two sockets each) reaches.
    """
    fd = transport.fileno()
    if fd < 0:
        raise ValueError("file descriptor cannot be a negative integer")  # closed: as select() says
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    events = poller.poll(None if timeout is None else min(math.ceil(max(0.0, timeout) * 1000), 2**31 - 1))
    if events and events[0][1] & select.POLLNVAL:
        raise OSError(errno.EBADF, "Bad file descriptor")  # closed under us: as select() says
    return bool(events)
