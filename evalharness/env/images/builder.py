"""ImageBuilder: the one object the runner, the agents and the sidecars ask for images.

It decides, and the parts do: an official image when one can be had (official.py), else the
base -> env -> instance layers (their recipes in layers.py, each built by docker_build.py),
every layer cached by its content-hashed tag, shared through `--registry` (registry.py), and
a base with no registry started from a debootstrapped Debian (bootstrap.py). What stays here
is the order of those steps and the per-tag memo that makes concurrent instances share one
build and one remembered failure.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

import docker

from evalharness.core.errors import EnvBuildError
from evalharness.core.scratch import scratch_dir
from evalharness.core.task import Task
from evalharness.env.base import Environment
from evalharness.env.images.bootstrap import debootstrap_problem, make_os_image, no_suite_message, os_image_tag
from evalharness.env.images.config import DEBIAN_SUITE_FOR_PYTHON, BuildConfig
from evalharness.env.images.docker_build import DockerBuild
from evalharness.env.images.layers import LayerRecipes
from evalharness.env.images.official import CondaEnvironment, InstanceImage, OfficialImages
from evalharness.env.images.registry import Registry, SharedBuilds, _PullFailed
from evalharness.tasks.repos import RepoSource, bundle_commit, locate_offline
from evalharness.tasks.specs import EnvSpec


@dataclass
class _Memo:
    """Per-tag lock and remembered failure, so concurrent instances share one build."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    failure: EnvBuildError | None = None


class ImageBuilder:
    def __init__(self, client: docker.DockerClient, config: BuildConfig, repo_sources: Sequence[RepoSource]):
        self.client = client
        self.config = config
        self.repo_sources = list(repo_sources)
        self._memos: dict[str, _Memo] = {}
        self._memos_lock = threading.Lock()
        self._ca_bytes = config.ca_bundle.read_bytes() if config.ca_bundle else b""
        self._registry = Registry(client, config)
        self._officials = OfficialImages(config, self._registry)
        self._layers = LayerRecipes(self._ca_bytes, config.base_image)
        self._docker_build = DockerBuild(client, config)

    # ---- public -------------------------------------------------------------------------
    def image_for(self, task: Task, spec: EnvSpec | None, log_sink: Callable[[str], None] | None = None) -> InstanceImage:
        """The official image of `task` when it is here or can be pulled, else one built from `spec`.

        `spec` may be None when the task names an official image; if that image can't be had
        either, EnvBuildError says why for both.
        """
        sink = log_sink or (lambda line: None)
        official, why_not = self._officials.find(task, sink)
        if official is not None:
            return official
        if spec is None:
            raise EnvBuildError(
                f"no environment spec for {task.repo} {task.version} (add one with --specs FILE)"
                + (f", and {why_not}" if why_not else "")
            )
        if why_not:
            sink("building the image from the specs instead")
        return InstanceImage(self.instance_image(task, spec, sink), official=False, origin="built")

    def is_official(self, tag: str) -> bool:
        return self._officials.is_official(tag)

    def environment(self, tag: str, env: Environment) -> Environment:
        """`env` (a container of `tag`) as agents and scorers must use it."""
        return CondaEnvironment(env) if self.is_official(tag) else env

    def existing_image(self, task: Task, spec: EnvSpec | None) -> tuple[str, str | None] | None:
        """(image, the env image it is built on, or None if official) when present locally; builds nothing."""
        official = self._officials.present(task)
        if official:
            return official, None
        if spec is not None and self._exists(self._instance_tag(task, spec)):
            return self._instance_tag(task, spec), self._env_tag(spec)
        return None

    def offline_problem(self, task: Task, spec: EnvSpec | None) -> str | None:
        """Why `task`'s image can't be had here without a container registry or GitHub; None if it can.

        Offline means: no registry, no GitHub. PyPI and a Debian mirror (or proxies of them)
        are still needed to build an image that is not cached yet.
        """
        if self._officials.present(task):
            return None
        if spec is None:
            return f"no environment spec for {task.repo} {task.version}"
        if self._exists(self._instance_tag(task, spec)):
            return None
        problem = self._offline_python_problem(spec.python)
        if problem:
            return problem
        if not locate_offline(self.repo_sources, task.repo, task.base_commit):
            return f"no local copy of {task.repo} at its base commit (GitHub is unreachable offline; pass --repo-mirror DIR)"
        return None

    def instance_image(self, task: Task, spec: EnvSpec, log_sink: Callable[[str], None] | None = None) -> str:
        """Ensure base, env and instance images for `task`; return the instance tag."""
        sink = log_sink or (lambda line: None)
        env_tag = self.env_image(spec, sink)
        dockerfile = self._layers.instance_dockerfile(env_tag, task, spec)
        tag = self._instance_tag(task, spec)

        def build() -> str:
            with scratch_dir("evalharness-ctx-") as tmp:
                bundle = bundle_commit(self.repo_sources, task.repo, task.base_commit, tmp / "repo.bundle")
                return self._build(tag, dockerfile, {"repo.bundle": bundle.read_bytes()}, sink, "instance")

        return self._ensure(tag, build, sink)

    def env_image(self, spec: EnvSpec, sink: Callable[[str], None]) -> str:
        base_tag = self.base_image(spec.python, sink)
        dockerfile = self._env_dockerfile(base_tag, spec)
        tag = self._env_tag(spec)
        return self._ensure(tag, lambda: self._build(tag, dockerfile, {}, sink, "env"), sink)

    def base_image(self, python: str, sink: Callable[[str], None]) -> str:
        tag = self._base_tag(python)

        def build() -> str:
            upstream, debian_python = self._upstream_for(python, sink)
            dockerfile = self._layers.base_dockerfile(upstream, debian_python, python)
            files = {"ca-bundle.crt": self._ca_bytes} if self._ca_bytes else {}
            return self._build(tag, dockerfile, files, sink, "base")

        return self._ensure(tag, build, sink)

    def layer_image(self, tag: str, dockerfile: str, sink: Callable[[str], None], layer: str,
                    files: dict[str, bytes] | None = None) -> str:
        """A layer another module describes (an installed agent's tools, or those tools on an
        instance image), built and cached like the harness's own: by content-hashed tag, shared
        through --registry, one build at a time per tag."""
        return self._ensure(tag, lambda: self._build(tag, dockerfile, dict(files or {}), sink, layer), sink)

    def os_image(self, suite: str, sink: Callable[[str], None]) -> str:
        """A minimal Debian root filesystem as an image: pulled, else debootstrapped locally."""
        return self._ensure(os_image_tag(suite), lambda: make_os_image(self._registry, suite, sink), sink)

    def share_builds(self, shared: SharedBuilds) -> None:
        """Coordinate with the other nodes of a cluster: one builds a layer the registry lacks."""
        self._registry.shared = shared

    def shared_name(self, tag: str) -> str:
        """`tag`'s name in the shared registry (tags are content hashes, so any node may reuse them)."""
        return self._registry.shared_name(tag)

    @property
    def ca_bundle(self) -> bytes:
        """The host CA bundle injected into images (b"" when none): layers that fetch packages need it too."""
        return self._ca_bytes

    # ---- tags (pure: computing one never builds or pulls) -------------------------------
    def _base_tag(self, python: str) -> str:
        return self._layers.base_tag(python)

    def _env_tag(self, spec: EnvSpec) -> str:
        return self._layers.env_tag(spec)

    def _instance_tag(self, task: Task, spec: EnvSpec) -> str:
        return self._layers.instance_tag(task, spec)

    def _env_dockerfile(self, base_tag: str, spec: EnvSpec) -> str:
        return self._layers.env_dockerfile(base_tag, spec)

    # ---- where the base starts ----------------------------------------------------------
    def _upstream_for(self, python: str, sink: Callable[[str], None]) -> tuple[str, bool]:
        """The image the base starts FROM, and whether its Python comes from Debian packages."""
        wanted = self.config.base_image or f"python:{python}-slim"
        if self._exists(wanted):
            return wanted, False
        if self.config.pull:
            try:
                self._pull(wanted)
                sink(f"pulled {wanted}")
                return wanted, False
            except _PullFailed as exc:
                sink(f"could not pull {wanted}: {exc}")
        if self.config.base_image:
            raise EnvBuildError(f"--base-image {wanted} is not present locally and could not be pulled")
        suite = DEBIAN_SUITE_FOR_PYTHON.get(python)
        if suite is None:
            raise EnvBuildError(no_suite_message(python))
        return self.os_image(suite, sink), True

    def _offline_python_problem(self, python: str) -> str | None:
        if self._exists(self._base_tag(python)):
            return None
        wanted = self.config.base_image or f"python:{python}-slim"
        if self._exists(wanted):
            return None
        if self.config.base_image:
            return f"--base-image {wanted} is not present locally"
        suite = DEBIAN_SUITE_FOR_PYTHON.get(python)
        if suite is None:
            return no_suite_message(python)
        if self._exists(os_image_tag(suite)):
            return None
        return debootstrap_problem(python, suite)

    # ---- mechanics ----------------------------------------------------------------------
    def _ensure(self, tag: str, build: Callable[[], str], sink: Callable[[str], None]) -> str:
        """`tag` cached here, else pulled from the shared registry, else built (and then pushed)."""
        with self._memos_lock:
            memo = self._memos.setdefault(tag, _Memo())
        with memo.lock:
            if memo.failure is not None:
                raise memo.failure
            if self._exists(tag):
                sink(f"using cached image {tag}")
                return tag
            if self.config.registry and self._registry.pull_shared(tag, sink):
                return tag
            try:
                built = build()
            except BaseException as exc:
                if self.config.registry:
                    self._registry.release(tag)  # another node may build it
                if isinstance(exc, EnvBuildError):
                    memo.failure = exc
                raise
            if self.config.registry:
                self._registry.push_shared(tag, sink)
            return built

    def _build(self, tag: str, dockerfile: str, files: dict[str, bytes], sink: Callable[[str], None], layer: str) -> str:
        """Build `tag` (see DockerBuild.build); every layer's build goes through here."""
        return self._docker_build.build(tag, dockerfile, files, sink, layer)

    def _pull(self, name: str) -> None:
        """`docker pull` with a time limit (see Registry.pull)."""
        self._registry.pull(name)

    def _exists(self, tag: str) -> bool:
        return self._registry.exists(tag)

    @property
    def _registry_timed_out(self) -> bool:
        """After one pull timed out, official pulls are not tried again."""
        return self._registry.timed_out

    @_registry_timed_out.setter
    def _registry_timed_out(self, value: bool) -> None:
        self._registry.timed_out = value
