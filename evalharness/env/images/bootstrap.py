"""A base image with no registry (air-gapped): a minimal Debian root filesystem made with
debootstrap and `docker import`ed, whose python3 is the Python of the base layer.

Apart from the rest because it is the one path that runs host tools (debootstrap, tar) as
root instead of talking to Docker, and because what it needs (the tool, root, a Debian suite
that ships the Python asked for) is what an offline run must check up front.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

import docker
import docker.errors

from evalharness.core.errors import EnvBuildError
from evalharness.core.scratch import scratch_dir
from evalharness.env.images.config import BASE_PACKAGES, DEBIAN_PYTHON_PACKAGES, DEBIAN_SUITE_FOR_PYTHON
from evalharness.env.images.registry import Registry, _PullFailed

log = logging.getLogger(__name__)


def os_image_tag(suite: str) -> str:
    return f"evalharness-os:{suite}"


def make_os_image(registry: Registry, suite: str, sink: Callable[[str], None]) -> str:
    """The OS image of Debian `suite`: debian:<suite>-slim pulled and tagged, else debootstrapped."""
    config = registry.config
    tag = os_image_tag(suite)
    upstream = f"debian:{suite}-slim"
    if config.pull:
        try:
            registry.pull(upstream)
            registry.client.images.get(upstream).tag("evalharness-os", suite)
            sink(f"pulled {upstream} as {tag}")
            return tag
        except (_PullFailed, docker.errors.APIError) as exc:
            sink(f"could not pull {upstream}: {exc}")
    msg = f"no registry answered: bootstrapping {tag} from Debian {suite} with debootstrap"
    log.warning(msg)
    sink(msg)
    bootstrap_debian(registry.client, suite, tag, config.debian_mirror, config.cache_dir, sink)
    return tag


def debootstrap_problem(python: str, suite: str) -> str | None:
    """Why Python `python` can't come from Debian `suite` on this host; None if it can."""
    if shutil.which("debootstrap") is None:
        return f"Python {python} comes from Debian {suite}, but debootstrap is not installed"
    if os.geteuid() != 0:
        return f"Python {python} comes from Debian {suite}, but debootstrap needs root"
    return None


def no_suite_message(python: str) -> str:
    by_version = sorted(DEBIAN_SUITE_FOR_PYTHON.items(), key=lambda item: tuple(map(int, item[0].split("."))))
    shipped = ", ".join(f"{v} ({s})" for v, s in by_version)
    return (
        f"Python {python} can't be built offline: no Debian suite ships it (offline: {shipped}); "
        f"load python:{python}-slim into Docker, make a registry reachable, or pass --base-image"
    )


def bootstrap_debian(
    client: docker.DockerClient, suite: str, tag: str, mirror: str, cache_dir: Path, sink: Callable[[str], None]
) -> None:
    """debootstrap a minimal Debian `suite` and `docker import` it as `tag` (needs root)."""
    if shutil.which("debootstrap") is None:
        raise EnvBuildError(
            "no registry answered and debootstrap is not installed: "
            "install it (apt-get install debootstrap) or make a registry reachable"
        )
    if os.geteuid() != 0:
        raise EnvBuildError("bootstrapping a base image with debootstrap needs root (run as root or via sudo)")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with scratch_dir(f"debootstrap-{suite}-", cache_dir) as tmp:
        rootfs = tmp / "rootfs"
        include = ",".join(BASE_PACKAGES + DEBIAN_PYTHON_PACKAGES)
        cmd = ["debootstrap", "--variant=minbase", f"--include={include}", suite, str(rootfs), mirror]
        sink("$ " + " ".join(cmd))
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sink(proc.stdout[-4000:])
        if proc.returncode != 0:
            raise EnvBuildError(f"debootstrap {suite} failed (exit {proc.returncode})", proc.stdout)
        # Keep the image lean: apt lists and caches are rebuilt by any layer that needs them.
        for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for item in (rootfs / junk).glob("*"):
                if item.is_file():
                    item.unlink()
        archive = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True)
        repo, _, name = tag.partition(":")
        client.api.import_image_from_file(
            str(archive),
            repository=repo,
            tag=name,
            changes=['CMD ["bash"]', "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        )
        client.images.get(tag)  # raises if the import did not land
        sink(f"bootstrapped {tag} from Debian {suite}")
