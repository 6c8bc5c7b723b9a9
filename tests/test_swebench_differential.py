"""Differential grading: evalharness's log parsers and grading against the official `swebench` package.

The official package (SWEBENCH_VERSION, from PyPI) is installed into a throwaway venv under the
test cache (`$EVALHARNESS_TEST_CACHE`, else pytest's temp dir; reused when present) and run there
by tests/swebench_oracle.py, which reads the corpus's cases as JSON and writes back swebench's
parse of each log and its FAIL_TO_PASS / PASS_TO_PASS grading. For every case this test compares:

  parse        the {test id: status} maps of swebench's parser (PARSER_REGISTRY[log_parser], the
               one MAP_REPO_TO_PARSER_PY gives the repo) and of evalharness's (LOG_PARSERS[log_parser]);
               evalharness's XPASS is dropped first: swebench's vocabulary has no XPASS (its
               parsers leave such a test out), and both grade it as failing
  outcome      per listed test, pass / fail (swebench also "none": in neither list), each side
               grading its own parse, and the resolved verdict
  rules        both gradings on the SAME map (swebench's parse, then evalharness's), so that a
               difference of the rules shows apart from one of the parsers

Every difference found must be listed in the case's `differences` in the corpus manifest, with
the section of docs/GRADING-DIFFERENCES.md that says why it stays; a difference not listed (or a
listed one that went away) fails the test, which prints the entries to paste.

The corpus (tests/data/swebench_logs/): one log per case and manifest.json. A log is the test
output region of an eval script (what both harnesses hand their parser), either written by
hand in the runner's format or genuine: a real runner (pytest 3.3-8.3, Django's test runner,
sympy's, tox) run on a project that `capture` writes from the case's `generate` spec, so the
test ids are the dataset's (SWE-bench Verified) and each test ends as the spec says:

    python tests/test_swebench_differential.py capture CASE PYTHON

(PYTHON: an interpreter that has that runner installed; the manifest's `source` says which.)
Two logs are made live instead, by this venv's pytest and by unittest (the runner Django's is
built on), so that a change in the runners' output shows up here too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from evalharness.scorers.grading import grade
from evalharness.scorers.log_parsers import LOG_PARSERS, XPASS

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "data" / "swebench_logs"
MANIFEST = CORPUS / "manifest.json"
DOC = ROOT / "docs" / "GRADING-DIFFERENCES.md"
ORACLE = ROOT / "tests" / "swebench_oracle.py"

# The version PyPI serves (pip download --no-deps swebench), pinned so that a new release
# shows up as a deliberate change here, not as a red CI run.
SWEBENCH_VERSION = "5.0.2"
# Installed with --no-deps: swebench's own dependencies (datasets, modal, docker, pre-commit,
# ...: ~490 MB, ~45 s) serve its Docker/Modal runners and dataset tools. Its log parsers and
# grading import only the standard library, swebench's constants/types, and (through
# log_parsers/javascript.py -> swebench/utils.py) unidiff; the oracle skips
# swebench/harness/__init__.py, which imports the runners (see tests/swebench_oracle.py).
SWEBENCH_PACKAGES = [f"swebench=={SWEBENCH_VERSION}", "unidiff==1.0.1"]
FAIL_TO_PASS, PASS_TO_PASS = "FAIL_TO_PASS", "PASS_TO_PASS"
INSTALL_ATTEMPTS = 3
INSTALL_TIMEOUT_S = 300

pytestmark = pytest.mark.swebench_diff


# ---- test projects that real runners run: the corpus's genuine logs ---------------------------

_PYTEST_CONFTEST = '''\
import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "gen_setup_error: the test errors in setup")
    config.addinivalue_line("markers", "gen_teardown_error: the test errors in teardown")


def _marked(node, name):
    get = getattr(node, "get_closest_marker", None) or node.get_marker  # pytest < 3.6: get_marker
    return get(name) is not None


@pytest.fixture(autouse=True)
def _generated_errors(request):
    if _marked(request.node, "gen_setup_error"):
        raise RuntimeError("generated setup error")
    yield
    if _marked(request.node, "gen_teardown_error"):
        raise RuntimeError("generated teardown error")
'''

_PYTEST_HELPERS = '''\
import pytest


def _act(status, text):
    if text:
        print(text)
    if status in ("FAILED", "XFAIL"):
        assert status == "PASSED", "generated failure"
    if status == "SKIPPED":
        pytest.skip("generated skip")


def _marks(status):
    if status in ("XFAIL", "XPASS"):
        return [pytest.mark.xfail(reason="generated xfail")]
    if status == "ERROR":
        return [pytest.mark.gen_setup_error]
    if status == "TEARDOWN_ERROR":
        return [pytest.mark.gen_teardown_error]
    return []


def _apply_marks(status):
    def decorate(func):
        for mark in _marks(status):
            func = mark(func)
        return func
    return decorate

'''


def write_pytest_project(root: Path, tests: dict[str, str], prints: dict[str, str] | None = None,
                         broken: list[str] | None = None) -> list[str]:
    """Test files (under `root`) whose pytest run reports exactly the node ids of `tests`.

    Status per id: PASSED, FAILED, SKIPPED, XFAIL, XPASS, ERROR (at setup), TEARDOWN_ERROR
    (passes, then errors in teardown: reported twice). `prints`: text a test prints. `broken`:
    test files that fail to import (a collection error). Returns the test files, in the order
    first named (the eval script's arguments).
    """
    prints = prints or {}
    files: dict[str, dict[tuple[str, ...], dict[str, list]]] = {}
    for node_id, status in tests.items():
        path, *names = node_id.split("::")
        func, param = names[-1], None
        if "[" in func:
            func, param = func[: func.index("[")], func[func.index("[") + 1 : -1]
        funcs = files.setdefault(path, {}).setdefault(tuple(names[:-1]), {})
        funcs.setdefault(func, []).append((param, status, prints.get(node_id)))
    (root / "conftest.py").write_text(_PYTEST_CONFTEST)
    (root / "pytest.ini").write_text("[pytest]\n")
    for path, classes in files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        for parent in target.relative_to(root).parents:
            if parent != Path("."):
                (root / parent / "__init__.py").touch()
        code = [_PYTEST_HELPERS]
        for chain, funcs in classes.items():
            indent = ""
            for name in chain:
                code.append(f"{indent}class {name}(object):")
                indent += "    "
            for func, cases in funcs.items():
                code.extend(_pytest_function(func, cases, indent, method=bool(chain)))
        target.write_text("\n".join(code) + "\n")
    for path in broken or []:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("import module_that_does_not_exist\n\n\ndef test_fixed():\n    pass\n")
    return list(files) + list(broken or [])


def _pytest_function(func: str, cases: list, indent: str, method: bool) -> list[str]:
    self = "self, " if method else ""
    if cases[0][0] is None:  # not parametrized
        _, status, text = cases[0]
        return [f"{indent}@_apply_marks({status!r})", f"{indent}def {func}({self.rstrip(', ')}):",
                f"{indent}    _act({status!r}, {text!r})", ""]
    params = ", ".join(f"pytest.param({s!r}, {t!r}, id={p!r}, marks=_marks({s!r}))" for p, s, t in cases)
    return [f"{indent}@pytest.mark.parametrize('status, text', [{params}])",
            f"{indent}def {func}({self}status, text):", f"{indent}    _act(status, text)", ""]


_UNITTEST_ACT = '''\
import sys
import unittest


def _act(case, status, text, message="generated failure"):
    if text:
        sys.stderr.write(text + "\\n")
    if status == "FAIL":
        case.fail(message)
    if status == "ERROR":
        raise RuntimeError("generated error")
    if status == "skip":
        case.skipTest("generated skip")
    if status == "xfail":
        raise AssertionError("expected")
    if status == "subtest_fail":
        for i in range(2):
            with case.subTest(i=i):
                case.assertEqual(i, 0)

'''


def write_unittest_project(root: Path, tests: list[dict], base: str = "unittest.TestCase") -> list[str]:
    """Modules under `root` holding the unittest tests of `tests`: {"test": "app.module.Class.test_x",
    "status": ok | FAIL | ERROR | skip | xfail | xpass | subtest_fail, "doc": first docstring line,
    "stderr": text written while it runs, "message": a failure's message}. Returns the modules' dotted names (the runner's labels)."""
    modules: dict[str, dict[str, list[dict]]] = {}
    for test in tests:
        module, cls, _ = test["test"].rsplit(".", 2)
        modules.setdefault(module, {}).setdefault(cls, []).append(test)
    for module, classes in modules.items():
        target = root / (module.replace(".", "/") + ".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        for parent in target.relative_to(root).parents:
            if parent != Path("."):
                (root / parent / "__init__.py").touch()
        code = [_UNITTEST_ACT]
        if base != "unittest.TestCase":
            code.insert(0, f"import {base.rsplit('.', 1)[0]}")
        for cls, members in classes.items():
            code.append(f"class {cls}({base}):")
            for test in members:
                status, name = test["status"], test["test"].rsplit(".", 1)[1]
                if status in ("xfail", "xpass"):
                    code.append("    @unittest.expectedFailure")
                code.append(f"    def {name}(self):")
                if test.get("doc"):
                    code.append(f"        {json.dumps(test['doc'] + chr(10) + chr(10) + 'More text.')}")
                message = f", {test['message']!r}" if test.get("message") else ""
                code.append(f"        _act(self, {status!r}, {test.get('stderr')!r}{message})")
            code.append("")
        target.write_text("\n".join(code) + "\n")
    return list(modules)


_DJANGO_SETTINGS = '''\
SECRET_KEY = "django_tests_secret_key"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3"}, "other": {"ENGINE": "django.db.backends.sqlite3"}}
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth"] + %r
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
USE_TZ = False
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
'''

# A cut-down runtests.py: Django's DiscoverRunner at --verbosity 2 --parallel 1, as Django's
# own tests/runtests.py runs it, with its first lines.
_DJANGO_RUNTESTS = '''\
import os
import sys

import django
from django.conf import settings
from django.test.utils import get_runner

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ["DJANGO_SETTINGS_MODULE"] = "test_sqlite"
print("Testing against Django installed in '%s' with up to 1 processes" % os.path.dirname(django.__file__))
for app in sorted({label.split(".")[0] for label in sys.argv[1:]}):
    print("Importing application %s" % app)
django.setup()
runner = get_runner(settings)(verbosity=2, interactive=False, parallel=1)
sys.exit(bool(runner.run_tests(sys.argv[1:])))
'''


def write_django_project(root: Path, tests: list[dict]) -> list[str]:
    """A Django test tree (root/tests/...) with `tests` (see write_unittest_project) as
    django.test.TestCase classes; returns the test labels."""
    labels = write_unittest_project(root / "tests", tests, base="django.test.TestCase")
    apps = sorted({label.split(".")[0] for label in labels})
    (root / "tests" / "test_sqlite.py").write_text(_DJANGO_SETTINGS % apps)
    (root / "tests" / "runtests.py").write_text(_DJANGO_RUNTESTS)
    return labels


def write_sympy_tests(target: Path, tests: list[dict]) -> None:
    """A sympy test file: {"name", "status": ok | F | E | f | X | s | w, "reason", "prints"}."""
    code = ["from sympy.testing.pytest import XFAIL, SKIP, slow, skip", ""]
    for test in tests:
        status = test["status"]
        if status in ("f", "X"):
            code.append("@XFAIL")
        if status == "w":
            code.append("@slow")
        code.append(f"def {test['name']}():")
        if test.get("prints"):
            code.append(f"    print({test['prints']!r})")
        body = {"ok": "assert True", "F": "assert 1 == 2", "E": "raise ValueError('generated error')",
                "f": "assert 1 == 2", "X": "assert True", "s": f"skip({test.get('reason', 'generated skip')!r})",
                "w": "assert True"}[status]
        code += [f"    {body}", "", ""]
    target.write_text("\n".join(code))


# ---- capture: run a real runner on a generated project, keep its output as a corpus log ---------

def capture(case: dict, python: str, workdir: Path) -> str:
    """The output of the runner `case["generate"]` names, run by `python` on the generated project,
    with the eval script's `+ <command>` trace line first and the project's path shown as /testbed."""
    spec = case["generate"]
    runner, args = spec["runner"], list(spec.get("args", []))
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PY_COLORS", "FORCE_COLOR", "NO_COLOR",
                          "CI", "BUILD_NUMBER")}  # on CI, pytest does not cut its summary lines
    # a fixed width (pytest cuts messages to it), no plugins of the venv that runs it, no colours
    env.update(PYTHONHASHSEED="0", COLUMNS="80", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    restore = None
    if runner in ("pytest", "tox"):
        paths = write_pytest_project(workdir, spec["tests"], spec.get("prints"), spec.get("broken"))
        if runner == "tox":
            (workdir / "tox.ini").write_text(
                "[tox]\nminversion = 2.4.0\nenvlist = py39\n\n[testenv]\ncommands=\n"
                "    pytest -rA --durations 25 {posargs}\n")
            command = [python, "-m", "tox", "--current-env", "-epy39", "-v", "--", *paths]
            shown = "tox --current-env -epy39 -v -- " + " ".join(paths)
        else:
            command = [python, "-m", "pytest", *args, *paths]
            shown = " ".join(["pytest", *args, *paths])
    elif runner == "unittest":
        labels = write_unittest_project(workdir, spec["tests"])
        command = [python, "-m", "unittest", "-v", *labels]
        shown = "python -m unittest -v " + " ".join(labels)
    elif runner == "django":
        labels = write_django_project(workdir, spec["tests"])
        command = [python, "tests/runtests.py", *labels]
        shown = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 " + " ".join(labels)
    elif runner == "sympy":
        out = subprocess.run([python, "-c", "import os, sympy; print(os.path.dirname(sympy.__file__))"],
                             capture_output=True, text=True, check=True).stdout.strip()
        # sympy's runner runs files inside the sympy package: the test file goes at its dataset
        # path in that interpreter's sympy (a throwaway install), and the original comes back after
        target = Path(out).parent / spec["path"]
        restore = (target, target.read_bytes() if target.exists() else None)
        write_sympy_tests(target, spec["tests"])
        env["SYMPY_USE_CACHE"] = "no"  # bin/test -C
        colors = "colors=True, force_colors=True" if spec.get("colors") else "colors=False"
        command = [python, "-c", f"import sys, sympy; sys.exit(not sympy.test(sys.argv[1], verbose=True, {colors}))",
                   spec["path"]]
        shown = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose " + spec["path"]
    else:
        raise ValueError(f"unknown runner {runner!r}")
    try:
        run = subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, timeout=300)
    finally:
        if restore:
            target, data = restore
            target.unlink() if data is None else target.write_bytes(data)
    output = run.stdout.replace(str(workdir), "/testbed").replace(str(Path(python).parent.parent), "/opt/venv")
    return f"+ {shown}\n{output}"


# ---- the corpus ------------------------------------------------------------------------------

def load_manifest() -> list[dict]:
    return json.loads(MANIFEST.read_text())["cases"]


def read_log(case: dict) -> str:
    with open(CORPUS / case["log"], encoding="utf-8", newline="") as f:  # CRLF kept as written
        return f.read()


# ---- the official package, in a throwaway venv ----------------------------------------------------

def ensure_swebench_venv(cache: Path) -> Path:
    """The python of a venv holding SWEBENCH_PACKAGES, made once per cache and version."""
    from filelock import FileLock

    venv = cache / f"swebench-{SWEBENCH_VERSION}-venv"
    python = venv / "bin" / "python"
    ready = venv / ".ready"
    with FileLock(str(venv) + ".lock", timeout=INSTALL_ATTEMPTS * (INSTALL_TIMEOUT_S + 180)):
        if ready.exists() and python.exists():
            return python
        errors = []
        for attempt in range(1, INSTALL_ATTEMPTS + 1):
            shutil.rmtree(venv, ignore_errors=True)
            try:
                subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)],
                               check=True, capture_output=True, text=True, timeout=120)
                subprocess.run([*_pip_for(python), "install", "--no-deps", "--no-input", "--disable-pip-version-check",
                                "--retries", "5", "--timeout", "60", *SWEBENCH_PACKAGES],
                               check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S)
                version = run_oracle(python, [])["version"]
                if version != SWEBENCH_VERSION:
                    raise RuntimeError(f"the venv holds swebench {version}, not {SWEBENCH_VERSION}")
                ready.write_text(" ".join(SWEBENCH_PACKAGES) + "\n")
                return python
            except (subprocess.CalledProcessError, subprocess.TimeoutExpired, RuntimeError, OSError) as exc:
                detail = getattr(exc, "stderr", None) or ""
                errors.append(f"attempt {attempt}: {exc}\n{str(detail)[-2000:]}")
                if attempt < INSTALL_ATTEMPTS:
                    time.sleep(5 * attempt)
        pytest.fail(f"could not install {' '.join(SWEBENCH_PACKAGES)} from PyPI into {venv}:\n" + "\n".join(errors))


def _pip_for(python: Path) -> list[str]:
    """A pip that installs into the venv of `python`: this venv's pip pointed at it (pip >= 22.3
    has --python; it saves the venv its own pip), else the pip that ensurepip gives the venv."""
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, timeout=60)
    version = re.match(r"pip (\d+)\.(\d+)", probe.stdout)
    if probe.returncode == 0 and version and (int(version[1]), int(version[2])) >= (22, 3):
        return [sys.executable, "-m", "pip", "--python", str(python)]
    subprocess.run([str(python), "-m", "ensurepip"], check=True, capture_output=True, text=True, timeout=300)
    return [str(python), "-m", "pip"]


def run_oracle(python: Path, cases: list[dict]) -> dict:
    run = subprocess.run([str(python), "-I", str(ORACLE)], input=json.dumps({"cases": cases}),
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0:
        raise RuntimeError(f"tests/swebench_oracle.py failed ({run.returncode}):\n{run.stderr[-4000:]}")
    return json.loads(run.stdout)


# ---- the comparison ------------------------------------------------------------------------------

def to_swebench_vocabulary(statuses: dict[str, str]) -> dict[str, str]:
    """evalharness's statuses as swebench's parsers would have them: the same words, but no XPASS
    (swebench's TestStatus has none; its parsers leave an XPASS test out, which both grade as failing)."""
    return {test: status for test, status in statuses.items() if status != XPASS}


def evalharness_graded(statuses: dict[str, str], f2p: list[str], p2p: list[str]) -> dict:
    verdict = grade(statuses, f2p, p2p)
    failed = {FAIL_TO_PASS: set(verdict.f2p_failed), PASS_TO_PASS: set(verdict.p2p_failed)}
    graded = {key: {t: "fail" if t in failed[key] else "pass" for t in tests}
              for key, tests in ((FAIL_TO_PASS, f2p), (PASS_TO_PASS, p2p))}
    graded["resolved"] = verdict.resolved
    return graded


def _graded_differences(label: str, official: dict, ours: dict) -> list[list]:
    found = []
    for key in (FAIL_TO_PASS, PASS_TO_PASS):
        for test, outcome in official[key].items():
            if ours[key][test] != outcome:
                found.append([label, key, test, outcome, ours[key][test]])
    if official["resolved"] != ours["resolved"]:
        found.append([label, "resolved", official["resolved"], ours["resolved"]])
    return found


def differences(case: dict, evalharness_statuses: dict[str, str], official: dict) -> list[list]:
    """Every way the two harnesses disagree on one case, as rows:
    ["parse", test id, swebench's status, evalharness's] (None: not in that map);
    ["outcome", list, test id, swebench's, evalharness's] and ["outcome", "resolved", swebench's,
    evalharness's]: each grading its own parse; the same under "rules on swebench's parse" and
    "rules on evalharness's parse": both gradings of one map."""
    f2p, p2p = case["FAIL_TO_PASS"], case["PASS_TO_PASS"]
    theirs, ours = official["statuses"], to_swebench_vocabulary(evalharness_statuses)
    found = [["parse", t, theirs.get(t), ours.get(t)] for t in sorted(set(theirs) | set(ours))
             if theirs.get(t) != ours.get(t)]
    found += _graded_differences("outcome", official["graded"], evalharness_graded(evalharness_statuses, f2p, p2p))
    found += _graded_differences("rules on swebench's parse", official["graded"], evalharness_graded(theirs, f2p, p2p))
    found += _graded_differences("rules on evalharness's parse", official["graded_other"],
                                 evalharness_graded(ours, f2p, p2p))
    return found


def _main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "capture":
        print(__doc__)
        return 2
    name, python = argv[1], argv[2]
    case = next(c for c in load_manifest() if c["name"] == name)
    with tempfile.TemporaryDirectory() as tmp:
        log = capture(case, python, Path(tmp))
    (CORPUS / case["log"]).write_text(log)
    print(log)
    return 0


# ---- the tests -------------------------------------------------------------------------------------

CASES = load_manifest()
REPOS = {"django/django", "sympy/sympy", "sphinx-doc/sphinx", "matplotlib/matplotlib", "scikit-learn/scikit-learn",
         "astropy/astropy", "pydata/xarray", "pytest-dev/pytest", "pylint-dev/pylint", "psf/requests",
         "mwaskom/seaborn", "pallets/flask"}
REQUIRED_TAGS = {"param-spaces", "param-brackets", "django-docstring", "sympy", "xfail", "skipped", "xpass",
                 "duplicate-ids", "setup-error", "ansi", "truncated-log", "empty-log", "truncated-ids",
                 "printed-lines", "grading", "live"}


@pytest.fixture(scope="session")
def case_logs(tmp_path_factory) -> dict[str, str]:
    """Each case's log: read from the corpus, or (live cases) made now by this venv's runners."""
    logs, made = {}, {}
    for case in CASES:
        if not case.get("live"):
            logs[case["name"]] = read_log(case)
            continue
        key = json.dumps(case["generate"], sort_keys=True)
        if key not in made:
            made[key] = capture(case, sys.executable, tmp_path_factory.mktemp("live"))
        logs[case["name"]] = made[key]
    return logs


@pytest.fixture(scope="session")
def official(cache_dir, case_logs) -> dict:
    """swebench's parse and grading of every case (one oracle run for all)."""
    python = ensure_swebench_venv(cache_dir)
    request = [{**{k: case[k] for k in ("name", "repo", "log_parser", "FAIL_TO_PASS", "PASS_TO_PASS")},
                "log": case_logs[case["name"]],
                "other_statuses": to_swebench_vocabulary(LOG_PARSERS[case["log_parser"]](case_logs[case["name"]]))}
               for case in CASES]
    answer = run_oracle(python, request)
    assert answer["version"] == SWEBENCH_VERSION
    return {result["name"]: result for result in answer["results"]}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_differences_are_the_documented_ones(case, case_logs, official):
    result = official[case["name"]]
    assert result["repo_parser_agrees"], f"swebench parses {case['repo']} with another parser than {case['log_parser']}"
    found = differences(case, LOG_PARSERS[case["log_parser"]](case_logs[case["name"]]), result)
    expected = [d["diff"] for d in case["differences"]]
    unexpected = [d for d in found if d not in expected]
    gone = [d for d in expected if d not in found]
    if unexpected or gone:
        pytest.fail(
            f"{case['name']}: the differences from swebench {SWEBENCH_VERSION} changed.\n"
            "Found, not in the manifest (fix evalharness, or add them with the section of "
            f"{DOC.name} that says why):\n"
            + "".join(f'    {json.dumps({"why": "?", "diff": d}, ensure_ascii=False)},\n' for d in unexpected)
            + "In the manifest, no longer found (remove them):\n"
            + "".join(f"    {json.dumps(d, ensure_ascii=False)}\n" for d in gone), pytrace=False)


def _doc_sections() -> set[str]:
    return set(re.findall(r"^### (\S+)$", DOC.read_text(), re.M))


def test_every_reason_is_a_section_of_the_docs_and_every_section_is_used():
    used = {d["why"] for case in CASES for d in case["differences"]}
    assert used <= _doc_sections(), f"reasons without a section in {DOC.name}: {sorted(used - _doc_sections())}"
    assert _doc_sections() <= used, f"sections of {DOC.name} no case shows: {sorted(_doc_sections() - used)}"


def test_corpus_covers_every_repo_and_edge_case_and_stays_small():
    assert {c["repo"] for c in CASES if "repo" in c["tags"]} == REPOS  # a runner-format log per repo
    assert REQUIRED_TAGS <= {t for c in CASES for t in c["tags"]}
    assert len({c["name"] for c in CASES}) == len(CASES)
    named = {c["log"] for c in CASES if not c.get("live")}
    on_disk = {p.name for p in CORPUS.iterdir()} - {MANIFEST.name}
    assert named == on_disk, f"logs not in the manifest: {sorted(on_disk - named)}; missing: {sorted(named - on_disk)}"
    assert all(c["log_parser"] in LOG_PARSERS for c in CASES)
    assert sum(p.stat().st_size for p in CORPUS.iterdir()) < 1_000_000


def test_cut_id_lookup_is_for_parametrized_ids_only():
    # Found by the differential test: swebench's pytest_v2 keeps "XFAIL <id> - reason" whole, and
    # grade() looked every unmatched id up by the first word of the parsed ids; swebench's
    # _resolve_case does that only for ids with more "[" than "]" (cut inside the parameters).
    statuses = {"t.py::test_x - reason": "XFAIL", "test_y (m.C)": "PASSED", "t.py::test_f[a b]": "PASSED"}
    assert not grade(statuses, ["t.py::test_x"], []).resolved
    assert not grade(statuses, ["test_y"], []).resolved
    assert grade(statuses, ["t.py::test_f[a"], []).resolved


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
