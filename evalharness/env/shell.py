"""A persistent bash session in an environment: one bash process serves many commands.

An agent runs hundreds of commands per task, and each `docker exec` costs tens of
milliseconds; here a command is one write to bash's stdin and one read of its output, and
`cd`, `export` and shell functions carry over to the next command, as in a terminal.

Protocol (the same over both transports, a container exec socket or a local pipe), to a
bash whose stderr is its stdout: each command is sent as one line,
`IFS= LC_ALL=C read -r -d '' -N <bytes> __eh_cmd; eval "$__eh_cmd" </dev/null; __eh_done <seq>`
(with `builtin` before read, eval and printf, in case a command defines functions by those names),
followed by the command's bytes, which `read` takes whole (bash reads its own input one
byte per system call, about 3 us a byte, so a long command is not sent as shell text).
`__eh_done` prints a sentinel line `\\n<marker> <seq> <exit code>` whose marker holds a
per-session random nonce, printed from two halves so that neither what bash echoes under
`set -v`/`set -x` nor the function's own source contains it. Everything before the
sentinel is the command's output; the newline the sentinel starts with is ours, so output
without a trailing newline comes back as it was.

On timeout, what the command started (processes of the shell's session or below the
shell, started since the command was sent) is killed from a second process, and SIGUSR1
makes the shell leave the loop or function it is running itself (`trap 'break; return'
USR1`), so the session, its cwd and its environment survive. Commands after the one that
timed out on the same line may still run (they are killed the same way while the timeout
is handled). If the shell cannot be brought back, or a command ends it (`exit`, `exec`,
`kill $$`), the next command starts a fresh session in the workdir.
"""

from __future__ import annotations

import math
import re
import secrets
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Callable

from evalharness.env.base import Environment, ExecResult
from evalharness.env.transport import BASH_ARGV, ShellError, Transport, readable  # noqa: F401 - BASH_ARGV re-exported
from evalharness.core.errors import UserError

DEFAULT_MAX_OUTPUT_BYTES = 1 << 20
TIMEOUT_EXIT_CODE = 124
# Settings that keep tools from waiting for a human: pagers, prompts, editors.
NON_INTERACTIVE_ENV = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "SYSTEMD_PAGER": "",
    "LESS": "-R",
    "TERM": "dumb",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": "true",
    "EDITOR": "true",
    "DEBIAN_FRONTEND": "noninteractive",
    "PIP_NO_INPUT": "1",
    "PIP_PROGRESS_BAR": "off",
}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Runs in a second process (a `docker exec`, or a local bash) next to the session's shell.
# Kills the processes of the shell's session, or below the shell, that started at or after
# `since` (microseconds since the epoch; 0: all of them). `mode` says what else: "int" sends
# the shell SIGUSR1 so it breaks out of its own loops, "all" kills the shell too, "gone"
# (the shell has exited; its pid may be reused) leaves that pid alone. A process's start
# time in /proc counts clock ticks since boot: the boot's epoch time is now minus uptime.
# Only bash and /proc are needed (and `date` for bash < 5), so any image with bash will do.
KILL_SCRIPT = r"""
shell=$1 since=$2 mode=$3
(( shell > 1 )) || exit 2
read -r up _ < /proc/uptime
now=${EPOCHREALTIME:-$(date +%s.%N | cut -c1-17)}
now=${now/[.,]/} up=${up/./}
hz=$(getconf CLK_TCK 2>/dev/null); hz=${hz:-100}
if (( since <= 0 )); then min=0; else
  min=$(( (since - (10#$now - 10#$up * 10000)) * hz / 1000000 - 1 ))
fi
declare -A ppid=() sid=() start=()
for f in /proc/[0-9]*/stat; do
  read -r line < "$f" 2>/dev/null || continue
  p=${line%% *}
  set -- ${line##*) }
  ppid[$p]=$2 sid[$p]=$4 start[$p]=${20}
done
victims=()
for p in "${!ppid[@]}"; do
  (( p == shell || p == $$ )) && continue
  (( ${start[$p]} >= min )) || continue
  mine=0
  if (( ${sid[$p]} == shell )); then mine=1; else
    q=${ppid[$p]} n=0
    while (( q > 1 && n < 64 )); do
      if (( q == shell )); then mine=1; break; fi
      q=${ppid[$q]:-0} n=$((n + 1))
    done
  fi
  (( mine )) && victims+=("$p")
done
[[ $mode == int ]] && kill -USR1 "$shell" 2>/dev/null
(( ${#victims[@]} )) && kill -KILL "${victims[@]}" 2>/dev/null
[[ $mode == all ]] && kill -KILL "$shell" 2>/dev/null
echo "${#victims[@]}"
"""


class _Capture:
    """One command's output as it streams in: bounded (head and tail kept), searched for the sentinel.

    Bytes stay in `buf` while a sentinel might start in them (at or after `scan`); beyond
    `tail_limit`, earlier bytes move to `head` (up to `head_limit`), and what does not fit
    there is only counted in `cut`.
    """

    def __init__(self, limit: int, initial: bytes = b""):
        self.head_limit = limit // 2
        self.tail_limit = limit - self.head_limit
        self.head = bytearray()
        self.buf = bytearray(initial)
        self.cut = 0
        self.scan = 0

    def feed(self, data: bytes) -> None:
        self.buf += data

    def settle(self, scanned_to: int) -> None:
        """No sentinel starts before `scanned_to`: bytes before it may leave `buf`."""
        self.scan = max(self.scan, scanned_to)
        excess = self.scan - self.tail_limit  # bytes from `scan` on may be the sentinel: not counted
        if excess <= 0:
            return
        kept = min(max(0, self.head_limit - len(self.head)), excess)
        self.head += self.buf[:kept]
        self.cut += excess - kept
        del self.buf[:excess]
        self.scan -= excess

    def output(self, end: int) -> bytes:
        body = bytes(self.buf[:end])
        if not self.cut:
            return bytes(self.head) + body
        return bytes(self.head) + f"\n[... {self.cut} bytes of output cut ...]\n".encode() + body


@dataclass(frozen=True)
class _Outcome:
    kind: str  # "done" (sentinel seen) | "eof" (the shell ended) | "timeout"
    exit_code: int = 0
    output: bytes = b""


class ShellSession:
    """One bash process, many commands (see the module docstring). Not thread-safe, except close()."""

    def __init__(
        self,
        start: Callable[[str], Transport],
        workdir: str,
        env_vars: dict[str, str] | None = None,
        *,
        max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
        start_timeout: float = 60.0,
        kill_rounds: int = 20,
    ):
        for name in env_vars or {}:
            if not _NAME.match(name):
                raise UserError(f"shell environment variable name {name!r} is not a valid identifier")
        self.workdir = workdir
        self.max_output_bytes = max(1024, max_output_bytes)
        self.restarts = 0  # fresh shells started after the first (exit, kill, unrecoverable timeout)
        self._start_transport = start
        self._env_vars = {**NON_INTERACTIVE_ENV, **(env_vars or {})}
        self._start_timeout = start_timeout
        self._kill_rounds = kill_rounds
        self._marker_halves = ("__EHSH_", secrets.token_hex(12))
        self._needle = b"\n" + "".join(self._marker_halves).encode() + b" "
        self._transport: Transport | None = None
        self._pid = 0
        self._seq = 0
        self._leftover = b""
        self._closed = False
        self._running = False  # a command is in flight (close() from another thread kills from outside)
        self._start()

    # ---- public --------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        """The shell's process id (as the container sees it, for Docker)."""
        return self._pid

    def run(self, command: str, timeout: float | None = 60.0) -> ExecResult:
        """Run `command` in the session's bash, stdin from /dev/null, stderr merged into stdout.

        `timeout` (seconds; None: no limit) kills what the command started and returns
        timed_out=True, exit code 124 and the output so far; the session stays usable.
        """
        self._running = True  # set before reading _closed, which close() sets before reading this
        if self._closed:
            raise ShellError("the shell session is closed")
        if "\0" in command:
            raise ValueError("a shell command cannot contain a NUL character")
        started = time.monotonic()
        self._ensure_alive()
        self._seq += 1
        seq = self._seq
        body = command.encode("utf-8", "surrogateescape")
        line = _framed(body, f'builtin eval "$__eh_cmd" </dev/null; __eh_done {seq}')
        capture = _Capture(self.max_output_bytes, self._take_leftover())
        sent_us = time.time_ns() // 1000  # wall clock: the kill script compares it with /proc start times
        try:
            self._transport.send(line)
        except OSError:  # it died between commands (a background job killed it): once more, fresh
            self._drop(kill="gone")
            self._ensure_alive()
            sent_us = time.time_ns() // 1000
            self._transport.send(line)
        outcome = self._wait(capture, {seq}, math.inf if timeout is None else started + max(0.0, timeout))
        if outcome.kind == "timeout":
            outcome = self._interrupt(capture, seq, sent_us)
            self._running = False
            return self._result(TIMEOUT_EXIT_CODE, outcome.output, started, timed_out=True)
        self._running = False
        return self._result(outcome.exit_code, outcome.output, started)

    def close(self) -> None:
        """Kill the shell and everything it started; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        if not self._close_from_inside():
            self._drop(kill="all")

    def _close_from_inside(self) -> bool:
        """Between commands, the session's own shell starts the kill script (as a child bash, which
        outlives the shell it kills) and the script says when it is done: no second process from
        outside (for Docker a `docker exec`, ~70 ms of CPU in the harness, the engine and the
        container, against ~25 ms this way). False, with the shell left to the caller, when a
        command is running (in another thread) or the script did not say it was done within 5 s."""
        transport, pid = self._transport, self._pid
        if transport is None or not pid or self._running:
            return False
        first, second = self._marker_halves
        body = f"{KILL_SCRIPT}builtin printf '%s%s closed\\n' {first} {second}\n".encode()
        # /proc/$$/exe: this same bash, whatever PATH says
        line = _framed(body, f'builtin command /proc/$$/exe -c "$__eh_cmd" eh-kill {pid} 0 all </dev/null')
        done = f"{first}{second} closed\n".encode()
        seen = b""
        deadline = time.monotonic() + 5
        try:
            transport.send(line)
            while (remaining := deadline - time.monotonic()) > 0:
                if not readable(transport, remaining):
                    continue
                data = transport.recv()
                if data is None:  # ended without saying so: the caller makes sure
                    return False
                seen = seen[-len(done):] + data
                if done in seen:
                    self._transport = None
                    transport.close()
                    return True
        except (OSError, ValueError):
            pass
        return False

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # ---- the shell's life ------------------------------------------------------------------
    def _start(self) -> None:
        self._pid = 0  # unknown until the new shell says it
        transport = self._start_transport(self.workdir)
        first, second = self._marker_halves
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self._env_vars.items())
        setup = (
            "exec 2>&1\n"
            f"export {exports}\n"
            "trap 'break 1000 2>/dev/null; return 124 2>/dev/null' USR1\n"
            f"__eh_done() {{ local __eh_rc=$?; builtin printf '\\n%s%s %s %d\\n' {first} {second} \"$1\" \"$__eh_rc\"; }}\n"
            "trap '__eh_done exit' EXIT\n"  # says at once that `exit` ended the shell
            "echo $$; __eh_done 0\n"
        )
        self._transport, self._seq, self._leftover = transport, 0, b""
        try:
            transport.send(setup.encode())
            outcome = self._wait(_Capture(self.max_output_bytes), {0}, time.monotonic() + self._start_timeout)
        except OSError as exc:
            outcome = _Outcome("eof", -1, str(exc).encode())
        if outcome.kind != "done":
            text = outcome.output.decode("utf-8", errors="replace").strip()
            self._drop(kill="all" if outcome.kind == "timeout" else None)
            raise ShellError(f"bash did not start ({outcome.kind}, exit code {outcome.exit_code}): {text[-500:]}")
        self._pid = int(outcome.output.split()[-1])

    def _ensure_alive(self) -> None:
        if self._transport is not None:
            self._drain()
        if self._transport is None:
            self._start()
            self.restarts += 1

    def _drain(self) -> None:
        """Keep output that came between commands (background jobs); notice a shell that died."""
        while readable(self._transport, 0):
            data = self._transport.recv()
            if data is None or self._needle + b"exit " in self._leftover[-len(self._needle) - 16:] + data:
                self._drop(kill="gone")  # ended (its EXIT trap spoke), or is ending
                return
            self._leftover = (self._leftover + data)[-self.max_output_bytes:]

    def _take_leftover(self) -> bytes:
        data, self._leftover = self._leftover, b""
        return data

    def _drop(self, kill: str | None = None) -> None:
        """Forget the current shell (the next command starts a fresh one); `kill`: a KILL_SCRIPT mode
        for what it leaves behind ("all" with the shell, "gone" when the shell has exited)."""
        transport, self._transport = self._transport, None
        if transport is None:
            return
        if kill and self._pid:
            try:
                transport.helper(["bash", "-c", KILL_SCRIPT, "eh-kill", str(self._pid), "0", kill])
            except Exception:  # the container may be gone: closing below ends what is left
                pass
        transport.close()

    # ---- reading -------------------------------------------------------------------------
    def _wait(self, capture: _Capture, wanted: set[int], deadline: float) -> _Outcome:
        """Read until a sentinel whose seq is in `wanted`, the end of the stream, or `deadline`."""
        transport = self._transport
        while True:
            found = self._find_sentinel(capture, wanted)
            if found is not None:
                return self._ended(found) if found.kind == "eof" else found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Outcome("timeout", output=capture.output(len(capture.buf)))
            try:
                ready = readable(transport, None if remaining == math.inf else remaining)
            except (OSError, ValueError) as exc:  # closed under us (close() from another thread)
                raise ShellError(f"the shell session was closed: {exc}") from exc
            if not ready:
                continue
            data = transport.recv()
            if data is None:
                return self._ended(_Outcome("eof", -1, capture.output(len(capture.buf))), announced=False)
            capture.feed(data)

    def _ended(self, outcome: _Outcome, announced: bool = True) -> _Outcome:
        """The shell is exiting: end its background jobs (out of reach from now on), take its exit code.

        `announced`: its EXIT trap printed a sentinel; the stream then stays open while
        background jobs hold it (Docker waits for them), so they are killed first.
        """
        transport = self._transport
        try:
            if self._pid:
                transport.helper(["bash", "-c", KILL_SCRIPT, "eh-kill", str(self._pid), "0", "gone"])
        except Exception:  # the container may be gone
            pass
        if announced:
            deadline = time.monotonic() + 5
            while (remaining := deadline - time.monotonic()) > 0:
                if readable(transport, remaining) and transport.recv() is None:
                    break
        code = transport.exit_code()
        self._drop()
        # An EXIT trap sees the status of the last command, not the signal that ends bash: prefer the real one.
        return _Outcome("eof", outcome.exit_code if code is None else code, outcome.output)

    def _find_sentinel(self, capture: _Capture, wanted: set[int]) -> _Outcome | None:
        buf, needle = capture.buf, self._needle
        while True:
            at = buf.find(needle, capture.scan)
            if at < 0:
                capture.settle(max(0, len(buf) - len(needle) + 1))
                return None
            capture.settle(at)
            at = capture.scan
            end = buf.find(b"\n", at + len(needle))
            if end < 0:
                return None  # the rest of the sentinel line is still on its way
            fields = bytes(buf[at + len(needle):end]).decode(errors="replace").split()
            seq, code = (fields[0], int(fields[1])) if len(fields) == 2 else ("", 0)
            if seq == "exit":  # the shell is ending (`exit`): its stream may stay open while jobs hold it
                return _Outcome("eof", code, capture.output(at))
            if seq.isdigit() and int(seq) in wanted:
                self._leftover = bytes(buf[end + 1:])
                return _Outcome("done", code, capture.output(at))
            del buf[at:end + 1]  # the sentinel of a command given up on: not output

    # ---- timeouts --------------------------------------------------------------------------
    def _interrupt(self, capture: _Capture, seq: int, sent_us: int) -> _Outcome:
        """Kill what command `seq` started until the shell reads input again; else replace the shell."""
        self._seq += 1
        sync = self._seq
        try:  # queued behind the command: answers as soon as the shell reads input again
            self._transport.send(f"__eh_done {sync}\n".encode())
        except OSError:
            pass
        kill = ["bash", "-c", KILL_SCRIPT, "eh-kill", str(self._pid), str(sent_us), "int"]
        for _ in range(self._kill_rounds):
            try:
                self._transport.helper(kill)
            except Exception:  # the container went away: nothing left to wait for
                break
            outcome = self._wait(capture, {seq, sync}, time.monotonic() + 0.1)
            if outcome.kind != "timeout":
                return outcome
        output = capture.output(len(capture.buf))
        self._drop(kill="all")
        note = f"\n[the shell did not recover from the timeout; the next command starts a new one in {self.workdir}]\n"
        return _Outcome("timeout", TIMEOUT_EXIT_CODE, output + note.encode())

    def _result(self, code: int, output: bytes, started: float, timed_out: bool = False) -> ExecResult:
        return ExecResult(
            exit_code=code,
            output=output.decode("utf-8", errors="replace"),
            timed_out=timed_out,
            seconds=time.monotonic() - started,
        )


class OpeningShell:
    """A shell session opened in a background thread; `run` and `close` wait for it.

    Opening a session is a `docker exec` (and, in a conda image, two more to read the env's
    variables): ~0.1 s alone, a second or more when dozens of sessions open at once. An agent
    starts this before its first model call, which takes seconds, so the call hides it. An
    error of the opening (ShellError, or Docker's) is raised by the first `run`.
    """

    def __init__(self, open_session: Callable[[], ShellSession]):
        self._session: ShellSession | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._open, args=(open_session,), name="shell-open", daemon=True)
        self._thread.start()

    def _open(self, open_session: Callable[[], ShellSession]) -> None:
        try:
            self._session = open_session()
        except BaseException as exc:  # noqa: BLE001 - raised again by the caller's first run()
            self._error = exc

    def session(self) -> ShellSession:
        """The open session, once the opening has ended; raises what the opening raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._session

    def run(self, command: str, timeout: float | None = 60.0) -> ExecResult:
        return self.session().run(command, timeout=timeout)

    def close(self) -> None:
        self._thread.join()
        if self._session is not None:
            self._session.close()

    def __enter__(self) -> OpeningShell:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def _framed(body: bytes, then: str) -> bytes:
    """The bytes that make the session's shell read `body` whole into $__eh_cmd and then run the
    shell text `then` (the protocol in the module docstring)."""
    return f"IFS= LC_ALL=C builtin read -r -d '' -N {len(body)} __eh_cmd; {then}\n".encode() + body


def open_shell(
    env: Environment,
    *,
    workdir: str | None = None,
    env_vars: dict[str, str] | None = None,
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES,
) -> ShellSession:
    """A shell session in `env`, started now, over the transport the environment supplies
    (`env.shell_transport(cwd)`): this module knows the protocol, never the environment kinds."""
    start = getattr(env, "shell_transport", None)
    if start is None:
        raise TypeError(f"no shell session for environment type {type(env).__name__}: it has no shell_transport(cwd)")
    return ShellSession(start, workdir or env.workdir, env_vars, max_output_bytes=max_output_bytes)
