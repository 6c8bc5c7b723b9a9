"""Environments: where an agent works and a scorer runs the tests.

One registry of environment kinds, by the name a user or a config gives. Each kind is a
class with the `Environment` interface (base.py), its shell transport included, so the shell
(shell.py) and the layers above need no change for a new kind. Heavy kinds (Docker) import
only when asked for.
"""

from __future__ import annotations

import importlib

from evalharness.core.errors import UserError
from evalharness.env.base import Environment, ExecResult
from evalharness.env.local import LocalEnvironment

# name -> "module:Class", or the class itself (a kind registered by a plugin or a test)
ENVIRONMENTS: dict[str, str | type] = {
    "docker": "evalharness.env.docker:DockerEnvironment",
    "local": "evalharness.env.local:LocalEnvironment",
}


def get_environment_class(name: str, registry: dict[str, str | type] | None = None) -> type:
    """The environment class registered as `name` (in `registry`, else ENVIRONMENTS)."""
    kinds = ENVIRONMENTS if registry is None else registry
    try:
        entry = kinds[name]
    except KeyError:
        raise UserError(f"unknown environment kind {name!r}; available: {', '.join(sorted(kinds))}") from None
    if isinstance(entry, str):
        module, _, attr = entry.partition(":")
        return getattr(importlib.import_module(module), attr)
    return entry


__all__ = ["ENVIRONMENTS", "Environment", "ExecResult", "LocalEnvironment", "get_environment_class"]
