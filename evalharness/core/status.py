"""The closed set of per-instance outcomes."""

from enum import Enum


class Status(str, Enum):
    RESOLVED = "resolved"
    UNRESOLVED = "unresolved"
    EMPTY_PATCH = "empty_patch"
    PATCH_APPLY_FAILED = "patch_apply_failed"
    TEST_TIMEOUT = "test_timeout"
    # The test log held no test result at all: the test command did not run (a missing
    # interpreter, a collection error, a wrong path), so nothing was graded.
    NO_TESTS_PARSED = "no_tests_parsed"
    ENV_BUILD_FAILED = "env_build_failed"
    AGENT_ERROR = "agent_error"
    HARNESS_ERROR = "harness_error"

    def __str__(self) -> str:
        return self.value
