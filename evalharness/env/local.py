"""A folder on the host as an environment: for tests that need no Docker, and trusted local tools."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from evalharness.env.base import ExecResult, killed_for_time, timeout_wrapped
from evalharness.env.shell import ShellSession, open_shell
from evalharness.env.transport import BASH_ARGV, ShellError


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
        return open_shell(self)

    def shell_transport(self, cwd: str) -> LocalTransport:
        return LocalTransport(cwd, dict(self._env))  # the folder's environment, the one exec() uses


class LocalTransport:
    """Bash as a child process of the harness, in a session of its own."""

    def __init__(self, workdir: str, environ: dict[str, str]):
        try:
            self.proc = subprocess.Popen(
                BASH_ARGV, cwd=workdir, env=environ, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        except OSError as exc:
            raise ShellError(f"cannot start bash in {workdir}: {exc}") from exc
        self._out = self.proc.stdout.fileno()
        self._in = self.proc.stdin.fileno()

    def fileno(self) -> int:
        return self._out

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._in, view):]

    def recv(self) -> bytes | None:
        return os.read(self._out, 1 << 16) or None

    def exit_code(self) -> int | None:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None
        return 128 - code if code < 0 else code

    def helper(self, argv: list[str]) -> str:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        return done.stdout.decode("utf-8", errors="replace")

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()
            except OSError:
                pass
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
