"""Local builds without a registry or GitHub: Debian-suite Python, read-only mirrors, the eval script.

The first half needs no Docker: the eval script of local builds (install re-run offline,
eval_commands, test arguments, the collection guard), what can't be built offline and
why, and bundling from a read-only mirror. The second half builds a built-in task from a
local bare mirror with no registry (its Python from Debian bookworm, debootstrapped when
no registry answers) and grades gold and empty in Docker. Bookworm, not bullseye: the
mechanism is the same for every suite and the other Docker tests already bootstrap
bookworm, so this costs no second debootstrap (~90 s in CI); the suite per version is
checked without Docker.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import docker.errors
import pytest

from evalharness.cli import main
from evalharness.tasks.datasets import default_tasks_dir, load_tasks
from evalharness.env.local import LocalEnvironment
from evalharness.core.errors import EnvBuildError
from evalharness.env.images import (
    DEBIAN_SUITE_FOR_PYTHON,
    BuildConfig,
    ImageBuilder,
    _PullFailed,
    official_image_name,
    split_image_name,
)
from evalharness.tasks.predictions import read_predictions
from evalharness.tasks.repos import GitHubRepos, MirrorRepos, bundle_commit, materialize
from evalharness.scorers.patching import ADDED, DELETED, MODIFIED, FileChange, file_changes
from evalharness.scorers.tests_scorer import TestScorer, build_eval_script, reinstall_needed
from evalharness.tasks.specs import EnvSpec
from evalharness.core.status import Status
from evalharness.core.task import Task
from gitrepo import commit_all, git, make_diff, python_env

TASKS = load_tasks("builtin")

# ---------------------------------------------------------------- a small repo, no Docker

CALC = "def add(a, b):\n    return a - b\n"
TESTS = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
SETUP_CFG = "[metadata]\nname = calc\n\n[tool:pytest]\naddopts = -p no:cacheprovider\n"
# A conftest.py that turns every failure into a pass: SWE-bench graded such a patch resolved.
FORGING_CONFTEST = """\
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "tests").mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "tests" / "test_calc.py").write_text("def test_old():\n    pass\n")
    (root / "setup.cfg").write_text(SETUP_CFG)
    (root / "conftest.py").write_text("# the repo's own conftest\n")
    return commit_all(root)


@pytest.fixture
def env(repo: Path) -> LocalEnvironment:
    return python_env(repo)


def calc_task(repo: Path) -> Task:
    test_patch = make_diff(repo, {"tests/test_calc.py": TESTS})
    gold = make_diff(repo, {"calc.py": CALC.replace("a - b", "a + b")})
    return Task(instance_id="acme__calc-1", repo="acme/calc", base_commit=git(repo, "rev-parse", "HEAD").strip(),
                patch=gold, test_patch=test_patch, problem_statement="add subtracts", version="1.0",
                FAIL_TO_PASS=("tests/test_calc.py::test_add",), PASS_TO_PASS=("tests/test_calc.py::test_zero",))


def calc_spec(**kw) -> EnvSpec:
    return EnvSpec(**{"repo": "acme/calc", "version": "1.0", "python": "3.11", "test_cmd": "python -m pytest -rA",
                      "test_timeout": 120, **kw})


def score(task, patch, env, tmp_path, spec=None):
    """Grade `patch` on a clean tree (a container is fresh per instance; this folder is reused)."""
    git(Path(env.workdir), "reset", "-q", "--hard")
    git(Path(env.workdir), "clean", "-fdq")
    scorer = TestScorer(patch_path=str(tmp_path / "model.patch"), script_path=str(tmp_path / "eval.sh"))
    return scorer.score(task, patch, env, spec or calc_spec())


def test_gold_resolves_and_the_forging_conftest_trap_does_not(repo, env, tmp_path):
    task = calc_task(repo)
    assert score(task, task.patch, env, tmp_path).status == Status.RESOLVED
    # A patch that only adds a conftest.py forcing every test to pass (in a subfolder too).
    for where in ("tests/conftest.py", "sub/conftest.py"):
        trap = make_diff(repo, {where: FORGING_CONFTEST})
        result = score(task, trap, env, tmp_path)
        assert result.status == Status.UNRESOLVED, (where, result.test_output)
        assert f">>>>> evalharness: removed {where}" in result.test_output
    # Editing the repo's own conftest.py the same way: restored as at base_commit.
    trap = make_diff(repo, {"conftest.py": FORGING_CONFTEST})
    result = score(task, trap, env, tmp_path)
    assert result.status == Status.UNRESOLVED, result.test_output
    assert "restored conftest.py" in result.test_output
    assert (repo / "conftest.py").read_text() == "# the repo's own conftest\n"


def test_pytest_section_edits_are_undone_packaging_edits_stay(repo, env, tmp_path):
    task = calc_task(repo)
    fix = {"calc.py": CALC.replace("a - b", "a + b")}
    # addopts that deselect the failing test: the section changed, so setup.cfg is restored.
    sneaky = make_diff(repo, {**fix, "setup.cfg": SETUP_CFG.replace("no:cacheprovider", "no:cacheprovider -k zero")})
    result = score(task, sneaky, env, tmp_path)
    assert "restored setup.cfg as at base_commit" in result.test_output
    assert result.status == Status.RESOLVED  # the fix itself is fine: test_add runs and passes
    # A metadata edit next to the fix is kept (pylint-4661's gold patch edits setup.cfg).
    honest = make_diff(repo, {**fix, "setup.cfg": SETUP_CFG.replace("name = calc", "name = calc\nversion = 2")})
    result = score(task, honest, env, tmp_path)
    assert result.status == Status.RESOLVED
    assert "restored setup.cfg" not in result.test_output
    assert "version = 2" in (repo / "setup.cfg").read_text()  # the scorer leaves the patched tree


def test_eval_script_reinstalls_offline_and_runs_eval_commands_first(repo):
    task = calc_task(repo)
    spec = calc_spec(install=("pip install .",), eval_commands=("export LANG=en_US.UTF-8",),
                     test_directives="django", test_cmd="./tests/runtests.py")
    script = build_eval_script(task, spec, model_patch=task.patch)
    lines = script.splitlines()
    install = next(i for i, line in enumerate(lines) if "pip install ." in line)
    assert "PIP_NO_INDEX=1" in lines[install] and "PIP_NO_BUILD_ISOLATION=0" in lines[install]
    assert "|| echo" in lines[install]  # a failed re-install is reported, the image's install stays
    assert lines.index("export LANG=en_US.UTF-8") < install
    reset = next(i for i, line in enumerate(lines) if "git checkout" in line and "test_calc.py" in line)
    assert install < reset < lines.index(": '>>>>> Start Test Output'")
    assert "./tests/runtests.py test_calc\n" in script  # Django labels, not paths
    assert "\r" not in script


def test_editable_installs_are_re_run_only_when_a_build_input_changes(repo):
    task = calc_task(repo)
    editable = calc_spec(install=("pip install -e .[test]",))
    assert not reinstall_needed(editable, task.patch)
    assert ": '>>>>> evalharness: install step not re-run" in build_eval_script(task, editable, model_patch=task.patch)
    touches_setup = make_diff(repo, {"setup.cfg": SETUP_CFG + "[options]\nzip_safe = False\n"})
    assert reinstall_needed(editable, touches_setup)
    assert reinstall_needed(editable, make_diff(repo, {"ext/speed.pyx": "x = 1\n"}))
    assert reinstall_needed(calc_spec(install=("python setup.py install",)), task.patch)
    assert not reinstall_needed(calc_spec(install=("python setup.py develop",)), task.patch)


def test_reinstall_failure_keeps_going(repo, env, tmp_path):
    task = calc_task(repo)
    spec = calc_spec(install=("pip install evalharness-no-such-package-xyz",))  # not editable: re-run
    result = score(task, task.patch, env, tmp_path, spec)
    assert "re-running the install step failed" in result.test_output
    assert result.status == Status.RESOLVED


def test_file_changes_reads_git_and_plain_diffs():
    git_diff = (
        "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n--- looks like a header\n+++ so does this\n"
        "diff --git a/c/conftest.py b/c/conftest.py\nnew file mode 100644\n--- /dev/null\n+++ b/c/conftest.py\n"
        "@@ -0,0 +1 @@\n+x\n"
        "diff --git a/gone.py b/gone.py\ndeleted file mode 100644\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x\n"
        "diff --git a/a.py b/b.py\nsimilarity index 90%\nrename from a.py\nrename to b.py\n"
    )
    assert file_changes(git_diff) == [FileChange("x.py", MODIFIED), FileChange("c/conftest.py", ADDED),
                                      FileChange("gone.py", DELETED), FileChange("a.py", DELETED),
                                      FileChange("b.py", ADDED)]
    plain = "--- x.py\t2020\n+++ x.py\t2020\n@@ -1 +1 @@\n-a\n+b\n--- /dev/null\n+++ p/x.pth\n@@ -0,0 +1 @@\n+y\n"
    assert file_changes(plain) == [FileChange("x.py", MODIFIED), FileChange("p/x.pth", ADDED)]


def test_file_changes_agrees_with_every_verified_patch():
    data = Path(__file__).resolve().parents[2] / "shared" / "data" / "SWE-bench_Verified" / "test.parquet"
    from evalharness.core.task import patch_sections

    for task in load_tasks(str(data)):
        for patch in (task.patch, task.test_patch):
            changed = {c.path for c in file_changes(patch) if c.kind != DELETED}
            assert changed == {name for name, deleted in patch_sections(patch) if not deleted}, task.instance_id


# ---------------------------------------------------------------- offline planning, no Docker


class FakeImages:
    """`client.images` with a fixed set of local images; pulls fail (or hang)."""

    def __init__(self, present=(), pull_delay=0.0):
        self.present = set(present)
        self.pull_delay = pull_delay

    def get(self, tag):
        if tag not in self.present:
            raise docker.errors.ImageNotFound(tag)
        return tag

    def pull(self, repo, tag=None):
        import time

        time.sleep(self.pull_delay)
        raise docker.errors.APIError("dial tcp: lookup registry-1.docker.io: no such host")


class FakeClient:
    def __init__(self, **kw):
        self.images = FakeImages(**kw)


def offline_builder(tmp_path, client, sources=(), **config) -> ImageBuilder:
    return ImageBuilder(client, BuildConfig(cache_dir=tmp_path, ca_bundle=None, pull=False, **config), list(sources))


def test_suites_ship_the_python_they_are_chosen_for():
    assert DEBIAN_SUITE_FOR_PYTHON == {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}


def test_offline_problems_say_why(tmp_path):
    task = TASKS[0]
    client = FakeClient(present={"evalharness-os:bookworm"})
    builder = offline_builder(tmp_path, client)
    spec = EnvSpec(repo=task.repo, version=task.version, python="3.10")
    assert "Python 3.10 can't be built offline: no Debian suite ships it" in builder.offline_problem(task, spec)
    assert "no environment spec" in builder.offline_problem(task, None)
    # 3.11 comes from bookworm (here already); the repo is the missing piece now
    spec = dataclasses.replace(spec, python="3.11")
    assert "no local copy of evalharness/" in builder.offline_problem(task, spec)
    assert GitHubRepos(tmp_path).has_locally(task.repo, task.base_commit) is False
    # --base-image that is not here
    other = offline_builder(tmp_path, client, base_image="my/python:3.10")
    assert "--base-image my/python:3.10 is not present locally" in other.offline_problem(task, spec)
    # an official image present locally needs nothing else
    official = dataclasses.replace(task, image="swebench/sweb.eval.x86_64.x:latest")
    client.images.present.add(official.image)
    assert builder.offline_problem(official, None) is None


def test_python_without_a_suite_fails_the_build_plainly(tmp_path):
    builder = offline_builder(tmp_path, FakeClient())
    with pytest.raises(EnvBuildError, match="no Debian suite ships it.*--base-image"):
        builder._upstream_for("3.8", lambda line: None)


def test_a_pull_that_hangs_is_given_up(tmp_path):
    builder = ImageBuilder(FakeClient(pull_delay=5), BuildConfig(cache_dir=tmp_path, ca_bundle=None,
                                                                  pull_timeout=0.2), [])
    with pytest.raises(_PullFailed, match="no answer within"):
        builder._pull("swebench/sweb.eval.x86_64.a_1776_b-1:latest")
    assert builder._registry_timed_out  # later official pulls of the run are not tried


def test_official_image_names():
    task = dataclasses.replace(TASKS[0], instance_id="psf__requests-1142", image=None)
    assert official_image_name(task, None) is None
    assert official_image_name(task, "swebench") == "swebench/sweb.eval.x86_64.psf_1776_requests-1142:latest"
    named = dataclasses.replace(task, image="swebench/sweb.eval.x86_64.psf_1776_requests-1142:latest")
    assert official_image_name(named, None) == named.image
    assert official_image_name(named, "registry.local:5000/mirror") == (
        "registry.local:5000/mirror/sweb.eval.x86_64.psf_1776_requests-1142:latest")
    assert split_image_name("registry.local:5000/a/b") == ("registry.local:5000/a/b", "latest")
    assert split_image_name("a/b:1.0") == ("a/b", "1.0")


# ---------------------------------------------------------------- read-only mirrors, no Docker


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with its content hash and mtime: any write shows."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.stat().st_mtime_ns}"
        else:
            out[str(path.relative_to(root))] = f"dir {path.stat().st_mtime_ns}"
    return out


def make_mirror(tmp_path: Path, task: Task) -> Path:
    """A bare mirror of a built-in repo as the `fetch` tool leaves one: no config file, linked in."""
    made = materialize(default_tasks_dir() / "repos" / task.repo.split("/")[1], tmp_path / "scratch")
    assert made["commit"] == task.base_commit
    store = tmp_path / "store" / "repo"
    store.parent.mkdir()
    os.replace(made["git_dir"], store)
    (store / "config").unlink()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{task.repo.replace('/', '__')}.git").symlink_to(store)
    return mirror


def test_bundle_from_a_mirror_never_writes_to_it_and_keeps_past_tags_only(tmp_path):
    task = TASKS[0]
    mirror = make_mirror(tmp_path, task)
    store = (mirror / f"{task.repo.replace('/', '__')}.git").resolve()
    # A release tag at base_commit (setuptools_scm versions come from such tags), and a later
    # commit with its own tag, which must not reach the image.
    work = tmp_path / "work"
    subprocess.run(["git", "clone", "-q", str(store), str(work)], check=True)
    git(work, "tag", "-a", "v1.0", "-m", "release 1.0")
    git(work, "commit", "-q", "--allow-empty", "-m", "the future")
    git(work, "tag", "v2.0")
    git(work, "push", "-q", str(store), "HEAD:refs/heads/future", "v1.0", "v2.0")
    before = snapshot(store)
    source = MirrorRepos(mirror)
    assert source.has_locally(task.repo, task.base_commit)
    bundle = bundle_commit([source], task.repo, task.base_commit, tmp_path / "x.bundle")
    assert snapshot(store) == before
    heads = subprocess.run(["git", "bundle", "list-heads", str(bundle)], capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert sorted(line.split()[1] for line in heads) == [f"refs/evalharness/{task.base_commit}", "refs/tags/v1.0"]
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    git(clone, "fetch", "-q", str(bundle), f"refs/evalharness/{task.base_commit}", "+refs/tags/*:refs/tags/*")
    assert git(clone, "describe", "--tags", task.base_commit).strip() == "v1.0"
    assert git(clone, "rev-list", "--all").split() == [task.base_commit]  # nothing newer came along
    assert not list(tmp_path.glob("overlay-*"))  # the overlay repository is gone


# ---------------------------------------------------------------- Docker: the offline path end to end


@pytest.mark.docker
def test_offline_build_from_a_mirror_with_debian_python(tmp_path, docker_client, cache_dir):
    """No registry, no GitHub, no built-in trees: a read-only mirror and Debian's Python 3.11."""
    from evalharness.agents import get_agent
    from evalharness.env.docker import running_container
    from evalharness.run.runner import RunConfig, Runner
    from evalharness.scorers import get_scorer
    from evalharness.tasks.specs import SpecRegistry

    task = next(t for t in TASKS if t.repo == "evalharness/spans")
    mirror = make_mirror(tmp_path, task)
    store = (mirror / "evalharness__spans.git").resolve()
    before = snapshot(store)
    base_spec = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"]).get(task.repo, task.version)
    # Its own env and instance images (an extra variable), so the instance really is built from the
    # mirror; a non-editable install, so gold resolves only if the eval script re-installs (offline);
    # a pre_install step that edits a tracked file, which agents must not see but tests must.
    spec = dataclasses.replace(base_spec, env={**base_spec.env, "EVALHARNESS_OFFLINE_TEST": "1"},
                               install=("pip install --no-deps --no-build-isolation .",),
                               pre_install=("sed -i '1s/$/ (edited by pre_install)/' README.md",))
    builder = ImageBuilder(docker_client, BuildConfig(cache_dir=cache_dir, pull=False), [MirrorRepos(mirror)])
    assert builder.offline_problem(task, spec) is None
    lines: list[str] = []
    image = builder.image_for(task, spec, lines.append)
    assert not image.official and image.origin == "built"
    assert snapshot(store) == before
    with running_container(docker_client, image.tag, run_id="offline", instance_id=task.instance_id,
                           purpose="test") as env:
        assert env.exec("git rev-parse HEAD").output.strip() == task.base_commit
        # pre_install's edit is not in the tree; what the install left is there, untracked and
        # visible, as in an official image (`pip install .` builds in the tree)
        assert env.exec("git status --porcelain --untracked-files=no").output == ""
        assert env.exec("git status --porcelain").output == "?? build/\n?? spans.egg-info/\n"
        assert "edited by pre_install" in env.exec("cat /opt/evalharness/pre_install.diff").output
        prefix = env.exec("python -c 'import sys; print(sys.base_prefix, sys.version_info[:2])'").output.strip()
    if not _exists(docker_client, "python:3.11-slim"):  # no registry: Python must be Debian's
        assert prefix == "/usr (3, 11)"
        history = docker_client.images.get("evalharness-os:bookworm").history()
        assert any("Imported" in (h.get("Comment") or "") for h in history) or any(
            t.startswith("debian:") for t in docker_client.images.get("evalharness-os:bookworm").tags)

    registry = SpecRegistry([spec])
    outcomes = {}
    for agent in ("gold", "empty"):
        config = RunConfig(run_id=agent, dataset="builtin", agent=agent, reports_dir=tmp_path / "reports")
        runner = Runner(config, client=docker_client, builder=builder, specs=registry, agent=get_agent(agent),
                        scorer=get_scorer("tests"))
        outcomes[agent] = runner.run([task], progress=False).records[0]
    assert outcomes["gold"].status == "resolved", outcomes["gold"].error
    assert outcomes["empty"].status == "empty_patch"
    output = (tmp_path / "reports" / "gold" / "logs" / task.instance_id / "test_output.txt").read_text()
    assert "PIP_NO_INDEX=1" in output and "re-running the install step failed" not in output
    assert "Successfully installed spans" in output
    assert "setup edit of README.md applied" in output  # the tests see pre_install's edit
    assert "do not apply over the patch" not in output
    predictions = read_predictions(tmp_path / "reports" / "gold" / "predictions.jsonl")
    assert predictions[task.instance_id].model_patch == outcomes["gold"].patch
    assert predictions[task.instance_id].model_name_or_path == "gold"
    assert snapshot(store) == before


@pytest.mark.docker
def test_offline_check_cli_groups_reasons(tmp_path, docker_client, cache_dir, capsys):
    specs = tmp_path / "py310.toml"
    specs.write_text('[repos."evalharness/spans"."1.0"]\npython = "3.10"\n')
    code = main(["build", "--offline-check", "--no-pull", "--specs", str(specs), "--cache-dir", str(cache_dir),
                 "--repos", "evalharness/spans,evalharness/textkit"])
    out = capsys.readouterr().out
    spans = [t for t in TASKS if t.repo == "evalharness/spans"]
    textkit = [t for t in TASKS if t.repo == "evalharness/textkit"]
    assert code == 1
    assert f"{len(textkit)} of {len(spans) + len(textkit)} instance(s) can be built offline; {len(spans)} can't" in out
    assert f"{len(spans):>5}  Python 3.10 can't be built offline: no Debian suite ships it" in out
    assert all(t.instance_id in out for t in spans) and not any(t.instance_id in out for t in textkit)


def _exists(client, tag: str) -> bool:
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False
