"""Specs as data and repository sources (no Docker)."""

import re
import subprocess
from pathlib import Path

import pytest

from evalharness.core.errors import EnvBuildError, UserError
from evalharness.tasks.repos import BuiltinRepos, MirrorRepos, bundle_commit, builtin_commit, materialize
from evalharness.tasks.specs import EnvSpec, SpecRegistry, load_spec_file
from evalharness.core.task import Task, TaskFieldError, patch_files


def test_spec_file_loads_and_user_file_wins(tmp_path):
    a = tmp_path / "a.toml"
    a.write_text('[repos."o/n"."1.0"]\npython = "3.11"\npip = ["pytest==8.3.3"]\n')
    b = tmp_path / "b.toml"
    b.write_text('[repos."o/n"."1.0"]\npython = "3.9"\ntest_cmd = "pytest -x"\n')
    registry = SpecRegistry.from_files([a, b])
    spec = registry.get("o/n", "1.0")
    assert spec.python == "3.9" and spec.test_cmd == "pytest -x"
    with pytest.raises(UserError, match="no environment spec for repo 'o/n' version '2.0'"):
        registry.get("o/n", "2.0")


@pytest.mark.parametrize("body,message", [
    ('[repos."o/n"."1.0"]\npip = []\n', "'python' is required"),
    ('[repos."o/n"."1.0"]\npython = "3.11"\npips = []\n', "repos.'o/n'.'1.0': unknown keys \\['pips'\\]"),
    ("not toml [", "invalid TOML"),
])
def test_bad_spec_files_name_the_problem(tmp_path, body, message):
    path = tmp_path / "s.toml"
    path.write_text(body)
    with pytest.raises(UserError, match=message):
        load_spec_file(path)


def test_swebench_fields_load_with_defaults(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(
        '[repos."django/django"."3.0"]\npython = "3.6"\ntest_directives = "django"\n'
        'pre_install = ["echo pre"]\neval_commands = ["export LANG=en_US.UTF-8"]\n'
        '[repos."o/n"."1.0"]\npython = "3.11"\n'
    )
    django, plain = load_spec_file(path)
    assert django.pre_install == ("echo pre",) and django.eval_commands == ("export LANG=en_US.UTF-8",)
    assert django.test_directives == "django"
    assert (plain.pre_install, plain.eval_commands, plain.test_directives) == ((), (), "files")


@pytest.mark.parametrize("line,message", [
    ('pre_install = "echo pre"', "'pre_install' must be a list of strings"),
    ("eval_commands = [1]", "'eval_commands' must be a list of strings"),
    ('test_directives = "nose"', "'test_directives' must be one of"),
    ('test_cmd = "  "', "'test_cmd' is empty"),
    ("test_timeout = 0", "'test_timeout' must be a positive integer"),
    ("env = { A = 1 }", "'env' must be a table of strings"),
    ('log_parser = ["pytest"]', "'log_parser' must be a string"),
])
def test_bad_field_values_name_file_and_entry(tmp_path, line, message):
    path = tmp_path / "s.toml"
    path.write_text(f'[repos."o/n"."1.0"]\npython = "3.11"\n{line}\n')
    with pytest.raises(UserError, match=re.escape(f"{path}: repos.'o/n'.'1.0'") + ".*" + re.escape(message)):
        load_spec_file(path)


@pytest.mark.parametrize("python", ['"3"', '"py3.9"', "3.11"])
def test_python_must_be_major_dot_minor_text(tmp_path, python):
    path = tmp_path / "s.toml"
    path.write_text(f'[repos."o/n"."1.0"]\npython = {python}\n')
    with pytest.raises(UserError, match="'python' must"):
        load_spec_file(path)


def test_env_image_depends_on_content_only(tmp_path):
    """The env tag is hashed from its Dockerfile: same pins share an image, other pins do not."""
    from evalharness.env.images import BuildConfig, ImageBuilder

    builder = ImageBuilder(None, BuildConfig(cache_dir=tmp_path, ca_bundle=None), [])
    a = EnvSpec(repo="a/b", version="1", python="3.11", pip=("x==1",))
    b = EnvSpec(repo="c/d", version="2", python="3.11", pip=("x==1",))
    c = EnvSpec(repo="a/b", version="1", python="3.11", pip=("x==2",))
    dockerfile = lambda spec: builder._env_dockerfile("base:1", spec)  # noqa: E731
    assert dockerfile(a) == dockerfile(b) != dockerfile(c)


def test_builtin_specs_cover_every_builtin_task():
    from evalharness.tasks.datasets import default_tasks_dir, load_tasks

    registry = SpecRegistry.from_files([default_tasks_dir() / "specs.toml"])
    for task in load_tasks("builtin"):
        assert (task.repo, task.version) in registry


def _tree(tmp_path):
    src = tmp_path / "src" / "pkg"
    src.mkdir(parents=True)
    (src / "m.py").write_text("x = 1\n")
    (src.parent / "__pycache__").mkdir()
    (src.parent / "__pycache__" / "junk.pyc").write_bytes(b"\0")
    return src.parent


def test_materialize_is_deterministic_and_ignores_junk(tmp_path):
    tree = _tree(tmp_path)
    first = builtin_commit(tree)
    (tree / "__pycache__" / "more.pyc").write_bytes(b"\1")
    assert builtin_commit(tree) == first
    (tree / "pkg" / "m.py").write_text("x = 2\n")
    assert builtin_commit(tree) != first


def test_bundle_holds_history_up_to_the_commit_only(tmp_path):
    repos = tmp_path / "repos"
    tree = _tree(tmp_path)
    repos.mkdir()
    tree.rename(repos / "demo")
    commit = builtin_commit(repos / "demo")
    source = BuiltinRepos(repos, tmp_path / "cache")
    bundle = bundle_commit([source], "evalharness/demo", commit, tmp_path / "x.bundle")
    clone = tmp_path / "clone"
    subprocess.run(["git", "init", "-q", str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "fetch", "-q", str(bundle), f"refs/evalharness/{commit}"], check=True)
    assert subprocess.run(["git", "-C", str(clone), "rev-parse", "FETCH_HEAD"], capture_output=True,
                          text=True).stdout.strip() == commit
    with pytest.raises(EnvBuildError, match="hashes to"):
        BuiltinRepos(repos, tmp_path / "cache2").git_dir("evalharness/demo", "0" * 40)
    with pytest.raises(EnvBuildError, match="no repository source has"):
        bundle_commit([source], "other/repo", commit, tmp_path / "y.bundle")


def test_mirror_source_finds_bare_repos(tmp_path):
    made = materialize(_tree(tmp_path), tmp_path / "scratch")
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    Path(made["git_dir"]).rename(mirror / "owner__name.git")
    source = MirrorRepos(mirror)
    assert source.git_dir("owner/name", made["commit"]) == mirror / "owner__name.git"
    assert source.git_dir("owner/other", made["commit"]) is None
    with pytest.raises(EnvBuildError, match="lacks commit"):
        source.git_dir("owner/name", "1" * 40)


ROW = dict(instance_id="o__n-1", repo="o/n", base_commit="abc", patch="", test_patch="diff",
           problem_statement="p", version="1.0", FAIL_TO_PASS='["t::a"]', PASS_TO_PASS=[])


def test_task_from_row_parses_both_list_forms():
    task = Task.from_row(ROW)
    assert task.FAIL_TO_PASS == ("t::a",) and task.PASS_TO_PASS == ()
    assert Task.from_row(task.to_row()) == task


@pytest.mark.parametrize("change,field", [
    ({"repo": "noslash"}, "repo"),
    ({"FAIL_TO_PASS": "[1, 2]"}, "FAIL_TO_PASS"),
    ({"instance_id": 5}, "instance_id"),
    ({"version": None}, "version"),
])
def test_task_from_row_names_the_bad_field(change, field):
    with pytest.raises(TaskFieldError) as exc:
        Task.from_row({**ROW, **change})
    assert exc.value.field == field


def test_patch_files_lists_touched_paths():
    patch = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\ndiff --git a/t/n.py b/t/n.py\nnew file mode 100644\n"
    assert patch_files(patch) == ["x.py", "t/n.py"]
