"""The closed set of per-instance outcomes."""

from enum import Enum


class Status(str, Enum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    EMPTY_PATCH = "empty_patch"
    PATCH_APPLY_FAILED = "patch_apply_failed"
    TEST_TIMEOUT = "test_timeout"
    ENV_BUILD_FAILED = "env_build_failed"
    AGENT_ERROR = "agent_error"
    HARNESS_ERROR = "harness_error"

    def __str__(self) -> str:
        return self.value
