"""Containers of an instance image, used as an `Environment` by agents and scorers."""

from __future__ import annotations

import io
import posixpath
import shlex
import tarfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import docker
import docker.errors

from evalharness.environment import TIMEOUT_EXIT_CODES, ExecResult, timeout_wrapped
from evalharness.images import LABEL, WORKDIR


@dataclass(frozen=True)
class ContainerLimits:
    """Resource and isolation settings of every container the harness starts."""

    network: bool = False  # no network unless asked: agents and tests run offline
    memory: str | None = None  # e.g. "4g"
    cpus: float | None = None
    pids: int | None = 4096


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
        output = self._api.exec_start(exec_id)
        code = self._api.exec_inspect(exec_id)["ExitCode"]
        return ExecResult(
            exit_code=code,
            output=output.decode("utf-8", errors="replace"),
            timed_out=timeout is not None and code in TIMEOUT_EXIT_CODES,
            seconds=time.monotonic() - start,
        )

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

    def open_shell(self):
        """A persistent bash session at workdir (evalharness.shell): milliseconds per command."""
        from evalharness.shell import open_shell

        return open_shell(self)


@contextmanager
def running_container(
    client: docker.DockerClient,
    image: str,
    *,
    run_id: str,
    instance_id: str,
    purpose: str,
    limits: ContainerLimits = ContainerLimits(),
) -> Iterator[DockerEnvironment]:
    """Start a container of `image` that idles until removed; always removed on exit."""
    kwargs = {}
    if limits.memory:
        kwargs["mem_limit"] = limits.memory
    if limits.cpus:
        kwargs["nano_cpus"] = int(limits.cpus * 1e9)
    if limits.pids:
        kwargs["pids_limit"] = limits.pids
    container = client.containers.run(
        image,
        command=["sleep", "infinity"],
        detach=True,
        init=True,
        working_dir=WORKDIR,
        network_mode=None if limits.network else "none",
        labels={LABEL: "1", f"{LABEL}.run_id": run_id, f"{LABEL}.instance": instance_id, f"{LABEL}.purpose": purpose},
        **kwargs,
    )
    try:
        yield DockerEnvironment(container)
    finally:
        try:
            container.remove(force=True)
        except docker.errors.NotFound:
            pass


def remove_run_containers(client: docker.DockerClient, run_id: str) -> int:
    """Force-remove every container of `run_id` (found by label); returns how many."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{LABEL}.run_id={run_id}"}):
        try:
            container.remove(force=True)
            removed += 1
        except docker.errors.NotFound:
            pass
    return removed
