"""A live environment an agent or a scorer works in: run commands, write files.

Two implementations share one small interface: `DockerEnvironment` (a container of
the instance image; see `containers.py`) and `LocalEnvironment` (a folder on the host,
used by unit tests that need no Docker).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evalharness.shell import ShellSession

TIMEOUT_EXIT_CODES = (124, 137)


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str  # stdout and stderr together, decoded with replacement
    timed_out: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class Environment(Protocol):
    workdir: str

    def exec(self, command: str, timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        """Run a bash command; `timeout` in seconds kills it and sets timed_out."""
        ...

    def write_file(self, path: str, content: str | bytes) -> None:
        """Create or replace a file (absolute, or relative to workdir)."""
        ...

    def open_shell(self) -> ShellSession:
        """A persistent bash session at workdir (evalharness.shell): cwd and env carry over."""
        ...


def killed_for_time(exit_code: int, seconds: float, timeout: float | None) -> bool:
    """Whether `timeout_wrapped`'s kill ended the command: its exit code AND the time it ran. A
    command killed sooner (an OOM kill, its container removed, a test that kills its own shell)
    exits 137 too, and must not read as a timeout."""
    return (timeout is not None and exit_code in (-9, *TIMEOUT_EXIT_CODES)
            and seconds >= max(1, int(timeout)) - 0.5)


def timeout_wrapped(command: str, timeout: float | None) -> list[str]:
    """argv that runs `command` in bash, killed after `timeout` seconds (coreutils timeout)."""
    if timeout is None:
        return ["bash", "-c", command]
    return ["timeout", "-s", "KILL", f"{max(1, int(timeout))}", "bash", "-c", command]


class LocalEnvironment:
    """Runs commands in a host folder. For tests and for trusted, local tools only."""

    def __init__(self, workdir: str | os.PathLike[str], env: dict[str, str] | None = None):
        self.workdir = str(workdir)
        self._env = {**os.environ, **(env or {})}

    def exec(self, command: str, timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        start = time.monotonic()
        proc = subprocess.run(
            timeout_wrapped(command, timeout),
            cwd=workdir or self.workdir,
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        seconds = time.monotonic() - start
        return ExecResult(
            exit_code=proc.returncode,
            output=proc.stdout.decode("utf-8", errors="replace"),
            timed_out=killed_for_time(proc.returncode, seconds, timeout),
            seconds=seconds,
        )

    def write_file(self, path: str, content: str | bytes) -> None:
        target = Path(path) if os.path.isabs(path) else Path(self.workdir) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        target.write_bytes(data)

    def open_shell(self) -> ShellSession:
        from evalharness.shell import open_shell

        return open_shell(self)
