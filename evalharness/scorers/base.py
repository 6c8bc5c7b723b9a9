"""The scorer interface and its verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Protocol, Sequence

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

    def record_fields(self) -> dict[str, Any]:
        """What the instance record takes beyond the fields of the same name (`InstanceRecord.take`)."""
        return {"status": self.status.value, "flaky_failed": "\n".join(self.flaky_failed),
                "host_sensitive_failed": "\n".join(self.host_sensitive_failed)}


class Scorer(Protocol):
    """A way to grade a patch. What its test runs need from the layers above (the environment
    they get, the services beside them) it says here, so the pipeline and the runner know no
    scorer by name. Subclass it to take the defaults: no fixed environment, no services."""

    name: str
    test_env: Mapping[str, str] = {}  # what every test run gets (recorded in run.json)

    def sidecars(self, spec: EnvSpec, *, network: bool) -> Sequence[str]:
        """The services (evalharness.env.sidecars names) the tests of `spec` need beside them;
        `network`: the run lets them reach the real ones instead."""
        return ()

    def score(self, task: Task, patch: str, env: Environment, spec: EnvSpec) -> ScoreResult:
        """Grade `patch` for `task` in `env`, a fresh environment with the repo at base_commit."""
        ...
