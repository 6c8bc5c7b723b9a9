"""What every part of the image package shares: the paths and labels images carry, the build
settings (BuildConfig), and the pure helpers that name images. Nothing here talks to Docker,
so the other parts (and modules outside, such as the installed agents) can import it freely.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

LABEL = "evalharness"  # every image and container the harness makes carries this label
WORKDIR = "/testbed"
VENV = "/opt/venv"
CA_PATH = "/etc/ssl/certs/evalharness-ca-bundle.crt"
DEFAULT_HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Debian suites that ship a given CPython as python3: the offline source of Python.
DEBIAN_SUITE_FOR_PYTHON = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
BASE_PACKAGES = ("bash", "coreutils", "git", "patch", "ca-certificates", "procps")
DEBIAN_PYTHON_PACKAGES = ("python3", "python3-venv", "python3-dev")  # headers: C extensions build from source
# Pip settings passed to builds as build args. Always declared, so the Dockerfile (and the
# tag hashed from it) does not change with which of them the host happens to set.
# Package-index settings passed to builds (mirrors, proxies): pip's, and npm's for installed agents.
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT", "NPM_CONFIG_REGISTRY")
# Kept out of every diff the harness takes (pip install -e and test runs leave them behind).
# The tracked-file edits of a spec's pre_install steps, re-applied by the eval script.
PRE_INSTALL_DIFF = "/opt/evalharness/pre_install.diff"
DEFAULT_PULL_TIMEOUT = 1800.0  # seconds without a finished pull before giving up (Verified images are GBs)


@dataclass(frozen=True)
class BuildConfig:
    cache_dir: Path
    ca_bundle: Path | None = DEFAULT_HOST_CA if DEFAULT_HOST_CA.exists() else None
    pip_env: tuple[tuple[str, str], ...] = ()  # PIP_INDEX_URL and friends, for builds only
    pull: bool = True
    base_image: str | None = None  # override the upstream image, e.g. "python:3.11-slim"
    debian_mirror: str = "http://deb.debian.org/debian"
    max_parallel_builds: int = 2
    # Registry namespace of official SWE-bench images ("swebench" = Docker Hub's); None: use an
    # official image only when it is already present locally, never pull one.
    namespace: str | None = None
    pull_timeout: float = DEFAULT_PULL_TIMEOUT
    # A registry the harness's own images are shared through (host[:port][/prefix]), e.g. by the
    # nodes of a Ray cluster: a layer missing here is pulled from it, and one built here is pushed.
    registry: str | None = None
    registry_wait: float = 120.0  # seconds the shared registry may not answer before a pull fails the instance

    @staticmethod
    def pip_env_from(environ: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple((k, environ[k]) for k in PIP_BUILD_ARGS if environ.get(k))


def split_image_name(name: str) -> tuple[str, str]:
    """("repo", "tag") of an image reference; the tag defaults to latest (a registry port is no tag)."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def image_slug(instance_id: str) -> str:
    return re.sub(r"[^a-z0-9_.-]", "-", instance_id.lower())[:100]


def short_error(exc: Exception) -> str:
    """A Docker error as one short line (its explanation when it has one)."""
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).strip()[:300]
