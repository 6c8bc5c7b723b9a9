"""Deterministic test runs: every eval script exports TEST_ENV (TZ, locale, hash seed), whatever the
environment it runs in; run.json records it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from evalharness.core.results import InstanceRecord
from evalharness.run.runner import RunConfig, Runner
from evalharness.scorers.tests_scorer import TEST_ENV, TestScorer, build_eval_script, official_eval_script
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git, make_diff, python_env

ENV_TEST = """\
import os
import sys
import time


def test_fixed_environment():
    assert os.environ["TZ"] == "UTC" and time.strftime("%Z", time.localtime(0)) == "UTC"
    assert os.environ["LC_ALL"] == "C.UTF-8"
    assert os.environ["PYTHONHASHSEED"] == "0" and sys.flags.hash_randomization == 0
    print("HASH_OF_A=%d" % hash("a"))


def test_lang():
    print("LANG_IS=" + os.environ["LANG"])
"""
# What the machine running the harness may have: another zone, locale and a random hash seed.
AMBIENT = {"TZ": "America/New_York", "LANG": "C", "LC_ALL": "POSIX", "PYTHONHASHSEED": "random"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_base.py").write_text("def test_base():\n    pass\n")
    return commit_all(root)


def _task(repo: Path, eval_script: str | None = None) -> Task:
    test_patch = make_diff(repo, {"tests/test_env.py": ENV_TEST})
    return Task(
        instance_id="acme__env-1", repo="acme/env", base_commit=git(repo, "rev-parse", "HEAD").strip(),
        patch=make_diff(repo, {"pkg/__init__.py": "VALUE = 2\n"}), test_patch=test_patch,
        problem_statement="-", version="1.0",
        FAIL_TO_PASS=("tests/test_env.py::test_fixed_environment",), PASS_TO_PASS=("tests/test_env.py::test_lang",),
        eval_script=eval_script,
    )


def _spec(**kw) -> EnvSpec:
    return EnvSpec(**{"repo": "acme/env", "version": "1.0", "python": "3.11",
                      "test_cmd": "python -m pytest -rA -p no:cacheprovider", "test_timeout": 120, **kw})


def _scorer(tmp_path: Path) -> TestScorer:
    return TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"))


def _ambient_env(repo: Path, **extra: str):
    env = python_env(repo)
    env._env.update({**AMBIENT, **extra})
    return env


def _printed(output: str, name: str) -> str:
    found = set(re.findall(rf"^{name}=(\S+)$", output, re.M))
    assert len(found) == 1, (name, found)
    return found.pop()


def test_the_eval_script_exports_test_env_before_the_spec_env(repo):
    script = build_eval_script(_task(repo), _spec(env={"TZ": "Asia/Tokyo"}))
    lines = script.splitlines()
    exports = [f"export {k}={v}" for k, v in TEST_ENV.items()]
    assert lines[4:4 + len(exports)] == exports  # after the shebang, PS4, set -uxo pipefail and cd
    assert lines.index("export TZ=Asia/Tokyo") > lines.index("export TZ=UTC")  # the spec still wins


@pytest.mark.parametrize("head", ["#!/bin/bash\n", ""])
def test_the_official_script_gets_test_env_before_its_first_command(repo, head):
    original = f"{head}set -uxo pipefail\r\nexport LANG=en_US.UTF-8\r\n: done\r\n"
    script = official_eval_script(_task(repo, eval_script=original))
    exports = "".join(f"export {k}={v}\n" for k, v in TEST_ENV.items())
    assert script == head + exports + "set -uxo pipefail\nexport LANG=en_US.UTF-8\n: done\n"


def test_tests_run_in_test_env_whatever_the_environment(repo, tmp_path):
    """The machine's zone, locale and hash seed never reach the tests; a seed of 0 gives one hash of "a"."""
    task = _task(repo)
    hashes = []
    for seed in ("1", "2"):
        result = _scorer(tmp_path).score(task, task.patch, _ambient_env(repo, PYTHONHASHSEED=seed), _spec())
        assert result.status == Status.RESOLVED, result.test_output
        assert _printed(result.test_output, "LANG_IS") == "C.UTF-8"
        hashes.append(_printed(result.test_output, "HASH_OF_A"))
    assert hashes[0] == hashes[1]


def test_the_official_script_runs_in_test_env_and_keeps_its_own_exports(repo, tmp_path):
    class Official:
        """An environment marked as an official image (the dataset's eval_script runs)."""

        official_image = True

        def __init__(self, inner):
            self.inner = inner
            self.workdir = inner.workdir

        def exec(self, command, timeout=None, workdir=None):
            return self.inner.exec(command, timeout=timeout, workdir=workdir)

        def write_file(self, path, content):
            self.inner.write_file(path, content)

    probe = _task(repo)
    script = "\n".join([
        "#!/bin/bash", "set -uxo pipefail", f"cd {repo}", "export LANG=en_US.UTF-8",
        f"git apply -v - <<'EOF_T'\n{probe.test_patch}EOF_T",
        ": '>>>>> Start Test Output'", "python -m pytest -rA -p no:cacheprovider tests/test_env.py",
        ": '>>>>> End Test Output'", "rm -f tests/test_env.py",
    ]) + "\n"
    task = _task(repo, eval_script=script)
    result = _scorer(tmp_path).score(task, task.patch, Official(_ambient_env(repo)), _spec())
    assert result.status == Status.RESOLVED, result.test_output
    assert _printed(result.test_output, "LANG_IS") == "en_US.UTF-8"  # the dataset's own export wins


class _OneRecord:
    """An executor that finishes every task at once, as resolved."""

    def run(self, tasks, logs_root):
        from evalharness.run.executors.base import Finished

        for task in tasks:
            yield Finished(InstanceRecord(run_id="r", model="", agent="gold", dataset="d", instance_id=task.instance_id,
                                          repo=task.repo, version=task.version, status="resolved", resolved=True))

    def stop(self):
        pass


def test_run_json_records_the_test_env(repo, tmp_path):
    # with an executor (Ray) the config carries what the scorer says; with a scorer, the runner asks it
    config = RunConfig(run_id="r", dataset="d", agent="gold", reports_dir=tmp_path / "reports",
                       test_env=TestScorer.test_env)
    Runner(config, executor=_OneRecord()).run([_task(repo)], progress=False)
    meta = json.loads((tmp_path / "reports" / "r" / "run.json").read_text())
    assert meta["test_env"] == {"TZ": "UTC", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONHASHSEED": "0"}
    from evalharness.report.load import load_run

    assert load_run(tmp_path / "reports" / "r").meta.test_env == meta["test_env"]


def test_run_json_records_what_the_runs_scorer_says_its_test_runs_get(repo, tmp_path):
    class _Scorer:
        name = "fixed"
        test_env = {"TZ": "Asia/Tokyo"}

    config = RunConfig(run_id="r", dataset="d", agent="gold", reports_dir=tmp_path / "reports")
    Runner(config, scorer=_Scorer(), executor=_OneRecord()).run([_task(repo)], progress=False)
    meta = json.loads((tmp_path / "reports" / "r" / "run.json").read_text())
    assert meta["test_env"] == {"TZ": "Asia/Tokyo"}
