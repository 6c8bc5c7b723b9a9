"""apply_patch and TestScorer end to end on a LocalEnvironment (a git repo in tmp_path)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from evalharness.env.local import LocalEnvironment
from evalharness.core.errors import UserError
from evalharness.scorers import get_scorer
from evalharness.scorers.patching import apply_patch, unsafe_paths
from evalharness.scorers.tests_scorer import (
    TestScorer,
    build_eval_script,
    eval_test_files,
    extract_test_output,
    parse_test_exit_code,
)
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git, make_diff, python_env

CALC = """\
def add(a, b):
    return a - b


def mul(a, b):
    return a * b


def neg(a):
    return -a
"""
TESTS = """\
import os

from pkg.calc import mul, neg


def test_mul():
    assert mul(2, 3) == 6


def test_neg():
    assert neg(2) == -2


def test_env():
    assert os.environ["CALC_FLAG"] == "on 1"
"""
NEW_TESTS = """\
from pkg.calc import add


def test_add():
    assert add(2, 3) == 5


def test_add_zero():
    assert add(0, 0) == 0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "tests" / "data.json").write_text("{}\n")
    return commit_all(root)


@pytest.fixture
def env(repo: Path) -> LocalEnvironment:
    return python_env(repo)


@pytest.fixture
def patch_path(tmp_path: Path) -> str:
    return str(tmp_path / "model.patch")


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").strip()


def dirty(repo: Path) -> str:
    return git(repo, "status", "--porcelain")


# ---------------------------------------------------------------- apply_patch


def test_clean_patch_applies_with_git_apply(repo, env, patch_path):
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied and result.method == "git apply"
    assert "return a + b" in (repo / "pkg/calc.py").read_text()
    assert "Applied patch pkg/calc.py cleanly" in result.log


def test_patch_with_wrong_line_numbers_still_applies_with_git_apply(repo, env, patch_path):
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("return -a", "return 0 - a")})
    patch = patch.replace("@@ -7,4 +7,4 @@", "@@ -3,4 +3,4 @@")
    assert "@@ -3,4 +3,4 @@" in patch
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied and result.method == "git apply"


def test_patch_needing_fuzz_falls_back_to_gnu_patch(repo, env, patch_path):
    # The first context line does not match the file: git apply refuses, --reject would
    # reject the hunk; patch --fuzz applies it.
    patch = """\
diff --git a/pkg/calc.py b/pkg/calc.py
--- a/pkg/calc.py
+++ b/pkg/calc.py
@@ -1,5 +1,5 @@
 def add(x, y):
-    return a - b
+    return a + b
 
 
 def mul(a, b):
"""
    (repo / "leftover.txt").write_text("untracked before apply\n")
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied, result.log
    assert result.method == "patch --fuzz=5"
    assert "return a + b" in (repo / "pkg/calc.py").read_text()
    # earlier failed tries were cleaned up; untracked files that were there are kept
    assert not list(repo.rglob("*.rej")) and not list(repo.rglob("*.orig"))
    assert (repo / "leftover.txt").read_text() == "untracked before apply\n"
    assert ">>>>> trying: git apply --verbose" in result.log


def test_patch_against_older_blob_falls_back_to_patch(repo, env, patch_path):
    old = head(repo)
    (repo / "pkg/calc.py").write_text(CALC.replace("def neg(a):", "def neg(a):  # negate"))
    git(repo, "commit", "-qam", "comment")
    # a patch made against the old commit: its trailing context has the old "def neg" line;
    # git apply refuses it, `patch --fuzz=5` applies it (the official order has no --3way)
    git(repo, "checkout", "-q", old)
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("return a * b", "return b * a")})
    git(repo, "checkout", "-q", "-")
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied, result.log
    assert result.method == "patch --fuzz=5"
    text = (repo / "pkg/calc.py").read_text()
    assert "# negate" in text and "return b * a" in text
    assert not list(repo.rglob("*.orig"))  # patch's backup of a fuzzed file is not left behind
    assert git(repo, "diff", "--cached", "--name-only") == ""  # nothing left staged


def test_partial_apply_is_a_failure_and_tree_is_reset(repo, env, patch_path):
    patch = """\
diff --git a/pkg/calc.py b/pkg/calc.py
--- a/pkg/calc.py
+++ b/pkg/calc.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
@@ -20,3 +20,3 @@
 def nothing_like_this():
-    return 1
+    return 2
 # really nothing
"""
    result = apply_patch(env, patch, path=patch_path)
    assert not result.applied and result.method is None
    assert "git apply --verbose --reject" in result.log
    assert dirty(repo) == ""
    assert not list(repo.rglob("*.rej"))
    assert (repo / "pkg/calc.py").read_text() == CALC


def test_garbage_patch_fails(repo, env, patch_path):
    result = apply_patch(env, "this is not a diff\nat all\n", path=patch_path)
    assert not result.applied and result.method is None
    assert ">>>>> APPLY FAILED" in result.log
    assert dirty(repo) == ""


def test_crlf_patch_applies_to_lf_files(repo, env, patch_path):
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")}).replace("\n", "\r\n")
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied, result.log
    assert result.method == "git apply"
    data = (repo / "pkg/calc.py").read_bytes()
    assert b"return a + b\n" in data and b"\r" not in data


def test_patch_without_trailing_newline(repo, env, patch_path):
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")}).rstrip("\n")
    assert apply_patch(env, patch, path=patch_path).applied


def test_new_file_patch(repo, env, patch_path):
    patch = make_diff(repo, {"pkg/extra/helpers.py": "X = 1\n"})
    assert "new file mode" in patch
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied and result.method == "git apply"
    assert (repo / "pkg/extra/helpers.py").read_text() == "X = 1\n"


@pytest.mark.parametrize(
    "header",
    [
        "diff --git a/../evil.py b/../evil.py\n--- a/../evil.py\n+++ b/../evil.py\n",
        "diff --git a/pkg/../../evil.py b/pkg/../../evil.py\n--- /dev/null\n+++ b/pkg/../../evil.py\n",
        "--- /dev/null\n+++ /tmp/evil.py\n",
        "diff --git a/x b/x\nrename from x\nrename to ../x\n",
    ],
)
def test_paths_escaping_the_repo_are_refused_before_running(repo, tmp_path, header):
    class NoExec(LocalEnvironment):
        def exec(self, *a, **k):
            raise AssertionError("must not run anything")

        def write_file(self, *a, **k):
            raise AssertionError("must not write anything")

    patch = header + "@@ -0,0 +1 @@\n+x = 1\n"
    result = apply_patch(NoExec(repo), patch, path=str(tmp_path / "p"))
    assert not result.applied and result.method is None
    assert "outside the repository" in result.log


def test_unsafe_paths_allows_normal_names():
    assert unsafe_paths("diff --git a/a..b/c.py b/a..b/c.py\n--- a/a..b/c.py\n+++ b/a..b/c.py\n") == []
    assert unsafe_paths("--- /dev/null\n+++ b/new.py\n") == []


# ---------------------------------------------------------------- TestScorer


class CountingEnv:
    """Wraps an environment and counts exec calls."""

    def __init__(self, inner: LocalEnvironment):
        self.inner = inner
        self.workdir = inner.workdir
        self.execs = 0

    def exec(self, command, timeout=None, workdir=None):
        self.execs += 1
        return self.inner.exec(command, timeout=timeout, workdir=workdir)

    def write_file(self, path, content):
        self.inner.write_file(path, content)


@pytest.fixture
def scorer(tmp_path: Path) -> TestScorer:
    return TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"))


def make_spec(**kw) -> EnvSpec:
    defaults = dict(
        repo="acme/calc", version="1.0", python="3.11",
        test_cmd="python -m pytest -rA -p no:cacheprovider", env={"CALC_FLAG": "on 1"}, test_timeout=120,
    )
    return EnvSpec(**{**defaults, **kw})


def make_task(repo: Path, test_patch: str, f2p, p2p, gold: str = "") -> Task:
    return Task(
        instance_id="acme__calc-1", repo="acme/calc", base_commit=head(repo), patch=gold,
        test_patch=test_patch, problem_statement="add() subtracts", version="1.0",
        FAIL_TO_PASS=tuple(f2p), PASS_TO_PASS=tuple(p2p),
    )


P2P = ("tests/test_calc.py::test_mul", "tests/test_calc.py::test_neg", "tests/test_calc.py::test_env")


@pytest.fixture
def task(repo: Path) -> Task:
    """test_patch adds a test to an existing file, adds a new test file, touches a data file."""
    test_patch = make_diff(
        repo,
        {
            "tests/test_calc.py": TESTS + "\n\ndef test_add_in_old_file():\n    from pkg.calc import add\n    assert add(1, 1) == 2\n",
            "tests/test_add.py": NEW_TESTS,
            "tests/data.json": '{"a": 1}\n',
        },
    )
    gold = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    return make_task(
        repo, test_patch,
        ["tests/test_calc.py::test_add_in_old_file", "tests/test_add.py::test_add"],
        [*P2P, "tests/test_add.py::test_add_zero"],
        gold=gold,
    )


def test_gold_patch_resolves(repo, env, task, scorer):
    counting = CountingEnv(env)
    result = scorer.score(task, task.patch, counting, make_spec())
    assert result.status == Status.RESOLVED, result.test_output
    assert result.resolved and result.error is None
    assert (result.f2p_passed, result.f2p_total) == (2, 2)
    assert (result.p2p_passed, result.p2p_total) == (4, 4)
    assert result.apply_method == "git apply"
    assert result.test_statuses["tests/test_add.py::test_add"] == "PASSED"
    assert "tests/data.json" not in result.test_statuses
    assert "+ : '>>>>> Start Test Output'" in result.test_output
    assert "Applied patch pkg/calc.py cleanly" in result.apply_log
    assert counting.execs == 2
    # the eval script put the test files back as they were at base_commit
    assert not (repo / "tests/test_add.py").exists()
    assert (repo / "tests/test_calc.py").read_text() == TESTS


def test_noop_patch_is_unresolved(repo, env, task, scorer):
    patch = make_diff(repo, {"pkg/calc.py": "# a comment\n" + CALC})
    result = scorer.score(task, patch, env, make_spec())
    assert result.status == Status.UNRESOLVED and not result.resolved
    assert (result.f2p_passed, result.f2p_total) == (0, 2)
    assert (result.p2p_passed, result.p2p_total) == (4, 4)  # test_add_zero: 0 - 0 == 0 passes
    assert result.test_statuses["tests/test_add.py::test_add"] == "FAILED"
    assert result.error is None


@pytest.mark.parametrize("patch", ["", "  \n\t\n"])
def test_empty_patch(env, task, scorer, patch):
    counting = CountingEnv(env)
    result = scorer.score(task, patch, counting, make_spec())
    assert result.status == Status.EMPTY_PATCH and not result.resolved
    assert counting.execs == 0


def test_bad_patch_fails_to_apply(env, task, scorer):
    counting = CountingEnv(env)
    bad = "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,1 +1,1 @@\n-nothing like this\n+x\n"
    result = scorer.score(task, bad, counting, make_spec())
    assert result.status == Status.PATCH_APPLY_FAILED and not result.resolved
    assert ">>>>> APPLY FAILED" in result.apply_log
    assert counting.execs == 1


def test_infinite_loop_times_out(repo, env, task, scorer):
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("    return a - b", "    while True:\n        pass")})
    result = scorer.score(task, patch, env, make_spec(test_timeout=2))
    assert result.status == Status.TEST_TIMEOUT and not result.resolved
    assert "+ : '>>>>> Start Test Output'" in result.test_output
    assert "timeout" in result.error


def test_model_cannot_tamper_with_test_patch_files(repo, env, task, scorer):
    # No fix; instead the model rewrites the tests test_patch touches so they pass, and
    # creates the file test_patch adds. Both are reset before test_patch applies.
    patch = make_diff(
        repo,
        {
            "tests/test_calc.py": "def test_mul():\n    pass\n",
            "tests/test_add.py": "def test_add():\n    pass\n",
        },
    )
    result = scorer.score(task, patch, env, make_spec())
    assert result.status == Status.UNRESOLVED, result.test_output
    assert result.test_statuses["tests/test_add.py::test_add"] == "FAILED"
    assert result.test_statuses["tests/test_calc.py::test_add_in_old_file"] == "FAILED"
    assert (result.p2p_passed, result.p2p_total) == (4, 4)


def test_new_test_file_only_test_patch(repo, env, scorer):
    test_patch = make_diff(repo, {"tests/test_add.py": NEW_TESTS})
    gold = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    task = make_task(repo, test_patch, ["tests/test_add.py::test_add"], ["tests/test_add.py::test_add_zero"])
    result = scorer.score(task, gold, env, make_spec())
    assert result.status == Status.RESOLVED, result.test_output
    # only test_patch's files run, never the whole suite
    assert not any(k.startswith("tests/test_calc.py") for k in result.test_statuses)
    # a bare `git checkout <sha>` would have left HEAD detached / the gold fix reverted
    assert git(repo, "symbolic-ref", "-q", "HEAD").strip().startswith("refs/heads/")


def test_test_patch_that_does_not_apply_is_a_harness_error(repo, env, scorer):
    test_patch = "diff --git a/tests/test_calc.py b/tests/test_calc.py\n--- a/tests/test_calc.py\n+++ b/tests/test_calc.py\n@@ -1,1 +1,1 @@\n-no such line\n+x\n"
    gold = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    task = make_task(repo, test_patch, ["tests/test_calc.py::test_mul"], [])
    result = scorer.score(task, gold, env, make_spec())
    assert result.status == Status.HARNESS_ERROR and not result.resolved
    assert "dataset problem" in result.error


def test_forged_summary_is_caught_by_the_exit_code(repo, env, task, scorer):
    # The model's code prints a fake summary after pytest's own when the process exits.
    forged = (
        "import atexit\n"
        "atexit.register(lambda: print('=' * 20 + ' short test summary info ' + '=' * 20 + '\\n'"
        " 'PASSED tests/test_calc.py::test_add_in_old_file\\nPASSED tests/test_add.py::test_add'))\n"
    )
    patch = make_diff(repo, {"pkg/__init__.py": forged})
    result = scorer.score(task, patch, env, make_spec())
    assert result.status == Status.UNRESOLVED and not result.resolved
    assert "exited with code 1" in result.error


def test_unknown_log_parser_is_a_user_error(env, task, scorer):
    with pytest.raises(UserError, match="unknown log parser"):
        scorer.score(task, task.patch, env, make_spec(log_parser="nope"))


# ---------------------------------------------------------------- eval script


def test_build_eval_script(repo, task):
    script = build_eval_script(task, make_spec(), workdir="/testbed")
    base = task.base_commit
    assert "\r" not in script
    assert script.startswith("#!/bin/bash\nexport PS4='+ '\nset -uxo pipefail\n")
    assert "cd /testbed\n" in script
    assert "export CALC_FLAG='on 1'\n" in script
    assert f"git checkout {base} -- tests/test_calc.py" in script
    assert f"rm -f -- tests/test_add.py" in script  # new in test_patch: removed, not checked out
    for line in script.splitlines():
        if line.startswith("git checkout") or " git checkout " in line:
            assert " -- " in line
    assert ": '>>>>> Start Test Output'\npython -m pytest -rA -p no:cacheprovider tests/test_add.py tests/test_calc.py\n" in script
    assert "data.json" not in script.split(">>>>> Start Test Output")[1].split("\n")[1]
    delimiter = script.split("git apply -v - <<'")[1].split("'")[0]
    assert delimiter.startswith("EOF_") and f"\n{delimiter}\n" in script


def test_heredoc_delimiter_never_collides(repo):
    test_patch = make_diff(repo, {"tests/test_calc.py": TESTS + "X = '''\nEOF\n'''\n"})
    task = make_task(repo, test_patch, ["tests/test_calc.py::test_mul"], [])
    script = build_eval_script(task, make_spec())
    delimiter = script.split("git apply -v - <<'")[1].split("'")[0]
    assert delimiter not in test_patch.splitlines()


def test_eval_test_files_drops_data_and_deleted_files():
    patch = (
        "diff --git a/tests/test_a.py b/tests/test_a.py\n--- a/tests/test_a.py\n+++ b/tests/test_a.py\n"
        "diff --git a/tests/old_test.py b/tests/old_test.py\ndeleted file mode 100644\n--- a/tests/old_test.py\n+++ /dev/null\n"
        "diff --git a/tests/img.PNG b/tests/img.PNG\n"
        "diff --git a/tests/conf.yaml b/tests/conf.yaml\n"
        "diff --git a/docs/x.rst b/docs/x.rst\n"
        "diff --git a/tests/test_b.py b/tests/test_b.py\n"
    )
    assert eval_test_files(patch) == ["tests/test_a.py", "tests/test_b.py"]


def test_extract_test_output_and_exit_code():
    output = (
        "+ git apply -v -\n+ : '>>>>> Start Test Output'\nline 1\n+ : '>>>>> End Test Output'\n"
        "line 2\n+ : '>>>>> End Test Output'\n+ : '>>>>> Test Exit Code: 1'\n"
    )
    assert extract_test_output(output) == "line 1\n+ : '>>>>> End Test Output'\nline 2"
    assert parse_test_exit_code(output) == 1
    assert extract_test_output("no markers") == ""
    assert extract_test_output("+ : '>>>>> Start Test Output'\ncut off") == "cut off"
    assert parse_test_exit_code("nothing") is None


def test_get_scorer():
    assert isinstance(get_scorer("tests"), TestScorer)
    assert get_scorer("tests").name == "tests"
    with pytest.raises(UserError, match="known: tests"):
        get_scorer("llm-judge")


@pytest.mark.parametrize("with_index", [True, False])
def test_already_applied_patch(repo, env, patch_path, with_index):
    # a patch whose change is in the tree already applies in reverse: applied, tree unchanged
    # (`patch --batch` would take it for a reversed patch and undo the change)
    patch = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    if not with_index:
        patch = "\n".join(line for line in patch.splitlines() if not line.startswith("index ")) + "\n"
    assert apply_patch(env, patch, path=patch_path).applied
    git(repo, "commit", "-qam", "fixed")
    again = apply_patch(env, patch, path=patch_path)
    assert again.applied and again.method == "already applied"
    assert "all in the tree already" in again.log
    assert dirty(repo) == "" and "return a + b" in (repo / "pkg/calc.py").read_text()


def test_patch_for_crlf_files_applies_as_written(repo, env, patch_path):
    (repo / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    git(repo, "add", "win.txt")
    git(repo, "commit", "-qm", "crlf file")
    patch = make_diff(repo, {"win.txt": "one\r\n2\r\nthree\r\n"})
    assert "-two\r\n+2\r\n" in patch
    result = apply_patch(env, patch, path=patch_path)
    assert result.applied and result.method == "git apply"
    assert (repo / "win.txt").read_bytes() == b"one\r\n2\r\nthree\r\n"
