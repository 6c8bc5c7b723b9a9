"""The default scorer: apply the patch, run the task's tests, grade them as SWE-bench does.

Per `score()` call: two `env.write_file` calls (the patch, the eval script) and two
`env.exec` calls (apply the patch with its fallbacks; run the eval script).
"""

from __future__ import annotations

import hashlib
import re
import shlex

from evalharness.environment import Environment
from evalharness.scorers.base import ScoreResult
from evalharness.scorers.grading import grade
from evalharness.scorers.log_parsers import ERROR, FAILED, get_log_parser
from evalharness.scorers.patching import apply_patch
from evalharness.specs import EnvSpec
from evalharness.status import Status
from evalharness.task import Task, patch_sections

START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"
EXIT_CODE_MARKER = ">>>>> Test Exit Code:"
TEST_PATCH_FAILED_MARKER = ">>>>> test_patch failed to apply"
TEST_PATCH_FAILED_EXIT = 98
# Files of test_patch that are data, not tests: never passed to the test command.
NON_TEST_EXTENSIONS = (
    ".json", ".png", ".csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml", ".rst",
)
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class TestScorer:
    """Grades a patch by the task's FAIL_TO_PASS / PASS_TO_PASS tests."""

    __test__ = False  # not a pytest test class, despite the name
    name = "tests"

    def __init__(self, patch_path: str = "/tmp/model.patch", script_path: str = "/tmp/eval.sh"):
        self.patch_path = patch_path
        self.script_path = script_path

    def score(self, task: Task, patch: str, env: Environment, spec: EnvSpec) -> ScoreResult:
        if not patch.strip():
            return ScoreResult(status=Status.EMPTY_PATCH, resolved=False)
        parse = get_log_parser(spec.log_parser)  # an unknown name fails before any work
        script = build_eval_script(task, spec, workdir=env.workdir)

        applied = apply_patch(env, patch, path=self.patch_path)
        if not applied.applied:
            return ScoreResult(
                status=Status.PATCH_APPLY_FAILED,
                resolved=False,
                apply_log=applied.log,
                error="the patch did not apply (git apply, git apply --3way, git apply --reject, patch --fuzz=5)",
            )

        env.write_file(self.script_path, script)
        run = env.exec(f"bash {shlex.quote(self.script_path)}", timeout=spec.test_timeout, workdir=env.workdir)
        output = run.output
        result = ScoreResult(
            status=Status.UNRESOLVED,
            resolved=False,
            apply_method=applied.method,
            test_output=output,
            apply_log=applied.log,
        )
        if run.timed_out:
            result.status = Status.TEST_TIMEOUT
            result.test_statuses = parse(extract_test_output(output))
            result.error = f"the eval script ran past the test timeout ({spec.test_timeout}s)"
            _fill_counts(result, task)
            return result
        if run.exit_code == TEST_PATCH_FAILED_EXIT and _trace(START_MARKER) not in output:
            result.status = Status.HARNESS_ERROR
            result.error = (
                "test_patch did not apply to the test files reset to base_commit: a dataset problem "
                "(the task's test_patch does not match its base_commit), not the model's fault"
            )
            return result

        result.test_statuses = parse(extract_test_output(output))
        verdict = _fill_counts(result, task)
        result.resolved = verdict.resolved
        result.status = Status.RESOLVED if verdict.resolved else Status.UNRESOLVED
        test_exit = parse_test_exit_code(output)
        if verdict.resolved and test_exit not in (0, None) and not any(
            s in (FAILED, ERROR) for s in result.test_statuses.values()
        ):
            # The log says every test passed but the test command failed: something
            # (a forged summary printed by the code under test, a crash after the
            # summary) makes the log untrustworthy. v5 checks the exit code too.
            result.resolved = False
            result.status = Status.UNRESOLVED
            result.error = (
                f"the test command exited with code {test_exit} although its log shows no failure; "
                "the log is not trusted"
            )
        return result


def _fill_counts(result: ScoreResult, task: Task):
    verdict = grade(result.test_statuses, task.FAIL_TO_PASS, task.PASS_TO_PASS)
    result.f2p_passed, result.f2p_total = verdict.f2p_passed, verdict.f2p_total
    result.p2p_passed, result.p2p_total = verdict.p2p_passed, verdict.p2p_total
    return verdict


def build_eval_script(task: Task, spec: EnvSpec, workdir: str = "/testbed") -> str:
    """The bash script that resets the test files, applies test_patch and runs the tests.

    Shown to users and logged as is. LF line endings only. The test command runs
    between the `: '>>>>> Start Test Output'` / `: '>>>>> End Test Output'` markers,
    which `set -x` echoes as `+ : '...'` lines; its exit code follows as a third one.
    """
    base = shlex.quote(task.base_commit)
    lines = [
        "#!/bin/bash",
        "export PS4='+ '",
        "set -uxo pipefail",
        f"cd {shlex.quote(workdir)}",
    ]
    for key, value in spec.env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"spec env: {key!r} is not a valid environment variable name")
        lines.append(f"export {key}={shlex.quote(str(value))}")
    reset = _reset_lines(task.test_files, base)
    lines += reset
    if task.test_patch.strip():
        test_patch = task.test_patch if task.test_patch.endswith("\n") else task.test_patch + "\n"
        delimiter = _heredoc_delimiter(test_patch)
        lines.append(
            f"git apply -v - <<'{delimiter}' || "
            f"{{ echo '{TEST_PATCH_FAILED_MARKER}'; exit {TEST_PATCH_FAILED_EXIT}; }}"
        )
        lines.append(test_patch + delimiter)
    command = " ".join([spec.test_cmd, *(shlex.quote(f) for f in eval_test_files(task.test_patch))])
    lines += [
        f": '{START_MARKER}'",
        command,
        "_test_exit=$?",
        f": '{END_MARKER}'",
        f": \"{EXIT_CODE_MARKER} ${{_test_exit}}\"",
        *reset,
        "exit 0",
    ]
    return "\n".join(lines) + "\n"


def _reset_lines(files: list[str], base: str) -> list[str]:
    """Put each test file back as it is at base_commit, or remove it if it is new there.

    File by file, always with `--`: a bare `git checkout <sha>` would move HEAD instead.
    """
    out = []
    for name in files:
        path = shlex.quote(name)
        out.append(
            f"if git cat-file -e {base}:{path} 2>/dev/null; "
            f"then git checkout {base} -- {path}; else rm -f -- {path}; fi"
        )
    return out


def eval_test_files(test_patch: str) -> list[str]:
    """Files of test_patch to pass to the test command: not deleted, not data files."""
    targets = []
    for name, deleted in patch_sections(test_patch):
        if deleted or name.lower().endswith(NON_TEST_EXTENSIONS):
            continue
        if name not in targets:
            targets.append(name)
    return targets


def _heredoc_delimiter(body: str) -> str:
    lines = set(body.splitlines())
    delimiter = "EOF_" + hashlib.sha256(body.encode()).hexdigest()[:16]
    while delimiter in lines:
        delimiter += "_"
    return delimiter


def _trace(marker: str) -> str:
    return f"+ : '{marker}'"


def extract_test_output(output: str) -> str:
    """The part of the eval output between the start and end marker traces.

    From the first start marker (nothing the tests print can come before it) to the
    last end marker after it (tests may print marker-like text); to the end of the
    output when there is no end marker (the run was cut off).
    """
    lines = output.splitlines()
    start_line, end_line = _trace(START_MARKER), _trace(END_MARKER)
    try:
        start = lines.index(start_line)
    except ValueError:
        return ""
    end = len(lines)
    for i in range(len(lines) - 1, start, -1):
        if lines[i] == end_line:
            end = i
            break
    return "\n".join(lines[start + 1 : end])


def parse_test_exit_code(output: str) -> int | None:
    """The test command's exit code, from the last `+ : '>>>>> Test Exit Code: N'` trace."""
    found = re.findall(rf"^\+ : '{re.escape(EXIT_CODE_MARKER)} (-?\d+)'$", output, re.M)
    return int(found[-1]) if found else None
