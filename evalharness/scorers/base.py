"""The scorer interface and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from evalharness.env.base import Environment
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task


@dataclass
class ScoreResult:
    status: Status
    resolved: bool
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    apply_method: str | None = None  # which patch command worked, e.g. "git apply"
    test_statuses: dict[str, str] = field(default_factory=dict)  # test id -> PASSED/FAILED/...
    test_output: str = ""
    apply_log: str = ""
    error: str | None = None
    flaky_tests: int = 0  # tests of FAIL_TO_PASS / PASS_TO_PASS named by the scorer's flaky list
    flaky_failed: list[str] = field(default_factory=list)  # of those, the failing ones (policy "flag")
    host_sensitive_tests: int = 0  # tests of FAIL_TO_PASS / PASS_TO_PASS the spec names as host-sensitive
    host_sensitive_failed: list[str] = field(default_factory=list)  # of those, the failing ones: "id (why)"


class Scorer(Protocol):
    name: str

    def score(self, task: Task, patch: str, env: Environment, spec: EnvSpec) -> ScoreResult:
        """Grade `patch` for `task` in `env`, a fresh environment with the repo at base_commit."""
        ...
