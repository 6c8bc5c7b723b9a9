"""Running one `docker build`: the context tar, the streamed output, at most
`max_parallel_builds` at once, and a failure told apart (a spec bug, a full disk, a daemon
that went away) with what the failed build left behind removed.

Apart from the layer recipes because it is the same for every layer, the harness's own and
those other modules describe (agents' tools, sidecars).
"""

from __future__ import annotations

import io
import logging
import re
import tarfile
import threading
from typing import Callable

import docker
import docker.errors

from evalharness.core.errors import EnvBuildError, InfrastructureError
from evalharness.env.images.config import LABEL, BuildConfig, short_error
from evalharness.env.images.registry import image_exists

log = logging.getLogger(__name__)

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NO_SPACE = "no space left on device"  # ENOSPC, as a RUN step's tools and the daemon itself word it


class DockerBuild:
    """Builds images on one client; shared by every layer so the parallel-build limit holds."""

    def __init__(self, client: docker.DockerClient, config: BuildConfig):
        self.client = client
        self.config = config
        self._slots = threading.Semaphore(config.max_parallel_builds)

    def build(self, tag: str, dockerfile: str, files: dict[str, bytes], sink: Callable[[str], None], layer: str) -> str:
        """Build `tag`; a failed build leaves none of its step containers behind (nor, when the disk
        filled up, its intermediate images) and raises EnvBuildError, or InfrastructureError when
        the daemon went away under it (then the failure is not remembered: a retry builds again)."""
        context = _tar_context(dockerfile, files)
        lines: list[str] = []
        trace = _BuildTrace()
        sink(f"building {layer} image {tag}")
        with self._slots:
            try:
                stream = self.client.api.build(
                    fileobj=context,
                    custom_context=True,
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    decode=True,
                    buildargs=dict(self.config.pip_env) or None,
                    labels={LABEL: "1", f"{LABEL}.layer": layer},
                )
                for chunk in stream:
                    if "stream" in chunk:
                        trace.feed(chunk["stream"])
                        text = chunk["stream"].rstrip("\n")
                        if text:
                            lines.append(text)
                            sink(text)
                    if "error" in chunk:
                        lines.append(chunk["error"])
                        sink(chunk["error"])
                        raise self._failed(tag, layer, chunk["error"], lines, trace, sink)
            except docker.errors.APIError as exc:
                raise self._failed(tag, layer, short_error(exc), lines, trace, sink) from None
        if not image_exists(self.client, tag):  # the stream ended early: the daemon went away mid-build
            raise InfrastructureError(f"{layer} image {tag}: the build ended without an image "
                                      "(the Docker daemon stopped or restarted?)", kind="daemon", retry=True)
        return tag

    def _failed(self, tag: str, layer: str, error: str, lines: list[str], trace: _BuildTrace,
                sink: Callable[[str], None]) -> Exception:
        """The exception for a failed build, after removing what the build left behind."""
        error = _ANSI.sub("", error).strip()
        disk_full = trace.disk_full or _NO_SPACE in error.lower()
        removed = self._clean_failed_build(trace, images=disk_full)
        if removed:
            sink(f"removed what the failed build left: {', '.join(removed)}")
        if disk_full:
            return EnvBuildError(f"{layer} image {tag} failed: no space left on device (the disk of Docker's data "
                                 f"root is full): {error[-400:]}", "\n".join(lines))
        if not self._daemon_answers():
            return InfrastructureError(f"{layer} image {tag} failed and the Docker daemon stopped answering: "
                                       f"{error[-400:]}", kind="daemon", retry=True)
        return EnvBuildError(f"{layer} image {tag} failed: {error[-500:]}", "\n".join(lines))

    def _clean_failed_build(self, trace: _BuildTrace, images: bool) -> list[str]:
        """Remove the step containers a failed build left (forcerm may not have, e.g. on a full disk)
        and, if `images`, the intermediate images it made (newest first; one in use stays)."""
        removed = []
        for container in trace.containers:
            try:
                self.client.api.remove_container(container, force=True)
                removed.append(f"container {container}")
            except docker.errors.NotFound:
                pass
            except Exception as exc:  # noqa: BLE001 - best effort: the failure is reported anyway
                log.info("could not remove the build container %s: %s", container, short_error(exc))
        for image in reversed(trace.images if images else []):
            try:
                self.client.api.remove_image(image, noprune=False)
                removed.append(f"image {image}")
            except docker.errors.NotFound:
                pass
            except Exception as exc:  # noqa: BLE001 - in use by a concurrent build (its cache), or the daemon is gone
                log.info("could not remove the intermediate image %s: %s", image, short_error(exc))
        return removed

    def _daemon_answers(self) -> bool:
        try:
            self.client.ping()
            return True
        except Exception:  # noqa: BLE001 - any failure means no
            return False


class _BuildTrace:
    """What a (classic builder) build stream says it made: step containers, and images that are
    new (not "Using cache", not a FROM), from lines such as " ---> Running in 764e523724db"."""

    def __init__(self) -> None:
        self.containers: list[str] = []
        self.images: list[str] = []
        self.disk_full = False  # the output said "No space left on device"
        self._pending = ""
        self._tail = ""
        self._cached = self._from = False

    def feed(self, text: str) -> None:
        text = _ANSI.sub("", text)
        self.disk_full = self.disk_full or _NO_SPACE in (self._tail + text).lower()
        self._tail = (self._tail + text)[-len(_NO_SPACE):]
        self._pending += text
        *complete, self._pending = self._pending.split("\n")
        for line in complete:
            line = line.strip()
            if line.startswith("Step "):
                self._cached = False
                self._from = " : FROM " in line.upper()
            elif line == "---> Using cache":
                self._cached = True
            elif match := re.fullmatch(r"---> Running in ([0-9a-f]{12,64})", line):
                self.containers.append(match.group(1))
            elif match := re.fullmatch(r"Removing intermediate container ([0-9a-f]{12,64})", line):
                if match.group(1) in self.containers:
                    self.containers.remove(match.group(1))
            elif match := re.fullmatch(r"---> ([0-9a-f]{12,64})", line):
                if not (self._cached or self._from):
                    self.images.append(match.group(1))


def _tar_context(dockerfile: str, files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in {"Dockerfile": dockerfile.encode(), **files}.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf
