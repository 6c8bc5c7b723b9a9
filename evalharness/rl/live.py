"""One started environment of an instance: its container (running_container, labelled and
sandboxed as eval's) and the persistent shell the tools run in, opened before anyone asks."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import docker

from evalharness.env.docker import ContainerLimits, running_container
from evalharness.env.images import ImageBuilder
from evalharness.env.shell import ShellSession


@dataclass
class LiveEnv:
    instance_id: str
    env: object  # the Environment the tools use (a DockerEnvironment, or conda's wrapper of one)
    shell: ShellSession
    started_seconds: float  # container start + shell open
    _stack: ExitStack = field(repr=False, default_factory=ExitStack)

    @property
    def container_id(self) -> str:
        inner = getattr(self.env, "inner", self.env)
        return inner.container.id

    def close(self) -> None:
        """Remove the container (and with it every process the episode started)."""
        try:
            self.shell.close()
        finally:
            self._stack.close()


def start_live(client: docker.DockerClient, builder: ImageBuilder, image: str, instance_id: str, *,
               run_id: str, run_key: str, limits: ContainerLimits) -> LiveEnv:
    """A container of `image` with its shell open; removed again if the shell cannot start."""
    begun = time.monotonic()
    stack = ExitStack()
    try:
        raw = stack.enter_context(running_container(client, image, run_id=run_id, run_key=run_key,
                                                    instance_id=instance_id, purpose="rl", limits=limits))
        env = builder.environment(image, raw)
        shell = env.open_shell()
    except BaseException:
        stack.close()
        raise
    return LiveEnv(instance_id, env, shell, time.monotonic() - begun, stack)
