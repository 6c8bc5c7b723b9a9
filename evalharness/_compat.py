"""The module names of evalharness before its packages (issue 18), kept importable.

`import evalharness.datasets` or `from evalharness.containers import DockerEnvironment` in a
user's script still works: a finder on sys.meta_path answers an old name with the module
under its new name, the same module object (so monkeypatching either name patches both).
A submodule of an old package (`evalharness.executors.ray`) maps the same way.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

OLD_NAMES = {
    "evalharness.errors": "evalharness.core.errors",
    "evalharness.status": "evalharness.core.status",
    "evalharness.task": "evalharness.core.task",
    "evalharness.results": "evalharness.core.results",
    "evalharness.trajectory": "evalharness.core.trajectory",
    "evalharness.redact": "evalharness.core.redact",
    "evalharness.scratch": "evalharness.core.scratch",
    "evalharness.datasets": "evalharness.tasks.datasets",
    "evalharness.specs": "evalharness.tasks.specs",
    "evalharness.repos": "evalharness.tasks.repos",
    "evalharness.predictions": "evalharness.tasks.predictions",
    "evalharness.environment": "evalharness.env",
    "evalharness.containers": "evalharness.env.docker",
    "evalharness.shell": "evalharness.env.shell",
    "evalharness.sidecars": "evalharness.env.sidecars",
    "evalharness.images": "evalharness.env.images",
    "evalharness.llm": "evalharness.model.llm",
    "evalharness.models": "evalharness.model.registry",
    "evalharness.ratelimit": "evalharness.model.ratelimit",
    "evalharness.serve": "evalharness.model.serve",
    "evalharness.gateway": "evalharness.model.gateway",
    "evalharness.gateway_forward": "evalharness.model.gateway.forward",
    "evalharness.pipeline": "evalharness.run.pipeline",
    "evalharness.runner": "evalharness.run.runner",
    "evalharness.validate": "evalharness.run.validate",
    "evalharness.executors": "evalharness.run.executors",
    "evalharness.compare": "evalharness.report.compare",
}


def new_name(fullname: str) -> str | None:
    """The current name of an old module name, None when it is not an old one. Asked on every
    import in the process (the finder is first on sys.meta_path): one dict lookup."""
    top, dot, rest = fullname.partition(".")
    name, _, below = rest.partition(".")
    new = OLD_NAMES.get(f"{top}.{name}") if dot else None
    return None if new is None else new + (f".{below}" if below else "")


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str):
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module) -> None:
        pass  # the module under its new name is already run


class OldNames(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname)
        if new is None or importlib.util.find_spec(new) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(finder, OldNames) for finder in sys.meta_path):
        sys.meta_path.insert(0, OldNames())  # first: before the path finder loads a second copy
