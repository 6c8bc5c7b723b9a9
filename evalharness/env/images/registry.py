"""Where images come from and go to, apart from building: the local daemon (is a tag here?),
pulls with a time limit (docker-py waits forever on a stalled registry), and the shared
`--registry` through which the nodes of a cluster reuse each other's layers.

Kept apart from the builds so that every path that pulls (official images, the upstream of a
base, the Debian OS image, shared layers) goes through one time limit and one record of a
registry that timed out.

The shared registry is asked again while it does not answer (down for a while, restarting),
for `BuildConfig.registry_wait` seconds; then the layer fails as the instance's build
(EnvBuildError), never the run. A layer the registry does not hold is built here, once per
cluster when the nodes share `SharedBuilds` (one node builds and pushes, the others wait for
the push and pull).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Protocol

import docker
import docker.errors

from evalharness.core.errors import EnvBuildError
from evalharness.env.images.config import BuildConfig, short_error, split_image_name

log = logging.getLogger(__name__)


class _PullFailed(Exception):
    pass


class SharedBuilds(Protocol):
    """Who builds a layer that the shared registry lacks, among all nodes (a Ray actor's client)."""

    def claim(self, tag: str) -> str:
        """"build" (this process builds it and must `finish`), "wait" (another is) or "ready" (pushed)."""

    def finish(self, tag: str, pushed: bool) -> None:
        """The claimed build is over: pushed (others pull it) or not (the next claimer builds)."""

    def pulled(self, tag: str) -> None:
        """Count a pull from the registry (the proof that a node did not build it)."""


def _missing(exc: BaseException) -> bool:
    """Whether a failed pull means "no such image there" (as opposed to "no answer")."""
    text = short_error(exc) if isinstance(exc, Exception) else str(exc)
    return isinstance(exc, docker.errors.NotFound) or "manifest unknown" in text or "not found" in text


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
        self.shared: SharedBuilds | None = None  # set by a cluster's executor (share_builds)

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
        """Pull `tag` from the shared registry: True when pulled; False: build it here (and then
        `push_shared`, or `release` on a failed build). Raises EnvBuildError when the registry
        has not answered for `registry_wait` seconds."""
        remote = self.shared_name(tag)
        waiting_since = None  # when the registry stopped answering
        said_wait = False
        while True:
            try:
                self.pull(remote)
                repo, version = split_image_name(tag)
                self.client.images.get(remote).tag(repo, version)
                sink(f"pulled {remote} from the registry")
                if self.shared is not None:
                    self.shared.pulled(tag)
                return True
            except (_PullFailed, docker.errors.APIError) as exc:
                if not _missing(exc):
                    waiting_since = waiting_since or time.monotonic()
                    waited = time.monotonic() - waiting_since
                    if waited >= self.config.registry_wait:
                        raise EnvBuildError(f"the registry {self.config.registry} did not answer for "
                                            f"{waited:.0f}s: {short_error(exc)}") from None
                    sink(f"the registry does not answer ({short_error(exc)}); asking again")
                    time.sleep(min(5.0, max(0.5, self.config.registry_wait / 10)))
                    continue
                waiting_since = None
                verdict = "build" if self.shared is None else self.shared.claim(tag)
                if verdict == "build":
                    sink(f"not in the registry: {remote} ({short_error(exc)}); building it here")
                    return False
                if verdict == "wait":
                    if not said_wait:
                        sink(f"{remote} is being built by another worker; waiting for its push")
                        said_wait = True
                    time.sleep(2.0)
                if self.exists(tag):  # built by another worker process of this node
                    sink(f"using image {tag}, built here meanwhile")
                    return True
                # "ready": pushed since; pull again

    def release(self, tag: str) -> None:
        """A build of `tag` claimed here failed: the next node that needs it builds it."""
        if self.shared is not None:
            self.shared.finish(tag, pushed=False)

    def push_shared(self, tag: str, sink: Callable[[str], None]) -> None:
        """Share a layer built here; a failed push costs other nodes a build, not this run."""
        remote = self.shared_name(tag)
        repo, version = split_image_name(remote)
        pushed = False
        try:
            self.client.images.get(tag).tag(repo, version)
            for line in self.client.images.push(repo, tag=version, stream=True, decode=True):
                if line.get("error"):
                    raise docker.errors.APIError(line["error"])
            sink(f"pushed {remote} to the registry")
            pushed = True
        except docker.errors.DockerException as exc:
            log.warning("could not push %s: %s", remote, short_error(exc))
            sink(f"could not push {remote}: {short_error(exc)}")
        finally:
            if self.shared is not None:
                self.shared.finish(tag, pushed=pushed)
