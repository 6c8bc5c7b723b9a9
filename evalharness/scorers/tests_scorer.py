"""The default scorer: apply the patch, run the task's tests, grade them as SWE-bench does.

Per `score()` call: two `env.write_file` calls (the patch, the eval script) and two
`env.exec` calls (apply the patch with its fallbacks; run the eval script).

The eval script's output (whatever the tests print: binary, not UTF-8, hundreds of MB) is
written to a file in the environment and comes back bounded to `MAX_TEST_OUTPUT_BYTES`,
its head and tail kept with a line saying how much was cut (scorers/bounded.py), so
neither the harness's memory nor the stored test_output.txt grows with it. The log
parsers read what is kept; when the start marker itself was cut, the test output is
taken to begin at the cut.

Which script runs: in an official SWE-bench image (an environment marked `official_image`)
the dataset's own `eval_script`, as is, graded by the dataset's `log_parser` - the
official verdict. Everywhere else the script `build_eval_script` writes from the spec.

The script itself, its guards and its fixed environment: eval_script.py.

Flaky tests (`evalharness validate --repeats N` finds them, `flaky.json`) can be given to
the scorer per instance: with the `ignore` policy they are left out of FAIL_TO_PASS and
PASS_TO_PASS before grading (they can neither fail nor pass an instance); with `flag` the
grading is unchanged and the result names the flaky tests among the failing ones.
"""

from __future__ import annotations

import re
import shlex
from typing import Mapping, Sequence

from evalharness.env.base import Environment
from evalharness.env.images import PRE_INSTALL_DIFF
from evalharness.scorers.base import ScoreResult
from evalharness.scorers.eval_script import (  # noqa: F401 - the eval script's names, long imported from here
    END_MARKER,
    EXIT_CODE_MARKER,
    GUARD_MARKER,
    START_MARKER,
    TEST_ENV,
    TEST_PATCH_FAILED_EXIT,
    TEST_PATCH_FAILED_MARKER,
    build_eval_script,
    collection_guard_lines,
    eval_test_files,
    extract_test_output,
    official_eval_script,
    parse_test_exit_code,
    reinstall_needed,
    trace,
)
from evalharness.scorers.bounded import bounded_command, cut_bytes, exec_timeout, timed_out
from evalharness.scorers.grading import grade
from evalharness.scorers.log_parsers import ERROR, FAILED, get_log_parser
from evalharness.scorers.patching import apply_patch, oversize
from evalharness.scorers.setup_edits import without_setup_edits
from evalharness.tasks.specs import HOST_SENSITIVITY, EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task

# More of the setup's edits than this is not read (sphinx's are ~2 KB).
MAX_SETUP_DIFF_BYTES = 1 << 20
# The eval output kept (head and tail halves); pytest's -rA summary, at the end, survives a cut.
MAX_TEST_OUTPUT_BYTES = 8 << 20
# What to do with the tests a flaky list names (scorer option, `eval --flaky-policy`).
FLAKY_IGNORE, FLAKY_FLAG = "ignore", "flag"
FLAKY_POLICIES = (FLAKY_IGNORE, FLAKY_FLAG)


class TestScorer:
    """Grades a patch by the task's FAIL_TO_PASS / PASS_TO_PASS tests."""

    __test__ = False  # not a pytest test class, despite the name
    name = "tests"
    test_env = TEST_ENV

    def __init__(self, patch_path: str = "/tmp/model.patch", script_path: str = "/tmp/eval.sh",
                 max_output_bytes: int = MAX_TEST_OUTPUT_BYTES,
                 flaky: Mapping[str, Sequence[str]] | None = None, flaky_policy: str = FLAKY_FLAG,
                 setup_diff_path: str = PRE_INSTALL_DIFF):
        if flaky_policy not in FLAKY_POLICIES:
            raise ValueError(f"flaky policy {flaky_policy!r}: not one of {', '.join(FLAKY_POLICIES)}")
        self.patch_path = patch_path
        self.script_path = script_path
        self.output_path = script_path + ".log"  # the whole output, in the environment
        self.max_output_bytes = max_output_bytes
        self.flaky = {k: tuple(v) for k, v in (flaky or {}).items()}  # instance id -> flaky test ids
        self.flaky_policy = flaky_policy
        self.setup_diff_path = setup_diff_path  # where a local build keeps its setup's edits

    def sidecars(self, spec: EnvSpec, *, network: bool) -> Sequence[str]:
        # with the network allowed the tests reach the real services; an internal network would cut them off
        return () if network else tuple(spec.sidecars)

    def score(self, task: Task, patch: str, env: Environment, spec: EnvSpec) -> ScoreResult:
        if not patch.strip():
            return ScoreResult(status=Status.EMPTY_PATCH, resolved=False)
        too_large = oversize(patch)  # before anything reads it whole
        if too_large:
            return ScoreResult(status=Status.PATCH_APPLY_FAILED, resolved=False, apply_log=f"refused: {too_large}\n",
                               error=too_large)
        official = bool(task.eval_script and getattr(env, "official_image", False))
        parse = get_log_parser((task.log_parser or spec.log_parser) if official else spec.log_parser)
        setup_note = ""
        setup = self._setup_diff(env, task, spec, official)
        if setup:
            filtered = without_setup_edits(patch, setup)
            if filtered.changed:
                setup_note = "".join(f"{GUARD_MARKER} left out as one of the image's setup edits: {d}\n"
                                     for d in filtered.dropped)
                patch = filtered.patch
            if not patch.strip():
                return ScoreResult(status=Status.EMPTY_PATCH, resolved=False, apply_log=setup_note,
                                   error="the patch holds only the image's setup edits (pre_install), no change of its own")
        if official:
            script = official_eval_script(task)
        else:
            script = build_eval_script(task, spec, workdir=env.workdir, model_patch=patch,
                                       setup_diff_path=self.setup_diff_path)

        applied = apply_patch(env, patch, path=self.patch_path)
        if not applied.applied:
            return ScoreResult(
                status=Status.PATCH_APPLY_FAILED,
                resolved=False,
                apply_log=setup_note + applied.log,
                error=f"the patch did not apply: {applied.reason}",
            )

        env.write_file(self.script_path, script.encode("utf-8", "replace"))
        command = bounded_command(self.script_path, self.output_path, self.max_output_bytes, spec.test_timeout)
        run = env.exec(command, timeout=exec_timeout(spec.test_timeout), workdir=env.workdir)
        output = run.output
        result = ScoreResult(
            status=Status.UNRESOLVED,
            resolved=False,
            apply_method=applied.method,
            test_output=output,
            apply_log=setup_note + applied.log + (f"{GUARD_MARKER} note: {applied.note}\n" if applied.note else ""),
        )
        f2p, p2p, flaky = self._graded(task, result)
        if timed_out(run):
            result.status = Status.TEST_TIMEOUT
            result.test_statuses = parse(extract_test_output(output))
            result.error = f"the eval script ran past the test timeout ({spec.test_timeout}s)"
            _fill_counts(result, f2p, p2p)
            return result
        if run.exit_code == TEST_PATCH_FAILED_EXIT and trace(START_MARKER) not in output:
            result.status = Status.HARNESS_ERROR
            result.error = (
                "test_patch did not apply to the test files reset to base_commit: a dataset problem "
                "(the task's test_patch does not match its base_commit), not the model's fault"
            )
            return result

        result.test_statuses = parse(extract_test_output(output))
        if not result.test_statuses and (f2p or p2p):
            # Not even a failure was logged: the tests did not run, so the patch was not graded.
            result.status = Status.NO_TESTS_PARSED
            result.error = no_tests_error(output)
            _fill_counts(result, f2p, p2p)
            return result
        verdict = _fill_counts(result, f2p, p2p)
        result.resolved = verdict.resolved
        if task.FAIL_TO_PASS and not f2p:  # policy "ignore" left none: nothing shows that the fix works
            result.resolved = False
            result.error = "every FAIL_TO_PASS test is flaky and ignored: the instance can't be resolved"
        result.status = Status.RESOLVED if result.resolved else Status.UNRESOLVED
        cut = cut_bytes(output)
        if cut and not result.resolved:
            result.error = (f"the eval output was too long: {cut} bytes were cut from its middle "
                            f"(limit {self.max_output_bytes}); tests reported only there count as not passed")
        test_exit = parse_test_exit_code(output)
        if result.resolved and test_exit not in (0, None) and not any(
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
        decided = _note_host_sensitive(result, spec, f2p + p2p, verdict)
        if decided and not result.resolved and result.error is None:
            whys = sorted({HOST_SENSITIVITY[spec.host_sensitivity(t) or ""] for t in decided})
            result.error = (f"decided by host-sensitive tests: every failing listed test ({len(decided)}) "
                            f"{' or '.join(whys)}: " + ", ".join(decided[:5]) + (" ..." if len(decided) > 5 else ""))
        if not result.resolved and result.error is None and (verdict.f2p_failed or verdict.p2p_failed):
            needs = needs_network(output)
            if needs:
                result.error = (f"needs network: {len(verdict.f2p_failed) + len(verdict.p2p_failed)} listed test(s) "
                                f"failed and the tests could not reach the network ({needs}); the official "
                                "harness runs them online")
        if self.flaky_policy == FLAKY_FLAG and result.flaky_tests:
            result.flaky_failed = [t for t in verdict.f2p_failed + verdict.p2p_failed if t in flaky]
            if result.flaky_failed and result.error is None:
                result.error = (f"{len(result.flaky_failed)} of the failing tests are known to be flaky: "
                                + ", ".join(result.flaky_failed[:5]) + (" ..." if len(result.flaky_failed) > 5 else ""))
        return result

    def _setup_diff(self, env: Environment, task: Task, spec: EnvSpec, official: bool) -> str:
        """The setup's edits of tracked files, as a diff: those a local build keeps beside the
        tree (it undoes them so that agents see base_commit), or, in an official image, the
        tree's own difference from base_commit. Empty when the setup edits nothing."""
        if not official and not spec.pre_install:
            return ""
        saved = shlex.quote(self.setup_diff_path)
        command = (f"{{ cat {saved} 2>/dev/null; git -c core.fileMode=false diff --no-color "
                   f"{shlex.quote(task.base_commit)} 2>/dev/null; }} | head -c {MAX_SETUP_DIFF_BYTES}")
        return env.exec(command, timeout=60, workdir=env.workdir).output

    def _graded(self, task: Task, result: ScoreResult) -> tuple[list[str], list[str], frozenset[str]]:
        """FAIL_TO_PASS and PASS_TO_PASS as graded under the flaky policy, and the task's tests that are flaky.

        Sets `result.flaky_tests`. A dataset id of a parametrized test cut at its first space
        (grading.py) counts as flaky when a flaky id cut the same way matches it.
        """
        f2p, p2p = list(task.FAIL_TO_PASS), list(task.PASS_TO_PASS)
        named = self.flaky.get(task.instance_id, ())
        if not named:
            return f2p, p2p, frozenset()
        cut = {t.split(" ", 1)[0] for t in named if " " in t}
        known = set(named) | {t for t in cut if t.count("[") > t.count("]")}
        flaky = frozenset(t for t in f2p + p2p if t in known)
        result.flaky_tests = len(flaky)
        if self.flaky_policy == FLAKY_IGNORE:
            f2p = [t for t in f2p if t not in flaky]
            p2p = [t for t in p2p if t not in flaky]
        return f2p, p2p, flaky


# How a test that needed the internet fails in a container without one (or with only sidecars):
# name resolution, no route, a connection or a connect timeout refused by the sandbox.
_NO_NETWORK = re.compile(
    r"Temporary failure in name resolution|Name or service not known|No address associated with hostname"
    r"|Network is unreachable|nodename nor servname|getaddrinfo failed|NameResolutionError"
    r"|Failed to establish a new connection|ConnectTimeout(?:Error)?\b|Max retries exceeded with url")


def _note_host_sensitive(result: ScoreResult, spec: EnvSpec, graded: Sequence[str], verdict) -> list[str]:
    """Name the graded tests the spec calls host-sensitive, and those of them that failed, in
    `result`; return the failing ones when they are all the failures (then they decide)."""
    sensitive = {test: why for test in graded if (why := spec.host_sensitivity(test))}
    result.host_sensitive_tests = len(sensitive)
    failing = verdict.f2p_failed + verdict.p2p_failed
    failed = [test for test in failing if test in sensitive]
    result.host_sensitive_failed = [f"{test} ({sensitive[test]})" for test in failed]
    return failed if failed and len(failed) == len(failing) else []


def no_tests_error(output: str, lines: int = 12) -> str:
    """The error of a log with no test result: what it means, and the log's last lines."""
    section = extract_test_output(output).strip() or output.strip()
    tail = "\n".join(section.splitlines()[-lines:])[-1500:]
    return ("no test result in the test log: the test command ran no test (a missing interpreter, "
            "a collection error, a wrong path?); its last lines:\n" + (tail or "(nothing)"))


def needs_network(output: str) -> str | None:
    """The first sign in a test log that tests tried to reach a network they had not, or None."""
    found = _NO_NETWORK.search(output)
    return found.group(0) if found else None


def _fill_counts(result: ScoreResult, f2p: Sequence[str], p2p: Sequence[str]):
    verdict = grade(result.test_statuses, f2p, p2p)
    result.f2p_passed, result.f2p_total = verdict.f2p_passed, verdict.f2p_total
    result.p2p_passed, result.p2p_total = verdict.p2p_passed, verdict.p2p_total
    return verdict
