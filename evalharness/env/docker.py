"""Containers of an instance image, used as an `Environment` by agents and scorers.

Every container the harness starts for an agent or a test run is sandboxed (issue 7): never
privileged, all capabilities dropped but the few a root user needs to install and test a repo
(`KEPT_CAPABILITIES`), `no-new-privileges`, no network unless asked, no volumes or binds (but
an installed agent's read-only folder with the model gateway's socket, `SocketMount`), and
memory / pids (and optionally CPU) limits (`ContainerLimits`). Running into a limit is not
fatal: `env.limit_hits` reads how often it happened from the container's cgroup counters, and
the runner records it on the instance. Image builds (env/images/) are a separate path.
"""

from __future__ import annotations

import io
import logging
import posixpath
import select
import shlex
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import docker
import docker.errors
import docker.types
from docker.utils import parse_bytes

from evalharness.env.base import ExecResult, killed_for_time, timeout_wrapped
from evalharness.core.errors import UserError
from evalharness.env.images import LABEL, WORKDIR
from evalharness.env.shell import ShellSession, open_shell
from evalharness.env.transport import BASH_ARGV, ShellError

log = logging.getLogger(__name__)

# Capabilities kept (after dropping ALL) for the root user commands run as. Docker's default set
# minus NET_RAW (raw sockets: spoofing), MKNOD (device nodes), SYS_CHROOT, AUDIT_WRITE, SETPCAP,
# SETFCAP and NET_BIND_SERVICE (Docker lets any user bind ports below 1024 in a container's own
# network namespace: net.ipv4.ip_unprivileged_port_start=0). What is left is what a root user
# needs so that installs and tests behave as they do under SWE-bench's default containers:
#   CHOWN, FOWNER, FSETID  tar/pip/cp -p as root restore owners, then modes and mtimes of files
#                          now owned by another uid; setgid bits survive; tests chown/chmod/utime
#   DAC_OVERRIDE           root reads and writes files whatever their mode (tests that expect
#                          root to bypass permissions, or skip themselves for it, stay as written)
#   SETUID, SETGID         su / setpriv / os.setuid: tests and tools that drop to another user
#   KILL                   signal processes of such other users (and the shell's timeout kills)
KEPT_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID")
SECURITY_OPT = ("no-new-privileges",)  # setuid binaries can't gain what the set above lacks
# Container processes are the host OOM killer's first choice, before the harness and dockerd,
# should the containers together (or one with memory "none") exhaust the host.
OOM_SCORE_ADJ = 500

DEFAULT_MEMORY = "4g"  # per container; SWE-bench test runs stay well under it
DEFAULT_PIDS = 4096  # processes + threads per container; a fork bomb stops here
MIN_MEMORY = 6 * 1024 * 1024  # Docker refuses less
_UNLIMITED = {"0", "none", "unlimited", "no", "off", "-1"}


@dataclass(frozen=True)
class ContainerLimits:
    """Resource and isolation settings of every agent and test container the harness starts.

    Defaults: no network; memory 4g (RAM, no swap on top; page cache counts but is reclaimed
    first; over it the kernel kills the biggest process in the container only); pids 4096;
    a CPU quota of the host's cores. That quota caps nothing, but without one a cgroup v1
    host shows programs that size themselves from cgroups one CPU (cpu.shares 1024): pylint
    then skips its parallel tests and SWE-bench's verdicts change. None means "the default";
    0, "0" or "none" means unlimited. Values are normalised on construction (memory: a
    Docker size string or "none"; pids: int, 0 = unlimited; cpus: float, 0 = no quota, None =
    the host's cores), so reconstructing from the fields is a no-op.
    """

    network: bool = False  # no network unless asked: agents and tests run offline
    memory: str | None = DEFAULT_MEMORY  # e.g. "4g", "512m"; "none": unlimited
    cpus: float | None = None  # e.g. 2 or 0.5; None: the host's cores; 0: no quota
    pids: int | None = DEFAULT_PIDS  # 0: unlimited

    def __post_init__(self) -> None:
        object.__setattr__(self, "network", bool(self.network))
        object.__setattr__(self, "memory", _normal_memory(self.memory))
        object.__setattr__(self, "cpus", _normal_cpus(self.cpus))
        object.__setattr__(self, "pids", _normal_pids(self.pids))

    @property
    def memory_bytes(self) -> int | None:
        """The memory limit in bytes; None: unlimited."""
        return None if self.memory == "none" else _parse_memory(self.memory)


def _is_unlimited(value) -> bool:
    return str(value).strip().lower() in _UNLIMITED


def _normal_memory(value) -> str:
    if value is None:
        return DEFAULT_MEMORY
    if _is_unlimited(value):
        return "none"
    text = str(value).strip().lower()
    _parse_memory(text)
    return text


def _parse_memory(text: str) -> int:
    try:
        size = parse_bytes(text)
    except (docker.errors.DockerException, ValueError) as exc:
        raise UserError(f"memory limit {text!r}: give a size like 512m or 4g, or none for no limit") from exc
    if size < MIN_MEMORY:
        raise UserError(f"memory limit {text!r} is below Docker's minimum of 6m")
    return size


def _normal_cpus(value) -> float | None:
    if value is None:
        return None
    if _is_unlimited(value):
        return 0.0
    try:
        cpus = float(value)
    except ValueError:
        raise UserError(f"cpu limit {value!r}: give a number of CPUs like 2 or 0.5, or none") from None
    if cpus in (0, -1):  # as for memory and pids, and Docker's own -1
        return 0.0
    if not 0 < cpus < float("inf"):
        raise UserError(f"cpu limit {value!r} must be positive (or none for no cap)")
    return cpus


def _normal_pids(value) -> int:
    if value is None:
        return DEFAULT_PIDS
    if _is_unlimited(value):
        return 0
    try:
        pids = int(str(value).strip())
    except ValueError:
        raise UserError(f"pids limit {value!r}: give a number of processes like 4096, or none") from None
    if pids < 0:
        raise UserError(f"pids limit {value!r} must be positive (or none for no limit)")
    return pids


class DockerEnvironment:
    def __init__(self, container, workdir: str = WORKDIR):
        self.container = container
        self.workdir = workdir
        self._api = container.client.api

    def exec(self, command: str, timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        start = time.monotonic()
        exec_id = self._api.exec_create(
            self.container.id, timeout_wrapped(command, timeout), workdir=workdir or self.workdir
        )["Id"]
        output = self._output(exec_id)
        code = self._exit_code(exec_id)
        seconds = time.monotonic() - start
        return ExecResult(
            exit_code=code,
            output=output.decode("utf-8", errors="replace"),
            timed_out=killed_for_time(code, seconds, timeout),
            seconds=seconds,
        )

    def _output(self, exec_id: str) -> bytes:
        """Everything the exec printed, read from its socket to the end. Not docker-py's own
        reader: on a retryable socket error (EAGAIN, EINTR) it ends the output as if at EOF, which
        a loaded machine turned into an empty output for a command that ran (a test log lost)."""
        raw = self._api.exec_start(exec_id, socket=True)
        sock = getattr(raw, "_sock", raw)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
        frames, out = bytearray(), bytearray()
        try:
            while True:
                poller.poll()  # no bound here: the command's own `timeout` ends it
                try:
                    chunk = sock.recv(1 << 16)
                except (BlockingIOError, InterruptedError, TimeoutError):
                    continue
                if not chunk:
                    return bytes(out)
                frames += chunk
                out += deframe(frames)
        finally:
            for close in (sock.close, getattr(raw, "close", None)):
                try:
                    if close is not None:
                        close()
                except OSError:
                    pass

    def _exit_code(self, exec_id: str) -> int:
        """The exec's exit code. On a loaded engine the inspect that follows the end of the output
        stream can still find the exec running (ExitCode null, the exit event not yet handled), so
        it waits for it a little; an exec that never reports one reads as -1, a failure."""
        for _ in range(100):
            state = self._api.exec_inspect(exec_id)
            if state.get("ExitCode") is not None and not state.get("Running"):
                return state["ExitCode"]
            time.sleep(0.05)
        return -1

    def write_file(self, path: str, content: str | bytes) -> None:
        if not posixpath.isabs(path):
            path = posixpath.join(self.workdir, path)
        data = content.encode() if isinstance(content, str) else content
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(posixpath.basename(path))
            info.size = len(data)
            info.mode = 0o644
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        directory = posixpath.dirname(path)
        try:
            self.container.put_archive(directory, buf.getvalue())
        except docker.errors.NotFound:  # the folder is missing: make it, then try once more
            self.exec("mkdir -p " + shlex.quote(directory))
            self.container.put_archive(directory, buf.getvalue())

    def open_shell(self) -> ShellSession:
        """A persistent bash session at workdir (evalharness.env.shell): milliseconds per command."""
        return open_shell(self)

    def shell_transport(self, cwd: str) -> DockerTransport:
        return DockerTransport(self.container, cwd)


@contextmanager
def running_container(
    client: docker.DockerClient,
    image: str,
    *,
    run_id: str,
    instance_id: str,
    purpose: str,
    limits: ContainerLimits = ContainerLimits(),
    mounts: Sequence[SocketMount] = (),
    network: str | None = None,
    run_key: str = "",
) -> Iterator[DockerEnvironment]:
    """Start a sandboxed container of `image` that idles until removed; always removed on exit.

    `mounts` are the only binds a container ever gets: read-only folders holding a Unix socket
    (an installed agent's route to the model gateway), never a host folder with data in it.
    `network`: an internal network of sidecars (sidecars.py) to join instead of none.

    create + start, not run: `run` pulls a missing image, which on an air-gapped site stalls
    and then blames the network for what is a removed image.
    """
    container = client.containers.create(
        image,
        command=["sleep", "infinity"],
        init=True,
        working_dir=WORKDIR,
        labels={**run_labels(run_id, instance_id, run_key), f"{LABEL}.purpose": purpose},
        **{**sandbox_options(client, limits), **({"network_mode": network} if network else {})},
        **({"mounts": [docker.types.Mount(m.target, str(m.source), type="bind", read_only=True) for m in mounts]}
           if mounts else {}),
    )
    try:
        container.start()
        yield DockerEnvironment(container)
    finally:
        try:
            container.remove(force=True, v=True)  # v: anonymous volumes an image's VOLUME made
        except docker.errors.NotFound:
            pass
        except docker.errors.APIError as exc:
            if exc.status_code != 409:  # 409: a sweep (Ctrl-C, the run's clean-up) is removing it already
                log.warning("could not remove container %s: %s", container.short_id, exc.explanation or exc)
        except docker.errors.DockerException as exc:  # the daemon is gone: keep the error that got us here
            log.warning("could not remove container %s: %s", container.short_id, str(exc)[:200])


@dataclass(frozen=True)
class SocketMount:
    """A host folder with a Unix socket in it, bound read-only at `target` (connecting to a
    socket needs no write access to its file system)."""

    source: str
    target: str


def sandbox_options(client: docker.DockerClient, limits: ContainerLimits) -> dict:
    """`containers.run` keyword arguments for the sandbox and the limits (no volumes, no binds)."""
    options: dict = {
        "privileged": False,
        "cap_drop": ["ALL"],
        "cap_add": list(KEPT_CAPABILITIES),
        "security_opt": list(SECURITY_OPT),
        "oom_score_adj": OOM_SCORE_ADJ,
        "network_mode": None if limits.network else "none",
        "pids_limit": limits.pids or -1,  # -1: unlimited, whatever the daemon's default
    }
    memory = limits.memory_bytes
    if memory:
        options["mem_limit"] = memory
        options["memswap_limit"] = memory  # no swap on top (ignored where swap isn't accounted)
    cpus = container_cpus(client, limits)
    if cpus:
        options["nano_cpus"] = int(cpus * 1e9)
    return options


def container_cpus(client: docker.DockerClient, limits: ContainerLimits) -> float:
    """The CPU quota a container gets under `limits` (0: none): the host's cores by default,
    a given limit capped at them (Docker refuses more than the host has)."""
    if limits.cpus == 0:
        return 0.0
    host = _host_cpus(client)
    if limits.cpus is None:
        return float(host or 0)
    return float(min(limits.cpus, host or limits.cpus))


def _host_cpus(client: docker.DockerClient) -> int | None:
    try:
        return int(client.info()["NCPU"])
    except Exception:  # noqa: BLE001 - then Docker says what it allows
        return None


def run_labels(run_id: str, instance_id: str, run_key: str = "") -> dict[str, str]:
    """The labels of a run's containers and networks (`run_key`: RunConfig.run_key)."""
    return {LABEL: "1", f"{LABEL}.run_id": run_id, f"{LABEL}.instance": instance_id,
            **({f"{LABEL}.run_key": run_key} if run_key else {})}


def remove_run_containers(client: docker.DockerClient, run_id: str, instance_id: str | None = None, *,
                          run_key: str = "") -> int:
    """Force-remove every container of `run_id` (of one instance of it, if given; of the run
    folder `run_key` names, if given), found by label, and then the sidecar networks of the
    same labels.

    Lists ids only (`containers.list` inspects each one and fails on one removed meanwhile); a
    container already being removed (HTTP 409) or that fails to go does not stop the sweep.
    Raises only when the engine can't list them.
    """
    import requests

    labels = ([f"{LABEL}.run_id={run_id}"] + ([f"{LABEL}.instance={instance_id}"] if instance_id else [])
              + ([f"{LABEL}.run_key={run_key}"] if run_key else []))
    found = [c["Id"] for c in client.api.containers(all=True, quiet=True, filters={"label": labels})]
    removed = 0
    for container in found:
        try:
            client.api.remove_container(container, force=True, v=True)
            removed += 1
        except docker.errors.NotFound:
            pass
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            if getattr(exc, "status_code", None) != 409:  # 409: being removed already
                log.warning("could not remove container %s of run %s: %s", container[:12], run_id, exc)
    # then the sidecar networks (sidecars.py) they were on
    for network in client.api.networks(filters={"label": labels}):
        try:
            client.api.remove_network(network["Id"])
        except (docker.errors.APIError, requests.exceptions.RequestException) as exc:
            log.warning("could not remove network %s of run %s: %s", network["Name"], run_id, exc)
    return removed


class DockerTransport:
    """Bash as a `docker exec` with stdin attached: one hijacked socket carries both ways.

    Without a TTY the engine multiplexes stdout and stderr in frames with an 8-byte header
    (stream, 0, 0, 0, big-endian length); the session merges stderr into stdout anyway,
    so the payloads are concatenated in order.
    """

    def __init__(self, container, workdir: str):
        self._api = container.client.api
        self._container_id = container.id
        try:
            self._exec_id = self._api.exec_create(
                self._container_id, BASH_ARGV, stdin=True, stdout=True, stderr=True, tty=False, workdir=workdir
            )["Id"]
            raw = self._api.exec_start(self._exec_id, socket=True)
        except docker.errors.APIError as exc:
            raise ShellError(f"cannot start bash in the container: {exc.explanation or exc}") from exc
        self._holder = raw  # keeps the HTTP response, and with it the connection, alive
        self._sock = getattr(raw, "_sock", raw)  # the socket under docker-py's SocketIO wrapper
        self._frames = bytearray()

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def recv(self) -> bytes | None:
        chunk = self._sock.recv(1 << 16)
        if not chunk:
            return None
        self._frames += chunk
        return deframe(self._frames)

    def exit_code(self) -> int | None:
        deadline = time.monotonic() + 5
        while True:
            try:
                info = self._api.exec_inspect(self._exec_id)
            except docker.errors.APIError:  # the container is gone
                return None
            if not info.get("Running") or time.monotonic() > deadline:
                return info.get("ExitCode")
            time.sleep(0.02)

    def helper(self, argv: list[str]) -> str:
        exec_id = self._api.exec_create(self._container_id, argv, stdout=True, stderr=True)["Id"]
        return self._api.exec_start(exec_id).decode("utf-8", errors="replace")

    def close(self) -> None:
        for close in (self._sock.close, getattr(self._holder, "close", None)):
            try:
                if close is not None:
                    close()
            except OSError:
                pass


def deframe(buf: bytearray) -> bytes:
    """The payloads of the whole frames at the start of `buf` (removed from it), in order.

    Without a TTY the engine multiplexes stdout and stderr in frames with an 8-byte header
    (stream, 0, 0, 0, big-endian length); both are wanted merged, so only payloads are kept."""
    out = bytearray()
    while len(buf) >= 8:
        size = int.from_bytes(buf[4:8], "big")
        if len(buf) < 8 + size:
            break
        out += buf[8:8 + size]
        del buf[:8 + size]
    return bytes(out)
