"""The built-in dataset (tasks/builtin.jsonl over tasks/repos/) is sound, checked on the host.

No Docker: each task's repo is copied into a temp folder, the patches are applied
with `git apply`, and the repo's tests run in a subprocess (`python -m pytest`,
the package importable through PYTHONPATH).  Outcomes come from --junitxml; the
ids are also checked against the `PASSED <id>` lines that `-rA` prints.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from evalharness.tasks.repos import builtin_commit
from evalharness.tasks.specs import load_spec_file
from evalharness.core.task import DIFFICULTIES, SWEBENCH_FIELDS as FIELDS, Task, patch_files

ROOT = Path(__file__).resolve().parents[1]
TASKS_DIR = ROOT / "tasks"
TASKS_FILE = TASKS_DIR / "builtin.jsonl"
REPOS_DIR = TASKS_DIR / "repos"
SPECS_FILE = TASKS_DIR / "specs.toml"

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def _load_rows() -> list[dict]:
    if not TASKS_FILE.exists():
        return []
    return [json.loads(line) for line in TASKS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


ROWS = _load_rows()
IDS = [row.get("instance_id", f"row{i}") for i, row in enumerate(ROWS)]
by_task = pytest.mark.parametrize("row", ROWS, ids=IDS)


def repo_name(row: dict) -> str:
    owner, _, name = row["repo"].partition("/")
    assert owner == "evalharness", row["repo"]
    return name


def is_test_file(path: str) -> bool:
    return path.startswith("tests/") or Path(path).name.startswith("test_")


def git(cwd: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["git", "-c", "core.autocrlf=false", *args],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull},
    )
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


def copy_repo(name: str, dest: Path) -> Path:
    shutil.copytree(REPOS_DIR / name, dest, ignore=IGNORED)
    git(dest, "init", "-q")  # so that `git apply` works relative to this folder
    return dest


def run_pytest(work: Path, files: list[str]) -> tuple[dict[str, bool], set[str]]:
    """(node id -> passed from junitxml, ids on `PASSED` lines of -rA) for the tests in `files`."""
    report = work.parent / f"{work.name}-junit.xml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Host plugins (the task env has none) would only slow each run down.
    env.update(PYTHONPATH=str(work), PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-p", "no:cacheprovider", f"--junitxml={report}", *files],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.exists(), proc.stdout + proc.stderr
    outcomes: dict[str, bool] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        node_id = junit_node_id(case.get("classname", ""), case.get("name", ""), files)
        ok = not any(child.tag in ("failure", "error", "skipped") for child in case)
        outcomes[node_id] = outcomes.get(node_id, True) and ok
    passed_lines = {line[len("PASSED ") :] for line in proc.stdout.splitlines() if line.startswith("PASSED ")}
    return outcomes, passed_lines


def junit_node_id(classname: str, name: str, files: list[str]) -> str:
    """Undo junitxml's mangling: tests/test_x.py::C::t is reported as classname tests.test_x.C, name t."""
    for path in files:
        module = path.removesuffix(".py").replace("/", ".")
        if classname == module or classname.startswith(module + "."):
            classes = [part for part in classname[len(module) + 1 :].split(".") if part]
            return "::".join([path, *classes, name])
    raise AssertionError(f"junit test {classname}::{name} is in none of {files}")


# -- the dataset as a whole ----------------------------------------------------------


def test_dataset_shape():
    assert ROWS, f"{TASKS_FILE} is missing or empty"
    assert len(ROWS) >= 9
    assert len(set(IDS)) == len(IDS), "instance ids must be unique"
    assert len({row["repo"] for row in ROWS}) >= 3
    for row in ROWS:
        assert set(row) == set(FIELDS), row.get("instance_id")
        for name in FIELDS:
            assert isinstance(row[name], str), (row["instance_id"], name)
        Task.from_row(row)  # the harness's own validation accepts it
        name = repo_name(row)
        assert re.fullmatch(rf"evalharness__{re.escape(name)}-[1-9][0-9]*", row["instance_id"])
        assert re.fullmatch(r"[0-9a-f]{40}", row["base_commit"])
        assert row["environment_setup_commit"] == row["base_commit"]
        assert row["version"] == "1.0"
        assert row["difficulty"] in DIFFICULTIES
        assert row["problem_statement"].strip()
        datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            tests = json.loads(row[key])
            assert isinstance(tests, list) and all(isinstance(t, str) for t in tests)
            assert len(set(tests)) == len(tests)
        assert json.loads(row["FAIL_TO_PASS"]), f"{row['instance_id']} has no FAIL_TO_PASS"


def test_instance_numbers_count_up_per_repo():
    numbers: dict[str, list[int]] = {}
    for row in ROWS:
        numbers.setdefault(repo_name(row), []).append(int(row["instance_id"].rsplit("-", 1)[1]))
    for name, found in numbers.items():
        assert sorted(found) == list(range(1, len(found) + 1)), name


def test_dataset_variety():
    test_ids = [t for row in ROWS for t in json.loads(row["FAIL_TO_PASS"])]
    assert any(" " in t and re.search(r"\[.*\]$", t) for t in test_ids), "a parametrized id with spaces"
    assert any(t.count("::") >= 2 for row in ROWS for t in json.loads(row["FAIL_TO_PASS"])), "a test in a class"
    assert any(len(patch_files(row["patch"])) >= 2 for row in ROWS), "a gold patch over two files"
    assert any("\nnew file mode " in row["test_patch"] for row in ROWS), "a test patch adding a test file"


def test_every_repo_has_a_spec_and_a_clean_tree():
    specs = {(spec.repo, spec.version): spec for spec in load_spec_file(SPECS_FILE)}
    for name in sorted({repo_name(row) for row in ROWS}):
        spec = specs[(f"evalharness/{name}", "1.0")]
        assert spec.python == "3.11"
        assert spec.log_parser == "pytest"
        source = REPOS_DIR / name
        project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))
        assert project["build-system"]["build-backend"] == "setuptools.build_meta"
        assert project["project"]["name"] == name
        assert project["project"].get("dependencies", []) == []
        assert (source / "README.md").is_file()
        assert (source / "tests").is_dir()
        # These would change the commit hash (only __pycache__/.pyc/.pytest_cache are ignored).
        leftovers = [p for p in source.rglob("*") if p.name in (".git", "build", "dist") or p.suffix == ".egg-info"]
        assert not leftovers, leftovers


@pytest.mark.parametrize("name", sorted({repo_name(row) for row in ROWS}))
def test_repo_suite_passes_at_base(name, tmp_path):
    work = copy_repo(name, tmp_path / name)
    files = sorted(str(p.relative_to(work)) for p in (work / "tests").glob("test_*.py"))
    outcomes, _ = run_pytest(work, files)
    assert outcomes
    assert [t for t, ok in outcomes.items() if not ok] == []


# -- each task --------------------------------------------------------------------------

_commits: dict[str, str] = {}


@by_task
def test_base_commit_is_the_repo_tree(row):
    name = repo_name(row)
    if name not in _commits:
        _commits[name] = builtin_commit(REPOS_DIR / name)
    assert row["base_commit"] == _commits[name]


@by_task
def test_patches_touch_the_right_files(row):
    for key in ("patch", "test_patch"):
        assert row[key].startswith("diff --git a/"), key
        assert row[key].endswith("\n"), key
    gold_files = patch_files(row["patch"])
    test_files = patch_files(row["test_patch"])
    assert gold_files and test_files
    assert not [f for f in gold_files if is_test_file(f)], "the gold patch must not touch tests"
    assert all(is_test_file(f) for f in test_files), "the test patch must only touch tests"
    for test_id in json.loads(row["FAIL_TO_PASS"]) + json.loads(row["PASS_TO_PASS"]):
        assert test_id.split("::", 1)[0] in test_files, test_id


@by_task
def test_fail_to_pass_and_pass_to_pass(row, tmp_path):
    fail_to_pass = json.loads(row["FAIL_TO_PASS"])
    pass_to_pass = json.loads(row["PASS_TO_PASS"])
    test_files = patch_files(row["test_patch"])
    work = copy_repo(repo_name(row), tmp_path / "repo")

    # Each patch applies on the base by itself.
    git(work, "apply", "--check", "-", stdin=row["patch"])
    git(work, "apply", "--check", "-", stdin=row["test_patch"])

    git(work, "apply", "-", stdin=row["test_patch"])
    before, _ = run_pytest(work, test_files)
    git(work, "apply", "-", stdin=row["patch"])
    after, passed_lines = run_pytest(work, test_files)

    missing = [t for t in fail_to_pass + pass_to_pass if t not in after]
    assert not missing, f"not collected: {missing}"
    assert [t for t in fail_to_pass if before.get(t)] == [], "FAIL_TO_PASS tests that pass without the fix"
    assert [t for t in pass_to_pass if not before.get(t)] == [], "PASS_TO_PASS tests that fail before the fix"
    assert [t for t, ok in after.items() if not ok] == [], "tests failing with the gold patch"
    # PASS_TO_PASS is every test of the touched files that passes both before and after.
    assert sorted(pass_to_pass) == sorted(t for t, ok in after.items() if ok and before.get(t))
    assert sorted(fail_to_pass) == sorted(t for t, ok in after.items() if ok and not before.get(t))
    # The ids are exactly what `pytest -rA` prints.
    assert set(fail_to_pass + pass_to_pass) == passed_lines


def test_builtin_jsonl_is_what_the_generator_makes_from_tasks_src():
    """tasks/builtin.jsonl must not drift from tasks/src and tasks/repos (the generator's --check)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "make_builtin_tasks.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
