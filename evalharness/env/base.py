"""A live environment an agent or a scorer works in: run commands, write files.

The kinds share one small interface: `DockerEnvironment` (a container of the instance
image; docker.py) and `LocalEnvironment` (a folder on the host, for tests that need no
Docker; local.py). A new kind implements it and registers in `evalharness.env.ENVIRONMENTS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evalharness.env.shell import ShellSession
    from evalharness.env.transport import Transport

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
        """A persistent bash session at workdir (evalharness.env.shell): cwd and env carry over."""
        ...

    def shell_transport(self, cwd: str) -> Transport:
        """A bash process at `cwd` wired for a shell session (evalharness.env.transport.Transport):
        each environment kind supplies its own, so the shell needs no change for a new kind."""
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
