"""Launch a local OpenAI-compatible server (vLLM or SGLang) for a registry model, and stop it.

    with serve(config, log_path=Path("vllm.log")) as base_url:
        ...  # the server answers GET /v1/models and lists config.model

The server runs in its own process group (vLLM forks workers), logs to a file, and is
stopped with SIGTERM to the whole group, then SIGKILL, however the block is left. A server
that dies while loading fails at once with the end of its log, not after the deadline.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

from evalharness.core.errors import UserError
from evalharness.model.registry import ModelConfig, ServeConfig

LOG_TAIL_LINES = 30


class ServeError(UserError):
    """The server could not be started (missing, crashed, never ready): says why, with its log's end."""


def build_command(config: ModelConfig, serve: ServeConfig, command: Sequence[str] | None = None) -> list[str]:
    """The launch command: an override (with {placeholders} filled in), or the engine's own.
    Native tool mode adds the qwen3_coder tool-call parser; qwen3_xml mode leaves it out."""
    override = list(command) if command else list(serve.command)
    if override:
        return [_fill(arg, config, serve) for arg in override]
    native = config.tool_mode == "native"
    if serve.engine == "vllm":
        cmd = ["vllm", "serve", serve.hf_model, "--host", serve.host, "--port", str(serve.port),
               "--served-model-name", config.model, "--tensor-parallel-size", str(serve.tensor_parallel_size)]
        if serve.data_parallel_size > 1:
            cmd += ["--data-parallel-size", str(serve.data_parallel_size)]
        if serve.enable_expert_parallel:
            cmd += ["--enable-expert-parallel"]
        if serve.max_model_len:
            cmd += ["--max-model-len", str(serve.max_model_len)]
        if native:
            cmd += ["--enable-auto-tool-choice", "--tool-call-parser", "qwen3_coder"]
    else:  # sglang
        cmd = [serve.python or sys.executable, "-m", "sglang.launch_server", "--model-path", serve.hf_model,
               "--host", serve.host, "--port", str(serve.port), "--served-model-name", config.model,
               "--tp", str(serve.tensor_parallel_size)]
        if serve.data_parallel_size > 1:
            cmd += ["--dp", str(serve.data_parallel_size)]
        if serve.max_model_len:
            cmd += ["--context-length", str(serve.max_model_len)]
        if native:
            cmd += ["--tool-call-parser", "qwen3_coder"]
    return cmd + list(serve.extra_args)


def parse_command(text: str) -> list[str]:
    """A --serve-command string, split as a shell would (no shell runs it)."""
    try:
        parts = shlex.split(text)
    except ValueError as exc:
        raise UserError(f"--serve-command: {exc}") from None
    if not parts:
        raise UserError("--serve-command is empty")
    return parts


class Server:
    """One launched server process (group). Use `serve(...)`, or start()/stop() by hand."""

    def __init__(
        self,
        config: ModelConfig,
        *,
        log_path: Path,
        command: Sequence[str] | None = None,
        startup_timeout: float | None = None,
        stop_timeout: float = 30.0,
        poll_interval: float = 0.5,
        env: Mapping[str, str] | None = None,
    ):
        if config.serve is None:
            raise UserError(
                f"model {config.name!r} has no [models.{config.name}.serve] section: it cannot be launched locally"
            )
        self.config = config
        self.serve = config.serve
        self.log_path = Path(log_path)
        self.command = build_command(config, self.serve, command)
        self.startup_timeout = self.serve.startup_timeout if startup_timeout is None else startup_timeout
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.env = {**(os.environ if env is None else env), **self.serve.env}
        self.base_url = self.serve.base_url
        self.process: subprocess.Popen | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> str:
        """Launch and wait until /v1/models lists the model; returns the base URL."""
        self._check_installed()
        if port_open(self.serve.host, self.serve.port):
            raise ServeError(
                f"{self.serve.host}:{self.serve.port} is already in use (another server?); "
                f"stop it, or set a different port in [models.{self.config.name}.serve]"
            )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            log.write(f"$ {shlex.join(self.command)}\n".encode())
            log.flush()
            try:
                self.process = subprocess.Popen(
                    self.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    env=self.env, start_new_session=True,
                )
            except OSError as exc:
                raise ServeError(f"could not start {self.command[0]}: {exc}") from None
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.base_url

    def stop(self) -> int | None:
        """SIGTERM to the process group, SIGKILL after stop_timeout; returns the exit code."""
        proc = self.process
        if proc is None:
            return None
        pgid = proc.pid  # start_new_session: the leader's pid is the group id
        _signal_group(pgid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            pass
        # Workers may outlive the leader: kill whatever is left of the group.
        if _group_alive(pgid):
            _signal_group(pgid, signal.SIGTERM)
            deadline = time.monotonic() + min(5.0, self.stop_timeout)
            while _group_alive(pgid) and time.monotonic() < deadline:
                time.sleep(0.05)
            _signal_group(pgid, signal.SIGKILL)
        code = proc.wait()
        self.process = None
        return code

    def wait(self) -> int:
        """Block until the server exits (the foreground `evalharness serve`)."""
        if self.process is None:
            raise RuntimeError("server not started")
        return self.process.wait()

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.rstrip("\n").splitlines()[-lines:])

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------
    def _check_installed(self) -> None:
        exe = self.command[0]
        if shutil.which(exe, path=self.env.get("PATH")) is None and not Path(exe).is_file():
            if self.serve.command or exe not in ("vllm",):
                hint = "install it, or fix the command ([serve] command / --serve-command)"
            else:
                hint = "pip install vllm (on a machine with GPUs), or give the command with --serve-command"
            raise UserError(f"cannot serve {self.config.name!r}: {exe!r} not found on PATH; {hint}")
        builtin_sglang = self.serve.engine == "sglang" and self.command[1:3] == ["-m", "sglang.launch_server"]
        if builtin_sglang and not self.serve.command:
            if exe == sys.executable and find_spec("sglang") is None:
                raise UserError(
                    f"cannot serve {self.config.name!r}: SGLang is not installed for {exe}; "
                    "pip install 'sglang[all]', or set [serve] python to an interpreter that has it"
                )

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/models"
        last = "no answer yet"
        while True:
            code = self.process.poll()
            if code is not None:
                raise ServeError(
                    f"{self.command[0]} exited with code {code} before it was ready "
                    f"(log: {self.log_path}); its last lines:\n{self.log_tail()}"
                )
            ready, last = _models_listed(url, self.config.model, last)
            if ready:
                return
            if time.monotonic() >= deadline:
                raise ServeError(
                    f"{self.command[0]} did not answer GET {url} with model {self.config.model!r} within "
                    f"{self.startup_timeout:g}s ({last}; log: {self.log_path}); its last lines:\n{self.log_tail()}"
                )
            time.sleep(self.poll_interval)


@contextmanager
def serve(
    config: ModelConfig,
    *,
    log_path: Path,
    command: Sequence[str] | None = None,
    startup_timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run the model's server for the duration of the block; yields its base URL."""
    server = Server(config, log_path=log_path, command=command, startup_timeout=startup_timeout, env=env)
    server.start()
    try:
        yield server.base_url
    finally:
        server.stop()


def _fill(arg: str, config: ModelConfig, serve: ServeConfig) -> str:
    values = {
        "host": serve.host, "port": str(serve.port), "model": config.model, "hf_model": serve.hf_model,
        "tp": str(serve.tensor_parallel_size), "dp": str(serve.data_parallel_size),
        "max_model_len": str(serve.max_model_len or ""),
    }
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), arg)


def _models_listed(url: str, model: str, last: str) -> tuple[bool, str]:
    """(ready, what was seen): ready once the server answers 200 and lists `model`."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return False, f"it answered HTTP {exc.code}"
    except (urllib.error.URLError, OSError):
        return False, last  # not listening yet (or still loading): keep the last thing seen
    except ValueError:
        return False, "it answered something that is not JSON"
    ids = [m.get("id") for m in body.get("data", []) if isinstance(m, dict)] if isinstance(body, dict) else []
    if model in ids:
        return True, "ready"
    return False, f"it lists {ids} but not {model!r}"


def port_open(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at host:port (a server up, a port taken)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc (Linux)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _group_alive(pgid: int) -> bool:
    if Path("/proc/self/stat").is_file():
        return bool(group_members(pgid))
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
