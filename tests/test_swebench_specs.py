"""tasks/swebench_specs.toml against the SWE-bench Verified and Lite files (no Docker).

The datasets carry the official eval script of every instance; each spec must run the
same test command on the same test files, with the same eval commands before it.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evalharness.tasks.datasets import default_tasks_dir
from evalharness.scorers.log_parsers import LOG_PARSERS
from evalharness.tasks.specs import EnvSpec, SpecRegistry, test_arguments
from evalharness.core.task import patch_files

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATASETS = {
    "verified": DATA / "SWE-bench_Verified" / "test.parquet",
    "lite": DATA / "SWE-bench_Lite" / "test.parquet",
}
# SWE-bench's list of test_patch files that are data, not tests ("csv" has no dot there).
SWEBENCH_NON_TEST = (".json", ".png", "csv", ".txt", ".md", ".jpg", ".jpeg", ".pkl", ".yml", ".yaml", ".toml")
START = ": '>>>>> Start Test Output'"


@pytest.fixture(scope="module")
def registry() -> SpecRegistry:
    """The registry the CLI builds by default (no --specs)."""
    tasks = default_tasks_dir()
    return SpecRegistry.from_files([tasks / "specs.toml", tasks / "swebench_specs.toml"])


@pytest.fixture(scope="module", params=sorted(DATASETS))
def rows(request) -> pd.DataFrame:
    return pd.read_parquet(DATASETS[request.param])


def test_verified_has_the_80_pairs_and_every_one_has_a_spec(registry):
    verified = pd.read_parquet(DATASETS["verified"])
    pairs = set(zip(verified.repo, verified.version))
    assert len(pairs) == 80 and len({r for r, _ in pairs}) == 12
    missing = sorted(p for p in pairs if p not in registry)
    assert not missing, f"no spec for {missing}"


def test_every_pair_resolves_to_a_sound_spec(registry, rows):
    for repo, version in sorted(set(zip(rows.repo, rows.version))):
        spec = registry.get(repo, version)
        assert re.fullmatch(r"3\.\d{1,2}", spec.python), (repo, version, spec.python)
        assert spec.test_cmd.strip(), (repo, version)
        assert spec.log_parser in LOG_PARSERS, (repo, version, spec.log_parser)
        assert spec.install and spec.pip, (repo, version)
        assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!]+", p) for p in spec.pip), spec.pip
        names = [p.split("==")[0].lower() for p in spec.pip]
        assert len(names) == len(set(names)), (repo, version, "a package pinned twice")


def test_spec_parser_is_the_one_the_dataset_names(registry, rows):
    """The dataset's `log_parser` column and the spec's name the same parser."""
    for row in rows.drop_duplicates(["repo", "version", "log_parser"]).itertuples():
        spec = registry.get(row.repo, row.version)
        assert LOG_PARSERS[spec.log_parser] is LOG_PARSERS[row.log_parser], (row.repo, row.version)


def _official(script: str) -> dict:
    lines = script.split("\n")
    first_cd = lines.index("cd /testbed")
    safe_dir = next(i for i, line in enumerate(lines) if line.startswith("git config --global --add safe.directory"))
    activations = [i for i, line in enumerate(lines) if line == "conda activate testbed"]
    first_checkout = next(i for i, line in enumerate(lines) if line.startswith("git checkout "))
    return {
        "eval_commands": lines[first_cd + 1 : safe_dir],
        "install": lines[activations[-1] + 1 : first_checkout],
        "test_command": lines[lines.index(START) + 1],
    }


def test_specs_run_what_the_official_eval_scripts_run(registry, rows):
    """Test command with its arguments, eval commands and install: as in every eval script."""
    mismatches = []
    for row in rows.itertuples():
        spec = registry.get(row.repo, row.version)
        official = _official(row.eval_script)
        files = [f for f in patch_files(row.test_patch) if not f.endswith(SWEBENCH_NON_TEST)]
        ours = " ".join([spec.test_cmd, *test_arguments(spec, files)])
        if ours.rstrip() != official["test_command"].rstrip():
            mismatches.append((row.instance_id, ours, official["test_command"]))
        if list(spec.eval_commands) != official["eval_commands"]:
            mismatches.append((row.instance_id, spec.eval_commands, official["eval_commands"]))
        if not set(official["install"]) <= set(spec.install):
            mismatches.append((row.instance_id, spec.install, official["install"]))
    assert not mismatches, mismatches[:5]


def test_test_arguments_files_and_django_labels():
    files = EnvSpec(repo="o/n", version="1", python="3.9")
    django = EnvSpec(repo="django/django", version="3.0", python="3.6", test_directives="django")
    paths = ["tests/auth_tests/test_validators.py", "tests/admin_views/tests.py", "django/test/testcases.py"]
    assert test_arguments(files, paths) == paths
    assert test_arguments(django, paths) == ["auth_tests.test_validators", "admin_views.tests", "django.test.testcases"]
    assert test_arguments(django, []) == []
    with pytest.raises(ValueError, match="unknown test_directives"):
        test_arguments(EnvSpec(repo="o/n", version="1", python="3.9", test_directives="nose"), paths)


def test_generated_toml_is_up_to_date():
    run = subprocess.run([sys.executable, "tools/make_swebench_specs.py", "--check"], cwd=ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_generator_check_notices_a_stale_file(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import make_swebench_specs as generator
    finally:
        sys.path.remove(str(ROOT / "tools"))
    stale = tmp_path / "swebench_specs.toml"
    stale.write_text(generator.render().replace('python = "3.9"', 'python = "3.8"', 1))
    monkeypatch.setattr(generator, "OUTPUT", stale)
    monkeypatch.setattr(generator, "ROOT", tmp_path)
    assert generator.main(["--check"]) == 1
    assert generator.main([]) == 0
    assert generator.main(["--check"]) == 0


def test_django_and_sympy_ids_in_the_data_are_what_their_parsers_produce(rows):
    """Spot check of id shapes the parsers rely on (the parser tests go further)."""
    django = rows[rows.repo == "django/django"]
    ids = [i for r in django.itertuples() for i in json.loads(r.FAIL_TO_PASS)]
    assert any(re.fullmatch(r"\w+ \([\w.]+\)", i) for i in ids)
    sympy = rows[rows.repo == "sympy/sympy"]
    assert all(re.fullmatch(r"test\w*", i) for r in sympy.itertuples() for i in json.loads(r.FAIL_TO_PASS))
