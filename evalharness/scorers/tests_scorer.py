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

Files that steer test collection or interpreter start-up are not the model's to change
(SWE-bench graded a patch adding only a conftest.py as resolved). In local builds the eval
script, before anything runs: removes such files the patch added, restores the ones it
edited or deleted - conftest.py, pytest.ini, .pytest.ini, sitecustomize.py,
usercustomize.py, *.pth anywhere - and restores an edited tox.ini, setup.cfg or
pyproject.toml only when the edit touches its pytest or tox sections (packaging edits stay:
pylint-dev__pylint-4661's gold patch edits setup.cfg). Files of test_patch are exempt
(test_patch replaces them). Each action is printed in the log. Official scripts run as is.

Both scripts run the tests in one fixed environment, `TEST_ENV` (time zone, locale, hash
seed), whatever the image sets: SWE-bench's own images fix none of them, and verdicts
that depend on them change from machine to machine. It is exported first, so a spec's
`env` and the commands of an official script (Django's locale exports) still override it.

Flaky tests (`evalharness validate --repeats N` finds them, `flaky.json`) can be given to
the scorer per instance: with the `ignore` policy they are left out of FAIL_TO_PASS and
PASS_TO_PASS before grading (they can neither fail nor pass an instance); with `flag` the
grading is unchanged and the result names the flaky tests among the failing ones.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Mapping, Sequence

from evalharness.env.base import Environment
from evalharness.env.images import PRE_INSTALL_DIFF
from evalharness.scorers.base import ScoreResult
from evalharness.scorers.bounded import CUT_LINE, bounded_command, cut_bytes, exec_timeout, timed_out
from evalharness.scorers.grading import grade
from evalharness.scorers.log_parsers import ERROR, FAILED, get_log_parser
from evalharness.scorers.patching import ADDED, DELETED, apply_patch, file_changes, oversize
from evalharness.scorers.setup_edits import without_setup_edits
from evalharness.tasks.specs import HOST_SENSITIVITY, EnvSpec, test_arguments
from evalharness.core.status import Status
from evalharness.core.task import Task, patch_sections

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
# SWE-bench's default per-instance limit, for official images that have no spec here.
OFFICIAL_TEST_TIMEOUT = 1800
# Collection / start-up hooks: always put back as at base_commit (added ones removed).
HOOK_NAMES = ("conftest.py", "pytest.ini", ".pytest.ini", "sitecustomize.py", "usercustomize.py")
HOOK_SUFFIXES = (".pth",)
# Config files with a test section: added ones removed, edited ones restored if that section changed.
SECTION_CONFIGS = ("tox.ini", "setup.cfg", "pyproject.toml")
GUARD_MARKER = ">>>>> evalharness:"
# What a build reads: a patch touching one makes the eval script re-run an editable install.
BUILD_INPUT_NAMES = ("setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "meson.build", "CMakeLists.txt")
BUILD_INPUT_SUFFIXES = (".pyx", ".pxd", ".pxi", ".c", ".cc", ".cpp", ".h", ".hpp", ".f", ".f90")
_EDITABLE_FLAGS = ("-e", "--editable", "develop")
# The install step re-run by the eval script has no network: pip must not wait for an index
# or fetch build dependencies (PIP_NO_BUILD_ISOLATION=0 turns isolation *off*: pip's
# environment variables for --no-* flags are inverted).
OFFLINE_PIP = "PIP_NO_INDEX=1 PIP_NO_BUILD_ISOLATION=0"
# More of the setup's edits than this is not read (sphinx's are ~2 KB).
MAX_SETUP_DIFF_BYTES = 1 << 20
# The eval output kept (head and tail halves); pytest's -rA summary, at the end, survives a cut.
MAX_TEST_OUTPUT_BYTES = 8 << 20
# The one environment every test run gets (recorded in run.json): no verdict may depend on the
# machine's time zone, locale or Python's random hash seed.
TEST_ENV: Mapping[str, str] = {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
# What to do with the tests a flaky list names (scorer option, `eval --flaky-policy`).
FLAKY_IGNORE, FLAKY_FLAG = "ignore", "flag"
FLAKY_POLICIES = (FLAKY_IGNORE, FLAKY_FLAG)


class TestScorer:
    """Grades a patch by the task's FAIL_TO_PASS / PASS_TO_PASS tests."""

    __test__ = False  # not a pytest test class, despite the name
    name = "tests"

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
        if run.exit_code == TEST_PATCH_FAILED_EXIT and _trace(START_MARKER) not in output:
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


def test_env_lines() -> list[str]:
    """`export` lines for TEST_ENV, in a fixed order."""
    return [f"export {key}={shlex.quote(value)}" for key, value in TEST_ENV.items()]


def official_eval_script(task: Task) -> str:
    """The dataset's eval_script, with LF line endings (CRLF makes bash fail every line), TEST_ENV
    exported before its first command (after its `#!` line), so its own exports still win."""
    script = (task.eval_script or "").replace("\r\n", "\n").replace("\r", "\n")
    script = script if script.endswith("\n") else script + "\n"
    shebang, rest = (script.split("\n", 1) if script.startswith("#!") else (None, script))
    return "\n".join([*([shebang] if shebang is not None else []), *test_env_lines(), rest])


def fallback_spec(task: Task) -> EnvSpec:
    """The spec of an instance that runs in its official image but has no spec here."""
    return EnvSpec(repo=task.repo, version=task.version, python="", log_parser=task.log_parser or "pytest",
                   test_timeout=OFFICIAL_TEST_TIMEOUT)


def build_eval_script(task: Task, spec: EnvSpec, workdir: str = "/testbed", model_patch: str = "",
                      setup_diff_path: str = PRE_INSTALL_DIFF) -> str:
    """The bash script that re-installs, resets the test files, applies test_patch and runs the tests.

    Shown to users and logged as is. LF line endings only. In order: the spec's env and
    eval_commands; the collection guard for `model_patch` (see the module docstring);
    pre_install's edits of tracked files (kept in the image as a diff); the install step
    again, offline, when `reinstall_needed` (SWE-bench always re-runs it; a non-editable
    install would test stale code otherwise; if it fails, the build's install stays); test
    files reset to base_commit; test_patch; the test command on test_patch's files between
    the `: '>>>>> Start Test Output'` / `: '>>>>> End Test Output'` markers, which `set -x`
    echoes as `+ : '...'` lines (after the harness's `pre_test` lines), its exit code as a
    third one; test files reset again.
    TEST_ENV is exported first, before the spec's env.
    """
    base = shlex.quote(task.base_commit)
    lines = [
        "#!/bin/bash",
        "export PS4='+ '",
        "set -uxo pipefail",
        f"cd {shlex.quote(workdir)}",
        *test_env_lines(),
    ]
    for key, value in spec.env.items():
        if not _ENV_NAME.match(key):
            raise ValueError(f"spec env: {key!r} is not a valid environment variable name")
        lines.append(f"export {key}={shlex.quote(str(value))}")
    lines += list(spec.eval_commands)
    lines += collection_guard_lines(model_patch, task.test_files, task.base_commit)
    if spec.pre_install:  # the image keeps pre_install's edits of tracked files as a diff
        lines.append(_SETUP_EDITS.replace("SETUP_DIFF", shlex.quote(setup_diff_path)).rstrip("\n"))
    if spec.install and reinstall_needed(spec, model_patch + "\n" + task.test_patch):
        steps = " && ".join(f"{{ {command}; }}" for command in spec.install)
        lines.append(
            f"( export {OFFLINE_PIP}; {steps} ) || "
            f"echo '{GUARD_MARKER} re-running the install step failed; the install made at build time stays'"
        )
    elif spec.install:
        lines.append(f": '{GUARD_MARKER} install step not re-run: editable install, no build input changed'")
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
    command = " ".join([spec.test_cmd, *(shlex.quote(a) for a in test_arguments(spec, eval_test_files(task.test_patch)))])
    lines += list(spec.pre_test)
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


# The setup's edits put back file by file, after the guard (which restores to base_commit),
# so the tree is the image's (base_commit plus those edits) plus the patch: applied; already
# there (the patch carried them); merged three-way (the patch changed the file near them);
# or, on a real conflict, that file alone keeps the patch's version, and the log says so.
_SETUP_EDITS = r"""setup_edit() {
  local f=$1 inc
  inc=$(printf '%s' "$f" | sed 's/[][*?\\]/\\&/g')
  if [ ! -e "$f" ]; then echo ">>>>> evalharness: setup edit of $f not applied: the patch deleted the file"; return; fi
  if git apply --include="$inc" SETUP_DIFF 2>/dev/null; then echo ">>>>> evalharness: setup edit of $f applied"; return; fi
  if git apply --check --reverse --include="$inc" SETUP_DIFF 2>/dev/null; then
    echo ">>>>> evalharness: setup edit of $f already in the tree"; return; fi
  cp -p -- "$f" /tmp/.evalharness-setup-keep
  if git add -- "$f" && git apply --3way --include="$inc" SETUP_DIFF >/dev/null 2>&1; then
    git reset -q -- "$f"; echo ">>>>> evalharness: setup edit of $f merged with the patch's changes"; return; fi
  git reset -q -- "$f"; cp -p /tmp/.evalharness-setup-keep "$f"
  echo ">>>>> evalharness: the setup's edit of $f conflicts with the patch: $f keeps the patch's version"
}
if [ -s SETUP_DIFF ]; then
  while IFS= read -r f; do setup_edit "$f"; done < <(git apply --numstat SETUP_DIFF | cut -f3-)
fi
"""


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


def reinstall_needed(spec: EnvSpec, patches: str) -> bool:
    """Whether the eval script must re-run the install step for these patches.

    SWE-bench always re-runs it; it only changes the outcome when the install copies the
    code (not editable) or when the patches touch what a build reads (packaging files,
    extension sources). Skipping it otherwise saves seconds per evaluation.
    """
    editable = all(any(flag in command.split() for flag in _EDITABLE_FLAGS) for command in spec.install
                   if "install" in command or "develop" in command)
    if not editable:
        return True
    for change in file_changes(patches):
        name = change.path.rsplit("/", 1)[-1]
        if name in BUILD_INPUT_NAMES or name.endswith(BUILD_INPUT_SUFFIXES):
            return True
    return False


def collection_guard_lines(model_patch: str, test_files: list[str], base_commit: str) -> list[str]:
    """Eval-script lines undoing the model's changes to collection and start-up hooks (module docstring)."""
    exempt = set(test_files)
    base = shlex.quote(base_commit)
    lines: list[str] = []
    sections: list[str] = []
    for change in file_changes(model_patch):
        if change.path in exempt:
            continue
        name = change.path.rsplit("/", 1)[-1]
        hook = name in HOOK_NAMES or name.endswith(HOOK_SUFFIXES)
        if not hook and name not in SECTION_CONFIGS:
            continue
        path = shlex.quote(change.path)
        if change.kind == ADDED:
            lines.append(f"rm -f -- {path} && echo '{GUARD_MARKER} removed '{path}': the patch added it'")
        elif hook or change.kind == DELETED:
            lines.append(
                f"git checkout {base} -- {path} && echo '{GUARD_MARKER} restored '{path}' as at base_commit'"
            )
        else:
            sections.append(change.path)
    if sections:
        delimiter = _heredoc_delimiter(_SECTION_GUARD)
        args = " ".join(shlex.quote(p) for p in sections)
        lines.append(f"python - {base} {args} <<'{delimiter}'\n{_SECTION_GUARD}{delimiter}")
    return lines


# Restores a config file whose pytest/tox sections the patch changed. Plain text comparison
# of the section lines, in Python 3.5+ syntax, so it runs in any environment's python.
_SECTION_GUARD = """\
import subprocess, sys
def section(text):
    out, inside = [], False
    for line in text.splitlines():
        head = line.strip().replace(" ", "")
        if head.startswith("["):
            name = head.strip("[]")
            inside = name in ("pytest", "tool:pytest", "tox") or name.startswith(("tool.pytest", "testenv", "tool.tox"))
        if inside:
            out.append(line.rstrip())
    return out
base = sys.argv[1]
for path in sys.argv[2:]:
    old = subprocess.run(["git", "show", "%s:%s" % (base, path)], stdout=subprocess.PIPE).stdout
    with open(path, "rb") as handle:
        new = handle.read()
    if section(old.decode("utf-8", "replace")) != section(new.decode("utf-8", "replace")):
        subprocess.check_call(["git", "checkout", base, "--", path])
        print(">>>>> evalharness: restored %s as at base_commit: the patch changed its test settings" % path)
"""


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
    output when there is no end marker (the run was cut off). When the output was cut
    in the middle (scorers/bounded.py) and the start marker went with it, from the cut
    line, if an end marker follows it.
    """
    lines = output.splitlines()
    start_line, end_line = _trace(START_MARKER), _trace(END_MARKER)
    try:
        start = lines.index(start_line)
    except ValueError:
        cut = next((i for i, line in enumerate(lines) if CUT_LINE.match(line)), None)
        if cut is None or end_line not in lines[cut + 1:]:
            return ""
        start = cut
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
