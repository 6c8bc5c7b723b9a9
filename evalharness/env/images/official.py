"""Official SWE-bench images: their names, whether one can be had (present locally or pulled
from `--namespace`), and the conda env `testbed` every command in them must run in.

Apart from the built layers because nothing of it builds: an official image is used as it
is, and the only state is which tags were handed out as official (their envs get conda).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Callable

from evalharness.core.task import Task
from evalharness.env.base import Environment, ExecResult
from evalharness.env.images.config import BuildConfig
from evalharness.env.images.registry import Registry, _PullFailed

# Official SWE-bench images: the conda env every command must run in.
CONDA_ACTIVATE = "source /opt/miniconda3/bin/activate && conda activate testbed"


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


class OfficialImages:
    """Finds a task's official image (here, or pulled) and remembers the ones handed out."""

    def __init__(self, config: BuildConfig, registry: Registry):
        self.config = config
        self.registry = registry
        self._handed_out: set[str] = set()  # official images handed out, so their envs get conda
        self._lock = threading.Lock()

    def name(self, task: Task) -> str | None:
        return official_image_name(task, self.config.namespace)

    def present(self, task: Task) -> str | None:
        """`task`'s official image when it is present locally; pulls nothing."""
        official = self.name(task)
        return official if official and self.registry.exists(official) else None

    def find(self, task: Task, sink: Callable[[str], None]) -> tuple[InstanceImage | None, str]:
        """(the official image of `task`, "") when it is here or can be pulled, else (None, why not).

        "why not" is "" when the task has no official image at all.
        """
        official = self.name(task)
        why_not = ""
        if official:
            if self.registry.exists(official):
                sink(f"using the official image {official} (present locally)")
                return self._handed(official, "local"), ""
            if not self.config.namespace:
                why_not = f"the official image {official} is not present locally (pull it with --namespace)"
            elif not self.config.pull:
                why_not = f"the official image {official} is not present locally and --no-pull is set"
            elif self.registry.timed_out:
                why_not = f"the registry timed out earlier in this run; not pulling {official}"
            else:
                try:
                    self.registry.pull(official)
                    sink(f"pulled the official image {official}")
                    return self._handed(official, "pulled"), ""
                except _PullFailed as exc:
                    why_not = f"could not pull the official image {official}: {exc}"
            sink(why_not)
        return None, why_not

    def is_official(self, tag: str) -> bool:
        return tag in self._handed_out

    def _handed(self, tag: str, origin: str) -> InstanceImage:
        with self._lock:
            self._handed_out.add(tag)
        return InstanceImage(tag, official=True, origin=origin)
