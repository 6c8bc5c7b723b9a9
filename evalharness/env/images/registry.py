"""Where images come from and go to, apart from building: the local daemon (is a tag here?),
pulls with a time limit (docker-py waits forever on a stalled registry), and the shared
`--registry` through which the nodes of a cluster reuse each other's layers.

Kept apart from the builds so that every path that pulls (official images, the upstream of a
base, the Debian OS image, shared layers) goes through one time limit and one record of a
registry that timed out.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

import docker
import docker.errors

from evalharness.env.images.config import BuildConfig, short_error, split_image_name

log = logging.getLogger(__name__)


class _PullFailed(Exception):
    pass


def image_exists(client: docker.DockerClient, tag: str) -> bool:
    """Whether the daemon has an image `tag`."""
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


class Registry:
    """Lookups, pulls and pushes against one Docker client, under one BuildConfig."""

    def __init__(self, client: docker.DockerClient, config: BuildConfig):
        self.client = client
        self.config = config
        self.timed_out = False  # after one pull timed out, official pulls are not tried again

    def exists(self, tag: str) -> bool:
        return image_exists(self.client, tag)

    def pull(self, name: str) -> None:
        """`docker pull` with a time limit (docker-py waits forever on a stalled registry)."""
        repo, tag = split_image_name(name)
        failure: list[BaseException] = []

        def pull() -> None:
            try:
                self.client.images.pull(repo, tag=tag)
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)

        worker = threading.Thread(target=pull, name=f"pull {name}", daemon=True)
        worker.start()
        worker.join(self.config.pull_timeout)
        if worker.is_alive():
            self.timed_out = True
            raise _PullFailed(f"no answer within {self.config.pull_timeout:.0f}s")
        if failure:
            raise _PullFailed(short_error(failure[0]))

    # ---- the shared registry (--registry) ---------------------------------------------------
    def shared_name(self, tag: str) -> str:
        """`tag`'s name in the shared registry (tags are content hashes, so any node may reuse them)."""
        return f"{self.config.registry.rstrip('/')}/{tag}"

    def pull_shared(self, tag: str, sink: Callable[[str], None]) -> bool:
        remote = self.shared_name(tag)
        try:
            self.pull(remote)
            repo, version = split_image_name(tag)
            self.client.images.get(remote).tag(repo, version)
        except (_PullFailed, docker.errors.APIError) as exc:
            sink(f"not in the registry: {remote} ({exc}); building it here")
            return False
        sink(f"pulled {remote} from the registry")
        return True

    def push_shared(self, tag: str, sink: Callable[[str], None]) -> None:
        """Share a layer built here; a failed push costs other nodes a build, not this run."""
        remote = self.shared_name(tag)
        repo, version = split_image_name(remote)
        try:
            self.client.images.get(tag).tag(repo, version)
            for line in self.client.images.push(repo, tag=version, stream=True, decode=True):
                if line.get("error"):
                    raise docker.errors.APIError(line["error"])
            sink(f"pushed {remote} to the registry")
        except docker.errors.DockerException as exc:
            log.warning("could not push %s: %s", remote, short_error(exc))
            sink(f"could not push {remote}: {short_error(exc)}")
