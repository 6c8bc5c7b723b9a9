"""Docker images in three cached layers: base (OS + Python) -> env (repo+version deps) -> instance.

Every tag is derived from the content that makes the image (Dockerfile text, spec, commit,
injected CA bundle), so asking for an image that already exists is a no-op. The base image
is pulled from a registry when one answers; otherwise (air-gapped) it is bootstrapped from
Debian with debootstrap and `docker import`, and the log says so.

A task that names an official SWE-bench image (the Verified/Lite files carry `image`) runs
in that image when it is present locally or can be pulled from `--namespace`; such an
image keeps the repo at /testbed and its Python in the conda env `testbed`, so commands in
it run through `CondaEnvironment`. Otherwise the image is built from the spec.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import shlex
import shutil
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import docker
import docker.errors

from evalharness.env.base import Environment, ExecResult
from evalharness.core.errors import EnvBuildError, InfrastructureError
from evalharness.tasks.repos import RepoSource, bundle_commit, locate_offline
from evalharness.core.scratch import scratch_dir
from evalharness.tasks.specs import EnvSpec
from evalharness.core.task import Task

log = logging.getLogger(__name__)

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
# Official SWE-bench images: the conda env every command must run in.
CONDA_ACTIVATE = "source /opt/miniconda3/bin/activate && conda activate testbed"
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

    @staticmethod
    def pip_env_from(environ: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple((k, environ[k]) for k in PIP_BUILD_ARGS if environ.get(k))


@dataclass(frozen=True)
class InstanceImage:
    """The image an instance runs in, and whether it is an official SWE-bench one."""

    tag: str
    official: bool = False  # conda env `testbed` at /opt/miniconda3; the dataset's eval_script applies
    origin: str = "built"  # "built" (from the specs), "local" (official, already here), "pulled"


class CondaEnvironment:
    """An environment in an official image: each command runs with the conda env `testbed` active.

    Official images keep their Python in conda; a bare `bash -c` would find the system one.
    Anything else (workdir, write_file, attributes of the wrapped environment) passes through.
    """

    official_image = True  # the scorer runs the dataset's own eval_script here

    def __init__(self, inner: Environment, activate: str = CONDA_ACTIVATE):
        self.inner = inner
        self.activate = activate
        self._activated: dict[str, str] | None = None

    @property
    def workdir(self) -> str:
        return self.inner.workdir

    def exec(self, command: str, timeout: float | None = None, workdir: str | None = None) -> ExecResult:
        prefix = (
            f"{{ {self.activate}; }} >/dev/null 2>&1 || "
            "{ echo 'evalharness: could not activate the conda env testbed' >&2; exit 97; }\n"
        )
        return self.inner.exec(prefix + command, timeout=timeout, workdir=workdir)

    def write_file(self, path: str, content: str | bytes) -> None:
        self.inner.write_file(path, content)

    def open_shell(self):
        """A persistent shell with the env active: the variables activation sets, given to every session."""
        from evalharness.env.shell import open_shell

        if self._activated is None:
            plain = _environ(self.inner.exec("env -0").output)
            active = _environ(self.inner.exec(f"{{ {self.activate}; }} >/dev/null 2>&1 && env -0").output)
            skip = {"_", "SHLVL", "PWD", "OLDPWD"}
            self._activated = {k: v for k, v in active.items()
                               if k not in skip and plain.get(k) != v and re.fullmatch(r"[A-Za-z_]\w*", k)}
        return open_shell(self.inner, env_vars=self._activated)

    def __getattr__(self, name: str):
        if name == "inner":  # not set yet (copy, pickle): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)


def _environ(text: str) -> dict[str, str]:
    """`env -0` output as a dict."""
    return dict(item.split("=", 1) for item in text.split("\0") if "=" in item)


def official_image_name(task: Task, namespace: str | None) -> str | None:
    """The official image of `task`: its `image` field, moved to `namespace` when one is given.

    Without an `image` field the SWE-bench naming is used, but only when a namespace is given:
    `<namespace>/sweb.eval.x86_64.<instance_id with "__" as "_1776_">:latest`.
    """
    if task.image:
        if not namespace:
            return task.image
        return f"{namespace.rstrip('/')}/{task.image.rsplit('/', 1)[-1]}"
    if not namespace:
        return None
    key = task.instance_id.lower().replace("__", "_1776_")
    return f"{namespace.rstrip('/')}/sweb.eval.x86_64.{key}:latest"


class _PullFailed(Exception):
    pass


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
        self._build_slots = threading.Semaphore(config.max_parallel_builds)
        self._ca_bytes = config.ca_bundle.read_bytes() if config.ca_bundle else b""
        self._official: set[str] = set()  # official images handed out, so their envs get conda
        self._registry_timed_out = False  # after one pull timed out, official pulls are not tried again

    # ---- public -------------------------------------------------------------------------
    def image_for(self, task: Task, spec: EnvSpec | None, log_sink: Callable[[str], None] | None = None) -> InstanceImage:
        """The official image of `task` when it is here or can be pulled, else one built from `spec`.

        `spec` may be None when the task names an official image; if that image can't be had
        either, EnvBuildError says why for both.
        """
        sink = log_sink or (lambda line: None)
        official = official_image_name(task, self.config.namespace)
        why_not = ""
        if official:
            if self._exists(official):
                sink(f"using the official image {official} (present locally)")
                return self._official_image(official, "local")
            if not self.config.namespace:
                why_not = f"the official image {official} is not present locally (pull it with --namespace)"
            elif not self.config.pull:
                why_not = f"the official image {official} is not present locally and --no-pull is set"
            elif self._registry_timed_out:
                why_not = f"the registry timed out earlier in this run; not pulling {official}"
            else:
                try:
                    self._pull(official)
                    sink(f"pulled the official image {official}")
                    return self._official_image(official, "pulled")
                except _PullFailed as exc:
                    why_not = f"could not pull the official image {official}: {exc}"
            sink(why_not)
        if spec is None:
            raise EnvBuildError(
                f"no environment spec for {task.repo} {task.version} (add one with --specs FILE)"
                + (f", and {why_not}" if why_not else "")
            )
        if why_not:
            sink("building the image from the specs instead")
        return InstanceImage(self.instance_image(task, spec, sink), official=False, origin="built")

    def is_official(self, tag: str) -> bool:
        return tag in self._official

    def environment(self, tag: str, env: Environment) -> Environment:
        """`env` (a container of `tag`) as agents and scorers must use it."""
        return CondaEnvironment(env) if self.is_official(tag) else env

    def existing_image(self, task: Task, spec: EnvSpec | None) -> tuple[str, str | None] | None:
        """(image, the env image it is built on, or None if official) when present locally; builds nothing."""
        official = official_image_name(task, self.config.namespace)
        if official and self._exists(official):
            return official, None
        if spec is not None and self._exists(self._instance_tag(task, spec)):
            return self._instance_tag(task, spec), self._env_tag(spec)
        return None

    def offline_problem(self, task: Task, spec: EnvSpec | None) -> str | None:
        """Why `task`'s image can't be had here without a container registry or GitHub; None if it can.

        Offline means: no registry, no GitHub. PyPI and a Debian mirror (or proxies of them)
        are still needed to build an image that is not cached yet.
        """
        official = official_image_name(task, self.config.namespace)
        if official and self._exists(official):
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
        dockerfile = self._instance_dockerfile(env_tag, task, spec)
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
            dockerfile = self._base_dockerfile(upstream, debian_python, python)
            files = {"ca-bundle.crt": self._ca_bytes} if self._ca_bytes else {}
            return self._build(tag, dockerfile, files, sink, "base")

        return self._ensure(tag, build, sink)

    def layer_image(self, tag: str, dockerfile: str, sink: Callable[[str], None], layer: str,
                    files: dict[str, bytes] | None = None) -> str:
        """A layer another module describes (an installed agent's tools, or those tools on an
        instance image), built and cached like the harness's own: by content-hashed tag, shared
        through --registry, one build at a time per tag."""
        return self._ensure(tag, lambda: self._build(tag, dockerfile, dict(files or {}), sink, layer), sink)

    @property
    def ca_bundle(self) -> bytes:
        """The host CA bundle injected into images (b"" when none): layers that fetch packages need it too."""
        return self._ca_bytes

    # ---- tags (pure: computing one never builds or pulls) -------------------------------
    def _base_tag(self, python: str) -> str:
        key = content_hash(python, self._ca_bytes.hex(), _BASE_RECIPE_VERSION, self.config.base_image or "",
                    " ".join(BASE_PACKAGES + DEBIAN_PYTHON_PACKAGES))  # a package list change rebuilds
        return f"evalharness-base:py{python}-{key[:12]}"

    def _env_tag(self, spec: EnvSpec) -> str:
        dockerfile = self._env_dockerfile(self._base_tag(spec.python), spec)
        return f"evalharness-env:py{spec.python}-{content_hash(dockerfile)[:12]}"

    def _instance_tag(self, task: Task, spec: EnvSpec) -> str:
        dockerfile = self._instance_dockerfile(self._env_tag(spec), task, spec)
        return f"evalharness-instance:{image_slug(task.instance_id)}-{content_hash(dockerfile)[:12]}"

    # ---- layers -------------------------------------------------------------------------
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
            raise EnvBuildError(_no_suite_message(python))
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
            return _no_suite_message(python)
        if self._exists(f"evalharness-os:{suite}"):
            return None
        if shutil.which("debootstrap") is None:
            return f"Python {python} comes from Debian {suite}, but debootstrap is not installed"
        if os.geteuid() != 0:
            return f"Python {python} comes from Debian {suite}, but debootstrap needs root"
        return None

    def _pull(self, name: str) -> None:
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
            self._registry_timed_out = True
            raise _PullFailed(f"no answer within {self.config.pull_timeout:.0f}s")
        if failure:
            raise _PullFailed(_short(failure[0]))

    def _official_image(self, tag: str, origin: str) -> InstanceImage:
        with self._memos_lock:
            self._official.add(tag)
        return InstanceImage(tag, official=True, origin=origin)

    def os_image(self, suite: str, sink: Callable[[str], None]) -> str:
        """A minimal Debian root filesystem as an image: pulled, else debootstrapped locally."""
        tag = f"evalharness-os:{suite}"

        def build() -> str:
            upstream = f"debian:{suite}-slim"
            if self.config.pull:
                try:
                    self._pull(upstream)
                    self.client.images.get(upstream).tag("evalharness-os", suite)
                    sink(f"pulled {upstream} as {tag}")
                    return tag
                except (_PullFailed, docker.errors.APIError) as exc:
                    sink(f"could not pull {upstream}: {exc}")
            msg = f"no registry answered: bootstrapping {tag} from Debian {suite} with debootstrap"
            log.warning(msg)
            sink(msg)
            bootstrap_debian(self.client, suite, tag, self.config.debian_mirror, self.config.cache_dir, sink)
            return tag

        return self._ensure(tag, build, sink)

    def _base_dockerfile(self, upstream: str, debian_python: bool, version: str = "") -> str:
        packages = BASE_PACKAGES + (DEBIAN_PYTHON_PACKAGES if debian_python else ())
        python = "/usr/bin/python3" if debian_python else "python3"
        lines = [
            f"FROM {upstream}",
            "ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=UTC PYTHONHASHSEED=0",
            # apt only when something is missing: a debootstrapped OS already has all of it.
            "RUN missing=''; for p in " + " ".join(packages) + "; do "
            "dpkg -s $p >/dev/null 2>&1 || missing=\"$missing $p\"; done; "
            "if [ -n \"$missing\" ]; then apt-get update -q && "
            "apt-get install -y -q --no-install-recommends $missing && rm -rf /var/lib/apt/lists/*; fi",
        ]
        if self._ca_bytes:
            lines += [
                f"COPY ca-bundle.crt {CA_PATH}",
                f"ENV PIP_CERT={CA_PATH} SSL_CERT_FILE={CA_PATH} REQUESTS_CA_BUNDLE={CA_PATH} GIT_SSL_CAINFO={CA_PATH}",
            ]
        lines += [
            "RUN git config --system user.name evalharness && "
            "git config --system user.email evalharness@localhost && "
            "git config --system --add safe.directory '*' && git config --system advice.detachedHead false",
            *([_python_version_check(python, version)] if version else []),
            f"RUN {python} -m venv {VENV}",
            f"ENV PATH={VENV}/bin:$PATH VIRTUAL_ENV={VENV} PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1",
        ]
        return "\n".join(lines) + "\n"

    def _env_dockerfile(self, base_tag: str, spec: EnvSpec) -> str:
        lines = [f"FROM {base_tag}"]
        if spec.apt:
            lines.append(
                "RUN apt-get update -q && apt-get install -y -q --no-install-recommends "
                + " ".join(sorted(spec.apt))
                + " && rm -rf /var/lib/apt/lists/*"
            )
        lines += [f"ARG {k}" for k in PIP_BUILD_ARGS]
        if spec.pip:
            lines.append("RUN pip install -q " + " ".join(shlex.quote(p) for p in spec.pip))
        if spec.env:
            lines.append("ENV " + " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(spec.env.items())))
        return "\n".join(lines) + "\n"

    def _instance_dockerfile(self, env_tag: str, task: Task, spec: EnvSpec) -> str:
        commit = task.base_commit
        lines = [
            f"FROM {env_tag} AS repo",
            f"LABEL {LABEL}=1 {LABEL}.layer=repo-stage",  # so the stage image can be found and pruned
            "COPY repo.bundle /tmp/repo.bundle",
            f"RUN git init -q {WORKDIR} && cd {WORKDIR} && "
            f"git fetch -q /tmp/repo.bundle refs/evalharness/{commit} '+refs/tags/*:refs/tags/*' && "
            f"git update-ref refs/heads/main {commit} && git symbolic-ref HEAD refs/heads/main && "
            f"git reset -q --hard && rm -f .git/FETCH_HEAD && git gc -q --prune=now",
            f"FROM {env_tag}",
            f"COPY --from=repo {WORKDIR} {WORKDIR}",
            f"WORKDIR {WORKDIR}",
        ]
        lines += [f"ARG {k}" for k in PIP_BUILD_ARGS]
        for command in spec.pre_install:
            lines.append(f"RUN {command}")
        if spec.pre_install:
            # pre_install may edit tracked files (pytest 6.3 fixes a typo in setup.cfg so that
            # setuptools accepts it). The install needs the edit; an agent must see the tree as
            # it is at base_commit, or its diff would carry the edit. So the edit is kept as a
            # diff, undone after the install, and re-applied by the eval script before tests.
            lines.append(f"RUN mkdir -p {PRE_INSTALL_DIFF.rsplit('/', 1)[0]} && git diff --binary > {PRE_INSTALL_DIFF}")
        for command in spec.install:
            lines.append(f"RUN {command}")
        if spec.pre_install:
            lines.append(
                f"RUN git diff --binary | cmp -s - {PRE_INSTALL_DIFF} || (echo 'install changed tracked files:'; "
                f"git diff --stat; exit 1) && git checkout -q -- ."
            )
        # The instance must start with base_commit's tracked files: an install step that edits
        # them is a spec bug. What the install leaves untracked (build/, *.egg-info) stays, and
        # `git status` shows it, as in SWE-bench's official images (their setup adds no
        # excludes): an agent's `git add -A` sees the same tree there and here.
        lines.append("RUN test -z \"$(git status --porcelain --untracked-files=no)\" || (git status --porcelain; exit 1)")
        return "\n".join(lines) + "\n"

    # ---- mechanics ----------------------------------------------------------------------
    def _ensure(self, tag: str, build: Callable[[], str], sink: Callable[[str], None]) -> str:
        with self._memos_lock:
            memo = self._memos.setdefault(tag, _Memo())
        with memo.lock:
            if memo.failure is not None:
                raise memo.failure
            if self._exists(tag):
                sink(f"using cached image {tag}")
                return tag
            if self.config.registry and self._pull_shared(tag, sink):
                return tag
            try:
                built = build()
            except EnvBuildError as exc:
                memo.failure = exc
                raise
            if self.config.registry:
                self._push_shared(tag, sink)
            return built

    def shared_name(self, tag: str) -> str:
        """`tag`'s name in the shared registry (tags are content hashes, so any node may reuse them)."""
        return f"{self.config.registry.rstrip('/')}/{tag}"

    def _pull_shared(self, tag: str, sink: Callable[[str], None]) -> bool:
        remote = self.shared_name(tag)
        try:
            self._pull(remote)
            repo, version = split_image_name(tag)
            self.client.images.get(remote).tag(repo, version)
        except (_PullFailed, docker.errors.APIError) as exc:
            sink(f"not in the registry: {remote} ({exc}); building it here")
            return False
        sink(f"pulled {remote} from the registry")
        return True

    def _push_shared(self, tag: str, sink: Callable[[str], None]) -> None:
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
            log.warning("could not push %s: %s", remote, _short(exc))
            sink(f"could not push {remote}: {_short(exc)}")

    def _exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, tag: str, dockerfile: str, files: dict[str, bytes], sink: Callable[[str], None], layer: str) -> str:
        """Build `tag`; a failed build leaves none of its step containers behind (nor, when the disk
        filled up, its intermediate images) and raises EnvBuildError, or InfrastructureError when
        the daemon went away under it (then the failure is not remembered: a retry builds again)."""
        context = _tar_context(dockerfile, files)
        lines: list[str] = []
        trace = _BuildTrace()
        sink(f"building {layer} image {tag}")
        with self._build_slots:
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
                        raise self._build_failed(tag, layer, chunk["error"], lines, trace, sink)
            except docker.errors.APIError as exc:
                raise self._build_failed(tag, layer, _short(exc), lines, trace, sink) from None
        if not self._exists(tag):  # the stream ended early: the daemon went away mid-build
            raise InfrastructureError(f"{layer} image {tag}: the build ended without an image "
                                      "(the Docker daemon stopped or restarted?)", kind="daemon", retry=True)
        return tag

    def _build_failed(self, tag: str, layer: str, error: str, lines: list[str], trace: _BuildTrace,
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
                log.info("could not remove the build container %s: %s", container, _short(exc))
        for image in reversed(trace.images if images else []):
            try:
                self.client.api.remove_image(image, noprune=False)
                removed.append(f"image {image}")
            except docker.errors.NotFound:
                pass
            except Exception as exc:  # noqa: BLE001 - in use by a concurrent build (its cache), or the daemon is gone
                log.info("could not remove the intermediate image %s: %s", image, _short(exc))
        return removed

    def _daemon_answers(self) -> bool:
        try:
            self.client.ping()
            return True
        except Exception:  # noqa: BLE001 - any failure means no
            return False


_BASE_RECIPE_VERSION = "2"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NO_SPACE = "no space left on device"  # ENOSPC, as a RUN step's tools and the daemon itself word it


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


def _python_version_check(python: str, version: str) -> str:
    """A RUN line failing the build when `python` is not `version` (a wrong suite mapping)."""
    code = (
        "import sys; v = '%d.%d' % sys.version_info[:2]; "
        f"sys.exit(0 if v == '{version}' else 'this base ships Python ' + v + ', not {version}')"
    )
    return f'RUN {python} -c "{code}"'


def _no_suite_message(python: str) -> str:
    by_version = sorted(DEBIAN_SUITE_FOR_PYTHON.items(), key=lambda item: tuple(map(int, item[0].split("."))))
    shipped = ", ".join(f"{v} ({s})" for v, s in by_version)
    return (
        f"Python {python} can't be built offline: no Debian suite ships it (offline: {shipped}); "
        f"load python:{python}-slim into Docker, make a registry reachable, or pass --base-image"
    )


def split_image_name(name: str) -> tuple[str, str]:
    """("repo", "tag") of an image reference; the tag defaults to latest (a registry port is no tag)."""
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1 :]
    return name, "latest"


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


def content_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def image_slug(instance_id: str) -> str:
    return re.sub(r"[^a-z0-9_.-]", "-", instance_id.lower())[:100]


def _short(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).strip()[:300]
