"""Bad input (issue 7, item 5): every kind gives a clear status or error, never a crash, and
nothing is written outside the repository (or the container, or the run's folder).

* patches through the scorer's real apply path (git apply, --reject, patch --fuzz):
  binary garbage, git binary patches, CRLF, huge, empty, paths leaving the repo, symlinks
  out of it, files under .git, malformed hunks, NUL and non-UTF-8 bytes; a hypothesis fuzz;
  the escaping cases once more in a real container;
* malformed datasets and predictions: UserError naming file, line/row and field; the CLI
  prints one line and exits 2;
* unknown repos and versions: a recorded env_build_failed with the reason;
* binary and enormous test output: a status, a bounded log, bounded memory, also through
  the Runner in Docker;
* enormous and binary tool output in the agent, and malformed tool calls: a truncated
  observation, and the shell session goes on.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import random
import re
import subprocess
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalharness.agents.base import AgentResult
from evalharness.agents.tools import ToolBox
from evalharness.cli import main
from evalharness.env.docker import running_container
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.env.local import LocalEnvironment
from evalharness.core.errors import UserError
from evalharness.env.images import LABEL, BuildConfig, ImageBuilder
from evalharness.tasks.predictions import read_predictions
from evalharness.tasks.repos import BuiltinRepos
from evalharness.run.runner import RunConfig, Runner
from evalharness.scorers import get_scorer
from evalharness.scorers.bounded import CUT_MARKER
from evalharness.scorers.log_parsers import LOG_PARSERS
from evalharness.scorers.patching import MAX_APPLY_LOG_BYTES, MAX_PATCH_BYTES, apply_patch, file_changes, unsafe_paths
from evalharness.scorers.tests_scorer import MAX_TEST_OUTPUT_BYTES, TestScorer, build_eval_script
from evalharness.tasks.specs import EnvSpec, SpecRegistry
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git

RUN_ID = "test-bad-input"
ETC_TARGET = "/etc/evalharness-bad-input"  # an absolute path a patch may name; must never appear
CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
CHECK = 'echo "PASSED tests/check.sh::ok"\n'  # the task's test: bash prints a pytest summary line
LINES = "yes \"$(printf 'x%.0s' $(seq 99))\""  # endless 100-byte lines, for output by the megabyte


# ================================================================ a repo beside a sentinel tree


@dataclasses.dataclass
class Tree:
    root: Path
    repo: Path
    outside: Path  # beside the repo: nothing may be written here
    scratch: Path  # the scorer's own files (patch, eval script, logs)
    env: LocalEnvironment
    scorer: TestScorer
    task: Task

    def snapshot(self) -> dict[str, str]:
        """Everything outside the work tree (the repo's .git hooks, config, info included)."""
        state: dict[str, str] = {}
        watched = [self.root / name for name in os.listdir(self.root) if name not in ("repo", "scratch")]
        watched += [self.repo / ".git" / "hooks", self.repo / ".git" / "info", self.repo / ".git" / "config"]
        for top in watched:
            for path in [top, *_walk(top)]:
                state[str(path)] = _describe(path)
        state[ETC_TARGET] = _describe(Path(ETC_TARGET))
        return state

    def reset(self) -> None:
        git(self.repo, "reset", "-q", "--hard")
        git(self.repo, "clean", "-fdq")


def _walk(top: Path):
    if top.is_dir() and not top.is_symlink():
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                yield Path(dirpath) / name


def _describe(path: Path) -> str:
    if path.is_symlink():
        return "link " + os.readlink(path)
    if path.is_dir():
        return "dir"
    if path.is_file():
        return f"file {oct(path.stat().st_mode)} " + hashlib.sha256(path.read_bytes()).hexdigest()
    return "absent"


def clean(repo: Path) -> str:
    return git(repo, "status", "--porcelain", "--ignored")


def git_bytes(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo,
                          check=True, capture_output=True).stdout


def diff_of(repo: Path, files: dict[str, bytes], *flags: str) -> str:
    """The diff that writes `files` (bytes) over HEAD, decoded as the harness would carry
    undecodable bytes (surrogateescape); the tree is clean before and after."""
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    git(repo, "add", "-A")
    diff = git_bytes(repo, "diff", "--cached", "--no-color", *flags, "HEAD")
    git(repo, "reset", "-q", "--hard")
    git(repo, "clean", "-fdq")
    return diff.decode("utf-8", "surrogateescape")


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return make_tree(tmp_path)


def make_tree(tmp_path: Path) -> Tree:
    root = tmp_path / "root"
    repo, outside, scratch = root / "repo", root / "outside", root / "scratch"
    for folder in (repo / "pkg", outside, scratch):
        folder.mkdir(parents=True)
    (outside / "secret.txt").write_text("secret\n")
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "calc.py").write_text(CALC)
    (repo / "latin1.txt").write_bytes(b"caf\xe9\nna\xefve\n")
    (repo / "linkdir").symlink_to("../outside")  # committed symlinks that lead out of the repo
    (repo / "linkfile").symlink_to("../outside/secret.txt")
    commit_all(repo)
    base = git(repo, "rev-parse", "HEAD").strip()
    test_patch = "".join(
        ["diff --git a/tests/check.sh b/tests/check.sh\nnew file mode 100644\n--- /dev/null\n",
         "+++ b/tests/check.sh\n@@ -0,0 +1 @@\n+", CHECK])
    task = Task(instance_id="acme__bad-1", repo="acme/bad", base_commit=base, patch="", test_patch=test_patch,
                problem_statement="x", version="1.0", FAIL_TO_PASS=("tests/check.sh::ok",), PASS_TO_PASS=())
    scorer = TestScorer(patch_path=str(scratch / "model.patch"), script_path=str(scratch / "eval.sh"))
    return Tree(root, repo, outside, scratch, LocalEnvironment(repo), scorer, task)


def spec(**kw) -> EnvSpec:
    return EnvSpec(**{**dict(repo="acme/bad", version="1.0", python="3.11", test_cmd="bash", test_timeout=60), **kw})


# ================================================================ patches


def _hook_lines(path: str, prefix: str = "") -> str:
    return "".join(prefix + line + "\n" for line in
                   ["--- /dev/null", f"+++ b/{path}", "@@ -0,0 +1,2 @@", "+#!/bin/sh", "+touch /tmp/evalharness-hook-ran"])


def _calc_fix(tree: Tree) -> str:
    return diff_of(tree.repo, {"pkg/calc.py": CALC.replace("a - b", "a + b").encode()})


def _binary(tree: Tree) -> tuple[str, bytes]:
    data = _binary_data()
    return diff_of(tree.repo, {"blob.bin": data}, "--binary"), data


# name -> (make the patch from the tree, expectation). An expectation is either
# ("fails", text the error must hold) or ("applies", check of the tree afterwards).
def _case_table():
    def fix_applied(tree):
        assert (tree.repo / "pkg/calc.py").read_bytes() == CALC.replace("a - b", "a + b").encode()

    def binary_patch(tree):
        patch, _ = _binary(tree)
        assert "GIT binary patch" in patch
        return patch

    def binary_applied(tree):
        assert (tree.repo / "blob.bin").read_bytes() == _binary_data()

    def corrupt_binary(tree):
        patch, _ = _binary(tree)
        lines = patch.split("\n")
        at = next(i for i, line in enumerate(lines) if line.startswith("literal ")) + 1
        lines[at] = lines[at][:1] + "!!!!" + lines[at][5:]  # base85 that decodes to nothing sane
        return "\n".join(lines)

    def latin1(tree):
        return diff_of(tree.repo, {"latin1.txt": b"caf\xe9\nna\xefve!\n"})

    def latin1_applied(tree):
        assert (tree.repo / "latin1.txt").read_bytes() == b"caf\xe9\nna\xefve!\n"

    def nul(tree):  # git itself would call the file binary; a model's text patch can hold a NUL all the same
        patch = _calc_fix(tree).replace("+    return a + b\n", "+    return a + b  # \0\n")
        assert "\0" in patch
        return patch

    def nul_applied(tree):
        assert b"a + b  # \0\n" in (tree.repo / "pkg/calc.py").read_bytes()

    def huge_valid(tree):  # 8 MB: under the limit, one git apply
        line = "+" + "z" * 79 + "\n"
        count = (8 << 20) // len(line)
        return ("diff --git a/big.txt b/big.txt\nnew file mode 100644\n--- /dev/null\n+++ b/big.txt\n"
                f"@@ -0,0 +1,{count} @@\n" + line * count)

    def huge_valid_applied(tree):
        assert (tree.repo / "big.txt").stat().st_size == ((8 << 20) // 81) * 80

    fails_to_apply = "the patch did not apply: no method applied it"
    refused = "outside the repository or inside .git"
    guard = "dry run"
    return {
        "binary garbage": (lambda t: random.Random(7).randbytes(20000).decode("latin-1"), ("fails", fails_to_apply)),
        "git binary patch": (binary_patch, ("applies", binary_applied)),
        "corrupt git binary patch": (corrupt_binary, ("fails", fails_to_apply)),
        "CRLF everywhere": (lambda t: _calc_fix(t).replace("\n", "\r\n"), ("applies", fix_applied)),
        "CR only": (lambda t: _calc_fix(t).replace("\n", "\r"), ("fails", fails_to_apply)),
        "huge (50 MB)": (lambda t: _calc_fix(t) + "+" * (50 << 20), ("fails", f"more than the {MAX_PATCH_BYTES} bytes")),
        "huge but allowed (8 MB)": (huge_valid, ("applies", huge_valid_applied)),
        "../../etc/passwd": (lambda t: "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+pwned\n",
                             ("fails", refused)),
        "../outside via a/ prefix": (lambda t: _hook_lines("pkg/../../outside/new.txt"), ("fails", refused)),
        "absolute /etc": (lambda t: f"--- /dev/null\n+++ {ETC_TARGET}\n@@ -0,0 +1 @@\n+pwned\n", ("fails", refused)),
        "absolute into the sentinel": (lambda t: f"--- /dev/null\n+++ {t.outside}/new.txt\n@@ -0,0 +1 @@\n+x\n",
                                       ("fails", refused)),
        "git-quoted ../": (lambda t: 'diff --git "a/\\056\\056/outside/q.txt" "b/\\056\\056/outside/q.txt"\n'
                           'new file mode 100644\n--- /dev/null\n+++ "b/\\056\\056/outside/q.txt"\n@@ -0,0 +1 @@\n+x\n',
                           ("fails", refused)),
        "through a committed symlink to a folder": (lambda t: _hook_lines("linkdir/new.txt"), ("fails", fails_to_apply)),
        "through a committed symlink to a file": (
            lambda t: "--- a/linkfile\n+++ b/linkfile\n@@ -1 +1 @@\n-secret\n+pwned\n", ("fails", fails_to_apply)),
        "a symlink it makes, then through it": (
            lambda t: "diff --git a/evil b/evil\nnew file mode 120000\n--- /dev/null\n+++ b/evil\n@@ -0,0 +1 @@\n"
                      "+../outside\n\\ No newline at end of file\n" + _hook_lines("evil/x.txt"), ("fails", fails_to_apply)),
        ".git/hooks (git diff)": (lambda t: "diff --git a/.git/hooks/post-checkout b/.git/hooks/post-checkout\n"
                                  "new file mode 100755\n" + _hook_lines(".git/hooks/post-checkout"), ("fails", refused)),
        ".git/hooks (octal-quoted)": (lambda t: '--- /dev/null\n+++ "b/\\056git/hooks/pre-commit"\n@@ -0,0 +1 @@\n+x\n',
                                      ("fails", refused)),
        ".git/hooks (indented: only patch reads it)": (lambda t: _hook_lines(".git/hooks/post-checkout", "  "),
                                                        ("fails", guard)),
        ".git/hooks (X-prefixed)": (lambda t: _hook_lines(".git/hooks/post-checkout", "X"), ("fails", guard)),
        ".git/config (Index: line)": (
            lambda t: "Index: a/.git/config\n=====\n--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+[core]\n",
            ("fails", refused)),
        ".git/hooks (context diff)": (
            lambda t: "*** /dev/null\n--- b/.git/hooks/pre-push\n***************\n*** 0 ****\n--- 1 ----\n+ x\n",
            ("fails", refused)),
        "hunk counts too large": (lambda t: _rehunk(_calc_fix(t), "@@ -1,60 +1,60 @@"), ("fails", fails_to_apply)),
        "hunk header not numbers": (lambda t: _rehunk(_calc_fix(t), "@@ -a,b +c,d @@"), ("fails", fails_to_apply)),
        "hunk without a file header": (lambda t: "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return 0\n",
                                       ("fails", fails_to_apply)),
        "truncated in a hunk": (lambda t: _calc_fix(t)[:-40], ("fails", fails_to_apply)),
        "NUL byte in a line": (nul, ("applies", nul_applied)),
        "non-UTF-8 bytes (latin-1 file)": (latin1, ("applies", latin1_applied)),
        "lone surrogate": (lambda t: _calc_fix(t).replace("a + b", "a + b  # \ud800"), ("applies", lambda t: None)),
    }


def _rehunk(patch: str, header: str) -> str:
    changed, count = re.subn(r"(?m)^@@ -\d+(,\d+)? \+\d+(,\d+)? @@", header, patch)
    assert count == 1
    return changed


def _binary_data() -> bytes:
    return bytes(range(256)) * 8 + b"\0\xff\0"


CASES = _case_table()


@pytest.mark.parametrize("name", list(CASES))
def test_patch_gives_a_clear_status_and_writes_nothing_outside(tree, name):
    make, (outcome, check) = CASES[name]
    patch = make(tree)
    before = tree.snapshot()
    result = tree.scorer.score(tree.task, patch, tree.env, spec())
    assert tree.snapshot() == before, "something outside the work tree changed"
    assert not Path("/tmp/evalharness-hook-ran").exists()
    if outcome == "fails":
        assert result.status == Status.PATCH_APPLY_FAILED, (result.status, result.apply_log[-2000:])
        assert check in (result.error or ""), (result.error, result.apply_log[-2000:])
        assert clean(tree.repo) == "", "a failed apply left the tree changed"
    else:
        assert result.status == Status.RESOLVED, (result.status, result.error, result.apply_log[-2000:])
        check(tree)
    assert len(result.apply_log) <= MAX_APPLY_LOG_BYTES + 1000


def test_empty_and_whitespace_patches(tree):
    for patch in ("", " \n\t\r\n"):
        result = tree.scorer.score(tree.task, patch, tree.env, spec())
        assert result.status == Status.EMPTY_PATCH and not result.resolved
        # straight to the apply path: refused by every tool, said so, no crash
        applied = apply_patch(tree.env, patch, path=str(tree.scratch / "p"))
        assert not applied.applied and applied.reason and "APPLY FAILED" in applied.log
    assert clean(tree.repo) == ""


def test_huge_patch_is_refused_before_anything_runs(tree):
    class NoExec(LocalEnvironment):
        def exec(self, *a, **k):
            raise AssertionError("must not run anything")

        def write_file(self, *a, **k):
            raise AssertionError("must not write anything")

    patch = _calc_fix(tree) + ("+" + "x" * 99 + "\n") * ((MAX_PATCH_BYTES // 100) + 10)
    result = apply_patch(NoExec(tree.repo), patch, path=str(tree.scratch / "p"))
    assert not result.applied and "more than the" in result.reason
    assert tree.scorer.score(tree.task, patch, NoExec(tree.repo), spec()).status == Status.PATCH_APPLY_FAILED
    # multi-byte text counts in bytes, as written
    assert "more than" in apply_patch(NoExec(tree.repo), "é" * (MAX_PATCH_BYTES // 2 + 1), path="/x").reason


def test_apply_log_is_bounded(tree):
    # `patch` shows the text leading up to a hunk it has no file for: here 2 MB of it
    preamble = "".join(f"leading text line {i:08d} " + "." * 50 + "\n" for i in range(30_000))
    patch = preamble + "--- a/no/such/file.py\n+++ b/no/such/file.py\n@@ -1 +1 @@\n-a\n+b\n"
    result = apply_patch(tree.env, patch, path=str(tree.scratch / "p"))
    assert not result.applied
    assert len(result.log.encode()) <= MAX_APPLY_LOG_BYTES + 500
    assert CUT_MARKER in result.log and result.log.rstrip().endswith(">>>>> APPLY FAILED")
    assert clean(tree.repo) == ""


_FRAGMENTS = st.one_of(
    st.sampled_from([
        "diff --git a/pkg/calc.py b/pkg/calc.py\n", "--- a/pkg/calc.py\n", "+++ b/pkg/calc.py\n",
        "--- /dev/null\n", "+++ b/new.py\n", "new file mode 100644\n", "new file mode 120000\n",
        "deleted file mode 100644\n", "@@ -1,2 +1,2 @@\n", "@@ -0,0 +1 @@\n", "@@ -1 +1 @@\n",
        " def add(a, b):\n", "-    return a - b\n", "+    return a + b\n", "\\ No newline at end of file\n",
        "+++ b/../outside/f.txt\n", "+++ b/.git/hooks/pre-commit\n", "  +++ b/.git/hooks/x\n", "X+++ b/.git/x\n",
        "+++ b/linkdir/x\n", "+++ b/linkfile\n", "rename from pkg/calc.py\n", "rename to ../x\n", "GIT binary patch\n",
        "literal 5\n", "Index: .git/config\n", "*** /dev/null\n", "+../outside\n", "\r\n", "\0", "\ud800",
    ]),
    st.text(max_size=30).map(lambda t: t + "\n"),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1") + "\n"),
    st.builds(lambda a, b, c, d: f"@@ -{a},{b} +{c},{d} @@\n", *[st.integers(0, 4)] * 4),
)
PATCH_TEXT = st.lists(_FRAGMENTS, max_size=20).map("".join)


@pytest.fixture(scope="module")
def fuzz_tree(tmp_path_factory) -> Tree:
    return make_tree(tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(patch=PATCH_TEXT)
def test_fuzzed_patches_through_the_scorer(fuzz_tree, patch):
    tree = fuzz_tree
    tree.reset()
    before = tree.snapshot()
    result = tree.scorer.score(tree.task, patch, tree.env, spec(test_timeout=20))
    assert result.status in (Status.EMPTY_PATCH, Status.PATCH_APPLY_FAILED, Status.RESOLVED, Status.UNRESOLVED)
    if result.status == Status.PATCH_APPLY_FAILED:
        assert result.error and clean(tree.repo) == ""
    assert tree.snapshot() == before


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(patch=st.one_of(PATCH_TEXT, st.text(st.characters(blacklist_categories=()), max_size=300)))
def test_fuzzed_patches_through_the_pure_steps(patch):
    """What runs on the host before any tool: never raises; the eval script stays valid bash."""
    unsafe_paths(patch)
    file_changes(patch)
    task = Task(instance_id="a__b-1", repo="a/b", base_commit="0" * 40, patch="", problem_statement="",
                test_patch="diff --git a/t.py b/t.py\n", version="1", FAIL_TO_PASS=(), PASS_TO_PASS=())
    script = build_eval_script(task, spec(install=("pip install -e .",)), model_patch=patch)
    checked = subprocess.run(["bash", "-n"], input=script.encode("utf-8", "replace"), capture_output=True)
    assert checked.returncode == 0, checked.stderr.decode()


# ================================================================ test output


def _output_task(tree: Tree, script: str, f2p: tuple[str, ...]) -> Task:
    test_patch = "diff --git a/tests/check.sh b/tests/check.sh\nnew file mode 100644\n--- /dev/null\n" \
                 f"+++ b/tests/check.sh\n@@ -0,0 +1,{script.count(chr(10))} @@\n" + \
                 "".join("+" + line + "\n" for line in script.splitlines())
    return dataclasses.replace(tree.task, test_patch=test_patch, FAIL_TO_PASS=f2p)


def test_binary_and_non_utf8_test_output(tree):
    script = ("head -c 300000 /dev/urandom\nprintf '\\n\\xff\\xfe\\x00 \\xc3\\x28\\n'\n"
              "echo 'PASSED tests/check.sh::ok'\n")
    result = tree.scorer.score(_output_task(tree, script, ("tests/check.sh::ok",)), _calc_fix(tree), tree.env, spec())
    assert result.status == Status.RESOLVED, (result.error, result.test_output[-500:])
    assert "\ufffd" in result.test_output
    result.test_output.encode("utf-8")  # storable as is: no lone surrogates


def test_enormous_test_output_is_bounded_in_the_log_and_in_memory(tree):
    # 200 MB of 100-byte lines between two results; both survive (head and tail are kept)
    script = ("echo 'PASSED tests/check.sh::first'\n"
              f"{LINES} | head -c 200000000\n"
              "echo 'PASSED tests/check.sh::last'\n")
    task = _output_task(tree, script, ("tests/check.sh::first", "tests/check.sh::last"))
    tracemalloc.start()
    try:
        result = tree.scorer.score(task, _calc_fix(tree), tree.env, spec())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.status == Status.RESOLVED, (result.error, result.test_output[-500:])
    assert len(result.test_output.encode()) <= MAX_TEST_OUTPUT_BYTES + 4096
    assert CUT_MARKER in result.test_output
    assert peak < 120 << 20, f"the harness held {peak >> 20} MiB for 200 MB of test output"


def test_start_marker_lost_in_the_cut_still_grades(tree):
    # so much output before the test command and in it that the start marker falls in the cut
    scorer = TestScorer(tree.scorer.patch_path, tree.scorer.script_path, max_output_bytes=256 << 10)
    script = f"{LINES} | head -c 1000000\necho 'PASSED tests/check.sh::last'\n"
    task = _output_task(tree, script, ("tests/check.sh::last",))
    result = scorer.score(task, _calc_fix(tree), tree.env, spec(eval_commands=(f"{LINES} | head -c 1000000",)))
    assert "+ : '>>>>> Start Test Output'" not in result.test_output
    assert result.status == Status.RESOLVED, (result.error, result.test_output[-500:])


def test_timeout_keeps_the_bounded_output(tree):
    limit = 256 << 10
    scorer = TestScorer(tree.scorer.patch_path, tree.scorer.script_path, max_output_bytes=limit)
    script = f"echo 'PASSED tests/check.sh::ok'\n{LINES} | head -c 2000000\nsleep 600\n"
    task = _output_task(tree, script, ("tests/check.sh::ok",))
    result = scorer.score(task, _calc_fix(tree), tree.env, spec(test_timeout=3))
    assert result.status == Status.TEST_TIMEOUT and not result.resolved
    assert "timeout" in result.error
    assert "+ : '>>>>> Start Test Output'" in result.test_output and CUT_MARKER in result.test_output
    assert result.test_statuses.get("tests/check.sh::ok") == "PASSED"
    assert len(result.test_output.encode()) <= limit + 4096


def test_log_parsers_stay_linear_on_hostile_lines():
    import time

    # sized so that the old patterns took about a minute each (and hours at 100 kB)
    hostile = "\n".join([
        "a::" * 5_000 + "[x",  # was cubic in the pytest parser
        "[gw0] [ 1%] PASSED a" + " " * 30_000 + "b",  # was quadratic in the pytest parser
        "test_x" + " " * 50_000 + "b",  # was quadratic in the sympy parser
        "t.py::x" + " PASSED (" * 5_000,
        "a::b[" + "] PASSED (" * 5_000,
    ]) + "\n"
    for name in ("pytest", "parse_log_pytest", "django", "sympy", "requests", "matplotlib"):
        start = time.monotonic()
        LOG_PARSERS[name](hostile)
        assert time.monotonic() - start < 30, name  # the old patterns: minutes (hours at 100 kB), not seconds


# ================================================================ datasets and predictions


def _row(**overrides) -> dict:
    row = {"instance_id": "acme__w-1", "repo": "acme/w", "base_commit": "0" * 40, "patch": "",
           "test_patch": "diff --git a/t.py b/t.py\n", "problem_statement": "p", "version": "1.0",
           "FAIL_TO_PASS": '["t.py::a"]', "PASS_TO_PASS": "[]"}
    row.update(overrides)
    return row


def _jsonl(path: Path, *rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


BAD_DATASETS = {
    # name -> (write the file into tmp_path, what the message must hold besides the file name)
    "broken JSONL line": (lambda p: _jsonl(p / "d.jsonl", _row(), '{"instance_id": "x",'), ["line 2", "not valid JSON"]),
    "missing field": (lambda p: _jsonl(p / "d.jsonl", {k: v for k, v in _row().items() if k != "FAIL_TO_PASS"}),
                      ["row 1", "'FAIL_TO_PASS'", "missing"]),
    "FAIL_TO_PASS not JSON": (lambda p: _jsonl(p / "d.jsonl", _row(FAIL_TO_PASS="t.py::a")),
                              ["row 1", "'FAIL_TO_PASS'", "not valid JSON"]),
    "FAIL_TO_PASS a number": (lambda p: _jsonl(p / "d.jsonl", _row(), _row(instance_id="acme__w-2", FAIL_TO_PASS=5)),
                              ["row 2", "'acme__w-2'", "'FAIL_TO_PASS'", "list of test ids"]),
    "PASS_TO_PASS numbers": (lambda p: _jsonl(p / "d.jsonl", _row(PASS_TO_PASS="[1, 2]")), ["'PASS_TO_PASS'", "non-text"]),
    "instance_id a number": (lambda p: _jsonl(p / "d.jsonl", _row(instance_id=7)), ["'instance_id'", "expected text"]),
    "version a list": (lambda p: _jsonl(p / "d.jsonl", _row(version=[1])), ["'version'"]),
    "duplicate instance_id": (lambda p: _jsonl(p / "d.jsonl", _row(), _row()), ["duplicate instance_id", "'acme__w-1'"]),
    "ids sharing a file name": (lambda p: _jsonl(p / "d.jsonl", _row(instance_id="a/b"), _row(instance_id="a_b")),
                                ["'a/b'", "'a_b'", "file name"]),
    "repo climbing out": (lambda p: _jsonl(p / "d.jsonl", _row(repo="evalharness/../../etc")), ["'repo'", "owner/name"]),
    "repo without owner": (lambda p: _jsonl(p / "d.jsonl", _row(repo="widget")), ["'repo'", "owner/name"]),
    "instance_id '..'": (lambda p: _jsonl(p / "d.jsonl", _row(instance_id="..")), ["'instance_id'"]),
    "instance_id with a newline": (lambda p: _jsonl(p / "d.jsonl", _row(instance_id="a\nb")), ["'instance_id'"]),
    "lone surrogate": (lambda p: _jsonl(p / "d.jsonl", _row(hints_text="ok \ud800")),  # written as "\\ud800"
                       ["'hints_text'", "not valid Unicode"]),
    "row not an object": (lambda p: _jsonl(p / "d.jsonl", "[1, 2]"), ["row 1", "expected an object"]),
    "not UTF-8": (lambda p: (p / "d.jsonl").write_bytes(b'{"a": "\xff"}\n') and p / "d.jsonl", ["not UTF-8"]),
    "JSON scalar": (lambda p: (p / "d.json").write_text("42") and p / "d.json", ["expected a JSON list"]),
    "Parquet that is text": (lambda p: (p / "d.parquet").write_text("instance_id,repo\n") and p / "d.parquet",
                             ["cannot read Parquet"]),
    "Parquet with a number column": (lambda p: _parquet(p / "d.parquet", FAIL_TO_PASS=3), ["row 1", "'FAIL_TO_PASS'"]),
    "unknown extension": (lambda p: (p / "d.csv").write_text("a,b\n") and p / "d.csv", ["unsupported dataset file type"]),
}


def _parquet(path: Path, **overrides) -> Path:
    pq.write_table(pa.Table.from_pylist([_row(**overrides)]), path)
    return path


@pytest.mark.parametrize("name", list(BAD_DATASETS))
def test_malformed_dataset_is_a_user_error_naming_where(tmp_path, name, capsys):
    write, expected = BAD_DATASETS[name]
    path = write(tmp_path)
    with pytest.raises(UserError) as caught:
        load_tasks(str(path))
    message = str(caught.value)
    assert path.name in message and "\n" not in message, message
    for part in expected:
        assert part in message, (part, message)
    # the CLI: one line on stderr, exit status 2, no traceback
    assert main(["tasks", "--dataset", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evalharness: error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_empty_dataset_files_load_as_no_tasks(tmp_path, capsys):
    # Documented: an empty dataset is [] (not an error); `tasks` says 0 and succeeds.
    for name, text in (("e.jsonl", ""), ("w.jsonl", "\n \n"), ("e.json", "")):
        (tmp_path / name).write_text(text)
        assert load_tasks(str(tmp_path / name)) == []
        assert main(["tasks", "--dataset", str(tmp_path / name)]) == 0
        assert "0 task(s)" in capsys.readouterr().err


@pytest.mark.parametrize("text, expected", [
    ('{"instance_id": "a", "model_patch": "x"}\n{"instance_id": \n', "line 2"),
    ('{"model_patch": "x"}\n', "'instance_id'"),
    ('{"instance_id": "a", "model_patch": 5}\n', "'model_patch' must be text"),
    ('{"instance_id": "a", "model_patch": "diff \\ud800"}\n', "not valid Unicode"),
    ('[{"instance_id": "a"}, 3]', "item 1"),
])
def test_malformed_predictions_are_user_errors(tmp_path, text, expected):
    path = tmp_path / "preds.jsonl"
    path.write_text(text)
    with pytest.raises(UserError, match="preds.jsonl") as caught:
        read_predictions(path)
    assert expected in str(caught.value)


# ================================================================ the agent's tools


def _toolbox(shell, workdir: str) -> ToolBox:
    return ToolBox(shell, workdir, command_timeout=60, max_output_chars=10_000)


def _check_enormous_output(box: ToolBox) -> None:
    box.call("bash", {"command": "mkdir -p sub && cd sub && export KEPT=yes"})
    obs = box.call("bash", {"command": "yes 'abcdefghij' | head -c 99999999"})  # 100 MB of whole lines
    assert obs.exit_code == 0
    assert len(obs.output) <= 10_000 + 200
    assert "cut from the middle" in obs.output and "bytes more" in obs.output
    assert obs.output.startswith("abcdefghij\n") and obs.output.endswith("abcdefghij\n")
    obs = box.call("bash", {"command": "head -c 3000000 /dev/urandom > /tmp/eh-bad-input.bin; cat /tmp/eh-bad-input.bin"})
    obs.output.encode("utf-8")  # what goes to the model is valid text
    assert len(obs.output) <= 10_000 + 200
    after = box.call("bash", {"command": "rm -f /tmp/eh-bad-input.bin; pwd; echo $KEPT"})
    assert after.output.splitlines()[-2:] == [str(Path(box.editor.workdir) / "sub"), "yes"]


def test_enormous_and_binary_tool_output_locally(tmp_path):
    env = LocalEnvironment(tmp_path)
    with env.open_shell() as shell:
        _check_enormous_output(_toolbox(shell, str(tmp_path)))


def test_malformed_tool_calls_are_observations(tmp_path):
    (tmp_path / "bin.dat").write_bytes(b"\xff\xfe\x00binary")
    env = LocalEnvironment(tmp_path)
    with env.open_shell() as shell:
        box = _toolbox(shell, str(tmp_path))
        calls = [
            ("bash", {"command": "echo a\0b"}, "NUL"),
            ("bash", {"command": "echo \ud800"}, "not valid Unicode"),
            ("bash", ["echo", "hi"], "JSON object"),
            ("bash", {"command": "echo hi", "timeout": float("nan")}, "hi"),
            ("str_replace_editor", {"command": "create", "path": "x.py", "file_text": 5}, "file_text must be a string"),
            ("str_replace_editor", {"command": "create", "path": "x.py", "file_text": "\udcff"}, "not valid Unicode"),
            ("str_replace_editor", {"command": "view", "path": "a\0b"}, "NUL"),
            ("str_replace_editor", {"command": "view", "path": "bin.dat"}, "not UTF-8"),
            ("str_replace_editor", {"command": "view", "path": "bin.dat", "view_range": 5}, "view_range"),
            ("str_replace_editor", {"command": "insert", "path": "bin.dat", "insert_line": 1.5, "new_str": "x"},
             "insert_line"),
            ("str_replace_editor", {"command": "str_replace", "path": "bin.dat", "old_str": 3, "new_str": "x"},
             "old_str must be a string"),
        ]
        for name, arguments, expected in calls:
            obs = box.call(name, arguments)
            assert expected in obs.output, (name, arguments, obs.output)
        assert box.call("bash", {"command": "echo still here"}).output == "still here\n"


def test_editor_handles_files_beyond_one_shell_output(tmp_path):
    # base64 of a file over 768 KiB is more than a shell session returns whole (1 MiB)
    text = "START = 0\n" + "x = 1  # padding padding padding padding padding padding\n" * 16_000 + "END = 0\n"
    assert len(text) > 768 << 10
    (tmp_path / "big.py").write_text(text)
    (tmp_path / "huge.txt").write_text("y" * (5 << 20))
    env = LocalEnvironment(tmp_path)
    with env.open_shell() as shell:
        box = _toolbox(shell, str(tmp_path))
        obs = box.call("str_replace_editor", {"command": "str_replace", "path": "big.py",
                                              "old_str": "END = 0", "new_str": "END = 1"})
        assert obs.output.startswith("Edited"), obs.output
        assert (tmp_path / "big.py").read_text() == text.replace("END = 0", "END = 1")
        obs = box.call("str_replace_editor", {"command": "view", "path": "huge.txt"})
        assert "more than the editor handles" in obs.output
        assert (tmp_path / "huge.txt").stat().st_size == 5 << 20


# ================================================================ Docker


@pytest.fixture(scope="module")
def builtin_image(docker_client, cache_dir):
    task = next(t for t in load_tasks("builtin") if t.instance_id == "evalharness__confini-1")
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir), [BuiltinRepos(default_tasks_dir() / "repos", cache_dir)])
    specs = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    image = builder.instance_image(task, specs.get(task.repo, task.version))
    return image, task, builder, specs


@pytest.fixture(scope="module")
def container(docker_client, builtin_image):
    image, task, _, _ = builtin_image
    with running_container(docker_client, image, run_id=RUN_ID, instance_id=task.instance_id, purpose="test") as env:
        setup = env.exec("mkdir -p /outside && echo secret > /outside/secret.txt && ln -s /outside linkdir && "
                         "ln -s /outside/secret.txt linkfile && git add linkdir linkfile && "
                         "git -c user.name=t -c user.email=t@t commit -qm links && git status --porcelain")
        assert setup.ok and setup.output == "", setup.output
        yield env


DOCKER_STATE = ("find /outside /testbed/.git/hooks /testbed/.git/info /testbed/.git/config -printf '%p %y %l\\n' | sort; "
                f"md5sum /outside/* /testbed/.git/config; ls -la {ETC_TARGET} /tmp/evalharness-hook-ran 2>&1; "
                "git status --porcelain --ignored")


@pytest.mark.docker
def test_escaping_patches_in_a_container(container):
    before = container.exec(DOCKER_STATE).output
    assert "/outside/secret.txt f" in before
    patches = {
        "../../etc/passwd": "--- a/../../etc/passwd\n+++ b/../../etc/passwd\n@@ -1 +1 @@\n-root\n+pwned\n",
        "absolute": f"--- /dev/null\n+++ {ETC_TARGET}\n@@ -0,0 +1 @@\n+pwned\n",
        "symlinked folder": _hook_lines("linkdir/new.txt"),
        "symlinked file": "--- a/linkfile\n+++ b/linkfile\n@@ -1 +1 @@\n-secret\n+pwned\n",
        "symlink made by the patch": "diff --git a/evil b/evil\nnew file mode 120000\n--- /dev/null\n+++ b/evil\n"
                                     "@@ -0,0 +1 @@\n+/outside\n\\ No newline at end of file\n" + _hook_lines("evil/x.txt"),
        ".git/hooks": _hook_lines(".git/hooks/post-checkout"),
        ".git/hooks indented": _hook_lines(".git/hooks/post-checkout", "  "),
        ".git/hooks Index:": "Index: a/.git/hooks/post-checkout\n====\n--- /dev/null\n+++ /dev/null\n@@ -0,0 +1 @@\n+x\n",
    }
    for name, patch in patches.items():
        result = apply_patch(container, patch)
        assert not result.applied and result.reason, (name, result.log)
        assert container.exec(DOCKER_STATE).output == before, name


@pytest.mark.docker
def test_enormous_tool_output_in_a_container(container):
    with container.open_shell() as shell:
        box = _toolbox(shell, container.workdir)
        _check_enormous_output(box)
    container.exec("rm -rf /testbed/sub")


@pytest.mark.docker
def test_unknown_repos_and_versions_are_env_build_failed(tmp_path, docker_client, builtin_image):
    _, known, builder, specs = builtin_image
    user_spec = dataclasses.replace(specs.get(known.repo, known.version), repo="nobody/nothing", version="1.0")
    registry = SpecRegistry([*(specs.get(known.repo, known.version),), user_spec])
    tasks = [
        dataclasses.replace(known, instance_id="nobody__nothing-1", repo="nobody/nothing", version="9.9"),
        dataclasses.replace(known, instance_id="evalharness__confini-99", version="0.0.1"),
        dataclasses.replace(known, instance_id="nobody__nothing-2", repo="nobody/nothing", version="1.0"),
        dataclasses.replace(known, instance_id="nobody__nothing-3", repo="nobody/nothing", version="9.9",
                            image="evalharness-test/no-such-image:1"),
    ]
    config = RunConfig(run_id=RUN_ID, dataset="bad", agent="gold", reports_dir=tmp_path)
    runner = Runner(config, client=docker_client, builder=builder, specs=registry, agent=_Gold(),
                    scorer=get_scorer("tests"))
    outcome = runner.run(tasks, progress=False)
    records = {r.instance_id: r for r in outcome.records}
    assert len(records) == 4
    for record in records.values():
        assert record.status == Status.ENV_BUILD_FAILED.value, (record.instance_id, record.status, record.error)
    assert "no environment spec for nobody/nothing 9.9" in records["nobody__nothing-1"].error
    assert "no environment spec for evalharness/confini 0.0.1" in records["evalharness__confini-99"].error
    assert "no repository source has nobody/nothing" in records["nobody__nothing-2"].error
    assert "evalharness-test/no-such-image:1 is not present locally" in records["nobody__nothing-3"].error
    assert pq.read_table(tmp_path / RUN_ID / "results.parquet").num_rows == 4
    assert not _runner_containers(docker_client)


def _runner_containers(client) -> list:
    """Containers a Runner of RUN_ID left behind (the module's own `container` has purpose "test")."""
    found = client.containers.list(all=True, filters={"label": f"{LABEL}.run_id={RUN_ID}"})
    return [c for c in found if c.labels.get(f"{LABEL}.purpose") != "test"]


class _Gold:
    name = "gold"

    def run(self, task, env):  # never reached for tasks whose environment cannot be built
        raise AssertionError("the agent ran although the environment failed")


@pytest.mark.docker
def test_enormous_binary_test_output_through_the_runner(tmp_path, docker_client, builtin_image):
    """200 MB of random bytes from the eval, in a real container: resolved, stored log bounded."""
    _, task, builder, specs = builtin_image
    noisy = dataclasses.replace(specs.get(task.repo, task.version),
                                eval_commands=("head -c 200000000 /dev/urandom",))
    config = RunConfig(run_id=RUN_ID, dataset="builtin", agent="fixed-patch", reports_dir=tmp_path)
    runner = Runner(config, client=docker_client, builder=builder, specs=SpecRegistry([noisy]),
                    agent=_PatchAgent(task.patch), scorer=get_scorer("tests"))
    record = runner.run([task], progress=False).records[0]
    assert record.status == Status.RESOLVED.value, record.error
    stored = tmp_path / config.run_id / "logs" / task.instance_id / "test_output.txt"
    size = stored.stat().st_size
    assert size <= MAX_TEST_OUTPUT_BYTES * 3 + 4096  # each undecodable byte is stored as U+FFFD, 3 bytes
    text = stored.read_text(encoding="utf-8")
    assert CUT_MARKER in text and "\ufffd" in text and "+ : '>>>>> Start Test Output'" in text
    assert not _runner_containers(docker_client)


class _PatchAgent:
    name = "fixed-patch"

    def __init__(self, patch: str):
        self.patch = patch

    def run(self, task, env):
        return AgentResult(patch=self.patch, trajectory=[], turns=0, exit_reason="submitted")
