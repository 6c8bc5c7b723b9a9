"""The three built layers as text: the Dockerfiles of base (OS + Python), env (repo+version
deps) and instance (the repo at its base commit), and the tags hashed from them.

Pure: computing a tag or a Dockerfile never builds or pulls, so tags can be asked for (is
this image cached? which env is it built on?) without touching Docker, and a change to any
line of a recipe changes its tag, and so rebuilds it.
"""

from __future__ import annotations

import shlex

from evalharness.core.task import Task
from evalharness.env.images.config import (
    BASE_PACKAGES,
    CA_PATH,
    DEBIAN_PYTHON_PACKAGES,
    LABEL,
    PIP_BUILD_ARGS,
    PRE_INSTALL_DIFF,
    VENV,
    WORKDIR,
    content_hash,
    image_slug,
)
from evalharness.tasks.specs import EnvSpec

_BASE_RECIPE_VERSION = "2"


class LayerRecipes:
    """Tags and Dockerfiles of the base, env and instance layers, for one CA bundle and
    `--base-image` (both are part of the base, so of every tag above it)."""

    def __init__(self, ca_bytes: bytes, base_image: str | None):
        self.ca_bytes = ca_bytes
        self.base_image = base_image

    # ---- tags -----------------------------------------------------------------------------
    def base_tag(self, python: str) -> str:
        key = content_hash(python, self.ca_bytes.hex(), _BASE_RECIPE_VERSION, self.base_image or "",
                    " ".join(BASE_PACKAGES + DEBIAN_PYTHON_PACKAGES))  # a package list change rebuilds
        return f"evalharness-base:py{python}-{key[:12]}"

    def env_tag(self, spec: EnvSpec) -> str:
        dockerfile = self.env_dockerfile(self.base_tag(spec.python), spec)
        return f"evalharness-env:py{spec.python}-{content_hash(dockerfile)[:12]}"

    def instance_tag(self, task: Task, spec: EnvSpec) -> str:
        dockerfile = self.instance_dockerfile(self.env_tag(spec), task, spec)
        return f"evalharness-instance:{image_slug(task.instance_id)}-{content_hash(dockerfile)[:12]}"

    # ---- Dockerfiles ----------------------------------------------------------------------
    def base_dockerfile(self, upstream: str, debian_python: bool, version: str = "") -> str:
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
        if self.ca_bytes:
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

    def env_dockerfile(self, base_tag: str, spec: EnvSpec) -> str:
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

    def instance_dockerfile(self, env_tag: str, task: Task, spec: EnvSpec) -> str:
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


def _python_version_check(python: str, version: str) -> str:
    """A RUN line failing the build when `python` is not `version` (a wrong suite mapping)."""
    code = (
        "import sys; v = '%d.%d' % sys.version_info[:2]; "
        f"sys.exit(0 if v == '{version}' else 'this base ships Python ' + v + ', not {version}')"
    )
    return f'RUN {python} -c "{code}"'
