"""Docker images in three cached layers: base (OS + Python) -> env (repo+version deps) -> instance.

Every tag is derived from the content that makes the image (Dockerfile text, spec, commit,
injected CA bundle), so asking for an image that already exists is a no-op. The base image
is pulled from a registry when one answers; otherwise (air-gapped) it is bootstrapped from
Debian with debootstrap and `docker import`, and the log says so.

A task that names an official SWE-bench image (the Verified/Lite files carry `image`) runs
in that image when it is present locally or can be pulled from `--namespace`; such an
image keeps the repo at /testbed and its Python in the conda env `testbed`, so commands in
it run through `CondaEnvironment`. Otherwise the image is built from the spec.

The package, by concept: config (paths, labels, BuildConfig, image names), official
(SWE-bench images and their conda env), layers (the Dockerfiles and tags of base, env and
instance), docker_build (running one build), registry (lookups, pulls, the shared
registry), bootstrap (a Debian base with no registry), and builder (ImageBuilder, which
puts them in order). Every name other modules use is importable from here.
"""

from evalharness.env.images.bootstrap import bootstrap_debian
from evalharness.env.images.builder import ImageBuilder
from evalharness.env.images.config import (
    BASE_PACKAGES,
    CA_PATH,
    DEBIAN_PYTHON_PACKAGES,
    DEBIAN_SUITE_FOR_PYTHON,
    DEFAULT_HOST_CA,
    DEFAULT_PULL_TIMEOUT,
    LABEL,
    PIP_BUILD_ARGS,
    PRE_INSTALL_DIFF,
    VENV,
    WORKDIR,
    BuildConfig,
    content_hash,
    image_slug,
    split_image_name,
)
from evalharness.env.images.docker_build import _BuildTrace
from evalharness.env.images.official import CONDA_ACTIVATE, CondaEnvironment, InstanceImage, official_image_name
from evalharness.env.images.registry import _PullFailed

__all__ = [
    "BASE_PACKAGES", "CA_PATH", "CONDA_ACTIVATE", "DEBIAN_PYTHON_PACKAGES", "DEBIAN_SUITE_FOR_PYTHON",
    "DEFAULT_HOST_CA", "DEFAULT_PULL_TIMEOUT", "LABEL", "PIP_BUILD_ARGS", "PRE_INSTALL_DIFF", "VENV", "WORKDIR",
    "BuildConfig", "CondaEnvironment", "ImageBuilder", "InstanceImage", "bootstrap_debian", "content_hash",
    "image_slug", "official_image_name", "split_image_name", "_BuildTrace", "_PullFailed",
]
