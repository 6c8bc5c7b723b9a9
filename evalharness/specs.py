"""Environment specs as data: how to build and test a repo at a version.

Specs live in TOML files (`tasks/specs.toml` for the built-in repos); a user's own
file given with `--specs` is read after, and its entries win.

    [repos."owner/name"."1.0"]
    python = "3.11"
    pip = ["pytest==8.3.3"]
    install = ["pip install --no-deps -e ."]
    test_cmd = "pytest -rA"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from evalharness.errors import UserError

_KEYS = {"python", "apt", "pip", "install", "test_cmd", "log_parser", "env", "test_timeout"}


@dataclass(frozen=True)
class EnvSpec:
    repo: str
    version: str
    python: str
    apt: tuple[str, ...] = ()  # Debian packages for the env layer
    pip: tuple[str, ...] = ()  # pinned requirements for the env layer
    install: tuple[str, ...] = ()  # shell commands run in the repo for the instance layer
    test_cmd: str = "pytest -rA"
    log_parser: str = "pytest"
    env: Mapping[str, str] = field(default_factory=dict)
    test_timeout: int = 600


class SpecRegistry:
    def __init__(self, specs: Iterable[EnvSpec] = ()):
        self._specs: dict[tuple[str, str], EnvSpec] = {}
        for spec in specs:
            self._specs[(spec.repo, spec.version)] = spec

    @classmethod
    def from_files(cls, paths: Iterable[Path]) -> "SpecRegistry":
        registry = cls()
        for path in paths:
            for spec in load_spec_file(path):
                registry._specs[(spec.repo, spec.version)] = spec
        return registry

    def get(self, repo: str, version: str) -> EnvSpec:
        try:
            return self._specs[(repo, version)]
        except KeyError:
            known = sorted({r for r, _ in self._specs})
            raise UserError(
                f"no environment spec for repo {repo!r} version {version!r}; "
                f"known repos: {', '.join(known) or 'none'} (add one with --specs FILE)"
            ) from None

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._specs


def load_spec_file(path: Path) -> list[EnvSpec]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"spec file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: invalid TOML: {exc}") from None
    specs = []
    for repo, versions in data.get("repos", {}).items():
        for version, body in versions.items():
            where = f"{path}: repos.{repo!r}.{version!r}"
            unknown = set(body) - _KEYS
            if unknown:
                raise UserError(f"{where}: unknown keys {sorted(unknown)}")
            if "python" not in body:
                raise UserError(f"{where}: 'python' is required")
            specs.append(
                EnvSpec(
                    repo=repo,
                    version=version,
                    python=str(body["python"]),
                    apt=tuple(body.get("apt", ())),
                    pip=tuple(body.get("pip", ())),
                    install=tuple(body.get("install", ())),
                    test_cmd=body.get("test_cmd", "pytest -rA"),
                    log_parser=body.get("log_parser", "pytest"),
                    env=dict(body.get("env", {})),
                    test_timeout=int(body.get("test_timeout", 600)),
                )
            )
    return specs

