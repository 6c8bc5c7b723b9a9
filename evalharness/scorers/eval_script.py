"""The eval script: what runs the task's tests in the environment, and how its output is read.

`build_eval_script` writes it from a spec (local builds): reset the test files, guard the
files that steer collection and start-up, put the setup's edits back, apply test_patch,
re-install when the patch touched build inputs, run the tests in `TEST_ENV`.
`official_eval_script` takes the dataset's own (official images), with `TEST_ENV` exported
first. Both print the markers that `extract_test_output` and `parse_test_exit_code` read.

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
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import Mapping

from evalharness.core.task import Task, patch_sections
from evalharness.env.images import PRE_INSTALL_DIFF
from evalharness.scorers.bounded import CUT_LINE
from evalharness.scorers.patching import ADDED, DELETED, file_changes
from evalharness.tasks.specs import EnvSpec, test_arguments

# What the script prints around the test run and on its ways out; the parsers read them.
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

# The one environment every test run gets (recorded in run.json): no verdict may depend on the
# machine's time zone, locale or Python's random hash seed.
TEST_ENV: Mapping[str, str] = {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}

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


def trace(marker: str) -> str:
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
    start_line, end_line = trace(START_MARKER), trace(END_MARKER)
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
