"""Verdicts that must say why (issue 16, §4-§5): a log with no test in it, host-sensitive tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalharness.core.errors import UserError
from evalharness.scorers.tests_scorer import TestScorer
from evalharness.tasks.specs import EnvSpec, load_spec_file
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git, make_diff, python_env

CALC = "def add(a, b):\n    return a - b\n"
TESTS = ("import os\nimport pytest\nfrom pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\n"
         "@pytest.mark.skipif(os.environ.get('TWO_CORES') != '1', reason='needs two cores')\n"
         "def test_jobs_score():\n    assert True\n")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "test_calc.py").write_text("def test_nothing():\n    pass\n")
    return commit_all(root)


def task_of(repo: Path) -> Task:
    test_patch = make_diff(repo, {"tests/test_calc.py": TESTS})
    return Task(instance_id="acme__calc-1", repo="acme/calc", base_commit=git(repo, "rev-parse", "HEAD").strip(),
                patch="", test_patch=test_patch, problem_statement="add() subtracts", version="1.0",
                FAIL_TO_PASS=("tests/test_calc.py::test_add",), PASS_TO_PASS=("tests/test_calc.py::test_jobs_score",))


def spec(**kw) -> EnvSpec:
    return EnvSpec(**{"repo": "acme/calc", "version": "1.0", "python": "3.11", "test_timeout": 120,
                      "test_cmd": "python -m pytest -rA -p no:cacheprovider", **kw})


def score(repo: Path, tmp_path: Path, spec_: EnvSpec, env_vars: dict | None = None):
    fixed = make_diff(repo, {"pkg/calc.py": CALC.replace("a - b", "a + b")})
    env = python_env(repo)
    env._env.update(env_vars or {})
    scorer = TestScorer(patch_path=str(tmp_path / "m.patch"), script_path=str(tmp_path / "eval.sh"))
    return scorer.score(task_of(repo), fixed, env, spec_)


def test_a_log_without_any_test_has_a_status_of_its_own_and_its_last_lines(repo, tmp_path):
    result = score(repo, tmp_path, spec(test_cmd="pyhton -m pytest -rA"))  # a typo: nothing runs
    assert result.status == Status.NO_TESTS_PARSED and not result.resolved
    assert result.error.startswith("no test result in the test log")
    assert "pyhton: command not found" in result.error  # the log's last lines
    assert (result.f2p_total, result.p2p_total) == (1, 1)


def test_a_log_with_failures_is_not_taken_for_one_without_tests(repo, tmp_path):
    broken = score(repo, tmp_path, spec(test_cmd="python -c 'print(\"FAILED tests/test_calc.py::test_add\")'; :"))
    assert broken.status == Status.UNRESOLVED and broken.test_statuses


def test_host_sensitive_tests_are_named_and_said_to_decide(repo, tmp_path):
    sensitive = spec(host_sensitive={"cpus": ("tests/test_calc.py::*::test_jobs_score", "tests/test_calc.py::test_jobs*")})
    result = score(repo, tmp_path, sensitive)  # one CPU seen: the test skips, and a skipped P2P fails
    assert result.status == Status.UNRESOLVED
    assert result.host_sensitive_tests == 1
    assert result.host_sensitive_failed == ["tests/test_calc.py::test_jobs_score (cpus)"]
    assert result.error.startswith("decided by host-sensitive tests") and "CPU count" in result.error
    # the same test passing: resolved, nothing failed, still counted
    ok = score(repo, tmp_path, sensitive, {"TWO_CORES": "1"})
    assert ok.status == Status.RESOLVED and ok.host_sensitive_tests == 1 and ok.host_sensitive_failed == []
    # not named in the spec: a plain unresolved
    plain = score(repo, tmp_path, spec())
    assert plain.status == Status.UNRESOLVED and plain.host_sensitive_failed == [] and plain.error is None


def test_host_sensitive_in_a_spec_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[repos."a/b"."1"]\npython = "3.11"\n[repos."a/b"."1".host_sensitive]\n'
                    'cpus = ["t.py::test_j*"]\nnetwork = ["t.py::test_net"]\n')
    (loaded,) = load_spec_file(path)
    assert loaded.host_sensitivity("t.py::test_jobs") == "cpus"
    assert loaded.host_sensitivity("t.py::test_net") == "network" and loaded.host_sensitivity("t.py::x") is None
    path.write_text('[repos."a/b"."1"]\npython = "3.11"\nhost_sensitive = { moon = ["x"] }\n')
    with pytest.raises(UserError, match="'host_sensitive' keys must be among"):
        load_spec_file(path)
    path.write_text('[repos."a/b"."1"]\npython = "3.11"\nhost_sensitive = { cpus = "x" }\n')
    with pytest.raises(UserError, match="table of lists"):
        load_spec_file(path)
