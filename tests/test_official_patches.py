"""Patches made in SWE-bench's official images, graded on a LocalEnvironment (issue 16, §1-§2).

There the setup's edits of tracked files are in /testbed (sphinx: `-rA` in tox.ini, pins in
setup.py) and the install's outputs lie untracked in it (build/, *.egg-info), so an agent's
`git diff <base_commit>` carries both. The repo here mimics sphinx: its test command reads
its pytest flags from tox.ini, as `tox --current-env` does, so without the setup's `-rA`
no test reads as passed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from evalharness.scorers.patching import ALREADY_APPLIED, apply_patch
from evalharness.scorers.setup_edits import setup_files, without_setup_edits
from evalharness.scorers.tests_scorer import TestScorer, build_eval_script
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git, make_diff, python_env

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"
FIXED = CALC.replace("a - b", "a + b")
TOX = "[tox]\nenvlist = py39\n\n[testenv]\ncommands=\n    python -m pytest -p no:cacheprovider {posargs}\n"
SETUP_PY = "from setuptools import setup\n\nsetup(\n    name='calc',\n    install_requires=[\n        'Jinja2>=2.3',\n    ],\n)\n"
# tox --current-env in a few lines: the [testenv] commands, {posargs} from the command line.
TOXLIKE = """\
import configparser, shlex, subprocess, sys
config = configparser.ConfigParser()
config.read("tox.ini")
command = config["testenv"]["commands"].strip().replace("{posargs}", " ".join(map(shlex.quote, sys.argv[1:])))
sys.exit(subprocess.call(shlex.split(command)))
"""
TESTS = "from pkg.calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n"
NEW_TEST = TESTS + "\n\ndef test_add():\n    from pkg.calc import add\n    assert add(2, 3) == 5\n"
SETUP_EDITS = ("sed -i 's/pytest/pytest -rA/' tox.ini", "sed -i 's/Jinja2>=2.3/Jinja2<3.0/' setup.py")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text(TESTS)
    (root / "tox.ini").write_text(TOX)
    (root / "setup.py").write_text(SETUP_PY)
    (root / "toxlike.py").write_text(TOXLIKE)
    return commit_all(root)


def setup_diff(repo: Path) -> str:
    """The setup's edits as the image keeps them: run them, take the diff, undo them."""
    for command in SETUP_EDITS:
        python_env(repo).exec(command)
    diff = git(repo, "diff", "--binary")
    git(repo, "checkout", "-q", "--", ".")
    return diff


@pytest.fixture
def saved_setup(repo: Path, tmp_path: Path) -> Path:
    path = tmp_path / "pre_install.diff"
    path.write_text(setup_diff(repo))
    return path


def official_form(repo: Path, files: dict[str, str]) -> str:
    """`git diff <base>` of a tree with the setup's edits in it and `files` changed on top."""
    edited = {"tox.ini": TOX.replace("pytest", "pytest -rA"), "setup.py": SETUP_PY.replace("Jinja2>=2.3", "Jinja2<3.0")}
    return make_diff(repo, {**edited, **files})


def make_task(repo: Path, gold: str = "") -> Task:
    test_patch = make_diff(repo, {"tests/test_calc.py": NEW_TEST})
    return Task(instance_id="acme__calc-1", repo="acme/calc", base_commit=git(repo, "rev-parse", "HEAD").strip(),
                patch=gold, test_patch=test_patch, problem_statement="add() subtracts", version="1.0",
                FAIL_TO_PASS=("tests/test_calc.py::test_add",), PASS_TO_PASS=("tests/test_calc.py::test_mul",))


def spec() -> EnvSpec:
    return EnvSpec(repo="acme/calc", version="1.0", python="3.11", test_cmd="python toxlike.py",
                   pre_install=SETUP_EDITS, test_timeout=120)


def scorer(tmp_path: Path, saved: Path) -> TestScorer:
    return TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"),
                      setup_diff_path=str(saved))


# ---------------------------------------------------------------- the setup's edits in the patch


def test_change_groups_equal_to_the_setups_are_left_out_and_the_rest_kept(repo, tmp_path):
    setup = setup_diff(repo)
    assert setup_files(setup) == ["setup.py", "tox.ini"]
    # setup.py: the setup's pin and, two lines above it in the same hunk, the model's own line
    own = SETUP_PY.replace("Jinja2>=2.3", "Jinja2<3.0").replace("name='calc',", "name='calc',\n    version='1.0',")
    patch = official_form(repo, {"pkg/calc.py": FIXED, "setup.py": own})
    filtered = without_setup_edits(patch, setup)
    assert sorted(filtered.dropped) == ["setup.py: -1 +1 lines", "tox.ini: -1 +1 lines"]
    assert "tox.ini" not in filtered.patch
    assert "+        'Jinja2<3.0'," not in filtered.patch and "         'Jinja2>=2.3'," in filtered.patch  # context now
    assert "+    version='1.0'," in filtered.patch and "+    return a + b" in filtered.patch
    # what is left applies to the tree without the setup's edits and gives the model's own tree
    (tmp_path / "filtered.patch").write_text(filtered.patch)
    git(repo, "apply", str(tmp_path / "filtered.patch"))
    assert (repo / "setup.py").read_text() == SETUP_PY.replace("name='calc',", "name='calc',\n    version='1.0',")
    assert without_setup_edits(patch, "").patch == patch  # no setup: nothing changes


def test_a_model_change_next_to_a_setup_edit_is_not_taken_for_one(repo):
    setup = setup_diff(repo)
    # the same line as the setup's, changed differently: the model's own change, kept
    patch = make_diff(repo, {"setup.py": SETUP_PY.replace("Jinja2>=2.3", "Jinja2>=3.1")})
    assert not without_setup_edits(patch, setup).changed


def test_gold_with_the_setups_edits_resolves_and_its_tox_ini_keeps_the_setups_flags(repo, tmp_path, saved_setup):
    patch = official_form(repo, {"pkg/calc.py": FIXED})
    task = make_task(repo, gold=patch)
    result = scorer(tmp_path, saved_setup).score(task, patch, python_env(repo), spec())
    assert result.status == Status.RESOLVED, result.test_output[-3000:] + result.apply_log
    assert (result.f2p_passed, result.p2p_passed) == (1, 1)
    assert "left out as one of the image's setup edits: tox.ini" in result.apply_log
    assert "setup edit of tox.ini applied" in result.test_output
    assert "setup edit of setup.py applied" in result.test_output


def test_the_guard_restores_tox_ini_to_the_images_state_not_to_base_commit(repo, tmp_path, saved_setup):
    # the model also edits tox.ini's test settings: the guard puts back the image's tox.ini
    tampered = TOX.replace("pytest", "pytest -rA").replace("{posargs}", "--deselect tests/test_calc.py::test_add {posargs}")
    patch = official_form(repo, {"pkg/calc.py": FIXED, "tox.ini": tampered})
    task = make_task(repo, gold=patch)
    result = scorer(tmp_path, saved_setup).score(task, patch, python_env(repo), spec())
    assert "restored tox.ini as at base_commit: the patch changed its test settings" in result.test_output
    assert "setup edit of tox.ini applied" in result.test_output
    assert result.status == Status.RESOLVED, result.test_output[-3000:]


def test_a_conflicting_setup_edit_keeps_that_file_alone_and_applies_the_others(repo, tmp_path, saved_setup):
    # the model rewrote the pinned line: setup.py can't take the setup's edit, tox.ini still does
    patch = make_diff(repo, {"pkg/calc.py": FIXED, "setup.py": SETUP_PY.replace("'Jinja2>=2.3',", "'Jinja2>=3.1',")})
    task = make_task(repo, gold=patch)
    result = scorer(tmp_path, saved_setup).score(task, patch, python_env(repo), spec())
    assert "the setup's edit of setup.py conflicts with the patch: setup.py keeps the patch's version" in result.test_output
    assert "setup edit of tox.ini applied" in result.test_output
    assert result.status == Status.RESOLVED, result.test_output[-3000:]


def test_a_patch_of_only_the_setups_edits_is_an_empty_patch(repo, tmp_path, saved_setup):
    patch = official_form(repo, {})
    result = scorer(tmp_path, saved_setup).score(make_task(repo), patch, python_env(repo), spec())
    assert result.status == Status.EMPTY_PATCH and "only the image's setup edits" in result.error


def test_the_eval_script_applies_the_setups_edits_file_by_file():
    script = build_eval_script(make_task_stub(), spec(), setup_diff_path="/opt/s.diff")
    assert "git apply --numstat /opt/s.diff" in script and "setup_edit " in script
    assert "do not apply over the patch" not in script  # never skipped whole


def make_task_stub() -> Task:
    return Task(instance_id="a__b-1", repo="a/b", base_commit="0" * 40, patch="", test_patch="",
                problem_statement="p", version="1.0", FAIL_TO_PASS=(), PASS_TO_PASS=())


class Official:
    """A LocalEnvironment marked as an official image: the dataset's eval_script runs."""

    official_image = True

    def __init__(self, inner):
        self.inner, self.workdir = inner, inner.workdir

    def exec(self, command, timeout=None, workdir=None):
        return self.inner.exec(command, timeout=timeout, workdir=workdir)

    def write_file(self, path, content):
        self.inner.write_file(path, content)


def official_script(repo: Path, task: Task) -> str:
    return "\n".join([
        "#!/bin/bash", "set -uxo pipefail", f"cd {repo}", f"git apply -v - <<'EOF_T'\n{task.test_patch}EOF_T",
        ": '>>>>> Start Test Output'", "python toxlike.py tests/test_calc.py",
        ": '>>>>> End Test Output'", "",
    ])


def test_in_an_official_image_the_setups_edits_in_the_patch_are_not_reversed(repo, tmp_path):
    # the official image holds the setup's edits uncommitted; the patch carries them too.
    # Applied as is, git apply fails on them and `patch --batch` reverses them (no -rA).
    patch = official_form(repo, {"pkg/calc.py": FIXED})
    for command in SETUP_EDITS:
        python_env(repo).exec(command)
    task = make_task(repo, gold=patch)
    task = dataclasses.replace(task, eval_script=official_script(repo, task), log_parser="pytest")
    missing = tmp_path / "no-such.diff"  # official images keep no diff of their own
    result = scorer(tmp_path, missing).score(task, patch, Official(python_env(repo)), spec())
    assert result.status == Status.RESOLVED, result.test_output[-3000:] + result.apply_log
    assert "-rA" in (repo / "tox.ini").read_text()
    assert result.apply_method == "git apply"


# ---------------------------------------------------------------- the install's outputs in the patch


def install_outputs(repo: Path) -> None:
    """What `pip install .` leaves untracked in /testbed: build/lib and an egg-info."""
    (repo / "build" / "lib" / "pkg").mkdir(parents=True)
    (repo / "build" / "lib" / "pkg" / "calc.py").write_text(CALC)
    (repo / "calc.egg-info").mkdir()
    (repo / "calc.egg-info" / "PKG-INFO").write_text("Name: calc\n")


def test_files_the_install_left_untracked_are_replaced_by_the_patchs(repo, tmp_path):
    install_outputs(repo)
    patch = make_diff_keeping(repo, {"pkg/calc.py": FIXED, "build/lib/pkg/calc.py": FIXED,
                                     "calc.egg-info/PKG-INFO": "Name: calc\n"})
    result = apply_patch(python_env(repo), patch, path=str(tmp_path / "model.patch"))
    assert result.applied and result.method == "git apply", result.log
    assert "replacing build/lib/pkg/calc.py: the tree held it untracked" in result.log
    assert (repo / "build/lib/pkg/calc.py").read_text() == FIXED and (repo / "pkg/calc.py").read_text() == FIXED


def test_a_patch_adding_a_tracked_file_still_does_not_apply(repo, tmp_path):
    patch = "diff --git a/tox.ini b/tox.ini\nnew file mode 100644\n--- /dev/null\n+++ b/tox.ini\n@@ -0,0 +1 @@\n+x\n"
    result = apply_patch(python_env(repo), patch, path=str(tmp_path / "model.patch"))
    assert not result.applied and (repo / "tox.ini").read_text() == TOX


def test_gold_with_the_installs_outputs_resolves(repo, tmp_path, saved_setup):
    install_outputs(repo)
    patch = make_diff_keeping(repo, {"pkg/calc.py": FIXED, "build/lib/pkg/calc.py": CALC,
                                     "calc.egg-info/PKG-INFO": "Name: calc\n"})
    assert "build/lib/pkg/calc.py" in patch
    result = scorer(tmp_path, saved_setup).score(make_task(repo, gold=patch), patch, python_env(repo), spec())
    assert result.status == Status.RESOLVED, result.apply_log + result.test_output[-2000:]


def test_a_patch_already_in_the_tree_counts_as_applied_and_is_not_reversed(repo, tmp_path):
    patch = make_diff(repo, {"pkg/calc.py": FIXED})
    (repo / "pkg/calc.py").write_text(FIXED)
    result = apply_patch(python_env(repo), patch, path=str(tmp_path / "model.patch"))
    assert result.applied and result.method == ALREADY_APPLIED
    assert (repo / "pkg/calc.py").read_text() == FIXED  # `patch --batch` would have reversed it


def make_diff_keeping(repo: Path, files: dict[str, str]) -> str:
    """`git add -A && git diff --cached HEAD` over untracked files as they are, plus `files`,
    as an agent in the official image makes it; the tree is put back as it was."""
    saved = {path: path.read_bytes() for path in repo.rglob("*") if path.is_file() and ".git" not in path.parts}
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    git(repo, "add", "-A")
    diff = git(repo, "diff", "--cached", "--no-color", "HEAD")
    git(repo, "reset", "-q", "--hard")
    for path in repo.rglob("*"):
        if path.is_file() and ".git" not in path.parts and path not in saved:
            path.unlink()
    for path, content in saved.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return diff
