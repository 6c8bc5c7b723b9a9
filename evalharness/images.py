"""Docker images in three cached layers: base (OS + Python) -> env (repo+version deps) -> instance.

Every tag is derived from the content that makes the image (Dockerfile text, spec, commit,
injected CA bundle), so asking for an image that already exists is a no-op. The base image
is pulled from a registry when one answers; otherwise (air-gapped) it is bootstrapped from
Debian with debootstrap and `docker import`, and the log says so.
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
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import docker
import docker.errors

from evalharness.errors import EnvBuildError
from evalharness.repos import RepoSource, bundle_commit
from evalharness.specs import EnvSpec
from evalharness.task import Task

log = logging.getLogger(__name__)

LABEL = "evalharness"  # every image and container the harness makes carries this label
WORKDIR = "/testbed"
VENV = "/opt/venv"
CA_PATH = "/etc/ssl/certs/evalharness-ca-bundle.crt"
DEFAULT_HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# Debian suites that ship a given CPython as python3: the offline source of Python.
DEBIAN_SUITE_FOR_PYTHON = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
BASE_PACKAGES = ("bash", "coreutils", "git", "patch", "ca-certificates", "procps")
DEBIAN_PYTHON_PACKAGES = ("python3", "python3-venv")
# Pip settings passed to builds as build args. Always declared, so the Dockerfile (and the
# tag hashed from it) does not change with which of them the host happens to set.
PIP_BUILD_ARGS = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_TRUSTED_HOST", "PIP_DEFAULT_TIMEOUT")
# Kept out of every diff the harness takes (pip install -e and test runs leave them behind).
GIT_EXCLUDES = ("*.egg-info/", "__pycache__/", "*.pyc", ".pytest_cache/", "build/", ".eggs/", "*.so")


@dataclass(frozen=True)
class BuildConfig:
    cache_dir: Path
    ca_bundle: Path | None = DEFAULT_HOST_CA if DEFAULT_HOST_CA.exists() else None
    pip_env: tuple[tuple[str, str], ...] = ()  # PIP_INDEX_URL and friends, for builds only
    pull: bool = True
    base_image: str | None = None  # override the upstream image, e.g. "python:3.11-slim"
    debian_mirror: str = "http://deb.debian.org/debian"
    max_parallel_builds: int = 2

    @staticmethod
    def pip_env_from(environ: dict[str, str]) -> tuple[tuple[str, str], ...]:
        return tuple((k, environ[k]) for k in PIP_BUILD_ARGS if environ.get(k))


@dataclass
class BuiltImage:
    tag: str
    built: bool  # False when it was already there
    log: str = ""


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

    # ---- public -------------------------------------------------------------------------
    def instance_image(self, task: Task, spec: EnvSpec, log_sink: Callable[[str], None] | None = None) -> str:
        """Ensure base, env and instance images for `task`; return the instance tag."""
        sink = log_sink or (lambda line: None)
        env_tag = self.env_image(spec, sink)
        dockerfile = self._instance_dockerfile(env_tag, task, spec)
        tag = f"evalharness-instance:{_slug(task.instance_id)}-{_hash(dockerfile)[:12]}"

        def build() -> str:
            with tempfile.TemporaryDirectory(prefix="evalharness-ctx-") as tmp:
                bundle = bundle_commit(self.repo_sources, task.repo, task.base_commit, Path(tmp) / "repo.bundle")
                return self._build(tag, dockerfile, {"repo.bundle": bundle.read_bytes()}, sink, "instance")

        return self._ensure(tag, build, sink)

    def env_image(self, spec: EnvSpec, sink: Callable[[str], None]) -> str:
        base_tag = self.base_image(spec.python, sink)
        dockerfile = self._env_dockerfile(base_tag, spec)
        tag = f"evalharness-env:py{spec.python}-{_hash(dockerfile)[:12]}"
        return self._ensure(tag, lambda: self._build(tag, dockerfile, {}, sink, "env"), sink)

    def base_image(self, python: str, sink: Callable[[str], None]) -> str:
        key = _hash(python, self._ca_bytes.hex(), _BASE_RECIPE_VERSION, self.config.base_image or "")
        tag = f"evalharness-base:py{python}-{key[:12]}"

        def build() -> str:
            upstream, debian_python = self._upstream_for(python, sink)
            dockerfile = self._base_dockerfile(upstream, debian_python)
            files = {"ca-bundle.crt": self._ca_bytes} if self._ca_bytes else {}
            return self._build(tag, dockerfile, files, sink, "base")

        return self._ensure(tag, build, sink)

    # ---- layers -------------------------------------------------------------------------
    def _upstream_for(self, python: str, sink: Callable[[str], None]) -> tuple[str, bool]:
        """The image the base starts FROM, and whether its Python comes from Debian packages."""
        wanted = self.config.base_image or f"python:{python}-slim"
        if self._exists(wanted):
            return wanted, False
        if self.config.pull:
            try:
                repo, _, tag = wanted.partition(":")
                self.client.images.pull(repo, tag=tag or "latest")
                sink(f"pulled {wanted}")
                return wanted, False
            except docker.errors.APIError as exc:
                sink(f"could not pull {wanted}: {_short(exc)}")
        suite = DEBIAN_SUITE_FOR_PYTHON.get(python)
        if suite is None:
            raise EnvBuildError(
                f"Python {python} needs the image {wanted} from a registry; offline, only Python "
                f"{', '.join(sorted(DEBIAN_SUITE_FOR_PYTHON))} can be bootstrapped from Debian"
            )
        return self.os_image(suite, sink), True

    def os_image(self, suite: str, sink: Callable[[str], None]) -> str:
        """A minimal Debian root filesystem as an image: pulled, else debootstrapped locally."""
        tag = f"evalharness-os:{suite}"

        def build() -> str:
            upstream = f"debian:{suite}-slim"
            if self.config.pull:
                try:
                    self.client.images.pull("debian", tag=f"{suite}-slim")
                    self.client.images.get(upstream).tag("evalharness-os", suite)
                    sink(f"pulled {upstream} as {tag}")
                    return tag
                except docker.errors.APIError as exc:
                    sink(f"could not pull {upstream}: {_short(exc)}")
            msg = f"no registry answered: bootstrapping {tag} from Debian {suite} with debootstrap"
            log.warning(msg)
            sink(msg)
            bootstrap_debian(self.client, suite, tag, self.config.debian_mirror, self.config.cache_dir, sink)
            return tag

        return self._ensure(tag, build, sink)

    def _base_dockerfile(self, upstream: str, debian_python: bool) -> str:
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
        excludes = "\\n".join(GIT_EXCLUDES)
        lines = [
            f"FROM {env_tag} AS repo",
            f"LABEL {LABEL}=1 {LABEL}.layer=repo-stage",  # so the stage image can be found and pruned
            "COPY repo.bundle /tmp/repo.bundle",
            f"RUN git init -q {WORKDIR} && cd {WORKDIR} && "
            f"git fetch -q /tmp/repo.bundle refs/evalharness/{commit} && "
            f"git update-ref refs/heads/main {commit} && git symbolic-ref HEAD refs/heads/main && "
            f"git reset -q --hard && rm -f .git/FETCH_HEAD && "
            f"printf '{excludes}\\n' >> .git/info/exclude && git gc -q --prune=now",
            f"FROM {env_tag}",
            f"COPY --from=repo {WORKDIR} {WORKDIR}",
            f"WORKDIR {WORKDIR}",
        ]
        lines += [f"ARG {k}" for k in PIP_BUILD_ARGS]
        for command in spec.install:
            lines.append(f"RUN {command}")
        # The instance must start clean: an install that dirties the tree is a spec bug.
        lines.append("RUN test -z \"$(git status --porcelain)\" || (git status --porcelain; exit 1)")
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
            try:
                return build()
            except EnvBuildError as exc:
                memo.failure = exc
                raise

    def _exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def _build(self, tag: str, dockerfile: str, files: dict[str, bytes], sink: Callable[[str], None], layer: str) -> str:
        context = _tar_context(dockerfile, files)
        lines: list[str] = []
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
                        text = chunk["stream"].rstrip("\n")
                        if text:
                            lines.append(text)
                            sink(text)
                    if "error" in chunk:
                        lines.append(chunk["error"])
                        sink(chunk["error"])
                        raise EnvBuildError(f"{layer} image {tag} failed: {chunk['error'].strip()[-500:]}", "\n".join(lines))
            except docker.errors.APIError as exc:
                raise EnvBuildError(f"{layer} image {tag} failed: {_short(exc)}", "\n".join(lines)) from None
        return tag


_BASE_RECIPE_VERSION = "1"


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
    with tempfile.TemporaryDirectory(prefix=f"debootstrap-{suite}-", dir=cache_dir) as tmp:
        rootfs = Path(tmp) / "rootfs"
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


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def _slug(instance_id: str) -> str:
    return re.sub(r"[^a-z0-9_.-]", "-", instance_id.lower())[:100]


def _short(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).strip()[:300]
